"""Comparisons, logical and bitwise ops, ``where``, casts, and the no-op assertion nodes
that exports contain."""
from __future__ import annotations

from .lowering import Lowering, converter, op_name

_COMPARE = {"eq": "Equal", "ne": "Equal", "lt": "Less", "le": "LessOrEqual",
            "gt": "Greater", "ge": "GreaterOrEqual"}


@converter(*(f"aten.{op}.{overload}" for op in _COMPARE for overload in ("Tensor", "Scalar")))
def _compare(cv: Lowering, node):
    """Compared in the dtype torch promotes the operands to (an int tensor >= 0.5 in float)."""
    a, b = cv.operands(node, node.args[0], node.args[1],
                       dtype=cv.promoted_dtype(node.args[0], node.args[1]))
    op = op_name(node.target).split(".")[1]
    same = cv.emit(_COMPARE[op], [a, b], None, node)
    return cv.emit("Not", [same], None, node) if op == "ne" else same


_LOGICAL = {"and": "And", "or": "Or", "xor": "Xor"}
_BITWISE = {"and": "BitwiseAnd", "or": "BitwiseOr", "xor": "BitwiseXor"}


@converter(*(f"aten.logical_{op}.default" for op in _LOGICAL))
def _logical(cv: Lowering, node):
    a, b = cv.operands(node, node.args[0], node.args[1], dtype="bool")
    return cv.emit(_LOGICAL[op_name(node.target).split(".")[1][len("logical_"):]], [a, b],
                   None, node)


@converter("aten.logical_not.default")
def _logical_not(cv: Lowering, node):
    (x,) = cv.operands(node, node.args[0], dtype="bool")
    return cv.emit("Not", [x], None, node)


@converter(*(f"aten.bitwise_{op}.{overload}" for op in _BITWISE
             for overload in ("Tensor", "Scalar")))
def _bitwise(cv: Lowering, node):
    """On bool tensors the logical op, on integers the bitwise one."""
    a, b = cv.operands(node, node.args[0], node.args[1])
    op = op_name(node.target).split(".")[1][len("bitwise_"):]
    table = _LOGICAL if a.type.dtype == "bool" else _BITWISE
    return cv.emit(table[op], [a, b], None, node)


@converter("aten.bitwise_not.default")
def _bitwise_not(cv: Lowering, node):
    x = cv.value(node.args[0])
    return cv.emit("Not" if x.type.dtype == "bool" else "BitwiseNot", [x], None, node)


@converter("aten.where.self", "aten.where.ScalarSelf", "aten.where.ScalarOther",
           "aten.where.Scalar")
def _where(cv: Lowering, node):
    (cond,) = cv.operands(node, node.args[0], dtype="bool")
    a, b = cv.operands(node, node.args[1], node.args[2])
    return cv.emit("Where", [cond, a, b], None, node)


@converter("aten.masked_fill.Scalar", "aten.masked_fill.Tensor")
def _masked_fill(cv: Lowering, node):
    x = cv.value(node.args[0])
    (mask,) = cv.operands(node, node.args[1], dtype="bool")
    (fill,) = cv.operands(node, node.args[2], dtype=x.type.dtype)
    return cv.emit("Where", [mask, fill, x], None, node)


@converter("aten._to_copy.default", "aten.to.dtype", "aten._to_dim_order_copy.default")
def _to_copy(cv: Lowering, node):
    """A copy, possibly to another dtype (device and layout changes do not apply)."""
    return cv.operands(node, node.args[0])[0]


@converter("aten.copy.default")
def _copy(cv: Lowering, node):
    """``copy(dst, src)``: src broadcast to dst's shape, in dst's dtype."""
    (src,) = cv.operands(node, node.args[1])
    if tuple(src.type.shape) == cv.out_shape(node):
        return src
    return cv.emit("Expand", [src], {"shape": cv.out_shape(node)}, node)


@converter("aten._assert_tensor_metadata.default", "aten._assert_scalar.default",
           "aten.sym_constrain_range_for_size.default", "aten._assert_async.msg",
           "aten.sym_constrain_range.default")
def _assertion(cv: Lowering, node):
    """Checks torch.export adds about shapes and dtypes: they held when it traced."""
    return None
