"""Log lines for people and for machines: readable text by default, or one JSON object a line
with ``NEWSQA_LOG__FORMAT=json`` (time, level, logger, message, the request id while a request is
served, the exception's traceback when there is one).

The HTTP middleware sets :data:`REQUEST_ID` for the duration of each request, so any log line
written while serving it (a 500's details, a route's warning) carries its id.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

REQUEST_ID: ContextVar[str | None] = ContextVar("newsqa_request_id", default=None)
"""The id of the HTTP request being served in this context (None outside a request)."""

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# LogRecord attributes that are not "extra" fields given by the caller.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "color_message",
}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's, or None) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops it."""
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` when known, fields given with ``extra=``, ``exc_info`` as text."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON (newlines inside values are escaped)."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                plain = isinstance(value, str | int | float | bool | None)
                out[key] = value if plain else str(value)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack_info"] = record.stack_info
        return json.dumps(out, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of ``fmt`` (``text`` or ``json``)."""
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def setup(level: int, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Configure the root logger for a command (unless it has handlers already): one handler
    on stderr in the given format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=level, handlers=[handler])


def with_format(config: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A copy of a ``logging.config.dictConfig`` (uvicorn's) whose handlers write ``fmt``:
    for ``json`` every formatter becomes :class:`JsonFormatter` and every handler gets the
    request id; ``text`` leaves it as it is."""
    if fmt != "json":
        return config
    config = copy.deepcopy(config)
    config["filters"] = {**config.get("filters", {}),
                         "request_id": {"()": "newsqa.logs.RequestIdFilter"}}
    for name in list(config.get("formatters", {})):
        config["formatters"][name] = {"()": "newsqa.logs.JsonFormatter"}
    for handler in config.get("handlers", {}).values():
        handler["filters"] = [*handler.get("filters", []), "request_id"]
    return config
