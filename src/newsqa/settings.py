"""Typed settings for newsqa, read from the environment (``NEWSQA_`` prefix) on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the product; override any of them with ``NEWSQA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSQA_", extra="ignore")

    index: Path = Field(Path("indexes/default"), description="Index directory")
    model_path: str | None = Field(
        None, description="Sentence-transformers model directory (default: the bundled MiniLM)"
    )
    embedder: Literal["model", "hash"] = Field(
        "model",
        description="model: the sentence-transformers model; hash: a deterministic word-hashing "
        "embedder without relevance, for tests and fault drills",
    )
    chunk_tokens: int = Field(180, ge=32, le=240, description="Target chunk size in cl100k tokens")
    chunk_overlap: int = Field(20, ge=0, le=120, description="Token overlap between chunks")
    max_article_bytes: int = Field(1_000_000, ge=1_000, description="Longer texts are truncated")
    max_file_bytes: int = Field(
        1 << 30, ge=1_000,
        description="Bytes read from one input file, counted after decompression; reading stops "
        "with a reported problem past it (a gzip bomb is stopped by this, not by memory)",
    )
    max_line_bytes: int = Field(
        8 << 20, ge=1_000,
        description="Longest .jsonl line; a longer one is reported and skipped without being "
        "held in memory",
    )
    embed_batch_size: int = Field(
        64, ge=1, le=1024,
        description="Most texts per forward pass (batches are also capped by padded word pieces)",
    )
    embed_precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Precision of the embedding model: auto is bf16 where the CPU computes it "
        "natively (AVX512-BF16/AMX), else fp32; bf16 and fp32 vectors agree to a cosine of 0.9999",
    )
    embed_backend: Literal["torch", "onnx-fp32", "onnx-int8"] | None = Field(
        None,
        description="What runs the embedding model: torch (fp32/bf16), onnx-fp32 (ONNX Runtime, "
        "the same vectors as torch fp32, faster, no torch in a serving process) or onnx-int8 "
        "(int8 weights, vectors of their own: 51 chunks/s end to end against ~27 for torch "
        "fp32 on 2 cores without bf16). "
        "Unset: onnx-int8 for a new index (torch without ONNX Runtime); for an index of fp32 "
        "vectors torch to add passages and onnx-fp32 to search (torch where bf16 is native); "
        "else the backend that built the index",
    )
    compose_embed_backend: Literal["onnx-int8", "index"] = Field(
        "onnx-int8",
        description="What embeds the candidate sentences of an answer (and the question they are "
        "compared with) where the index stored no sentence vectors for them: onnx-int8 (about "
        "2x faster than fp32, the same answers on the benchmark, bench/answers.py) or index "
        "(the index's own embedder). Falls back to the index's embedder where ONNX Runtime is "
        "missing",
    )
    sentence_vectors: bool = Field(
        True,
        description="Store each chunk's title and sentence vectors at ingest, read in the "
        "passage's context by the forward pass that embeds the chunk (about 4 KB a chunk), so "
        "an answer compares every sentence of its passages with the question without running "
        "the model on them; off: answers embed their shortlisted sentences per question",
    )
    backend: Literal["local", "milvus"] | None = Field(
        None,
        description="Where chunks are searched: local (SQLite FTS5 + FAISS in the index "
        "directory) or milvus (a Milvus collection: NEWSQA_MILVUS_URI; needs the milvus extra). "
        "Unset: the backend the index was built with, local for a new one",
    )
    vector_codec: Literal["flat", "fp16"] = Field(
        "fp16",
        description="How a process holds the vectors it searches (backend=local): fp16 (half "
        "the memory of flat and a faster scan, the same Hit@10 and MRR@10 on the benchmark) or "
        "flat (float32). The database keeps float32 vectors either way, so this can change at "
        "any restart",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus to use with backend=milvus: a local file served by milvus-lite "
        "(default: milvus.db in the index directory) or a cluster's http://host:19530",
    )
    milvus_token: str | None = Field(None, description="Milvus token (user:password or key)")
    catalog_url: str | None = Field(
        None,
        description="Where the catalogue (articles, chunks, change log, writer lock) lives: "
        "unset for news.sqlite in the index directory, or a PostgreSQL URL "
        "(postgresql://user:pw@host:5432/db?schema=newsqa; needs the postgres extra)",
    )
    cache_dir: Path | None = Field(
        None, description="Where derived model files (the int8 ONNX graph) are kept; default "
        "~/.cache/newsqa",
    )
    ingest_batch_articles: int = Field(128, ge=1, description="Articles per atomic write")
    k: int = Field(8, ge=1, le=50, description="Passages returned by default")
    candidates: int = Field(200, ge=10, le=2000, description="Candidates per retriever")
    rrf_k: int = Field(
        30, ge=1, description="RRF constant (60 in the literature; 30 measured better on news)"
    )
    title_weight: float = Field(0.5, ge=0.0, description="BM25 weight of the title column")
    lexical_weight: float = Field(
        1.5, ge=0.0, description="Weight of the BM25 ranking in the fusion (dense is 1.0)"
    )
    recency_half_life_days: float = Field(
        14.0, gt=0, description="How fast the recency prior decays relative to as_of"
    )
    recency_weight: float = Field(1.0, ge=0.0, description="Strength of the recency prior")
    recency_untimed_share: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Share of the recency prior kept when neither the question nor the request "
        "names a time",
    )
    window_weight: float = Field(
        1.0, ge=0.0, description="Boost for articles inside a period the question names"
    )
    lead_weight: float = Field(
        0.0, ge=0.0,
        description="Boost for an article's first passage (the news lead); off by default: on "
        "the benchmark it gained 0.006 Hit@10 on the full archive and lost one question on the "
        "slice",
    )
    abstain_threshold: float = Field(
        0.30,
        description="Minimum evidence score to answer (calibrated on the January–June 2023 "
        "questions: 1% of answerable ones abstain; the absent-topic test questions score under "
        "0.23)",
    )
    coverage_penalty: float = Field(
        0.05,
        ge=0.0,
        description="Evidence lost when the passages miss the names and numbers the question asks "
        "about (scaled by the share missed)",
    )
    absence_penalty: float = Field(
        0.1,
        ge=0.0,
        description="Evidence lost when the passages miss the question's words, weighted by "
        "their rarity in the archive (scaled by the share of the question's weight missed)",
    )
    reader: Literal["on", "off"] = Field(
        "off",
        description="on: a reader model (a cross-encoder newsqa trains, `newsqa train-reader`, "
        "run by ONNX Runtime) picks the answer's sentences and its calibrated probability decides "
        "abstention; off (the default until a reader beats the composer on held-out questions): "
        "the hand-weighted sentence scoring (abstain_threshold and the penalties)",
    )
    reader_dir: str | None = Field(
        None, description="Folder of the reader to run (reader.onnx + reader.json, as "
        "`newsqa train-reader --out` writes them); unset: the one shipped in the package",
    )
    reader_passages: int = Field(
        3, ge=1, le=50, description="Passages whose sentences the reader scores for an answer",
    )
    reader_rerank: bool = Field(
        False, description="Show the passages the reader read in the order of their best "
        "sentence's score (the rest after them)",
    )
    reader_abstain_below: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Abstain when the reader's best probability is under this; unset: the value "
        "recorded with the shipped reader (chosen on its training years)",
    )
    answer_max_sentences: int = Field(3, ge=1, le=10)
    answer_max_words: int = Field(80, ge=10, le=400)
    generator_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible chat completions server (llama.cpp, Ollama, "
        "vLLM, a hosted API), e.g. http://127.0.0.1:8080/v1; unset: generated answers are off",
    )
    generator_model: str = Field("default", description="Model name sent to the generator")
    generator_key: str | None = Field(None, description="Bearer token for the generator")
    generator_timeout: float = Field(
        30.0, gt=0, le=600,
        description="Seconds a generated answer may take in all; past it the extractive answer "
        "is given, with a note",
    )
    generator_max_tokens: int = Field(256, ge=16, le=4096, description="Longest generated answer")
    generator_passages: int = Field(
        5, ge=1, le=20, description="Best passages given to the model, numbered [1]…"
    )
    claim_min_similarity: float = Field(
        0.5, ge=0.0, le=1.0,
        description="How close in meaning (cosine) a generated sentence must be to a sentence "
        "(or two adjacent ones) of the passage it cites to count as supported, besides stating "
        "only names and numbers the passage states; chosen on January–June 2023 by "
        "bench/claims.py",
    )
    unsupported_claims: Literal["flag", "drop"] = Field(
        "flag",
        description='What happens to a generated sentence its sources do not support: flag shows '
        'it marked "not supported by the sources", drop leaves it out',
    )
    api_key: str | None = Field(None, description="Bearer token for write routes")
    api_key_reads: bool = Field(False, description="Also require the key for read routes")
    port: int = Field(
        8000, ge=1, le=65535,
        description="Port `newsqa serve` listens on when --port is not given (the container "
        "image's healthcheck asks this port too)",
    )
    max_upload_bytes: int = Field(20_000_000, description="Largest accepted upload")
    max_question_chars: int = Field(2000)
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as readable text, or json: one JSON object a line (time, level, "
        "logger, message, and the request id for a server's request logs)",
    )
    progress_interval: float = Field(
        10.0, gt=0, le=3600,
        description="Seconds between progress lines when stderr is not a terminal (one line per "
        "interval and one at the end; a terminal gets a redrawn bar)",
    )
    feed_interval: float = Field(
        900.0, ge=1, le=7 * 86400,
        description="Seconds between polls of a followed feed, unless the feed was added with "
        "its own interval",
    )
    feed_timeout: float = Field(
        20.0, gt=0, le=600,
        description="Seconds one feed, robots.txt or article page request may take in all "
        "(connect, wait and read); past it the request is reported and the poll goes on",
    )
    feed_max_bytes: int = Field(
        5_000_000, ge=1_000,
        description="Largest feed or article page body read (after decompression); a larger one "
        "is reported and skipped",
    )
    feed_max_redirects: int = Field(
        5, ge=0, le=30, description="Redirects followed per request; a loop is reported at once"
    )
    feed_host_interval: float = Field(
        1.0, ge=0, le=600,
        description="Least seconds between two requests to one host (a longer robots.txt "
        "Crawl-delay, up to 60 s, wins for article pages)",
    )
    feed_batch_items: int = Field(
        20, ge=1, le=1000,
        description="New or changed feed items fetched and ingested together; a poll stopped "
        "midway keeps the batches committed before it",
    )
    feed_allow_private: bool = Field(
        False,
        description="Let feeds added over HTTP (/api/feeds) reach loopback, link-local and "
        "private addresses (feeds, their redirects and article pages); feeds given on the "
        "command line always may",
    )
    feed_user_agent: str = Field(
        "newsqa/0.1 (news archive feed follower)",
        description="User-Agent of feed and page requests; its first word is the name robots.txt "
        "rules are matched against",
    )


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence.

    An override given as None sets None (``api_key=None`` turns a key from the environment
    off); leave a setting out to keep the environment's value.
    """
    return Settings(**overrides)  # type: ignore[arg-type]
