"""Extractive answers: pick the sentences of the retrieved passages that answer the question,
each carrying a citation [n] that is checked against the passage it quotes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from newsqa.index.store import STOPWORDS, query_terms
from newsqa.ingest.chunk import split_sentences
from newsqa.models import Citation, Passage, Segment

ABSTAIN_TEXT = "The archive has no article that answers this."


@dataclass
class ComposeConfig:
    """Knobs of answer composition."""

    max_sentences: int = 3
    max_words: int = 80
    passages_considered: int = 3
    abstain_threshold: float = 0.38
    semantic_weight: float = 0.6
    lexical_weight: float = 0.4
    answer_type_weight: float = 0.3
    rank_penalty: float = 0.02
    keep_ratio: float = 0.5
    coverage_penalty: float = 0.05


@dataclass
class Composed:
    """An answer as segments with their citations, or an abstention."""

    segments: list[Segment]
    abstained: bool
    citations: list[Citation]
    evidence: float
    joiner: str = " "

    @property
    def answer(self) -> str:
        """The answer rendered as one string with ``[n]`` markers."""
        return render_text(self.segments, self.joiner)


def abstention(evidence: float) -> Composed:
    """The answer that says the archive holds no evidence."""
    return Composed([Segment(ABSTAIN_TEXT, [])], True, [], evidence)


def _stem(word: str) -> str:
    """A crude stem: common inflections removed, then the first six letters."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word.rstrip("e")[:6]


def stems(words: Sequence[str]) -> frozenset[str]:
    """The crude stems of ``words``."""
    return frozenset(_stem(w) for w in words)


def lexical_overlap(wanted: frozenset[str], sentence: str) -> float:
    """Share of the question's stemmed content words (``wanted``) that the sentence contains."""
    if not wanted:
        return 0.0
    return len(wanted & stems(query_terms(sentence))) / len(wanted)


_NUMBER_Q = re.compile(
    r"\bhow (many|much|old|long|far|big|high|tall)\b|\bwhat (percentage|percent|number|amount)\b",
    re.I,
)
_TIME_Q = re.compile(r"^\s*when\b|\bwhat (year|day|date|month|time)\b", re.I)
# "What company ..." asks for a name; "What does China think ..." asks for a statement.
_ENTITY_Q = re.compile(
    r"\b(who|whom|whose|which|where)\b|\bwhat\b(?!\s+(does|did|do|is|are|was|were|has|have|had|"
    r"happened|happens|will|would|can|could|should|might|may)\b)",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|"
    r"billion)\b",
    re.I,
)
_TIME = re.compile(
    r"\b(1[89]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|"
    r"October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"yesterday|today|tonight)\b"
)
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’.-]+")


@lru_cache(maxsize=256)
def _question_kind(question: str) -> tuple[str, frozenset[str]]:
    """What a question asks for (number, time, name or other) and its lower-cased words."""
    kind = (
        "number" if _NUMBER_Q.search(question)
        else "time" if _TIME_Q.search(question)
        else "name" if _ENTITY_Q.search(question)
        else "other"
    )
    return kind, frozenset(w.lower() for w in re.findall(r"[\w'’.-]+", question))


def answer_type_fit(question: str, sentence: str) -> float:
    """How well a sentence can answer the kind of question asked, in [0, 1].

    A "how many" question wants a number, a "when" question a date, and a who/which/what/where
    question a name that the question itself does not already contain.
    """
    kind, asked = _question_kind(question)
    if kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind == "time":
        return 1.0 if _TIME.search(sentence) else 0.0
    if kind == "name":
        new = {n for n in _NAME.findall(sentence) if n.lower().rstrip(".") not in asked}
        return min(1.0, len(new) / 2)
    return 0.5


def key_terms(question: str) -> list[str]:
    """The names and numbers a question is specifically about, lower-cased.

    Capitalised words that do not open the question, and numbers such as years: an article
    that answers "Who won the 1998 Cricket World Cup?" has to mention 1998 and cricket.
    """
    words = re.findall(r"[\w'’.-]+", question)
    found: dict[str, None] = {}
    for i, word in enumerate(words):
        word = re.sub(r"['’]s$", "", word).strip(".'’-")
        low = word.lower()
        if not word or low in STOPWORDS:
            continue
        if word[0].isdigit() or (word[0].isupper() and i > 0):
            found.setdefault(low, None)
    return list(found)


