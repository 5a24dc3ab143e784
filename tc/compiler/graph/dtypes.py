"""Element types tc knows: numpy's standard ones and the narrow formats ONNX adds.

Narrow types (bfloat16, the float8 family, float4_e2m1fn, int4/uint4/int2/uint2) come
from ``ml_dtypes`` (a dependency of onnx), which registers them with numpy so that
``np.dtype("float8_e4m3fn")`` works.  In memory each element is one unsigned integer of
the type's storage width holding its bit pattern (ml_dtypes' layout: int4 -1 is the
byte 0x0F).  Code generators treat them as that integer; arithmetic on them goes through
float32 (floats) or int32 (integers) by way of the codecs in ``ops/narrow.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes  # noqa: F401  (registers the narrow dtypes with numpy)

STANDARD_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)


@dataclass(frozen=True)
class NarrowFloat:
    """A small binary float format: 1 sign bit (except e8m0), ``exponent_bits`` of
    exponent with ``bias``, ``mantissa_bits`` of fraction.

    ``nan``: "ieee" (all-ones exponent, non-zero fraction; all-ones exponent and zero
    fraction is infinity), "all_ones" (only the all-ones magnitude is NaN, no infinity),
    "neg_zero" (the code 0x80 is the only NaN; no infinity, no negative zero), or "none".
    ``saturates``: conversion always clamps out-of-range values to the largest finite
    value (float4), rather than following the Cast's ``saturate`` attribute.
    """

    bits: int
    exponent_bits: int
    mantissa_bits: int
    bias: int
    nan: str
    saturates: bool = False

    @property
    def max_code(self) -> int:
        """The code of the largest finite positive value."""
        top = (1 << (self.bits - 1)) - 1         # all magnitude bits set
        if self.nan == "ieee":
            return top - (1 << self.mantissa_bits)   # exponent all-ones minus one, fraction all-ones
        if self.nan == "all_ones":
            return top - 1
        return top


NARROW_FLOATS = {
    "bfloat16": NarrowFloat(16, 8, 7, 127, "ieee"),
    "float8_e4m3fn": NarrowFloat(8, 4, 3, 7, "all_ones"),
    "float8_e4m3fnuz": NarrowFloat(8, 4, 3, 8, "neg_zero"),
    "float8_e5m2": NarrowFloat(8, 5, 2, 15, "ieee"),
    "float8_e5m2fnuz": NarrowFloat(8, 5, 2, 16, "neg_zero"),
    "float4_e2m1fn": NarrowFloat(4, 2, 1, 1, "none", saturates=True),
}
#: float8_e8m0fnu is a bare exponent (2**(code - 127), 0xFF is NaN): its own codec.
E8M0 = "float8_e8m0fnu"

#: narrow integers: name -> (bits, signed)
NARROW_INTS = {"int4": (4, True), "uint4": (4, False), "int2": (2, True), "uint2": (2, False)}

NARROW_DTYPES = tuple(NARROW_FLOATS) + (E8M0,) + tuple(NARROW_INTS)
DTYPES = STANDARD_DTYPES + NARROW_DTYPES


def is_narrow(dtype: str) -> bool:
    """True for the narrow formats (stored as their bit pattern in an unsigned integer)."""
    return dtype in NARROW_DTYPES


def is_narrow_float(dtype: str) -> bool:
    return dtype in NARROW_FLOATS or dtype == E8M0


def is_floating(dtype: str) -> bool:
    """A float type, standard or narrow: what ONNX's "float tensor" type constraints
    accept (type checks use this; code generation sees narrow floats as float32)."""
    return dtype in ("float16", "float32", "float64") or is_narrow_float(dtype)


def storage_dtype(dtype: str) -> str:
    """The unsigned integer type that holds one element of ``dtype`` in memory
    (``dtype`` itself for the standard types)."""
    if not is_narrow(dtype):
        return dtype
    return "uint16" if dtype == "bfloat16" else "uint8"


def compute_dtype(dtype: str) -> str:
    """The type arithmetic on ``dtype`` is done in: float32 for narrow floats, int32 for
    narrow integers, ``dtype`` itself for the standard types."""
    if is_narrow_float(dtype):
        return "float32"
    return "int32" if dtype in NARROW_INTS else dtype
