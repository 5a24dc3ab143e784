"""Tensor expressions: placeholder, compute, reduce_axis, reducers and scalar expressions.

Import as ``from tc.compiler import te`` and write ``te.compute(...)``, ``te.sum(...)``.
"""
from .expr import (Binary, Call, Cast, Compare, Const, Expr, Logical, Not, Reduce, Select,
                   TensorRead, Var, as_expr, call, cast, const, eq, ge, gt, le, logical_and,
                   logical_or, lt, maximum, minimum, ne, select, substitute)
from .tensor import (ComputeOp, IterVar, PlaceholderOp, Tensor, compute, max, min, placeholder,
                     prod, reduce_axis, sum)

__all__ = [n for n in dir() if not n.startswith("_")]
