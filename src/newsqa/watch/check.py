"""Which watches the archive's changes concern, and what a new answer changed.

:func:`concerned` is the cheap part, run after every change: the new chunks' vectors against
every watch's question vector (one matrix product), within each watch's filters, and the
articles each watch's shown answer cites, looked up for deletion or update. Only the watches it
names are asked again. :func:`compare` turns a new answer into a notice, or into nothing: a
notice needs a first answer where there was none, an article not cited before that is among the
new ones, or a cited article gone or changed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from newsqa.index.filters import CompiledFilter, normalize_source
from newsqa.records import Answer, Citation, Filters, Segment
from newsqa.watch.records import Notice, NoticeKind, Shown
from newsqa.watch.store import new_id


@dataclass
class NewChunks:
    """The chunks added since a watermark: ids (ascending), their articles, dates, outlet keys
    and vectors (rows)."""

    ids: np.ndarray
    articles: list[str]
    dates: np.ndarray
    sources: np.ndarray
    vectors: np.ndarray

    @classmethod
    def of(cls, meta: Mapping[int, Mapping[str, object]], vectors: np.ndarray) -> NewChunks:
        """From :meth:`~newsqa.index.store.NewsIndex.chunk_meta` rows (ascending ids) and their
        vectors in that order."""
        ids = sorted(meta)
        rows = [meta[i] for i in ids]
        return cls(
            np.array(ids, dtype=np.int64),
            [str(r["article_id"]) for r in rows],
            np.array([str(r.get("published_at") or "").encode() for r in rows], dtype=bytes),
            np.array([normalize_source(r.get("source")) or "" for r in rows],  # type: ignore[arg-type]
                     dtype=object),
            vectors,
        )


@dataclass
class Concern:
    """Why a watch is asked again: new articles its question matches, cited ones gone."""

    fresh: set[str] = field(default_factory=set)
    #: Article id → "deleted" or "updated".
    gone: dict[str, str] = field(default_factory=dict)


def matches(
    qvecs: np.ndarray, checked: Sequence[int], filters: Sequence[Filters], new: NewChunks,
    threshold: float,
) -> list[np.ndarray]:
    """Per watch, the rows of ``new`` past its watermark, within its filters, whose cosine to
    its question is at least ``threshold``."""
    if not len(new.ids) or not len(qvecs):
        return [np.zeros(0, np.int64) for _ in checked]
    sims = qvecs @ new.vectors.T
    out: list[np.ndarray] = []
    for row, (mark, f) in enumerate(zip(checked, filters, strict=True)):
        keep = (new.ids > mark) & (sims[row] >= threshold)
        if keep.any() and (f.since or f.until or f.sources):
            keep &= CompiledFilter.of(f).mask(new.dates, new.sources)
        out.append(np.flatnonzero(keep))
    return out


def woken(
    rows: Sequence[np.ndarray], new: NewChunks, rare: Sequence[frozenset[str]] | None = None,
    words: Mapping[int, frozenset[str]] | None = None,
) -> list[set[str]]:
    """Per watch, the new articles that wake it: those with a matching row (:func:`matches`)
    that, when ``rare`` is given, also holds one of the watch's rarest question words (stems;
    ``words``: each row's stems). An empty ``rare`` set leaves that watch ungated."""
    out: list[set[str]] = []
    for i, hits in enumerate(rows):
        key = rare[i] if rare is not None else frozenset()
        out.append({new.articles[r] for r in hits
                    if not key or words is None or key & words.get(int(r), frozenset())})
    return out


def gone(cited: Mapping[str, Mapping[str, str]],
         stored: Mapping[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    """Per watch, the cited articles (id → content hash when shown) that are now deleted or
    updated, given what is stored (article id → (id, content hash))."""
    out: dict[str, dict[str, str]] = {}
    for watch_id, sources in cited.items():
        lost = {a: ("deleted" if a not in stored else "updated")
                for a, h in sources.items() if a not in stored or stored[a][1] != h}
        if lost:
            out[watch_id] = lost
    return out


def shown_of(answer: Answer, hashes: Mapping[str, str]) -> Shown:
    """What the store keeps of an answer shown (``hashes``: article id → content hash)."""
    cited = {c.article_id for c in answer.citations} if not answer.abstained else set()
    return Shown(answer.abstained, {a: hashes.get(a, "") for a in sorted(cited)},
                 [s.text for s in answer.segments] if not answer.abstained else [],
                 answer.to_dict(), time.time())


def _renumbered(
    segments: Sequence[Segment], citations: Sequence[Citation],
) -> tuple[list[Segment], list[Citation]]:
    by_n = {c.n: c for c in citations}
    order: dict[int, int] = {}
    for seg in segments:
        for n in seg.citations:
            order.setdefault(n, len(order) + 1)
    segs = [Segment(s.text, [order[n] for n in s.citations], s.lead, s.span, list(s.quotes),
                    s.flag) for s in segments]
    cites = [Citation(**{**by_n[n].to_dict(), "n": m}) for n, m in order.items() if n in by_n]
    return segs, cites


def _render(segments: Sequence[Segment]) -> str:
    return " ".join(
        f"{s.lead}{s.text}" + "".join(f" [{n}]" for n in s.citations) for s in segments)


def _gone_line(before: Shown, article: str, how: str) -> Segment:
    cite = next((c for c in before.answer.get("citations", [])
                 if c.get("article_id") == article), None)
    if cite is None:
        return Segment(f"An article the answer cited was {how}.", [])
    where = ", ".join(str(x) for x in (cite.get("source"), cite.get("published_at")) if x)
    where = f" ({where})" if where else ""
    return Segment(f"“{cite['title']}”{where}, which the answer cited, was {how}.", [])


def compare(
    before: Shown | None, answer: Answer, concern: Concern, statements: int = 2,
) -> tuple[NoticeKind, list[Segment], list[Citation]] | None:
    """What a notice says of ``answer`` against the answer shown ``before``, or None when
    nothing a watcher needs to hear changed: the kind, its segments (``statements`` at most
    from the answer, each citing) and the citations they use, numbered from 1."""
    if answer.abstained:
        lost = [(a, h) for a, h in concern.gone.items() if before and a in before.sources]
        if not lost or before is None:
            return None
        return "withdrawn", [_gone_line(before, a, h) for a, h in lost[:statements]], []
    cited_now = {c.n: c.article_id for c in answer.citations}
    if before is None or before.abstained:
        kind: NoticeKind = "first"
        picked = list(answer.segments[:statements])
    else:
        new = {n for n, a in cited_now.items() if a in concern.fresh and a not in before.sources}
        lost = [(a, h) for a, h in concern.gone.items() if a in before.sources]
        if new:
            kind = "new"
            picked = [s for s in answer.segments if new & set(s.citations)][:statements]
        elif lost:
            segs, cites = _renumbered(answer.segments[:1], answer.citations)
            return "withdrawn", [*(_gone_line(before, a, h) for a, h in lost[:1]), *segs], cites
        else:
            return None
    segs, cites = _renumbered(picked, answer.citations)
    return kind, segs, cites


def notice_of(
    watch_id: str, kind: NoticeKind, segments: list[Segment], citations: list[Citation],
) -> Notice:
    """A notice not yet stored (its ``seq`` is given by the store)."""
    return Notice(new_id(), watch_id, 0, time.time(), kind, _render(segments), segments,
                  citations)
