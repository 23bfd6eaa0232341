"""A small hand-written Prometheus registry and its text exposition (format 0.0.4).

Request counts and a latency histogram per route template, method and status are recorded by
:class:`MetricsMiddleware` (a plain ASGI middleware, so streamed responses are timed to their
last byte); ingest counters by :meth:`Metrics.record_ingest`; index gauges are read at scrape time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

log = logging.getLogger("newsqa.api")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """Thread-safe counters and histograms rendered as Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str, str], list[float]] = {}  # buckets, then sum, count
        self.ingested: dict[str, int] = defaultdict(int)
        self.ingest_runs = 0
        #: Functions giving more exposition lines at scrape time (the followed feeds').
        self.collectors: list[Callable[[], list[str]]] = []

    def add_collector(self, collect: Callable[[], list[str]]) -> None:
        """Have ``collect()`` add its exposition lines (``# HELP``/``# TYPE`` included) to
        every scrape; one that fails is left out of that scrape, never failing it."""
        self.collectors.append(collect)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and add its duration to the route's histogram."""
        with self._lock:
            key = (method, route, str(status))
            self.requests[key] += 1
            h = self.latency.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def record_ingest(self, report: Mapping[str, Any]) -> None:
        """Add an ingest report's counts (``IngestReport.to_dict()``)."""
        with self._lock:
            self.ingest_runs += 1
            for status in ("added", "updated", "unchanged", "skipped"):
                self.ingested[status] += int(report.get(status, 0))

    def render(self, gauges: Mapping[str, tuple[str, float]]) -> str:
        """The exposition text; ``gauges`` maps name to (help, value)."""
        out: list[str] = []

        def head(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        with self._lock:
            head("newsqa_http_requests_total", "counter", "HTTP requests by route and status.")
            for (method, route, status), n in sorted(self.requests.items()):
                lab = _labels({"method": method, "route": route, "status": status})
                out.append(f"newsqa_http_requests_total{lab} {n}")
            name = "newsqa_http_request_duration_seconds"
            head(name, "histogram", "HTTP request latency by route and status (to the last byte).")
            for (method, route, status), h in sorted(self.latency.items()):
                base = {"method": method, "route": route, "status": status}
                for bound, count in zip(BUCKETS, h, strict=False):
                    out.append(f"{name}_bucket{_labels({**base, 'le': _num(bound)})} {_num(count)}")
                out.append(f"{name}_bucket{_labels({**base, 'le': '+Inf'})} {_num(h[-1])}")
                out.append(f"{name}_sum{_labels(base)} {h[-2]:.6f}")
                out.append(f"{name}_count{_labels(base)} {_num(h[-1])}")
            head("newsqa_ingest_articles_total", "counter", "Articles ingested over HTTP.")
            for status in ("added", "updated", "unchanged", "skipped"):
                lab = _labels({"status": status})
                out.append(f"newsqa_ingest_articles_total{lab} {self.ingested[status]}")
            head("newsqa_ingest_runs_total", "counter", "Ingest requests completed.")
            out.append(f"newsqa_ingest_runs_total {self.ingest_runs}")
        for gname, (help_, value) in gauges.items():
            head(gname, "gauge", help_)
            out.append(f"{gname} {_num(value)}")
        for collect in self.collectors:
            try:
                out.extend(collect())
            except Exception:  # noqa: BLE001 - a scrape never fails for one collector
                log.warning("a metrics collector failed", exc_info=True)
        return "\n".join(out) + "\n"


def family(
    name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]
) -> list[str]:
    """The exposition lines of one metric family: its HELP and TYPE, then one line a sample
    (labels, value)."""
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {_num(value)}" for labels, value in samples]
    return lines


def _route_of(scope: Scope) -> str:
    """The matched route template (never the raw path, to bound label cardinality)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request into a :class:`Metrics`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; record its status and duration when the response ends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            self.metrics.observe_request(
                scope.get("method", "GET"), _route_of(scope), status, time.perf_counter() - t0
            )
