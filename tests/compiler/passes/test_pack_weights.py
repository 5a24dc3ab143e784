"""pack_weights: a constant MatMul operand becomes contiguous K x NR panels, a constant
Conv weight output-channel blocks."""
import numpy as np

from tc.compiler.graph import Graph, GraphBuilder, Node, TensorType, Value, verify
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.ops.linalg import pack_panels
from tc.compiler.ops.packed_conv import pack_conv_weights
from tc.compiler.passes.pack_weights import PANEL_WIDTH, pack_weights
from tc.compiler.schedule.defaults import blocked_conv_tile


def test_constant_operand_is_packed_into_panels():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 2 * PANEL_WIDTH)).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", (3, 5), "float32")
    y, = b.op("MatMul", [x, b.constant(w, "w")], output_names=["y"])
    before = b.build([y])

    after = pack_weights(before)
    verify(after)
    panels = Value("w_panels", TensorType((2, 5, PANEL_WIDTH), "float32"))
    expected = Graph(before.inputs, before.outputs,
                     [Node("PackedMatMul", (x, panels), (y,), {"n": 2 * PANEL_WIDTH})],
                     {"w_panels": pack_panels(w, PANEL_WIDTH)}, "g")
    assert after.structurally_equal(expected), str(after)
    np.testing.assert_array_equal(after.constants["w_panels"][1, :, 3], w[:, PANEL_WIDTH + 3])
    xs = [rng.standard_normal((3, 5)).astype(np.float32)]
    np.testing.assert_allclose(evaluate(after, xs)[0], xs[0] @ w, rtol=1e-6)


def test_ragged_or_non_constant_operands_stay():
    b = GraphBuilder("g")
    x = b.input("x", (3, 5), "float32")
    y = b.input("y", (5, 16), "float32")
    p, = b.op("MatMul", [x, y])
    q, = b.op("MatMul", [x, b.constant(np.ones((5, 10), np.float32), "w")])
    before = b.build([p, q])
    assert pack_weights(before) is before


def test_gemm_with_transposed_weight_and_scaled_bias():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((PANEL_WIDTH, 6)).astype(np.float32)     # (N, K): transB
    c = rng.standard_normal(PANEL_WIDTH).astype(np.float32)
    b = GraphBuilder("g")
    x = b.input("x", (4, 6), "float32")
    y, = b.op("Gemm", [x, b.constant(w, "w"), b.constant(c, "c")],
              {"transB": 1, "beta": 0.5}, output_names=["y"])
    before = b.build([y])
    after = pack_weights(before)
    verify(after)
    assert [n.op for n in after.nodes] == ["PackedMatMul", "Add"]
    xs = [rng.standard_normal((4, 6)).astype(np.float32)]
    np.testing.assert_allclose(evaluate(after, xs)[0], xs[0] @ w.T + 0.5 * c, rtol=1e-5)


def test_conv_weights_are_packed_into_output_channel_blocks():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((32, 4, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    attrs = {"strides": (1, 1), "pads": (1, 1, 1, 1), "dilations": (1, 1), "group": 1}
    b = GraphBuilder("g")
    x = b.input("x", (1, 4, 14, 14), "float32")
    y, = b.op("Conv", [x, b.constant(w, "w"), b.constant(bias, "b")], attrs,
              output_names=["y"])
    before = b.build([y])

    after = pack_weights(before)
    verify(after)
    block = blocked_conv_tile(14, 14, 32, taps=9)[2] * 8
    blocks = Value("w_blocks", TensorType((32 // block, 4, 3, 3, block), "float32"))
    expected = Graph(before.inputs, before.outputs,
                     [Node("PackedConv", (x, blocks, before.nodes[0].inputs[2]), (y,),
                           dict(attrs, block=block, out_channels=32))],
                     {"w_blocks": pack_conv_weights(w, block), "b": bias}, "g")
    assert after.structurally_equal(expected), str(after)
    np.testing.assert_array_equal(after.constants["w_blocks"][1, 2, 0, 1, 3], w[block + 3, 2, 0, 1])
    xs = [rng.standard_normal((1, 4, 14, 14)).astype(np.float32)]
    np.testing.assert_allclose(evaluate(after, xs)[0], evaluate(before, xs)[0], rtol=1e-5,
                               atol=1e-5)


def test_depthwise_conv_stays():
    b = GraphBuilder("g")
    x = b.input("x", (1, 16, 8, 8), "float32")
    w = b.constant(np.ones((16, 1, 3, 3), np.float32), "w")
    y, = b.op("Conv", [x, w], {"strides": (1, 1), "pads": (1,) * 4, "dilations": (1, 1),
                               "group": 16})
    before = b.build([y])
    assert pack_weights(before) is before
