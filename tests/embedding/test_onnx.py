"""The ONNX embedding backends: made from the bundled model and cached; onnx-fp32 computes
torch's vectors (so either opens the other's index), onnx-int8 is close to them on real news,
is recorded in the manifest, and an index it built refuses the fp32 backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from newsqa.assemble import index_backend
from newsqa.embedding.base import default_model_path
from newsqa.embedding.factory import load_embedder
from newsqa.index.manifest import read_manifest
from newsqa.index.store import IndexMismatchError
from newsqa.ingest.chunk import ChunkSpec, chunk_text, embed_text
from newsqa.records import AnswerRequest
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from tests.support import ARCHIVE, archive_articles

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from newsqa.embedding.onnx import OnnxEmbedder, OnnxInt8Embedder, int8_model  # noqa: E402

KOREA = "What does Korea fear about Japan's collective self-defense?"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def int8(cache: Path) -> OnnxInt8Embedder:
    return OnnxInt8Embedder(cache_dir=cache)


def test_the_graph_is_made_once_and_cached(int8: OnnxInt8Embedder, cache: Path) -> None:
    files = list((cache / "onnx").glob("*.int8.onnx"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = OnnxInt8Embedder(cache_dir=cache)
    assert again.dim == int8.dim == 384 and again.max_seq_length == 256
    assert files[0].stat().st_mtime_ns == stamp
    assert int8_model(Path(default_model_path()), cache) == files[0]


def test_vectors_are_close_to_fp32_on_real_news(int8: OnnxInt8Embedder) -> None:
    if not ARCHIVE.exists():
        pytest.skip("shared archive not present")
    spec = ChunkSpec(180, 20, 256)
    texts = [embed_text(a["title"], c) for a in archive_articles(limit=6)
             for c in chunk_text(a["text"], spec, a["title"])][:40]
    texts += ["Storm hits coast.", "Ayodele Kwabena-Okonkwo " * 150]  # short; over 256 pieces
    fp32 = load_embedder().encode(texts)
    got = int8.encode(texts)
    assert got.shape == fp32.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cos = np.sum(fp32 * got, axis=1)
    assert cos.min() >= 0.97 and cos.mean() >= 0.985, (cos.min(), cos.mean())
    # the same text alone and in a padded batch gives the same vector
    assert np.allclose(int8.encode(texts[-2:-1])[0], got[-2], atol=1e-5)


def test_an_index_it_builds_records_it_and_refuses_torch(
    int8: OnnxInt8Embedder, cache: Path, tmp_path: Path
) -> None:
    settings = get_settings(index__path=str(tmp_path / "i"), embedding__backend="onnx-int8",
                            embedding__cache_dir=str(cache))
    svc = NewsQA.open(settings)
    svc.ingest([Path(__file__).resolve().parents[2] / "corpus"])
    assert not svc.answer(AnswerRequest(KOREA)).abstained
    svc.close()
    stored = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert (stored["embed_backend"], stored["embed_precision"]) == ("onnx-int8", "int8")
    # unset, the backend follows the index
    assert index_backend(read_manifest(tmp_path / "i")) == "onnx-int8"
    reopened = NewsQA.open(get_settings(index__path=str(tmp_path / "i"),
                                        embedding__cache_dir=str(cache)))
    assert reopened.embedder.backend == "onnx-int8"
    reopened.close()
    with pytest.raises(IndexMismatchError, match="'onnx-int8' embedding backend.*uses 'torch'"):
        NewsQA.open(get_settings(index__path=str(tmp_path / "i"), embedding__backend="torch"))


def _news_texts() -> list[str]:
    if not ARCHIVE.exists():
        pytest.skip("shared archive not present")
    spec = ChunkSpec(180, 20, 256)
    return [embed_text(a["title"], c) for a in archive_articles(limit=4)
            for c in chunk_text(a["text"], spec, a["title"])][:24] + ["Storm hits coast."]


def test_onnx_fp32_computes_the_torch_vectors(cache: Path) -> None:
    texts = _news_texts()
    fp32 = OnnxEmbedder(cache_dir=cache, precision="fp32")
    assert (fp32.backend, fp32.precision) == ("onnx-fp32", "fp32")
    # torch pinned to fp32: with "auto" a CPU with native bf16 would compare bf16 vectors.
    # 0.9999: fp32 kernels sum in another order on AVX512 than on AVX2 (0.99998 seen), and a
    # wrong graph gives far less.
    cos = np.sum(load_embedder(precision="fp32").encode(texts) * fp32.encode(texts), axis=1)
    assert cos.min() >= 0.9999, cos.min()


def test_torch_and_onnx_fp32_open_each_others_index(cache: Path, tmp_path: Path) -> None:
    corpus = Path(__file__).resolve().parents[2] / "corpus"
    for built, then in (("torch", "onnx-fp32"), ("onnx-fp32", "torch")):
        path = tmp_path / built
        svc = NewsQA.open(get_settings(index__path=str(path), embedding__backend=built,
                                       embedding__cache_dir=str(cache)))
        svc.ingest([corpus])
        svc.close()
        other = NewsQA.open(get_settings(index__path=str(path), embedding__backend=then,
                                         embedding__cache_dir=str(cache)))
        assert other.embedder.backend == then
        assert not other.answer(AnswerRequest(KOREA)).abstained
        other.close()
        assert json.loads((path / "manifest.json").read_text())["embed_backend"] == built
    with pytest.raises(IndexMismatchError, match="'onnx-fp32' embedding backend.*'onnx-int8'"):
        NewsQA.open(get_settings(index__path=str(tmp_path / "onnx-fp32"),
                                 embedding__backend="onnx-int8",
                                 embedding__cache_dir=str(cache)))


def test_onnx_sentence_vectors_are_torchs(int8: OnnxInt8Embedder, cache: Path) -> None:
    from newsqa.ingest.chunk import sentence_spans

    articles = list(archive_articles(limit=2))
    spec = ChunkSpec(180, 20, 256)
    pairs = [(a["title"], c) for a in articles for c in chunk_text(a["text"], spec, a["title"])]
    texts = [embed_text(t, c) for t, c in pairs][:6]
    spans = [sentence_spans(t, c) for t, c in pairs][:6]
    _, want = load_embedder(precision="fp32").encode_spans(texts, spans)
    fp32 = OnnxEmbedder(cache_dir=cache, precision="fp32")
    for emb, floor in ((fp32, 0.9999), (int8, 0.97)):
        vecs, got = emb.encode_spans(texts, spans)
        assert np.min(np.sum(vecs * emb.encode(texts), axis=1)) >= 0.9999
        for g, w in zip(got, want, strict=True):
            real = np.any(w, axis=1)
            assert np.array_equal(real, np.any(g, axis=1))
            assert np.min(np.sum(g[real] * w[real], axis=1)) >= floor, emb.backend
