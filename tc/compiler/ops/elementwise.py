"""Element-wise ops: unary math, broadcasting binary arithmetic, variadic Sum/Max/Min/Mean,
Clip, Cast and Mod.

Every family is registered from a table (name, numpy function, TE expression builder),
so adding an op is one line. TE tags: "elemwise" when every input has the output's
shape, "broadcast" otherwise. ``broadcast_map`` is the shared compute of every
broadcasting op (the logic and activation families use it too).

Math the code generator has no intrinsic for (tan, the inverse and hyperbolic
trigonometric functions) is composed in TE from exp/log/sqrt/sin/cos and a
polynomial, evaluated in float64 and rounded to the op's dtype: float32 results are
within an ulp; float64 ones within about 1e-14 relative (1e-12 where the formula
cancels, e.g. acos near 1).

Canonical attributes:
- unary ops, binary ops, Sum/Max/Min/Mean: none.
- Pow: none; the exponent may have another dtype than the base (the output has the
  base's); an integer base is raised in float64 and converted back.
- Mod: ``fmod`` (0: integer floor modulo, the result takes the divisor's sign;
  1: C ``fmod``, the result takes the dividend's sign).
- Clip: ``min``, ``max`` (Python numbers, each absent when unbounded; the frontend turns
  the opset-11+ inputs into these attributes, or into Max/Min nodes when they are not
  constants).
- Cast: ``to`` (numpy dtype name, e.g. "float32").
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..graph.dtypes import is_floating, is_narrow
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from . import narrow
from .common import broadcast_read, broadcast_shapes, define_op, same_dtype
from .registry import OpPattern


def _float_only(op: str, dtype: str) -> None:
    if not is_floating(dtype):
        raise ValueError(f"{op} is defined for float tensors, got {dtype}")


def broadcast_map(name: str, inputs: list, fn, dtype: str | None = None):
    """The TE tensor ``fn(*reads)`` over the numpy broadcast of ``inputs``."""
    shape = broadcast_shapes(*(t.shape for t in inputs))
    tag = "elemwise" if all(t.shape == shape for t in inputs) else "broadcast"
    return te.compute(shape, lambda *i: fn(*(broadcast_read(t, i) for t in inputs)),
                      name.lower(), tag=tag, dtype=dtype)


# --- unary -----------------------------------------------------------------------------

def _zero_like(x: E.Expr) -> E.Expr:
    return E.const(0, x.dtype)


def _one_like(x: E.Expr) -> E.Expr:
    return E.const(1, x.dtype)


def _np_sigmoid(x):
    # split by sign so exp never overflows
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _in_float64(fn, by_dtype: bool = False):
    """``fn`` (a float64 TE builder) evaluated in float64 and rounded back to x's dtype;
    with ``by_dtype``, ``fn`` also gets whether x is float64 (full double accuracy
    wanted) or narrower (float32 accuracy suffices)."""
    if by_dtype:
        return lambda x: E.cast(x.dtype, fn(E.cast("float64", x), x.dtype == "float64"))
    return lambda x: E.cast(x.dtype, fn(E.cast("float64", x)))


def _f(v: float) -> E.Expr:
    return E.const(v, "float64")


#: atan(r) = r * P(r*r) for |r| <= tan(pi/8): least-squares fits on Chebyshev nodes,
#: relative error 1.4e-15 (for float64) and 6.1e-10 (for float32 and float16).
_ATAN_POLY_SHORT = (0.9999999993921003, -0.3333330749342976, 0.1999821079756915,
                    -0.14239982918779148, 0.105728144758037, -0.06033241701527175)
_ATAN_POLY = (0.9999999999999993, -0.3333333333322515, 0.19999999978950367,
              -0.14285712694283875, 0.111110498113684, -0.09089545787664, 0.07673689457548387,
              -0.0650685805967454, 0.05027447928041603, -0.02535088076613494)
_TAN_PI_8, _TAN_3PI_8 = math.tan(math.pi / 8), math.tan(3 * math.pi / 8)


def _te_atan(x: E.Expr, precise: bool = True) -> E.Expr:
    """atan in float64: |x| is reduced into [0, tan(pi/8)] (atan(a) = pi/4 +
    atan((a-1)/(a+1)) = pi/2 - atan(1/a)) and a polynomial does the rest.

    Written so that x occurs few times: TE bodies are trees once inlined, so every
    reuse of a subexpression multiplies the code the compiler has to process."""
    one = _f(1.0)
    a = E.call("fabs", x)
    low, mid = E.le(a, _f(_TAN_PI_8)), E.le(a, _f(_TAN_3PI_8))
    r = E.select(low, a, E.select(mid, (a - one) / (a + one), _f(-1.0) / a))
    offset = E.select(low, _f(0.0), E.select(mid, _f(math.pi / 4), _f(math.pi / 2)))
    z = r * r
    poly = _f(0.0)
    for c in reversed(_ATAN_POLY if precise else _ATAN_POLY_SHORT):
        poly = poly * z + _f(c)
    sign = E.select(E.lt(x, _f(0.0)), _f(-1.0), one)
    return sign * (offset + r * poly)


def _te_asin(x, precise=True):
    # asin(x) = 2 atan(x / (1 + sqrt(1 - x^2))); |x| > 1 gives NaN through the sqrt
    one = _f(1.0)
    return _f(2.0) * _te_atan(x / (one + E.call("sqrt", (one - x) * (one + x))), precise)


def _odd_near_zero(fn):
    """``fn`` for odd functions with f(x) ~ x near 0, where the formula cancels: below
    1e-5 (relative error of x under 1e-10 in float64) x itself is returned."""
    return lambda x: E.select(E.lt(E.call("fabs", x), _f(1e-5)), x, fn(x))


def _te_asinh(x):
    a = E.call("fabs", x)
    r = E.call("log", a + E.call("sqrt", a * a + _f(1.0)))
    return E.select(E.lt(x, _f(0.0)), _f(0.0) - r, r)


def _te_sign(x):
    one, zero = _one_like(x), _zero_like(x)
    if x.dtype.startswith("u"):
        return E.select(E.gt(x, zero), one, zero)
    # NaN and zero map to themselves
    return E.select(E.gt(x, zero), one, E.select(E.lt(x, zero), zero - one, x))


_UNARY = [
    # name, numpy function, TE builder, float only
    ("Relu", lambda x: np.maximum(x, 0), lambda x: E.maximum(x, _zero_like(x)), False),
    ("Neg", np.negative, lambda x: _zero_like(x) - x, False),
    ("Abs", np.abs, lambda x: E.call("fabs" if E.is_float(x.dtype) else "abs", x), False),
    ("Sign", np.sign, _te_sign, False),
    ("Sigmoid", _np_sigmoid, lambda x: _one_like(x) / (_one_like(x) + E.call("exp", -x)), True),
    ("Tanh", np.tanh, lambda x: E.call("tanh", x), True),
    ("Exp", np.exp, lambda x: E.call("exp", x), True),
    ("Log", np.log, lambda x: E.call("log", x), True),
    ("Sqrt", np.sqrt, lambda x: E.call("sqrt", x), True),
    ("Floor", np.floor, lambda x: E.call("floor", x), True),
    ("Ceil", np.ceil, lambda x: E.call("ceil", x), True),
    ("Round", np.round, lambda x: E.call("round", x), True),  # half to even
    ("Erf", _np_erf, lambda x: E.call("erf", x), True),
    ("Reciprocal", np.reciprocal, lambda x: _one_like(x) / x, True),
    ("Sin", np.sin, lambda x: E.call("sin", x), True),
    ("Cos", np.cos, lambda x: E.call("cos", x), True),
    ("Tan", np.tan, _in_float64(lambda x: E.call("sin", x) / E.call("cos", x)), True),
    ("Atan", np.arctan, _in_float64(_te_atan, by_dtype=True), True),
    ("Asin", np.arcsin, _in_float64(_te_asin, by_dtype=True), True),
    ("Acos", np.arccos, _in_float64(lambda x, p: _f(math.pi / 2) - _te_asin(x, p), True), True),
    ("Sinh", np.sinh, _in_float64(_odd_near_zero(
        lambda x: (E.call("exp", x) - E.call("exp", -x)) * _f(0.5))), True),
    ("Cosh", np.cosh, _in_float64(
        lambda x: (E.call("exp", x) + E.call("exp", -x)) * _f(0.5)), True),
    ("Asinh", np.arcsinh, _in_float64(_odd_near_zero(_te_asinh)), True),
    ("Acosh", np.arccosh, _in_float64(
        lambda x: E.call("log", x + E.call("sqrt", (x - _f(1.0)) * (x + _f(1.0))))), True),
    ("Atanh", np.arctanh, _in_float64(_odd_near_zero(
        lambda x: E.call("log", (_f(1.0) + x) / (_f(1.0) - x)) * _f(0.5))), True),
]


def _register_unary(name, np_fn, te_fn, float_only):
    def infer(types, attrs):
        (x,) = types
        if float_only:
            _float_only(name, x.dtype)
        elif x.dtype == "bool":
            raise ValueError(f"{name} is defined for numeric tensors, got bool")
        return [x]

    def compute(inputs, attrs):
        (x,) = inputs
        return [te.compute(x.shape, lambda *i: te_fn(x[i]), name.lower(), tag="elemwise")]

    define_op(name, infer, lambda xs, attrs: [np_fn(xs[0])], compute, OpPattern.ELEMWISE,
              f"{name}(X): element-wise; no attributes.")


for _row in _UNARY:
    _register_unary(*_row)


# --- binary and variadic ---------------------------------------------------------------

def _np_div(a, b):
    if np.issubdtype(a.dtype, np.integer):  # ONNX integer division truncates toward zero
        with np.errstate(divide="ignore"):
            q = np.abs(a) // np.abs(b) if np.issubdtype(a.dtype, np.signedinteger) else a // b
        return np.where((a < 0) != (b < 0), -q, q)
    return a / b


def _te_div(a: E.Expr, b: E.Expr) -> E.Expr:
    if E.is_float(a.dtype):
        return a / b
    q = a // b  # floor; bump toward zero when inexact with mixed signs
    fix = E.logical_and(E.ne(a % b, E.const(0, a.dtype)),
                        E.ne(E.lt(a, E.const(0, a.dtype)), E.lt(b, E.const(0, b.dtype))))
    return E.select(fix, q + E.const(1, a.dtype), q)


_BINARY = [
    # name, numpy function, TE builder
    ("Add", np.add, lambda a, b: a + b),
    ("Sub", np.subtract, lambda a, b: a - b),
    ("Mul", np.multiply, lambda a, b: a * b),
    ("Div", _np_div, _te_div),
]

_VARIADIC = [
    # name, numpy pairwise function, TE pairwise builder, finish (numpy, TE) given count
    ("Sum", np.add, lambda a, b: a + b, None),
    ("Max", np.maximum, E.maximum, None),
    ("Min", np.minimum, E.minimum, None),
    ("Mean", np.add, lambda a, b: a + b,
     (lambda s, n: s / n, lambda s, n: s / E.const(n, s.dtype))),
]


def _broadcast_infer(name: str, arity: int | None):
    def infer(types, attrs):
        if arity is not None and len(types) != arity:
            raise ValueError(f"{name} takes {arity} inputs, got {len(types)}")
        if not types:
            raise ValueError(f"{name} needs at least one input")
        return [TensorType(broadcast_shapes(*(t.shape for t in types)), same_dtype(types, name))]
    return infer


def _register_broadcast(name, np_fn, te_fn, arity, finish=None):
    np_finish, te_finish = finish or (None, None)

    def reference(xs, attrs):
        out = functools.reduce(np_fn, xs)
        return [np_finish(out, len(xs)) if np_finish else out]

    def compute(inputs, attrs):
        def body(*reads):
            out = functools.reduce(te_fn, reads)
            return te_finish(out, len(reads)) if te_finish else out
        return [broadcast_map(name, inputs, body)]

    kind = f"{arity} inputs" if arity else "one or more inputs"
    define_op(name, _broadcast_infer(name, arity), reference, compute, OpPattern.BROADCAST,
              f"{name}({kind}): element-wise with numpy broadcasting; no attributes.")


for _name, _np_fn, _te_fn in _BINARY:
    _register_broadcast(_name, _np_fn, _te_fn, 2)
for _name, _np_fn, _te_fn, _finish in _VARIADIC:
    _register_broadcast(_name, _np_fn, _te_fn, None, _finish)


# --- Pow and Mod -----------------------------------------------------------------------

def _pow_infer(types, attrs):
    base, exponent = types
    if "bool" in (base.dtype, exponent.dtype):
        raise ValueError("Pow is defined for numeric tensors, got bool")
    return [TensorType(broadcast_shapes(base.shape, exponent.shape), base.dtype)]


def _pow_reference(xs, attrs):
    a, b = xs
    if E.is_float(str(a.dtype)):
        return [np.power(a, b.astype(a.dtype))]
    return [np.power(a.astype(np.float64), b.astype(np.float64))]


def _pow_compute(inputs, attrs):
    base = inputs[0]

    def body(a, b):
        if E.is_float(a.dtype):
            return E.call("pow", a, E.cast(a.dtype, b))
        return E.cast(a.dtype, E.call("pow", E.cast("float64", a), E.cast("float64", b)))
    return [broadcast_map("pow", inputs, body, dtype=base.dtype)]


define_op("Pow", _pow_infer, _pow_reference, _pow_compute, OpPattern.BROADCAST,
          "Pow(X, Y): X ** Y with broadcasting; output dtype is X's (Y may differ).")


def _np_mod(xs, attrs):
    a, b = xs
    with np.errstate(divide="ignore", invalid="ignore"):
        if attrs.get("fmod", 0):
            out = np.fmod(a, b)
        else:
            out = np.mod(a, b)
    if not E.is_float(str(a.dtype)):
        out = np.where(b == 0, 0, out)
    return [out]


def _te_mod(fmod: int):
    def body(a, b):
        if not fmod or a.dtype.startswith("u"):
            return a % b  # floor modulo: the divisor's sign
        absolute = "fabs" if E.is_float(a.dtype) else "abs"
        r = E.call(absolute, a) % E.call(absolute, b)  # exact: no sign fix-up inside
        return E.select(E.lt(a, _zero_like(a)), _zero_like(a) - r, r)
    return body


define_op("Mod", _broadcast_infer("Mod", 2), _np_mod,
          lambda inputs, attrs: [broadcast_map("mod", inputs, _te_mod(attrs.get("fmod", 0)))],
          OpPattern.BROADCAST,
          "Mod(A, B; fmod): remainder with broadcasting; fmod=0 floors (divisor's sign), "
          "fmod=1 truncates (dividend's sign); x mod 0 is 0 for integers.")


# --- Clip and Cast ---------------------------------------------------------------------

def _clip_reference(xs, attrs):
    (x,) = xs
    lo, hi = attrs.get("min"), attrs.get("max")
    out = x
    if lo is not None:
        out = np.maximum(out, np.asarray(lo, x.dtype))
    if hi is not None:
        out = np.minimum(out, np.asarray(hi, x.dtype))
    return [out]


def _clip_compute(inputs, attrs):
    (x,) = inputs
    lo, hi = attrs.get("min"), attrs.get("max")

    def body(*i):
        v = x[i]
        if lo is not None:
            v = E.maximum(v, E.const(lo, x.dtype))
        if hi is not None:
            v = E.minimum(v, E.const(hi, x.dtype))
        return v

    return [te.compute(x.shape, body, "clip", tag="elemwise")]


define_op("Clip", lambda types, attrs: [types[0]], _clip_reference, _clip_compute,
          OpPattern.ELEMWISE,
          "Clip(X; min?, max?): clamp; each bound absent when unbounded.")


def _cast_infer(types, attrs):
    (x,) = types
    return [TensorType(x.shape, attrs["to"])]


def _cast_options(attrs) -> dict:
    return {"saturate": bool(attrs.get("saturate", 1)), "round_mode": attrs.get("round_mode", "up")}


def _cast_compute(inputs, attrs):
    (x,) = inputs
    opts = _cast_options(attrs)
    # an encoding to a narrow type reads its input many times: inlined into a chain of
    # such casts the expression would grow exponentially, so it is materialized instead
    tag = "narrow_encode" if is_narrow(attrs["to"]) else "elemwise"
    return [te.compute(x.shape, lambda *i: narrow.cast(x[i], attrs["to"], **opts), "cast",
                       tag=tag)]


def _cast_reference(xs, attrs):
    return [narrow.cast_array(xs[0], attrs["to"], **_cast_options(attrs))]


define_op("Cast", _cast_infer, _cast_reference, _cast_compute, OpPattern.ELEMWISE,
          "Cast(X; to, saturate?, round_mode?): convert to dtype ``to`` (numpy name). "
          "``saturate`` (default 1: clamp out-of-range values to the largest finite one) "
          "applies to float8 targets and ``round_mode`` (up | down | nearest, default up) "
          "to float8_e8m0fnu; see ops/narrow.py.")


def _bitcast_infer(types, attrs):
    (x,) = types
    if np.dtype(x.dtype).itemsize != np.dtype(attrs["to"]).itemsize:
        raise ValueError(f"BitCast from {x.dtype} to {attrs['to']}: the element sizes differ "
                         f"({np.dtype(x.dtype).itemsize} vs {np.dtype(attrs['to']).itemsize} "
                         f"bytes); BitCast keeps the bits, so the types must be equally wide")
    return [TensorType(x.shape, attrs["to"])]


def _bitcast_compute(inputs, attrs):
    (x,) = inputs
    return [te.compute(x.shape, lambda *i: E.reinterpret(attrs["to"], x[i]), "bitcast",
                       tag="elemwise")]


define_op("BitCast", _bitcast_infer, lambda xs, a: [xs[0].view(a["to"])], _bitcast_compute,
          OpPattern.ELEMWISE, "BitCast(X; to): X's bits read as dtype ``to`` (same width).")
