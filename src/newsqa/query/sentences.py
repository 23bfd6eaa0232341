"""How well one sentence of a retrieved passage answers a question.

A sentence scores by the question words it shares, each weighted by how rare it is in the
archive (its inverse document frequency: "Southeast" and "Asia" say far more than "first" or
"country"), by the question's phrases it repeats ("Southeast Asia", "same-sex marriage"), by its
meaning's similarity to the question, and by holding the kind of thing asked for (a number for
"how many", a date for "when", a name the question does not contain for "who/which").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from newsqa.text import OPENERS, STOPWORDS, query_terms, split_sentences, stem

_NUMBER_Q = re.compile(
    r"\bhow (many|much|old|long|far|big|high|tall)\b|\bwhat (percentage|percent|number|amount)\b",
    re.I,
)
_TIME_Q = re.compile(
    r"^\s*when\b|\b(since|until|by) when\b|\b(what|which) (year|day|date|month|time)\b|"
    r"\bhow long ago\b",
    re.I,
)
# "What company ..." asks for a name; "What does China think ..." asks for a statement.
_ENTITY_Q = re.compile(
    r"\b(who|whom|whose|which|where)\b|\bwhat\b(?!\s+(does|did|do|is|are|was|were|has|have|had|"
    r"happened|happens|will|would|can|could|should|might|may)\b)",
    re.I,
)
_NUMBER = re.compile(
    r"\d[\d,.]*(?:\s?(?:%|percent|million|billion|trillion))?|\b(one|two|three|four|five|six|"
    r"seven|eight|nine|ten|eleven|twelve|dozen|hundred|thousand|million|billion)\b",
    re.I,
)
_TIME = re.compile(
    r"\b(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)(?:\s+\d{1,2})?(?:,?\s+(?:1[89]|20)\d\d)?|(?:1[89]|20)\d\d|Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tonight)\b"
)
# A run of capitalised words ("Prime Minister Kishida", "Bank of Japan").
_NAME = re.compile(
    r"(?<=[\s(“\"‘'])[A-Z][\w'’.&-]*(?:\s+(?:of|de|la|van|von|al|bin)?\s*[A-Z][\w'’.&-]*)*"
)
_WORD = re.compile(r"[\w'’.-]+")

#: Weight of a question word the archive never holds (rarer than anything it has).
UNSEEN_IDF = 12.0


@dataclass(frozen=True)
class Question:
    """What scoring needs to know of a question, worked out once per question."""

    kind: str  # "number", "time", "name" or "other"
    asked: frozenset[str]  # its words, lower-cased
    weights: Mapping[str, float]  # content-word stem -> share of the question's weight
    phrases: frozenset[tuple[str, str]]  # adjacent content-word stems


def question_kind(question: str) -> str:
    """What a question asks for: ``number``, ``time``, ``name`` or ``other``."""
    if _NUMBER_Q.search(question):
        return "number"
    if _TIME_Q.search(question):
        return "time"
    return "name" if _ENTITY_Q.search(question) else "other"


def focus(question: str) -> str:
    """The part of a question that asks: its last sentence ("Search and rescue efforts continue
    in Turkey. What was the magnitude of the quake?" asks about the magnitude), else all of it."""
    parts = split_sentences(question)
    asking = [p for p in parts if "?" in p]
    return (asking or parts or [question])[-1]


def analyse(
    question: str, idf: Mapping[str, float] | None = None, focus_weight: float = 0.0
) -> Question:
    """The question's kind, words, weighted content stems and phrases.

    ``idf`` maps content words (:func:`~newsqa.text.query_terms`) to their inverse document
    frequency in the archive; without it every content word weighs the same. The words of the
    sentence that asks (:func:`focus`) weigh ``1 + focus_weight`` times as much as the context
    a question may open with, and decide what kind of answer is wanted.
    """
    asks = focus(question)
    focus_stems = {stem(t) for t in query_terms(asks)} if asks != question else set()
    raw: dict[str, float] = {}
    for t in query_terms(question):
        w = 1.0 if idf is None else max(idf.get(t, UNSEEN_IDF), 0.1)
        st = stem(t)
        if st in focus_stems:
            w *= 1.0 + focus_weight
        raw[st] = max(raw.get(st, 0.0), w)
    total = sum(raw.values()) or 1.0
    return Question(
        kind=question_kind(asks),
        asked=frozenset(w.lower().rstrip(".") for w in _WORD.findall(question)),
        weights={s: w / total for s, w in raw.items()},
        phrases=_phrases(question),
    )


def _phrases(text: str) -> frozenset[tuple[str, str]]:
    stems_ = [stem(t) for t in _ordered_terms(text)]
    return frozenset(zip(stems_, stems_[1:], strict=False))


def _ordered_terms(text: str) -> list[str]:
    """Content words in order, repeats kept (phrases need adjacency)."""
    out: list[str] = []
    for word in re.findall(r"[\w][\w'’-]*", text.lower()):
        out += query_terms(word)
    return out


@dataclass(frozen=True)
class SentenceMatch:
    """The lexical evidence of one sentence for one question."""

    overlap: float  # share of the question's (rarity-weighted) content that the sentence holds
    phrase: float  # share of the question's phrases that the sentence repeats
    fit: float  # in [0, 1]: holds the kind of thing asked for
    novelty: float  # share of the sentence's content words that the question lacks


@lru_cache(maxsize=8192)
def _sentence_stems(sentence: str) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    terms = [stem(t) for t in _ordered_terms(sentence)]
    return frozenset(terms), frozenset(zip(terms, terms[1:], strict=False))


def match(q: Question, sentence: str) -> SentenceMatch:
    """How much of the question ``sentence`` covers, and whether it can answer it."""
    have, pairs = _sentence_stems(sentence)
    overlap = sum(w for s, w in q.weights.items() if s in have)
    phrase = len(q.phrases & pairs) / len(q.phrases) if q.phrases else 0.0
    novelty = len(have - q.weights.keys()) / len(have) if have else 0.0
    return SentenceMatch(overlap, phrase, answer_type_fit(q, sentence), novelty)


def absent_share(q: Question, texts: Sequence[str]) -> float:
    """Share of the question's (rarity-weighted) content that none of ``texts`` mentions.

    High when the passages miss what the question is specifically about: "Which country won
    the 1998 Cricket World Cup?" over passages on football World Cups misses "1998" and
    "cricket", the rarest words of the question.
    """
    have = {stem(t) for text in texts for t in query_terms(text)}
    return sum(w for s, w in q.weights.items() if s not in have)


def new_names(q: Question, sentence: str) -> list[tuple[int, int]]:
    """Character ranges of the names in ``sentence`` that the question does not contain.

    A capitalised first word counts only when it is not a common word ("The", "In").
    """
    out = []
    for m in _NAME.finditer(" " + sentence):
        start, text = m.start() - 1, m.group()
        if start == 0:
            first = text.split()[0]
            if first.lower() in STOPWORDS or first.lower() in OPENERS:
                rest = text[len(first):].lstrip()
                if not rest:
                    continue
                start, text = start + len(text) - len(rest), rest
        words = [w.lower().rstrip(".") for w in _WORD.findall(text)]
        if words and not all(w in q.asked for w in words):
            out.append((start, start + len(text)))
    return out


def answer_type_fit(q: Question, sentence: str) -> float:
    """How well a sentence can answer the kind of question asked, in [0, 1]."""
    if q.kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if q.kind == "time":
        return 1.0 if _TIME.search(sentence) else 0.0
    if q.kind == "name":
        return 1.0 if new_names(q, sentence) else 0.0
    return 0.5


def answer_span(q: Question, sentence: str) -> tuple[int, int] | None:
    """The characters of ``sentence`` that answer the question: the first number for "how many",
    the first date for "when", the first new name for who/which/what; None otherwise."""
    if q.kind == "number":
        m = _NUMBER.search(sentence)
        return (m.start(), m.end()) if m else None
    if q.kind == "time":
        m = _TIME.search(sentence)
        return (m.start(), m.end()) if m else None
    if q.kind == "name":
        names = new_names(q, sentence)
        return names[0] if names else None
    return None
