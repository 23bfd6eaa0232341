"""The settings sections that are not a query component's config: where the index is, what
embeds, how ingest cuts and bounds its inputs, the reader, the HTTP API, logs and feeds."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class IndexSettings(BaseModel):
    """The index directory and the search backend over it."""

    path: Path = Field(Path("indexes/default"), description="Index directory")
    backend: Literal["local", "milvus"] | None = Field(
        None,
        description="Where chunks are searched: local (SQLite FTS5 + FAISS in the index "
        "directory) or milvus (a Milvus collection: NEWSQA_MILVUS__URI; needs the milvus "
        "extra). Unset: the backend the index was built with, local for a new one",
    )
    vector_codec: Literal["flat", "fp16"] = Field(
        "fp16",
        description="How a process holds the vectors it searches (backend=local): fp16 (half "
        "the memory of flat and a faster scan, the same Hit@10 and MRR@10 on the benchmark) or "
        "flat (float32). The database keeps float32 vectors either way, so this can change at "
        "any restart",
    )
    catalog_url: str | None = Field(
        None,
        description="Where the catalogue (articles, chunks, change log, writer lock) lives: "
        "unset for news.sqlite in the index directory, or a PostgreSQL URL "
        "(postgresql://user:pw@host:5432/db?schema=newsqa; needs the postgres extra)",
    )
    catalog_pool_timeout: float = Field(
        5.0, gt=0, le=300,
        description="Seconds a request waits for a connection to the PostgreSQL catalogue; "
        "past it (the database is down or every connection is busy) the request is answered "
        "503 at once rather than held",
    )


class MilvusSettings(BaseModel):
    """The Milvus server of an index whose backend is milvus."""

    uri: str | None = Field(
        None,
        description="Milvus to use with backend=milvus: a local file served by milvus-lite "
        "(default: milvus.db in the index directory) or a cluster's http://host:19530",
    )
    token: str | None = Field(None, description="Milvus token (user:password or key)")


class EmbeddingSettings(BaseModel):
    """The embedding model and what runs it, for passages, questions and answer sentences."""

    model_path: str | None = Field(
        None, description="Sentence-transformers model directory (default: the bundled MiniLM)"
    )
    embedder: Literal["model", "hash"] = Field(
        "model",
        description="model: the sentence-transformers model; hash: a deterministic word-hashing "
        "embedder without relevance, for tests and fault drills",
    )
    backend: Literal["torch", "onnx-fp32", "onnx-int8"] | None = Field(
        None,
        description="What runs the embedding model: torch (fp32/bf16), onnx-fp32 (ONNX Runtime, "
        "the same vectors as torch fp32, faster, no torch in a serving process) or onnx-int8 "
        "(int8 weights, vectors of their own: 51 chunks/s end to end against ~27 for torch "
        "fp32 on 2 cores without bf16). "
        "Unset: onnx-int8 for a new index (torch without ONNX Runtime); for an index of fp32 "
        "vectors torch to add passages and onnx-fp32 to search (torch where bf16 is native); "
        "else the backend that built the index",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Precision of the embedding model: auto is bf16 where the CPU computes it "
        "natively (AVX512-BF16/AMX), else fp32; bf16 and fp32 vectors agree to a cosine of 0.9999",
    )
    batch_size: int = Field(
        64, ge=1, le=1024,
        description="Most texts per forward pass (batches are also capped by padded word pieces)",
    )
    compose_backend: Literal["onnx-int8", "index"] = Field(
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
    cache_dir: Path | None = Field(
        None, description="Where derived model files (the int8 ONNX graph) are kept; default "
        "~/.cache/newsqa",
    )


class IngestSettings(BaseModel):
    """How articles are cut into chunks, the bounds on what one input may cost, and writes."""

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
    batch_articles: int = Field(128, ge=1, description="Articles per atomic write")
    commit_seconds: float = Field(
        5.0, gt=0,
        description="Write (commit) after about this many seconds of embedding, so an "
        "interrupted ingest (Ctrl-C, a kill) loses at most that much work; running it again "
        "skips what was written (ingest with --ray writes every batch_articles articles)",
    )


class ReaderSettings(BaseModel):
    """The trained reader model that may pick an answer's sentences instead of the composer."""

    mode: Literal["on", "off"] = Field(
        "on",
        description="on (the default: held out, it answers +0.07 more questions than the "
        "composer, docs/reader.md): a reader model newsqa trains (`newsqa train-reader`; the "
        "package ships one, run by ONNX Runtime) scores the candidate sentences, its logit "
        "fused with the composer's score of each, and picks the answer's sentences; the "
        "composer's evidence model decides abstention (and the reader's probability, with "
        "abstain_below); off: the hand-weighted sentence scoring alone",
    )
    dir: str | None = Field(
        None, description="Folder of the reader to run (reader.onnx + reader.json, as "
        "`newsqa train-reader --out` writes them); unset: the one shipped in the package",
    )
    passages: int = Field(
        3, ge=1, le=50, description="Passages whose sentences the reader scores for an answer",
    )
    rerank: bool = Field(
        False, description="Show the passages the reader read in the order of their best "
        "sentence's score (the rest after them)",
    )
    abstain_below: float | None = Field(
        0.0, ge=0.0, le=1.0,
        description="Also abstain when the reader's best probability is under this; 0: only the "
        "composer's evidence model decides (composition.abstain_threshold), which kept more "
        "answerable questions answered at the same silence on January–June 2023; unset: the "
        "value recorded with the reader (chosen on its training years)",
    )


