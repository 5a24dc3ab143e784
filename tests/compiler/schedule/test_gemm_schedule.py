"""The register-tiled GEMM schedule (packed and unpacked B, with and without a fused
epilogue) against numpy on awkward sizes: primes, sizes smaller than one tile, rows that
are no multiple of the tile's, columns that are no multiple of the vector width."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc

SIZES = [(1, 7, 16), (2, 3, 32), (6, 13, 48), (7, 17, 33), (12, 64, 16), (13, 31, 64),
         (20, 9, 80), (24, 40, 160), (97, 53, 112)]


def _compile(nodes, inputs, inits, out_shape):
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              inits)
    return tc.compile(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.parametrize("m,k,n", SIZES, ids=[f"{m}x{k}x{n}" for m, k, n in SIZES])
@pytest.mark.parametrize("weights", ["constant", "input"])
def test_matmul(m, k, n, weights):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])]
    inits = []
    if weights == "constant":
        inits.append(numpy_helper.from_array(b, "b"))
    else:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [k, n]))
    module = _compile([helper.make_node("MatMul", ["a", "b"], ["y"])], inputs, inits, [m, n])
    feeds = [a] if weights == "constant" else [a, b]
    np.testing.assert_allclose(module.run(feeds)[0], a @ b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("m,k,n", [(6, 5, 32), (13, 31, 64), (24, 40, 160)])
def test_matmul_with_fused_bias_and_relu(m, k, n):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "bias"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    module = _compile(nodes, [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, m, k])],
                      [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "bias")],
                      [2, m, n])
    np.testing.assert_allclose(module.run([a])[0], np.maximum(a @ w + bias, 0), rtol=1e-5,
                               atol=1e-4)


@pytest.mark.parametrize("m,k,n", [(1, 64, 32), (5, 23, 48), (12, 50, 16)])
def test_gemm_transposed_weight_with_bias(m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    c = rng.standard_normal(n).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "w", "c"], ["y"], transB=1, beta=0.25)
    module = _compile([node], [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                      [numpy_helper.from_array(w, "w"), numpy_helper.from_array(c, "c")], [m, n])
    np.testing.assert_allclose(module.run([a])[0], a @ w.T + 0.25 * c, rtol=1e-5, atol=1e-4)
