"""The ingest pipeline: the report (exact counts, bounded lists, problems listed once each),
its batches (repeated records, story clusters written with their batch; a failure keeps the
batches before it, an interrupt writes nothing more)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from newsqa.embedding.fake import HashEmbedder
from newsqa.index.store import NewsIndex
from newsqa.ingest.pipeline import (
    FIRST_CHUNKS,
    ITEMS_LISTED,
    PATHS_COUNTED,
    PROBLEMS_LISTED,
    PROBLEMS_PER_FILE,
    IngestInterrupted,
    Ingestor,
    IngestProgress,
    IngestReport,
)
from newsqa.records import LoadProblem, LoadWarning
from newsqa.service import NewsQA
from tests.support import article, open_service


def test_report_lists_20_problems_per_file_and_counts_the_rest() -> None:
    report = IngestReport()
    for n in range(1, 200_001):
        report.add_problem(LoadProblem("big.jsonl", "not a JSON object", n))
    report.add_problem(LoadWarning("small.jsonl", "unreadable date 'x'", 1))
    assert (report.skipped, report.warnings) == (200_000, 1)
    assert [p.line for p in report.problems] == [*range(1, PROBLEMS_PER_FILE + 1), 1]
    d = report.to_dict()
    assert d["omitted"] == [{"path": "big.jsonl", "count": 200_000 - PROBLEMS_PER_FILE}]
    assert d["problems"][-1] == {"path": "small.jsonl", "line": 1, "kind": "warning",
                                 "reason": "unreadable date 'x'"}
    assert (d["skipped"], d["warnings"]) == (200_000, 1)


def test_report_stays_bounded_for_many_files_and_articles() -> None:
    report = IngestReport()
    files = 3 * PATHS_COUNTED
    for f in range(files):
        for n in range(PROBLEMS_PER_FILE + 2):
            report.add_problem(LoadProblem(f"f{f}.txt", "binary file (contains NUL bytes)", n))
    for n in range(ITEMS_LISTED + 5):
        report.add_item(f"id{n}", "added", f"x.jsonl:{n}")
    assert len(report.problems) == PROBLEMS_LISTED
    assert len(report.omitted) == PATHS_COUNTED + 1  # the rest share the None key
    assert report.skipped == files * (PROBLEMS_PER_FILE + 2)
    assert len(report.problems) + sum(report.omitted.values()) == report.skipped
    assert report.omitted["f0.txt"] == 2
    assert report.omitted[None] == report.skipped - PROBLEMS_LISTED - sum(
        n for path, n in report.omitted.items() if path is not None)
    assert (len(report.items), report.items_omitted) == (ITEMS_LISTED, 5)
    assert report.to_dict()["items_omitted"] == 5


WIRE = (
    "Officials said on Tuesday that the bridge over the Maron river will stay closed for "
    "repairs until the end of March, after inspectors found cracks in two of its supports. "
    "Traffic is being diverted through the town centre, adding up to forty minutes to journeys."
)


def _open(path: Path) -> NewsQA:
    return open_service(path, embedding__embedder="hash")


def test_same_url_twice_in_one_input_the_later_wins_and_the_earlier_is_reported(
    tmp_path: Path,
) -> None:
    svc = _open(tmp_path / "idx")
    url = "https://news.example.com/bridge"
    first = article("Bridge closed", "The bridge is closed.", url=url, origin="feed.jsonl:1")
    later = article("Bridge closed until March", WIRE, url=url, origin="feed.jsonl:7")
    other = article("Market opens", "The market opened.", url="https://m.example/1", origin="o")
    rep = svc.ingest_records([first, other, later])
    assert (rep.added, rep.updated, rep.unchanged) == (2, 0, 0)
    assert [(p.path, p.reason) for p in rep.problems] == [
        ("feed.jsonl:1", "same article as a later record (feed.jsonl:7), which replaces it")
    ]
    stored = svc.article(url)
    assert stored is not None and stored["title"] == later.title and stored["text"] == WIRE
    assert [i["origin"] for i in rep.items] == ["o", "feed.jsonl:7"]
    # The same file again: both records are known now, the later one is unchanged.
    again = svc.ingest_records([first, other, later])
    assert (again.added, again.updated, again.unchanged, again.skipped) == (0, 0, 2, 1)
    assert svc.article(url)["text"] == WIRE


def test_a_verbatim_repeat_counts_as_unchanged(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    a = article("Bridge closed", WIRE, origin="a.txt")
    rep = svc.ingest_records([a, article(a.title, a.text, origin="b.txt")])
    assert (rep.added, rep.unchanged, rep.skipped) == (1, 1, 0)
    assert svc.stats()["articles"] == 1


def test_same_id_with_other_content_is_reported(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    a = article("Bridge closed", WIRE, id="story-1", origin="a.txt")
    b = article("Bridge reopened", "The bridge reopened today.", id="story-1", origin="b.txt")
    rep = svc.ingest_records([a, b])
    assert rep.added == 1 and [p.path for p in rep.problems] == ["a.txt"]
    assert svc.article("story-1")["title"] == "Bridge reopened"


def _clusters_seen_after_each_write(
    svc: NewsQA, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, str]]:
    """After each committed batch, the cluster of every article as another process sees it."""
    seen: list[dict[str, str]] = []
    original = NewsIndex.write

    def write(index: NewsIndex, rows: object) -> int:
        n = original(index, rows)  # type: ignore[arg-type]
        db = sqlite3.connect(index.path / "news.sqlite")
        seen.append(dict(db.execute("SELECT url, cluster_id FROM articles").fetchall()))
        db.close()
        return n

    monkeypatch.setattr(NewsIndex, "write", write)
    return seen


def test_story_clusters_are_written_in_the_batch_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = _open(tmp_path / "idx")
    seen = _clusters_seen_after_each_write(svc, monkeypatch)
    wire = article("Bridge shut", WIRE, url="https://a.example/1", published_at="2023-03-01")
    svc.ingest_records([wire])
    lead = svc.article(wire.url or "")["id"]
    # A copy in a later ingest joins the stored story...
    copy = article("Bridge shut until March", WIRE, url="https://b.example/1",
                   published_at="2023-03-02")
    rep = svc.ingest_records([copy])
    assert rep.wire_copies == 1
    assert seen[-1][copy.url or ""] == lead  # already when its batch committed
    # ...and copies within one batch join the first of them.
    fresh = WIRE.replace("Maron", "Tessel")
    batch = [
        article("Tessel shut", fresh, url=f"https://c{i}.example/1", published_at="2023-04-01")
        for i in range(3)
    ]
    rep = svc.ingest_records(batch)
    assert rep.wire_copies == 2
    head = svc.article(batch[0].url or "")["id"]
    assert [seen[-1][a.url or ""] for a in batch] == [head, head, head]
    # The same text a month later is another story.
    assert svc.article(batch[0].url or "")["cluster_id"] != lead


class _FailsOnSecondBatch(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def encode_spans(self, texts: Any, spans: Any, progress: Any = None) -> Any:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("model crashed")
        return super().encode_spans(texts, spans, progress)


def test_an_embedding_failure_keeps_the_batches_before_it_and_writes_no_later_one(
    tmp_path: Path,
) -> None:
    svc = _open(tmp_path / "idx")
    arts = [article(f"Story {i}", f"{WIRE} Item {i}.", url=f"https://n.example/{i}")
            for i in range(4)]
    with pytest.raises(RuntimeError, match="model crashed"):
        Ingestor(svc.index, _FailsOnSecondBatch(), svc.spec, batch_articles=1).run(arts)
    assert svc.stats()["articles"] == 1
    assert svc.article("https://n.example/0") is not None
    again = svc.ingest_records(arts)  # a rerun finishes the job
    assert (again.unchanged, again.added) == (1, 3)


class _Slow(HashEmbedder):
    """Reports progress every 10 ms, for a second a batch; counts the batches it finished."""

    finished = 0

    def encode_spans(self, texts: Any, spans: Any, progress: Any = None) -> Any:
        for _ in range(100):
            time.sleep(0.01)
            if progress is not None:
                progress(0)
        self.finished += 1
        return super().encode_spans(texts, spans, None)


def test_an_interrupt_returns_at_once_and_writes_nothing_more(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    arts = [article(f"Story {i}", f"{WIRE} Item {i}.", url=f"https://s.example/{i}")
            for i in range(3)]

    def progress(ev: IngestProgress) -> None:
        if ev.chunks_total > 1:
            raise KeyboardInterrupt  # the user stops it once the articles are chunked

    slow = _Slow()
    with pytest.raises(KeyboardInterrupt):
        Ingestor(svc.index, slow, svc.spec, batch_articles=1).run(arts, progress)
    assert slow.finished == 0  # stopped inside the first batch, not after it
    assert svc.stats()["articles"] == 0


class _PerChunk(HashEmbedder):
    """Takes 10 ms a chunk; records how many chunks each call embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode_spans(self, texts: Any, spans: Any, progress: Any = None) -> Any:
        time.sleep(0.01 * len(texts))
        self.calls.append(len(texts))
        return super().encode_spans(texts, spans, progress)


