"""Questions the archive asks of itself, to give the reader more to learn from than the few
hundred labelled questions a year brings.

A headline written in sentence case names its story's key facts: a person, a place, a number. One
of them, stated again in the article's body, becomes the answer, and the headline with it taken
out becomes the question ("Regulators fine Acme $5 million over leaks" → "Regulators fine what
$5 million over leaks?", answer "Acme"), asked as of the article's date like any other
(cloze questions, as in Lewis et al., 2019). Their candidate lists come from newsqa's own
retrieval as real ones do (:mod:`newsqa.reader.collect`), and then lose what would teach the
wrong lesson: sentences that restate the headline (the question itself), and other articles'
sentences that merely name the answer (a common name says nothing there).

Measured on the dev lists, mixing them in lowered the reader's top-1 (``docs/reader.md``): the
question repeats its answer's words, so they teach word matching; ``--synthetic`` is off by
default.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from newsqa.eval import contains_answer
from newsqa.models import Article
from newsqa.query.read import repeats
from newsqa.text import split_sentences

#: Words a headline needs, before and after the answer is taken out.
MIN_WORDS = 5
#: Fewest characters a name may have as an answer, one fewer for a number (a shorter one is
#: found inside too many words).
MIN_ANSWER_CHARS = 3
#: Most words an answer may have.
MAX_ANSWER_WORDS = 4
#: Share of a headline's longer words that may be capitalized before it reads as title case,
#: where names cannot be told from the other words.
TITLE_CASE_SHARE = 0.5
#: Words that may sit inside a capitalized name ("Bank of England").
JOINERS = frozenset({"of", "de", "the", "and", "for", "von", "van", "al", "la", "du"})

#: Days before an archive's newest article that its cloze questions are drawn from.
RECENT_DAYS = 400
#: Words no answer may hold: dates read badly as blanks, and "I" starts a question.
CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday i".split())
#: Words that belong to the number before them ("$5 million").
SCALES = frozenset({"million", "billion", "trillion", "thousand", "percent", "%"})

_TAIL = re.compile(r"\s+(?:\||-|–|—)\s+([^|\-–—]+)$")
_EDGE = re.compile(r"^[^\w$£€]+|[^\w%]+$")
_YEAR = re.compile(r"(?:19|20)\d\d")
_POSSESSIVE = re.compile(r"['’]s$")


def clean_headline(title: str) -> str:
    """``title`` without a trailing outlet or section name (a last ``| X`` or ``- X`` of at
    most four words) and without a trailing ellipsis."""
    text = " ".join(title.split())
    for _ in range(2):
        m = _TAIL.search(text)
        if m and len(m.group(1).split()) <= 4:
            text = text[: m.start()].rstrip()
    return re.sub(r"\s*(?:\.\.\.|…)$", "", text).strip()


def _token(word: str) -> str:
    return _POSSESSIVE.sub("", _EDGE.sub("", word))


def _capital(word: str) -> bool:
    w = _token(word)
    return bool(w) and w[0].isupper()


def _ends_name(word: str) -> bool:
    """Whether a comma, a colon or a possessive after ``word`` ends the name it is part of."""
    return word != word.rstrip(",:;.!?") or bool(_POSSESSIVE.search(word.rstrip(",:;.!?")))


def title_case(words: list[str]) -> bool:
    """Whether most of a headline's longer words are capitalized (names cannot be told apart)."""
    long = [w for w in words if len(_token(w)) > 3]
    return bool(long) and sum(_capital(w) for w in long) / len(long) > TITLE_CASE_SHARE


