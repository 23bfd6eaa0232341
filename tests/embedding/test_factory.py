"""Which embedders run for an index: chosen from its manifest and the settings, no model load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsqa.assemble import embed_backends, index_backend
from newsqa.embedding.factory import backend_precision
from newsqa.index.manifest import IndexManifest, read_manifest
from newsqa.settings import get_settings

pytest.importorskip("onnxruntime")


def test_query_and_ingest_backends_follow_the_vectors_of_the_index(tmp_path: Path) -> None:
    s = get_settings(index__path=str(tmp_path / "i"), embedding__precision="fp32")
    assert embed_backends(s, "torch") == ("onnx-fp32", "torch")  # same vectors, no torch serving
    assert embed_backends(s, "onnx-fp32") == ("onnx-fp32", "torch")
    assert embed_backends(s, "onnx-int8") == ("onnx-int8", "onnx-int8")
    forced = get_settings(index__path=str(tmp_path / "i"), embedding__backend="torch")
    assert embed_backends(forced, "onnx-fp32") == ("torch", "torch")


def test_a_new_index_is_int8_and_an_old_manifest_means_torch(tmp_path: Path) -> None:
    assert index_backend(read_manifest(tmp_path / "new")) == "onnx-int8"
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"model": "m", "dim": 384}))
    assert index_backend(read_manifest(old)) == "torch"  # before the manifest named its backend
    assert index_backend(IndexManifest("m", 384, embed_backend="onnx-fp32")) == "onnx-fp32"


def test_backend_precision() -> None:
    assert backend_precision("onnx-int8", "auto") == "int8"
    assert backend_precision("onnx-fp32", "auto") == "fp32"
    assert backend_precision("torch", "fp32") == "fp32"
