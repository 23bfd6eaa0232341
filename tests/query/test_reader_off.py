"""With the reader off, answers are the composer's, unchanged: the answers of a fixed slice,
recorded when the composer last changed on purpose (issue 41: statements only, antecedents,
the evidence model; first recorded at commit 7e0c65d, before the reader existed) with
``tests/reader_off_slice.py``, again."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.reader_off_slice import answers
from tests.support import ARCHIVE, REPO

pytestmark = pytest.mark.skipif(not ARCHIVE.exists(), reason="shared archive not present")


def per_article(record: dict[str, Any]) -> dict[str, Any]:
    """A recorded answer numbered as citations are now: one number per article, in order of
    first use, once per statement (a record made when answers numbered passages lists each
    cited passage's article in ``urls``; a later one lists each article once)."""
    urls = list(dict.fromkeys(record["urls"]))
    number = {i: urls.index(u) + 1 for i, u in enumerate(record["urls"], 1)}

    def markers(m: re.Match[str]) -> str:
        ns = dict.fromkeys(number[int(n)] for n in re.findall(r"\d+", m.group(0)))
        return "".join(f" [{n}]" for n in ns)

    return {**record, "answer": re.sub(r"(?: \[\d+\])+", markers, record["answer"]),
            "urls": urls}


def test_reader_off_gives_the_recorded_answers(tmp_path: Path) -> None:
    recorded = json.loads((REPO / "tests" / "data" / "reader_off_answers.json").read_text())
    want = [per_article(r) for r in recorded]
    got = answers(tmp_path / "i", reader__mode="off")
    assert [g["id"] for g in got] == [w["id"] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, g["id"]
