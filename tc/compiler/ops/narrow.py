"""Conversions between the narrow types (bfloat16, float8, float4, e8m0, int4/int2) and
the standard ones, as TE expressions built from integer and float32 operations, plus
their numpy reference (ml_dtypes, with ONNX's saturation rules).

A narrow value lives in memory as its bit pattern (see ``graph/dtypes.py``).  ``decode``
turns it into float32 (narrow floats, exactly) or int32 (narrow integers); ``encode``
rounds a float32 or integer to the narrow type:

- floats round half to even; beyond the largest finite value they become infinity (the
  IEEE-like formats, bfloat16 and float8_e5m2) or NaN (formats without infinity), unless
  ``saturate`` clamps them to the largest finite value (float4_e2m1fn always clamps);
- float8_e8m0fnu keeps the float32 exponent and rounds by ``round_mode``
  (up | down | nearest), saturating at 2**127 when asked; the sign is dropped;
- int4/uint4/int2/uint2 truncate toward zero and wrap, like a C cast.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import (
    E8M0,
    NARROW_FLOATS,
    NARROW_INTS,
    NarrowFloat,
    is_narrow,
    storage_dtype,
)
from ..te import expr as E

U32, I32, F32 = "uint32", "int32", "float32"
_F32_INF, _F32_NAN = 0x7F800000, 0x7FC00000


def _u(v: int) -> E.Expr:
    return E.const(v, U32)


def _bits(v: E.Expr) -> E.Expr:
    """A narrow value's code as uint32."""
    return E.cast(U32, E.reinterpret(storage_dtype(v.dtype), v))


def _from_code(code: E.Expr, dtype: str) -> E.Expr:
    """A uint32 code (fitting the storage width) as a value of narrow ``dtype``."""
    return E.reinterpret(dtype, E.cast(storage_dtype(dtype), code))


def _f32(bits: E.Expr) -> E.Expr:
    return E.reinterpret(F32, bits)


# --- decode ------------------------------------------------------------------------

def decode(v: E.Expr) -> E.Expr:
    """A narrow value as float32 (narrow floats) or int32 (narrow integers), exactly."""
    dtype = v.dtype
    c = _bits(v)
    if dtype in NARROW_INTS:
        bits, signed = NARROW_INTS[dtype]
        if not signed:
            return E.cast(I32, c)
        shift = E.const(32 - bits, I32)
        return (E.reinterpret(I32, c << _u(32 - bits))) >> shift   # sign-extend
    if dtype == E8M0:
        # 2**(c - 127): the code is a float32 exponent field; 0 is the subnormal 2**-127
        bits = E.select(E.eq(c, _u(0)), _u(0x400000),
                        E.select(E.eq(c, _u(0xFF)), _u(_F32_NAN), c << _u(23)))
        return _f32(bits)
    return _decode_float(c, NARROW_FLOATS[dtype])


def _decode_float(c: E.Expr, f: NarrowFloat) -> E.Expr:
    m_mask, e_all = (1 << f.mantissa_bits) - 1, (1 << f.exponent_bits) - 1
    sign = (c >> _u(f.bits - 1)) & _u(1)
    ef = (c >> _u(f.mantissa_bits)) & _u(e_all)
    mf = c & _u(m_mask)
    normal = (((ef + _u(127 - f.bias)) << _u(23)) | (mf << _u(23 - f.mantissa_bits)))
    subnormal = E.reinterpret(U32, E.cast(F32, mf) * E.const(2.0 ** (1 - f.bias - f.mantissa_bits), F32))
    mag = E.select(E.eq(ef, _u(0)), subnormal, normal)
    if f.nan == "ieee":
        special = E.select(E.eq(mf, _u(0)), _u(_F32_INF), _u(_F32_NAN))
        mag = E.select(E.eq(ef, _u(e_all)), special, mag)
    elif f.nan == "all_ones":
        mag = E.select(E.eq(c & _u((1 << (f.bits - 1)) - 1), _u((1 << (f.bits - 1)) - 1)),
                       _u(_F32_NAN), mag)
    elif f.nan == "neg_zero":
        return _f32(E.select(E.eq(c, _u(1 << (f.bits - 1))), _u(_F32_NAN),
                             mag | (sign << _u(31))))
    return _f32(mag | (sign << _u(31)))


# --- encode ------------------------------------------------------------------------

def encode(v: E.Expr, dtype: str, saturate: bool = True, round_mode: str = "up") -> E.Expr:
    """``v`` (a standard type) rounded to narrow ``dtype`` (see the module docstring)."""
    if dtype in NARROW_INTS:
        bits, _ = NARROW_INTS[dtype]
        return _from_code(E.cast(U32, E.cast(I32, v)) & _u((1 << bits) - 1), dtype)
    u = E.reinterpret(U32, E.cast(F32, v))
    if dtype == E8M0:
        return _from_code(_encode_e8m0(u, saturate, round_mode), dtype)
    if dtype == "bfloat16":
        return _from_code(_encode_bfloat16(u), dtype)
    return _from_code(_encode_float(u, dtype, saturate), dtype)


def _encode_bfloat16(u: E.Expr) -> E.Expr:
    """float32 bits -> bfloat16 bits, round half to even; NaN stays NaN (quieted)."""
    rounded = (u + _u(0x7FFF) + ((u >> _u(16)) & _u(1))) >> _u(16)
    is_nan = E.gt(u & _u(0x7FFFFFFF), _u(_F32_INF))
    return E.select(is_nan, (u >> _u(16)) | _u(0x40), rounded)


