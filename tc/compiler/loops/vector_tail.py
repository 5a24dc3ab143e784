"""Keep guarded vectorized loops vectorized: split off the partial-vector tail.

A split that does not divide its axis leaves a guard inside the inner loop::

    for x_i in range(8):  # vectorized
      if x_o * 8 + x_i < 13: body

When the guard is a conjunction of comparisons linear in the loop variable, the set of
lanes that pass is an interval, so checking the first and last lane tells whether the
whole vector passes.  This pass rewrites the loop into::

    if x_o * 8 + 0 < 13 and x_o * 8 + 7 < 13:
      for x_i in range(8):  # vectorized
        body
    else:
      for x_t in range(8):  # serial
        if x_o * 8 + x_t < 13: body
"""
from __future__ import annotations

from ..te import expr as E
from . import ir as L


def partition_vector_guards(s: L.Stmt) -> L.Stmt:
    """Rewrite every vectorized loop whose whole body is one linear guard (see module doc)."""
    def fn(n):
        if isinstance(n, L.For) and n.kind == L.VECTORIZED and isinstance(n.body, L.IfThenElse) \
                and n.body.else_case is None and _linear_in(n.body.cond, n.var):
            cond = n.body.cond
            first = E.substitute(cond, {n.var: n.min})
            last = E.substitute(cond, {n.var: n.min + n.extent - 1})
            tail_var = E.Var(n.var.name + "_t", n.var.dtype)
            tail = L.For(tail_var, n.min, n.extent, L.SERIAL, E.substitute(n.body, {n.var: tail_var}))
            full = L.For(n.var, n.min, n.extent, L.VECTORIZED, n.body.then_case)
            return L.IfThenElse(E.logical_and(first, last), full, tail)
        return n
    return E.post_order_rewrite(s, fn)


def _linear_in(cond: E.Expr, v: E.Var) -> bool:
    if isinstance(cond, E.Logical) and cond.op == "and":
        return _linear_in(cond.a, v) and _linear_in(cond.b, v)
    if isinstance(cond, E.Compare) and cond.op in ("<", "<=", ">", ">="):
        return _affine(cond.a, v) and _affine(cond.b, v)
    return False


def _affine(e: E.Expr, v: E.Var) -> bool:
    """Whether ``e`` is affine in ``v`` (v under +, -, and multiplication by constants only)."""
    if not any(n is v for n in E.walk(e)):
        return True
    if e is v:
        return True
    if isinstance(e, E.Binary) and e.op in ("+", "-"):
        return _affine(e.a, v) and _affine(e.b, v)
    if isinstance(e, E.Binary) and e.op == "*":
        return (isinstance(e.a, E.Const) and _affine(e.b, v)) or (isinstance(e.b, E.Const) and _affine(e.a, v))
    return False
