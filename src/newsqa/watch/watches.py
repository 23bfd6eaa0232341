"""The service's watches: :class:`Watches` adds, lists and removes them, and :meth:`check`
asks again the ones that the archive's changes concern (:mod:`newsqa.watch.check`), recording a
notice where the answer changed for its reader. A watch woken by new articles is searched again
first, and asked again only when one of them is among the passages its answer weighs (an answer
cites nothing else).

Notices are announced to :meth:`Watches.subscribe` callbacks in this process; other processes
and nodes see them in the store (:meth:`Watches.notices` with ``after``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from newsqa.embedding.base import Embedder
from newsqa.index.store import NewsIndex
from newsqa.query.answer import AnswerPipeline
from newsqa.records import Answer, AnswerRequest, Filters
from newsqa.settings import Settings
from newsqa.text import query_terms, stems
from newsqa.watch.check import (
    Concern,
    NewChunks,
    compare,
    gone,
    matches,
    notice_of,
    shown_of,
    woken,
)
from newsqa.watch.records import Notice, Watch
from newsqa.watch.store import Marks, WatchStore

log = logging.getLogger("newsqa.watch")

#: Chunk ids read per batch while gathering the new chunks of a check.
_BATCH = 5000


class Service(Protocol):
    """What watches need of the service (:class:`newsqa.service.NewsQA`)."""

    settings: Settings
    index: NewsIndex
    embedder: Embedder

    def answer(self, request: AnswerRequest) -> Answer:
        """Answer one question."""
        ...

    def pipeline(self) -> AnswerPipeline:
        """The answer pipeline's stages."""
        ...


class WatchLimitError(ValueError):
    """An owner already keeps as many watches as allowed."""


