"""ONNX converters for the logic family: comparisons, boolean/bitwise logic, Where."""
from __future__ import annotations

from .importer import Converter, converter


@converter("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
           "Not", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "Where", "IsNaN")
def _plain(cv: Converter, node, attrs):
    cv.emit(node.op_type, cv.inputs(node), {}, node)


@converter("BitShift")
def _bitshift(cv, node, attrs):
    direction = attrs["direction"].upper()
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"BitShift direction must be LEFT or RIGHT, got {attrs['direction']!r}")
    cv.emit("BitShift", cv.inputs(node), {"direction": direction}, node)


@converter("IsInf")
def _isinf(cv, node, attrs):
    cv.emit("IsInf", cv.inputs(node), {"detect_positive": int(attrs.get("detect_positive", 1)),
                                       "detect_negative": int(attrs.get("detect_negative", 1))},
            node)
