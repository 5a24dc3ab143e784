"""Strided convolutions read a phase split of their padded input (one phase per stride
offset a tap reaches): compiled against onnxruntime on awkward shapes."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tests.frontends.onnx_models import run_onnxruntime

CASES = [  # (x shape, out channels, kernel, strides, pads, group)
    ((1, 3, 23, 19), 8, (7, 7), (2, 2), (3, 3, 3, 3), 1),
    ((2, 5, 12, 12), 6, (1, 1), (2, 2), (0, 0, 0, 0), 1),
    ((1, 4, 13, 11), 12, (3, 3), (2, 2), (1, 1, 1, 1), 1),
    ((1, 6, 14, 15), 6, (3, 2), (3, 2), (1, 0, 2, 1), 2),
    ((1, 4, 9, 16), 8, (2, 3), (2, 1), (0, 1, 1, 1), 1),
    ((1, 8, 16, 16), 16, (1, 1), (2, 2), (0, 0, 0, 0), 1),
]


@pytest.mark.parametrize("shape,oc,kernel,strides,pads,group", CASES,
                         ids=[f"k{c[2][0]}x{c[2][1]}s{c[3][0]}x{c[3][1]}g{c[5]}" for c in CASES])
def test_strided_conv_with_bias_relu(shape, oc, kernel, strides, pads, group):
    rng = np.random.default_rng(sum(shape) + oc)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((oc, shape[1] // group) + kernel).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=list(kernel),
                              strides=list(strides), pads=list(pads), group=group),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    want = run_onnxruntime(model, {"x": x})[0]
    got = tc.compile(model).run([x])[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
