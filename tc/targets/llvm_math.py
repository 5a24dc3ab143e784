"""exp, erf and tanh for float32 as inline LLVM IR: range reduction and polynomials.

Without a vector math library LLVM lowers ``llvm.exp.v8f32`` and ``llvm.tanh.v8f32`` to
eight scalar libm calls, and erf is a libm call per lane.  The functions here emit
straight-line IR instead (multiplies and adds that LLVM fuses into FMAs where the target
has them, integer bit operations, selects), the same for a ``float`` and a
``<N x float>``.  Each is within a few float32 ulps of the exact result over the whole
float32 range, with or without FMA (tests/targets/test_llvm_math.py measures it), and
treats NaN, infinities and signed zeros as libm does.

The polynomial coefficients are minimax fits derived by tools/fit_math_coefficients.py,
which prints the tuples below; the range-reduction constants are computed here.
"""
from __future__ import annotations

import math
import struct

from llvmlite import ir

from .llvm_ops import FLOAT_CONTRACT, I32, const, intrinsic, lanes, with_lanes

# e^r = 1 + r + r^2 Q(r) for |r| <= 0.35
_EXP = (
    0.4999999403953552,
    0.16666515171527863,
    0.04166845604777336,
    0.008369410410523415,
    0.0013813161058351398,
)
# tanh(x) = x + x s P(s), s = x^2, for |x| <= _TANH_SMALL
_TANH = (
    -0.3333331346511841,
    0.1333245187997818,
    -0.053837429732084274,
    0.021007463335990906,
    -0.006179816089570522,
)
# erf(x) = x + x Q(s), s = x^2, for |x| <= 1
_ERF_SMALL = (
    0.12837916612625122,
    -0.3761262595653534,
    0.1128358542919159,
    -0.026853812858462334,
    0.005188327748328447,
    -0.0008010193705558777,
    7.853861461626366e-05,
)
# erf(x) = 1 - E(x - _ERF_CENTER) for 1 <= x <= _ERF_ONE
_ERF_LARGE = (
    0.0004069547285325825,
    -0.0021782207768410444,
    0.005445567425340414,
    -0.008351226337254047,
    0.008623631671071053,
    -0.006111382972449064,
    0.0027943088207393885,
    -0.0005563321174122393,
    -0.00025389195070602,
    0.00026717662694863975,
    -8.477320079691708e-05,
    -1.6357704225811176e-05,
    1.70927287399536e-05,
    -7.172602067839762e-07,
    -1.0908152034971863e-06,
)

# exp: inputs are clamped to [_EXP_LO, _EXP_HI], so that n = round(x / ln2) is in
# [-150, 128]: e^89 overflows to +inf and e^-104 underflows to 0 as they should.
_EXP_LO, _EXP_HI = -104.0, 89.0
# n * _LN2_HI is exact for |n| < 2^8 (ln2 to 16 bits), so x - n ln2 loses nothing.
_LN2_HI = round(math.log(2) * 2 ** 16) / 2 ** 16
_LN2_LO = math.log(2) - _LN2_HI
# Adding 1.5 * 2^23 rounds a float32 of magnitude below 2^22 to an integer n, which the
# sum's low mantissa bits then hold: bits(sum) - bits(1.5 * 2^23) == n.
_SHIFTER = 1.5 * 2 ** 23
_SHIFTER_BITS = struct.unpack("<I", struct.pack("<f", _SHIFTER))[0]
_FLOAT32_BIAS, _FLOAT32_MANTISSA = 127, 23

_TANH_SMALL = 0.5625  # above atanh(1/2): 1 - 2 / (e^2x + 1) is >= 1/2, no cancellation
_ERF_CENTER = 2.5  # |x| - 2.5 is exact for |x| in [1, 4]
_ERF_ONE = 3.92  # erf(x) rounds to 1 in float32 from x = 3.9192


