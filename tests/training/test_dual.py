"""The dual reader's head: the cosine logit serving computes in numpy equals the one the torch
network trains."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.reader.dual import cosine_logits


def test_cosine_logits_equal_the_torch_head_they_were_trained_with() -> None:
    torch = pytest.importorskip("torch")
    from newsqa.training.dual import dual_net

    net = dual_net(1, "eager")
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, 384)).astype(np.float32)
    c = rng.normal(size=(4, 384)).astype(np.float32)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    c /= np.linalg.norm(c, axis=-1, keepdims=True)
    with torch.no_grad():
        want = net.logits(torch.from_numpy(q), torch.from_numpy(c),
                          torch.zeros(4, dtype=torch.long)).numpy()
    w, b = float(net.head.weight.detach()), float(net.head.bias.detach())
    got = cosine_logits(q, c, w, b)
    assert got.dtype == np.float32 and np.allclose(got, want, atol=1e-4)
