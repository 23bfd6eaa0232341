"""Checking a generated answer claim by claim against the passages it cites.

A claim (one generated sentence) is supported when it cites at least one passage the model was
given, and one cited passage both

* states every name and number of the claim (in its text, its title or its date; the
  question's own names and numbers are free), and
* holds a sentence, or two adjacent sentences, whose meaning is close to the claim's (cosine
  similarity of their embeddings at least ``min_similarity``).

The supporting sentence is the citation's verbatim quote, as in extractive answers. The
threshold is calibrated by ``bench/claims.py`` on claims that are true (passage sentences,
lightly reworded) and false (a number changed, a name swapped, a sentence cited under another
article's number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from newsqa.query.prompt import ABSTAIN_SENTENCE, PromptPassage
from newsqa.text import OPENERS, STOPWORDS, ends_with_abbreviation

Encode = Callable[[Sequence[str]], np.ndarray]

_MARKS = re.compile(r"\s*\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
# A sentence ends at . ! ? (then closing quotes, citation marks, a stray period) once the next
# word has begun, or at citation marks followed by a capitalised word, or at a line break.
_END = re.compile(
    r"[.!?][\"'”’)]*(?:\s*\[[\d,;\s]+\])*\.?(?=\s+[^\s\[])"
    r"|(?:\s*\[[\d,;\s]+\])+\.?(?=\s+[\"“A-Z0-9])"
    r"|\n"
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
_TOKEN = re.compile(r"[\w][\w'’.&]*")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_MONTHS = (
    "january february march april may june july august september october november december"
).split()


@dataclass
class Claim:
    """One generated sentence: its text without markers and the passage numbers it cites."""

    text: str
    cited: list[int]


@dataclass
class ClaimCheck:
    """The verdict on one claim.

    ``cited`` are the given passages that support it (its citations as shown), ``quotes`` the
    verbatim supporting words of each, ``rejected`` the cited numbers that name no given
    passage; ``reason`` says why an unsupported claim failed.
    """

    claim: Claim
    supported: bool
    cited: list[int] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    similarity: float = 0.0
    reason: str = ""


def parse_claim(raw: str) -> Claim:
    """Split a generated sentence into its text and the citation numbers it carries."""
    cited: list[int] = []
    for m in _MARKS.finditer(raw):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            if int(n) not in cited:
                cited.append(int(n))
    text = _MARKS.sub("", _BULLET.sub("", raw))
    text = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split())).strip()
    return Claim(text, cited)


def normalise(text: str) -> str:
    """Lower-cased words and numbers only, for comparing texts regardless of punctuation."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def is_abstention(text: str) -> bool:
    """True when the model answered with the abstention sentence (in any case or punctuation)."""
    return normalise(ABSTAIN_SENTENCE) in normalise(text)


