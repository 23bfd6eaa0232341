"""``bench/reader_soup.py`` averages int8 readers weight by weight: each per-channel int8
weight is dequantized, averaged with the sources' weights and quantized again; float
initializers are averaged exactly; per-tensor quantized ones (the frozen embedding tables) are
kept; graphs of another shape are refused."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import helper, numpy_helper  # noqa: E402

from bench.reader_soup import average, dequantized, parse_source  # noqa: E402


def _graph(weight: np.ndarray, bias: np.ndarray, table: np.ndarray, extra: bool = False) -> object:
    scale = (np.abs(weight).max(axis=0) / 127.0).astype(np.float32)
    q = np.round(weight / scale).astype(np.int8)
    tensors = {"w_quantized": q, "w_scale": scale, "w_zero_point": np.zeros(3, np.int8),
               "e_quantized": table, "e_scale": np.array(0.5, np.float32),
               "e_zero_point": np.array(0, np.int8), "b": bias}
    if extra:
        tensors["other"] = bias
    init = [numpy_helper.from_array(v, k) for k, v in tensors.items()]
    out = helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [3])
    return helper.make_model(helper.make_graph([], "g", [], [out], initializer=init))


def _arrays(model: object) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}  # type: ignore[attr-defined]


def test_weights_are_averaged_channel_by_channel_with_the_sources_weights() -> None:
    rng = np.random.default_rng(0)
    wa, wb = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    ta = np.arange(6, dtype=np.int8).reshape(2, 3)
    a = _graph(wa, np.array([1, 2, 3], np.float32), ta)
    b = _graph(wb, np.array([3, 6, 9], np.float32), ta + 1)
    want = 0.75 * dequantized(_arrays(a), "w")[0] + 0.25 * dequantized(_arrays(b), "w")[0]
    before = _arrays(a)
    got = _arrays(average([a, b], [3.0, 1.0]))
    assert all(np.array_equal(v, _arrays(a)[k]) for k, v in before.items())  # a copy
    soup, axis = dequantized(got, "w")
    assert axis == 1 and got["w_quantized"].dtype == np.int8
    step = np.abs(want).max(axis=0) / 127.0  # one int8 step of each channel
    assert np.all(np.abs(soup - want) <= step / 2 + 1e-6)
    assert np.allclose(got["b"], [1.5, 3.0, 4.5])
    assert np.array_equal(got["e_quantized"], ta)  # the frozen table: the first graph's
    # a reader averaged with itself is itself
    alone = _arrays(average([_graph(wa, np.ones(3, np.float32), ta)] * 2, [1.0, 1.0]))
    assert np.array_equal(alone["w_quantized"], _arrays(a)["w_quantized"])


def test_graphs_of_another_shape_are_refused_and_sources_parse() -> None:
    ta = np.zeros((2, 3), np.int8)
    w = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="not the same graph"):
        average([_graph(w, np.ones(3, np.float32), ta),
                 _graph(w, np.ones(3, np.float32), ta, extra=True)], [1.0, 1.0])
    assert parse_source("/tmp/runs/D") == ("/tmp/runs/D", 1.0)
    assert parse_source("/tmp/runs/D:0.75") == ("/tmp/runs/D", 0.75)
    assert parse_source("base:0.25") == ("base", 0.25)
    assert parse_source("C:/readers/D") == ("C:/readers/D", 1.0)
