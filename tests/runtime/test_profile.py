"""Module.profile: per-step timings of the AOT plan, labelled, with each kernel's FLOPs."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.runtime.module import ArtifactError


def _mlp():
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((24, 32)).astype(np.float32)
    w2 = rng.standard_normal((32, 16)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 24])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, 16])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w1, w2


def test_profile_times_every_step_and_still_computes():
    model, w1, w2 = _mlp()
    module = tc.compile(model)
    x = np.random.default_rng(1).standard_normal((6, 24)).astype(np.float32)
    steps = module.profile([x], repeat=3, warmup=1)
    assert [s["kernel"] for s in steps] == [s["kernel"] for s in module.metadata["steps"]]
    assert len(steps) == 2 and all(s["ms"] > 0 for s in steps)
    assert steps[0]["label"].startswith("PackedMatMul+Relu 6x24 -> 6x32")
    # a multiply-add per (row, column, k), plus the relu's one op per element
    assert steps[0]["flops"] == 2 * 6 * 32 * 24 + 6 * 32
    assert steps[1]["flops"] == 2 * 6 * 16 * 32
    np.testing.assert_allclose(module.run([x])[0], np.maximum(x @ w1, 0) @ w2, rtol=1e-4,
                               atol=1e-4)


def test_profile_checks_inputs_like_run():
    module = tc.compile(_mlp()[0])
    with pytest.raises(ValueError, match="x"):
        module.profile([np.zeros((6, 25), np.float32)], repeat=1)
    with pytest.raises(ValueError, match="repeat"):
        module.profile([np.zeros((6, 24), np.float32)], repeat=0)


def test_an_artifact_without_step_metadata_says_to_rebuild(tmp_path):
    module = tc.compile(_mlp()[0])
    module._metadata = {k: v for k, v in module.metadata.items() if k != "steps"}
    with pytest.raises(ArtifactError, match="rebuild"):
        module.profile([np.zeros((6, 24), np.float32)], repeat=1)