class Watches:
    """Watched questions over one service's index."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings.watch
        self._store: WatchStore | None = None
        self._open_lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._listeners: list[Callable[[Notice, Watch], None]] = []
        #: The generation and top chunk id the last check saw.
        self._seen = (-1, -1)
        #: What the last check that looked at changes did: watches, asked again, notices, ms.
        self.last_check: dict[str, float] = {}

    @property
    def store(self) -> WatchStore:
        """The store, opened (and its tables made) on first use."""
        with self._open_lock:
            if self._store is None:
                idx = self.service.settings.index
                self._store = WatchStore.open(self.service.index.path, idx.catalog_url)
            return self._store

    def close(self) -> None:
        """Release the store."""
        with self._open_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def subscribe(self, listener: Callable[[Notice, Watch], None]) -> Callable[[], None]:
        """Call ``listener(notice, watch)`` for each notice this process records; returns the
        function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # ------------------------------------------------------------------ keeping watches
    def add(
        self, question: str, filters: Filters | None = None, owner: str = "local",
        webhook: str | None = None,
    ) -> Watch:
        """Watch ``question`` (within ``filters``; ``as_of`` has no meaning for a watch and is
        dropped): it is answered now, and that answer is the one later changes are measured
        against. Raises :class:`WatchLimitError` past ``max_per_owner``."""
        if self.store.count(owner) >= self.settings.max_per_owner:
            raise WatchLimitError(
                f"{owner} already watches {self.settings.max_per_owner} questions "
                "(NEWSQA_WATCH__MAX_PER_OWNER); remove one first")
        if self.store.count() >= self.settings.max_total:
            raise WatchLimitError(
                f"this index already keeps {self.settings.max_total} watches "
                "(NEWSQA_WATCH__MAX_TOTAL)")
        given = filters or Filters()
        f = Filters(since=given.since, until=given.until, sources=given.sources)
        index = self.service.index
        top = index.catalogue.top_chunk_id()
        answer = self.service.answer(AnswerRequest(question, filters=f))
        hashes = self._hashes({c.article_id for c in answer.citations})
        vector = self.service.pipeline().embed_query(question)
        return self.store.add(owner, question, f, webhook, top, self.service.embedder.name,
                              vector, shown_of(answer, hashes))

    def all(self, owner: str | None = None) -> list[Watch]:
        """An owner's watches (None: everyone's), oldest first."""
        return self.store.all(owner)

    def get(self, watch_id: str, owner: str | None = None) -> Watch | None:
        """One watch (None when it is not there or not ``owner``'s)."""
        return self.store.get(watch_id, owner)

    def remove(self, watch_id: str, owner: str | None = None) -> bool:
        """Stop watching; False when there is no such watch of ``owner``."""
        return self.store.remove(watch_id, owner)

    def notices(
        self, watch_id: str | None = None, owner: str | None = None, after: float = 0.0,
        limit: int = 100,
    ) -> list[Notice]:
        """Notices, newest first (see :meth:`WatchStore.notices`)."""
        return self.store.notices(watch_id, owner, after, limit)

    def mark_read(self, watch_id: str, owner: str | None = None) -> int:
        """Mark a watch's notices read; how many were unread."""
        return self.store.mark_read(watch_id, owner)

    # ------------------------------------------------------------------ checking
    def _hashes(self, article_ids: set[str]) -> dict[str, str]:
        ids = sorted(article_ids)
        found = self.service.index.catalogue.existing(ids, [None] * len(ids))
        return {k: v[1] for k, v in found.items()}

    def _new_chunks(self, after: int, top: int) -> Iterator[NewChunks]:
        """The chunks after ``after`` up to ``top``, a bounded batch at a time."""
        index = self.service.index
        for lo in range(after + 1, top + 1, _BATCH):
            meta = index.chunk_meta(list(range(lo, min(lo + _BATCH, top + 1))))
            if meta:
                ids = sorted(meta)
                yield NewChunks.of(meta, np.asarray(index.vectors_of(ids), np.float32))

    def _rare(
        self, questions: list[str], rows: list[np.ndarray],
        known: list[frozenset[str]] | None,
    ) -> list[frozenset[str]]:
        """The rarest words (stems, by idf over the archive) of each question that some new
        chunk matched (``rows``), besides those ``known``; empty for the others."""
        out = list(known or [frozenset()] * len(questions))
        for i, question in enumerate(questions):
            if out[i] or not len(rows[i]):
                continue
            terms = query_terms(question)
            idf = self.service.index.term_idf(terms)
            ranked = sorted(terms, key=lambda t: -idf.get(t, 0.0))
            out[i] = stems(ranked[: self.settings.rare_words])
        return out

    def _words(self, new: NewChunks, rows: list[np.ndarray]) -> dict[int, frozenset[str]]:
        """The stems of the title and text of each row some watch matched."""
        wanted = sorted({int(r) for hits in rows for r in hits})
        texts = self.service.index.chunks([int(new.ids[r]) for r in wanted])
        return {r: stems(query_terms(f"{texts[int(new.ids[r])]['title']} "
                                     f"{texts[int(new.ids[r])]['text']}"))
                for r in wanted if int(new.ids[r]) in texts}

    def _vectors(self, marks: Marks) -> np.ndarray:
        name, vecs = self.service.embedder.name, marks.vectors
        stale = [i for i, m in enumerate(marks.models) if m != name]
        if stale:  # the embedding model changed since these watches were made
            fresh = self.service.embedder.encode([marks.questions[i] for i in stale])
            if vecs.shape[1] != fresh.shape[1]:
                vecs = np.zeros((len(marks.ids), fresh.shape[1]), np.float32)
            vecs = vecs.copy()
            for row, i in enumerate(stale):
                self.store.set_vector(marks.ids[i], name, fresh[row])
                vecs[i] = fresh[row]
        return vecs

    def check(self) -> list[Notice]:
        """Ask again the watches the archive's changes since their last check concern, and
        record a notice for each whose answer changed for its reader; returns the notices
        this call recorded (a change another process noticed first is left to it)."""
        with self._check_lock:
            index = self.service.index
            generation = index.generation
            top = index.catalogue.top_chunk_id()
            if (generation, top) == self._seen:
                return []  # nothing changed since the last check: no watch is read
            marks = self.store.marks()
            behind = [i for i, c in enumerate(marks.checked) if c < top]
            if not marks.ids or (not behind and generation == self._seen[0]):
                self._seen = (generation, top)
                return []
            index.refresh()
            started = time.perf_counter()
            concerns = {i: Concern() for i in marks.ids}
            vecs: np.ndarray | None = None
            if behind:
                vecs = self._vectors(marks)
                rare: list[frozenset[str]] | None = None
                for new in self._new_chunks(min(marks.checked[i] for i in behind), top):
                    rows = matches(vecs, marks.checked, marks.filters, new,
                                   self.settings.match_threshold)
                    words = None
                    if self.settings.rare_words and any(len(r) for r in rows):
                        rare = self._rare(marks.questions, rows, rare)
                        words = self._words(new, rows)
                    found = woken(rows, new, rare, words)
                    for wid, fresh in zip(marks.ids, found, strict=True):
                        concerns[wid].fresh |= fresh
            if generation != self._seen[0]:
                cited = self.store.cited()
                every = sorted({a for s in cited.values() for a in s})
                stored = index.catalogue.existing(every, [None] * len(every))
                for wid, lost in gone(cited, stored).items():
                    concerns[wid].gone = lost
            out: list[Notice] = []
            searched = asked = 0
            quiet = [(wid, rev) for wid, rev, mark in zip(marks.ids, marks.revs, marks.checked,
                                                         strict=True)
                     if mark < top and not concerns[wid].fresh and not concerns[wid].gone]
            for row, (wid, rev, mark) in enumerate(
                    zip(marks.ids, marks.revs, marks.checked, strict=True)):
                concern = concerns[wid]
                if not concern.fresh and not concern.gone:
                    continue
                watch = self.store.get(wid)
                if watch is None or watch.rev != rev:
                    continue  # removed, or checked by another process meanwhile
                if not concern.gone:
                    searched += 1
                    if not self._reaches(watch, concern, None if vecs is None else vecs[row]):
                        quiet.append((wid, rev))
                        continue
                asked += 1
                notice = self._ask(watch, concern, max(mark, top))
                if notice is not None:
                    out.append(notice)
                    for listener in list(self._listeners):
                        listener(notice, watch)
            self.store.advance(quiet, top)
            self._seen = (generation, top)
            self.last_check = {"watches": len(marks.ids), "searched": searched, "asked": asked,
                               "notices": len(out),
                               "ms": round(1000 * (time.perf_counter() - started), 1)}
            if searched or asked:
                log.info("watches: %d of %d searched again after the archive changed, %d "
                         "asked, %d notices (%.0f ms)", searched, len(marks.ids), asked,
                         len(out), self.last_check["ms"])
            return out

    def _reaches(self, watch: Watch, concern: Concern, qvec: np.ndarray | None) -> bool:
        """Whether a new article that woke ``watch`` is among the passages its answer would
        weigh now: the search alone, no sentence scored (``qvec``: the question's stored
        vector, used when the search text is the question). Without one, the answer cannot
        cite anything new, and nothing a notice would say changed."""
        pipeline = self.service.pipeline()
        _, _, passages = pipeline.searched(watch.question, pipeline.retrieval.k, watch.filters,
                                           qvec)
        return any(p.article_id in concern.fresh for p in pipeline.weighed(passages))

    def _ask(self, watch: Watch, concern: Concern, top: int) -> Notice | None:
        answer = self.service.answer(AnswerRequest(watch.question, filters=watch.filters))
        change = compare(watch.shown, answer, concern, self.settings.statements)
        if change is None:
            self.store.settle(watch.id, watch.rev, top)
            return None
        hashes = self._hashes({c.article_id for c in answer.citations})
        return self.store.settle(watch.id, watch.rev, top, shown_of(answer, hashes),
                                 notice_of(watch.id, *change))
