"""Where a source checkout's files and the shared benchmark archive are."""

from __future__ import annotations

from pathlib import Path

#: The source checkout this package was imported from (``src/newsqa/testing`` lies three
#: folders below it); only meaningful in a checkout, not in an installed wheel.
REPO = Path(__file__).resolve().parents[3]
#: Data shared by every checkout, kept next to the repository and never copied into it.
SHARED = REPO.parent / "shared"
#: The RealTime QA 2023 archive: its articles (gzip JSON lines) and its questions.
ARCHIVE = SHARED / "data" / "realtimeqa-2023" / "articles.jsonl.gz"
QUESTIONS = SHARED / "data" / "realtimeqa-2023" / "questions.jsonl"
