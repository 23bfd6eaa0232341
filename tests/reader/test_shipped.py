"""The reader shipped in the package: it loads offline without torch, puts the answering
sentence first on the hand-made probe set, and its int8 graph agrees with the fp32 model it was
exported from (whose logits on the probes training recorded in ``reader.json``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from newsqa.reader.dual import cosine_logits  # noqa: E402
from newsqa.reader.inputs import candidate_text  # noqa: E402
from newsqa.reader.probe import probe_pairs  # noqa: E402
from newsqa.reader.runtime import MODEL_DIR, Reader, shipped  # noqa: E402

pytestmark = pytest.mark.skipif(not shipped(), reason="the package holds no reader")


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(MODEL_DIR)


def test_the_shipped_reader_puts_each_probe_answer_first(reader: Reader) -> None:
    for question, cands in probe_pairs():
        got = reader.logits(question, cands)
        assert int(np.argmax(got)) == 0, (question, got)


def test_int8_agrees_with_the_model_it_was_made_from(reader: Reader) -> None:
    recorded = reader.info.raw["probe"]
    # A dual reader's logit is weight × cosine: int8 weights move a cosine by a few hundredths
    # (the int8 embedder's own sentence vectors keep a cosine of 0.97 with fp32's), so its
    # bound is on the cosine; a cross reader's is on the logit.
    bound = 0.04 * abs(reader.info.head[0]) if reader.info.head is not None else 0.5
    for (question, cands), ref in zip(probe_pairs(), recorded, strict=True):
        got = reader.logits(question, cands)
        assert int(np.argmax(got)) == int(np.argmax(ref))
        assert np.max(np.abs(got - np.array(ref))) < bound


def test_the_shipped_reader_records_how_it_was_made(reader: Reader) -> None:
    raw = reader.info.raw
    assert raw["base"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert {"composer_weight", "evidence_weight"} <= set(raw["fusion"])
    assert 0.0 < reader.info.abstain_below < 1.0
    assert (MODEL_DIR / "reader.onnx").stat().st_size < 25 * 2**20


def test_the_shipped_reader_embeds_texts_as_it_reads_them(reader: Reader) -> None:
    assert reader.info.embeds and reader.info.head is not None
    for question, cands in probe_pairs():
        texts = [candidate_text(c, reader.info.context) for c in cands]
        vecs = reader.embed([question, *texts])
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
        from_vectors = cosine_logits(vecs[0], vecs[1:], *reader.info.head)
        read = reader.logits(question, cands)
        assert int(np.argmax(from_vectors)) == int(np.argmax(read)) == 0
        # int8 activations are scaled per run, and these runs batch the texts differently:
        # the same bound on the cosine as against the fp32 model
        assert np.max(np.abs(from_vectors - read)) < 0.04 * abs(reader.info.head[0])
    assert reader.embed([]).shape[0] == 0
