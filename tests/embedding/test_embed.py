"""Embedding: precision choice, length-bucketed batches, the manifest's backend check, and the
real model's vectors (same as plain sentence-transformers, safe under concurrent callers)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from newsqa.embedding import base, cpu, factory
from newsqa.embedding.base import default_model_path, length_batches
from newsqa.embedding.cpu import resolve_precision
from newsqa.embedding.factory import load_embedder
from newsqa.embedding.fake import HashEmbedder
from newsqa.embedding.torch_model import SentenceTransformerEmbedder
from newsqa.index.store import IndexMismatchError
from newsqa.ingest.chunk import ChunkSpec, chunk_text, embed_text
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from tests.support import ARCHIVE, archive_articles


# ---------------------------------------------------------------------- precision
def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n\n")
    assert cpu._cpu_flags(info) == {"fpu", "sse", "avx512f", "avx512_bf16", "amx_tile"}
    assert cpu._cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(
    ("requested", "native", "expected"),
    [
        ("auto", True, "bf16"),
        ("auto", False, "fp32"),
        ("fp32", True, "fp32"),
        ("bf16", True, "bf16"),
        ("bf16", False, "bf16"),  # explicit: honoured (slow, logged)
    ],
)
def test_resolve_precision(
    monkeypatch: pytest.MonkeyPatch, requested: str, native: bool, expected: str
) -> None:
    monkeypatch.setattr(cpu, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision(requested) == expected


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("installed", [True, False])
def test_queries_on_fp32_vectors_run_onnx_whatever_the_cpu(
    monkeypatch: pytest.MonkeyPatch, native: bool, installed: bool
) -> None:
    from newsqa.embedding import onnx as onnx_embedding

    monkeypatch.setattr(cpu, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(onnx_embedding, "available", lambda: installed)
    want = "onnx-fp32" if installed else "torch"
    assert factory.runtime_backend("torch") == factory.runtime_backend("onnx-fp32") == want
    assert factory.runtime_backend("onnx-int8") == "onnx-int8"  # int8 vectors: their own backend


def test_resolve_precision_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        resolve_precision("int8")


# ---------------------------------------------------------------------- batches
def test_length_batches_group_similar_lengths_within_the_token_budget() -> None:
    lengths = [200, 10, 12, 190, 11, 100, 13]
    batches = length_batches(lengths, max_tokens=400, max_texts=3)
    assert batches == [[1, 4, 2], [6, 5], [3, 0]]
    # every text once; padded size (count x longest) within budget; at most 3 texts
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 400 and len(b) <= 3


def test_length_batches_keep_a_text_longer_than_the_budget_alone() -> None:
    assert length_batches([500, 5], max_tokens=100, max_texts=8) == [[1], [0]]
    assert length_batches([], max_tokens=100, max_texts=8) == []


# ---------------------------------------------------------------------- manifest
def test_manifest_records_backend_and_precision(tmp_path: Path) -> None:
    svc = NewsQA.open(get_settings(index__path=str(tmp_path / "i")), embedder=HashEmbedder())
    svc.close()
    stored = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert (stored["embed_backend"], stored["embed_precision"]) == ("hash", "fp32")


def _hash_index_manifest(tmp_path: Path) -> tuple[Any, Path, dict[str, Any]]:
    """Settings of a fresh hash-embedder index, its manifest's path and stored contents."""
    settings = get_settings(index__path=str(tmp_path / "i"))
    NewsQA.open(settings, embedder=HashEmbedder()).close()
    mpath = tmp_path / "i" / "manifest.json"
    return settings, mpath, json.loads(mpath.read_text())


def test_index_from_another_backend_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    settings, mpath, stored = _hash_index_manifest(tmp_path)
    mpath.write_text(json.dumps({**stored, "embed_backend": "onnx-int8"}))
    with pytest.raises(IndexMismatchError, match="'onnx-int8' embedding backend.*uses 'hash'"):
        NewsQA.open(settings, embedder=HashEmbedder())


