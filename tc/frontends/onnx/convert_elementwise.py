"""ONNX converters for the element-wise family: one canonical op per ONNX op."""
from __future__ import annotations

from ...compiler.graph.dtypes import E8M0
from .importer import Converter, NotConstantError, converter, np_dtype

_UNARY = ("Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Floor", "Ceil",
          "Round", "Sign", "Erf", "Reciprocal", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
          "Sinh", "Cosh", "Asinh", "Acosh", "Atanh")
_BROADCAST = ("Add", "Sub", "Mul", "Div", "Pow", "Sum", "Max", "Min", "Mean")


@converter(*_UNARY, *_BROADCAST, "MatMul", "Identity", "GlobalAveragePool", "GlobalMaxPool")
def _plain(cv: Converter, node, attrs):
    cv.emit(node.op_type, cv.inputs(node), {}, node)


@converter("Mod")
def _mod(cv, node, attrs):
    cv.emit("Mod", cv.inputs(node), {"fmod": int(attrs.get("fmod", 0))}, node)


def _cast_attrs(to: str, attrs) -> dict:
    """Canonical Cast attributes: ``saturate`` only for float8 targets, ``round_mode``
    only for float8_e8m0fnu (elsewhere they mean nothing, and leaving them out keeps
    equal casts structurally equal)."""
    out = {"to": to}
    if to.startswith("float8"):
        out["saturate"] = int(attrs.get("saturate", 1))
    if to == E8M0:
        out["round_mode"] = attrs.get("round_mode", "up")
    return out


@converter("Cast")
def _cast(cv, node, attrs):
    cv.emit("Cast", cv.inputs(node)[:1], _cast_attrs(np_dtype(int(attrs["to"])), attrs), node)


@converter("BitCast")
def _bitcast(cv, node, attrs):
    cv.emit("BitCast", cv.inputs(node)[:1], {"to": np_dtype(int(attrs["to"]))}, node)


@converter("CastLike")
def _cast_like(cv, node, attrs):
    x, like = cv.inputs(node)
    cv.emit("Cast", [x], _cast_attrs(like.type.dtype, attrs), node)


@converter("Clip")
def _clip(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 11:
        cv.emit("Clip", [x], {k: attrs[k] for k in ("min", "max") if k in attrs}, node)
        return
    bounds, dynamic = {}, []
    for index, key, op in ((1, "min", "Max"), (2, "max", "Min")):
        try:
            bound = cv.optional_const(node, index, f"Clip's {key} input")
        except NotConstantError:  # a run-time bound: clamp with Max/Min nodes
            dynamic.append((op, cv.value(node.input[index])))
            continue
        if bound is not None:
            bounds[key] = bound.item()
    if not dynamic:
        cv.emit("Clip", [x], bounds, node)
        return
    steps = ([("Clip", [], bounds)] if bounds else []) + [(op, [v], {}) for op, v in dynamic]
    for k, (op, extra, step_attrs) in enumerate(steps):
        last = k == len(steps) - 1
        outputs = None if last else [f"{node.output[0]}_clip{k}"]
        x, = cv.emit(op, [x, *extra], step_attrs, node, outputs)
