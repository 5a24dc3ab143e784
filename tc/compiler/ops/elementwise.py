"""Element-wise ops: unary math, broadcasting binary arithmetic, variadic Sum/Max/Min/Mean,
Clip and Cast.

Every family is registered from a table (name, numpy function, TE expression builder),
so adding an op is one line. TE tags: "elemwise" when every input has the output's
shape, "broadcast" otherwise.

Canonical attributes:
- unary ops, binary ops, Sum/Max/Min/Mean: none.
- Clip: ``min``, ``max`` (Python numbers, each absent when unbounded; the frontend turns
  the opset-11+ inputs into these attributes).
- Cast: ``to`` (numpy dtype name, e.g. "float32").
"""
from __future__ import annotations

import functools

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import broadcast_read, broadcast_shapes, define_op, same_dtype
from .registry import OpPattern


def _float_only(op: str, dtype: str) -> None:
    if not E.is_float(dtype):
        raise ValueError(f"{op} is defined for float tensors, got {dtype}")


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
    import math

    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


_UNARY = [
    # name, numpy function, TE builder, float only
    ("Relu", lambda x: np.maximum(x, 0), lambda x: E.maximum(x, _zero_like(x)), False),
    ("Neg", np.negative, lambda x: _zero_like(x) - x, False),
    ("Abs", np.abs, lambda x: E.call("fabs" if E.is_float(x.dtype) else "abs", x), False),
    ("Sigmoid", _np_sigmoid, lambda x: _one_like(x) / (_one_like(x) + E.call("exp", -x)), True),
    ("Tanh", np.tanh, lambda x: E.call("tanh", x), True),
    ("Exp", np.exp, lambda x: E.call("exp", x), True),
    ("Log", np.log, lambda x: E.call("log", x), True),
    ("Sqrt", np.sqrt, lambda x: E.call("sqrt", x), True),
    ("Floor", np.floor, lambda x: E.call("floor", x), True),
    ("Ceil", np.ceil, lambda x: E.call("ceil", x), True),
    ("Erf", _np_erf, lambda x: E.call("erf", x), True),
    ("Reciprocal", np.reciprocal, lambda x: _one_like(x) / x, True),
]


def _register_unary(name, np_fn, te_fn, float_only):
    def infer(types, attrs):
        (x,) = types
        if float_only:
            _float_only(name, x.dtype)
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
        q = np.abs(a) // np.abs(b)
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
    # name, numpy function, TE builder, float only
    ("Add", np.add, lambda a, b: a + b, False),
    ("Sub", np.subtract, lambda a, b: a - b, False),
    ("Mul", np.multiply, lambda a, b: a * b, False),
    ("Div", _np_div, _te_div, False),
    ("Pow", np.power, lambda a, b: E.call("pow", a, b), True),
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


def _broadcast_compute(name: str, combine, finish=None):
    def compute(inputs, attrs):
        shape = broadcast_shapes(*(t.shape for t in inputs))
        tag = "elemwise" if all(t.shape == shape for t in inputs) else "broadcast"

        def body(*i):
            out = functools.reduce(combine, (broadcast_read(t, i) for t in inputs))
            return finish(out, len(inputs)) if finish else out

        return [te.compute(shape, body, name.lower(), tag=tag)]
    return compute


def _register_broadcast(name, np_fn, te_fn, arity, finish=None, float_only=False):
    np_finish, te_finish = finish or (None, None)

    def reference(xs, attrs):
        out = functools.reduce(np_fn, xs)
        return [np_finish(out, len(xs)) if np_finish else out]

    base_infer = _broadcast_infer(name, arity)

    def infer(types, attrs):
        out = base_infer(types, attrs)
        if float_only:
            _float_only(name, out[0].dtype)
        return out

    kind = f"{arity} inputs" if arity else "one or more inputs"
    define_op(name, infer, reference, _broadcast_compute(name, te_fn, te_finish),
              OpPattern.BROADCAST,
              f"{name}({kind}): element-wise with numpy broadcasting; no attributes.")


for _name, _np_fn, _te_fn, _float in _BINARY:
    _register_broadcast(_name, _np_fn, _te_fn, 2, float_only=_float)
for _name, _np_fn, _te_fn, _finish in _VARIADIC:
    _register_broadcast(_name, _np_fn, _te_fn, None, _finish)


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


def _cast_compute(inputs, attrs):
    (x,) = inputs
    return [te.compute(x.shape, lambda *i: E.cast(attrs["to"], x[i]), "cast", tag="elemwise")]


define_op("Cast", _cast_infer, lambda xs, attrs: [xs[0].astype(attrs["to"])], _cast_compute,
          OpPattern.ELEMWISE, "Cast(X; to): convert to dtype ``to`` (numpy name).")