def coverage(question: str, passages: Sequence[Passage]) -> float:
    """Share of the question's key terms that appear in the passages (1.0 when it has none)."""
    terms = key_terms(question)
    if not terms:
        return 1.0
    text = " ".join(f"{p.title} {p.text}" for p in passages).lower()
    have = set(re.findall(r"[\w'’.-]+", text)) | set(re.findall(r"\w+", text))
    return sum(t in have or t.rstrip("s") in have for t in terms) / len(terms)


def _words(text: str) -> int:
    return len(text.split())


VIEWS = ("answer", "timeline", "outlets")


def compose(
    question: str,
    passages: Sequence[Passage],
    encode: Callable[[Sequence[str]], np.ndarray],
    qvec: np.ndarray,
    cfg: ComposeConfig,
    view: str = "answer",
) -> Composed:
    """Compose a short cited answer from ``passages`` (best first) or abstain.

    ``view="timeline"`` instead lists the best sentence of each article in order of publication;
    ``view="outlets"`` lists it per outlet, so a reader can compare how sources report a story.
    """
    considered = passages if view != "answer" else passages[: cfg.passages_considered]
    wanted = stems(query_terms(question))
    cands: list[tuple[int, int, str]] = []  # (passage index, position, sentence)
    for pi, p in enumerate(considered):
        for si, s in enumerate(split_sentences(p.text)):
            if _words(s) >= 4:
                cands.append((pi, si, s))
    if not cands:
        return abstention(0.0)
    svecs = encode([s for _, _, s in cands])
    sem = svecs @ qvec.reshape(-1)
    scores = []
    for (pi, _, s), c in zip(cands, sem, strict=True):
        score = cfg.semantic_weight * float(c) + cfg.lexical_weight * lexical_overlap(wanted, s)
        scores.append(score - cfg.rank_penalty * pi)
    best = max(scores)
    # Evidence that misses what the question names (a year, a person) is weaker evidence; the
    # penalty decides abstention only, not which sentences are good enough to keep.
    evidence = best - cfg.coverage_penalty * (1.0 - coverage(question, considered))
    # The answer type decides between relevant sentences; it is not evidence by itself.
    if cfg.answer_type_weight:
        scores = [
            sc + cfg.answer_type_weight * answer_type_fit(question, s)
            for sc, (_, _, s) in zip(scores, cands, strict=True)
        ]
    if evidence < cfg.abstain_threshold:
        return abstention(evidence)
    ranked = sorted(range(len(cands)), key=lambda j: -scores[j])
    if view == "answer":
        chosen = _select(ranked, cands, scores, svecs, best, cfg)
        # Lead with the passage of the best sentence; within a passage keep the text's order.
        lead: dict[int, int] = {}
        for j in chosen:  # chosen is best first
            lead.setdefault(cands[j][0], len(lead))
        chosen.sort(key=lambda j: (lead[cands[j][0]], cands[j][1]))
        lines = [(j, "") for j in chosen]
    else:
        lines = _view_lines(ranked, cands, scores, considered, best, cfg, view)
    return _cite(lines, cands, considered, evidence, cfg, " " if view == "answer" else "\n")


def _select(
    ranked: list[int],
    cands: list[tuple[int, int, str]],
    scores: list[float],
    svecs: np.ndarray,
    best: float,
    cfg: ComposeConfig,
) -> list[int]:
    """The best sentences within the length budget, none restating another."""
    chosen: list[int] = []
    words = 0
    for i in ranked:
        if len(chosen) >= cfg.max_sentences or scores[i] < best * cfg.keep_ratio:
            break
        n_words = _words(cands[i][2])
        if chosen and words + n_words > cfg.max_words:
            continue
        if chosen and float(np.max(svecs[chosen] @ svecs[i])) > 0.85:
            continue
        chosen.append(i)
        words += n_words
    return chosen