class ApiSettings(BaseModel):
    """The HTTP API: its key, port and the limits on what a request may send."""

    key: str | None = Field(None, description="Bearer token for write routes")
    key_reads: bool = Field(False, description="Also require the key for read routes")
    open_writes: bool = Field(
        False,
        description="Let anyone write (add and delete articles, follow feeds) on a server that "
        "listens on a non-loopback address without a key; off, such a server refuses writes "
        "with 403 (reads stay open) and says so in its log",
    )
    allowed_hosts: list[str] = Field(
        [],
        description="Host names (the Host header, without its port) answered besides the "
        "loopback names localhost, 127.0.0.1 and [::1], as a JSON list "
        '(["news.example.org"]; ["*"]: any); another name gets 400. Empty: any name on a '
        "server listening on a non-loopback address, only the loopback names on a loopback "
        "one (a page whose own name resolves to 127.0.0.1, DNS rebinding, is refused)",
    )
    port: int = Field(
        8000, ge=1, le=65535,
        description="Port `newsqa serve` listens on when --port is not given (the container "
        "image's healthcheck asks this port too)",
    )
    max_upload_bytes: int = Field(20_000_000, description="Largest accepted upload")
    max_upload_records: int = Field(
        100_000, ge=1,
        description="Most records (articles and unreadable lines or items) read from one "
        "upload; the rest is not read and a problem says so (a small .jsonl.gz can hold "
        "millions of lines)",
    )
    max_question_chars: int = Field(
        2000, description="Longest question (and user message of a chat) accepted"
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1_000,
        description="Largest request body of a JSON route, counted while it arrives (with or "
        "without Content-Length); a larger one gets 413. Uploads to POST /api/articles have "
        "max_upload_bytes instead",
    )
    max_chat_chars: int = Field(
        100_000, ge=1,
        description="Most characters of text the messages of one /v1/chat/completions request "
        "may hold together (each is also capped); more gets 422",
    )


class LogSettings(BaseModel):
    """How log lines and progress are written."""

    format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as readable text, or json: one JSON object a line (time, level, "
        "logger, message, and the request id for a server's request logs)",
    )
    progress_interval: float = Field(
        10.0, gt=0, le=3600,
        description="Seconds between progress lines when stderr is not a terminal (one line per "
        "interval and one at the end; a terminal gets a redrawn bar)",
    )


def host_list(value: str) -> str:
    """An allow-list setting (host names, addresses, CIDR networks, separated by commas or
    spaces) normalised; ValueError naming an entry that is none of them."""
    entries = [e for e in re.split(r"[\s,]+", value.strip().lower()) if e]
    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            if not re.fullmatch(r"[a-z0-9_.-]+", entry) or entry.strip(".") == "":
                raise ValueError(f"not a host name, address or network: {entry!r}") from None
    return ", ".join(entries)