def test_index_from_another_precision_or_without_the_keys_opens(tmp_path: Path) -> None:
    settings, mpath, stored = _hash_index_manifest(tmp_path)
    mpath.write_text(json.dumps({**stored, "embed_precision": "bf16"}))
    NewsQA.open(settings, embedder=HashEmbedder()).close()
    old = {k: v for k, v in stored.items() if k not in ("embed_backend", "embed_precision")}
    mpath.write_text(json.dumps(old))  # written before the keys existed
    svc = NewsQA.open(settings, embedder=HashEmbedder())
    assert svc.index.manifest.embed_backend is None
    svc.close()


# ---------------------------------------------------------------------- the real model
def _real_chunks(n_articles: int) -> list[str]:
    spec = ChunkSpec(180, 20, 256)
    return [
        embed_text(a["title"], c)
        for a in archive_articles(limit=n_articles)
        for c in chunk_text(a["text"], spec, a["title"])
    ]


_LONG = "Ayodele Kwabena-Okonkwo " * 150  # well over 256 word pieces: truncated by the model
_SHORT = ["Storm hits coast.", "What does Korea fear about Japan's collective self-defense?"]


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    emb = load_embedder()
    assert isinstance(emb, SentenceTransformerEmbedder)
    return emb


@pytest.fixture(scope="module")
def chunks() -> list[str]:
    if not ARCHIVE.exists():
        pytest.skip("shared archive not present")
    return _real_chunks(12)[:120] + [_LONG, *_SHORT]


def test_vectors_match_plain_sentence_transformers(
    model: SentenceTransformerEmbedder, chunks: list[str]
) -> None:
    texts = chunks[:30] + chunks[-3:]  # real chunks, one over 256 pieces (truncated), short ones
    plain = SentenceTransformer(default_model_path(), device="cpu")
    reference = plain.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    other = "fp32" if model.precision == "bf16" else "bf16"
    for emb in (model, SentenceTransformerEmbedder(precision=other)):
        floor = 0.99999 if emb.precision == "fp32" else 0.9999
        assert np.min(np.sum(emb.encode(texts) * reference, axis=1)) >= floor, emb.precision


def test_guard_counts_are_the_models_and_their_ids_are_reused(
    model: SentenceTransformerEmbedder, chunks: list[str]
) -> None:
    hf = model._model.tokenizer
    texts = chunks[:20] + [_LONG]
    counts = [model.count_wordpieces(t) for t in texts]
    assert counts == [len(hf(t, truncation=False)["input_ids"]) for t in texts]
    assert counts[-1] > 256
    assert all(base._text_key(t) in model._ids for t in texts)
    counted = model.encode(texts)
    assert not any(base._text_key(t) in model._ids for t in texts)  # consumed, not kept
    assert np.min(np.sum(counted * model.encode(texts), axis=1)) >= 0.99999


@pytest.mark.slow
def test_concurrent_encode_and_count_match_sequential(
    model: SentenceTransformerEmbedder, chunks: list[str]
) -> None:
    # Ingest and queries in one process share the embedder. Before, the model's tokenizer had
    # its truncation and padding switched per call, and a batch encoded while another thread
    # counted word pieces came out unpadded: "ValueError: Unable to create tensor ... activate
    # truncation and/or padding" (this pattern raised it in every encoder thread in 3 of 3 runs
    # of the old code).
    batches = [_SHORT + ["Who won?", chunks[i]] for i in range(4)]
    counted = chunks[-12:]  # real chunks, one text over 256 pieces, short ones
    expected = [model.encode(b) for b in batches]
    expected_counts = [model.count_wordpieces(t) for t in counted]
    model._ids.clear()
    results: dict[int, list[np.ndarray]] = {i: [] for i in range(len(batches))}
    counts: list[list[int]] = []
    errors: list[BaseException] = []
    encoding = threading.Event()

    def encoder(i: int) -> None:
        try:
            for _ in range(10):
                results[i].append(model.encode(batches[i]))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def counter() -> None:
        # count for as long as the encoders run, yielding often so the calls interleave
        try:
            while encoding.is_set():
                row = []
                for t in counted:
                    row.append(model.count_wordpieces(t))
                    time.sleep(0.0002)
                counts.append(row)
        except BaseException as exc:
            errors.append(exc)

    encoders = [threading.Thread(target=encoder, args=(i,)) for i in range(len(batches))]
    counters = [threading.Thread(target=counter) for _ in range(3)]
    encoding.set()
    for t in encoders + counters:
        t.start()
    for t in encoders:
        t.join(timeout=300)
    encoding.clear()
    for t in counters:
        t.join(timeout=60)
    assert errors == []
    assert not any(t.is_alive() for t in encoders + counters)
    for i, want in enumerate(expected):
        assert len(results[i]) == 10
        assert min(float(np.min(np.sum(got * want, axis=1))) for got in results[i]) >= 0.9999
    assert counts and all(c == expected_counts for c in counts)


