"""Convolutions with constant weights compiled as PackedConv (output-channel blocks
vectorized, a rows x columns register tile), against onnxruntime, with the fused
bias/activation/residual epilogue, on strides, pads, dilations, groups, batches and
planes that are and are not friendly to the tile."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.compiler.schedule.defaults import blocked_conv_tile

ort = pytest.importorskip("onnxruntime")

CASES = [  # (batch, in ch, out ch, size, kernel, stride, pad, dilation, group)
    (1, 16, 32, 14, 3, 1, 1, 1, 1),    # one row of 14 columns x one vector
    (1, 8, 16, 7, 3, 1, 1, 1, 1),      # odd plane: one row of 7
    (2, 5, 24, 13, 3, 2, 1, 1, 1),     # strided, batch 2, 24 channels: one vector
    (1, 12, 16, 13, 1, 1, 0, 1, 1),    # 1x1 on a 13x13 plane (not a multiple of 16)
    (1, 16, 32, 12, 3, 1, 2, 2, 1),    # dilated
    (1, 32, 32, 10, 3, 1, 1, 1, 2),    # grouped, 16 channels per group
    (1, 3, 16, 23, 7, 2, 3, 1, 1),     # a stem: 7x7/2 on 3 channels
    (1, 8, 16, 6, 5, 1, 0, 1, 1),      # no padding, output 2x2 (a tiny tile)
    (1, 8, 48, 7, 1, 1, 0, 1, 4),      # 12 channels per group: blocks of 4, half vectors
    (1, 12, 204, 14, 1, 1, 0, 1, 3),   # shufflenet's 68 channels per group
    (1, 8, 136, 14, 1, 1, 0, 1, 4),    # 34 channels per group: 9 blocks of 4, zero-padded
    (1, 6, 30, 7, 3, 1, 1, 1, 2),      # 15 channels per group: 2 blocks of 8, zero-padded
]


def _model(n, ic, oc, size, k, s, p, d, g, rng):
    w = rng.standard_normal((oc, ic // g, k, k)).astype(np.float32)
    bias = rng.standard_normal(oc).astype(np.float32)
    out = (size + 2 * p - d * (k - 1) - 1) // s + 1
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k],
                              strides=[s, s], pads=[p] * 4, dilations=[d, d], group=g),
             helper.make_node("Relu", ["c"], ["a"]),
             helper.make_node("Add", ["a", "r"], ["y"])]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, ic, size, size]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [n, oc, out, out])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, oc, out, out])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out


@pytest.mark.parametrize("case", CASES, ids=["x".join(map(str, c)) for c in CASES])
def test_packed_conv_matches_onnxruntime(case):
    n, ic, oc, size, *_ = case
    rng = np.random.default_rng(sum(case))
    model, out = _model(*case, rng)
    module = tc.compile(model)
    assert "PackedConv" in module.metadata["steps"][0]["label"]
    feeds = {"x": rng.standard_normal((n, ic, size, size)).astype(np.float32),
             "r": rng.standard_normal((n, oc, out, out)).astype(np.float32)}
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_allclose(module.run(list(feeds.values()))[0], want, rtol=1e-4, atol=1e-4)


def test_conv_read_twice_is_computed_whole():
    """A conv whose result is both a graph output and read by a Relu has no single
    epilogue: the blocked conv runs at root and its NCHW copy is a separate stage."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 7, 7])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 16, 7, 7]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 7, 7])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((1, 4, 7, 7)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    got = tc.compile(model).run([x])
    for g_, w_ in zip(got, want):
        np.testing.assert_allclose(g_, w_, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("h,w,channels,tile", [
    (14, 14, 256, (1, 14, 1)),   # 14 accumulators of one vector
    (7, 7, 512, (1, 7, 1)),      # 7 is prime: one row
    (9, 9, 8, (1, 9, 1)),        # 8 channels: one vector only
    (4, 4, 8, (2, 4, 1)),        # rows where the columns fall short
    (12, 12, 64, (1, 6, 2)),     # 12 accumulators of two vectors
    (13, 13, 1000, (1, 13, 1)),
    (5, 5, 16, (1, 5, 2)),
    (5, 5, 8, None),             # at most 5 accumulators: keep the plain Conv
])
def test_tile_fills_the_registers_without_guards(h, w, channels, tile):
    assert blocked_conv_tile(h, w, channels) == tile


@pytest.mark.parametrize("h,w,channels,tile", [
    (14, 14, 256, (2, 2, 2)),    # two vectors of 8 accumulators over 14 of one
    (56, 56, 64, (1, 4, 2)),
    (7, 7, 512, (1, 7, 1)),      # no two-vector tile reaches 8 accumulators
])
def test_a_kernel_of_several_taps_prefers_two_vectors(h, w, channels, tile):
    assert blocked_conv_tile(h, w, channels, taps=9) == tile
