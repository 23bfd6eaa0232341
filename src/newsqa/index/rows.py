"""What is written to an index: one article with its chunks, vectors and story cluster."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ArticleRow:
    """An article ready to be written, with its chunks, their vectors and its story cluster."""

    id: str
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    authors: list[str]
    text: str
    content_hash: str
    origin: str
    chunks: list[str]
    vectors: np.ndarray
    cluster_id: str | None = None
    #: Per chunk, its title's and sentences' vectors (:mod:`newsqa.index.sentvec`), if computed.
    sentence_vectors: list[np.ndarray] | None = None
