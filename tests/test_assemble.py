"""What the settings ask of the reader: the claim check of generated answers embeds with the
dual reader unless told otherwise, and falls back to the search embedder where there is none."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from newsqa.assemble import configured_claim_encode  # noqa: E402
from newsqa.reader.runtime import load_reader, shipped  # noqa: E402
from newsqa.settings import get_settings  # noqa: E402
from tests.support import open_service  # noqa: E402

needs_reader = pytest.mark.skipif(not shipped(), reason="the package holds no reader")


@needs_reader
def test_claims_are_embedded_by_the_shipped_dual_reader_in_any_reader_mode() -> None:
    for mode in ("off", "on"):
        encode = configured_claim_encode(get_settings(reader__mode=mode))
        assert encode is not None and encode == load_reader(None).embed
    vecs = encode(["The bridge cost 40 million dollars.", "Rain is expected on Monday."])
    assert vecs.shape[0] == 2 and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)


def test_the_embedder_checks_claims_when_asked() -> None:
    assert configured_claim_encode(get_settings(generation__claim_encoder="embedder")) is None


def test_a_reader_that_does_not_embed_apart_leaves_claims_to_the_embedder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "reader.json").write_text(json.dumps({"kind": "cross", "layers": 3,
                                                      "max_pieces": 128}), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="newsqa"):
        assert configured_claim_encode(get_settings(reader__dir=str(tmp_path))) is None
    assert "not a dual reader" in caplog.text


def test_a_reader_folder_that_cannot_be_loaded_leaves_claims_to_the_embedder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsqa"):
        assert configured_claim_encode(get_settings(reader__dir=str(tmp_path))) is None
    assert "reader.json missing" in caplog.text
    dual = {"kind": "dual", "layers": 6, "max_pieces": 128, "head": {"weight": 20, "bias": -10}}
    (tmp_path / "reader.json").write_text(json.dumps(dual), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="newsqa"):
        assert configured_claim_encode(get_settings(reader__dir=str(tmp_path))) is None
    assert "no reader graph" in caplog.text


@needs_reader
def test_only_a_service_with_a_language_model_loads_the_claim_encoder(tmp_path: Path) -> None:
    plain = open_service(tmp_path / "a", embedding__embedder="hash")
    generating = open_service(tmp_path / "b", embedding__embedder="hash",
                              generator__url="http://127.0.0.1:9")
    try:
        assert plain.pipeline().claim_encode is None
        assert generating.pipeline().claim_encode == load_reader(None).embed
    finally:
        plain.close()
        generating.close()
