"""Dense layers: linear, addmm, matmul, softmax."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, arg, converter


@converter("aten.linear.default")
def _linear(cv: Lowering, node):
    x, w = cv.value(node.args[0]), cv.value(node.args[1])
    bias = cv.value(arg(node, 2, "bias"))
    wt = cv.emit("Transpose", [w], {"perm": (1, 0)}, node)  # folded for constant weights
    y = cv.emit("MatMul", [x, wt], None, node)
    return y if bias is None else cv.emit("Add", [y, bias], None, node)


@converter("aten.addmm.default")
def _addmm(cv: Lowering, node):
    bias, a, b = (cv.value(a) for a in node.args[:3])
    return cv.emit("Add", [cv.emit("MatMul", [a, b], None, node), bias], None, node)


@converter("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def _matmul(cv: Lowering, node):
    return cv.emit("MatMul", [cv.value(node.args[0]), cv.value(node.args[1])], None, node)


@converter("aten._softmax.default", "aten.softmax.int")
def _softmax(cv: Lowering, node):
    x = cv.value(node.args[0])
    return cv.emit("Softmax", [x], {"axis": normalize_axis(node.args[1], len(x.type.shape))},
                   node)
