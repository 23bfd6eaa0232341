"""The one-time ONNX export says what it does and how long it takes, and the libraries' own
warnings (TracerWarning, UserWarning, the quantizer's tip, the weight-loading bar) are not
shown during it."""

from __future__ import annotations

import logging
import warnings

import pytest

from newsqa.embedding import onnx


def test_foreign_warnings_are_silenced_during_the_export(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("transformers")
    mine = logging.getLogger("newsqa.embed")
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        with onnx._quiet():
            warnings.warn("Converting a tensor to a Python boolean", UserWarning, stacklevel=1)
            logging.warning("Please consider to run pre-processing before quantization.")
            mine.warning("newsqa's own line")
        warnings.warn("after the export", UserWarning, stacklevel=1)
        logging.warning("after the export too")
    assert [str(w.message) for w in seen] == ["after the export"]
    messages = [r.getMessage() for r in caplog.records]
    assert "newsqa's own line" in messages and "after the export too" in messages
    assert not any("pre-processing" in m for m in messages)


def test_the_export_message_says_once_and_how_long(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pathlib import Path

    cache = Path(str(tmp_path))
    monkeypatch.setattr(onnx, "_require", lambda: None)
    monkeypatch.setattr(onnx, "_model_key", lambda _d: "k")
    monkeypatch.setattr(onnx, "_export", lambda _d, out: Path(out).write_bytes(b"graph"))
    with caplog.at_level(logging.WARNING, logger="newsqa.embed"):
        onnx.onnx_model(cache, cache, "fp32")
    text = caplog.records[-1].getMessage()
    assert "exporting the embedding model" in text and "once" in text
    assert "a minute on 2 cores" in text and "a few seconds" not in text
