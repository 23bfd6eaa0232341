"""Text helpers shared by ingest, index and query: sentences, stop words, query terms, stems."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace and an
# uppercase letter, digit or quote; common abbreviations are not sentence ends.
_SENT_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Col|Lt|Sgt|St|Jr|Sr|Inc|Co|Corp|Ltd|No|vs|Jan|Feb"
    r"|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|U\.N|a\.m|p\.m|e\.g|i\.e|etc)\.|\b[A-Z]\.)$"
)


def ends_with_abbreviation(text: str) -> bool:
    """True when ``text`` ends with an abbreviation ("Mr.", "U.S.", "J."), not a sentence."""
    return bool(_ABBREV.search(text))


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = para.strip()
        if not para:
            continue
        start = 0
        for m in _SENT_END.finditer(para):
            candidate = para[start : m.start()].rstrip()
            if _ABBREV.search(candidate):
                continue
            if candidate:
                sentences.append(candidate + para[m.start() : m.end()].strip())
            start = m.end()
        rest = para[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves said says
    say according week this last year new one two s t""".split()
)


#: Common words that open sentences, capitalised only for that reason.
OPENERS = frozenset(
    """however meanwhile but yet still now later earlier officials police experts critics
    authorities residents many several some overall instead also both each every in on at by
    for from after before during since while when although though because despite as if
    yes no first second finally additionally moreover furthermore today yesterday""".split()
)


def _word_parts(text: str) -> Iterator[str]:
    """The lower-cased words of ``text``, split at apostrophes and hyphens."""
    for word in re.findall(r"[\w][\w'’-]*", text.lower()):
        yield from (part for part in re.split(r"['’-]", word) if part)


def query_terms(text: str) -> list[str]:
    """Content words of a query, lower-cased, stopwords dropped, in order, without repeats."""
    seen: dict[str, None] = {}
    for part in _word_parts(text):
        if len(part) > 1 and part not in STOPWORDS:
            seen.setdefault(part, None)
    return list(seen)


def stem(word: str) -> str:
    """A crude stem: common inflections removed, then the first six letters."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word.rstrip("e")[:6]


def lexical_form(text: str) -> str:
    """``text`` as the words a full-text engine should index: lower-cased, split at
    apostrophes and hyphens as :func:`query_terms` splits them, each reduced to its crude stem
    (so "rates" matches "rate" whatever the engine's own analyser does)."""
    return " ".join(stem(part) for part in _word_parts(text))


def stems(words: Sequence[str]) -> frozenset[str]:
    """The crude stems of ``words``."""
    return frozenset(stem(w) for w in words)
