"""The dual reader's head, in numpy: the question and each candidate are embedded apart by the
reader's graph (mean-pooled and normalised as the shipped sentence embedder does), and a
candidate's logit is ``weight × cosine + bias`` (``head`` in ``reader.json``). The torch network
that learns them is :mod:`newsqa.training.dual`."""

from __future__ import annotations

import numpy as np

#: The one architecture the runtime runs (``kind`` in ``reader.json``).
KIND = "dual"


def cosine_logits(emb_q: np.ndarray, emb_c: np.ndarray, weight: float, bias: float) -> np.ndarray:
    """``weight × cosine + bias`` of each candidate embedding with the question's (both
    normalised), float32."""
    return (weight * (emb_c @ emb_q.reshape(-1)) + bias).astype(np.float32)