def test_vector_cache_returns_the_embedders_vectors_and_computes_each_text_once() -> None:
    from newsqa.embedding.cache import VectorCache

    class Counting(HashEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def encode(self, texts, progress=None):  # type: ignore[no-untyped-def]
            self.seen += list(texts)
            return super().encode(texts, progress)

    base = Counting()
    cache = VectorCache(base, capacity=3)
    texts = ["grain deal", "rates rise", "grain deal", "storm"]
    assert np.array_equal(cache.encode(texts), HashEmbedder().encode(texts))
    assert base.seen == ["grain deal", "rates rise", "grain deal", "storm"]  # one call, as asked
    base.seen.clear()
    assert np.array_equal(cache.encode(["storm", "rates rise"]),
                          HashEmbedder().encode(["storm", "rates rise"]))
    assert base.seen == []  # both cached
    cache.encode(["a", "b", "c"])  # capacity 3: the older ones go
    base.seen.clear()
    cache.encode(["storm", "c"])
    assert base.seen == ["storm"]


# ---------------------------------------------------------------------- sentence vectors
def test_pool_spans_averages_the_pieces_inside_each_span_and_skips_special_tokens() -> None:
    states = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [9.0, -9.0]])
    offsets = np.array([[0, 0], [0, 4], [5, 8], [9, 12], [0, 0]])  # [CLS] a b c [SEP]
    got = base.pool_spans(states, offsets, [(0, 8), (9, 12), (13, 20), (0, 0)])
    assert np.allclose(got[0], [2 ** -0.5, 2 ** -0.5])  # mean of a and b, unit length
    assert np.allclose(got[1], [0.6, 0.8])
    assert not got[2].any() and not got[3].any()  # no piece inside: zeros


def test_sentence_vectors_come_from_the_chunks_own_pass(
    model: SentenceTransformerEmbedder, chunks: list[str]
) -> None:
    from newsqa.text import split_sentences

    texts = chunks[:6]
    sentences = [split_sentences(t) for t in texts]
    spans = [[(t.index(s), t.index(s) + len(s)) for s in ss] + [(0, 0)]
             for t, ss in zip(texts, sentences, strict=True)]
    vecs, pooled = model.encode_spans(texts, spans)
    assert np.min(np.sum(vecs * model.encode(texts), axis=1)) >= 0.99999  # same chunk vectors
    own, best, others = [], [], []
    for ss, p in zip(sentences, pooled, strict=True):
        assert p.shape == (len(ss) + 1, model.dim) and not p[-1].any()  # (0, 0): no pieces
        assert np.allclose(np.linalg.norm(p[:-1], axis=1), 1, atol=1e-5)
        sim = p[:-1] @ model.encode(ss).T  # each sentence read in context against alone
        own += list(np.diag(sim))
        best += list(sim.argmax(axis=1) == np.arange(len(ss)))
        others += list(sim[~np.eye(len(ss), dtype=bool)])
    # read in its passage, a sentence is still most like itself (context blurs it: a span
    # shifted by one sentence would score like the others)
    assert np.mean(own) - np.mean(others) >= 0.15 and np.mean(best) >= 0.5, (
        np.mean(own), np.mean(others), np.mean(best))
