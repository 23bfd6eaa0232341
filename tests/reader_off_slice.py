"""The fixed slice on which ``NEWSQA_READER__MODE=off`` must give the answers of the composer as it
was when it last changed on purpose (``tests/data/reader_off_answers.json``, recorded with the
model-free hash embedder, so the record holds on every CPU; re-recorded for issue 41).

    python -m tests.reader_off_slice OUT.json   # record (run from the tree to record)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from newsqa.records import AnswerRequest, Filters
from tests.support import ARCHIVE, QUESTIONS, REPO, archive_articles, as_article

#: January 2023 questions of the shared archive whose gold articles form the slice.
N_QUESTIONS = 24


def slice_questions() -> list[dict[str, Any]]:
    """The first answerable January 2023 questions."""
    qs = [json.loads(line) for line in QUESTIONS.open()]
    return [q for q in qs if q["answerable"] and q["id"].startswith("202301")][:N_QUESTIONS]


def answers(index_dir: Path, **settings: Any) -> list[dict[str, Any]]:
    """Each slice question's answer text, abstention and cited URLs on a fresh hash index."""
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    qs = slice_questions()
    gold = {u for q in qs for u in q["gold_urls"]}
    svc = NewsQA.open(get_settings(index__path=str(index_dir), embedding__embedder="hash",
                                   **settings))
    try:
        svc.ingest([REPO / "corpus"])
        svc.ingest_records([as_article(d) for d in archive_articles() if d["url"] in gold])
        out = []
        for q in qs:
            asked = AnswerRequest(q["question"], filters=Filters(as_of=q["date"]))
            res = svc.answer(asked).to_dict()
            out.append({"id": q["id"], "answer": res["answer"], "abstained": res["abstained"],
                        "urls": [c["url"] for c in res["citations"]]})
        return out
    finally:
        svc.close()


if __name__ == "__main__":
    import tempfile

    if not ARCHIVE.exists():
        sys.exit("shared archive not present")
    with tempfile.TemporaryDirectory() as tmp:
        Path(sys.argv[1]).write_text(json.dumps(answers(Path(tmp) / "i"), indent=1) + "\n")
