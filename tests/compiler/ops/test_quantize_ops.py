"""Quantization ops (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
MatMulInteger, QLinearMatMul): the compiled one-node model and the numpy reference
against onnxruntime, every input a graph input (nothing constant-folded)."""
import numpy as np
import onnx
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model


def _model(op, arrays, attrs=None, opset=21, n_outputs=1):
    return typed_model(op, arrays, attrs, opset, n_outputs, ir_version=10)


def check(op, arrays, attrs=None, opset=21, n_outputs=1, atol=0.0):
    model, feeds = _model(op, arrays, attrs, opset, n_outputs)
    expected = run_onnxruntime(model, feeds)
    got = tc.compile(model).run(list(feeds.values()))
    ref = evaluate(from_onnx(model), list(feeds.values()))
    for e, g, r in zip(expected, got, ref):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), atol=atol,
                                   rtol=1e-6 if atol else 0)
        np.testing.assert_allclose(r.astype(np.float64), e.astype(np.float64), atol=atol,
                                   rtol=1e-6 if atol else 0)


def _x(shape, dtype="float32", seed=0, scale=40.0):
    """Random values plus exact halves of the unit scale (round-half-to-even cases)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-scale, scale, shape)
    x.reshape(-1)[::3] = np.round(x.reshape(-1)[::3]) + 0.5
    return x.astype(dtype)


QDTYPES = ("int8", "uint8", "int16", "uint16")


@pytest.mark.parametrize("dtype", QDTYPES)
@pytest.mark.parametrize("layout", ["tensor", "axis", "block"])
def test_quantize_linear(dtype, layout):
    x = _x((2, 4, 3), scale=300.0)
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1)
    shape = {"tensor": (), "axis": (4,), "block": (2, 2, 3)}[layout]
    scale = rng.choice([0.5, 1.0, 2.0], shape).astype(np.float32)
    zp = rng.integers(info.min // 4, info.max // 4 + 1, shape).astype(dtype)
    attrs = {"axis": 1, "block_size": 2} if layout == "block" else {"axis": 1}
    check("QuantizeLinear", [x, scale, zp], attrs)


def test_quantize_linear_float16():
    x = _x((3, 5), "float16")
    check("QuantizeLinear", [x, np.array(0.25, np.float16), np.array(3, np.int8)])


def test_quantize_linear_output_dtype_without_zero_point():
    x, scale = _x((2, 6), scale=100.0), np.array(0.5, np.float32)
    check("QuantizeLinear", [x, scale], {"output_dtype": onnx.TensorProto.INT16})
    check("QuantizeLinear", [x, scale])   # uint8 by default


@pytest.mark.parametrize("dtype", QDTYPES + ("int32",))
@pytest.mark.parametrize("layout", ["tensor", "axis", "block"])
def test_dequantize_linear(dtype, layout):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    lo, hi = max(info.min, -(2 ** 20)), min(info.max, 2 ** 20)
    x = rng.integers(lo, hi, (2, 4, 3)).astype(dtype)
    shape = {"tensor": (), "axis": (4,), "block": (2, 2, 3)}[layout]
    scale = rng.uniform(0.01, 2.0, shape).astype(np.float32)
    zp = rng.integers(lo // 4, hi // 4, shape).astype(dtype)
    attrs = {"axis": 1, "block_size": 2} if layout == "block" else {"axis": 1}
    check("DequantizeLinear", [x, scale, zp], attrs, atol=1e-6)


def test_dequantize_linear_float16_scale_no_zero_point():
    x = np.arange(-12, 12, dtype=np.int8).reshape(4, 6)
    check("DequantizeLinear", [x, np.array(0.3, np.float16)], atol=1e-3)


def _assert_same_values(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))


@pytest.mark.parametrize("dtype", ["int4", "uint4", "int2", "uint2"])
@pytest.mark.parametrize("layout", ["tensor", "axis"])
def test_quantize_narrow_ints_saturate(dtype, layout):
    """Rounded half to even, plus the zero point, clamped to the 4- or 2-bit range
    (numpy oracle: ONNX's formula, values far outside the range on purpose)."""
    x = _x((3, 5), scale=30.0, seed=7)
    rng = np.random.default_rng(8)
    shape = (3,) if layout == "axis" else ()
    scale = rng.choice([0.5, 1.0, 2.0], shape).astype(np.float32)
    lo, hi = (-(2 ** (int(dtype[-1]) - 1)), 2 ** (int(dtype[-1]) - 1) - 1) \
        if dtype.startswith("int") else (0, 2 ** int(dtype[-1]) - 1)
    zp = rng.integers(lo, hi + 1, shape).astype(dtype)
    model, feeds = _model("QuantizeLinear", [x, scale, zp], {"axis": 0})
    s = scale.reshape(-1, 1) if layout == "axis" else scale
    z = zp.astype(np.float64).reshape(-1, 1) if layout == "axis" else zp.astype(np.float64)
    want = np.clip(np.rint(x / s) + z, lo, hi).astype(dtype)
    _assert_same_values(tc.compile(model).run(list(feeds.values()))[0], want)


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_quantize_float8_against_onnx_reference(dtype, saturate):
    """onnxruntime's Python API cannot return every float8 type: ONNX's reference
    evaluator is the oracle here."""
    import ml_dtypes
    from onnx.reference import ReferenceEvaluator

    x = np.concatenate([_x((40,), scale=3e4, seed=9), [1e9, -1e9]]).astype(np.float32)
    zp = np.zeros((), ml_dtypes.finfo(dtype).dtype)
    model, feeds = _model("QuantizeLinear", [x, np.array(0.75, np.float32), Const(zp)],
                          {"saturate": saturate})
    got = tc.compile(model).run(list(feeds.values()))[0]
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype", ["int4", "uint4", "float8_e4m3fn", "float8_e5m2fnuz",
                                   "float4_e2m1fn"])
