"""fold_constants and eliminate: before graph -> expected graph, verified after each pass."""
import numpy as np

from tc.compiler.graph import Graph, GraphBuilder, Node, verify
from tc.compiler.passes.eliminate import eliminate
from tc.compiler.passes.fold_constants import fold_constants


def test_fold_constants_cascades_through_constant_subgraphs():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "float32")
    w, = b.op("ConstantOfShape", [], {"shape": (3,), "value": 2.0, "dtype": "float32"},
              output_names=["w"])
    c = b.constant(np.arange(1, 4, dtype=np.float32), "c")
    wc, = b.op("Mul", [w, c], output_names=["wc"])
    y, = b.op("Add", [x, wc], output_names=["y"])
    before = b.build([y])
    verify(before)

    after = fold_constants(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs, [before.nodes[-1]],
                     {"c": before.constants["c"], "w": np.full(3, 2.0, np.float32),
                      "wc": np.array([2.0, 4.0, 6.0], np.float32)}, "g")
    assert after.structurally_equal(expected)


def test_fold_constants_respects_the_size_limit():
    b = GraphBuilder()
    w, = b.op("ConstantOfShape", [], {"shape": (1000,), "value": 1.0, "dtype": "float32"})
    g = b.build([w])
    assert fold_constants(g, max_bytes=100).structurally_equal(g)
    assert fold_constants(g, max_bytes=4000).nodes == ()


def test_eliminate_merges_duplicates_and_drops_dead_code():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "float32")
    c1 = b.constant(np.full(4, 3.0, np.float32), "c1")
    c2 = b.constant(np.full(4, 3.0, np.float32), "c2")  # same contents as c1
    unused = b.constant(np.ones(2, np.float32), "unused")
    a1, = b.op("Mul", [x, c1], output_names=["a1"])
    a2, = b.op("Mul", [x, c2], output_names=["a2"])  # a duplicate of a1 once c2 is c1
    dead, = b.op("Relu", [a2], output_names=["dead"])
    s, = b.op("Add", [a1, a2], output_names=["s"])
    before = b.build([s])
    del unused, dead

    after = eliminate(before)
    verify(after)
    n_mul = before.nodes[0]
    expected = Graph(before.inputs, before.outputs,
                     [n_mul, Node("Add", (a1, a1), (s,))],
                     {"c1": before.constants["c1"]}, "g")
    assert after.structurally_equal(expected)


def test_eliminate_keeps_distinct_attributes_apart():
    b = GraphBuilder()
    x = b.input("x", (2, 3), "float32")
    t1, = b.op("Transpose", [x], {"perm": (1, 0)})
    t2, = b.op("Reshape", [x], {"shape": (3, 2)})
    s, = b.op("Add", [t1, t2])
    g = b.build([s])
    assert eliminate(g).structurally_equal(g)