def _encode_e8m0(u: E.Expr, saturate: bool, round_mode: str) -> E.Expr:
    exp = (u >> _u(23)) & _u(0xFF)
    if round_mode == "up":
        up = E.ne(u & _u(0x7FFFFF), _u(0))
    elif round_mode == "down":
        up = E.const(False)
    elif round_mode == "nearest":
        guard = E.ne(u & _u(0x400000), _u(0))
        rest = E.logical_or(E.ne(u & _u(0x3FFFFF), _u(0)), E.ne(exp, _u(0)))
        up = E.logical_and(guard, rest)
    else:
        raise ValueError(f"round_mode {round_mode!r} is not one of up, down, nearest")
    if saturate:
        up = E.logical_and(up, E.ne(exp, _u(0xFE)))
    rounded = (exp + E.select(up, _u(1), _u(0))) & _u(0xFF)
    return E.select(E.eq(exp, _u(0xFF)), _u(0xFF), rounded)


def _encode_float(u: E.Expr, dtype: str, saturate: bool) -> E.Expr:
    """float32 bits -> the code of narrow float ``dtype``, round half to even.

    The magnitude is rounded in float32 at the format's quantum for its binade
    (2**(max(e, emin) - mantissa_bits)); division and product by that power of two are
    exact, so ``round`` (half to even) is the only rounding.
    """
    f = NARROW_FLOATS[dtype]
    m, emin = f.mantissa_bits, 1 - f.bias
    sign = u >> _u(31)
    abs_bits = u & _u(0x7FFFFFFF)
    is_nan = E.gt(abs_bits, _u(_F32_INF))
    a = _f32(abs_bits)
    e = E.maximum(E.cast(I32, (u >> _u(23)) & _u(0xFF)) - E.const(127, I32), E.const(emin, I32))
    quantum = _f32(E.cast(U32, e - E.const(m - 127, I32)) << _u(23))
    r = E.call("round", a / quantum) * quantum
    r_bits = E.reinterpret(U32, r)
    r_exp = E.cast(I32, (r_bits >> _u(23)) & _u(0xFF)) - E.const(127, I32)
    normal = (E.cast(U32, r_exp + E.const(f.bias, I32)) << _u(m)) | (
        (r_bits >> _u(23 - m)) & _u((1 << m) - 1))
    subnormal = E.cast(U32, r * E.const(2.0 ** (m - emin), F32))
    code = E.select(E.ge(r_exp, E.const(emin, I32)), normal, subnormal)

    top = (1 << (f.bits - 1)) - 1
    if f.nan == "ieee":
        inf_code = top - ((1 << m) - 1)           # exponent all ones, fraction 0
        nan_code = inf_code | (1 << (m - 1))      # the quiet NaN
    elif f.nan == "all_ones":
        nan_code = inf_code = top
    elif f.nan == "neg_zero":
        nan_code = inf_code = 1 << (f.bits - 1)
    else:
        nan_code = inf_code = None
    largest = largest_finite(dtype)
    clamp = saturate or f.saturates or inf_code is None
    code = E.select(E.gt(r, E.const(largest, F32)), _u(f.max_code if clamp else inf_code), code)
    sign_bit = sign << _u(f.bits - 1)
    if f.nan == "neg_zero":   # no negative zero; the NaN code carries the sign bit itself
        signed = E.select(E.eq(code, _u(0)), _u(0),
                          E.select(E.eq(code, _u(nan_code)), code, code | sign_bit))
        return E.select(is_nan, _u(nan_code), signed)
    if nan_code is None:
        # float4_e2m1fn has no NaN; ml_dtypes (ONNX's reference) turns NaN into a zero
        # whose sign bit is the NaN's inverted
        return E.select(is_nan, (sign ^ _u(1)) << _u(f.bits - 1), code | sign_bit)
    return E.select(is_nan, _u(nan_code), code) | sign_bit


def largest_finite(dtype: str) -> float:
    """The largest finite value of narrow float ``dtype``: its ``max_code`` decoded."""
    code = np.array(NARROW_FLOATS[dtype].max_code, storage_dtype(dtype))
    return float(code.view(dtype).astype(np.float32))


# --- casts ---------------------------------------------------------------------------

def cast(v: E.Expr, to: str, saturate: bool = True, round_mode: str = "up") -> E.Expr:
    """``v`` converted to ``to``, either side possibly narrow (TE counterpart of
    :func:`cast_array`)."""
    if is_narrow(v.dtype):
        if v.dtype == to:
            return v
        v = decode(v)
    if is_narrow(to):
        return encode(v, to, saturate, round_mode)
    return E.cast(to, v)


def cast_array(x: np.ndarray, to: str, saturate: bool = True,
               round_mode: str = "up") -> np.ndarray:
    """Reference: ``x`` converted to dtype ``to`` with ONNX Cast's rules."""
    with np.errstate(invalid="ignore", over="ignore"):
        if to == E8M0:
            return _e8m0_array(x.astype(np.float32), saturate, round_mode)
        if to in NARROW_FLOATS and to.startswith("float8") and saturate:
            x = x.astype(np.float32)
            big = largest_finite(to)
            x = np.clip(x, -big, big)
        return x.astype(to)


def _e8m0_array(x: np.ndarray, saturate: bool, round_mode: str) -> np.ndarray:
    u = x.view(np.uint32).astype(np.int64)
    exp = (u >> 23) & 0xFF
    frac = u & 0x7FFFFF
    if round_mode == "up":
        up = frac != 0
    elif round_mode == "down":
        up = np.zeros(exp.shape, bool)
    else:
        up = ((frac & 0x400000) != 0) & (((frac & 0x3FFFFF) != 0) | (exp != 0))
    if saturate:
        up &= exp != 0xFE
    code = np.where(exp == 0xFF, 0xFF, (exp + up) & 0xFF)
    return code.astype(np.uint8).view(E8M0)
