"""float32 exp, tanh and erf as C functions, computing what ``llvm_math`` emits as IR.

The same range reduction, the same polynomial coefficients (imported from llvm_math,
rounded to float32 as LLVM rounds them) and the same order of operations, so the C
target needs no libm for these and agrees with the LLVM target to within the last bits
that fused multiply-adds may change.  Every definition here is a generator
``(helpers, name) -> C text`` used by ``c_helpers.Helpers.need``.
"""
from __future__ import annotations

import math

from . import llvm_math as M
from .c_helpers import float_literal


def _f(value: float) -> str:
    return float_literal(value, "float32")


def _horner(acc: str, x: str, coefs: tuple[float, ...]) -> list[str]:
    """Statements leaving sum_k coefs[k] x^k in ``acc`` (Horner's rule, as llvm_math)."""
    lines = [f"    {acc} = {_f(coefs[-1])};"]
    lines += [f"    {acc} = {acc} * {x} + {_f(c)};" for c in reversed(coefs[:-1])]
    return lines


def exp_f32(lib, name: str) -> str:
    """e^x: x = n ln2 + r, a polynomial for e^r, 2^n applied as two exact powers of two."""
    bits, from_bits = lib.need("bits", "float32"), lib.need("from_bits", "float32")
    shr = lib.need("shr", "int32")
    lo, hi = _f(M._EXP_LO), _f(M._EXP_HI)
    bias, mantissa = M._FLOAT32_BIAS, M._FLOAT32_MANTISSA
    lines = [
        "/* e^x for float32, within a few ulps over the whole range (tc's llvm_math.exp) */",
        f"static inline float {name}(float x)",
        "{",
        "    float shifted, n, r, p;",
        "    int32_t k, half;",
        f"    x = x < {lo} ? {lo} : x; /* NaN stays NaN */",
        f"    x = x > {hi} ? {hi} : x;",
        f"    shifted = x * {_f(1 / math.log(2))} + {_f(M._SHIFTER)};",
        f"    n = shifted - {_f(M._SHIFTER)};",
        f"    r = x - n * {_f(M._LN2_HI)};",
        f"    r = r - n * {_f(M._LN2_LO)};",
        *_horner("p", "r", M._EXP),
        "    p = r * r * p + r + 1.0f;",
        f"    k = (int32_t){bits}(shifted) - {M._SHIFTER_BITS}; /* n as an integer */",
        f"    half = {shr}(k, 1);",
        f"    p = p * {from_bits}((uint32_t)(half + {bias}) << {mantissa});",
        f"    p = p * {from_bits}((uint32_t)(k - half + {bias}) << {mantissa});",
        "    return p;",
        "}",
    ]
    return "\n".join(lines)


def tanh_f32(lib, name: str) -> str:
    """An odd polynomial near 0, 1 - 2 / (e^2|x| + 1) beyond."""
    exp, fabs = lib.need("exp", "float32"), lib.need("fabs", "float32")
    copysign = lib.need("copysign", "float32")
    lines = [
        "/* tanh(x) for float32 (tc's llvm_math.tanh) */",
        f"static inline float {name}(float x)",
        "{",
        f"    float ax = {fabs}(x);",
        "    float s = ax * ax;",
        "    float p, small, large;",
        *_horner("p", "s", M._TANH),
        "    small = ax * s * p + ax;",
        f"    large = 1.0f - 2.0f / ({exp}(ax + ax) + 1.0f);",
        f"    return {copysign}(ax < {_f(M._TANH_SMALL)} ? small : large, x);",
        "}",
    ]
    return "\n".join(lines)


def erf_f32(lib, name: str) -> str:
    """Two polynomials split at |x| = 1, exactly +-1 from |x| = 3.92."""
    fabs, copysign = lib.need("fabs", "float32"), lib.need("copysign", "float32")
    lines = [
        "/* erf(x) for float32 (tc's llvm_math.erf) */",
        f"static inline float {name}(float x)",
        "{",
        f"    float ax = {fabs}(x);",
        "    float s = ax * ax;",
        f"    float t = ax - {_f(M._ERF_CENTER)};",
        "    float p, tail, small, large;",
        *_horner("p", "s", M._ERF_SMALL),
        "    small = ax * p + ax;",
        *_horner("tail", "t", M._ERF_LARGE),
        f"    large = ax > {_f(M._ERF_ONE)} ? 1.0f : 1.0f - tail;",
        f"    return {copysign}(ax < 1.0f ? small : large, x);",
        "}",
    ]
    return "\n".join(lines)


DEFINITIONS = {"exp": exp_f32, "tanh": tanh_f32, "erf": erf_f32}
#: the float32 intrinsics computed here rather than by libm (as llvm_math.FLOAT32)
FLOAT32 = frozenset(M.FLOAT32)
assert FLOAT32 == frozenset(DEFINITIONS), "c_math must define what llvm_math inlines"
