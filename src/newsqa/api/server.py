"""Running the app: :func:`serve` runs it with uvicorn in one process or supervises several
(``newsqa serve --workers N``), each of which builds its own app with :func:`worker_app`.

Worker processes are spawned by uvicorn and take their configuration from the environment they
inherit (the ``NEWSQA_*`` settings; ``OMP_NUM_THREADS`` must be there before a worker loads the
native libraries). The supervisor therefore sets what its workers need
(:func:`worker_environment`) for as long as it runs them, and puts its environment back after.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from newsqa.api.factory import create_app
from newsqa.service import NewsQA

#: What uvicorn's worker processes import to build their app (with ``factory=True``).
WORKER_APP = "newsqa.api.server:worker_app"
#: The address the supervisor listens on, for its workers' apps (see :mod:`.exposure`).
BIND_ENV = "NEWSQA_SERVE_BIND"


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with newsqa's own loggers (a 500's details) on its error stream."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["newsqa"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    from newsqa.logs import with_format
    from newsqa.settings import get_settings

    return with_format(config, get_settings().log.format)  # NEWSQA_LOG__FORMAT=json: JSON lines


def worker_app() -> FastAPI:
    """The app of one of several serving processes (uvicorn's factory): each opens the index
    that the ``NEWSQA_*`` settings name (``newsqa serve --workers N`` sets
    ``NEWSQA_INDEX__PATH``)."""
    from newsqa.settings import get_settings

    service = NewsQA.open(get_settings(), create=False)
    start_warming(service)
    return create_app(service, os.environ.get(BIND_ENV) or "0.0.0.0")


def start_warming(service: NewsQA) -> None:
    """Warm the service's caches in a background thread, and again after the archive changes
    (see :meth:`NewsQA.keep_warm`)."""
    threading.Thread(target=service.keep_warm, name="newsqa-warm", daemon=True).start()


def worker_environment(
    index: str | Path, workers: int, environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables ``workers`` worker processes need on top of ``environ``: the index to open
    (``NEWSQA_INDEX__PATH``, absolute) and, unless ``environ`` sets it, each worker's share of the
    cores for the model (``OMP_NUM_THREADS``), so that they do not oversubscribe them."""
    env = {"NEWSQA_INDEX__PATH": str(Path(index).resolve())}
    if "OMP_NUM_THREADS" not in environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    return env


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` set in this process's environment (which spawned processes inherit) while the
    block runs; the variables it changed are put back after."""
    before = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def serve(service: NewsQA, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the app with uvicorn until interrupted, in ``workers`` processes.

    One process serves ``service`` itself. With more, this process closes it and supervises
    ``workers`` processes that each open the same index (readers see each other's and any
    writer's changes, issue 8) and share the port; each gets its share of the cores for the
    model (``OMP_NUM_THREADS``), so they do not oversubscribe them.
    """
    import uvicorn

    common: dict[str, Any] = {
        "host": host, "port": port, "log_level": "info", "access_log": False,
        "log_config": log_config(),
    }
    if workers <= 1:
        start_warming(service)
        uvicorn.run(create_app(service, host), **common)
        return
    env = {**worker_environment(service.settings.index.path, workers, os.environ),
           BIND_ENV: host}
    service.close()
    release_models()
    with _environment(env):
        uvicorn.run(WORKER_APP, factory=True, workers=workers, **common)


def release_models() -> None:
    """Drop this process's loaded models (a supervising process serves nothing)."""
    import gc

    from newsqa.embedding.factory import load_embedder

    load_embedder.cache_clear()
    gc.collect()
