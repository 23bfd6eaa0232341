"""Sentence vectors in int8: close to the float32 rows, empty rows kept empty, a damaged blob
refused."""

from __future__ import annotations

import numpy as np
import pytest

from newsqa.index import sentvec


def test_int8_rows_keep_their_direction_and_empty_rows_stay_empty() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(5, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[2] = 0.0
    blob = sentvec.pack(rows)
    assert len(blob) == 5 * (4 + 384)
    back = sentvec.unpack(blob, 384)
    real = [0, 1, 3, 4]
    assert np.min(np.sum(back[real] * rows[real], axis=1)) > 0.999
    assert not back[2].any()
    assert sentvec.unpack(sentvec.pack(np.zeros((0, 384))), 384).shape == (0, 384)
    with pytest.raises(ValueError, match="not n x"):
        sentvec.unpack(blob[:-1], 384)
