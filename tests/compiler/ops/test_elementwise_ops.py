"""Element-wise ops over the dtype matrix: each compiled one-node model, and each numpy
reference, against onnxruntime on random non-zero data.

``typed_model`` builds a one-node model whose inputs are graph inputs of any dtype (so
nothing is constant-folded); the logic and activation tests use it too.
"""
import functools

import numpy as np
import pytest
from onnx import helper

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import run_onnxruntime, typed_model



def random_array(shape, dtype, rng, low=0.5, high=4.0, signed=True):
    """Random non-zero values of ``dtype`` with magnitudes in [low, high)."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    mag = rng.uniform(low, high, shape)
    if signed and not dtype.startswith("u"):
        mag = mag * rng.choice([-1, 1], shape)
    if not dtype.startswith("float"):
        mag = np.where(np.abs(mag) < 1, np.sign(mag), np.trunc(mag))
    return mag.astype(dtype)


def check(op, arrays, attrs=None, opset=18, rtol=1e-5, atol=1e-6, oracle=None):
    """Compiled op and numpy reference, both against onnxruntime (or against
    ``oracle(*arrays)`` where onnxruntime has no kernel for the dtype)."""
    model, feeds = typed_model(op, arrays, attrs, opset)
    try:
        (expected,) = run_onnxruntime(model, feeds)
    except Exception as e:
        if oracle is None or "NOT_IMPLEMENTED" not in str(e):
            raise
        expected = np.asarray(oracle(*arrays))
    (got,) = tc.compile(model).run(list(feeds.values()))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol)
    (ref,) = evaluate(from_onnx(model), list(feeds.values()))
    np.testing.assert_allclose(ref.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol)


def _tol(dtype):
    return dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else dict(rtol=1e-5, atol=1e-6)


UNARY_MATH = [
    # op, numpy oracle, low, high (input magnitudes), signed inputs
    ("Sin", np.sin, 0.1, 3.0, True), ("Cos", np.cos, 0.1, 3.0, True),
    ("Tan", np.tan, 0.1, 1.4, True), ("Asin", np.arcsin, 0.01, 0.999, True),
    ("Acos", np.arccos, 0.01, 0.999, True), ("Atan", np.arctan, 0.01, 30.0, True),
    ("Sinh", np.sinh, 1e-4, 5.0, True), ("Cosh", np.cosh, 0.1, 5.0, True),
    ("Asinh", np.arcsinh, 1e-4, 50.0, True), ("Acosh", np.arccosh, 1.001, 50.0, False),
    ("Atanh", np.arctanh, 1e-4, 0.999, True), ("Round", np.round, 0.0, 4.0, True),
    ("Exp", np.exp, 0.1, 3.0, True), ("Log", np.log, 0.1, 3.0, False),
    ("Sqrt", np.sqrt, 0.1, 3.0, False), ("Ceil", np.ceil, 0.1, 3.0, True),
    ("Floor", np.floor, 0.1, 3.0, True), ("Reciprocal", np.reciprocal, 0.5, 3.0, True),
]


_COMPOSED = {"Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"}


@pytest.mark.parametrize("op,oracle,low,high,signed,dtype",
                         [(*r, "float32") for r in UNARY_MATH]
                         + [(*r, "float64") for r in UNARY_MATH if r[0] in _COMPOSED],
                         ids=[f"{r[0]}-float32" for r in UNARY_MATH]
                         + [f"{r[0]}-float64" for r in UNARY_MATH if r[0] in _COMPOSED])
def test_unary_math(op, oracle, low, high, signed, dtype):
    x = random_array((3, 7), dtype, np.random.default_rng(0), low, high, signed)
    if op == "Round":
        x[0, :4] = np.array([0.5, 1.5, -2.5, 2.5], dtype)  # ties go to even
    check(op, [x], rtol=1e-6 if dtype == "float32" else 1e-11, atol=0, oracle=oracle)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Relu", "Sign"])
@pytest.mark.parametrize("dtype", ("int8", "int32", "int64", "float16", "float64"))
def test_unary_signed(op, dtype):
    check(op, [random_array((4, 5), dtype, np.random.default_rng(1))], opset=18)


_ORACLES = {"Max": np.maximum, "Min": np.minimum,
            "Mean": lambda *xs: sum(x.astype(np.float64) for x in xs) / len(xs)}


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
@pytest.mark.parametrize("dtype", ("int8", "uint16", "int32", "uint64", "float16", "float64"))
def test_binary_dtypes(op, dtype):
    rng = np.random.default_rng(2)
    signed = not dtype.startswith("u")
    a = random_array((2, 3, 4), dtype, rng, 1, 100 if dtype not in ("int8", "uint8") else 12, signed)
    b = random_array((3, 1), dtype, rng, 1, 9, signed)
    if op == "Sub" and not signed:
        a = a + np.asarray(10, dtype)
    check(op, [a, b], oracle=_ORACLES.get(op), **_tol(dtype))


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ("int8", "int32", "int64", "uint16", "uint64", "float32", "float64"))
def test_mod(fmod, dtype):
    if fmod == 0 and dtype.startswith("float"):
        pytest.skip("ONNX requires fmod=1 for floats")
    rng = np.random.default_rng(3)
    a = random_array((3, 4), dtype, rng, 1, 60, True)
    b = random_array((4,), dtype, rng, 1, 9, True)
    check("Mod", [a, b], {"fmod": fmod}, opset=13)


@pytest.mark.parametrize("base,exponent", [("float32", "int32"), ("float32", "int64"),
                                           ("int32", "float32"), ("int64", "int64"),
                                           ("float64", "float32")])
def test_pow_mixed_dtypes(base, exponent):
    rng = np.random.default_rng(4)
    x = random_array((3, 4), base, rng, 1, 5, False)
    y = np.array([1, 2, 3, 0], exponent)
    check("Pow", [x, y], opset=15)


@pytest.mark.parametrize("dtype", ("int8", "uint8", "int64", "float16", "float64"))
def test_clip_dtypes(dtype):
    x = random_array((3, 5), dtype, np.random.default_rng(5), 1, 9, not dtype.startswith("u"))
    lo, hi = np.array(2, dtype), np.array(6, dtype)
    check("Clip", [x, lo, hi], opset=13)  # run-time bounds: Max/Min nodes


@pytest.mark.parametrize("src", ("bool", "int8", "uint64", "float16", "float64"))
@pytest.mark.parametrize("dst", ("bool", "uint16", "int64", "float16", "float32"))
def test_cast_matrix(src, dst):
    x = random_array((4, 3), src, np.random.default_rng(6), 0.5, 100, not src.startswith("u"))
    if not dst.startswith("float") and src.startswith("float"):
        x = np.abs(x) if dst.startswith("u") else x  # out-of-range casts are undefined
    to = helper.np_dtype_to_tensor_dtype(np.dtype(dst))
    check("Cast", [x], {"to": to}, opset=19)
    if dst != "float32":
        return
    model, feeds = typed_model("CastLike", [x, np.zeros(1, dst)], opset=19)
    (expected,) = run_onnxruntime(model, feeds)
    (got,) = tc.compile(model).run(list(feeds.values()))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("dtype", ("int32", "uint8", "float16", "float64"))
def test_variadic_dtypes(op, dtype):
    if op in ("Sum", "Mean") and not dtype.startswith("float"):
        pytest.skip(f"{op} is float-only in ONNX")
    rng = np.random.default_rng(7)
    arrays = [random_array(s, dtype, rng, 1, 9, not dtype.startswith("u"))
              for s in ((2, 3), (3,), (1, 3))]
    oracle = _ORACLES.get(op)
    check(op, arrays, oracle=oracle and (lambda *xs: functools.reduce(oracle, xs)
                                         if op != "Mean" else oracle(*xs)), **_tol(dtype))
