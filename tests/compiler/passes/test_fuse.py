"""fuse.partition: before graph -> expected groups (node names), one test per rule and
its negative; every partition is also checked to be a valid kernel sequence."""
import dataclasses

import numpy as np
import pytest

from tc.compiler.graph import GraphBuilder, verify
from tc.compiler.ops import registry
from tc.compiler.ops.registry import OpPattern, lookup_op
from tc.compiler.passes.fuse import partition

F32 = "float32"
RNG = np.random.default_rng(0)


def const(b, shape, name):
    return b.constant(RNG.uniform(0.5, 1.5, shape).astype(np.float32), name)


def conv(b, x, cout, name, pad=1):
    w = const(b, (cout, x.type.shape[1], 3, 3), f"{name}_w")
    return b.op("Conv", [x, w], {"kernel_shape": (3, 3), "strides": (1, 1),
                                 "pads": (pad,) * 4, "dilations": (1, 1), "group": 1},
                name=name)[0]


def batch_norm(b, x, name):
    c = x.type.shape[1]
    params = [const(b, (c,), f"{name}_{p}") for p in ("s", "b", "m", "v")]
    return b.op("BatchNormalization", [x, *params], {"epsilon": 1e-5}, name=name)[0]


def op(b, kind, inputs, name, attrs=None):
    return b.op(kind, inputs, attrs or {}, name=name)[0]


def groups_of(graph, **kw):
    """The partition as lists of node names, after checking it is a valid partition."""
    verify(graph)
    groups = partition(graph, **kw)
    check_valid_partition(graph, groups)
    return [[n.name for n in g.nodes] for g in groups]


def check_valid_partition(graph, groups):
    """Every node in one group; each group reads only what earlier groups, graph inputs
    or constants provide (so groups are convex and ordered); at most one complex op."""
    assert sorted(id(n) for g in groups for n in g.nodes) == sorted(id(n) for n in graph.nodes)
    ready = {v.name for v in graph.inputs} | set(graph.constants)
    for g in groups:
        assert all(v.name in ready for v in g.inputs), g.name
        ready |= {o.name for n in g.nodes for o in n.outputs}
        assert sum(lookup_op(n.op).pattern == OpPattern.OUT_FUSABLE for n in g.nodes) <= 1
    assert all(v.name in ready for v in graph.outputs)


def test_conv_takes_bias_and_activation():
    b = GraphBuilder()
    x = b.input("x", (1, 3, 6, 6), F32)
    y = op(b, "Add", [conv(b, x, 4, "conv"), const(b, (4, 1, 1), "bias")], "bias")
    y = op(b, "Clip", [op(b, "Relu", [y], "relu")], "clip", {"min": 0.0, "max": 6.0})
    assert groups_of(b.build([y])) == [["conv", "bias", "relu", "clip"]]


def test_conv_takes_batch_norm_and_residual_of_another_conv():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6), F32)
    left = batch_norm(b, conv(b, x, 4, "conv1"), "bn1")
    right = batch_norm(b, conv(b, x, 4, "conv2"), "bn2")
    y = op(b, "Relu", [op(b, "Sum", [left, right], "sum")], "relu")
    # two convs never share a group; the producer of the residual runs first
    assert groups_of(b.build([y])) == [["conv2", "bn2"], ["conv1", "bn1", "sum", "relu"]]


def test_residual_of_a_shared_input_stays_an_output_of_its_group():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6), F32)
    r = op(b, "Relu", [x], "relu")
    y = op(b, "Add", [conv(b, r, 4, "conv"), r], "add")
    g = b.build([y])
    # fusing relu with add would leave the conv between two halves of one group
    assert groups_of(g) == [["relu"], ["conv", "add"]]
    first, second = partition(g)
    assert [v.name for v in first.outputs] == ["relu"]
    assert "relu" in [v.name for v in second.inputs]


def test_complex_ops_do_not_fuse_with_each_other():
    b = GraphBuilder()
    x = b.input("x", (1, 3, 6, 6), F32)
    y = conv(b, op(b, "Relu", [conv(b, x, 4, "conv1")], "relu"), 4, "conv2")
    assert groups_of(b.build([y])) == [["conv1", "relu"], ["conv2"]]


@pytest.mark.parametrize("kind", ["Gemm", "MatMul"])
def test_matmul_takes_bias_and_activation(kind):
    b = GraphBuilder()
    x = b.input("x", (4, 8), F32)
    mm = op(b, kind, [x, const(b, (8, 5), "w")], "mm")
    y = op(b, "Relu", [op(b, "Add", [mm, const(b, (5,), "bias")], "bias")], "relu")
    assert groups_of(b.build([y])) == [["mm", "bias", "relu"]]


def test_epilogue_that_broadcasts_the_conv_output_is_not_fused():
    b = GraphBuilder()
    x = b.input("x", (1, 3, 6, 6), F32)
    y = op(b, "Add", [conv(b, x, 1, "conv"), b.input("z", (1, 4, 6, 6), F32)], "add")
    assert groups_of(b.build([y])) == [["conv"], ["add"]]


