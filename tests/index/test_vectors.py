"""FAISS store: filtered search equals brute force over the allowed ids (both search paths,
both codecs); a store converts between codecs without losing an id."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index.vectors import CODECS, FaissStore


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("share", [0.9, 0.01])  # most ids allowed (shortcut) / few (selector)
def test_filtered_search_is_exact(share: float, codec: str) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(2000, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(100, 2100, dtype=np.int64)
    store = FaissStore(16, codec=codec)
    store.add(ids, vecs)
    assert store.codec == codec
    allowed = ids[rng.random(len(ids)) < share]
    q = vecs[7]
    got = [i for i, _ in store.search(q, 10, allowed)]
    held = vecs.astype(np.float16).astype(np.float32) if codec == "fp16" else vecs
    mask = np.isin(ids, allowed)
    brute = ids[mask][np.argsort(-(held[mask] @ q))][:10]
    assert got == brute.tolist()
    assert store.search(q, 10, np.array([], dtype=np.int64)) == []


def test_conversion_keeps_every_id_and_removal_works_in_fp16() -> None:
    rng = np.random.default_rng(2)
    vecs = rng.normal(size=(9000, 16)).astype(np.float32)  # more than one conversion slice
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, 18001, 2, dtype=np.int64)
    flat = FaissStore(16)
    flat.add(ids, vecs)
    half = flat.converted("fp16")
    assert half.codec == "fp16" and len(half) == 9000 and flat.converted("flat") is flat
    assert np.allclose(half.reconstruct(ids[8190:8200].tolist()), vecs[8190:8200], atol=1e-3)
    half.remove(ids[:100])
    assert len(half) == 8900
    assert half.reconstruct([int(ids[0])]).tolist() == [[0.0] * 16]
    assert half.search(vecs[150], 1)[0][0] == int(ids[150])


def test_reconstruct_gives_zeros_for_an_id_not_stored() -> None:
    store = FaissStore(4)
    store.add(np.array([7], dtype=np.int64), np.array([[1, 0, 0, 0]], dtype=np.float32))
    got = store.reconstruct([7, 8])
    assert got.tolist() == [[1, 0, 0, 0], [0, 0, 0, 0]]


def test_guarded_store_searches_never_see_a_change_half_done() -> None:
    import threading

    from newsqa.index.vectors import GuardedStore

    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(4000, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    store = GuardedStore(FaissStore(16))
    store.add(np.arange(2000, dtype=np.int64), vecs[:2000])
    sizes: list[int] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            scores, ids = store.search_many(vecs[:4], 2000)
            sizes.append(int((ids[0] >= 0).sum()))

    t = threading.Thread(target=search)
    t.start()
    for step in range(20):  # each change swaps 100 old ids for 100 new ones: size stays 2000
        old = np.arange(step * 100, step * 100 + 100, dtype=np.int64)
        new = old + 2000
        store.apply(new, vecs[new], old)
    stop.set()
    t.join()
    assert len(store) == 2000 and sizes and set(sizes) == {2000}
