"""Reductions, arg-reductions, scans, TopK, Einsum and Det: the compiled op and its numpy
reference against onnxruntime, on one-node models with random non-zero data of each dtype.

``check`` is shared with test_normalization_ops.
"""
import numpy as np
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model

I64 = np.int64


def rand(shape, dtype="float32", seed=0, distinct=False):
    """Random non-zero data; ``distinct`` avoids ties (for arg-reductions and TopK)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        if distinct:
            v = (rng.permutation(n) + 1.0) * rng.choice([-1, 1], n) / 4
        else:
            v = rng.uniform(0.5, 1.5, n) * rng.choice([-1, 1], n)
    elif np.dtype(dtype).kind == "b":
        v = rng.integers(0, 2, n)
    else:
        lo = 1 if np.dtype(dtype).kind == "u" else -4
        v = rng.permutation(n) + lo if distinct else rng.integers(lo, 5, n)
        v = np.where(v == 0, 1, v)
    return np.asarray(v).astype(dtype).reshape(shape)


def model_of(op, inputs, attrs, opset, n_outputs=1):
    return typed_model(op, inputs, attrs, opset, n_outputs)


def check(op, inputs, attrs=None, opset=18, n_outputs=1, rtol=1e-5, atol=1e-6):
    """The compiled model and the numpy references both match onnxruntime."""
    model, feeds = model_of(op, inputs, attrs or {}, opset, n_outputs)
    expected = run_onnxruntime(model, feeds)
    graph = from_onnx(model)
    ordered = [feeds[v.name] for v in graph.inputs]
    mod = tc.compile(model)
    compiled = mod.run([feeds[s["name"]] for s in mod.metadata["inputs"]])
    for got in (evaluate(graph, ordered), compiled):
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


REDUCE_OPS = ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]
INT_REDUCE_OPS = ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean", "ReduceL1",
                  "ReduceSumSquare"]


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("axes,keepdims", [((1,), 1), ((0, -1), 0), (None, 1), (None, 0)])
def test_reduce_float(op, axes, keepdims):
    x = rand((2, 3, 4))
    if op == "ReduceLogSum":
        x = np.abs(x)
    attrs = {"keepdims": keepdims}
    check(op, [x, None if axes is None else Const(np.array(axes, I64))], attrs, 18, rtol=1e-5)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMean", "ReduceL2"])
def test_reduce_axes_attribute_before_opset_18(op):
    check(op, [rand((3, 4, 2))], {"axes": [0, 2], "keepdims": 0}, 11)


@pytest.mark.parametrize("op", INT_REDUCE_OPS)
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_reduce_int(op, dtype):
    check(op, [rand((3, 4), dtype), Const(np.array([1], I64))], {"keepdims": 0}, 18)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("dtype", ["float16", "float64", "uint8", "int8"])
def test_reduce_max_min_dtypes(op, dtype):
    check(op, [rand((3, 5), dtype), Const(np.array([0], I64))], {}, 18)


def test_reduce_noop_with_empty_axes():
    check("ReduceSum", [rand((2, 3)), Const(np.array([], I64))], {"noop_with_empty_axes": 1}, 18)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceProd", "ReduceMax", "ReduceLogSumExp"])
def test_reduce_empty_set(op):
    check(op, [rand((2, 0, 4)), Const(np.array([1], I64))], {"keepdims": 1}, 18)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("attrs", [{}, {"axis": -1, "keepdims": 0}, {"axis": 1, "select_last_index": 1}])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_arg(op, attrs, dtype):
    x = rand((3, 4, 2), dtype, distinct=True)
    if attrs.get("select_last_index"):
        x = np.round(x / 3).astype(dtype)  # ties: the last index must win
    check(op, [x], attrs, 13)


@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_scan(op, exclusive, reverse):
    check(op, [rand((3, 5)), Const(np.array(1, I64))],
          {"exclusive": exclusive, "reverse": reverse}, 26 if op == "CumProd" else 14)


@pytest.mark.parametrize("dtype", ["int32", "float64"])
def test_cumsum_dtypes_negative_axis(dtype):
    check("CumSum", [rand((2, 3, 4), dtype), Const(np.array(-2, I64))], {}, 14)


@pytest.mark.parametrize("attrs,k", [({}, 2), ({"axis": 0, "largest": 0}, 3), ({"axis": 1}, 4)])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_topk(attrs, k, dtype):
    check("TopK", [rand((4, 5), dtype, distinct=True), Const(np.array([k], I64))], attrs, 11, 2)


def test_topk_ties_take_the_lower_index():
    x = np.array([[1, 3, 3, 2, 3], [0, 0, 1, 1, 0]], np.float32)
    check("TopK", [x, Const(np.array([3], I64))], {}, 11, 2)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i,i", [(5,), (5,)]),
    ("ij", [(3, 4)]),
    ("...j,j->...", [(2, 3, 4), (4,)]),
    ("ij->", [(3, 4)]),
])
def test_einsum(equation, shapes):
    check("Einsum", [rand(s, seed=i) for i, s in enumerate(shapes)], {"equation": equation}, 12)


def test_einsum_int():
    check("Einsum", [rand((3, 4), "int32"), rand((4, 2), "int32", 1)], {"equation": "ij,jk->ik"}, 12)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 2)])
def test_det(shape):
    check("Det", [rand(shape)], {}, 11, rtol=1e-4, atol=1e-5)
