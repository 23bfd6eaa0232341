"""FAISS store: filtered search equals brute force over the allowed ids (both search paths)."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index.vectors import FaissStore


@pytest.mark.parametrize("share", [0.9, 0.01])  # most ids allowed (shortcut) / few (selector)
def test_filtered_search_is_exact(share: float) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(2000, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(100, 2100, dtype=np.int64)
    store = FaissStore(16)
    store.add(ids, vecs)
    allowed = ids[rng.random(len(ids)) < share]
    q = vecs[7]
    got = [i for i, _ in store.search(q, 10, allowed)]
    mask = np.isin(ids, allowed)
    brute = ids[mask][np.argsort(-(vecs[mask] @ q))][:10]
    assert got == brute.tolist()
    assert store.search(q, 10, np.array([], dtype=np.int64)) == []
