"""The index: idempotent re-ingest, replacement, delete, atomic writes, manifest checks."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from newsqa.index.store import IndexMismatchError, NewsIndex
from newsqa.records import AnswerRequest, Filters
from newsqa.testing.indexes import index_counts
from tests.support import NEWS, article, open_service


def test_reingest_is_idempotent_and_changes_replace(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    first = svc.ingest_records(NEWS)
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    n_articles, n_chunks, n_fts = index_counts(tmp_path / "idx")
    assert n_articles == 3 and n_chunks == n_fts == len(svc.index.vectors)

    again = svc.ingest_records(NEWS)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert index_counts(tmp_path / "idx") == (n_articles, n_chunks, n_fts)

    changed = article(
        NEWS[1].title,
        "The central bank held rates steady at its March meeting.",
        url=NEWS[1].url,
        source=NEWS[1].source,
        published_at="2023-03-22",
    )
    rep = svc.ingest_records([changed])
    assert (rep.added, rep.updated) == (0, 1)
    a = svc.article(NEWS[1].url or "")
    assert a is not None and "held rates steady" in a["text"] and a["published_at"] == "2023-03-22"
    assert index_counts(tmp_path / "idx")[0] == 3
    assert len(svc.index.vectors) == index_counts(tmp_path / "idx")[1]
    # The old text is gone from the lexical and the vector side alike.
    hits = svc.search("eighth increase in a year inflation cooled 6.4 percent", k=5)
    assert len(hits) == 3 and all("eighth increase" not in p.text for p in hits)


def test_same_content_without_url_is_not_duplicated(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    doc = article("Local council approves new library", "The council voted 7-2 to build a library.")
    svc.ingest_records([doc])
    rep = svc.ingest_records([article(doc.title, doc.text, origin="elsewhere")])
    assert rep.unchanged == 1 and svc.stats()["articles"] == 1


def test_delete_removes_article_chunks_lexical_rows_and_vectors(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    svc.ingest_records(NEWS)
    volcano = NEWS[2]
    assert [p.url for p in svc.search("Tolva volcano eruption", k=1)] == [volcano.url]
    assert svc.delete(volcano.url or "")
    assert not svc.delete(volcano.url or "")
    assert svc.article(volcano.url or "") is None
    n_articles, n_chunks, n_fts = index_counts(tmp_path / "idx")
    assert n_articles == 2 and n_chunks == n_fts == len(svc.index.vectors)
    hits = svc.search("Tolva volcano eruption", k=5)
    assert sorted(p.url or "" for p in hits) == sorted(a.url or "" for a in NEWS[:2])
    # The saved FAISS file agrees after reopening.
    svc.close()
    again = open_service(tmp_path / "idx", embedding__embedder="hash")
    assert len(again.index.vectors) == n_chunks


def test_opening_with_another_model_fails_clearly(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    manifest = replace(svc.index.manifest, model="some/other-model")
    svc.close()
    with pytest.raises(IndexMismatchError, match="model"):
        NewsIndex.open(tmp_path / "idx", manifest)


def test_stale_vector_file_is_rebuilt_from_the_database(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    svc.ingest_records(NEWS[:1])
    stale = (tmp_path / "idx" / "vectors.faiss").read_bytes()
    svc.ingest_records(NEWS[1:])
    n_chunks = index_counts(tmp_path / "idx")[1]
    svc.close()
    # Simulate a crash between the database commit and the vector file write.
    (tmp_path / "idx" / "vectors.faiss").write_bytes(stale)
    again = open_service(tmp_path / "idx", embedding__embedder="hash")
    assert len(again.index.vectors) == n_chunks
    assert [p.url for p in again.search("Tolva volcano", k=1)] == [NEWS[2].url]


def test_the_vector_codec_can_change_at_any_restart(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash", index__vector_codec="flat")
    svc.ingest_records(NEWS)
    ids = sorted(p.chunk_id for p in svc.search("volcano bank rates", k=10))
    exact = svc.index.vectors.reconstruct(ids)
    svc.close()
    half = open_service(tmp_path / "idx", embedding__embedder="hash", index__vector_codec="fp16")
    assert half.index.vectors._store.codec == "fp16"  # converted from the flat snapshot
    assert np.allclose(half.index.vectors.reconstruct(ids), exact, atol=1e-3)
    assert [p.url for p in half.search("Tolva volcano", k=1)] == [NEWS[2].url]
    snapshot = tmp_path / "idx" / "vectors.faiss"
    flat_file = snapshot.stat().st_ino
    half.index.save_snapshot()  # no write since: rewritten only because the codec differs
    fp16_file = snapshot.stat().st_ino
    half.index.save_snapshot()  # now current in this codec: left as it is
    assert flat_file != fp16_file == snapshot.stat().st_ino
    half.close()
    again = open_service(tmp_path / "idx", embedding__embedder="hash", index__vector_codec="fp16")
    assert again.index.search.snapshot_codec == "fp16"
    again.ingest_records([article("Harbour reopens", "The harbour reopened after the storm.")])
    again.close()
    # From an fp16 snapshot, float32 vectors come from the database, exactly.
    flat = open_service(tmp_path / "idx", embedding__embedder="hash", index__vector_codec="flat")
    assert flat.index.vectors._store.codec == "flat"
    assert np.array_equal(flat.index.vectors.reconstruct(ids), exact)


def test_second_concurrent_ingest_is_refused(tmp_path: Path) -> None:
    from newsqa.index.store import IndexBusyError

    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    with svc.index.writer(), pytest.raises(IndexBusyError, match="is busy"):
        svc.ingest_records(NEWS)
    assert svc.ingest_records(NEWS).added == 3  # the lock is released afterwards


def test_term_idf_counts_passages_as_the_lexical_index_matches(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    svc.ingest_records([
        article("Rates rise", "The bank raised rates.", url="https://x/1"),
        article("Rates hold", "The bank held rates.", url="https://x/2"),
        article("Storm", "A storm hit the coast.", url="https://x/3"),
    ])
    n = index_counts(tmp_path / "idx")[1]
    assert n == 3  # one passage per article
    idf = svc.index.term_idf(["rates", "raising", "storm", "zebra", 'odd"quote', "AND"])
    def bm25_idf(df: int) -> float:
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    # "raising" is stemmed as the index stems it, so it matches "raised"
    assert idf["rates"] == pytest.approx(bm25_idf(2))
    assert idf["raising"] == pytest.approx(bm25_idf(1))
    assert idf["storm"] == pytest.approx(bm25_idf(1))
    assert idf["zebra"] == idf['odd"quote'] == idf["AND"] == pytest.approx(bm25_idf(0))
    assert idf["zebra"] > idf["storm"] > idf["rates"]
    svc.close()


def test_lexical_under_a_narrow_filter_looks_past_the_first_matches(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "idx", embedding__embedder="hash")
    # 40 passages say "storm" three times and rank above the one that says it once
    loud = [article(f"Storm {i}", f"Storm storm storm hit town {i}.", url=f"https://x/{i}",
                    published_at="2023-02-01") for i in range(40)]
    quiet = article("Old news", "A storm passed long ago, and the town slept.",
                    url="https://x/old", published_at="2020-01-01")
    svc.ingest_records([*loud, quiet])
    allowed = svc.index.allowed_chunk_ids(Filters(until="2020-12-31"))
    assert allowed is not None and len(allowed) == 1
    unfiltered = svc.index.lexical(["storm"], 2)
    assert len(unfiltered) == 2 and int(allowed[0]) not in {c for c, _ in unfiltered}
    # the first 8 matches hold no allowed passage; the search goes deeper and finds it
    assert [c for c, _ in svc.index.lexical(["storm"], 2, allowed=allowed)] == [int(allowed[0])]
    assert svc.index.lexical(["storm"], 2, allowed=np.array([], dtype=np.int64)) == []
    svc.close()


def _chunk_ids(svc) -> list[int]:
    return [r[0] for r in svc.index.catalogue._db.execute("SELECT id FROM chunks ORDER BY id")]


def test_sentence_vectors_are_stored_with_their_chunks_and_go_with_them(tmp_path: Path) -> None:
    from newsqa.embedding.fake import HashEmbedder
    from newsqa.text import split_sentences

    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article("Grain deal extended", "Ships sailed from Odesa. The deal was "
                                "extended for sixty days.", url="https://x/1")])
    (cid,) = _chunk_ids(svc)
    rows = svc.index.sentence_vectors([cid])[cid]
    text = svc.index.chunks([cid])[cid]["text"]
    want = HashEmbedder().encode(["Grain deal extended", *split_sentences(text)])
    assert rows.shape == want.shape and np.min(np.sum(rows * want, axis=1)) > 0.99  # int8
    assert svc.delete("https://x/1")
    assert svc.index.sentence_vectors([cid]) == {}
    assert svc.index.catalogue._db.execute("SELECT count(*) FROM sentences").fetchone()[0] == 0


def test_an_index_without_sentence_vectors_answers_and_gains_them(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash",
                       embedding__sentence_vectors=False)
    svc.ingest_records(NEWS)
    ids = _chunk_ids(svc)
    assert svc.index.chunks_without_sentences(100)[0] == len(ids) > 2
    # an index written before the table existed, opened by a new process
    svc.close()
    db = sqlite3.connect(tmp_path / "i" / "news.sqlite")
    db.execute("DROP TABLE sentences")
    db.close()
    svc = open_service(tmp_path / "i", embedding__embedder="hash",
                       embedding__sentence_vectors=False)
    assert svc.index.sentence_vectors(ids) == {}
    assert svc.index.chunks_without_sentences(100)[0] == len(ids)
    question = "When did the bank raise rates?"
    before = svc.answer(AnswerRequest(question)).to_dict()
    seen: list[tuple[int, int]] = []
    assert svc.add_sentence_vectors(lambda d, t: seen.append((d, t)), batch=2) == len(ids)
    assert seen[-1] == (len(ids), len(ids)) and len(seen) == -(-len(ids) // 2)
    assert svc.index.chunks_without_sentences(100) == (0, [])
    assert set(svc.index.sentence_vectors(ids)) == set(ids)
    # now nothing is embedded to answer, the question included, and the answer is the same
    calls: list[int] = []
    encode = svc._sentence_vectors.encode
    svc._sentence_vectors.encode = lambda texts: calls.append(len(texts)) or encode(texts)
    svc.sentence_embedder = _Counting(calls)
    after = svc.answer(AnswerRequest(question)).to_dict()
    assert after["answer"] == before["answer"] and calls == []


class _Counting:
    """A sentence embedder of its own (the hash vectors), counting what it is asked."""

    backend = "hash"

    def __init__(self, calls: list[int]) -> None:
        from newsqa.embedding.fake import HashEmbedder

        self.calls, self.inner = calls, HashEmbedder()

    def encode(self, texts, progress=None):  # noqa: ANN001, ANN201
        self.calls.append(len(texts))
        return self.inner.encode(texts)


def test_chunk_meta_is_what_ranking_reads_and_chunks_add_what_is_shown(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article("Grain deal extended", "Ships sailed from Odesa.", url="https://x/1",
                                source="Wire", published_at="2023-03-18")])
    (cid,) = _chunk_ids(svc)
    meta = svc.index.chunk_meta([cid, cid + 99])  # an id that is not stored is left out
    aid = svc.article("https://x/1")["id"]
    assert meta == {cid: {"chunk_id": cid, "ord": 0, "article_id": aid, "source": "Wire",
                          "published_at": "2023-03-18", "cluster_id": aid}}
    full = svc.index.chunks([cid])[cid]
    assert {k: full[k] for k in meta[cid]} == meta[cid]
    assert (full["text"], full["title"], full["url"]) == (
        "Ships sailed from Odesa.", "Grain deal extended", "https://x/1")


def test_only_the_passages_an_answer_weighs_need_their_sentence_vectors(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([*NEWS, article("Bank holds rates", "The bank held rates on Tuesday.",
                                       url="https://x/held")])
    question = "When did the bank raise rates?"
    got = svc.search(question)
    weighed = svc.composition.passages_considered
    assert len(got) > weighed
    # a passage below the ones an answer weighs has no sentence vectors
    wdb = svc.index.catalogue._write_db()
    wdb.execute("DELETE FROM sentences WHERE chunk_id=?", [got[-1].chunk_id])
    wdb.commit()
    calls: list[int] = []
    encode = svc._sentence_vectors.encode
    svc._sentence_vectors.encode = lambda texts: calls.append(len(texts)) or encode(texts)
    svc.sentence_embedder = _Counting(calls)
    assert not svc.answer(AnswerRequest(question)).to_dict()["abstained"] and calls == []
