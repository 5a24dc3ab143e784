"""1x1 convolutions scheduled as the GEMM micro-kernel over the flattened plane, against
numpy, with the fused bias/activation/residual epilogue, on awkward channel counts and
planes that are and are not a multiple of two vectors (7x7, 14x14: narrower vectors)."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc

CASES = [  # (batch, in channels, out channels, height, width)
    (1, 3, 12, 4, 4), (1, 17, 10, 8, 6), (2, 5, 6, 2, 8), (1, 8, 7, 4, 8), (1, 9, 12, 5, 5),
    (1, 31, 20, 4, 12),
    # planes that are no multiple of two vectors: one 7- or 5-lane vector under 8 rows
    (1, 9, 16, 7, 7), (1, 12, 24, 14, 14), (2, 5, 8, 3, 5), (1, 6, 12, 7, 7),
]


@pytest.mark.parametrize("n,ic,oc,h,w", CASES, ids=["x".join(map(str, c)) for c in CASES])
def test_pointwise_conv_bias_relu_residual(n, ic, oc, h, w):
    rng = np.random.default_rng(ic * oc + h)
    x = rng.standard_normal((n, ic, h, w)).astype(np.float32)
    r = rng.standard_normal((n, oc, h, w)).astype(np.float32)
    wt = rng.standard_normal((oc, ic, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(oc).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]),
             helper.make_node("Relu", ["c"], ["a"]),
             helper.make_node("Add", ["a", "r"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, ic, h, w]),
                     helper.make_tensor_value_info("r", TensorProto.FLOAT, [n, oc, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, oc, h, w])],
        [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(bias, "b")])
    module = tc.compile(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    want = np.maximum(np.einsum("oi,nihw->nohw", wt[:, :, 0, 0], x) + bias[:, None, None], 0) + r
    np.testing.assert_allclose(module.run([x, r])[0], want, rtol=1e-5, atol=1e-4)
