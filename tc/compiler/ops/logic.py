"""Logic ops: comparisons, boolean and bitwise logic, bit shifts, Where, IsNaN, IsInf.

Registered from tables like the element-wise family; every binary op broadcasts
(numpy rules) through ``elementwise.broadcast_map``.

Canonical attributes:
- Equal/Less/Greater/LessOrEqual/GreaterOrEqual, And/Or/Xor/Not, BitwiseAnd/Or/Xor/Not,
  Where, IsNaN: none.
- BitShift: ``direction`` ("LEFT" or "RIGHT"); a shift amount outside [0, bits) gives the
  full-width result (0, or the sign fill -1 for a right shift of a negative int).
- IsInf: ``detect_positive``, ``detect_negative`` (ints, 0 or 1; default 1).
"""
from __future__ import annotations

import functools

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import broadcast_shapes, define_op, same_dtype
from .elementwise import broadcast_map
from .registry import OpPattern


def _check(name: str, dtype: str, kind: str) -> None:
    ok = {"bool": dtype == "bool", "int": E.is_int(dtype),
          "numeric": dtype != "bool", "float": is_floating(dtype), "any": True}[kind]
    if not ok:
        raise ValueError(f"{name} is defined for {kind} tensors, got {dtype}")


def _binary_infer(name: str, kind: str, out_dtype: str | None):
    def infer(types, attrs):
        if len(types) != 2:
            raise ValueError(f"{name} takes 2 inputs, got {len(types)}")
        dtype = same_dtype(types, name)
        _check(name, dtype, kind)
        shape = broadcast_shapes(*(t.shape for t in types))
        return [TensorType(shape, out_dtype or dtype)]
    return infer


def _bitwise(op: str):
    return lambda a, b: E.Binary(op, a, b)


def _te_not_bits(x):
    # all ones in x's width: -1 for signed ints, 2**bits - 1 for unsigned
    bits = int(x.dtype.lstrip("uint"))
    ones = (1 << bits) - 1 if x.dtype.startswith("u") else -1
    return E.Binary("^", x, E.const(ones, x.dtype))


_BINARY = [
    # name, numpy function, TE builder, input kind, output dtype (None: the inputs')
    ("Equal", np.equal, E.eq, "any", "bool"),
    ("Less", np.less, E.lt, "numeric", "bool"),
    ("Greater", np.greater, E.gt, "numeric", "bool"),
    ("LessOrEqual", np.less_equal, E.le, "numeric", "bool"),
    ("GreaterOrEqual", np.greater_equal, E.ge, "numeric", "bool"),
    ("And", np.logical_and, E.logical_and, "bool", None),
    ("Or", np.logical_or, E.logical_or, "bool", None),
    ("Xor", np.logical_xor, E.ne, "bool", None),
    ("BitwiseAnd", np.bitwise_and, _bitwise("&"), "int", None),
    ("BitwiseOr", np.bitwise_or, _bitwise("|"), "int", None),
    ("BitwiseXor", np.bitwise_xor, _bitwise("^"), "int", None),
]

_UNARY = [
    # name, numpy function, TE builder, input kind, output dtype
    ("Not", np.logical_not, E.Not, "bool", None),
    ("BitwiseNot", np.invert, _te_not_bits, "int", None),
    ("IsNaN", np.isnan, lambda x: E.ne(x, x), "float", "bool"),
]


def _register_binary(name, np_fn, te_fn, kind, out_dtype):
    define_op(name, _binary_infer(name, kind, out_dtype),
              lambda xs, attrs: [np_fn(*xs)],
              lambda inputs, attrs: [broadcast_map(name, inputs, te_fn)],
              OpPattern.BROADCAST,
              f"{name}(A, B): element-wise with numpy broadcasting ({kind} inputs); "
              "no attributes.")


