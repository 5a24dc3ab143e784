"""The ONNX Backend API: prepare/run compile real code; value-dependent inputs are bound
at the first run and the specialization follows their values."""
import numpy as np
from onnx import TensorProto, helper

from tc.frontends.onnx_backend import TcBackend
from tests.frontends.onnx_models import run_onnxruntime


def _reshape_model():
    node = helper.make_node("Reshape", ["x", "shape"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                                            helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_prepare_and_run_match_onnxruntime():
    from tc.examples import small_cnn

    model = small_cnn(seed=2)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    got, = TcBackend.prepare(model).run([x])
    np.testing.assert_allclose(got, run_onnxruntime(model, {"image": x})[0], rtol=1e-5, atol=1e-6)
    assert TcBackend.supports_device("CPU") and not TcBackend.supports_device("CUDA")


def test_value_dependent_input_is_bound_per_value():
    rep = TcBackend.prepare(_reshape_model())
    x = np.random.default_rng(1).standard_normal((2, 6)).astype(np.float32)
    a, = rep.run([x, np.array([3, 4], np.int64)])
    b, = rep.run([x, np.array([4, -1], np.int64)])
    np.testing.assert_array_equal(a, x.reshape(3, 4))
    np.testing.assert_array_equal(b, x.reshape(4, 3))
    assert rep.bound == ["shape"] and len(rep.specialized) == 2
