"""ONNX converters for the element-wise family: one canonical op per ONNX op."""
from __future__ import annotations

from .importer import Converter, converter, np_dtype


@converter("Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Floor", "Ceil",
            "Erf", "Reciprocal", "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean",
            "MatMul", "Identity", "GlobalAveragePool", "GlobalMaxPool")
def _plain(cv: Converter, node, attrs):
    cv.emit(node.op_type, cv.inputs(node), {}, node)


@converter("Pow")
def _pow(cv, node, attrs):
    base, exponent = cv.inputs(node)
    if exponent.type.dtype != base.type.dtype:
        exponent, = cv.emit("Cast", [exponent], {"to": base.type.dtype}, node,
                            [node.output[0] + "_exponent"])
    cv.emit("Pow", [base, exponent], {}, node)


@converter("Cast")
def _cast(cv, node, attrs):
    cv.emit("Cast", cv.inputs(node), {"to": np_dtype(int(attrs["to"]))}, node)


@converter("Clip")
def _clip(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo = cv.optional_const(node, 1, "Clip's min input")
        hi = cv.optional_const(node, 2, "Clip's max input")
        lo = None if lo is None else lo.item()
        hi = None if hi is None else hi.item()
    bounds = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
    cv.emit("Clip", [x], bounds, node)
