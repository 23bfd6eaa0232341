"""With the reader off, answers are the composer's as they were before the reader existed: the
answers of a fixed slice, recorded at commit 7e0c65d (``tests/reader_off_slice.py``), again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reader_off_slice import answers
from tests.support import ARCHIVE, REPO

pytestmark = pytest.mark.skipif(not ARCHIVE.exists(), reason="shared archive not present")


def test_reader_off_gives_the_recorded_answers(tmp_path: Path) -> None:
    want = json.loads((REPO / "tests" / "data" / "reader_off_answers.json").read_text())
    got = answers(tmp_path / "i", reader__mode="off")
    assert [g["id"] for g in got] == [w["id"] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, g["id"]
