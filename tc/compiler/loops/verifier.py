"""Structural checks of a PrimFunc before code generation."""
from __future__ import annotations

from ..te import expr as E
from . import ir as L


class LoopIRError(ValueError):
    """A PrimFunc breaks a loop-IR rule; the message names the offending node."""


def verify_primfunc(func: L.PrimFunc) -> None:
    """Check that every Var is bound by an enclosing loop or let, every Load/Store touches a
    param or an enclosing Allocate, loop kinds are known, vectorized/unrolled and
    GPU-bound loops have constant extents, and TE-only nodes (TensorRead, Reduce) are
    gone."""
    errors: list[str] = []
    params = {id(b) for b in func.params}
    if len(params) != len(func.params):
        errors.append("a buffer appears twice in params")
    _check_stmt(func.body, set(), set(params), errors)
    if errors:
        raise LoopIRError(f"PrimFunc {func.name} is malformed:\n  " + "\n  ".join(errors[:20]))


def _check_expr(e, bound: set, bufs: set, errors: list) -> None:
    for n in E.walk(e):
        if isinstance(n, E.Var) and id(n) not in bound:
            errors.append(f"variable {n.name} is used outside any loop or let that binds it")
        elif isinstance(n, L.Load) and id(n.buffer) not in bufs:
            errors.append(f"load from {n.buffer.name}, which is neither a param nor allocated here")
        elif isinstance(n, (E.TensorRead, E.Reduce)):
            errors.append(f"TE node {type(n).__name__} left in the loop IR ({n})")


def _check_stmt(s, bound: set, bufs: set, errors: list) -> None:
    if isinstance(s, L.For):
        _check_expr(s.min, bound, bufs, errors)
        _check_expr(s.extent, bound, bufs, errors)
        if s.kind not in L.FOR_KINDS:
            errors.append(f"loop {s.var.name} has unknown kind {s.kind!r}")
        if (s.kind in (L.VECTORIZED, L.UNROLLED) + L.GPU_AXES
                and not isinstance(s.extent, E.Const)):
            errors.append(f"{s.kind} loop {s.var.name} needs a constant extent, has {s.extent}")
        if id(s.var) in bound:
            errors.append(f"loop variable {s.var.name} is bound twice in nested scopes")
        _check_stmt(s.body, bound | {id(s.var)}, bufs, errors)
    elif isinstance(s, L.LetStmt):
        _check_expr(s.value, bound, bufs, errors)
        _check_stmt(s.body, bound | {id(s.var)}, bufs, errors)
    elif isinstance(s, L.Allocate):
        _check_stmt(s.body, bound, bufs | {id(s.buffer)}, errors)
    elif isinstance(s, L.Store):
        if id(s.buffer) not in bufs:
            errors.append(f"store to {s.buffer.name}, which is neither a param nor allocated here")
        _check_expr(s.index, bound, bufs, errors)
        _check_expr(s.value, bound, bufs, errors)
    elif isinstance(s, L.IfThenElse):
        _check_expr(s.cond, bound, bufs, errors)
        _check_stmt(s.then_case, bound, bufs, errors)
        if s.else_case is not None:
            _check_stmt(s.else_case, bound, bufs, errors)
    elif isinstance(s, L.Seq):
        for x in s.stmts:
            _check_stmt(x, bound, bufs, errors)
    elif isinstance(s, L.ThreadAllReduce):
        if id(s.buffer) not in bufs:
            errors.append(f"all-reduce of {s.buffer.name}, which is neither a param nor allocated here")
        if s.axis not in L.THREAD_AXES:
            errors.append(f"all-reduce over {s.axis!r}, which is not a thread axis {L.THREAD_AXES}")
    elif isinstance(s, L.Barrier):
        pass
    else:
        errors.append(f"unknown statement {type(s).__name__}")