def _view_lines(
    ranked: list[int],
    cands: list[tuple[int, int, str]],
    scores: list[float],
    passages: Sequence[Passage],
    best: float,
    cfg: ComposeConfig,
    view: str,
) -> list[tuple[int, str]]:
    """One best sentence per article (timeline) or per outlet (outlets), with a lead-in."""
    first: dict[str, int] = {}
    for j in ranked:
        if scores[j] < best * 0.6:
            break
        p = passages[cands[j][0]]
        key = p.article_id if view == "timeline" else (p.source or "unknown outlet")
        first.setdefault(key, j)
    picked = list(first.values())[: cfg.max_sentences * 2]
    if view == "timeline":
        picked.sort(key=lambda j: passages[cands[j][0]].published_at or "9999")
        return [
            (
                j,
                f"{passages[cands[j][0]].published_at or 'Undated'} — "
                f"{passages[cands[j][0]].source or 'unknown outlet'}: ",
            )
            for j in picked
        ]
    return [(j, f"{passages[cands[j][0]].source or 'unknown outlet'}: ") for j in picked]


def _cite(
    lines: list[tuple[int, str]],
    cands: list[tuple[int, int, str]],
    passages: Sequence[Passage],
    evidence: float,
    cfg: ComposeConfig,
    joiner: str,
) -> Composed:
    """Turn picked sentences into segments citing their passages, numbered in order of use."""
    drafts = [
        Draft(_trim(cands[j][2], cfg.max_words), [passages[cands[j][0]]], [cands[j][2]], lead)
        for j, lead in lines
    ]
    return number_citations(drafts, evidence, joiner)


@dataclass
class Draft:
    """A statement before numbering: its text and, per supporting passage, the verbatim quote."""

    text: str
    passages: list[Passage]
    quotes: list[str]
    lead: str = ""
    span: tuple[int, int] | None = None


def number_citations(drafts: Sequence[Draft], evidence: float, joiner: str = " ") -> Composed:
    """Number the passages the drafts cite (in order of first use) and build the answer.

    A draft whose quote is not verbatim in the passage it cites is dropped, never shown; when
    nothing is left the result is an abstention.
    """
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    segments: list[Segment] = []
    for d in drafts:
        if not d.passages or not all(
            q and q in p.text for q, p in zip(d.quotes, d.passages, strict=True)
        ):
            continue
        cited: list[int] = []
        for p, quote in zip(d.passages, d.quotes, strict=True):
            if p.chunk_id not in numbers:
                numbers[p.chunk_id] = len(numbers) + 1
                citations.append(_citation(numbers[p.chunk_id], p, quote))
            else:
                cit = citations[numbers[p.chunk_id] - 1]
                cit.quote = f"{cit.quote} … {quote}"
            cited.append(numbers[p.chunk_id])
        segments.append(Segment(d.text, cited, d.lead, d.span, list(d.quotes)))
    if not segments:
        return abstention(evidence)
    return Composed(segments, False, citations, evidence, joiner)


def _citation(n: int, p: Passage, quote: str) -> Citation:
    return Citation(
        n=n,
        article_id=p.article_id,
        chunk_id=p.chunk_id,
        url=p.url,
        title=p.title,
        source=p.source,
        published_at=p.published_at,
        quote=quote,
        passage=p.text,
    )


def _trim(sentence: str, max_words: int) -> str:
    words = sentence.split()
    return sentence if len(words) <= max_words else " ".join(words[:max_words]) + "…"


def render_text(segments: Sequence[Segment], joiner: str = " ") -> str:
    """The answer as one string: each segment's text followed by its ``[n]`` markers."""
    return joiner.join(_render(seg) for seg in segments)


def _render(seg: Segment) -> str:
    marks = "".join(f" [{n}]" for n in seg.citations)
    return f"{seg.lead}{seg.text}{marks}"


def plain_text(segments: Sequence[Segment]) -> str:
    """The answer's words without citation markers (what a reader reads)."""
    return " ".join(f"{seg.lead}{seg.text}" for seg in segments)


def check_citations(segments: Sequence[Segment], citations: Sequence[Citation]) -> list[str]:
    """Problems with the citations: a segment citing a number without a citation, or a quote
    that is not verbatim in its passage. Empty for anything :func:`compose` returns."""
    problems = []
    known = {c.n for c in citations}
    for seg in segments:
        problems += [f"[{n}] cites nothing" for n in seg.citations if n not in known]
    for c in citations:
        for piece in c.quote.split(" … "):
            if piece not in c.passage:
                problems.append(f"[{c.n}] quote not found in passage {c.chunk_id}")
    return problems
