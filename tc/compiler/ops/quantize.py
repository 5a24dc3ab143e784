"""Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
MatMulInteger and QLinearMatMul.

Scales and zero points are read by ``_param_read`` in one of three layouts, told apart
by their shape: per-tensor (a scalar or a one-element 1-D tensor), per-axis (1-D of
length ``x.shape[axis]``) and blocked (x's rank, ``x.shape[axis]`` replaced by
``ceil(x.shape[axis] / block_size)``; other dims equal to x's).

Canonical attributes:
- QuantizeLinear(x, y_scale[, y_zero_point]): ``axis`` (non-negative int), ``block_size``
  (int, 0 when not blocked), ``dtype`` (numpy name of y, one of ``QUANT_DTYPES``; the zero
  point's dtype when it is given), ``saturate`` (float8 outputs only, default 1). For
  integer y (int4/int2 included): y = saturate(round_half_even(x / y_scale) +
  y_zero_point); the division is done in x's float type (float32 for float16), the
  zero-point addition and the saturation in float64.  For float8 y: x / y_scale rounded to
  y's type (clamped to its largest finite value when ``saturate``; the zero point is
  ignored, as in ONNX); for float4_e2m1fn: x / y_scale + y_zero_point, clamped.
- DequantizeLinear(x, x_scale[, x_zero_point]): ``axis``, ``block_size`` as above; y has
  the scale's dtype: (x - x_zero_point) * x_scale, computed in float32 (float64 when x is
  int32, so that the difference is exact) and rounded to the scale's dtype.  A float8 or
  float4 x ignores its zero point.
- DynamicQuantizeLinear(x): no attributes; three outputs (y uint8, y_scale float32,
  y_zero_point uint8): the range [min(x, 0), max(x, 0)] mapped onto [0, 255].
- MatMulInteger(A, B[, a_zero_point[, b_zero_point]]): no attributes; int32 result of
  matmul(A - a_zero_point, B - b_zero_point) with numpy batch broadcasting; a zero point
  is per-tensor, per-row of A (1-D, length M) or per-column of B (1-D, length N). When
  only B's zero point is given, the frontend passes a zero A zero point.
- QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
  y_zero_point): no attributes; MatMulInteger's int32 sum times a_scale * b_scale /
  y_scale (in float32), rounded half to even, plus y_zero_point, saturated to y's dtype
  (that of y_zero_point). Scales follow the zero points' layouts.

TE stages: QuantizeLinear/DequantizeLinear one "broadcast" stage; DynamicQuantizeLinear
"reduce" stages (min, max over all elements) then scalar "injective" stages for scale
and zero point and a "broadcast" stage for y; MatMulInteger a "matmul" stage (integer
products accumulated in int32); QLinearMatMul that plus an "elemwise" requantize stage.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import NARROW_INTS, is_narrow_float
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from . import narrow
from .common import define_op, normalize_axis
from .linalg import batched_matmul, matmul_shapes
from .registry import OpPattern

#: the dtypes a quantized tensor may have
QUANT_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32",
                "int4", "uint4", "int2", "uint2",
                "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
                "float4_e2m1fn")


def _int_range(dtype: str) -> tuple[int, int]:
    if dtype in NARROW_INTS:
        bits, signed = NARROW_INTS[dtype]
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


# --- scale / zero-point layouts ------------------------------------------------------

def _layout(x_shape, p_shape, axis: int, block: int, what: str) -> str:
    """"tensor" | "axis" | "block" for a parameter of shape ``p_shape``; ValueError
    naming the shapes when it is none of them."""
    if int(np.prod(p_shape, dtype=np.int64)) == 1 and len(p_shape) <= 1 and not block:
        return "tensor"
    if block:
        want = tuple(-(-d // block) if i == axis else d for i, d in enumerate(x_shape))
        if tuple(p_shape) != want:
            raise ValueError(f"{what} of shape {tuple(p_shape)} does not fit block_size "
                             f"{block} on axis {axis} of {tuple(x_shape)}: expected {want}")
        return "block"
    if len(p_shape) == 1 and p_shape[0] == x_shape[axis]:
        return "axis"
    raise ValueError(f"{what} of shape {tuple(p_shape)} is neither per-tensor nor per-axis "
                     f"(axis {axis} of {tuple(x_shape)}); pass block_size for blocked ones")


def _param_read(p, x_shape, i, axis: int, block: int) -> E.Expr:
    """Read parameter tensor ``p`` for the element of x at indices ``i``."""
    kind = _layout(x_shape, p.shape, axis, block, "scale/zero point")
    if kind == "tensor":
        return p[(E.const(0),) * p.ndim]
    if kind == "axis":
        return p[(i[axis],)]
    return p[tuple(i[d] // E.const(block) if d == axis else i[d] for d in range(len(i)))]


def _param_np(p, x_shape, axis: int, block: int) -> np.ndarray:
    """Parameter ``p`` broadcast to x's shape (numpy)."""
    kind = _layout(x_shape, p.shape, axis, block, "scale/zero point")
    if kind == "tensor":
        return p.reshape(())
    if kind == "axis":
        return p.reshape([-1 if d == axis else 1 for d in range(len(x_shape))])
    return np.repeat(p, block, axis=axis)[tuple(slice(0, d) for d in x_shape)]