class SentenceStream:
    """Collects streamed text pieces and hands back each sentence as soon as it is complete."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, piece: str) -> list[str]:
        """Add a piece; return the sentences it completed (with their citation marks)."""
        self._buf += piece
        done: list[str] = []
        start = 0
        for m in _END.finditer(self._buf):
            sentence = self._buf[start : m.end()].strip()
            if m.group(0) != "\n" and _not_an_end(sentence, self._buf[m.end() :]):
                continue
            if sentence:
                done.append(sentence)
            start = m.end()
        self._buf = self._buf[start:]
        return done

    def flush(self) -> list[str]:
        """The last sentence, once the stream has ended."""
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


def _not_an_end(sentence: str, after: str) -> bool:
    body = _MARKS.sub("", sentence).rstrip()
    nxt = after.lstrip()[:1]
    return ends_with_abbreviation(body) or (nxt.isalpha() and nxt.islower())


def split_claims(text: str) -> list[str]:
    """A whole generated answer split into sentences, as :class:`SentenceStream` would."""
    stream = SentenceStream()
    return stream.feed(text) + stream.flush()


class ClaimChecker:
    """Checks claims against the passages of one prompt; passage vectors are computed once."""

    def __init__(
        self,
        passages: Sequence[PromptPassage],
        encode: Encode,
        question: str = "",
        min_similarity: float = 0.5,
    ) -> None:
        self.passages = {pp.n: pp for pp in passages}
        self.encode = encode
        self.min_similarity = min_similarity
        self._free = _numbers(question) | _words(question)
        self._evidence: dict[int, _Evidence] = {}

    def check(self, claim: Claim) -> ClaimCheck:
        """Whether ``claim`` is supported, by which passages and quotes, or why not."""
        given = [n for n in claim.cited if n in self.passages]
        rejected = [n for n in claim.cited if n not in self.passages]
        verdict = ClaimCheck(claim, False, rejected=rejected)
        if not given:
            verdict.reason = (
                f"cites {_marks(rejected)}, which the model was not given"
                if rejected else "cites no passage"
            )
            return verdict
        qvec = self.encode([claim.text])[0]
        unstated: list[set[str]] = []
        for n in given:
            unmet, quote, sim = self._support(claim.text, n, qvec)
            verdict.similarity = max(verdict.similarity, sim)
            if not unmet and sim >= self.min_similarity:
                verdict.cited.append(n)
                verdict.quotes.append(quote)
            unstated.append(unmet)
        verdict.supported = bool(verdict.cited)
        if not verdict.supported:
            missing = set.intersection(*unstated)
            verdict.reason = (
                f"{_marks(given)} do not state {', '.join(sorted(missing))}" if missing
                else f"no sentence of {_marks(given)} says this"
            )
        return verdict

    def _support(self, claim: str, n: int, qvec: np.ndarray) -> tuple[set[str], str, float]:
        """(facts of the claim the passage does not state, best quote, its similarity).

        Names must appear in the passage (any sentence, its title); numbers in the quote
        itself, so a number moved from another sentence of the passage does not pass.
        """
        ev = self._of(n, qvec.shape[-1])
        missing_names = _names(claim) - ev.words - self._free
        numbers = _numbers(claim) - self._free
        head = ev.title_numbers | _date_numbers(self.passages[n].passage.published_at, claim)
        best, best_sim, missing_numbers = "", 0.0, numbers - ev.numbers
        if ev.units:
            sims = ev.vecs @ qvec.reshape(-1)
            for j in np.argsort(-sims):
                if numbers <= ev.unit_numbers[j] | head:
                    best, best_sim, missing_numbers = ev.units[j], float(sims[j]), set()
                    break
            else:
                j = int(np.argmax(sims))
                best, best_sim = ev.units[j], float(sims[j])
                missing_numbers = missing_numbers or numbers - ev.unit_numbers[j] - head
        return missing_names | missing_numbers, best, best_sim

    def _of(self, n: int, dim: int) -> _Evidence:
        """What passage ``n`` offers as support, worked out once per prompt."""
        if n not in self._evidence:
            pp = self.passages[n]
            units = _units(pp)
            context = " ".join(
                [pp.passage.title, *pp.given, _spelled_date(pp.passage.published_at)]
            )
            self._evidence[n] = _Evidence(
                units=units,
                vecs=self.encode(units) if units else np.zeros((0, dim), np.float32),
                unit_numbers=[_numbers(u) for u in units],
                words=_words(context),
                numbers=_numbers(context),
                title_numbers=_numbers(pp.passage.title),
            )
        return self._evidence[n]


@dataclass
class _Evidence:
    """One given passage as support: its quotable units (sentences and adjacent pairs) with
    their vectors and numbers, and the words and numbers of the passage, title and date."""

    units: list[str]
    vecs: np.ndarray
    unit_numbers: list[set[str]]
    words: set[str]
    numbers: set[str]
    title_numbers: set[str]


def _units(pp: PromptPassage) -> list[str]:
    """The given sentences and each adjacent pair of them, as verbatim passage text."""
    text = pp.passage.text
    spans: list[tuple[int, int] | None] = []
    pos = 0
    for s in pp.sentences:
        at = text.find(s, pos) if s is not None else -1
        spans.append((at, at + len(s)) if s is not None and at >= 0 else None)
        if s is not None and at >= 0:
            pos = at + len(s)
    units = [text[a:b] for a, b in (sp for sp in spans if sp)]
    for first, second in zip(spans, spans[1:], strict=False):
        if first and second:
            units.append(text[first[0] : second[1]])
    return units


def _numbers(text: str) -> set[str]:
    """The numbers of ``text``, normalised: no thousands commas, number words as digits."""
    found = {m.group(0).replace(",", "").rstrip(".") for m in _NUM.finditer(text)}
    return found | {_NUMBER_WORDS[w] for w in _words(text) if w in _NUMBER_WORDS}


def _words(text: str) -> set[str]:
    """The words of ``text``, lower-cased, possessive "'s" removed."""
    return {re.sub(r"['’]s$", "", m.group(0)).rstrip(".").lower() for m in _TOKEN.finditer(text)}


def _names(text: str) -> set[str]:
    """The capitalised words of a claim (lower-cased), but not a common word that is
    capitalised only because it opens the sentence."""
    out: set[str] = set()
    for i, m in enumerate(_TOKEN.finditer(text)):
        word = re.sub(r"['’]s$", "", m.group(0)).rstrip(".")
        low = word.lower()
        if not word[:1].isupper() or low in STOPWORDS or low in _NUMBER_WORDS:
            continue
        if i == 0 and low in OPENERS:
            continue
        out.add(low)
    return out


def _spelled_date(iso: str | None) -> str:
    """``2023-01-05`` as itself and as "January 5 2023", so a claim may state its source's
    date either way."""
    if not iso or len(iso) < 10 or not iso[5:7].isdigit() or not 1 <= int(iso[5:7]) <= 12:
        return iso or ""
    y, m, d = iso[:4], int(iso[5:7]), int(iso[8:10])
    return f"{iso} {_MONTHS[m - 1].title()} {d} {y}"


def _date_numbers(iso: str | None, claim: str) -> set[str]:
    """The numbers of a passage's date that a claim may state without its text: the year, and
    the day when the claim names the month."""
    if not iso or len(iso) < 10 or not iso[5:7].isdigit() or not 1 <= int(iso[5:7]) <= 12:
        return set()
    out = {iso[:4]}
    if _MONTHS[int(iso[5:7]) - 1] in _words(claim):
        out.add(str(int(iso[8:10])))
    return out


def _marks(ns: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in ns)
