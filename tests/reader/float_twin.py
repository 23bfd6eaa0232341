"""The float twin of a dynamically quantized ONNX graph, for tests that compare an int8 graph
with the float model it was made from on the same CPU.

ONNX Runtime's dynamic quantization turns each ``MatMul(x, W)`` into
``DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q) → Cast → Mul(x_scale × W_scale)``. The twin
puts back ``MatMul(x, (W_q − W_zero) × W_scale)``: the same rounded weights, activations in
float. The int8 graph and its twin then differ only by what the CPU's integer kernels do with the
activations, which is the part that varies from one CPU to another (AVX2 without VNNI uses
other kernels than AVX512-VNNI)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def float_twin(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose integer matrix products are float ones over the dequantized
    weights (unused initializers dropped; nodes in topological order)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dropped: set[int] = set()
    added: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        x_q, w_q, _x_zero, w_zero = node.input
        (cast,) = consumers[node.output[0]]
        (mul,) = consumers[cast.output[0]]
        scales = producer[next(i for i in mul.input if i != cast.output[0])]
        w_scale = next(i for i in scales.input if i in inits)
        weight = ((numpy_helper.to_array(inits[w_q]).astype(np.float32)
                   - numpy_helper.to_array(inits[w_zero]).astype(np.float32))
                  * numpy_helper.to_array(inits[w_scale]).astype(np.float32))
        graph.initializer.append(numpy_helper.from_array(weight, f"{w_q}_float"))
        added.append(helper.make_node(
            "MatMul", [producer[x_q].input[0], f"{w_q}_float"], [mul.output[0]]))
        dropped.update({id(node), id(cast), id(mul)})
    nodes = [n for n in graph.node if id(n) not in dropped] + added
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    ordered: list[onnx.NodeProto] = []
    while nodes:
        runnable = [n for n in nodes if all(i in ready for i in n.input)]
        if not runnable:
            raise ValueError("the graph has a node whose inputs are never produced")
        for n in runnable:
            ordered.append(n)
            ready.update(n.output)
        done = {id(n) for n in runnable}
        nodes = [n for n in nodes if id(n) not in done]
    used = {i for n in ordered for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model