def _saturate(v: E.Expr, dtype: str) -> E.Expr:
    lo, hi = _int_range(dtype)
    v = E.minimum(E.maximum(v, E.const(float(lo), v.dtype)), E.const(float(hi), v.dtype))
    return narrow.cast(v, dtype)


def _qparams(types, attrs, op):
    if len(types) not in (2, 3):
        raise ValueError(f"{op} takes x, scale and an optional zero point, got {len(types)}")
    x = types[0]
    axis = normalize_axis(attrs.get("axis", 1), max(len(x.shape), 1)) if x.shape else 0
    block = int(attrs.get("block_size", 0))
    for t, what in zip(types[1:], ("scale", "zero point")):
        _layout(x.shape, t.shape, axis, block, f"{op} {what}")
    return axis, block


# --- QuantizeLinear --------------------------------------------------------------------

def _div_dtype(dtype: str) -> str:
    return "float64" if dtype == "float64" else "float32"


def _quantize_infer(types, attrs):
    _qparams(types, attrs, "QuantizeLinear")
    dtype = attrs.get("dtype", types[2].dtype if len(types) == 3 else "uint8")
    if dtype not in QUANT_DTYPES:
        raise ValueError(f"QuantizeLinear output dtype {dtype} is not supported; tc "
                         f"quantizes to {', '.join(QUANT_DTYPES)}")
    if len(types) == 3 and types[2].dtype != dtype:
        raise ValueError(f"QuantizeLinear zero point is {types[2].dtype}, dtype is {dtype}")
    return [TensorType(types[0].shape, dtype)]


def _quantize_reference(xs, attrs):
    x, scale = xs[:2]
    axis, block = _qparams([TensorType(a.shape, str(a.dtype)) for a in xs], attrs, "Q")
    dtype, = [t.dtype for t in _quantize_infer(
        [TensorType(a.shape, str(a.dtype)) for a in xs], attrs)]
    wide = _div_dtype(str(x.dtype))
    q = x.astype(wide) / _param_np(scale, x.shape, axis, block).astype(wide)
    zp = _param_np(xs[2], x.shape, axis, block).astype(np.float64) if len(xs) == 3 else 0.0
    if is_narrow_float(dtype):
        if dtype == "float4_e2m1fn":
            q = q.astype(np.float64) + zp
        return [narrow.cast_array(q, dtype, bool(attrs.get("saturate", 1)))]
    q = np.rint(q).astype(np.float64) + zp
    lo, hi = _int_range(dtype)
    return [np.clip(q, lo, hi).astype(dtype)]


def _quantize_compute(inputs, attrs):
    x, scale = inputs[:2]
    axis, block = _qparams([TensorType(t.shape, t.dtype) for t in inputs], attrs, "Q")
    dtype = _quantize_infer([TensorType(t.shape, t.dtype) for t in inputs], attrs)[0].dtype
    wide = _div_dtype(x.dtype)

    saturate = bool(attrs.get("saturate", 1))

    def body(*i):
        s = E.cast(wide, _param_read(scale, x.shape, i, axis, block))
        q = E.cast(wide, x[i]) / s
        zp = (narrow.cast(_param_read(inputs[2], x.shape, i, axis, block), "float64")
              if len(inputs) == 3 else None)
        if is_narrow_float(dtype):
            if dtype == "float4_e2m1fn" and zp is not None:
                q = E.cast("float64", q) + zp
            return narrow.cast(q, dtype, saturate)
        q = E.cast("float64", E.call("round", q))
        return _saturate(q if zp is None else q + zp, dtype)

    return [te.compute(x.shape, body, "quantize_linear", tag="broadcast")]


define_op("QuantizeLinear", _quantize_infer, _quantize_reference, _quantize_compute,
          OpPattern.BROADCAST, __doc__)


# --- DequantizeLinear ------------------------------------------------------------------

def _dequantize_infer(types, attrs):
    _qparams(types, attrs, "DequantizeLinear")
    if types[0].dtype not in QUANT_DTYPES:
        raise ValueError(f"DequantizeLinear input dtype {types[0].dtype} is not supported; "
                         f"tc dequantizes {', '.join(QUANT_DTYPES)}")
    return [TensorType(types[0].shape, types[1].dtype)]


