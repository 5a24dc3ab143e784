"""Elementwise ATen ops: arithmetic with tensors or Python numbers, and activations."""
from __future__ import annotations

from ...compiler.graph import Value
from .lowering import Lowering, converter, op_name

_ELEMENTWISE = {"aten.add.Tensor": "Add", "aten.sub.Tensor": "Sub", "aten.mul.Tensor": "Mul",
                "aten.div.Tensor": "Div", "aten.add.Scalar": "Add", "aten.sub.Scalar": "Sub",
                "aten.mul.Scalar": "Mul", "aten.div.Scalar": "Div"}


@converter(*_ELEMENTWISE)
def _binary(cv: Lowering, node):
    a, b = cv.value(node.args[0]), cv.value(node.args[1])
    like = a if isinstance(a, Value) else b
    a, b = cv.tensor(a, like), cv.tensor(b, like)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        b = cv.emit("Mul", [b, cv.tensor(alpha, like)], None, node)
    return cv.emit(_ELEMENTWISE[op_name(node.target)], [a, b], None, node)


_UNARY = {"aten.relu.default": "Relu", "aten.sigmoid.default": "Sigmoid",
          "aten.tanh.default": "Tanh", "aten.exp.default": "Exp", "aten.neg.default": "Neg",
          "aten.sqrt.default": "Sqrt"}


@converter(*_UNARY)
def _unary(cv: Lowering, node):
    return cv.emit(_UNARY[op_name(node.target)], [cv.value(node.args[0])], None, node)


@converter("aten.rsqrt.default")
def _rsqrt(cv: Lowering, node):
    root = cv.emit("Sqrt", [cv.value(node.args[0])], None, node)
    return cv.emit("Reciprocal", [root], None, node)


@converter("aten.gelu.default")
def _gelu(cv: Lowering, node):
    return cv.emit("Gelu", [cv.value(node.args[0])],
                   {"approximate": node.kwargs.get("approximate", "none")}, node)


@converter("aten.clone.default", "aten.alias.default", "aten.detach.default",
           "aten.dropout.default", "aten.contiguous.default")
def _identity(cv: Lowering, node):
    return cv.value(node.args[0])
