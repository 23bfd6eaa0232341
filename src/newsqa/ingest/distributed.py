"""Distributed embedding with Ray Data, for ``newsqa ingest PATHS --ray auto|ADDRESS``.

The driver (the ``newsqa ingest`` process) still loads, cleans and chunks the articles and
writes the index; only the forward passes move to Ray. :class:`RayEmbedder` is an
:class:`~newsqa.embedding.base.Embedder` whose :meth:`~RayEmbedder.encode` turns its texts into a
Ray dataset, embeds it with a pool of worker actors (each loads the model once, with the same
arguments as the driver's embedder, so the vectors agree with a local ingest) and streams the
vectors back, put back in input order.

Fault tolerance: the worker actors are restarted when their process dies and their unfinished
batches are run again (Ray Data's defaults for actor pools: ``max_restarts=-1``,
``max_task_retries=-1``); a batch that comes back twice is counted once, and a text whose
vector never came back fails the call, so an ingest writes exactly the vectors of its texts or
nothing.

Each :meth:`~RayEmbedder.encode` call is one Ray Data job that starts its own actors (one model
load per worker per call): give it large calls (thousands of chunks), e.g. an
:class:`~newsqa.ingest.pipeline.Ingestor` with a large ``batch_articles``.

Workers on other machines need this package and the model installed as on the driver.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.embedding.base import Embedder
from newsqa.embedding.factory import load_embedder

log = logging.getLogger("newsqa.distributed")

#: Environment variable naming a directory where each embedding worker, once its model is
#: loaded, creates an empty file named by its process id (fault drills find workers this way).
PID_DIR_ENV = "NEWSQA_RAY_PID_DIR"

#: Environment of every embedding worker: never reach a model hub, one compute thread each
#: (a worker reserves one CPU).
WORKER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

def _ray() -> Any:
    try:
        import ray  # type: ignore[import-untyped,unused-ignore]
        import ray.data  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("Ray is not installed: pip install 'newsqa[scale]'") from exc
    return ray


def connect(address: str, workers: int | None = None) -> None:
    """Connect this process to Ray, unless it already is.

    ``address="auto"`` joins a Ray cluster running on this machine (``ray start --head``) if
    there is one, else starts a local one for this process with ``workers`` CPUs (default: all
    of them). Any other value is a cluster address for :func:`ray.init` (``HOST:PORT`` or
    ``ray://HOST:PORT``). Ray's own output is kept quiet and no dashboard is started.

    Raises RuntimeError when Ray is not installed, ConnectionError when no cluster answers at
    ``address``.
    """
    ray = _ray()
    if ray.is_initialized():
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
            log.info("joined the Ray cluster on this machine")
            return
        except ConnectionError:
            pass
        # "local" always starts a new instance (None would follow a stale cluster address).
        ray.init(address="local", num_cpus=workers, include_dashboard=False, **quiet)
        log.info("started a local Ray instance with %s CPUs", workers or "all")
        return
    ray.init(address=address, **quiet)
    log.info("joined the Ray cluster at %s", address)


def _quiet_data_context() -> None:
    """No progress bars, statistics or per-job notes from Ray Data on the driver's terminal
    (newsqa reports progress itself); Ray Data's warnings still show, and
    ``RAY_DATA_LOG_LEVEL`` still decides when set."""
    from ray.data import DataContext  # type: ignore[import-untyped,unused-ignore]

    with warnings.catch_warnings():
        # Ray 2.60's own DataContext() sets its deprecated fields, warning about each.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="ray.data.context")
        ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    if "RAY_DATA_LOG_LEVEL" not in os.environ:
        logging.getLogger("ray.data").setLevel(logging.WARNING)


class _EmbedWorker:
    """A Ray Data actor: loads the embedder once, then embeds batches of ``{"i", "text"}``."""

    def __init__(
        self,
        model_path: str | None,
        batch_size: int,
        kind: str,
        precision: str,
        backend: str,
        cache_dir: str | None,
    ) -> None:
        for key, value in WORKER_ENV.items():
            os.environ.setdefault(key, value)
        if kind == "model" and backend == "torch":
            import torch

            torch.set_num_threads(1)  # the actor reserves num_cpus=1
        self._embedder = load_embedder(model_path, batch_size, kind, precision, backend, cache_dir)
        pid_dir = os.environ.get(PID_DIR_ENV)
        if pid_dir:
            Path(pid_dir, str(os.getpid())).touch()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = self._embedder.encode(texts)
        return {"i": np.asarray(batch["i"], dtype=np.int64), "vector": vectors}


class RayEmbedder:
    """An :class:`~newsqa.embedding.base.Embedder` whose forward passes run on Ray workers.

    ``base`` is the driver's local embedder of the same model: it gives the name, dimension,
    length limit, backend and precision recorded in the index manifest, and counts word pieces
    for the chunker; :meth:`encode` runs on ``workers`` actors of one CPU each (default: the
    cluster's CPUs), each loading the model with ``model_path``, ``batch_size``, ``precision``,
    ``backend`` and ``cache_dir`` (defaults: those of ``base``; the bundled model). Texts go to
    the workers in blocks of ``batch_rows`` of similar length. ``env`` adds environment
    variables for the workers (on top of :data:`WORKER_ENV`).
    """

    def __init__(
        self,
        base: Embedder,
        workers: int | None = None,
        model_path: str | None = None,
        batch_size: int | None = None,
        precision: str | None = None,
        backend: str | None = None,
        cache_dir: str | None = None,
        batch_rows: int = 64,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.base = base
        self.name = base.name
        self.dim = base.dim
        self.max_seq_length = base.max_seq_length
        self.backend = base.backend
        self.precision = base.precision
        self.workers = workers
        self.batch_rows = batch_rows
        self._kind = "hash" if base.backend == "hash" else "model"
        if self._kind == "hash":  # model-free: nothing to load, nothing to disagree on
            model_path, backend, precision = None, "torch", "fp32"
        else:
            if backend is not None and backend != base.backend:
                raise ValueError(
                    f"backend {backend!r} differs from the base embedder's {base.backend!r}"
                )
            backend = base.backend
            if backend == "torch":
                if precision not in (None, "auto", base.precision):
                    raise ValueError(
                        f"precision {precision!r} differs from the base embedder's "
                        f"{base.precision!r}"
                    )
                # The driver's resolved precision, not "auto": every worker computes as the
                # driver does and as the manifest says, whatever its CPU.
                precision = base.precision
            precision = precision or "auto"
        self._model_path = model_path
        self._batch_size = batch_size or int(getattr(base, "batch_size", 64))
        self._precision = precision
        self._backend = backend
        self._cache_dir = cache_dir
        self._env = {**WORKER_ENV, **(env or {})}

    def count_wordpieces(self, text: str) -> int:
        """Tokens the model sees for ``text`` (counted by the driver's embedder)."""
        return self.base.count_wordpieces(text)

    def _concurrency(self, ray: Any) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text, in the order of ``texts``;
        ``progress`` receives the count of texts done as each block comes back.

        Raises RuntimeError when a text's vector never came back (a failed Ray job).
        """
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        ray = _ray()
        _quiet_data_context()
        # Similar lengths in one block pad little (the worker buckets within its block too).
        order = sorted(range(n), key=lambda i: len(texts[i]))
        items = [{"i": i, "text": texts[i]} for i in order]
        blocks = -(-n // self.batch_rows)
        workers = self._concurrency(ray)
        # One block per task (batch_size=None): blocks come back, and are retried, one by one.
        # Restarts and retries are Ray Data's defaults for actors, max_restarts=-1 and
        # max_task_retries=-1 (setting them through map_batches is deprecated in Ray 2.60).
        ds = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _EmbedWorker,
            fn_constructor_kwargs={
                "model_path": self._model_path,
                "batch_size": self._batch_size,
                "kind": self._kind,
                "precision": self._precision,
                "backend": self._backend,
                "cache_dir": self._cache_dir,
            },
            batch_size=None,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            runtime_env={"env_vars": self._env},
        )
        seen = np.zeros(n, dtype=bool)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
            ids = np.asarray(batch["i"], dtype=np.int64)
            vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(ids), self.dim)
            fresh = ~seen[ids]  # a retried block may come back twice: count it once
            out[ids[fresh]] = vectors[fresh]
            seen[ids[fresh]] = True
            done = int(fresh.sum())
            if progress is not None and done:
                progress(done)
        missing = int(n - seen.sum())
        if missing:
            raise RuntimeError(f"Ray embedding returned no vector for {missing} of {n} texts")
        return out


def ray_embedder(
    base: Embedder,
    address: str,
    workers: int | None,
    model_path: str | None,
    batch_size: int,
    precision: str,
    backend: str,
    cache_dir: str | None,
) -> RayEmbedder:
    """Connect to Ray (:func:`connect`) and wrap ``base`` in a :class:`RayEmbedder` whose
    workers load the model as ``base`` was loaded (the arguments of
    :func:`~newsqa.embedding.factory.load_embedder`)."""
    connect(address, workers)
    return RayEmbedder(
        base,
        workers=workers,
        model_path=model_path,
        batch_size=batch_size,
        precision=precision,
        backend=backend,
        cache_dir=cache_dir,
    )
