"""ONNX converters for the activation family: attribute defaults filled from the op table."""
from __future__ import annotations

from ...compiler.ops.activations import DEFAULTS
from .importer import Converter, FrontendError, converter


@converter(*DEFAULTS)
def _activation(cv: Converter, node, attrs):
    defaults = DEFAULTS[node.op_type]
    unknown = set(attrs) - set(defaults)
    if unknown:
        raise ValueError(f"{node.op_type} does not take attribute(s) {sorted(unknown)}")
    canonical = {k: type(v)(attrs.get(k, v)) for k, v in defaults.items()}
    cv.emit(node.op_type, cv.inputs(node), canonical, node)


@converter("PRelu")
def _prelu(cv, node, attrs):
    x, slope = cv.inputs(node)
    xs, ss = x.type.shape, slope.type.shape
    if len(ss) == 1 and len(xs) > 2 and ss[0] == xs[1] != xs[-1]:
        # PRelu before opset 7 applied a 1-D slope per channel (axis 1); the version
        # converter keeps the slope's shape, which numpy broadcasting would misread
        slope, = cv.emit("Reshape", [slope], {"shape": (ss[0],) + (1,) * (len(xs) - 2)}, node,
                         [f"{node.output[0]}_channel_slope"])
    cv.emit("PRelu", [x, slope], {}, node)


@converter("SwiGLU")
def _swiglu(cv, node, attrs):
    """SwiGLU(A, B) = Swish_alpha(A) * B: two canonical ops that fusion joins again."""
    a, b = cv.inputs(node)
    if a.type.shape != b.type.shape:
        raise FrontendError(f"SwiGLU {node.name!r}: A {a.type.shape} and B {b.type.shape} must "
                            f"have the same shape (SwiGLU does not broadcast)")
    gate, = cv.emit("Swish", [a], {"alpha": float(attrs.get("alpha", 1.0))}, node,
                    [f"{node.output[0]}_gate"])
    cv.emit("Mul", [gate, b], {}, node)
