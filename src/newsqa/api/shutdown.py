"""Stopping: the app's ``stopping`` event, set the moment the server is told to stop.

uvicorn answers SIGTERM and SIGINT by waiting for the requests in flight before it sends the
app its lifespan's shutdown, so an upload that takes ten minutes would hold the server (and
ignore the signal) for ten minutes. :func:`lifespan` therefore chains a handler in front of
uvicorn's that sets ``app.state.stopping`` first; an upload reads it between records
(:func:`newsqa.api.uploads.bounded_records`), so its ingest commits the batch it holds and
ends, and uvicorn's own handler then goes on as before. An event stream
(``/api/watches/events``) ends on it too, and so does the watches' background round
(:func:`newsqa.watch.deliver.start_watching`), which the lifespan runs while the app serves.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import anyio
from fastapi import FastAPI

from newsqa.watch.deliver import start_watching

log = logging.getLogger("newsqa.api")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds the app's end waits for a round of the watches' background work to finish.
WATCHER_JOIN_S = 10.0


def watch_signals(stopping: threading.Event) -> Callable[[], None]:
    """Set ``stopping`` on SIGINT or SIGTERM, then call the handler that was there; returns
    what puts that handler back. Does nothing outside the main thread (a test's client), where
    no handler can be set."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            log.info("stopping: work in progress ends at its next batch")
        stopping.set()
        previous = before.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, previous)
            signal.raise_signal(signum)

    for sig in _SIGNALS:
        before[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, previous in before.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return restore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: ``app.state.stopping`` is set on a stop signal, and at the end;
    meanwhile a thread checks the watches and delivers their webhooks
    (:func:`~newsqa.watch.deliver.start_watching`), and is waited for (a little) at the end."""
    restore = watch_signals(app.state.stopping)
    watcher = start_watching(app.state.service, app.state.stopping)
    try:
        yield
    finally:
        app.state.stopping.set()
        restore()
        await anyio.to_thread.run_sync(watcher.join, WATCHER_JOIN_S)
