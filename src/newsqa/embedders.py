"""Which embedders a service runs for an index: what built its vectors (from its manifest),
what searches and what extends it, what embeds answer sentences, and the check that refuses
vectors of another kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsqa.index.store import IndexMismatchError
from newsqa.ingest.embed import (
    Embedder,
    load_embedder,
    resolve_precision,
    runtime_backend,
    vector_family,
)
from newsqa.settings import Settings


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
    """What embeds a new index unless ``NEWSQA_EMBED_BACKEND`` says otherwise: ``onnx-int8``
    where ONNX Runtime is installed (51 chunks/s end to end against ~27 for torch fp32 on 2
    cores, and the same Hit@10 and answer hit on the Jan–Mar slice: docs/benchmarks.md), else
    ``torch``."""
    from newsqa.ingest.onnx_embed import available

    return "onnx-int8" if available() else "torch"


def load(settings: Settings, backend: str, precision: str | None = None) -> Embedder:
    """The embedder of ``backend`` with the model and options ``settings`` name."""
    return load_embedder(
        settings.model_path, settings.embed_batch_size, settings.embedder,
        precision or settings.embed_precision, backend,
        str(settings.cache_dir) if settings.cache_dir else None,
    )


def embed_backends(settings: Settings, built: str) -> tuple[str, str]:
    """The (query, ingest) embedding backends for an index built by ``built``:
    ``NEWSQA_EMBED_BACKEND`` for both when set; else, for fp32 vectors, ONNX Runtime for queries
    (:func:`~newsqa.ingest.embed.runtime_backend`) and torch for ingests; else ``built``."""
    if settings.embed_backend:
        return settings.embed_backend, settings.embed_backend
    ingest = "torch" if vector_family(built) == "fp32" else built
    return runtime_backend(built), ingest


def backend_precision(backend: str, precision: str) -> str:
    """The precision ``backend`` computes in when asked for ``precision``."""
    if backend == "torch":
        return resolve_precision(precision)
    return "int8" if backend == "onnx-int8" else "fp32"


def sentence_embedder(settings: Settings, embedder: Embedder) -> Embedder:
    """The embedder of answer sentences: int8 ONNX (``NEWSQA_COMPOSE_EMBED_BACKEND``) where ONNX
    Runtime is installed and ``embedder`` runs the model, else ``embedder`` itself."""
    if settings.compose_embed_backend == "index" or embedder.backend in ("hash", "onnx-int8"):
        return embedder
    from newsqa.ingest.onnx_embed import available

    if not available():
        return embedder
    return load(settings, "onnx-int8", "fp32")