def answer_spans(words: list[str]) -> list[tuple[int, int]]:
    """Word spans ``[i, j)`` of a headline that can be answers: runs of capitalized words (a
    name; a sentence's first word only as part of a longer run, since sentence case capitalizes
    it) and words holding a digit (a number, an amount, a year)."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        if any(ch.isdigit() for ch in words[i]) and _token(words[i]):
            j = i + 1
            if j < len(words) and _token(words[i]) == words[i] and words[j].lower().rstrip(
                    ",:;") in SCALES:
                j += 1
            spans.append((i, j))
            i = j
            continue
        if not _capital(words[i]):
            i += 1
            continue
        j = i + 1
        while j < len(words) and (_capital(words[j]) or (
                words[j].lower() in JOINERS and j + 1 < len(words) and _capital(words[j + 1]))):
            if _ends_name(words[j - 1]):
                break
            j += 1
        initial = i == 0 or words[i - 1][-1] in ".?!:"
        if (not initial or j - i > 1) and j - i <= MAX_ANSWER_WORDS:
            spans.append((i, j))
        i = j
    return spans


def cloze(title: str, body: str, rng: random.Random) -> tuple[str, str] | None:
    """A (question, answer) from an article's headline and body, or None: the answer is a name
    or number of the headline that a body sentence states too."""
    head = clean_headline(title)
    words = head.split()
    if len(words) < MIN_WORDS or title_case(words):
        return None
    sentences = [s for s in split_sentences(body) if not repeats(head, s)]
    choices = []
    for i, j in answer_spans(words):
        answer = _token(" ".join(words[i:j]))
        rest = words[:i] + words[j:]
        if _YEAR.fullmatch(answer) or set(answer.lower().split()) & CALENDAR:
            continue  # "in how many", "on what 7" read as no question
        short = MIN_ANSWER_CHARS - any(ch.isdigit() for ch in answer)
        if (len(rest) + 1 < MIN_WORDS or len(answer) < short
                or any(contains_answer(w, answer) for w in rest)
                or not any(contains_answer(s, answer) for s in sentences)):
            continue
        choices.append((i, j, answer))
    if not choices:
        return None
    i, j, answer = rng.choice(choices)
    number = any(ch.isdigit() for ch in answer)
    ask = ("how much" if number and answer[0] in "$£€" else "how many"
           if number and answer.replace(",", "").isdigit() else "whose"
           if _POSSESSIVE.search(words[j - 1].rstrip(",:;")) else "what")
    tail = words[j - 1][len(words[j - 1].rstrip(",:;")):]
    question = " ".join(words[:i] + [ask + tail] + words[j:]).rstrip(" .,:;!?")
    return question[0].upper() + question[1:] + "?", answer


def synthetic_questions(
    articles: Iterable[Article | object], limit: int, seed: int,
    skip: list[tuple[str, str]] | None = None, recent_days: int = RECENT_DAYS,
) -> list[dict[str, Any]]:
    """Up to ``limit`` cloze questions (in the form of a labelled question: ``question``,
    ``date``, ``answer``, ``gold_urls``), a seeded sample of the articles with a URL dated
    outside the ``skip`` spans and at most ``recent_days`` before the newest article (an
    archive's old articles are sparse, their lists easier than serving's)."""
    dated = [a for a in articles if isinstance(a, Article) and a.url and a.published_at]
    newest = max((str(a.published_at) for a in dated), default="")
    since = (date.fromisoformat(newest) - timedelta(days=recent_days)).isoformat() if newest else ""
    pool: list[dict[str, Any]] = []
    for a in dated:
        assert a.url and a.published_at
        if a.published_at < since or (skip and any(lo <= a.published_at <= hi for lo, hi in skip)):
            continue
        digest = hashlib.sha1(a.url.encode()).hexdigest()
        got = cloze(a.title, a.text, random.Random(f"{seed}:{digest}"))
        if got is not None:
            pool.append({"id": f"cloze-{digest[:12]}",
                         "date": a.published_at, "question": got[0], "answer": got[1],
                         "gold_urls": [a.url], "answerable": True, "synthetic": True,
                         "headline": clean_headline(a.title)})
    random.Random(seed).shuffle(pool)
    return sorted(pool[:limit], key=lambda q: (q["date"], q["id"]))


def pruned(items: Iterable[dict[str, Any]], questions: Iterable[dict[str, Any]]
           ) -> Iterator[dict[str, Any]]:
    """The collected lists of cloze ``questions`` fit to train on: without the candidates that
    restate the headline or name the answer in another article, and only lists that keep a
    positive."""
    heads = {q["id"]: q.get("headline", "") for q in questions}
    for item in items:
        head = heads.get(item.get("id"), "")
        cands = [c for c in item["candidates"]
                 if c["label"] >= 0 and not repeats(head, c["sentence"])]
        if any(c["label"] == 1 for c in cands):
            yield {**item, "synthetic": True, "candidates": cands}
