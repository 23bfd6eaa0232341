"""What one write transaction of the PostgreSQL catalogue does: replace articles (their
chunks, postings and sentence vectors), delete one, and log the chunk ids under the new
generation, keeping the lexical totals (passages and tokens) in step."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from newsqa.index import sentvec
from newsqa.index.catalogue.log import ADD, REMOVE
from newsqa.index.catalogue.postgres.bm25 import Tokenizer
from newsqa.index.filters import normalize_source
from newsqa.index.rows import ArticleRow

_SMALL = 32_767  # a token's count per column is kept as a smallint


def delete_rows(conn: Any, id_or_url: str) -> tuple[list[int], int] | None:
    """Delete one article (by id or URL) with its chunks; their ids and token total, or None
    when there is no such article."""
    row = conn.execute(
        "SELECT id FROM articles WHERE id=%s OR url=%s", [id_or_url, id_or_url]
    ).fetchone()
    if row is None:
        return None
    chunks = conn.execute(
        "SELECT id, ntok FROM chunks WHERE article_id=%s ORDER BY id", [row[0]]
    ).fetchall()
    conn.execute("DELETE FROM articles WHERE id=%s", [row[0]])  # cascades to chunks & postings
    return [int(c[0]) for c in chunks], sum(int(c[1]) for c in chunks)


def insert_rows(
    conn: Any, tokenizer: Tokenizer, rows: Sequence[ArticleRow]
) -> tuple[list[int], int]:
    """Insert articles with their chunks, postings and sentence vectors; the chunk ids (in
    row and chunk order) and their token total."""
    conn.cursor().executemany(
        "INSERT INTO articles(id, url, title, source, source_key, published_at, authors, text,"
        " content_hash, cluster_id, origin) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        [
            (r.id, r.url, r.title, r.source, normalize_source(r.source), r.published_at,
             json.dumps(r.authors), r.text, r.content_hash, r.cluster_id or r.id, r.origin)
            for r in rows
        ],
    )
    n = sum(len(r.chunks) for r in rows)
    if n == 0:
        return [], 0
    ids = sorted(int(x[0]) for x in conn.execute(
        "SELECT nextval('chunks_id_seq') FROM generate_series(1, %s)", [n]
    ).fetchall())
    pairs = [(r.title, text) for r in rows for text in r.chunks]
    counts = tokenizer.counts(pairs)
    total = 0
    with conn.cursor().copy(
        "COPY chunks (id, article_id, ord, text, vector, ntok) FROM STDIN"
    ) as copy:
        at = 0
        for r in rows:
            for ord_, (text, vec) in enumerate(zip(r.chunks, r.vectors, strict=True)):
                ntok = counts[at][1]
                total += ntok
                copy.write_row((ids[at], r.id, ord_, text,
                                np.asarray(vec, dtype=np.float32).tobytes(), ntok))
                at += 1
    with conn.cursor().copy(
        "COPY postings (term, chunk_id, tf_title, tf_text, ntok) FROM STDIN"
    ) as copy:
        for cid, (tokens, ntok) in zip(ids, counts, strict=True):
            for term, (ft, fx) in tokens.items():
                copy.write_row((term, cid, min(ft, _SMALL), min(fx, _SMALL), ntok))
    sentences = []
    at = 0
    for r in rows:
        if r.sentence_vectors is not None:
            sentences += [(ids[at + i], sentvec.pack(v))
                          for i, v in enumerate(r.sentence_vectors)]
        at += len(r.chunks)
    if sentences:
        with conn.cursor().copy("COPY sentences (chunk_id, vectors) FROM STDIN") as copy:
            for row in sentences:
                copy.write_row(row)
    return ids, total


def log_changes(
    conn: Any, gen: int, added: Sequence[int], removed: Sequence[int], tokens_delta: int
) -> None:
    """Log the chunk ids a transaction added and removed under ``gen``, record ``gen`` as the
    write generation and move the lexical totals."""
    rows = [(gen, c, REMOVE) for c in removed] + [(gen, c, ADD) for c in added]
    if rows:
        with conn.cursor().copy("COPY changes (gen, chunk_id, op) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    conn.execute(
        "UPDATE meta SET value = CASE key WHEN 'generation' THEN %s "
        "WHEN 'lex_rows' THEN (value::bigint + %s)::text "
        "ELSE (value::bigint + %s)::text END "
        "WHERE key IN ('generation', 'lex_rows', 'lex_tokens')",
        [str(gen), len(added) - len(removed), tokens_delta],
    )
