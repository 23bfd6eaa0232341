"""The compiled filter's three forms (SQL, mask, Milvus expression) apply one rule."""

from __future__ import annotations

import itertools
import sqlite3

import numpy as np
import pytest

from newsqa.index.filters import MILVUS_NOTHING, CompiledFilter, normalize_source
from newsqa.records import Filters

ROWS = [  # (published_at, source)
    ("2023-01-05", "www.BBC.co.uk"),
    ("2023-02-10", "reuters.com"),
    ("2023-03-20", "apnews.com"),
    (None, "reuters.com"),
    ("2022-12-31", None),
]
DATES = [None, "2023-01-01", "2023-02-10", "2023-03-31"]
SOURCES = [None, [], ["reuters.com"], ["bbc.co.uk", " APNEWS.com "]]


def _filters() -> list[Filters]:
    out = []
    for since, until, as_of, sources in itertools.product(DATES, DATES, DATES, SOURCES):
        out.append(Filters(since=since, until=until, as_of=as_of, sources=sources))
    return out


def _sql_rows(f: CompiledFilter) -> list[int]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE articles (i INTEGER, published_at TEXT, source_key TEXT)")
    db.executemany(
        "INSERT INTO articles VALUES (?,?,?)",
        [(i, d, normalize_source(s)) for i, (d, s) in enumerate(ROWS)],
    )
    where, args = f.sql("a")
    sql = f"SELECT a.i FROM articles a WHERE {where} ORDER BY a.i"
    return [r[0] for r in db.execute(sql, args)]


def _mask_rows(f: CompiledFilter) -> list[int]:
    dates = np.array([(d or "").encode() for d, _ in ROWS], dtype=bytes)
    sources = np.array([normalize_source(s) or "" for _, s in ROWS], dtype=object)
    return [int(i) for i in np.flatnonzero(f.mask(dates, sources))]


@pytest.mark.parametrize("f", _filters(), ids=str)
def test_sql_and_mask_keep_the_same_articles(f: Filters) -> None:
    compiled = CompiledFilter.of(f)
    assert _sql_rows(compiled) == _mask_rows(compiled)


def test_the_rule_itself() -> None:
    def keep(**kw: object) -> list[int]:
        return _mask_rows(CompiledFilter.of(Filters(**kw)))  # type: ignore[arg-type]

    assert keep() == [0, 1, 2, 3, 4]
    assert keep(since="2023-01-01") == [0, 1, 2]  # undated fails a range
    assert keep(as_of="2023-01-31") == [0, 3, 4]  # undated stays visible "as of"
    assert keep(sources=["BBC.CO.UK"]) == [0]  # matched by key
    assert keep(sources=[]) == []
    assert not CompiledFilter.of(None).restrictive
    assert CompiledFilter.of(Filters(sources=[])).restrictive


def test_milvus_expression() -> None:
    assert CompiledFilter.of(None).milvus() == ""
    assert CompiledFilter.of(Filters(sources=[])).milvus() == MILVUS_NOTHING
    assert CompiledFilter.of(Filters(since="yesterday")).milvus() == MILVUS_NOTHING
    expr = CompiledFilter.of(Filters(since="2023-01-01", as_of="2023-02-01",
                                     sources=["www.BBC.co.uk", 'a"b'])).milvus()
    assert expr == (
        '(published != "" and published >= "2023-01-01") and '
        '(published == "" or published <= "2023-02-01") and '
        'source_key in ["bbc.co.uk", "a\\"b"]'
    )
