"""Property: random graphs of elementwise, broadcast and reduction ops compute the same
with and without the pass pipeline, and compiled by tc (numpy references as the oracle)."""
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tc.compiler.build import build, default_pipeline
from tc.compiler.graph import GraphBuilder
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.passes.manager import run_passes
from tc.runtime.module import load
from tc.targets import Target

SHAPE = (2, 3, 4, 5)
UNARY = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh", "Identity"]
BINARY = ["Add", "Sub", "Mul", "Max"]


@st.composite
def random_graphs(draw):
    """(graph, inputs): a chain-with-branches of random ops over float32[2, 3, 4, 5]."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    b = GraphBuilder("random")
    values = [b.input("x", SHAPE, "float32"), b.input("y", (1, 3, 1, 1), "float32")]
    for step in range(draw(st.integers(2, 9))):
        kind = draw(st.sampled_from(["unary", "binary", "const", "noop", "softmax", "pool"]))
        a = draw(st.sampled_from([v for v in values if v.type.shape == SHAPE]))
        if kind == "unary":
            out, = b.op(draw(st.sampled_from(UNARY)), [a])
        elif kind == "binary":
            other = draw(st.sampled_from(values))
            out, = b.op(draw(st.sampled_from(BINARY)), [a, other])
        elif kind == "const":  # a per-channel or scalar constant operand
            shape = draw(st.sampled_from([(3, 1, 1), (5,), ()]))
            c = b.constant(rng.uniform(0.5, 1.5, shape).astype(np.float32), "c")
            out, = b.op(draw(st.sampled_from(["Add", "Mul"])), [a, c])
        elif kind == "noop":  # Add of zero / Mul by one: simplification fodder
            op, v = draw(st.sampled_from([("Add", 0.0), ("Mul", 1.0)]))
            out, = b.op(op, [a, b.constant(np.full((1,), v, np.float32), "k")])
        elif kind == "softmax":
            out, = b.op("Softmax", [a], {"axis": draw(st.integers(0, 3))})
        else:  # a reduction broadcast back: x + GlobalAveragePool(x)
            p, = b.op("GlobalAveragePool", [a])
            out, = b.op("Add", [a, p])
        values.append(out)
    outputs = [values[-1]] + ([values[-2]] if draw(st.booleans()) and values[-2].type.shape == SHAPE
                              and values[-2].name not in ("x", "y") else [])
    inputs = [rng.standard_normal(SHAPE).astype(np.float32),
              rng.standard_normal((1, 3, 1, 1)).astype(np.float32)]
    return b.build(outputs), inputs


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_pipeline_and_compiled_code_preserve_results(case):
    graph, inputs = case
    expected = evaluate(graph, inputs)
    optimized, _ = run_passes(graph, default_pipeline(), verify_each=True)
    for got, want in zip(evaluate(optimized, inputs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with tempfile.TemporaryDirectory() as tmp:
        build(graph, Target.parse("llvm"), f"{tmp}/g.so")
        compiled = load(f"{tmp}/g.so").run(inputs)
    for got, want in zip(compiled, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
