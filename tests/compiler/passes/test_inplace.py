"""In-place reuse: an elementwise kernel may overwrite an input that dies there."""
import numpy as np

from tc.compiler.graph import GraphBuilder
from tc.compiler.passes.fuse import make_group
from tc.compiler.passes.inplace import inplace_pairs
from tests.frontends.onnx_models import run_onnxruntime


def one_node_groups(g):
    """One kernel per node, whatever the fusion pass would do."""
    consumers = g.consumers()
    return [make_group(g, [n], consumers) for n in g.nodes]


def test_elementwise_chain_reuses_dying_inputs():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6), "float32")
    w = b.constant(np.ones((4, 4, 3, 3), np.float32), "w")
    c, = b.op("Conv", [x, w], {"pads": (1, 1, 1, 1), "strides": (1, 1), "dilations": (1, 1),
                                "group": 1}, name="conv")
    r, = b.op("Relu", [c], name="relu")
    s, = b.op("Sigmoid", [r], name="sig")
    y, = b.op("Add", [s, r], name="add")   # r is still read here: sig may not overwrite it
    g = b.build([y])
    pairs = inplace_pairs(g, one_node_groups(g))
    assert pairs == {"relu": "conv"}  # add writes the graph output; sig's input lives on


def test_reduction_and_shape_change_do_not_reuse():
    b = GraphBuilder()
    x = b.input("x", (2, 8), "float32")
    r, = b.op("Relu", [x], name="relu")
    s, = b.op("Softmax", [r], {"axis": 1}, name="softmax")
    t, = b.op("Transpose", [s], {"perm": (1, 0)}, name="tr")
    y, = b.op("Relu", [t], name="out")
    g = b.build([y])
    # relu reads a graph input; softmax is a reduction; transpose changes the shape
    assert inplace_pairs(g, one_node_groups(g)) == {}


def test_inplace_model_matches_onnxruntime(monkeypatch):
    from onnx import TensorProto, helper

    import tc.compiler.build

    # one kernel per node, so that several kernels overwrite their inputs
    monkeypatch.setattr(tc.compiler.build, "partition", one_node_groups)

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["b"]),
             helper.make_node("Mul", ["b", "x"], ["c"]), helper.make_node("Tanh", ["c"], ["d"]),
             helper.make_node("Softmax", ["d"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 50])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 50])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).standard_normal((3, 50)).astype(np.float32)
    mod = tc.compile(model)
    assert mod.build_report.memory.arena_bytes < mod.build_report.memory.naive_bytes
    np.testing.assert_allclose(mod.run([x])[0], run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-6)

