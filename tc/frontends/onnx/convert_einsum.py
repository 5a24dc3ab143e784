"""ONNX converters for Einsum (the equation is the canonical attribute) and Det."""
from __future__ import annotations

from .importer import converter


@converter("Einsum")
def _einsum(cv, node, attrs):
    cv.emit("Einsum", cv.inputs(node), {"equation": str(attrs["equation"])}, node)


@converter("Det")
def _det(cv, node, attrs):
    cv.emit("Det", cv.inputs(node), {}, node)
