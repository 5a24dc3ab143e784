"""Whole light models with random weights: after simplify no BatchNormalization is left,
and the numpy evaluation of the simplified graph still matches onnxruntime."""
import numpy as np
import onnx
import pytest

from tc.compiler.graph import verify
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.passes.eliminate import eliminate
from tc.compiler.passes.fold_constants import fold_constants
from tc.compiler.passes.simplify import simplify
from tc.frontends.onnx import from_onnx
from tests.compiler.passes.simplify_helpers import op_counts, random_inputs
from tests.models.light import model_path, ort_session, with_random_weights


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "densenet121", "inception_v2"])
def test_simplified_model_has_no_batchnorm_and_matches_onnxruntime(name):
    model = with_random_weights(onnx.load(model_path(name)))
    graph = eliminate(fold_constants(from_onnx(model)))
    simplified = eliminate(simplify(graph))
    verify(simplified)
    counts = op_counts(simplified)
    assert counts["BatchNormalization"] == 0
    # every Conv's BatchNorm went into its weights: what Mul/Add is left follows no Conv
    producers = simplified.producers()
    assert not any(producers.get(n.inputs[0].name, n).op == "Conv"
                   for n in simplified.nodes if n.op in ("Mul", "Add"))
    assert counts["Mul"] < op_counts(graph)["BatchNormalization"]

    x = random_inputs(graph)
    got = evaluate(simplified, x)
    want = ort_session(model).run(None, {v.name: a for v, a in zip(graph.inputs, x)})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-6 * np.abs(w).max())
