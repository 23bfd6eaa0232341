"""The shipped reader run by ONNX Runtime (int8 weights; no torch in the process).

:class:`Reader` scores (question, candidate) pairs: a logit per candidate, higher when the
candidate states the answer, and :meth:`Reader.probability` turns logits into the calibrated
chance that a candidate answers (fit on the part of the training years kept apart).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.reader.dual import KIND, cosine_logits
from newsqa.reader.inputs import CONTEXT, Candidate, PairTokenizer

#: Where the package keeps the shipped reader: ``reader.onnx`` and ``reader.json``.
MODEL_DIR = Path(__file__).resolve().parent / "model"


class ReaderMissingError(RuntimeError):
    """The reader's files are not where they were looked for."""


@dataclass(frozen=True)
class ReaderInfo:
    """What ``reader.json`` records of a reader: its depth, input size, calibration, the
    probability under which an answer abstains, the logit a candidate loses per place of its
    passage in the retrieval, the weights of the composer's score of a candidate and of its
    evidence in the fused logit, and the share of the best probability a further answer
    sentence needs (all chosen on the lists kept apart), what a candidate is read with, and the
    architecture (``cross``, ``dual``, ``query`` or ``late``, :mod:`newsqa.reader.dual`)."""

    layers: int
    max_pieces: int
    scale: float
    bias: float
    abstain_below: float
    rank_penalty: float
    raw: dict[str, Any]
    composer_weight: float = 0.0
    evidence_weight: float = 0.0
    keep_share: float = 0.5
    context: str = CONTEXT
    kind: str = KIND
    #: The head: a logit is ``weight × cosine + bias``.
    head: tuple[float, float] | None = None

    @property
    def embeds(self) -> bool:
        """Whether the reader embeds texts apart (:meth:`Reader.embed`): a dual reader with its
        head, as :func:`read_info` accepts only."""
        return self.kind == KIND and self.head is not None


def read_info(model_dir: Path) -> ReaderInfo:
    """The ``reader.json`` of ``model_dir``."""
    path = model_dir / "reader.json"
    if not path.exists():
        raise ReaderMissingError(f"no reader at {model_dir} (reader.json missing)")
    raw = json.loads(path.read_text(encoding="utf-8"))
    cal = raw.get("calibration", {})
    kind = str(raw.get("kind", ""))
    if kind != KIND or not {"weight", "bias"} <= set(raw.get("head", {})):
        raise ReaderMissingError(
            f"{path}: not a dual reader with its head, the one kind newsqa runs (kind {kind!r})")
    return ReaderInfo(
        int(raw["layers"]), int(raw["max_pieces"]), float(cal.get("scale", 1.0)),
        float(cal.get("bias", 0.0)), float(raw.get("abstain_below", 0.5)),
        float(raw.get("rank_penalty", 0.0)), raw,
        float(raw.get("fusion", {}).get("composer_weight", 0.0)),
        float(raw.get("fusion", {}).get("evidence_weight", 0.0)),
        float(raw.get("keep_share", 0.5)),
        str(raw.get("context", CONTEXT)), kind,
        (float(raw["head"]["weight"]), float(raw["head"]["bias"])),
    )


def tokenizer_path() -> Path:
    """The word-piece vocabulary of the bundled MiniLM (the reader's base model)."""
    from newsqa.embedding.base import default_model_path

    return Path(default_model_path()) / "tokenizer.json"


class Reader:
    """A reader graph loaded once; safe to share between threads (runs take turns)."""

    #: Pairs per forward run; int8 activations are scaled per run, so a pair's score depends
    #: a little on its batch neighbours; batches keep the padding waste low.
    batch = 16

    def __init__(self, model_dir: Path = MODEL_DIR, onnx_name: str = "reader.onnx") -> None:
        import onnxruntime as ort

        self.info = read_info(model_dir)
        graph = model_dir / onnx_name
        if not graph.exists():
            raise ReaderMissingError(f"no reader graph at {graph}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        self._tokens = PairTokenizer(tokenizer_path(), self.info.max_pieces, self.info.context)
        self._lock = threading.Lock()

    def logits(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """One logit per candidate (float32; empty for no candidates)."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        scored = self._batch_scorer(question)
        return self._in_batches([len(c.sentence) for c in candidates],
                                lambda idx: scored([candidates[i] for i in idx]))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The normalised vectors the reader compares (one row per text, float32), in batches of
        similar length."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self._in_batches([len(t) for t in texts], lambda idx: self._run(
            self._tokens.encode_texts([texts[i] for i in idx]), "embedding"))

    def _in_batches(self, lengths: Sequence[int],
                    run: Callable[[list[int]], np.ndarray]) -> np.ndarray:
        """``run`` over batches of :attr:`batch` indices of similar ``lengths`` (less padding),
        its rows put back in the order of the indices."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        stacked = np.concatenate([run(order[s:s + self.batch])
                                  for s in range(0, len(order), self.batch)])
        out = np.empty_like(stacked)
        out[order] = stacked
        return out

    def _batch_scorer(self, question: str) -> Callable[[list[Candidate]], np.ndarray]:
        """The logits of one batch of candidates for ``question``, its embedding run once."""
        head = self.info.head
        assert head is not None  # read_info accepts only a reader with its head
        emb_q = self._run(self._tokens.encode_texts([question]), "embedding")
        return lambda part: cosine_logits(
            emb_q, self._run(self._tokens.encode_candidates(part), "embedding"), *head)

    def _run(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray], output: str) -> np.ndarray:
        ids, mask, types = arrays
        with self._lock:
            (got,) = self._session.run(
                [output], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return np.asarray(got, dtype=np.float32)

    def probability(self, logit: float) -> float:
        """The calibrated chance that a candidate with ``logit`` answers its question."""
        z = self.info.scale * float(logit) + self.info.bias
        return 1.0 / (1.0 + math.exp(-z)) if z > -50 else 0.0


@lru_cache(maxsize=2)
def load_reader(model_dir: str | None = None) -> Reader:
    """The reader at ``model_dir`` (default: the one shipped in the package), loaded once."""
    return Reader(Path(model_dir) if model_dir else MODEL_DIR)


def shipped() -> bool:
    """Whether the package holds a reader."""
    return (MODEL_DIR / "reader.json").exists() and (MODEL_DIR / "reader.onnx").exists()
