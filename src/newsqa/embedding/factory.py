"""The one factory of embedders: which vectors each backend computes, what loads one
(:func:`load_embedder`), what serves queries for vectors of a kind and what builds a new
index. Which embedders a service runs for a given index (and its settings) is chosen in
:mod:`newsqa.assemble`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from newsqa.embedding.base import Embedder
from newsqa.embedding.cpu import resolve_precision
from newsqa.embedding.fake import HashEmbedder
from newsqa.embedding.torch_model import SentenceTransformerEmbedder

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


def new_index_backend() -> str:
    """What embeds a new index unless ``NEWSQA_EMBEDDING__BACKEND`` says otherwise: ``onnx-int8``
    where ONNX Runtime is installed (51 chunks/s end to end against ~27 for torch fp32 on 2
    cores, and the same Hit@10 and answer hit on the Jan–Mar slice: docs/benchmarks.md), else
    ``torch``."""
    from newsqa.embedding.onnx import available

    return "onnx-int8" if available() else "torch"


def backend_precision(backend: str, precision: str) -> str:
    """The precision ``backend`` computes in when asked for ``precision``."""
    if backend == "torch":
        return resolve_precision(precision)
    return "int8" if backend == "onnx-int8" else "fp32"