def exp(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """e^x for a float32 scalar or vector ``x``.

    x = n ln2 + r with |r| <= ln2/2; e^r is a polynomial; 2^n is applied as two exact
    power-of-two factors, so that results in the subnormal range are rounded once and
    correctly (not flushed to zero).  Overflow gives +inf, -inf and very negative x give
    0, NaN stays NaN."""
    t = x.type
    x = _clamp(b, x, _EXP_LO, _EXP_HI)
    shifted = _fadd(b, _fmul(b, x, const(t, 1 / math.log(2))), const(t, _SHIFTER))
    n = b.fsub(shifted, const(t, _SHIFTER))
    r = _fsub(b, x, _fmul(b, n, const(t, _LN2_HI)))
    r = _fsub(b, r, _fmul(b, n, const(t, _LN2_LO)))
    p = _fadd(b, _fadd(b, _fmul(b, _fmul(b, r, r), _horner(b, r, _EXP)), r), const(t, 1.0))
    it = with_lanes(I32, lanes(x))
    ni = b.sub(b.bitcast(shifted, it), const(it, _SHIFTER_BITS))
    half = b.ashr(ni, const(it, 1))  # n = half + (n - half), each a normal float's exponent
    for k in (half, b.sub(ni, half)):
        biased = b.add(k, const(it, _FLOAT32_BIAS))
        p = b.fmul(p, b.bitcast(b.shl(biased, const(it, _FLOAT32_MANTISSA)), t))
    return p


def tanh(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """tanh(x) for a float32 scalar or vector ``x``: an odd polynomial near 0, and
    1 - 2 / (e^2|x| + 1) beyond, which saturates to 1 (e^2|x| = inf included)."""
    t = x.type
    ax = _fabs(b, x)
    s = _fmul(b, ax, ax)
    small = _fadd(b, _fmul(b, _fmul(b, ax, s), _horner(b, s, _TANH)), ax)
    e = exp(b, _fadd(b, ax, ax))
    large = _fsub(b, const(t, 1.0), b.fdiv(const(t, 2.0), _fadd(b, e, const(t, 1.0))))
    return _copysign(b, b.select(b.fcmp_ordered("<", ax, const(t, _TANH_SMALL)), small,
                                 large), x)


def erf(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """erf(x) for a float32 scalar or vector ``x``: two polynomials split at |x| = 1, and
    exactly +-1 from |x| = 3.92 (where erf rounds to 1)."""
    t = x.type
    ax = _fabs(b, x)
    small = _fadd(b, _fmul(b, ax, _horner(b, _fmul(b, ax, ax), _ERF_SMALL)), ax)
    tail = _horner(b, b.fsub(ax, const(t, _ERF_CENTER)), _ERF_LARGE)
    large = b.select(b.fcmp_ordered(">", ax, const(t, _ERF_ONE)), const(t, 1.0),
                     _fsub(b, const(t, 1.0), tail))
    return _copysign(b, b.select(b.fcmp_ordered("<", ax, const(t, 1.0)), small, large), x)


FLOAT32 = {"exp": exp, "tanh": tanh, "erf": erf}


def _horner(b: ir.IRBuilder, x: ir.Value, coefs: tuple[float, ...]) -> ir.Value:
    """sum_k coefs[k] x^k by Horner's rule."""
    acc = const(x.type, coefs[-1])
    for c in reversed(coefs[:-1]):
        acc = _fadd(b, _fmul(b, acc, x), const(x.type, c))
    return acc


def _clamp(b: ir.IRBuilder, x: ir.Value, lo: float, hi: float) -> ir.Value:
    """``x`` limited to [lo, hi]; NaN stays NaN (ordered compares are false on it)."""
    x = b.select(b.fcmp_ordered("<", x, const(x.type, lo)), const(x.type, lo), x)
    return b.select(b.fcmp_ordered(">", x, const(x.type, hi)), const(x.type, hi), x)


def _fabs(b, x):
    return intrinsic(b, "fabs", [x], [x.type])


def _copysign(b, magnitude, sign):
    return intrinsic(b, "copysign", [magnitude, sign], [magnitude.type])


def _fadd(b, x, y):
    return b.fadd(x, y, flags=FLOAT_CONTRACT)


def _fsub(b, x, y):
    return b.fsub(x, y, flags=FLOAT_CONTRACT)


def _fmul(b, x, y):
    return b.fmul(x, y, flags=FLOAT_CONTRACT)
