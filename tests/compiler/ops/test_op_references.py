"""Every op's numpy reference against onnxruntime, through a one-node ONNX model.

The model goes through ``from_onnx`` (so the canonical attributes the frontend produces
are what the reference sees) and ``evaluate`` (which runs the references).
"""
import numpy as np
import pytest
from onnx import numpy_helper

from tc.compiler.graph import verify
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import one_node_model, run_onnxruntime

I64 = np.int64
POSITIVE_ONLY = {"Sqrt", "Log"}
CASES = [
    # (op, inputs, attrs, opset)
    ("Relu", [(2, 3, 4)], {}, 17),
    ("Sigmoid", [(3, 5)], {}, 17),
    ("Tanh", [(3, 5)], {}, 17),
    ("Exp", [(3, 5)], {}, 17),
    ("Sqrt", [(3, 5)], {}, 17),
    ("Log", [(3, 5)], {}, 17),
    ("Abs", [(3, 5)], {}, 17),
    ("Neg", [(3, 5)], {}, 17),
    ("Floor", [(3, 5)], {}, 17),
    ("Reciprocal", [(3, 5)], {}, 17),
    ("Erf", [(3, 5)], {}, 17),
    ("Add", [(2, 3, 4), (4,)], {}, 17),
    ("Sub", [(2, 1, 4), (3, 1)], {}, 17),
    ("Mul", [(2, 3, 4), (2, 3, 4)], {}, 17),
    ("Div", [(1, 3, 1), (2, 1, 4)], {}, 17),
    ("Sum", [(2, 3), (3,), (1, 3)], {}, 17),
    ("Sum", [(2, 3)], {}, 9),
    ("Max", [(2, 3), (3,)], {}, 17),
    ("Mean", [(2, 3), (2, 3), (2, 3)], {}, 17),
    ("Clip", [(3, 4)], {"min": -0.8, "max": 0.9}, 9),
    ("Clip", [(3, 4), np.array(-0.8, np.float32), None], {}, 13),
    ("Cast", [(3, 4)], {"to": 6}, 17),
    ("Conv", [(1, 4, 7, 7), (6, 4, 3, 3), (6,)], {"pads": [1, 0, 2, 1], "strides": [2, 1]}, 9),
    ("Conv", [(2, 4, 6, 6), (8, 2, 3, 3)], {"group": 2, "dilations": [2, 1]}, 11),
    ("Conv", [(1, 3, 6, 6), (3, 1, 3, 3), (3,)], {"group": 3, "auto_pad": "SAME_UPPER",
                                                  "strides": [2, 2]}, 17),
    ("Conv", [(1, 2, 5, 5), (3, 2, 2, 2)], {"auto_pad": "SAME_LOWER"}, 17),
    ("Conv", [(1, 2, 9), (3, 2, 3)], {"pads": [1, 1]}, 17),
    ("MaxPool", [(1, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, 9),
    ("MaxPool", [(1, 2, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, 12),
    ("MaxPool", [(1, 2, 8, 8)], {"kernel_shape": [2, 2], "dilations": [2, 2]}, 12),
    ("MaxPool", [(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                 "auto_pad": "SAME_UPPER"}, 12),
    ("AveragePool", [(1, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                     "pads": [1, 1, 1, 1]}, 9),
    ("AveragePool", [(1, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                     "pads": [1, 1, 1, 1], "count_include_pad": 1}, 9),
    ("AveragePool", [(1, 2, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 0, 0],
                                     "ceil_mode": 1}, 12),
    ("AveragePool", [(1, 2, 8, 8)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                     "ceil_mode": 1, "count_include_pad": 1}, 12),
    ("GlobalAveragePool", [(2, 3, 5, 4)], {}, 17),
    ("GlobalMaxPool", [(2, 3, 5, 4)], {}, 17),
    ("BatchNormalization", [(2, 3, 4, 4), (3,), (3,), (3,), np.array([0.5, 1.0, 2.0], np.float32)],
     {"epsilon": 1e-3}, 9),
    ("BatchNormalization", [(2, 3, 4), (3,), (3,), (3,), np.array([0.5, 1.0, 2.0], np.float32)],
     {}, 15),
    ("Softmax", [(2, 3, 4)], {"axis": 1}, 11),  # pre-13: coerced to 2-D
    ("Softmax", [(2, 3, 4)], {}, 9),
    ("Softmax", [(2, 3, 4)], {"axis": 1}, 13),
    ("LogSoftmax", [(2, 5)], {}, 13),
    ("LRN", [(1, 6, 3, 3)], {"size": 3, "alpha": 1e-2, "beta": 0.75, "bias": 2.0}, 9),
    ("LRN", [(1, 7, 2, 2)], {"size": 5}, 13),
    ("Gemm", [(3, 4), (5, 4), (5,)], {"transB": 1}, 9),
    ("Gemm", [(4, 3), (4, 5), (3, 1)], {"transA": 1, "alpha": 0.5, "beta": 2.0}, 11),
    ("Gemm", [(3, 4), (4, 5)], {}, 13),
    ("MatMul", [(2, 3, 4), (4, 5)], {}, 13),
    ("MatMul", [(4,), (2, 4, 5)], {}, 13),
    ("MatMul", [(2, 1, 3, 4), (3, 4, 2)], {}, 13),
    ("MatMul", [(3, 4), (4,)], {}, 13),
    ("Reshape", [(2, 3, 4), np.array([0, -1, 2], I64)], {}, 9),
    ("Reshape", [(2, 3, 4), np.array([4, -1, 2], I64)], {"allowzero": 1}, 14),
    ("Flatten", [(2, 3, 4)], {"axis": -1}, 13),
    ("Flatten", [(2, 3, 4)], {}, 9),
    ("Transpose", [(2, 3, 4)], {"perm": [1, 2, 0]}, 13),
    ("Transpose", [(2, 3, 4)], {}, 13),
    ("Concat", [(2, 3), (2, 1), (2, 2)], {"axis": -1}, 13),
    ("Unsqueeze", [(3, 4)], {"axes": [0, -1]}, 11),
    ("Unsqueeze", [(3, 4), np.array([1], I64)], {}, 13),
    ("Squeeze", [(1, 3, 1, 4)], {"axes": [0]}, 11),
    ("Squeeze", [(1, 3, 1, 4)], {}, 13),
    ("Squeeze", [(1, 3, 1, 4), np.array([-2], I64)], {}, 13),
    ("Identity", [(2, 3)], {}, 13),
    ("Dropout", [(2, 3)], {"ratio": 0.3}, 9),
    ("Dropout", [(2, 3)], {}, 13),
    ("Pad", [(2, 3)], {"pads": [1, 0, 0, 2], "value": 1.5}, 9),
    ("Pad", [(2, 3), np.array([1, 2, 1, 1], I64)], {"mode": "reflect"}, 13),
    ("Pad", [(2, 3), np.array([1, 2, 1, 1], I64)], {"mode": "edge"}, 13),
    ("Pad", [(2, 3, 4), np.array([1, 2], I64), np.array(0.5, np.float32), np.array([-1], I64)],
     {}, 18),
]


def _case_id(case):
    op, inputs, attrs, opset = case
    return f"{op}-opset{opset}-{'_'.join(sorted(attrs)) or 'plain'}"


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{_case_id(c)}" for i, c in enumerate(CASES)])
def test_reference_matches_onnxruntime(case):
    op, inputs, attrs, opset = case
    model, feeds = one_node_model(op, inputs, attrs, opset)
    if op in POSITIVE_ONLY:
        feeds = {k: np.abs(v) for k, v in feeds.items()}
    expected = run_onnxruntime(model, feeds)
    graph = from_onnx(model)
    verify(graph)
    got = evaluate(graph, [feeds[v.name] for v in graph.inputs])
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_constant_of_shape_takes_its_shape_as_an_attribute():
    value = numpy_helper.from_array(np.array([1.5], np.float32))
    model, _ = one_node_model("ConstantOfShape", [np.array([2, 3], I64)], {"value": value}, 13)
    graph = from_onnx(model)
    (node,) = graph.nodes
    assert node.op == "ConstantOfShape" and node.inputs == ()
    assert node.attr_dict == {"shape": (2, 3), "value": 1.5, "dtype": "float32"}
    (out,) = evaluate(graph, [])
    np.testing.assert_array_equal(out, run_onnxruntime(model, {})[0])
