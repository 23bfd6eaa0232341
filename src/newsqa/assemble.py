"""The assembly room: where the settings and an index's manifest become the parts a service
runs — the index, the embedders that search, extend and compose over it (the vectors it was
built with decide which), the trained reader and how answers use it, the language model and
the encoder of its claim check (:func:`assemble`). Nothing else turns settings into parts."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from newsqa import __version__
from newsqa.embedding.base import Embedder
from newsqa.embedding.factory import (
    backend_precision,
    load_embedder,
    new_index_backend,
    runtime_backend,
    vector_family,
)
from newsqa.index.manifest import IndexManifest, read_manifest
from newsqa.index.store import FORMAT_VERSION, IndexMismatchError, NewsIndex
from newsqa.query.claims import Encode
from newsqa.query.llm import ChatClient
from newsqa.query.read import ReadConfig, Scorer
from newsqa.settings import Settings

log = logging.getLogger("newsqa")


@dataclass(frozen=True)
class Parts:
    """What a service runs, assembled for one index (:func:`assemble`)."""

    #: The index, whose ``manifest`` is what it was built with.
    index: NewsIndex
    #: Embeds questions (and, when it is the ingest backend's, new passages).
    embedder: Embedder
    #: Embeds candidate answer sentences and the question they are compared with.
    sentence_embedder: Embedder
    #: The backend that embeds new passages (:func:`load` loads it on the first ingest).
    ingest_backend: str
    reader: Scorer | None
    read_config: ReadConfig
    chat: ChatClient | None
    claim_encode: Encode | None


def assemble(
    settings: Settings, *, create: bool = True, embedder: Embedder | None = None
) -> Parts:
    """Open (or create) the index ``settings.index.path`` names and the parts that run over it;
    ``embedder`` (a test's fake) replaces the configured model and embeds everything.

    Raises :class:`IndexMismatchError` for an index whose vectors, model or search backend
    differ from the configuration's, ReaderMissingError for a reader refused for it; nothing
    is left open then."""
    path = settings.index.path
    stored = read_manifest(path, settings.index.catalog_url)
    query_backend, ingest_backend = embed_backends(settings, index_backend(stored))
    given = embedder
    embedder = embedder or load(settings, query_backend)
    if given is not None or embedder.backend == "hash":
        ingest_backend = embedder.backend
    search_backend, collection = search_keys(settings, stored)
    manifest = IndexManifest(
        model=embedder.name,
        dim=embedder.dim,
        embed_backend=ingest_backend,
        embed_precision=embedder.precision if ingest_backend == embedder.backend
        else backend_precision(ingest_backend, settings.embedding.precision),
        chunk_tokens=settings.ingest.chunk_tokens,
        chunk_overlap=settings.ingest.chunk_overlap,
        max_wordpieces=embedder.max_seq_length,
        format_version=FORMAT_VERSION,
        newsqa_version=__version__,
        backend=search_backend,
        milvus_collection=collection,
    )
    index = NewsIndex.open(
        path, manifest, create=create, search_uri=settings.milvus.uri,
        search_token=settings.milvus.token, vector_codec=settings.index.vector_codec,
        catalog_url=settings.index.catalog_url,
        catalog_timeout=settings.index.catalog_pool_timeout,
    )
    try:
        check_backend(index.manifest, embedder, path)
        reader, read = configured_reader(settings)
        chat = ChatClient(settings.generator) if settings.generator.url else None
        return Parts(
            index, embedder,
            sentence_embedder(settings, embedder) if given is None else embedder,
            ingest_backend, reader, read, chat,
            configured_claim_encode(settings) if chat else None,
        )
    except BaseException:
        index.close()
        raise


def search_keys(settings: Settings, stored: IndexManifest | None) -> tuple[str, str | None]:
    """The search backend (that of the ``stored`` manifest unless ``NEWSQA_INDEX__BACKEND``
    says otherwise, ``local`` for a new index) and, for ``milvus``, the name of the
    collection this index owns."""
    backend = settings.index.backend or (stored.backend if stored else None) or "local"
    if backend == "local":
        return backend, None
    collection = (stored.milvus_collection if stored else None) or f"newsqa_{uuid.uuid4().hex[:16]}"
    return backend, collection


# ------------------------------------------------------------------ embedders
def index_backend(stored: IndexManifest | None) -> str:
    """The embedding backend that built the index whose manifest is ``stored`` (``torch`` for
    one written before the manifest recorded it; :func:`new_index_backend` for a new one)."""
    if stored is None:
        return new_index_backend()
    backend = stored.embed_backend
    return "torch" if backend in (None, "", "hash") else str(backend)


def check_backend(stored: IndexManifest, embedder: Embedder, path: Path) -> None:
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
    built = stored.embed_backend
    if built is not None and vector_family(built) != vector_family(embedder.backend):
        raise IndexMismatchError(
            f"index {path} was built with the {built!r} embedding backend, but this "
            f"configuration uses {embedder.backend!r}; re-ingest into a new index directory "
            "or use the matching backend"
        )


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


def sentence_embedder(settings: Settings, embedder: Embedder) -> Embedder:
    """The embedder of answer sentences: int8 ONNX (``NEWSQA_EMBEDDING__COMPOSE_BACKEND``) where
    ONNX Runtime is installed and ``embedder`` runs the model, else ``embedder`` itself."""
    if settings.embedding.compose_backend == "index" or embedder.backend in ("hash", "onnx-int8"):
        return embedder
    from newsqa.embedding.onnx import available

    if not available():
        return embedder
    return load(settings, "onnx-int8", "fp32")


# ------------------------------------------------------------------ reader
def configured_reader(settings: Settings) -> tuple[Scorer | None, ReadConfig]:
    """The reader ``settings`` ask for: the one in ``NEWSQA_READER__DIR``, else the package's
    (None when ``NEWSQA_READER__MODE=off``, or when neither exists, which is logged), and how
    answers use it."""
    rs = settings.reader
    read = ReadConfig(passages=rs.passages, rerank=rs.rerank)
    if rs.mode == "off":
        return None, read
    from newsqa.reader.runtime import load_reader, shipped

    if rs.dir is None and not shipped():
        log.info(
            "NEWSQA_READER__MODE=on but the package holds no reader: sentence scoring is used"
        )
        return None, read
    reader = load_reader(rs.dir)
    return reader, ReadConfig.recorded(reader.info, rs.passages, rs.abstain_below, rs.rerank)


def configured_claim_encode(settings: Settings) -> Encode | None:
    """What embeds sentences for the claim check of generated answers when
    ``generation.claim_encoder`` is ``reader``: the dual reader's encoder (that of
    ``NEWSQA_READER__DIR``, else the package's), in any reader mode. None, so the search
    embedder checks claims, when it is ``embedder`` or no dual reader is there, or it cannot
    be loaded (logged: answers may still run without it)."""
    if settings.generation.claim_encoder != "reader":
        return None
    from newsqa.reader.runtime import ReaderMissingError, load_reader, shipped

    where = settings.reader.dir
    if where is None and not shipped():
        log.info("the package holds no reader: the search embedder checks generated claims")
        return None
    try:  # every reader newsqa loads is dual; one it cannot load (another kind) is missing
        return load_reader(where).embed
    except ReaderMissingError as exc:
        log.warning("%s: the search embedder checks generated claims", exc)
        return None
