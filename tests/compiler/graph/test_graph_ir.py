"""The graph IR's builder, printer, verifier and numpy evaluator."""
import dataclasses

import numpy as np
import pytest

from tc.compiler.graph import GraphBuilder, GraphError, TensorType, Value, verify
from tc.compiler.graph.evaluate import evaluate


def _graph():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "float32")
    w = b.constant(np.arange(1, 7, dtype=np.float32).reshape(3, 2), "w")
    y, = b.op("MatMul", [x, w], name="mm")
    z, = b.op("Relu", [y])
    return b.build([z])


def test_builder_infers_types_and_verifies():
    g = _graph()
    verify(g)
    assert g.nodes[0].outputs[0].type == TensorType((2, 2), "float32")
    assert [n.op for n in g.nodes] == ["MatMul", "Relu"]


def test_printer_shows_types_ops_and_attrs():
    b = GraphBuilder("p")
    x = b.input("x", (1, 2), "float32")
    y, = b.op("Transpose", [x], {"perm": (1, 0)})
    text = str(b.build([y]))
    assert "graph p(%x: float32[1, 2])" in text
    assert "%transpose: float32[2, 1] = Transpose(%x; perm=[1, 0])" in text


def test_verifier_reports_wrong_types_and_undefined_values():
    g = _graph()
    bad_node = dataclasses.replace(g.nodes[1], outputs=(Value("relu", TensorType((2, 3), "float32")),))
    bad = dataclasses.replace(g, nodes=(g.nodes[0], bad_node))
    with pytest.raises(GraphError, match="inference gives"):
        verify(bad)
    with pytest.raises(GraphError, match="before it is defined"):
        verify(dataclasses.replace(g, nodes=g.nodes[::-1]))


def test_evaluate_runs_the_references():
    g = _graph()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3)).astype(np.float32)
    (y,) = evaluate(g, [x])
    np.testing.assert_allclose(y, np.maximum(x @ g.constants["w"], 0), rtol=1e-6)
    with pytest.raises(ValueError, match="must be float32"):
        evaluate(g, [x.astype(np.float64)])
