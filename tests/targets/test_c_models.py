"""Whole models through ``tc.compile(model, target="c")`` against onnxruntime.

The kernels come from the C generator, compiled by the host C compiler with -Wall
-Wextra -Werror, linked into the same artifact the LLVM target produces.  Random weights
and inputs of either sign, so that a wrong index shows.
"""
import numpy as np

from .c_models import GraphBuilder, check_c_target


def test_small_cnn():
    """Conv (blocked and depthwise), BatchNorm, Relu, MaxPool, AveragePool, global pool,
    Gemm and Softmax."""
    g = GraphBuilder(seed=1)
    x = g.input("x", g.rand(2, 3, 16, 16))
    h = g.op("Conv", [x, g.weight((8, 3, 3, 3)), g.weight((8,), 0.1)], pads=[1, 1, 1, 1])
    bn = [g.const(g.rand(8)), g.const(g.rand(8) * 0.1), g.const(g.rand(8) * 0.1),
          g.const(np.abs(g.rand(8)))]
    h = g.op("Relu", [g.op("BatchNormalization", [h] + bn)])
    h = g.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("Conv", [h, g.weight((8, 1, 3, 3))], pads=[1, 1, 1, 1], group=8)
    h = g.op("Conv", [h, g.weight((16, 8, 1, 1)), g.weight((16,), 0.1)])
    h = g.op("AveragePool", [g.op("Relu", [h])], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    pooled = g.op("Flatten", [g.op("GlobalAveragePool", [h])])
    logits = g.op("Gemm", [pooled, g.weight((10, 16)), g.weight((10,), 0.1)], transB=1)
    g.output(g.op("Softmax", [logits], axis=-1), h)
    check_c_target(g.model(), g.feeds)


def test_mlp():
    g = GraphBuilder(seed=2)
    h = g.input("x", g.rand(3, 64))
    for k, n in ((64, 48), (48, 32)):
        h = g.op("Relu", [g.op("Gemm", [h, g.weight((k, n)), g.weight((n,), 0.1)])])
    g.output(g.op("Gemm", [h, g.weight((32, 10)), g.weight((10,), 0.1)]))
    check_c_target(g.model(), g.feeds)


def test_bert_like_encoder_layer():
    """Post-norm attention and FFN: MatMul, Reshape/Transpose into heads, scaled QK^T,
    Softmax, LayerNormalization, Gelu (erf form)."""
    seq, hidden, heads, ffn = 8, 32, 2, 64
    hd = hidden // heads
    g = GraphBuilder(seed=3)
    x = g.input("x", g.rand(1, seq, hidden))
    split = g.const(np.array([1, seq, heads, hd], np.int64))
    merge = g.const(np.array([1, seq, hidden], np.int64))

    def linear(t, k, n):
        return g.op("Add", [g.op("MatMul", [t, g.weight((k, n))]), g.weight((n,), 0.1)])

    def heads_of(t):
        return g.op("Transpose", [g.op("Reshape", [t, split])], perm=[0, 2, 1, 3])

    def layer_norm(t):
        return g.op("LayerNormalization", [t, g.const(g.rand(hidden)),
                                           g.const(g.rand(hidden) * 0.1)], axis=-1)

    q, k, v = (heads_of(linear(x, hidden, hidden)) for _ in range(3))
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]),
                          g.const(np.array(1 / np.sqrt(hd), np.float32))])
    ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
    x = layer_norm(g.op("Add", [x, linear(ctx, hidden, hidden)]))
    ff = linear(g.op("Gelu", [linear(x, hidden, ffn)]), ffn, hidden)
    g.output(layer_norm(g.op("Add", [x, ff])))
    check_c_target(g.model(opset=20), g.feeds)


def test_int64_embedding_gather():
    """Token ids (int64, negative ones counting from the end) gathered from a table, then
    summed, with an int64 position arithmetic branch."""
    vocab, dim = 50, 12
    g = GraphBuilder(seed=4)
    ids = g.rng.integers(-vocab, vocab, (2, 7)).astype(np.int64)
    tok = g.input("ids", ids)
    emb = g.op("Gather", [g.const(g.rand(vocab, dim)), tok], axis=0)
    pos = g.op("Gather", [g.const(g.rand(7, dim)),
                          g.const(np.arange(7, dtype=np.int64))], axis=0)
    shifted = g.op("Mod", [g.op("Add", [tok, g.const(np.array(3, np.int64))]),
                           g.const(np.array(vocab, np.int64))])
    g.output(g.op("Add", [emb, pos]), shifted,
             g.op("ReduceSum", [tok, g.const(np.array([1], np.int64))], keepdims=0))
    check_c_target(g.model(), g.feeds)
