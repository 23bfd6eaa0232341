"""Whether the retrieved passages answer a question, not merely share its topic.

"Who won the 2030 World Cup?" over articles on other World Cups, or "How much did Pelé's coffin
cost?" over articles on his funeral, finds passages on the topic whose sentences never state
the detail asked. A few signals of the composer's candidates tell the two apart, and a logistic
model over them, fitted on questions the archive answers and questions it does not
(:mod:`newsqa.training.evidence`), turns them into the probability that the answer answers:
composition abstains under ``ComposeConfig.abstain_threshold`` of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from newsqa.query.sentences import Question, SentenceMatch, match
from newsqa.records import Passage

#: The signals, in the order of the fitted weights (besides ``bias``).
FEATURES = ("best", "meaning", "typed", "covered", "missing")


def signals(
    q: Question,
    cands: Sequence[tuple[int, int, str]],
    matches: Sequence[SentenceMatch],
    relevance: Sequence[float],
    meaning: Sequence[float],
    considered: Sequence[Passage],
    missing: float,
) -> dict[str, float]:
    """What the evidence model weighs, for candidates (passage index, position, sentence) with
    their lexical ``matches``, ``relevance`` (composition's score before answer type) and
    ``meaning`` (cosine to the question):

    - ``best``: the best relevance;
    - ``meaning``: the best cosine;
    - ``typed``: the best relevance of a sentence holding the kind of thing asked (a number for
      "how many", a date for "when", a new name for "who"; any sentence for other questions),
      0 when none holds one;
    - ``covered``: the largest share of the question's rarity-weighted words that one sentence
      and its article's headline hold together;
    - ``missing``: the share of those words that none of the passages mentions
      (:func:`~newsqa.query.sentences.absent_share`, which composition works out once for its
      linear evidence too).

    The fused retrieval score is left out on purpose: it carries the recency prior, which says
    how new the passages are as of the question's date, not whether they answer it (fitted on
    questions about the week's news, it made older archives look silent).
    """
    typed = [r for r, m in zip(relevance, matches, strict=True) if q.kind == "other" or m.fit == 1]
    covered = max(
        match(q, f"{considered[pi].title} {s}").overlap for pi, _, s in cands
    )
    return {
        "best": max(relevance),
        "meaning": max(meaning),
        "typed": max(typed, default=0.0),
        "covered": covered,
        "missing": missing,
    }


_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")


def unseen_years(question: str, considered: Sequence[Passage]) -> list[str]:
    """The years ``question`` names ("the 2030 World Cup") that none of ``considered`` mentions
    in its headline or text or was published in: passages that never name the year asked about
    cannot say what happened in it."""
    named = dict.fromkeys(_YEAR.findall(question))
    seen = {y for p in considered for y in _YEAR.findall(f"{p.title} {p.text}")}
    seen |= {p.published_at[:4] for p in considered if p.published_at}
    return [y for y in named if y not in seen]


def probability(signals_: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The fitted model's probability that the answer answers: the logistic of ``bias`` plus
    each signal times its weight (a signal without a weight counts for nothing)."""
    z = weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in signals_.items())
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
