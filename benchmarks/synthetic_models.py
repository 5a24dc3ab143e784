"""ONNX models for the benchmarks that the onnx package does not ship: an MLP and BERT-like
encoder stacks, with random weights (batch 1, float32).

- ``mlp``: 784-512-512-10 with ReLU (Gemm layers).
- ``bert_layer``: one encoder layer at sequence 128, hidden 768, 12 heads, FFN 3072.
- ``bert4_256``: four layers at sequence 128, hidden 256, 4 heads, FFN 1024.

An encoder layer is post-norm BERT: x + MHA(x) -> LayerNorm -> x + FFN(x) -> LayerNorm,
with MHA as MatMul projections, Reshape/Transpose into heads, scaled QK^T, Softmax, PV and
an output projection, and FFN as MatMul, Gelu (tanh-free, erf form), MatMul.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 20


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def weight(self, shape, scale: float | None = None) -> str:
        scale = scale if scale is not None else 1 / np.sqrt(shape[0])
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(
            (self.rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def const(self, array, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(self, x: str, k: int, n: int) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.weight((k, n))]), self.weight((n,), 0.1)])

    def layer_norm(self, x: str, d: int) -> str:
        return self.op("LayerNormalization", [x, self.const(np.ones(d, np.float32), "gamma"),
                                              self.const(np.zeros(d, np.float32), "beta")], axis=-1)

    def model(self, name: str, x_shape, out: str, out_shape):
        graph = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def mlp(seed: int = 0):
    """784-512-512-10 with ReLU between layers, batch 1."""
    b = _Builder(seed)
    h = "x"
    for k, n in ((784, 512), (512, 512)):
        h = b.op("Relu", [b.op("Gemm", [h, b.weight((k, n)), b.weight((n,), 0.1)])])
    y = b.op("Gemm", [h, b.weight((512, 10)), b.weight((10,), 0.1)])
    return b.model("mlp", [1, 784], y, [1, 10])


def encoder(layers: int, hidden: int, heads: int, ffn: int, seq: int = 128, seed: int = 0):
    """``layers`` post-norm BERT encoder layers over a (1, seq, hidden) input."""
    b = _Builder(seed)
    hd = hidden // heads
    split = b.const(np.array([1, seq, heads, hd], np.int64), "split_shape")
    merge = b.const(np.array([1, seq, hidden], np.int64), "merge_shape")
    scale = b.const(np.array(1 / np.sqrt(hd), np.float32), "scale")
    x = "x"
    for _ in range(layers):
        def heads_of(t):
            return b.op("Transpose", [b.op("Reshape", [t, split])], perm=[0, 2, 1, 3])
        q, k, v = (heads_of(b.linear(x, hidden, hidden)) for _ in range(3))
        kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        scores = b.op("Mul", [b.op("MatMul", [q, kt]), scale])
        ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
        ctx = b.op("Reshape", [b.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        x = b.layer_norm(b.op("Add", [x, b.linear(ctx, hidden, hidden)]), hidden)
        ff = b.linear(b.op("Gelu", [b.linear(x, hidden, ffn)]), ffn, hidden)
        x = b.layer_norm(b.op("Add", [x, ff]), hidden)
    return b.model(f"encoder{layers}x{hidden}", [1, seq, hidden], x, [1, seq, hidden])


SYNTHETIC_MODELS = {
    "mlp": mlp,
    "bert_layer": lambda: encoder(1, 768, 12, 3072),
    "bert4_256": lambda: encoder(4, 256, 4, 1024),
}
