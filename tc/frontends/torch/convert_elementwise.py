"""Elementwise ATen ops: arithmetic with tensors or Python numbers (with torch's type
promotion), unary math, pow, min/max, clamp, fmod/remainder and rounding division.

Type promotion: torch records each result's dtype (``node.meta["val"]``); the operands
are cast to it before the tc op (``Lowering.operands``: an int64 tensor times 0.5 is
computed in float32), and Python numbers become constants of it."""
from __future__ import annotations

import math

from ...compiler.graph import Value
from ...compiler.graph.dtypes import is_floating
from .lowering import Lowering, arg, converter, op_name

# --- binary ----------------------------------------------------------------------------

#: ATen binary op -> (tc op, attrs)
_BINARY = {
    **{f"aten.{name}.{overload}": (op, None)
       for name, op in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"))
       for overload in ("Tensor", "Scalar")},
    **{f"aten.pow.{overload}": ("Pow", None)
       for overload in ("Tensor_Scalar", "Tensor_Tensor", "Scalar")},
    "aten.maximum.default": ("Max", None),
    "aten.minimum.default": ("Min", None),
    # fmod takes the dividend's sign (C fmod); remainder the divisor's (Python %)
    **{f"aten.fmod.{overload}": ("Mod", {"fmod": 1}) for overload in ("Scalar", "Tensor")},
    **{f"aten.remainder.{overload}": ("Mod", {"fmod": 0})
       for overload in ("Scalar", "Tensor", "Scalar_Tensor")},
}


@converter(*_BINARY)
def _binary(cv: Lowering, node):
    a, b = cv.operands(node, *node.args[:2])
    alpha = node.kwargs.get("alpha", 1)  # add/sub: a + alpha * b
    if alpha != 1:
        b = cv.emit("Mul", [b, cv.scalar(alpha, b.type.dtype)], None, node)
    op, attrs = _BINARY[op_name(node.target)]
    return cv.emit(op, [a, b], attrs, node)


@converter("aten.div.Tensor_mode", "aten.div.Scalar_mode")
def _div_mode(cv: Lowering, node):
    """``rounding_mode`` None (true division), "trunc" or "floor"."""
    a, b = cv.operands(node, *node.args[:2])
    mode = arg(node, 2, "rounding_mode")
    if is_floating(a.type.dtype):
        q = cv.emit("Div", [a, b], None, node)
        if mode == "floor":
            return cv.emit("Floor", [q], None, node)
        return _trunc(cv, node, q) if mode == "trunc" else q
    if mode == "floor":  # a - floor_mod(a, b) is a multiple of b: Div (truncating) is exact
        a = cv.emit("Sub", [a, cv.emit("Mod", [a, b], {"fmod": 0}, node)], None, node)
    return cv.emit("Div", [a, b], None, node)  # tc's integer Div truncates


# --- unary -----------------------------------------------------------------------------

