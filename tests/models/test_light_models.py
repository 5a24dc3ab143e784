"""The nine light models compile and match the onnx package's reference outputs, and,
with random weights, onnxruntime."""
import numpy as np
import onnx
import pytest

import tc

from .light import (ATOL, LIGHT_MODELS, RTOL, model_path, ort_session, reference_outputs,
                    runner_inputs, with_random_weights)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_reference_output(name):
    model = onnx.load(model_path(name))
    inputs = runner_inputs(model, name)
    mod = tc.compile(model)
    outputs = mod.run(inputs)
    expected = reference_outputs(name, len(model.graph.output))
    assert len(outputs) == len(expected)
    for out, ref in zip(outputs, expected):
        np.testing.assert_allclose(out, ref, rtol=RTOL, atol=ATOL)
    memory = mod.build_report.memory
    assert memory.arena_bytes <= 1.05 * memory.lower_bound, memory


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet", "resnet50", "inception_v1"])
def test_light_model_with_random_weights_matches_onnxruntime(name):
    pytest.importorskip("onnxruntime")
    model = with_random_weights(onnx.load(model_path(name)), seed=1)
    rng = np.random.default_rng(2)
    inputs = [rng.uniform(-1, 1, s).astype(np.float32) for s in [(1, 3, 224, 224)]]
    sess = ort_session(model)
    expected = sess.run(None, {sess.get_inputs()[0].name: inputs[0]})
    outputs = tc.compile(model).run(inputs)
    for out, ref in zip(outputs, expected):
        assert np.ptp(ref) > 0, "random weights must give non-uniform outputs"
        scale = float(np.max(np.abs(ref)))
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * scale)
