"""newsqa's filters (dates, "as of", outlets) compiled once into the three forms the index
applies them in: SQL over articles, a mask over the local backend's chunk table and a Milvus
boolean expression. One rule, three spellings, tested against each other:

- ``since``/``until`` fail closed on undated articles (a date that cannot be placed is not in a
  range); ``as_of`` keeps them (they cannot be shown to be after the moment asked about);
- outlets are matched by their key (:func:`normalize_source`); an empty list matches nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from newsqa.records import Filters

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A Milvus expression no chunk satisfies: what a filter that matches nothing becomes.
MILVUS_NOTHING = "id < 0"


def normalize_source(source: str | None) -> str | None:
    """An outlet as it is matched: trimmed, lower-case, without ``www.`` (stored and queried)."""
    if source is None:
        return None
    return source.strip().lower().removeprefix("www.") or None


def _milvus_literal(value: str) -> str:
    """A Milvus string literal for any text (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class CompiledFilter:
    """The filters of one request, outlets already reduced to their keys."""

    since: str | None = None
    until: str | None = None
    as_of: str | None = None
    #: Outlet keys an article must have (None: any outlet).
    source_keys: tuple[str, ...] | None = None

    @classmethod
    def of(cls, f: Filters | None) -> CompiledFilter:
        """Compile ``f`` (None: no filter)."""
        if f is None:
            return cls()
        keys = None if f.sources is None else tuple(
            k for k in map(normalize_source, f.sources) if k
        )
        return cls(f.since or None, f.until or None, f.as_of or None, keys)

    @property
    def restrictive(self) -> bool:
        """Whether any filter is set."""
        return bool(self.since or self.until or self.as_of or self.source_keys is not None)

    @property
    def only_as_of(self) -> bool:
        """Whether "as of" is the only filter (it restricts nothing after the newest article)."""
        return bool(self.as_of) and not (self.since or self.until or self.source_keys is not None)

    def sql(self, alias: str = "a", mark: str = "?") -> tuple[str, list[Any]]:
        """SQL conditions over the articles table ``alias`` and their arguments, with the
        driver's placeholder ``mark`` (``?`` for sqlite3, ``%s`` for psycopg)."""
        conds: list[str] = []
        args: list[Any] = []
        if self.since:
            conds.append(f"{alias}.published_at >= {mark}")
            args.append(self.since)
        if self.until:
            conds.append(f"{alias}.published_at <= {mark}")
            args.append(self.until)
        if self.as_of:
            conds.append(f"({alias}.published_at IS NULL OR {alias}.published_at <= {mark})")
            args.append(self.as_of)
        if self.source_keys is not None:
            # A key with a NUL byte matches no stored one (ingest drops them) and PostgreSQL
            # refuses it as an argument.
            keys = [key for key in self.source_keys if "\x00" not in key]
            conds.append(f"{alias}.source_key IN ({','.join([mark] * len(keys))})" if keys
                         else "1=0")
            args.extend(keys)
        return (" AND ".join(conds) or "1=1"), args

    def mask(self, dates: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """Which rows pass, given each row's publication date (bytes, ``b""`` when undated) and
        outlet key (objects)."""
        keep = np.ones(len(dates), dtype=bool)
        dated = dates != b""
        if self.since:
            keep &= dated & (dates >= self.since.encode())
        if self.until:
            keep &= dated & (dates <= self.until.encode())
        if self.as_of:
            keep &= ~dated | (dates <= self.as_of.encode())
        if self.source_keys is not None:
            keep &= np.isin(sources, np.array(list(self.source_keys), dtype=object))
        return keep

    def milvus(self) -> str:
        """The Milvus boolean expression ("" when nothing is filtered); a date that is not
        ``YYYY-MM-DD`` matches nothing."""
        conds: list[str] = []
        for value, cond in ((self.since, "published >= {}"), (self.until, "published <= {}")):
            if value:
                if not _ISO.match(value):
                    return MILVUS_NOTHING
                conds.append(f'(published != "" and {cond.format(_milvus_literal(value))})')
        if self.as_of:
            if not _ISO.match(self.as_of):
                return MILVUS_NOTHING
            conds.append(f'(published == "" or published <= {_milvus_literal(self.as_of)})')
        if self.source_keys is not None:
            if not self.source_keys:
                return MILVUS_NOTHING
            keys = ", ".join(_milvus_literal(k) for k in self.source_keys)
            conds.append(f"source_key in [{keys}]")
        return " and ".join(conds)