_UNARY = {f"aten.{name}.default": op for name, op in (
    ("relu", "Relu"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("exp", "Exp"),
    ("neg", "Neg"), ("sqrt", "Sqrt"), ("abs", "Abs"), ("log", "Log"), ("erf", "Erf"),
    ("sin", "Sin"), ("cos", "Cos"), ("tan", "Tan"), ("asin", "Asin"), ("acos", "Acos"),
    ("atan", "Atan"), ("sinh", "Sinh"), ("cosh", "Cosh"), ("asinh", "Asinh"),
    ("acosh", "Acosh"), ("atanh", "Atanh"), ("reciprocal", "Reciprocal"), ("sign", "Sign"),
    ("floor", "Floor"), ("ceil", "Ceil"), ("round", "Round"))}

#: rounding ops are the identity on integer tensors (tc's are float-only)
_ROUNDING = ("Floor", "Ceil", "Round")


@converter(*_UNARY)
def _unary(cv: Lowering, node):
    x = cv.operands(node, *node.args[:1])[0]
    op = _UNARY[op_name(node.target)]
    if op in _ROUNDING and not is_floating(x.type.dtype):
        return x
    return cv.emit(op, [x], None, node)


def _trunc(cv: Lowering, node, x: Value) -> Value:
    """Rounding toward zero: sign(x) * floor(|x|) (x itself for integers)."""
    if not is_floating(x.type.dtype):
        return x
    floor = cv.emit("Floor", [cv.emit("Abs", [x], None, node)], None, node)
    return cv.emit("Mul", [cv.emit("Sign", [x], None, node), floor], None, node)


#: unary ATen ops tc has no single op for: fn(f, x) builds them, f(op, *inputs) emitting
#: a tc op whose Python-number inputs become constants of x's dtype
_COMPOSED = {
    "aten.rsqrt.default": lambda f, x: f("Reciprocal", f("Sqrt", x)),
    "aten.log1p.default": lambda f, x: f("Log", f("Add", x, 1)),
    "aten.expm1.default": lambda f, x: f("Sub", f("Exp", x), 1),
    "aten.exp2.default": lambda f, x: f("Pow", 2, x),
    "aten.log2.default": lambda f, x: f("Mul", f("Log", x), 1 / math.log(2)),
    "aten.log10.default": lambda f, x: f("Mul", f("Log", x), 1 / math.log(10)),
    "aten.erfc.default": lambda f, x: f("Sub", 1, f("Erf", x)),
}


@converter(*_COMPOSED)
def _composed(cv: Lowering, node):
    x = cv.operands(node, *node.args[:1])[0]

    def f(op, *inputs):
        return cv.emit(op, cv.operands(node, *inputs, dtype=x.type.dtype), None, node)

    return _COMPOSED[op_name(node.target)](f, x)


@converter("aten.trunc.default")
def _trunc_op(cv: Lowering, node):
    return _trunc(cv, node, cv.operands(node, *node.args[:1])[0])


@converter("aten.round.decimals")
def _round_decimals(cv: Lowering, node):
    """torch's formula: round(x * 10^d) / 10^d, or round(x / 10^-d) * 10^-d for d < 0."""
    x = cv.operands(node, *node.args[:1])[0]
    decimals = int(arg(node, 1, "decimals", 0))
    if not is_floating(x.type.dtype):
        return x
    scale = cv.scalar(10.0 ** abs(decimals), x.type.dtype)
    there, back = ("Mul", "Div") if decimals >= 0 else ("Div", "Mul")
    rounded = cv.emit("Round", [cv.emit(there, [x, scale], None, node)], None, node)
    return cv.emit(back, [rounded, scale], None, node)


# --- clamp -----------------------------------------------------------------------------

def clip(cv: Lowering, node, x: Value, low, high) -> Value:
    """``x`` clamped to Python-number bounds (None: unbounded on that side)."""
    attrs = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    return cv.emit("Clip", [x], attrs, node) if attrs else x


@converter("aten.clamp.default", "aten.hardtanh.default")
def _clamp(cv: Lowering, node):
    x = cv.operands(node, *node.args[:1])[0]
    if op_name(node.target) == "aten.hardtanh.default":
        return clip(cv, node, x, arg(node, 1, "min_val", -1.0), arg(node, 2, "max_val", 1.0))
    return clip(cv, node, x, arg(node, 1, "min"), arg(node, 2, "max"))


@converter("aten.clamp.Tensor")
def _clamp_tensor(cv: Lowering, node):
    """Bounds given as tensors: max with the lower bound, then min with the upper one
    (so the upper bound wins where they cross, as in torch)."""
    x = cv.operands(node, *node.args[:1])[0]
    for i, name, op in ((1, "min", "Max"), (2, "max", "Min")):
        bound = arg(node, i, name)
        if bound is not None:
            x = cv.emit(op, [x, cv.operands(node, bound)[0]], None, node)
    return x


@converter("aten.clone.default", "aten.alias.default", "aten.detach.default",
           "aten.dropout.default", "aten.contiguous.default")
def _identity(cv: Lowering, node):
    return cv.value(node.args[0])
