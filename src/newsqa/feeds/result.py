"""What one poll of one feed did (:class:`PollResult`), as ``newsqa follow`` prints it, its
JSON form and the poll log line: every URL in them redacted (:mod:`newsqa.feeds.redact`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from newsqa.feeds.redact import redact_text, redact_url

PROBLEMS_KEPT = 20


@dataclass
class PollResult:
    """What one poll of one feed did. ``url`` is the feed's own (unredacted) URL."""

    url: str
    status: str  # ok | not modified | partial | error | stopped
    error: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    items: int = 0  # items in the document
    new_items: int = 0  # of them new or changed since the last poll
    pending: int = 0  # items still to do after this poll (failed, waiting, over the budget)
    deferred: int = 0  # of those, left untried because the poll's budget was spent
    given_up: int = 0  # items given up in this poll
    pages: int = 0  # article pages fetched
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether anything was reported (an error or item problems)."""
        return self.status in ("error", "partial", "stopped")

    def fail(self, error: str) -> None:
        """Mark the poll failed with ``error`` (redacted)."""
        self.status, self.error = "error", redact_text(error)

    def problem(self, text: str) -> None:
        """Report an item's problem (redacted; the first ``PROBLEMS_KEPT`` are kept)."""
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(redact_text(text))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``newsqa follow --once --json``)."""
        d = asdict(self)
        d["url"] = redact_url(self.url)
        d["seconds"] = round(self.seconds, 3)
        return d

    def line(self) -> str:
        """One readable line."""
        url = redact_url(self.url)
        if self.status == "error":
            return f"{url}: error: {self.error}"
        if self.status == "not modified":
            return f"{url}: not modified"
        text = (f"{url}: {self.added} added, {self.updated} updated, {self.unchanged} "
                f"unchanged of {self.new_items} new or changed items ({self.items} in the feed)")
        if self.pending:
            text += f", {self.pending} pending"
            if self.deferred:
                text += f" ({self.deferred} left for the next poll: its budget was spent)"
        if self.given_up:
            text += f", {self.given_up} given up"
        if self.problems:
            text += f"; {len(self.problems)} problem(s): {self.problems[0]}"
        return text


def summary(problems: Sequence[str]) -> str | None:
    """The first problem, and how many more there were (None for none)."""
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