def _register_unary(name, np_fn, te_fn, kind, out_dtype):
    def infer(types, attrs):
        (x,) = types
        _check(name, x.dtype, kind)
        return [TensorType(x.shape, out_dtype or x.dtype)]

    def compute(inputs, attrs):
        (x,) = inputs
        return [te.compute(x.shape, lambda *i: te_fn(x[i]), name.lower(), tag="elemwise")]

    define_op(name, infer, lambda xs, attrs: [np_fn(xs[0])], compute, OpPattern.ELEMWISE,
              f"{name}(X): element-wise ({kind} input); no attributes.")


for _row in _BINARY:
    _register_binary(*_row)
for _row in _UNARY:
    _register_unary(*_row)


# --- BitShift --------------------------------------------------------------------------

def _bitshift_reference(xs, attrs):
    x, n = xs
    bits = x.dtype.itemsize * 8
    out_of_range = (n < 0) | (n >= bits)
    safe = np.where(out_of_range, bits - 1, n).astype(x.dtype)
    if attrs["direction"] == "LEFT":
        return [np.where(out_of_range, np.zeros((), x.dtype), np.left_shift(x, safe))]
    return [np.right_shift(x, safe)]  # out of range: the sign fill (0 or -1)


def _bitshift_compute(inputs, attrs):
    left = attrs["direction"] == "LEFT"

    def body(x, n):
        bits = int(x.dtype.lstrip("uint"))
        # LLVM shifts outside [0, bits) are poison; ONNX gives the full-width result
        out_of_range = E.ge(n, E.const(bits, n.dtype))
        if not n.dtype.startswith("u"):
            out_of_range = E.logical_or(out_of_range, E.lt(n, E.const(0, n.dtype)))
        if left:
            return E.select(out_of_range, E.const(0, x.dtype), E.Binary("<<", x, n))
        return E.Binary(">>", x, E.select(out_of_range, E.const(bits - 1, n.dtype), n))
    return [broadcast_map("bitshift", inputs, body)]


define_op("BitShift", _binary_infer("BitShift", "int", None), _bitshift_reference,
          _bitshift_compute, OpPattern.BROADCAST,
          "BitShift(X, Y; direction): X shifted by Y bits, \"LEFT\" or \"RIGHT\" "
          "(signed ints shift right arithmetically; out-of-range amounts shift everything out).")


# --- Where -----------------------------------------------------------------------------

def _where_infer(types, attrs):
    cond, x, y = types
    if cond.dtype != "bool":
        raise ValueError(f"Where's condition must be bool, got {cond.dtype}")
    dtype = same_dtype([x, y], "Where")
    return [TensorType(broadcast_shapes(cond.shape, x.shape, y.shape), dtype)]


define_op("Where", _where_infer, lambda xs, attrs: [np.where(*xs)],
          lambda inputs, attrs: [broadcast_map("where", inputs, E.select)],
          OpPattern.BROADCAST,
          "Where(Cond, X, Y): X where Cond else Y, with numpy broadcasting; no attributes.")


# --- IsInf -----------------------------------------------------------------------------

def _isinf_reference(xs, attrs):
    (x,) = xs
    pos, neg = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    return [(np.isposinf(x) & bool(pos)) | (np.isneginf(x) & bool(neg))]


def _isinf_compute(inputs, attrs):
    (x,) = inputs
    pos, neg = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)

    def body(*i):
        v = x[i]
        tests = []
        if pos:
            tests.append(E.eq(v, E.const(float("inf"), v.dtype)))
        if neg:
            tests.append(E.eq(v, E.const(float("-inf"), v.dtype)))
        return functools.reduce(E.logical_or, tests) if tests else E.const(False)

    return [te.compute(x.shape, body, "isinf", tag="elemwise")]


def _isinf_infer(types, attrs):
    (x,) = types
    _check("IsInf", x.dtype, "float")
    return [TensorType(x.shape, "bool")]


define_op("IsInf", _isinf_infer, _isinf_reference, _isinf_compute, OpPattern.ELEMWISE,
          "IsInf(X; detect_positive, detect_negative): bool mask of +inf / -inf.")
