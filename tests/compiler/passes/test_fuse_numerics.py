"""Fused groups compile and compute what onnxruntime computes, in the expected kernel count."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tests.frontends.onnx_models import run_onnxruntime

RNG = np.random.default_rng(0)


def rand(*shape, low=-1.0, high=1.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def model(nodes, inputs: dict, inits: dict, outputs: list[str]):
    """An ONNX model of ``nodes`` with graph inputs ``{name: shape}`` and initializers
    ``{name: array}``, output types from ONNX's shape inference."""
    graph = helper.make_graph(
        nodes, "fuse_test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [onnx.ValueInfoProto(name=o) for o in outputs],
        [numpy_helper.from_array(a, n) for n, a in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    for out in m.graph.output:
        out.CopyFrom(inferred[out.name])
    return m


def node(op, ins, out, **attrs):
    return helper.make_node(op, ins, [out], **attrs)


def bn_inits(prefix, c):
    return {f"{prefix}_s": rand(c), f"{prefix}_b": rand(c), f"{prefix}_m": rand(c),
            f"{prefix}_v": rand(c, low=0.5, high=1.5)}


def bn(prefix, x, out):
    return node("BatchNormalization", [x] + [f"{prefix}_{p}" for p in "sbmv"], out)


def conv_bias_relu():
    nodes = [node("Conv", ["x", "w", "b"], "c", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                  strides=[2, 2]),
             node("Relu", ["c"], "y")]
    return model(nodes, {"x": (1, 3, 13, 13)}, {"w": rand(8, 3, 3, 3), "b": rand(8)}, ["y"])


def conv_bn_residual_relu():
    nodes = [node("Conv", ["x", "w"], "c", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             bn("bn", "c", "n"), node("Add", ["n", "x"], "s"), node("Relu", ["s"], "y")]
    return model(nodes, {"x": (1, 4, 7, 9)}, {"w": rand(4, 4, 3, 3), **bn_inits("bn", 4)},
                 ["y"])


def two_conv_residual():
    nodes = [node("Conv", ["x", "w1"], "c1", kernel_shape=[1, 1]), bn("bn1", "c1", "n1"),
             node("Conv", ["x", "w2"], "c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             bn("bn2", "c2", "n2"), node("Sum", ["n1", "n2"], "s"), node("Relu", ["s"], "y")]
    inits = {"w1": rand(6, 4, 1, 1), "w2": rand(6, 4, 3, 3), **bn_inits("bn1", 6),
             **bn_inits("bn2", 6)}
    return model(nodes, {"x": (1, 4, 6, 6)}, inits, ["y"])


def gemm_relu():
    nodes = [node("Gemm", ["x", "w", "b"], "g", transB=1), node("Relu", ["g"], "y")]
    return model(nodes, {"x": (3, 20)}, {"w": rand(11, 20), "b": rand(11)}, ["y"])


def matmul_bias_relu():
    nodes = [node("MatMul", ["x", "w"], "m"), node("Add", ["m", "b"], "a"),
             node("Relu", ["a"], "y")]
    return model(nodes, {"x": (2, 5, 16)}, {"w": rand(16, 9), "b": rand(9)}, ["y"])


def elementwise_broadcast_chain():
    nodes = [node("Mul", ["x", "c"], "m"), node("Add", ["m", "z"], "a"),
             node("Sigmoid", ["a"], "s"), node("Sub", ["s", "x"], "y")]
    return model(nodes, {"x": (2, 3, 10), "z": (3, 1)}, {"c": rand(10)}, ["y"])


def concat_relu():
    nodes = [node("Concat", ["a", "b"], "c", axis=1), node("Relu", ["c"], "y")]
    return model(nodes, {"a": (1, 2, 5, 5), "b": (1, 3, 5, 5)}, {}, ["y"])


def relu_global_pool():
    nodes = [node("Relu", ["x"], "r"), node("GlobalAveragePool", ["r"], "y")]
    return model(nodes, {"x": (1, 6, 7, 7)}, {}, ["y"])


def gemm_softmax():
    nodes = [node("Gemm", ["x", "w"], "g"), node("Softmax", ["g"], "y", axis=1)]
    return model(nodes, {"x": (4, 12)}, {"w": rand(12, 10)}, ["y"])


def pad_max_pool():
    nodes = [node("Pad", ["x", "p"], "q"),
             node("MaxPool", ["q"], "y", kernel_shape=[3, 3], strides=[2, 2])]
    return model(nodes, {"x": (1, 3, 9, 9)},
                 {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}, ["y"])


def conv_relu_shared():
    # the relu feeds the next conv and a residual add: it stays an output of its group
    nodes = [node("Conv", ["x", "w1"], "c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], "r"),
             node("Conv", ["r", "w2"], "c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Add", ["c2", "r"], "s"), node("Relu", ["s"], "y")]
    return model(nodes, {"x": (1, 3, 6, 6)}, {"w1": rand(5, 3, 3, 3), "w2": rand(5, 5, 3, 3)},
                 ["y"])


@pytest.mark.parametrize("make, kernels", [
    (conv_bias_relu, 1), (conv_bn_residual_relu, 1), (two_conv_residual, 2), (gemm_relu, 1),
    (matmul_bias_relu, 1), (elementwise_broadcast_chain, 1), (concat_relu, 1),
    (relu_global_pool, 1), (gemm_softmax, 2), (pad_max_pool, 1), (conv_relu_shared, 2),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_fused_group_matches_onnxruntime(make, kernels):
    m = make()
    feeds = {i.name: rand(*[d.dim_value for d in i.type.tensor_type.shape.dim])
             for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}}
    mod = tc.compile(m)
    assert mod.build_report.kernels == kernels
    got = mod.run(list(feeds.values()))
    want = run_onnxruntime(m, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
