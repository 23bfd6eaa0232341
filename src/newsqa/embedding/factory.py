"""The one factory of embedders: which vectors each backend computes, what loads one
(:func:`load_embedder`), and which embedders a service runs for an index — what built its
vectors (recorded in its manifest), what searches and what extends it, what embeds answer
sentences — and the check that refuses vectors of another kind."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from newsqa.embedding.base import Embedder
from newsqa.embedding.cpu import resolve_precision
from newsqa.embedding.fake import HashEmbedder
from newsqa.embedding.torch_model import SentenceTransformerEmbedder
from newsqa.index.store import IndexMismatchError
from newsqa.settings import Settings

#: Backends whose vectors are interchangeable share a family: torch and onnx-fp32 run the same
#: fp32 weights (cosine ≥ 0.9999 across CPUs), so an index built by one is searched and extended
#: by the other; int8 vectors are only within ~0.99 of them, a family of their own.
FAMILIES = {"torch": "fp32", "onnx-fp32": "fp32", "onnx-int8": "int8", "hash": "hash"}
BACKENDS = ("torch", "onnx-fp32", "onnx-int8")


def vector_family(backend: str) -> str:
    """Which vectors ``backend`` computes (see :data:`FAMILIES`)."""
    return FAMILIES.get(backend, backend)


def runtime_backend(built: str) -> str:
    """The backend to run queries with for an index built by ``built``: for fp32 vectors ONNX
    Runtime fp32 whenever it is installed, torch only where it is missing; otherwise ``built``.

    ONNX fp32 is served even on CPUs where torch computes bf16 natively: measured side by side on
    an AVX512-BF16 machine (``bench/serving_backend.py``) it embeds a query faster (p50 7.1 ms
    against 10.9 for torch bf16), starts in 0.4 s against 6.1 and peaks at ~200 MiB against
    ~720, with no torch in the process. ``NEWSQA_EMBEDDING__BACKEND=torch`` still asks for torch.
    """
    if vector_family(built) != "fp32":
        return built
    from newsqa.embedding.onnx import available

    return "onnx-fp32" if available() else "torch"


@lru_cache(maxsize=4)
def load_embedder(
    model_path: str | None = None,
    batch_size: int = 64,
    kind: str = "model",
    precision: str = "auto",
    backend: str = "torch",
    cache_dir: str | None = None,
) -> Embedder:
    """Load (once per process) the embedder: the model at ``model_path`` (default: the bundled
    MiniLM) run by ``backend`` — ``torch`` computing in ``precision`` (see
    :func:`resolve_precision`), ``onnx-fp32`` or ``onnx-int8`` (:mod:`newsqa.embedding.onnx`,
    the graphs cached under ``cache_dir``) — or with ``kind="hash"`` the model-free
    :class:`HashEmbedder`."""
    if kind == "hash":
        return HashEmbedder()
    if backend in ("onnx-int8", "onnx-fp32"):
        from newsqa.embedding.onnx import OnnxEmbedder

        return OnnxEmbedder(
            model_path, batch_size, Path(cache_dir) if cache_dir else None,
            backend.removeprefix("onnx-"),
        )
    if backend != "torch":
        raise ValueError(f"unknown embedding backend {backend!r}: {', '.join(BACKENDS)}")
    return SentenceTransformerEmbedder(model_path, batch_size, precision)





def check_backend(stored: dict[str, Any], embedder: Embedder, path: Path) -> None:
    """Refuse an index whose vectors came from another family of embedding backends.

    What counts is the vectors, not the program: torch and onnx-fp32 run the same fp32 weights
    and agree to a cosine of at least 0.9999 (0.99998 seen on AVX512, where the kernels
    sum in another order than on AVX2), so either searches and extends an index the other built;
    int8 vectors (``onnx-int8``) are within ~0.99 of fp32 ones, not equal. Precision within
    torch does not count either: bf16 and fp32 vectors of MiniLM agree to a cosine of at least
    0.9999 on real news (``bench/ingest.py``); ``embed_precision`` records only what built the
    index. Indexes written before these keys existed (torch, fp32) open with any backend whose
    model identity matches.
    """
    built = stored.get("embed_backend")
    if built is not None and vector_family(built) != vector_family(embedder.backend):
        raise IndexMismatchError(
            f"index {path} was built with the {built!r} embedding backend, but this "
            f"configuration uses {embedder.backend!r}; re-ingest into a new index directory "
            "or use the matching backend"
        )


def stored_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the index at ``path`` ({} when there is none yet)."""
    try:
        return dict(json.loads((path / "manifest.json").read_text()))
    except (OSError, ValueError):
        return {}


def index_backend(path: Path, stored: dict[str, Any] | None = None) -> str:
    """The embedding backend that built the index at ``path`` (``torch`` for one written
    before the manifest recorded it; :func:`new_index_backend` for a new one); ``stored`` is
    its manifest if already read."""
    stored = stored if stored is not None else stored_manifest(path)
    if not stored:
        return new_index_backend()
    backend = stored.get("embed_backend")
    return "torch" if backend in (None, "", "hash") else str(backend)


def new_index_backend() -> str:
    """What embeds a new index unless ``NEWSQA_EMBEDDING__BACKEND`` says otherwise: ``onnx-int8``
    where ONNX Runtime is installed (51 chunks/s end to end against ~27 for torch fp32 on 2
    cores, and the same Hit@10 and answer hit on the Jan–Mar slice: docs/benchmarks.md), else
    ``torch``."""
    from newsqa.embedding.onnx import available

    return "onnx-int8" if available() else "torch"


def load(settings: Settings, backend: str, precision: str | None = None) -> Embedder:
    """The embedder of ``backend`` with the model and options ``settings`` name."""
    e = settings.embedding
    return load_embedder(
        e.model_path, e.batch_size, e.embedder, precision or e.precision, backend,
        str(e.cache_dir) if e.cache_dir else None,
    )


def embed_backends(settings: Settings, built: str) -> tuple[str, str]:
    """The (query, ingest) embedding backends for an index built by ``built``:
    ``NEWSQA_EMBEDDING__BACKEND`` for both when set; else, for fp32 vectors, ONNX Runtime for
    queries (:func:`~newsqa.embedding.factory.runtime_backend`) and torch for ingests; else
    ``built``."""
    if settings.embedding.backend:
        return settings.embedding.backend, settings.embedding.backend
    ingest = "torch" if vector_family(built) == "fp32" else built
    return runtime_backend(built), ingest


def backend_precision(backend: str, precision: str) -> str:
    """The precision ``backend`` computes in when asked for ``precision``."""
    if backend == "torch":
        return resolve_precision(precision)
    return "int8" if backend == "onnx-int8" else "fp32"


def sentence_embedder(settings: Settings, embedder: Embedder) -> Embedder:
    """The embedder of answer sentences: int8 ONNX (``NEWSQA_EMBEDDING__COMPOSE_BACKEND``) where
    ONNX Runtime is installed and ``embedder`` runs the model, else ``embedder`` itself."""
    if settings.embedding.compose_backend == "index" or embedder.backend in ("hash", "onnx-int8"):
        return embedder
    from newsqa.embedding.onnx import available

    if not available():
        return embedder
    return load(settings, "onnx-int8", "fp32")
