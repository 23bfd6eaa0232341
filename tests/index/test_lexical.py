"""BM25 from cached one-word postings: FTS5's own OR ranking, filters applied exactly, refreshed
by any write, and bounded in memory."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index import postings
from newsqa.index.postings import PostingsCache, fts_phrase, top_bm25
from newsqa.index.rescore import Basis, Postings
from newsqa.records import AnswerRequest, Filters
from tests.support import article, open_service

TEXTS = [
    ("Grain deal extended", "Ukraine and Russia extended the grain deal for sixty days."),
    ("Grain prices fall", "Wheat and grain prices fell after the deal was extended again."),
    ("Ukraine counteroffensive", "Ukraine began a counteroffensive in the south in June."),
    ("Fed raises rates", "The Federal Reserve raised rates by a quarter point in May."),
    ("Rates and grain", "Higher rates weigh on grain traders and on farm loans."),
]


class Counted:
    """A postings source of 50 passages a word that counts what it is asked."""

    def __init__(self, carries: bool = True) -> None:
        self.carries = carries
        self.read: list[str] = []
        self.carried: list[str] = []

    def stamped_postings(self, term: str, title_weight: float) -> Postings:
        self.read.append(term)
        return Postings(np.arange(50, dtype=np.int64), np.ones(50), Basis(1, 50, 500, 49))

    def carried_postings(self, term: str, title_weight: float, old: Postings) -> Postings | None:
        self.carried.append(term)
        return old if self.carries else None


def _fts_or(svc, terms: list[str], title_weight: float) -> list[tuple[int, float]]:
    match = " OR ".join(fts_phrase(t) for t in terms)
    rows = svc.index.catalogue._db.execute(
        f"SELECT rowid, bm25(chunks_fts, {title_weight}, 1.0) AS s FROM chunks_fts "
        "WHERE chunks_fts MATCH ? ORDER BY s, rowid", [match],
    ).fetchall()
    return [(int(r[0]), -float(r[1])) for r in rows]


def _same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    """The same passages in the same order, the scores to float32 rounding."""
    assert [c for c, _ in got] == [c for c, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-6, atol=0)


def test_summed_postings_rank_as_fts5_ranks_an_or_query(tmp_path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x, published_at=f"2023-0{i + 1}-10")
                        for i, (t, x) in enumerate(TEXTS)])
    for terms in (["grain", "deal"], ["ukraine", "grain", "rates"], ["extended", "zzz"]):
        want = _fts_or(svc, terms, 0.5)
        got = svc.index.lexical(terms, 10, 0.5)
        assert [c for c, _ in got] == [c for c, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want])
    # a filter keeps exactly the allowed passages, in the same order
    allowed = svc.index.allowed_chunk_ids(Filters(until="2023-02-28"))
    want = [h for h in _fts_or(svc, ["grain", "ukraine"], 0.5) if h[0] in set(allowed)]
    assert svc.index.lexical(["grain", "ukraine"], 10, 0.5, allowed) == want
    assert svc.index.lexical(["grain"], 1, 0.5) == _fts_or(svc, ["grain"], 0.5)[:1]


def test_a_write_refreshes_the_postings_and_the_idf(tmp_path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS[:2]])
    assert svc.index.lexical(["counteroffensive"], 5) == []
    idf = svc.index.term_idf(["grain"])["grain"]
    svc.ingest_records([article(t, x) for t, x in TEXTS[2:]])
    hits = svc.index.lexical(["counteroffensive"], 5)
    assert len(hits) == 1 and hits == _fts_or(svc, ["counteroffensive"], 1.0)
    assert svc.index.lexical(["grain"], 5, 0.5) == _fts_or(svc, ["grain"], 0.5)
    assert svc.index.term_idf(["grain"])["grain"] != idf  # more passages, recounted


def test_the_cache_stays_within_its_budget() -> None:
    cache = PostingsCache(budget_bytes=1600)  # 100 postings of 16 bytes
    source = Counted()
    for word in ("a1", "b2", "c3", "d4"):
        cache.postings(source, word, 1.0, generation=1)
    assert cache._bytes <= 1600 and cache.matches("d4", 1) == 50
    assert cache.matches("a1", 1) is None  # the least recently used went first
    assert cache.matches("d4", 2) is None  # another generation knows nothing


@pytest.mark.parametrize("base", [0, 10**9])  # dense ids are summed by id, sparse ones sorted
def test_top_bm25_sums_and_filters(base: int) -> None:
    a = (np.array([1, 2, 5]) + base, np.array([1.0, 2.0, 0.5]))
    b = (np.array([2, 5, 7], dtype=np.int32) + base, np.array([1.0, 3.0, 0.25], np.float32))
    assert top_bm25([a, b], 2, None) == [(5 + base, 3.5), (2 + base, 3.0)]
    assert top_bm25([a, b], 5, np.array([1, 7, 9]) + base) == [(1 + base, 1.0), (7 + base, 0.25)]
    assert top_bm25([a, b], 5, np.array([], dtype=np.int64)) == []
    assert top_bm25([], 5, None) == []


def test_warming_reads_the_common_words_and_changes_no_ranking(tmp_path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS])
    gen = svc.index.generation
    cached = svc.index.search.lexicon.postings
    assert cached.matches("grain", gen) is None
    assert svc.index.warm_lexical(0.5, words=3) == 3
    assert cached.matches("grain", gen) == 3  # in three of the five passages
    _same_ranking(svc.index.lexical(["grain", "rates"], 10, 0.5),
                  _fts_or(svc, ["grain", "rates"], 0.5))
    # the service warms after its first answer, and not at all once closed
    assert not svc.answered.is_set()
    svc.answer(AnswerRequest("Was the grain deal extended?")).to_dict()
    assert svc.answered.is_set() and svc.warm(after_first_answer=0) > 0
    svc.close()
    assert svc.warm(after_first_answer=0) == 0


def test_common_words_postings_are_kept_for_the_next_start_and_only_for_that_state(
    tmp_path, monkeypatch
) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS])
    assert svc.index.warm_lexical(0.5) > 0
    assert (tmp_path / "i" / postings.POSTINGS_FILE).exists()
    assert svc.index.warm_generation == svc.index.generation
    svc.close()

    # the next start loads the file: not one word is read from FTS5 again
    reads: list[str] = []
    real = postings.read_postings
    monkeypatch.setattr(postings, "read_postings",
                        lambda q, t, w, **kw: reads.append(t) or real(q, t, w, **kw))
    again = open_service(tmp_path / "i", embedding__embedder="hash")
    assert again.index.warm_lexical(0.5) > 0 and reads == []
    _same_ranking(again.index.lexical(["grain", "deal"], 10, 0.5),
                  _fts_or(again, ["grain", "deal"], 0.5))
    # another title weight is another state: its postings are read afresh
    assert again.index.warm_lexical(2.0) > 0 and "grain" in reads

    # a write outdates them: answers come from FTS5's new state, and warming reads it
    again.ingest_records([article("More grain", "Grain ships left Odesa with more grain.")])
    _same_ranking(again.index.lexical(["grain"], 10, 2.0), _fts_or(again, ["grain"], 2.0))
    assert again.index.warm_generation != again.index.generation
    reads.clear()
    assert again.index.warm_lexical(2.0) > 0 and "grain" in reads
    assert again.index.warm_generation == again.index.generation
    _same_ranking(again.index.lexical(["grain"], 10, 2.0), _fts_or(again, ["grain"], 2.0))


def test_a_damaged_or_foreign_postings_file_is_read_anew(tmp_path) -> None:
    first = open_service(tmp_path / "a", embedding__embedder="hash")
    first.ingest_records([article(t, x) for t, x in TEXTS])
    first.index.warm_lexical(0.5)
    # a database rebuilt from scratch to the same generation with other passages
    other = open_service(tmp_path / "b", embedding__embedder="hash")
    other.ingest_records([article(t, x) for t, x in TEXTS[:2]])
    other.index.catalogue._db.execute("UPDATE meta SET value=? WHERE key='generation'",
                            [str(first.index.generation)])
    (tmp_path / "b" / postings.POSTINGS_FILE).write_bytes(
        (tmp_path / "a" / postings.POSTINGS_FILE).read_bytes())
    assert other.index.generation == first.index.generation
    other.index.warm_lexical(0.5)
    _same_ranking(other.index.lexical(["grain", "rates"], 10, 0.5),
                  _fts_or(other, ["grain", "rates"], 0.5))
    # a truncated file is ignored too, and replaced
    path = tmp_path / "a" / postings.POSTINGS_FILE
    path.write_bytes(path.read_bytes()[:100])
    assert postings.FrozenPostings.load(path) is None
    assert first.index.warm_lexical(0.5) > 0 and postings.FrozenPostings.load(path) is not None


def test_frozen_postings_stay_within_their_budget() -> None:
    lists = {"a": 30, "b": 50, "c": 10}

    def read(term: str, title_weight: float):
        return np.arange(lists[term], dtype=np.int64), np.ones(lists[term])

    frozen = postings.FrozenPostings.read(read, ["a", "b", "c"], 1.0, (1, 1.0, 90), 8 * 60)
    assert frozen is not None and list(frozen.spans) == ["a"] and frozen.nbytes <= 8 * 60
    assert postings.FrozenPostings.read(read, ["a"], 1.0, (1, 1.0, 90), 10**6,
                                       stop=_set_event()) is None


def _set_event():
    import threading

    event = threading.Event()
    event.set()
    return event


def test_a_server_warms_again_once_the_archive_has_changed(tmp_path) -> None:
    import threading
    import time

    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS[:3]])
    svc.answered.set()
    thread = threading.Thread(target=svc.keep_warm, args=(0.05,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while svc.index.warm_generation != svc.index.generation and time.monotonic() < deadline:
        time.sleep(0.02)
    assert svc.index.warm_generation == svc.index.generation
    svc.ingest_records([article(t, x) for t, x in TEXTS[3:]])
    while svc.index.warm_generation != svc.index.generation and time.monotonic() < deadline:
        time.sleep(0.02)
    assert svc.index.warm_generation == svc.index.generation
    svc.close()
    thread.join(5)
    assert not thread.is_alive()


def test_processes_warming_at_once_read_the_postings_once(tmp_path, monkeypatch) -> None:
    import threading

    from newsqa.index.store import NewsIndex

    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS])
    # another opening of the same directory: its own connections and lock file handle, as a
    # second serving process has
    other = NewsIndex.open(tmp_path / "i", svc.index.manifest, create=False)
    import time

    reads: list[str] = []
    real = postings.read_postings

    def slow(q, t, w):  # noqa: ANN001, ANN202 - slow enough that the two builds would overlap
        reads.append(t)
        time.sleep(0.01)
        return real(q, t, w)

    monkeypatch.setattr(postings, "read_postings", slow)
    got: list[int] = []
    threads = [threading.Thread(target=lambda ix=ix: got.append(ix.warm_lexical(0.5)))
               for ix in (svc.index, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 2 and got[0] == got[1] > 0
    assert sorted(reads) == sorted(set(reads)) and len(set(reads)) >= got[0]  # each word once
    assert other.warm_generation == svc.index.warm_generation == svc.index.generation