def _diff_dtype(dtype: str) -> str:
    return "float64" if dtype in ("int32", "uint32") else "float32"


def _dequantize_reference(xs, attrs):
    x, scale = xs[:2]
    axis, block = _qparams([TensorType(a.shape, str(a.dtype)) for a in xs], attrs, "DQ")
    wide = _diff_dtype(str(x.dtype))
    d = x.astype(wide)
    if len(xs) == 3 and not is_narrow_float(str(x.dtype)):
        d = d - _param_np(xs[2], x.shape, axis, block).astype(wide)
    y = d.astype(np.float32) * _param_np(scale, x.shape, axis, block).astype(np.float32)
    return [y.astype(scale.dtype)]


def _dequantize_compute(inputs, attrs):
    x, scale = inputs[:2]
    axis, block = _qparams([TensorType(t.shape, t.dtype) for t in inputs], attrs, "DQ")
    wide = _diff_dtype(x.dtype)

    def body(*i):
        d = narrow.cast(x[i], wide)
        if len(inputs) == 3 and not is_narrow_float(x.dtype):
            d = d - narrow.cast(_param_read(inputs[2], x.shape, i, axis, block), wide)
        s = E.cast("float32", _param_read(scale, x.shape, i, axis, block))
        return E.cast(scale.dtype, E.cast("float32", d) * s)

    return [te.compute(x.shape, body, "dequantize_linear", tag="broadcast")]


define_op("DequantizeLinear", _dequantize_infer, _dequantize_reference, _dequantize_compute,
          OpPattern.BROADCAST, __doc__)


# --- DynamicQuantizeLinear ---------------------------------------------------------------

def _dynamic_infer(types, attrs):
    if len(types) != 1 or types[0].dtype != "float32":
        raise ValueError("DynamicQuantizeLinear takes one float32 tensor")
    return [TensorType(types[0].shape, "uint8"), TensorType((), "float32"),
            TensorType((), "uint8")]


def _dynamic_reference(xs, attrs):
    x = xs[0]
    lo = np.minimum(x.min(initial=np.float32(0)), np.float32(0))
    hi = np.maximum(x.max(initial=np.float32(0)), np.float32(0))
    scale = np.float32((hi - lo) / np.float32(255))
    zp = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255)).astype(np.uint8)
    y = np.clip(np.rint(x / scale) + np.float32(zp), 0, 255).astype(np.uint8)
    return [y, np.asarray(scale, np.float32), np.asarray(zp)]


def _dynamic_compute(inputs, attrs):
    x, = inputs
    zero, f0 = (), E.const(0.0, "float32")

    def full_reduce(reducer, name):
        axes = [te.reduce_axis(d, f"k{n}") for n, d in enumerate(x.shape)]
        if not axes:
            return te.compute((), lambda: x[()], name, tag="injective")
        return te.compute((), lambda: reducer(x[tuple(a.var for a in axes)], axis=axes),
                          name, tag="reduce")

    lo, hi = full_reduce(te.min, "dql_min"), full_reduce(te.max, "dql_max")
    scale = te.compute((), lambda: (E.maximum(hi[zero], f0) - E.minimum(lo[zero], f0))
                       / E.const(255.0, "float32"), "dql_scale", tag="injective")

    def zero_point():
        v = f0 - E.minimum(lo[zero], f0) / scale[zero]
        v = E.minimum(E.maximum(v, f0), E.const(255.0, "float32"))
        return E.cast("uint8", E.call("round", v))

    zp = te.compute((), zero_point, "dql_zero_point", tag="injective")

    def body(*i):
        v = E.call("round", x[i] / scale[zero]) + E.cast("float32", zp[zero])
        return _saturate(v, "uint8")

    y = te.compute(x.shape, body, "dql_y", tag="broadcast")
    return [y, scale, zp]


define_op("DynamicQuantizeLinear", _dynamic_infer, _dynamic_reference, _dynamic_compute,
          OpPattern.OPAQUE, __doc__)


# --- MatMulInteger / QLinearMatMul -------------------------------------------------------

def _mm_shapes(sa, sb):
    """(promoted A shape, promoted B shape, output shape), as numpy's matmul."""
    pa, pb, _, final = matmul_shapes(sa, sb, "MatMulInteger/QLinearMatMul")
    return pa, pb, final


def _vector_param(p, length: int, what: str) -> str:
    """"tensor" or "vector" (1-D of ``length``) for a zero point or scale."""
    if int(np.prod(p.shape, dtype=np.int64)) == 1:
        return "tensor"
    if tuple(p.shape) == (length,):
        return "vector"
    raise ValueError(f"{what} of shape {tuple(p.shape)} is neither per-tensor nor of "
                     f"length {length}")


