"""The flat ``NEWSQA_<NAME>`` variables of newsqa 0.1, still read for one release.

Each maps to its place in the nested settings (:data:`OLD_NAMES`); one that is set is read
there unless the new variable is set too (the new one wins), and the first read of each in a
process logs a warning and emits a :class:`DeprecationWarning` naming the new variable.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("newsqa.settings")

#: Old flat setting (lower case, without ``NEWSQA_``) → the dotted path(s) it now sets.
OLD_NAMES: dict[str, tuple[str, ...]] = {
    "index": ("index.path",),
    "backend": ("index.backend",),
    "vector_codec": ("index.vector_codec",),
    "milvus_uri": ("milvus.uri",),
    "milvus_token": ("milvus.token",),
    "model_path": ("embedding.model_path",),
    "embedder": ("embedding.embedder",),
    "embed_backend": ("embedding.backend",),
    "embed_precision": ("embedding.precision",),
    "embed_batch_size": ("embedding.batch_size",),
    "compose_embed_backend": ("embedding.compose_backend",),
    "sentence_vectors": ("embedding.sentence_vectors",),
    "cache_dir": ("embedding.cache_dir",),
    "chunk_tokens": ("ingest.chunk_tokens",),
    "chunk_overlap": ("ingest.chunk_overlap",),
    "max_article_bytes": ("ingest.max_article_bytes",),
    "max_file_bytes": ("ingest.max_file_bytes",),
    "max_line_bytes": ("ingest.max_line_bytes",),
    "ingest_batch_articles": ("ingest.batch_articles",),
    "k": ("retrieval.k",),
    "candidates": ("retrieval.candidates",),
    "rrf_k": ("retrieval.rrf_k",),
    "title_weight": ("retrieval.title_weight",),
    "lexical_weight": ("retrieval.lexical_weight",),
    "recency_half_life_days": ("retrieval.recency_half_life_days",),
    "recency_weight": ("retrieval.recency_weight",),
    "recency_untimed_share": ("retrieval.recency_untimed_share",),
    "window_weight": ("retrieval.window_weight",),
    "lead_weight": ("retrieval.lead_weight",),
    "abstain_threshold": ("composition.abstain_threshold",),
    "coverage_penalty": ("composition.coverage_penalty",),
    "absence_penalty": ("composition.absence_penalty",),
    "answer_max_sentences": ("composition.max_sentences", "generation.max_sentences"),
    "answer_max_words": ("composition.max_words",),
    "reader": ("reader.mode",),
    "reader_dir": ("reader.dir",),
    "reader_passages": ("reader.passages",),
    "reader_rerank": ("reader.rerank",),
    "reader_abstain_below": ("reader.abstain_below",),
    "generator_url": ("generator.url",),
    "generator_model": ("generator.model",),
    "generator_key": ("generator.key",),
    "generator_timeout": ("generator.timeout_s",),
    "generator_max_tokens": ("generator.max_tokens",),
    "generator_passages": ("generation.passages",),
    "claim_min_similarity": ("generation.min_similarity",),
    "unsupported_claims": ("generation.unsupported",),
    "api_key": ("api.key",),
    "api_key_reads": ("api.key_reads",),
    "port": ("api.port",),
    "max_upload_bytes": ("api.max_upload_bytes",),
    "max_question_chars": ("api.max_question_chars",),
    "log_format": ("log.format",),
    "progress_interval": ("log.progress_interval",),
    "feed_interval": ("feeds.interval",),
    "feed_timeout": ("feeds.timeout",),
    "feed_max_bytes": ("feeds.max_bytes",),
    "feed_max_redirects": ("feeds.max_redirects",),
    "feed_host_interval": ("feeds.host_interval",),
    "feed_batch_items": ("feeds.batch_items",),
    "feed_allow_private": ("feeds.allow_private",),
    "feed_user_agent": ("feeds.user_agent",),
}

_warned: set[str] = set()


def env_name(path: str) -> str:
    """The variable of a dotted settings path: ``retrieval.k`` → ``NEWSQA_RETRIEVAL__K``."""
    return "NEWSQA_" + path.replace(".", "__").upper()


def old_env_name(old: str) -> str:
    """The flat variable of an old setting: ``k`` → ``NEWSQA_K``."""
    return f"NEWSQA_{old.upper()}"


def _warn(old: str) -> None:
    if old in _warned:
        return
    _warned.add(old)
    new = " and ".join(env_name(p) for p in OLD_NAMES[old])
    msg = f"{old_env_name(old)} is deprecated and will be removed in the next release: use {new}"
    log.warning(msg)
    warnings.warn(msg, DeprecationWarning, stacklevel=4)


def legacy_values(environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The nested settings the old flat variables set in ``environ`` (the process's by
    default), warning once per process for each one found."""
    env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items()}
    out: dict[str, dict[str, Any]] = {}
    for old, paths in OLD_NAMES.items():
        value = env.get(old_env_name(old))
        if value is None:
            continue
        _warn(old)
        for path in paths:
            section, name = path.split(".")
            out.setdefault(section, {})[name] = value
    return out
