"""tc.compile(model, target="cuda -arch=...") end to end: the CUDA code generator's
kernels linked with the entry and the runtimes into a loadable artifact; on a GPU, the
models match onnxruntime."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.runtime import CudaError
from tests.conftest import gpu_usable
from tests.frontends.onnx_models import run_onnxruntime
from tests.models.light import LIGHT_MODELS
from tests.runtime import cuda_native


def mlp_model(rng, rows: int = 8, k: int = 64, n: int = 48) -> onnx.ModelProto:
    """softmax(relu(x @ W + B)) and x's row sums: a GEMM, a row reduction, a softmax;
    x is rows x k, W k x n."""
    w = numpy_helper.from_array((rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "B")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    graph = helper.make_graph([
        helper.make_node("MatMul", ["x", "W"], ["h"]),
        helper.make_node("Add", ["h", "B"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("Softmax", ["r"], ["y"], axis=-1),
        helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0),
    ], "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, n]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [rows])], [w, b, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_model(rng) -> onnx.ModelProto:
    """relu(conv3x3(x) + bias) then a 2x2 max pool."""
    w = numpy_helper.from_array(rng.standard_normal((16, 8, 3, 3)).astype(np.float32) / 8, "W")
    b = numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "B")
    graph = helper.make_graph([
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
    ], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 8, 8])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


MODELS = {"mlp": (mlp_model, [(8, 64)]), "conv": (conv_model, [(1, 8, 16, 16)])}


def _compile(name: str, arch: str):
    cuda_native.require_nvcc()
    rng = np.random.default_rng(0)
    make, shapes = MODELS[name]
    model = make(rng)
    inputs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    return model, inputs, tc.compile(model, target=f"cuda -arch={arch}")


@pytest.mark.parametrize("name, arch", [("mlp", "sm_80"), ("mlp", "sm_90"), ("conv", "sm_80")])
def test_model_compiles_into_a_cuda_artifact(name, arch):
    model, inputs, mod = _compile(name, arch)
    meta = mod.metadata
    assert mod.device == "cuda" and meta["arch"] == arch
    assert meta["target"] == f"cuda -arch={arch}"
    assert meta["kernels"] and meta["constants_bytes"] > 0
    assert [o["name"] for o in meta["outputs"]] == [o.name for o in model.graph.output]
    assert mod.build_report.workspace_bytes == meta["device_workspace_bytes"]
    if not gpu_usable():
        with pytest.raises(CudaError, match="no usable CUDA device"):
            mod.run(inputs)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_onnxruntime_on_gpu(name):
    model, inputs, mod = _compile(name, "sm_80")
    expected = run_onnxruntime(model, {"x": inputs[0]})
    for _ in range(2):
        for got, ref in zip(mod.run(inputs), expected):
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime_on_gpu(name):
    from tests.models.light import model_path, ort_session, with_random_weights

    model = with_random_weights(onnx.load(model_path(name)), seed=1)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    sess = ort_session(model)
    expected = sess.run(None, {sess.get_inputs()[0].name: x})
    outputs = tc.compile(model, target="cuda").run([x])
    for out, ref in zip(outputs, expected):
        scale = float(np.max(np.abs(ref)))
        np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * scale)
