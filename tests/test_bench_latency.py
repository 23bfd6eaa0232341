"""``bench/latency.py`` measures a server in its steady state: before it starts one, the index's
postings file of common words is written when missing (what the first server on an index does
over its first minute, which the measured questions would otherwise race), and its state is
reported; ``--cold-postings`` leaves the index as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.latency import postings_file
from newsqa.index.postings import POSTINGS_FILE
from tests.support import NEWS, open_service


def test_the_postings_file_is_written_before_the_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    index = tmp_path / "index"
    svc = open_service(index)
    try:
        svc.ingest_records(NEWS)
    finally:
        svc.close()
    assert postings_file(index, build=False) == "absent"
    assert not (index / POSTINGS_FILE).exists()
    got = postings_file(index, build=True)
    assert (index / POSTINGS_FILE).exists()
    assert got.split()[1:3] == ["words,", "ready"] and got.endswith(" s"), got
    assert postings_file(index, build=False) == "present"
    # an index that does not exist yet (the server will ingest its bootstrap) is left alone
    assert postings_file(tmp_path / "new", build=True) == "absent"
    assert not (tmp_path / "new").exists()