def test_dequantize_narrow(dtype):
    """(x - zero point) * scale; float formats ignore the zero point (ml_dtypes oracle
    for the decoded values)."""
    rng = np.random.default_rng(10)
    codes = rng.integers(0, 16 if dtype.endswith(("4", "e2m1fn")) else 256, 24)
    x = codes.astype(np.uint8).view(dtype).reshape(4, 6)
    if "float" in dtype:
        x = np.where(np.isfinite(x.astype(np.float32)), x, np.zeros((), x.dtype))
    zp = np.array(3 if dtype.endswith("int4") else 0, np.uint8).view(dtype)
    scale = rng.uniform(0.1, 2, 6).astype(np.float32)
    model, feeds = _model("DequantizeLinear", [x, scale, zp], {"axis": 1})
    got = tc.compile(model).run(list(feeds.values()))[0]
    z = 0.0 if "float" in dtype else zp.astype(np.float32)
    np.testing.assert_allclose(got, (x.astype(np.float32) - z) * scale, rtol=1e-6)


@pytest.mark.parametrize("data", ["random", "positive", "negative"])
def test_dynamic_quantize_linear(data):
    x = _x((3, 4), scale=5.0)
    x = {"random": x, "positive": np.abs(x), "negative": -np.abs(x)}[data]
    check("DynamicQuantizeLinear", [x], opset=11, n_outputs=3, atol=1e-7)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3))])
@pytest.mark.parametrize("zero_points", ["none", "tensor", "vector"])
def test_matmul_integer(dtype, shapes, zero_points):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
    b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype)
    arrays = [a, b]
    if zero_points == "tensor":
        arrays += [np.array(7, dtype), np.array(-3 if dtype == "int8" else 9, dtype)]
    elif zero_points == "vector":
        # onnxruntime takes a per-tensor A zero point only (per-row: see below)
        arrays += [np.array(7, dtype), rng.integers(0, 20, shapes[1][1]).astype(dtype)]
    check("MatMulInteger", arrays, opset=10)


def test_matmul_integer_per_row_a_zero_point():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (3, 4)).astype(np.uint8)
    b = rng.integers(0, 256, (4, 2)).astype(np.uint8)
    za, zb = np.array([1, 200, 3], np.uint8), np.array([4, 250], np.uint8)
    expected = (a.astype(np.int32) - za[:, None]) @ (b.astype(np.int32) - zb)
    model, feeds = _model("MatMulInteger", [a, b, za, zb], opset=10)
    np.testing.assert_array_equal(tc.compile(model).run(list(feeds.values()))[0], expected)
    np.testing.assert_array_equal(evaluate(from_onnx(model), list(feeds.values()))[0],
                                  expected)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("float_dtype", ["float32", "float16"])
@pytest.mark.parametrize("shapes", [((2, 4), (4, 3)), ((2, 2, 4), (4, 3))])
def test_qlinear_matmul(dtype, float_dtype, shapes):
    rng = np.random.default_rng(4)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
    b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype)
    f = np.dtype(float_dtype)
    arrays = [a, np.array(0.0066, f), np.array(5, dtype), b, np.array(0.00705, f),
              np.array(-2 if dtype == "int8" else 114, dtype), np.array(0.0107, f),
              np.array(10 if dtype == "int8" else 118, dtype)]
    check("QLinearMatMul", arrays, opset=21)