def test_elementwise_chain_with_broadcasts_is_one_group():
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4), F32)
    y = op(b, "Mul", [x, const(b, (4,), "c")], "mul")
    y = op(b, "Add", [y, b.input("z", (3, 1), F32)], "add")
    y = op(b, "Sub", [op(b, "Sigmoid", [y], "sigmoid"), x], "sub")
    assert groups_of(b.build([y])) == [["mul", "add", "sigmoid", "sub"]]


def test_elementwise_diamond_is_one_group():
    b = GraphBuilder()
    x = b.input("x", (2, 3), F32)
    r = op(b, "Relu", [x], "relu")
    y = op(b, "Add", [op(b, "Exp", [r], "exp"), op(b, "Neg", [r], "neg")], "add")
    assert groups_of(b.build([y])) == [["relu", "exp", "neg", "add"]]


def test_injective_ops_fuse_with_elementwise_neighbours():
    b = GraphBuilder()
    x = b.input("x", (2, 3, 4), F32)
    c = op(b, "Concat", [op(b, "Exp", [x], "exp"), x], "concat", {"axis": 1})
    y = op(b, "Transpose", [op(b, "Relu", [c], "relu")], "transpose", {"perm": (0, 2, 1)})
    assert groups_of(b.build([y])) == [["exp", "concat", "relu", "transpose"]]


def test_injective_op_waits_for_conv_epilogues():
    b = GraphBuilder()
    x = b.input("x", (1, 3, 6, 6), F32)
    y = op(b, "Relu", [conv(b, x, 4, "conv")], "relu")
    y = op(b, "Reshape", [y], "reshape", {"shape": (1, 144)})
    y = op(b, "Sigmoid", [y], "sigmoid")
    assert groups_of(b.build([y])) == [["conv", "relu"], ["reshape", "sigmoid"]]


def test_reduction_takes_producers_and_closes_its_group():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6), F32)
    y = op(b, "Relu", [op(b, "Mul", [x, const(b, (4, 1, 1), "s")], "mul")], "relu")
    y = op(b, "GlobalAveragePool", [y], "gap")
    y = op(b, "Relu", [y], "relu2")
    assert groups_of(b.build([y])) == [["mul", "relu", "gap"], ["relu2"]]


def test_pad_fuses_into_pooling():
    b = GraphBuilder()
    x = b.input("x", (1, 2, 6, 6), F32)
    y = op(b, "Pad", [x], "pad", {"pads": (0, 0, 1, 1, 0, 0, 1, 1), "mode": "constant"})
    y = op(b, "MaxPool", [y], "pool", {"kernel_shape": (3, 3), "strides": (2, 2),
                                      "pads": (0, 0, 0, 0), "dilations": (1, 1),
                                      "ceil_mode": 0})
    assert groups_of(b.build([y])) == [["pad", "pool"]]


def test_concat_does_not_fuse_into_pooling():
    b = GraphBuilder()
    x = b.input("x", (1, 2, 6, 6), F32)
    y = op(b, "Concat", [op(b, "Relu", [x], "relu"), x], "concat", {"axis": 1})
    y = op(b, "GlobalMaxPool", [y], "pool")
    assert groups_of(b.build([y])) == [["relu", "concat"], ["pool"]]


def test_softmax_does_not_fuse_into_gemm():
    b = GraphBuilder()
    x = b.input("x", (4, 8), F32)
    y = op(b, "Gemm", [x, const(b, (8, 5), "w"), const(b, (5,), "c")], "gemm")
    y = op(b, "Softmax", [y], "softmax", {"axis": 1})
    assert groups_of(b.build([y])) == [["gemm"], ["softmax"]]


def test_graph_output_does_not_fuse_forward():
    b = GraphBuilder()
    x = b.input("x", (2, 3), F32)
    r = op(b, "Relu", [x], "relu")
    y = op(b, "Exp", [r], "exp")
    assert groups_of(b.build([r, y])) == [["relu"], ["exp"]]
    assert groups_of(b.build([y])) == [["relu", "exp"]]


def test_group_size_is_capped():
    b = GraphBuilder()
    y = b.input("x", (2, 3), F32)
    for i in range(6):
        y = op(b, "Relu", [y], f"r{i}")
    assert groups_of(b.build([y]), max_group_size=4) == [["r0", "r1", "r2", "r3"], ["r4", "r5"]]


@pytest.fixture
def opaque_relu(monkeypatch):
    relu = lookup_op("Relu")
    monkeypatch.setitem(registry._REGISTRY, "Relu",
                        dataclasses.replace(relu, pattern=OpPattern.OPAQUE))


def _add_relu_mul():
    b = GraphBuilder()
    x = b.input("x", (2, 3), F32)
    y = op(b, "Relu", [op(b, "Add", [x, x], "add")], "relu")
    return b.build([op(b, "Mul", [y, x], "mul")])


def test_nothing_fuses_across_an_opaque_op(opaque_relu):
    assert groups_of(_add_relu_mul()) == [["add"], ["relu"], ["mul"]]


def test_the_same_graph_fuses_when_nothing_is_opaque():
    assert groups_of(_add_relu_mul()) == [["add", "relu", "mul"]]
