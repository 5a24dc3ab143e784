"""remove_noops: before graph -> expected graph; graph output names are kept."""
import numpy as np

from tc.compiler.graph import Graph, GraphBuilder, Node, verify
from tc.compiler.passes.remove_noops import remove_noops
from tc.compiler.passes.simplify import simplify
from tests.compiler.passes.simplify_helpers import assert_same_results


def test_every_kind_of_noop_is_removed():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    v, = b.op("Identity", [r])
    v, = b.op("Dropout", [v])
    v, = b.op("Reshape", [v], {"shape": (2, 3)})
    v, = b.op("Transpose", [v], {"perm": (0, 1)})
    v, = b.op("Cast", [v], {"to": "float32"})
    v, = b.op("Pad", [v], {"pads": (0, 0, 0, 0), "mode": "constant", "value": 0.0})
    v, = b.op("Clip", [v])
    v, = b.op("Concat", [v], {"axis": 0})
    v, = b.op("Add", [v, b.constant(np.zeros(3, np.float32), "zeros")])
    v, = b.op("Mul", [b.constant(np.ones((1, 3), np.float32), "ones"), v])
    v, = b.op("Sub", [v, b.constant(np.zeros((), np.float32), "zero")])
    v, = b.op("Div", [v, b.constant(np.ones((), np.float32), "one")])
    y, = b.op("Exp", [v], output_names=["y"])
    before = b.build([y])

    after = simplify(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs,
                     [Node("Relu", (x,), (r,)), Node("Exp", (r,), (y,))], {}, "g")
    assert after.structurally_equal(expected)


def test_a_removed_noop_hands_its_graph_output_name_to_the_producer():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    y, = b.op("Identity", [r], output_names=["y"])
    z, = b.op("Exp", [r], output_names=["z"])
    before = b.build([y, z])

    after = remove_noops(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs,
                     [Node("Relu", (x,), (y,)), Node("Exp", (y,), (z,))], {}, "g")
    assert after.structurally_equal(expected)


def test_two_outputs_of_one_value_keep_an_identity():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    y1, = b.op("Identity", [r], output_names=["y1"])
    y2, = b.op("Identity", [r], output_names=["y2"])
    before = b.build([y1, y2])

    after = remove_noops(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs,
                     [Node("Relu", (x,), (y1,)), Node("Identity", (y1,), (y2,))], {}, "g")
    assert after.structurally_equal(expected)
    assert remove_noops(after) is after


def test_noops_on_graph_inputs_constants_and_outputs_stay():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "float32")
    y1, = b.op("Identity", [x], output_names=["y1"])
    y2, = b.op("Identity", [b.constant(np.arange(4, dtype=np.float32), "c")])
    r, = b.op("Relu", [x], output_names=["r"])
    y3, = b.op("Identity", [r], output_names=["y3"])
    before = b.build([y1, y2, r, y3])  # r is itself an output: y3 cannot take its place

    assert simplify(before) is before


def test_ops_that_change_the_value_or_its_shape_stay():
    b = GraphBuilder("g")
    x = b.input("x", (3,), "float32")
    v, = b.op("Add", [x, b.constant(np.zeros((2, 3), np.float32), "zeros")])  # broadcasts
    v, = b.op("Mul", [v, b.constant(np.full(3, 2.0, np.float32), "two")])
    v, = b.op("Sub", [b.constant(np.zeros((), np.float32), "zero"), v])      # 0 - v
    v, = b.op("Div", [b.constant(np.ones((), np.float32), "one"), v])        # 1 / v
    v, = b.op("Reshape", [v], {"shape": (3, 2)})
    v, = b.op("Transpose", [v], {"perm": (1, 0)})
    v, = b.op("Cast", [v], {"to": "float64"})
    before = b.build([v])

    assert remove_noops(before) is before


def test_removing_noops_keeps_the_numbers():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4), "float32")
    v, = b.op("Squeeze", [x], {"axes": ()})
    v, = b.op("Add", [v, b.constant(np.zeros((3, 1), np.float32), "zeros")])
    v, = b.op("Tanh", [v])
    v, = b.op("Flatten", [v], {"axis": 1})
    w, = b.op("Unsqueeze", [v], {"axes": ()})
    before = b.build([w])
    after = simplify(before)
    assert [n.op for n in after.nodes] == ["Tanh", "Flatten"]
    assert_same_results(before, after)
