"""Progress of long commands: a redrawn bar on a terminal, plain lines in a log.

On a terminal a tqdm bar (with ETA) is redrawn in place. Anywhere else (a pipe, a file, a
container's log) a redraw would leave a ``\\r`` update per step, so :class:`LineProgress` writes one
line per interval (``NEWSQA_LOG__PROGRESS_INTERVAL``, 10 s) and one at the end: counts, rate
and ETA, as text or, with ``NEWSQA_LOG__FORMAT=json``, as a JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Protocol


class Tick(Protocol):
    """``tick(done, total, extra counts, finished, note)``: ``note`` says what is under way
    when no count does yet (the file being read)."""

    def __call__(
        self, done: int, total: int, extra: dict[str, int], finished: bool, note: str = ""
    ) -> None: ...


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """Progress as one line per ``interval`` seconds and a last line when finished, never a
    redraw. ``fmt`` is ``text`` or ``json``; ``clock`` is injectable for tests."""

    def __init__(
        self,
        desc: str,
        unit: str,
        stream: IO[str] | None = None,
        interval: float = 10.0,
        fmt: str = "text",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.desc, self.unit, self.fmt = desc, unit, fmt
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.last = self.start
        self.finished = False
        self.lines = 0

    def __call__(
        self, done: int, total: int, extra: dict[str, int], finished: bool, note: str = ""
    ) -> None:
        """Record progress; write a line when ``interval`` has passed or the work finished."""
        if self.finished:
            return
        now = self.clock()
        if not finished and now - self.last < self.interval:
            return
        self.last = now
        self.finished = finished
        self._write(done, max(total, done), extra, finished, now - self.start, note)

    def _write(
        self, done: int, total: int, extra: dict[str, int], finished: bool, elapsed: float,
        note: str = "",
    ) -> None:
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 and not finished else None
        if self.fmt == "json":
            record: dict[str, Any] = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": "INFO", "logger": "newsqa.progress", "message": self.desc,
                "stage": "done" if finished else "running", "done": done, "total": total,
                "unit": self.unit, **extra, "rate_per_s": round(rate, 2),
                "elapsed_s": round(elapsed, 1),
                "eta_s": None if eta is None else round(eta, 1),
                **({"note": note} if note else {}),
            }
            line = json.dumps(record)
        else:
            counts = "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in extra.items())
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            if finished:
                line = (f"{self.desc}: done, {done:,} {self.unit}s{counts} in "
                        f"{_duration(elapsed)} ({rate:.1f} {self.unit}s/s)")
            else:
                left = f", ETA {_duration(eta)}" if eta is not None else ""
                line = (f"{self.desc}: {done:,}/{total:,} {self.unit}s{pct}{counts}, "
                        f"{rate:.1f} {self.unit}s/s{left}")
                if note:
                    line += f"; {note}"
        self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1


def _bar(desc: str, unit: str, stream: IO[str]) -> Tick:
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, desc=desc, file=stream, dynamic_ncols=True)

    def tick(
        done: int, total: int, extra: dict[str, int], finished: bool, note: str = ""
    ) -> None:
        bar.total = max(total, done, 1)
        bar.n = done
        shown = [f"{k.replace('_', ' ')}={v:,}" for k, v in extra.items()]
        if note:
            shown.append(note if len(note) <= 48 else "…" + note[-47:])
        if shown:
            bar.set_postfix_str(", ".join(shown), refresh=False)
        bar.refresh()
        if finished:
            bar.close()

    return tick


def reporter(
    desc: str,
    unit: str,
    enabled: bool = True,
    stream: IO[str] | None = None,
    interval: float | None = None,
    fmt: str | None = None,
) -> Tick:
    """A progress ``tick``: a tqdm bar when ``stream`` (stderr) is a terminal, else a
    :class:`LineProgress`; a no-op when not ``enabled``. ``interval`` and ``fmt`` default to the
    settings ``log.progress_interval`` and ``log.format``."""
    if not enabled:
        return lambda done, total, extra, finished, note="": None
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        return _bar(desc, unit, out)
    if interval is None or fmt is None:
        from newsqa.settings import get_settings

        s = get_settings()
        interval = s.log.progress_interval if interval is None else interval
        fmt = s.log.format if fmt is None else fmt
    return LineProgress(desc, unit, out, interval, fmt)


def ingest_progress(
    enabled: bool = True, desc: str = "embedding", stream: IO[str] | None = None, **kw: Any
) -> Callable[[Any], None]:
    """A callback for ingest progress events (``IngestProgress``: chunks embedded of those
    known, articles read, the input being read), shown as :func:`reporter` does."""
    tick = reporter(desc, "chunk", enabled, stream, **kw)

    def update(ev: Any) -> None:
        extra = {"articles_read": ev.articles_read} if ev.articles_read else {}
        note = f"reading {ev.reading}" if ev.stage == "read" and ev.reading else ""
        tick(ev.chunks_done, ev.chunks_total, extra, ev.stage == "done", note)

    return update