def _int_mm_infer(types, attrs):
    if not 2 <= len(types) <= 4:
        raise ValueError(f"MatMulInteger takes 2 to 4 inputs, got {len(types)}")
    a, b = types[:2]
    for t in types:
        if t.dtype not in ("int8", "uint8"):
            raise ValueError(f"MatMulInteger takes int8/uint8 tensors, got {t.dtype}")
    pa, pb, final = _mm_shapes(a.shape, b.shape)
    if len(types) > 2:
        _vector_param(types[2], pa[-2], "a_zero_point")
    if len(types) > 3:
        _vector_param(types[3], pb[-1], "b_zero_point")
    return [TensorType(final, "int32")]


def _np_row_param(p, rows: int, rank: int):
    if p.size == 1:
        return p.reshape(())
    return p.reshape((rows, 1)) if rank > 1 else p.reshape(-1)


def _int_mm_reference(xs, attrs):
    a, b = (x.astype(np.int32) for x in xs[:2])
    if len(xs) > 2:
        a = a - _np_row_param(xs[2].astype(np.int32), a.shape[-2] if a.ndim > 1 else 1, a.ndim)
    if len(xs) > 3:
        b = b - xs[3].astype(np.int32).reshape(() if xs[3].size == 1 else (-1,))
    return [np.matmul(a, b)]


def _int_mm_compute(inputs, attrs):
    a, b = inputs[:2]
    pa, pb, _ = _mm_shapes(a.shape, b.shape)
    i32 = "int32"

    def zp(p, index, length, what):
        if _vector_param(p, length, what) == "tensor":
            return E.cast(i32, p[(E.const(0),) * p.ndim])
        return E.cast(i32, p[(index,)])

    def a_element(v, row):
        v = E.cast(i32, v)
        return v - zp(inputs[2], row, pa[-2], "a_zero_point") if len(inputs) > 2 else v

    def b_element(v, col):
        v = E.cast(i32, v)
        return v - zp(inputs[3], col, pb[-1], "b_zero_point") if len(inputs) > 3 else v

    return [batched_matmul(a, b, "matmul_integer", a_element, b_element)]


define_op("MatMulInteger", _int_mm_infer, _int_mm_reference, _int_mm_compute,
          OpPattern.OUT_FUSABLE, __doc__)


def _qmm_infer(types, attrs):
    if len(types) != 8:
        raise ValueError(f"QLinearMatMul takes 8 inputs, got {len(types)}")
    acc, = _int_mm_infer([types[0], types[3], types[2], types[5]], attrs)
    if types[7].dtype not in ("int8", "uint8"):
        raise ValueError(f"QLinearMatMul y_zero_point must be int8/uint8, got {types[7].dtype}")
    return [TensorType(acc.shape, types[7].dtype)]


def _qmm_reference(xs, attrs):
    a, a_s, a_z, b, b_s, b_z, y_s, y_z = xs
    acc, = _int_mm_reference([a, b, a_z, b_z], attrs)
    rows = a.shape[-2] if a.ndim > 1 else 1
    scale = (_np_row_param(a_s.astype(np.float32), rows, a.ndim)
             * b_s.astype(np.float32).reshape(() if b_s.size == 1 else (-1,))
             / np.float32(y_s.reshape(())))
    y = np.rint(acc.astype(np.float32) * scale) + np.float32(y_z.reshape(()))
    info = np.iinfo(y_z.dtype)
    return [np.clip(y, info.min, info.max).astype(y_z.dtype)]


def _qmm_compute(inputs, attrs):
    a, a_s, a_z, b, b_s, b_z, y_s, y_z = inputs
    acc, = _int_mm_compute([a, b, a_z, b_z], attrs)
    pa, pb, _ = _mm_shapes(a.shape, b.shape)
    f32, zero = "float32", E.const(0)

    def scalar(t):
        return E.cast(f32, t[(zero,) * t.ndim])

    def vec(p, index, length, what):
        if _vector_param(p, length, what) == "tensor":
            return scalar(p)
        return E.cast(f32, p[(index,)])

    def body(*i):
        row = i[-2] if a.ndim > 1 and b.ndim > 1 else (i[-1] if a.ndim > 1 else zero)
        col = i[-1] if b.ndim > 1 else zero
        s = vec(a_s, row, pa[-2], "a_scale") * vec(b_s, col, pb[-1], "b_scale") / scalar(y_s)
        v = E.call("round", E.cast(f32, acc[i]) * s) + scalar(y_z)
        return _saturate(v, y_z.dtype)

    return [te.compute(acc.shape, body, "qlinear_matmul_requant", tag="elemwise")]


define_op("QLinearMatMul", _qmm_infer, _qmm_reference, _qmm_compute, OpPattern.OUT_FUSABLE,
          __doc__)
