"""Shared checks for the simplify tests."""
from collections import Counter

import numpy as np

from tc.compiler.graph import Graph, verify
from tc.compiler.graph.evaluate import evaluate


def random_inputs(graph: Graph, seed: int = 0) -> list[np.ndarray]:
    """Non-zero random data for each graph input."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0.5, 1.5, v.type.shape) * rng.choice([-1, 1], v.type.shape))
            .astype(v.type.dtype) for v in graph.inputs]


def assert_same_results(before: Graph, after: Graph, rtol=1e-5, atol=1e-6) -> None:
    """``after`` verifies, keeps the signature, and computes what ``before`` does."""
    verify(after)
    assert after.inputs == before.inputs
    assert after.outputs == before.outputs
    x = random_inputs(before)
    for got, want in zip(evaluate(after, x), evaluate(before, x)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def op_counts(graph: Graph) -> Counter:
    return Counter(n.op for n in graph.nodes)
