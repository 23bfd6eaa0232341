"""Postings carried across writes (newsqa.index.rescore) are FTS5's own, and the cache and the
frozen postings carry what they hold instead of reading every match again."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index import postings
from newsqa.index.postings import PostingsCache
from newsqa.index.rescore import Basis, Postings, size_sum, varints
from tests.index.test_lexical import TEXTS, Counted, _fts_or, _same_ranking
from tests.support import article, open_service

WORDS = ["grain", "deal", "ukraine", "rates", "covid-19", "the"]
MORE = [
    ("Covid-19 and grain", "Covid-19 slowed the grain trade; the deal held."),
    ("The deal", "The deal on grain was the talk of the summit, the minister said."),
    ("Rates again", "Rates rose again and the grain deal was extended to November."),
]


def _fresh(svc, term: str, weight: float) -> Postings:
    return svc.index.catalogue.stamped_postings(term, weight)


def _same(got: Postings | None, want: Postings) -> None:
    assert got is not None
    assert got.ids.tolist() == want.ids.tolist()
    assert np.allclose(got.scores, want.scores, rtol=1e-9, atol=0)
    assert got.basis == want.basis


@pytest.mark.parametrize("weight", [1.0, 0.5, 2.0])
def test_carried_postings_are_fts5s_own_after_adds_removals_and_updates(
    tmp_path, weight: float
) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x, url=f"https://n.example/{i}")
                        for i, (t, x) in enumerate(TEXTS)])
    cat = svc.index.catalogue
    first = {w: _fresh(svc, w, weight) for w in WORDS}
    assert all(p.basis is not None and p.basis.rows == len(TEXTS) for p in first.values())

    svc.ingest_records([article(t, x) for t, x in MORE])  # added only
    for w in WORDS:
        _same(cat.carried_postings(w, weight, first[w]), _fresh(svc, w, weight))
    second = {w: _fresh(svc, w, weight) for w in WORDS}

    svc.delete("https://n.example/0")  # removed
    svc.ingest_records([article("Grain deal ends", "The grain deal ended; grain rose.",
                                url="https://n.example/1")])  # updated: removed and added
    for w in WORDS:
        want = _fresh(svc, w, weight)
        _same(cat.carried_postings(w, weight, second[w]), want)
        _same(cat.carried_postings(w, weight, first[w]), want)  # across several writes
        assert cat.carried_postings(w, weight, want) is want  # nothing changed since
    # and a question ranks as FTS5 ranks it
    _same_ranking(svc.index.lexical(["grain", "deal"], 10, weight),
                  _fts_or(svc, ["grain", "deal"], weight))
    svc.close()


def test_postings_of_a_state_not_told_are_never_carried(tmp_path) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS])
    got = _fresh(svc, "grain", 1.0)
    assert svc.index.catalogue.carried_postings(
        "grain", 1.0, Postings(got.ids, got.scores, None)) is None
    svc.close()


def test_the_cache_carries_what_it_held_across_a_write() -> None:
    cache, source = PostingsCache(), Counted()
    cache.postings(source, "grain", 1.0, generation=1)
    assert source.read == ["grain"] and source.carried == []
    cache.postings(source, "grain", 1.0, generation=2)  # a write: carried, not read again
    assert source.read == ["grain"] and source.carried == ["grain"]
    cache.postings(source, "grain", 1.0, generation=2)  # then held for that state
    assert source.read == ["grain"] and source.carried == ["grain"]

    refusing = Counted(carries=False)  # a catalogue that cannot carry: read again
    cache = PostingsCache()
    cache.postings(refusing, "grain", 1.0, generation=1)
    cache.postings(refusing, "grain", 1.0, generation=2)
    assert refusing.read == ["grain", "grain"] and refusing.carried == ["grain"]


def test_the_frozen_postings_are_carried_after_a_write_reading_only_the_new_passages(
    tmp_path, monkeypatch
) -> None:
    svc = open_service(tmp_path / "i", embedding__embedder="hash")
    svc.ingest_records([article(t, x) for t, x in TEXTS])
    assert svc.index.warm_lexical(0.5) > 0
    svc.close()
    again = open_service(tmp_path / "i", embedding__embedder="hash")  # loaded from the file
    assert again.index.warm_lexical(0.5) > 0
    frozen = again.index.search.lexicon.postings.frozen
    assert frozen is not None and frozen.basis is not None
    top = frozen.basis.top

    again.ingest_records([article(t, x) for t, x in MORE])
    reads: list[tuple[str, int | None]] = []
    real = postings.read_postings
    monkeypatch.setattr(postings, "read_postings", lambda q, t, w, after=None: reads.append(
        (t, after)) or real(q, t, w, after))
    _same_ranking(again.index.lexical(["grain", "deal"], 10, 0.5),
                  _fts_or(again, ["grain", "deal"], 0.5))
    assert reads and all(after == top for _, after in reads)  # only what was added is read
    again.close()


def _varint(value: int) -> bytes:
    if value > 0x00FFFFFFFFFFFFFF:
        out = [value & 0xFF]
        value >>= 8
        for _ in range(8):
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(reversed(out))
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def test_sqlite_varints_are_read_as_sqlite_writes_them() -> None:
    values = [0, 1, 127, 128, 300, 16_383, 16_384, 2**32 + 5, 2**56 + 9, 2**63 - 1]
    blob = b"".join(_varint(v) for v in values)
    assert varints(blob) == values
    assert size_sum(_varint(12) + _varint(40)) == 52
    assert size_sum(_varint(12) + _varint(400)) == 412
    assert Basis(1, 0, 0, 0).avgdl == 1.0
