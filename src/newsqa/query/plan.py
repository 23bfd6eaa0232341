"""Query planning: before anything is retrieved, decide what to search with, which period the
question points at, and how strongly recency should count.

A question is read together with the conversation only when it really continues it: it opens
with a continuation ("and …", "what about …", "why?") or leans on a pronoun that nothing in the
question itself resolves ("What did she say next?"). A self-contained question is retrieved
alone, however short, so an unrelated second question in a chat is never mixed with the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from newsqa.query.timeexpr import TimeWindow, find_window

_CONTINUATION = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|what else|why( not)?|how come)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"\b(he|she|him|her|his|hers|it|its|they|them|their|theirs)\b", re.IGNORECASE
)
# A capitalised word after the first one: a name the pronoun may refer to.
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’.-]*")


@dataclass(frozen=True)
class QueryPlan:
    """What retrieval and composition work from.

    ``text`` is what retrieval searches with (the question, or for a follow-up the previous
    question and this one); ``question`` is what the answer is scored against; ``window`` is the
    period the question names; ``recency_weight`` is the strength of the recency prior.
    """

    question: str
    text: str
    follow_up: bool
    window: TimeWindow | None
    recency_weight: float


def is_follow_up(question: str) -> bool:
    """Whether ``question`` continues a conversation rather than standing on its own."""
    if _CONTINUATION.search(question):
        return True
    pronoun = _PRONOUN.search(question)
    if pronoun is None:
        return False
    name = _NAME.search(question)
    # "Did Biden say he would run?" resolves "he"; "What did he say?" does not.
    return name is None or name.start() > pronoun.start()


def previous_question(history: Sequence[Mapping[str, str]] | None) -> str | None:
    """The last user turn of the conversation, if any."""
    turns = [h.get("content", "") for h in history or [] if h.get("role") == "user"]
    turns = [t for t in turns if t.strip()]
    return turns[-1] if turns else None


def plan_query(
    question: str,
    history: Sequence[Mapping[str, str]] | None,
    as_of: date,
    *,
    asked_as_of: bool,
    recency_weight: float,
    untimed_share: float,
) -> QueryPlan:
    """Plan the retrieval of ``question`` asked at ``as_of``.

    ``asked_as_of`` says the request set "as of" explicitly. When neither the request nor the
    question names a time, recency keeps only ``untimed_share`` of its weight: it then breaks
    near-ties, so an old article that clearly answers still beats recent ones that merely touch
    the topic.
    """
    previous = previous_question(history)
    follow_up = previous is not None and is_follow_up(question)
    text = f"{previous} {question}" if follow_up else question
    window = find_window(question, as_of)
    if window is None and follow_up and previous:
        window = find_window(previous, as_of)
    weight = recency_weight if (asked_as_of or window) else recency_weight * untimed_share
    return QueryPlan(question, text, follow_up, window, weight)
