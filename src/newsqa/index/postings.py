"""BM25 over FTS5 without scoring every match of every word on every query.

FTS5's ``bm25()`` is a sum over the query's phrases: a passage's score for "ukraine OR grain OR
deal" is its one-word score for "ukraine" plus that for "grain" plus that for "deal". So each
word's postings (passage ids and one-word scores) are read from FTS5 once, kept in a bounded
cache, and a query adds up the arrays of its words. The result is FTS5's own ranking, to float
rounding. Common words, whose long posting lists made most of BM25's cost (``bench/latency.py``),
recur across questions and are read once: a write changes the words' idf and the mean
passage length, and what is held is carried to the new state (:mod:`newsqa.index.rescore`)
rather than read again, where the catalogue tells the state it read them in.

Reading a common word costs milliseconds per thousand passages that hold it (FTS5 scores each
row), so a question's first read of its words made most of its time. :class:`FrozenPostings`
holds the postings of the archive's common words in three flat arrays, read once after a
server starts or the archive changes, and kept in a file beside the index (``postings.npz``)
so that the next start loads them in a fraction of a second.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from newsqa.index.rescore import Basis, Postings
from newsqa.text import query_terms

#: The frozen postings' file in an index directory, and the lock its builders take.
POSTINGS_FILE = "postings.npz"

#: ``(sql, args) -> rows``: runs a read query on the index's database.
Query = Callable[[str, Sequence[object]], list[tuple]]
#: ``(term, title_weight) -> (ids, scores)``: one word's postings (ascending passage ids and
#: their one-word BM25 scores, higher is better), from whatever catalogue holds them.
Reader = Callable[[str, float], tuple[np.ndarray, np.ndarray]]


class LexicalView(Protocol):
    """One consistent state of a catalogue's lexical index, as :func:`freeze` reads it."""

    def generation(self) -> int:
        """The write generation of this state."""
        ...

    def chunk_count(self) -> int:
        """Passages in this state."""
        ...

    def postings(self, term: str, title_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """One word's postings in this state (a :data:`Reader`)."""
        ...

    def recent_texts(self, sample: int) -> Iterable[str]:
        """The texts of the newest ``sample`` passages."""
        ...

    def basis(self) -> Basis | None:
        """What this state's one-word scores depend on besides the word (None: not told)."""
        ...


def fts_phrase(term: str) -> str:
    """``term`` as an FTS5 phrase: quoted, so operators and punctuation in it stay text."""
    return '"' + term.replace('"', "") + '"'


def read_postings(
    query: Query, term: str, title_weight: float, after: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``term``'s passage ids (ascending) and one-word BM25 scores (higher is better), from FTS5
    (``after``: only the passages whose id is above it)."""
    since = "" if after is None else f" AND rowid>{int(after)}"
    try:
        rows = query(
            f"SELECT rowid, bm25(chunks_fts, {float(title_weight)}, 1.0) FROM chunks_fts "
            f"WHERE chunks_fts MATCH ?{since} ORDER BY rowid", [fts_phrase(term)],
        )
    except sqlite3.OperationalError:  # a word FTS5 cannot parse matches nothing
        rows = []
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    scores = np.fromiter((-r[1] for r in rows), np.float64, len(rows))
    return ids, scores


#: What a set of postings is valid for: (write generation, title weight, passages). The count
#: tells apart a database rebuilt from scratch that has come back to the same generation.
Stamp = tuple[int, float, int]


@dataclass(frozen=True)
class FrozenPostings:
    """Many words' postings in flat arrays (ids as int32 where they fit, scores as float32:
    half the memory, the ranking unchanged but for ties closer than a float32 tells apart)."""

    stamp: Stamp
    spans: dict[str, tuple[int, int]]  # word -> (start, length) in ids/scores
    ids: np.ndarray
    scores: np.ndarray
    #: The state they were read in, when the catalogue tells it (then they can be carried).
    basis: Basis | None = None

    @property
    def nbytes(self) -> int:
        """Memory the arrays take."""
        return int(self.ids.nbytes + self.scores.nbytes)

    def get(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The postings of ``term``, if it is one of the words held."""
        span = self.spans.get(term)
        if span is None:
            return None
        a, n = span
        return self.ids[a:a + n], self.scores[a:a + n]

    @classmethod
    def read(
        cls, read: Reader, words: Iterable[str], title_weight: float, stamp: Stamp,
        budget_bytes: int, stop: threading.Event | None = None, basis: Basis | None = None,
    ) -> FrozenPostings | None:
        """The postings of ``words`` (most wanted first) through ``read`` until
        ``budget_bytes`` is spent (``basis``: the state ``read`` reads); None when ``stop`` is
        set meanwhile."""
        ids: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        spans: dict[str, tuple[int, int]] = {}
        start = 0
        for word in words:
            if stop is not None and stop.is_set():
                return None
            i, s = read(word, title_weight)
            if (start + len(i)) * 8 > budget_bytes:
                break
            spans[word] = (start, len(i))
            # narrowed as read, so that building takes little more memory than the result
            ids.append(i.astype(np.int32) if len(i) == 0 or i[-1] < 2**31 else i)
            scores.append(s.astype(np.float32))
            start += len(i)
        return cls(stamp, spans, np.concatenate(ids or [np.zeros(0, np.int32)]),
                   np.concatenate(scores or [np.zeros(0, np.float32)]), basis)

    def save(self, path: Path) -> None:
        """Write to ``path`` whole or not at all (a temporary file, then a rename)."""
        words = list(self.spans)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                arrays: dict[str, np.ndarray] = {
                    "ids": self.ids, "scores": self.scores, "words": np.array(words, dtype=str),
                    "spans": np.array([self.spans[w] for w in words], np.int64).reshape(-1, 2),
                    "stamp": np.array(self.stamp, np.float64),
                }
                if self.basis is not None:
                    b = self.basis
                    arrays["basis"] = np.array([b.generation, b.rows, b.tokens, b.top], np.int64)
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> FrozenPostings | None:
        """What :meth:`save` wrote to ``path``; None when it is missing or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as z:
                gen, weight, n = (float(v) for v in z["stamp"])
                words, spans = z["words"].tolist(), z["spans"]
                ids, scores = z["ids"], z["scores"]
                held = [int(v) for v in z["basis"]] if "basis" in z.files else None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        if len(spans) != len(words) or len(ids) != len(scores) or (
                len(spans) and int((spans[:, 0] + spans[:, 1]).max()) > len(ids)):
            return None
        table = {w: (int(a), int(b)) for w, (a, b) in zip(words, spans, strict=True)}
        basis = Basis(*held) if held and len(held) == 4 and held[0] == int(gen) else None
        return cls((int(gen), weight, int(n)), table, ids, scores, basis)


class PostingsSource(Protocol):
    """Where a word's postings come from when they are not held: read with the state they
    were read in, or carried from an earlier state (:mod:`newsqa.index.rescore`)."""

    def stamped_postings(self, term: str, title_weight: float) -> Postings:
        """One word's postings and the state they were read in."""
        ...

    def carried_postings(
        self, term: str, title_weight: float, old: Postings
    ) -> Postings | None:
        """``old`` carried to the state now; None where they cannot be."""
        ...


class PostingsCache:
    """One-word BM25 postings per (word, title weight) of the index's current generation,
    least recently used dropped past ``budget_bytes``. When the generation changes, what was
    held (the frozen postings too) is carried to the new state a word at a time as it is
    asked for, where the catalogue can (:func:`newsqa.index.rescore.carry`), else read again."""

    def __init__(self, budget_bytes: int = 64 << 20) -> None:
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[tuple[str, float], Postings] = OrderedDict()
        self._stale: OrderedDict[tuple[str, float], Postings] = OrderedDict()
        self._bytes = 0
        self._counts: dict[str, int] = {}
        self._generation = -1
        self._frozen: FrozenPostings | None = None
        self._lock = threading.Lock()

    def install(self, frozen: FrozenPostings) -> None:
        """Serve the words of ``frozen`` from it while the index is at its generation (and
        carry them from it after)."""
        with self._lock:
            self._frozen = frozen

    @property
    def frozen(self) -> FrozenPostings | None:
        """The frozen postings in use, if any."""
        return self._frozen

    def _from_frozen(
        self, key: tuple[str, float], generation: int
    ) -> tuple[Postings | None, Postings | None]:
        """(``key``'s postings of this generation, its postings of an earlier one to carry)."""
        frozen = self._frozen
        if frozen is None:
            return None, None
        if frozen.stamp[0] != generation and frozen.basis is None:
            if generation > frozen.stamp[0]:
                self._frozen = None  # outdated for good: free its memory
            return None, None
        got = frozen.get(key[0]) if frozen.stamp[1] == key[1] else None
        if got is None:
            return None, None
        held = Postings(got[0], got[1], frozen.basis)
        return (held, None) if frozen.stamp[0] == generation else (None, held)

    def matches(self, term: str, generation: int) -> int | None:
        """How many passages contain ``term``, when its postings are cached (else None)."""
        with self._lock:
            count = self._counts.get(term) if generation == self._generation else None
            frozen = self._frozen
        if count is None and frozen is not None and frozen.stamp[0] == generation:
            got = frozen.get(term)
            count = None if got is None else len(got[0])
        return count

    def _turn(self, generation: int) -> None:
        """Start ``generation``: what was held becomes what may be carried to it."""
        if generation > self._generation:
            self._stale = OrderedDict(
                (k, v) for k, v in self._items.items() if v.basis is not None)
        else:
            self._stale = OrderedDict()
        self._items.clear()
        self._counts.clear()
        self._bytes = sum(v.nbytes for v in self._stale.values())
        self._generation = generation

    def postings(
        self, source: PostingsSource, term: str, title_weight: float, generation: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage ids (ascending) and their one-word BM25 scores (higher is better), from
        ``source`` when not held."""
        key = (term, float(title_weight))
        with self._lock:
            if generation != self._generation:
                self._turn(generation)
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit.ids, hit.scores
            hit, older = self._from_frozen(key, generation)
            if hit is not None:
                return hit.ids, hit.scores
            old = self._stale.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            old = old or older
        got = source.carried_postings(term, title_weight, old) if old is not None else None
        if got is None:
            got = source.stamped_postings(term, title_weight)
        with self._lock:
            if generation == self._generation and key not in self._items:
                self._items[key] = got
                self._counts[term] = len(got.ids)
                self._bytes += got.nbytes
                while self._bytes > self.budget_bytes and self._stale:
                    self._bytes -= self._stale.popitem(last=False)[1].nbytes
                while self._bytes > self.budget_bytes and len(self._items) > 1:
                    (old_term, _), dropped = self._items.popitem(last=False)
                    self._counts.pop(old_term, None)
                    self._bytes -= dropped.nbytes
        return got.ids, got.scores


def top_bm25(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """The ``n`` best (passage id, summed score) over the words' postings ``parts``, keeping
    only ids in ``allowed`` (ascending; None: all)."""
    parts = [p for p in parts if len(p[0])]
    if not parts or n <= 0 or (allowed is not None and len(allowed) == 0):
        return []
    every = np.concatenate([p[0] for p in parts]).astype(np.int64, copy=False)
    weights = np.concatenate([p[1] for p in parts]).astype(np.float64, copy=False)
    top = int(every.max()) + 1
    if top <= 4 * len(every) + 1_000_000:  # ids dense enough: sum into an array indexed by id
        summed = np.bincount(every, weights=weights, minlength=top)
        held = np.zeros(top, dtype=bool)
        held[every] = True
        if allowed is not None:
            held &= _mask(allowed, top)
        ids = np.flatnonzero(held)
        scores = summed[ids]
    else:
        ids, inverse = np.unique(every, return_inverse=True)
        scores = np.bincount(inverse, weights=weights)
        if allowed is not None:
            pos = np.minimum(np.searchsorted(allowed, ids), len(allowed) - 1)
            ok = allowed[pos] == ids
            ids, scores = ids[ok], scores[ok]
    if len(ids) > n:
        best = np.argpartition(-scores, n - 1)[:n]
        ids, scores = ids[best], scores[best]
    order = np.lexsort((ids, -scores))
    return [(int(ids[i]), float(scores[i])) for i in order]


def _mask(allowed: np.ndarray, size: int) -> np.ndarray:
    """A boolean array of ``size`` that is True at the ``allowed`` ids."""
    mask = np.zeros(size, dtype=bool)
    mask[allowed[allowed < size]] = True
    return mask


def common_words(texts: Iterable[str], limit: int | None) -> list[str]:
    """Content words of ``texts`` held by two or more of them, most common first (at most
    ``limit``): the words whose postings cost most to read."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(query_terms(text)))
    return [w for w, c in counts.most_common(limit) if c >= 2]


def freeze(
    view: AbstractContextManager[LexicalView], directory: Path, title_weight: float,
    words: int | None, sample: int, budget_bytes: int, stop: threading.Event | None,
) -> FrozenPostings | None:
    """The frozen postings of the index in ``directory`` in the state ``view`` opens: loaded
    from its :data:`POSTINGS_FILE` when that was written for this state, else read in that one
    read transaction (a consistent state while writers go on) and written there for the next
    start, best effort. One process builds at a time; one that waited then loads what was
    built. None when ``stop`` was set."""
    path = directory / POSTINGS_FILE
    with _builder_lock(directory):  # held until saved, so a waiting process loads the file
        with view as state:
            stamp: Stamp = (state.generation(), float(title_weight), state.chunk_count())
            frozen = FrozenPostings.load(path)
            if frozen is not None and frozen.stamp == stamp:
                return frozen
            frozen = FrozenPostings.read(
                state.postings, common_words(state.recent_texts(sample), words), title_weight,
                stamp, budget_bytes, stop, state.basis(),
            )
        if frozen is not None:
            try:
                frozen.save(path)
            except OSError:  # a read-only index: the postings still serve this process
                pass
        return frozen


@contextmanager
def _builder_lock(directory: Path) -> Iterator[None]:
    try:
        fh = open(directory / "postings.lock", "a+")
    except OSError:  # a read-only directory: nothing is written, nothing to order
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