def test_writes_come_every_few_seconds_of_embedding_not_every_batch(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    arts = [article(f"Story {i}", f"{WIRE} Item {i}.", url=f"https://t.example/{i}")
            for i in range(120)]
    slow = _PerChunk()
    writes: list[int] = []
    write = svc.index.write

    def counted(rows: Any) -> int:
        rows = list(rows)
        writes.append(len(rows))
        return write(rows)

    svc.index.write = counted  # type: ignore[method-assign]
    report = Ingestor(svc.index, slow, svc.spec, batch_articles=128, commit_seconds=0.1).run(arts)
    assert report.added == report.saved == 120 and sum(writes) == 120
    # The first write after FIRST_CHUNKS chunks, then about 0.1 s (10 chunks) each.
    assert writes[0] == FIRST_CHUNKS and len(writes) > 5 and max(writes[1:]) <= 20, writes
    # Without a time bound, one write per batch_articles, as before.
    plain = Ingestor(_open(tmp_path / "b").index, _PerChunk(), svc.spec, batch_articles=128)
    assert plain.run(arts).saved == 120


def test_an_interrupt_says_how_many_articles_were_saved(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    arts = [article(f"Story {i}", f"{WIRE} Item {i}.", url=f"https://u.example/{i}")
            for i in range(5)]

    def progress(ev: IngestProgress) -> None:
        if ev.chunks_done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(IngestInterrupted) as stopped:
        Ingestor(svc.index, HashEmbedder(), svc.spec, batch_articles=1).run(arts, progress)
    assert stopped.value.report.saved == svc.stats()["articles"] == 2


def test_reading_is_reported_with_the_input_being_read(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    events: list[IngestProgress] = []
    arts = [article("Storm", f"{WIRE} Storm.", url="https://r.example/1", origin="n.jsonl:1")]
    Ingestor(svc.index, HashEmbedder(), svc.spec).run(arts, events.append)
    first = events[0]
    assert (first.stage, first.reading, first.chunks_total) == ("read", arts[0].origin, 0)
