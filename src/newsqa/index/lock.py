"""The writer lock of an index: one ingest, upload or delete at a time, across the threads of
a process (a mutex) and across processes (the catalogue's own lock: a file lock on
``ingest.lock`` for SQLite, an advisory lock for PostgreSQL). It never waits: a second writer
gets :class:`~newsqa.index.errors.IndexBusyError` at once."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from newsqa.index.errors import IndexBusyError


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """The cross-process writer lock of the index directory ``path`` (never waits)."""
    with open(path / "ingest.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"index {path} is busy: another process is writing to it (ingest or delete); "
                "try again when it ends"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: A cross-process lock: entering it holds the lock or raises IndexBusyError at once.
CrossLock = Callable[[], AbstractContextManager[None]]


class WriterLock:
    """The writer lock of the index ``path``, re-entrant for the thread holding it; ``cross``
    is the lock between processes (default: :func:`file_lock` on the directory)."""

    def __init__(self, path: Path, cross: CrossLock | None = None) -> None:
        self.path = path
        self._cross: CrossLock = cross or (lambda: file_lock(path))
        self._mutex = threading.Lock()
        self._holder: int | None = None

    @property
    def held_here(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._holder == threading.get_ident()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock; raises :class:`IndexBusyError` at once when another holds it."""
        if not self._mutex.acquire(blocking=False):
            raise IndexBusyError(
                f"index {self.path} is busy: another ingest or delete in this process is "
                "writing to it; try again when it ends"
            )
        try:
            with self._cross():
                self._holder = threading.get_ident()
                try:
                    yield
                finally:
                    self._holder = None
        finally:
            self._mutex.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock unless the calling thread already does."""
        if self.held_here:
            yield
            return
        with self.hold():
            yield
