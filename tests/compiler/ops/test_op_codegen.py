"""Every op's TE compute, through default schedules and LLVM code generation, against
onnxruntime: the one-node models of test_op_references, compiled by ``tc.compile``."""
import numpy as np
import pytest

import tc
from tests.compiler.ops.test_op_references import CASES, POSITIVE_ONLY, _case_id
from tests.frontends.onnx_models import one_node_model, run_onnxruntime


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{_case_id(c)}" for i, c in enumerate(CASES)])
def test_compiled_op_matches_onnxruntime(case):
    op, inputs, attrs, opset = case
    model, feeds = one_node_model(op, inputs, attrs, opset)
    if op in POSITIVE_ONLY:
        feeds = {k: np.abs(v) for k, v in feeds.items()}
    expected = run_onnxruntime(model, feeds)
    mod = tc.compile(model)
    got = mod.run([feeds[s["name"]] for s in mod.metadata["inputs"]])
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
