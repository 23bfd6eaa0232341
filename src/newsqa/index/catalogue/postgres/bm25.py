"""BM25 on PostgreSQL exactly as SQLite's FTS5 scores it, so a postgres catalogue ranks
passages as a sqlite one does.

Passages are tokenized by FTS5 itself (``porter unicode61`` in an in-memory SQLite table, read
back through ``fts5vocab``), and each (token, passage) is a row of ``postings``: the token's
count in the title and in the text and the passage's length in tokens. A word's one-word score
is then FTS5's ``bm25()`` (k1 = 1.2, b = 0.75, idf ``ln((N - n + 0.5) / (n + 0.5))`` floored at
1e-6, the title's occurrences weighted by the title weight), computed from those rows and the
passage count and token total kept in ``meta``. A query word that FTS5 splits into several
tokens is a phrase: its passages are those holding every token, checked for the tokens in
sequence by tokenizing them again.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

K1, B = 1.2, 0.75
#: Columns as FTS5 numbers them in the catalogue's table: title, then text.
TITLE, TEXT = "title", "text"
#: Per passage: {token: (count in title, count in text)} and its length in tokens.
Counts = tuple[dict[str, tuple[int, int]], int]


class Tokenizer:
    """FTS5's tokenizer, run in an in-memory SQLite database; safe across threads."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='porter unicode61')"
        )
        self._db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        self._lock = threading.Lock()
        self._terms: OrderedDict[str, list[str]] = OrderedDict()

    def sequences(self, rows: Sequence[tuple[str, str]]) -> list[tuple[list[str], list[str]]]:
        """Each (title, text) as FTS5 tokenizes it: the title's and the text's tokens in order."""
        out: list[tuple[list[str], list[str]]] = [([], []) for _ in rows]
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT INTO t(rowid, title, text) VALUES (?,?,?)",
                    [(i + 1, t or "", x or "") for i, (t, x) in enumerate(rows)],
                )
                found = db.execute(
                    "SELECT doc, col, offset, term FROM v ORDER BY doc, col, offset"
                ).fetchall()
                db.execute("DELETE FROM t")
            finally:
                db.execute("COMMIT")
        for doc, col, _, term in found:
            out[doc - 1][0 if col == TITLE else 1].append(term)
        return out

    def counts(self, rows: Sequence[tuple[str, str]]) -> list[Counts]:
        """Each (title, text)'s token counts per column and its length in tokens."""
        result: list[Counts] = []
        for title, text in self.sequences(rows):
            tokens: dict[str, list[int]] = {}
            for col, seq in ((0, title), (1, text)):
                for tok in seq:
                    tokens.setdefault(tok, [0, 0])[col] += 1
            result.append(
                ({k: (v[0], v[1]) for k, v in tokens.items()}, len(title) + len(text))
            )
        return result

    def terms(self, word: str) -> list[str]:
        """The tokens FTS5 makes of a query word (several: a phrase; none: matches nothing)."""
        with self._lock:
            hit = self._terms.get(word)
            if hit is not None:
                return hit
        got = self.sequences([("", word.replace('"', ""))])[0][1]
        with self._lock:
            self._terms[word] = got
            while len(self._terms) > 50_000:
                self._terms.popitem(last=False)
        return got


def score(
    freq: np.ndarray, length: np.ndarray, hits: int, rows: int, tokens: int
) -> np.ndarray:
    """FTS5's one-phrase bm25 (as a positive score) of passages with weighted frequency
    ``freq`` and length ``length``, for a phrase in ``hits`` of ``rows`` passages holding
    ``tokens`` tokens in all."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    if idf <= 0.0:
        idf = 1e-6
    avgdl = tokens / rows if rows else 1.0
    return idf * ((freq * (K1 + 1.0)) / (freq + K1 * (1 - B + B * length / avgdl)))


def _totals(conn: Any) -> tuple[int, int]:
    rows = dict(conn.execute(
        "SELECT key, value FROM meta WHERE key IN ('lex_rows', 'lex_tokens')"
    ).fetchall())
    return int(rows.get("lex_rows", 0)), int(rows.get("lex_tokens", 0))


def read_postings(
    conn: Any, tokenizer: Tokenizer, word: str, title_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """``word``'s passage ids (ascending) and one-word BM25 scores, read through ``conn``
    (inside one transaction for a consistent state)."""
    terms = tokenizer.terms(word)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
    if not terms:
        return empty
    n_rows, n_tokens = _totals(conn)
    if len(terms) == 1:
        rows = conn.execute(
            "SELECT chunk_id, tf_title, tf_text, ntok FROM postings WHERE term=%s "
            "ORDER BY chunk_id", [terms[0]],
        ).fetchall()
        if not rows:
            return empty
        arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
        freq = title_weight * arr[:, 1] + arr[:, 2]
        ids, length = arr[:, 0].astype(np.int64), arr[:, 3]
    else:
        ids, freq, length = _phrase(conn, tokenizer, terms, title_weight)
        if len(ids) == 0:
            return empty
    return ids, score(freq, length, len(ids), n_rows, n_tokens)


def _phrase(
    conn: Any, tokenizer: Tokenizer, terms: list[str], title_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Passages holding the tokens ``terms`` in sequence: ids, weighted counts, lengths."""
    rows = conn.execute(
        "SELECT c.id, a.title, c.text, c.ntok FROM chunks c JOIN articles a ON a.id=c.article_id "
        "WHERE c.id IN (SELECT chunk_id FROM postings WHERE term = ANY(%s) GROUP BY chunk_id "
        "HAVING count(*) = %s) ORDER BY c.id", [list(set(terms)), len(set(terms))],
    ).fetchall()
    seqs = tokenizer.sequences([(r[1], r[2]) for r in rows])
    ids, freq, length = [], [], []
    for r, (title, text) in zip(rows, seqs, strict=True):
        f = title_weight * _occurrences(title, terms) + _occurrences(text, terms)
        if _occurrences(title, terms) or _occurrences(text, terms):
            ids.append(int(r[0]))
            freq.append(f)
            length.append(float(r[3]))
    return np.array(ids, np.int64), np.array(freq, np.float64), np.array(length, np.float64)


def _occurrences(seq: list[str], terms: list[str]) -> int:
    n = len(terms)
    return sum(1 for i in range(len(seq) - n + 1) if seq[i:i + n] == terms)
