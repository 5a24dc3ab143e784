"""merge_chains: reshape chains into one Reshape, transpose chains into one Transpose."""
from tc.compiler.graph import Graph, GraphBuilder, Node, verify
from tc.compiler.passes.merge_chains import merge_chains
from tc.compiler.passes.simplify import simplify
from tests.compiler.passes.simplify_helpers import assert_same_results


def test_a_reshape_chain_becomes_one_reshape():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    v, = b.op("Reshape", [r], {"shape": (6, 4)})
    v, = b.op("Unsqueeze", [v], {"axes": (0, 3)})
    v, = b.op("Flatten", [v], {"axis": 3})
    y, = b.op("Squeeze", [v], {"axes": (1,)}, output_names=["y"])
    before = b.build([y])

    after = merge_chains(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs,
                     [Node("Relu", (x,), (r,)), Node("Reshape", (r,), (y,), {"shape": (24,)})],
                     before.constants, "g")
    assert after.structurally_equal(expected)
    assert_same_results(before, after)


def test_a_transpose_chain_becomes_one_transpose_by_the_composed_permutation():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4, 5), "float32")
    v, = b.op("Transpose", [x], {"perm": (0, 2, 3, 1)})
    v, = b.op("Transpose", [v], {"perm": (3, 1, 0, 2)})
    y, = b.op("Transpose", [v], {"perm": (1, 0, 3, 2)}, output_names=["y"])
    before = b.build([y])

    after = merge_chains(before)
    verify(after)
    assert [n.op for n in after.nodes] == ["Transpose"] and after.nodes[0].outputs == (y,)
    assert_same_results(before, after)


def test_a_transpose_chain_that_composes_to_the_identity_disappears():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    v, = b.op("Transpose", [r], {"perm": (1, 2, 0)})
    y, = b.op("Transpose", [v], {"perm": (2, 0, 1)}, output_names=["y"])
    before = b.build([y])

    after = simplify(before)
    verify(after)
    assert after.structurally_equal(
        Graph(before.inputs, before.outputs, [Node("Relu", (x,), (y,))], {}, "g"))


def test_chains_stop_where_an_intermediate_has_another_reader():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 4), "float32")
    v, = b.op("Reshape", [x], {"shape": (6, 4)})
    w, = b.op("Reshape", [v], {"shape": (24,)})
    t, = b.op("Transpose", [x], {"perm": (1, 0, 2)})
    u, = b.op("Transpose", [t], {"perm": (0, 2, 1)})
    before = b.build([v, w, t, u])  # every intermediate is also a graph output
    assert merge_chains(before) is before


def test_a_channel_shuffle_is_left_alone():
    b = GraphBuilder("g")
    x = b.input("x", (1, 6, 2, 2), "float32")
    v, = b.op("Reshape", [x], {"shape": (1, 2, 3, 2, 2)})
    v, = b.op("Transpose", [v], {"perm": (0, 2, 1, 3, 4)})
    y, = b.op("Reshape", [v], {"shape": (1, 6, 2, 2)})
    before = b.build([y])
    assert simplify(before) is before
