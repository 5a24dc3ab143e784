"""ONNX converters for the activation family: attribute defaults filled from the op table."""
from __future__ import annotations

from ...compiler.ops.activations import DEFAULTS
from .importer import Converter, converter


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
    cv.emit("PRelu", [x, slope], {}, node)
