"""Zero-copy Concat: producers write into their slice of the Concat's output."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.compiler.build import external_values
from tc.compiler.graph import GraphBuilder
from tc.compiler.passes.fuse import partition
from tc.compiler.passes.storage import assign_storage
from tests.frontends.onnx_models import run_onnxruntime

CONV = {"pads": (0, 0, 0, 0), "strides": (1, 1), "dilations": (1, 1), "group": 1}


def _conv(b, x, oc, name):
    w = b.constant(np.random.default_rng(len(name)).standard_normal((oc, x.type.shape[1], 1, 1))
                   .astype(np.float32), f"{name}_w")
    return b.op("Conv", [x, w], CONV, name=name)[0]


def _dense_chain():
    """x -> a; concat1 = [x', a]; b from concat1; concat2 = [concat1, b]; y = conv(concat2)."""
    b = GraphBuilder()
    x = b.input("x", (1, 2, 4, 4), "float32")
    x1, = b.op("Relu", [x], name="x1")
    a = _conv(b, x1, 3, "a")
    c1, = b.op("Concat", [x1, a], {"axis": 1}, name="concat1")
    b1 = _conv(b, c1, 2, "b")
    c2, = b.op("Concat", [c1, b1], {"axis": 1}, name="concat2")
    y = _conv(b, c2, 4, "y")
    return b.build([y])


def test_chained_concats_share_one_storage_and_their_kernels_vanish():
    g = _dense_chain()
    groups = partition(g)
    st = assign_storage(g, groups, external_values(g))
    f32 = 4 * 16  # bytes per channel of a 4x4 float32 map
    assert st.location["x1"] == ("concat2", 0)
    assert st.location["a"] == ("concat2", 2 * f32)
    assert st.location["concat1"] == ("concat2", 0)
    assert st.location["b"] == ("concat2", 5 * f32)
    assert {groups[i].nodes[0].name for i in st.elided} == {"concat1", "concat2"}


def test_concat_not_along_contiguous_slices_is_a_kernel():
    b = GraphBuilder()
    x = b.input("x", (1, 2, 4, 4), "float32")
    r, = b.op("Relu", [x], name="r")
    s, = b.op("Sigmoid", [x], name="s")
    c, = b.op("Concat", [r, s], {"axis": 2}, name="concat")  # rows: strided slices
    y, = b.op("Softmax", [c], {"axis": 1}, name="y")
    g = b.build([y])
    st = assign_storage(g, partition(g), external_values(g))
    assert st.elided == frozenset() and "r" not in st.location


def test_dense_block_model_matches_onnxruntime():
    rng = np.random.default_rng(0)
    inits, nodes, prev = [], [], "x"
    channels = 4
    for i in range(3):  # densenet-style: concat_i = Concat(concat_{i-1}, conv(relu(concat_{i-1})))
        w = numpy_helper.from_array(rng.standard_normal((2, channels, 3, 3)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [helper.make_node("Relu", [prev], [f"r{i}"]),
                  helper.make_node("Conv", [f"r{i}", f"w{i}"], [f"f{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Concat", [prev, f"f{i}"], [f"c{i}"], axis=1)]
        prev, channels = f"c{i}", channels + 2
    nodes.append(helper.make_node("GlobalAveragePool", [prev], ["y"]))
    graph = helper.make_graph(nodes, "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    mod = tc.compile(model)
    np.testing.assert_allclose(mod.run([x])[0], run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
    assert mod.build_report.kernels < len(nodes)
