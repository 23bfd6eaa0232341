"""The late reader's score on hand-made word-piece vectors: which pieces count, and the maxsim
serving computes equals the one training optimises."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.reader.dual import late_logits, question_mask


def test_question_mask_drops_cls_and_the_closing_sep_of_each_question() -> None:
    mask = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    assert question_mask(mask).tolist() == [[0, 1, 1, 0, 0], [0, 1, 0, 0, 0], [1, 1, 0, 0, 0]]
    assert mask.tolist()[0] == [1, 1, 1, 1, 0]  # the input is left as it was


def test_late_logits_average_each_question_pieces_best_match_and_ignore_padding() -> None:
    e = np.eye(3, dtype=np.float32)
    q = np.stack([e[0], e[1], e[2]])[None]  # [CLS]-like first, then two real pieces
    q_mask = np.array([[0, 1, 1]])
    away = -(e[1] + e[2]) / np.sqrt(2.0)  # cosine -0.707 with either question piece
    cands = np.stack([
        np.stack([e[1], e[2], np.zeros(3)]),  # meets both question pieces: maxsim 1
        np.stack([e[1], away, e[0]]),  # one of them: (1 + 0) / 2 (e[0] is orthogonal to e[2])
        np.stack([away, away, np.zeros(3)]),  # neither; its padding (cosine 0) does not count
    ]).astype(np.float32)
    c_mask = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 0]])
    got = late_logits(q, q_mask, cands, c_mask, weight=10.0, bias=-5.0)
    assert got.dtype == np.float32
    assert got.tolist() == pytest.approx([5.0, 0.0, -5.0 - 10.0 / np.sqrt(2.0)], abs=1e-5)


def test_late_logits_equal_the_torch_head_they_were_trained_with() -> None:
    torch = pytest.importorskip("torch")
    from newsqa.reader.dual import dual_net

    net = dual_net(1, "eager", late=True)
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, 5, 384)).astype(np.float32)
    c = rng.normal(size=(4, 6, 384)).astype(np.float32)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    c /= np.linalg.norm(c, axis=-1, keepdims=True)
    q_mask = question_mask(np.array([[1, 1, 1, 1, 0]]))
    c_mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 3 + [0] * 3, [1, 1] + [0] * 4])
    with torch.no_grad():
        owner = torch.zeros(4, dtype=torch.long)
        want = net.logits(torch.from_numpy(q), torch.from_numpy(c), owner,
                          (torch.from_numpy(q_mask), torch.from_numpy(c_mask))).numpy()
    w, b = float(net.head.weight), float(net.head.bias)
    assert np.allclose(late_logits(q, q_mask, c, c_mask, w, b), want, atol=1e-4)