class FeedSettings(BaseModel):
    """Following RSS/Atom feeds: how often, how far and how politely."""

    interval: float = Field(
        900.0, ge=1, le=7 * 86400,
        description="Seconds between polls of a followed feed, unless the feed was added with "
        "its own interval",
    )
    timeout: float = Field(
        20.0, gt=0, le=600,
        description="Seconds one feed, robots.txt or article page request may take in all "
        "(name look-up, connect, TLS, the response head and the body: one deadline, however "
        "slowly the server trickles); past it the request is reported and the poll goes on",
    )
    max_bytes: int = Field(
        5_000_000, ge=1_000,
        description="Largest feed or article page body read (after decompression); a larger one "
        "is reported and skipped",
    )
    max_redirects: int = Field(
        5, ge=0, le=30, description="Redirects followed per request; a loop is reported at once"
    )
    host_interval: float = Field(
        1.0, ge=0, le=600,
        description="Least seconds between two requests to one host (a longer robots.txt "
        "Crawl-delay, up to 60 s, wins for article pages)",
    )
    batch_items: int = Field(
        20, ge=1, le=1000,
        description="New or changed feed items fetched and ingested together; a poll stopped "
        "midway keeps the batches committed before it",
    )
    poll_seconds: float = Field(
        120.0, gt=0, le=86400,
        description="Time budget of one poll of one feed: no page is fetched past it (the "
        "request under way may take up to `timeout` more); items left are taken by the next "
        "poll",
    )
    poll_pages: int = Field(
        50, ge=1, le=100_000,
        description="Article pages one poll of one feed fetches at most; items left are taken "
        "by the next poll",
    )
    item_attempts: int = Field(
        5, ge=1, le=100,
        description="Failed page fetches after which an item is given up (shown in `newsqa "
        "feeds` and /api/feeds; the feed's own text is ingested if it has any); a page that can "
        "never be read (404, 410, another 4xx, not HTML) is given up at once",
    )
    item_backoff: float = Field(
        600.0, ge=0, le=7 * 86400,
        description="Seconds before a failed item's page is tried again, doubled after each "
        "further failure",
    )
    parallel: int = Field(
        4, ge=1, le=64,
        description="Feeds polled at the same time (a feed whose server hangs does not hold "
        "up the others)",
    )
    allow_hosts: str = Field(
        "",
        description="Hosts and networks feed requests may reach although the address guard "
        "refuses them (loopback, private, link-local, CGNAT…): host names (matched exactly, any "
        "address they resolve to), addresses and CIDR networks, separated by commas or spaces "
        "(`news.lan, 10.1.0.0/16, 127.0.0.1`); for an operator who serves news from a private "
        "address. The guard covers every request of every feed: the feed, its redirects, its "
        "items' pages and robots.txt",
    )
    allow_private: bool = Field(
        False,
        description="Turn the address guard off: every feed, and every link its items give, "
        "may reach this machine and its private network (cloud metadata included). Only for a "
        "follower whose feeds are all trusted; `allow_hosts` is the narrow way",
    )

    _hosts = field_validator("allow_hosts")(host_list)
    user_agent: str = Field(
        "newsqa/0.1 (news archive feed follower)",
        description="User-Agent of feed and page requests; its first word is the name robots.txt "
        "rules are matched against",
    )


class WatchSettings(BaseModel):
    """Watched questions: when one is asked again, what its notices say, where they go."""

    match_threshold: float = Field(
        0.50, ge=-1, le=1,
        description="Least cosine between a watch's question and a new passage (the search "
        "embedder's vectors) for the watch to be asked again; below it the passage cannot "
        "change the answer enough to tell anyone",
    )
    rare_words: int = Field(
        2, ge=0, le=10,
        description="A new passage that comes close to a watch's question must also hold one "
        "of the question's this many rarest words (by idf over the archive) to wake it: news "
        "on the same topic that names none of them is not asked about (0: the cosine alone)",
    )
    statements: int = Field(
        2, ge=1, le=5, description="Answer sentences a notice quotes at most, each cited",
    )
    check_seconds: float = Field(
        5.0, gt=0, le=3600,
        description="How often a server looks for changes made by other processes (an ingest "
        "from the CLI, another node); its own ingests, uploads and feed polls check at once",
    )
    max_per_owner: int = Field(
        200, ge=1, le=100_000, description="Watches one API key, browser or CLI user may keep",
    )
    max_total: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Watches the index keeps in all (each is asked again when news that "
        "matches it arrives)",
    )
    webhook_timeout: float = Field(
        10.0, gt=0, le=120, description="Seconds one webhook delivery may take in all",
    )
    webhook_attempts: int = Field(
        6, ge=1, le=50,
        description="Deliveries tried per notice before it is marked failed (a 2xx answer ends "
        "them)",
    )
    webhook_backoff: float = Field(
        30.0, ge=0, le=86400,
        description="Seconds before a failed delivery is tried again, doubled after each "
        "further failure",
    )
    webhook_allow_hosts: str = Field(
        "",
        description="Hosts and networks a webhook may reach although the address guard refuses "
        "them (loopback, private, link-local…), written as NEWSQA_FEEDS__ALLOW_HOSTS is; a "
        "webhook URL on such an address is otherwise refused when the watch is made and again "
        "at delivery",
    )
    public_url: str = Field(
        "", max_length=2000, pattern=r"^(https?://\S+)?$",
        description="The server's address as its users reach it (https://news.example.org), "
        "for the answer links of webhook bodies (answer_url) and Atom feeds; empty: a feed "
        "links to the address it was fetched at, and a webhook body's answer_url is null",
    )

    _webhook_hosts = field_validator("webhook_allow_hosts")(host_list)
