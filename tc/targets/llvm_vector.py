"""Vectorized loops: the body is evaluated once per chunk of lanes with the loop variable
as the vector ``<base, base+1, ..., base+n-1>``.

Loads and stores whose flat index is affine in the loop variable with stride 1 become
one vector load/store; loads of a small constant stride one wider load and a shuffle;
other indices are gathered/scattered lane by lane; values that
do not depend on the variable stay scalar and are splatted where they meet vectors.
A body that cannot be vectorized (nested loops, branches, allocations, a store whose
index ignores the variable) is emitted as a scalar loop and a remark says why.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from . import llvm_ops as ops

if TYPE_CHECKING:
    from .llvm_func import FunctionEmitter

MAX_LANES_PER_REGISTER_GROUP = 4  # one vector op spans at most this many SIMD registers
#: loads of a constant stride up to this are one wider contiguous load and a shuffle
MAX_SHUFFLED_STRIDE = 4


def depends_on(node, var: E.Var) -> bool:
    """True when ``var`` occurs in ``node``."""
    return any(n is var for n in E.walk(node))


def stride(e: E.Expr, var: E.Var) -> int | None:
    """The constant ``d`` with ``e(var + 1) - e(var) == d`` when ``e`` is affine in
    ``var``; None when it is not (or the stride is not a constant)."""
    if not depends_on(e, var):
        return 0
    if e is var:
        return 1
    if isinstance(e, E.Binary) and e.op in ("+", "-"):
        sa, sb = stride(e.a, var), stride(e.b, var)
        if sa is None or sb is None:
            return None
        return sa + sb if e.op == "+" else sa - sb
    if isinstance(e, E.Binary) and e.op == "*":
        for c, other in ((e.a, e.b), (e.b, e.a)):
            if isinstance(c, E.Const):
                s = stride(other, var)
                return None if s is None else s * int(c.value)
        return None
    if isinstance(e, E.Cast) and E.is_int(e.dtype) and E.is_int(e.value.dtype):
        if np.dtype(e.dtype).itemsize >= np.dtype(e.value.dtype).itemsize:
            return stride(e.value, var)
    return None


def inline_lets(s: L.Stmt, var: E.Var) -> L.Stmt:
    """Substitute away LetStmts whose value depends on ``var`` (so index analysis sees
    through them); other lets stay scalar bindings."""
    if isinstance(s, L.LetStmt):
        if depends_on(s.value, var):
            return inline_lets(E.substitute(s.body, {s.var: s.value}), var)
        return L.LetStmt(s.var, s.value, inline_lets(s.body, var))
    if isinstance(s, L.Seq):
        return L.Seq(tuple(inline_lets(x, var) for x in s.stmts))
    return s


def why_not_vectorizable(body: L.Stmt, var: E.Var) -> str | None:
    """The reason ``body`` cannot be vectorized over ``var``, or None when it can."""
    for node in E.walk(body):
        if isinstance(node, (L.For, L.IfThenElse, L.Allocate)):
            return f"its body contains a {type(node).__name__}"
        if isinstance(node, L.Store) and stride(node.index, var) == 0:
            return (f"the store to {node.buffer.name} does not depend on {var.name} "
                    f"(a reduction); vectorize a spatial axis instead")
    return None


def _lanes_cap(fe: FunctionEmitter, body: L.Stmt) -> int:
    widest = max((np.dtype(n.buffer.dtype).itemsize for n in E.walk(body)
                  if isinstance(n, (L.Load, L.Store))), default=4)
    return max(4, MAX_LANES_PER_REGISTER_GROUP * fe.target.vector_bytes // widest)


def emit_vectorized(fe: FunctionEmitter, loop: L.For) -> bool:
    """Emit ``loop`` with vector instructions; False (nothing emitted) when it must stay
    scalar."""
    if not isinstance(loop.extent, E.Const):
        fe.remark(f"vectorized loop {loop.var.name} has a non-constant extent; emitted scalar")
        return False
    body = inline_lets(loop.body, loop.var)
    reason = why_not_vectorizable(body, loop.var)
    if reason:
        fe.remark(f"vectorized loop {loop.var.name} emitted scalar: {reason}")
        return False
    extent = int(loop.extent.value)
    if extent <= 0:
        return True
    cap = _lanes_cap(fe, body)
    n = extent if extent <= cap else cap
    chunks, tail = divmod(extent, n)
    start, _ = fe.loop_bounds(loop)
    t = start.type
    if chunks == 1:
        _emit_chunk(fe, loop.var, body, start, n)
    elif chunks > 1:
        def chunk(c):
            _emit_chunk(fe, loop.var, body, fe.b.add(start, fe.b.mul(c, ir.Constant(t, n))), n)
        fe.loop(ir.Constant(t, 0), ir.Constant(t, chunks), chunk, f"{loop.var.name}.vec")
    if tail:
        _emit_chunk(fe, loop.var, body, fe.b.add(start, ir.Constant(t, chunks * n)), tail)
    return True


def _emit_chunk(fe: FunctionEmitter, var: E.Var, body: L.Stmt, base: ir.Value, n: int):
    if n == 1:
        with fe.bind(var, base):
            fe.stmt(body)
        return
    vt = ir.VectorType(base.type, n)
    ramp = fe.b.add(ops.splat(fe.b, base, n), ir.Constant(vt, list(range(n))))
    fe.vector = (var, base, n)
    try:
        with fe.bind(var, ramp):
            fe.stmt(body)
    finally:
        fe.vector = None


def vector_load(fe: FunctionEmitter, e: L.Load) -> ir.Value:
    """Load ``e`` for every lane: scalar, contiguous vector, or gathered."""
    var, base, n = fe.vector
    s = stride(e.index, var)
    if s == 0:  # the same element for every lane (the index may still name var, times 0)
        with fe.scalar_mode(var, base):
            return fe.scalar_load(e)
    mem = ops.memory_type(e.buffer.dtype)
    align = np.dtype(e.buffer.dtype).itemsize
    if s == 1:
        with fe.scalar_mode(var, base):
            ptr = fe.element_ptr(e.buffer, fe.index_value(e.index))
        v = fe.b.load(ptr, typ=ir.VectorType(mem, n), align=align)
        return ops.from_memory(fe.b, e.buffer.dtype, v)
    if s is not None and 1 < s <= MAX_SHUFFLED_STRIDE:
        # one contiguous load spanning the lanes, every s-th element picked out (a
        # stride-2 conv or pool input): no element past the last lane's is read
        with fe.scalar_mode(var, base):
            ptr = fe.element_ptr(e.buffer, fe.index_value(e.index))
        span = fe.b.load(ptr, typ=ir.VectorType(mem, (n - 1) * s + 1), align=align)
        picks = ir.Constant(ir.VectorType(ops.I32, n), [lane * s for lane in range(n)])
        v = fe.b.shuffle_vector(span, ir.Constant(span.type, ir.Undefined), picks)
        return ops.from_memory(fe.b, e.buffer.dtype, v)
    index = fe.index_value(e.index)
    out = ir.Constant(ir.VectorType(mem, n), ir.Undefined)
    for lane in range(n):
        k = ir.Constant(ops.I32, lane)
        ptr = fe.element_ptr(e.buffer, fe.b.extract_element(index, k))
        out = fe.b.insert_element(out, fe.b.load(ptr, typ=mem, align=align), k)
    return ops.from_memory(fe.b, e.buffer.dtype, out)


def vector_store(fe: FunctionEmitter, s: L.Store) -> None:
    """Store ``s`` for every lane: one contiguous vector store, or scattered."""
    var, base, n = fe.vector
    value = ops.to_memory(fe.b, s.buffer.dtype, fe.expr(s.value))
    align = np.dtype(s.buffer.dtype).itemsize
    if stride(s.index, var) == 1:
        if ops.lanes(value) is None:
            value = ops.splat(fe.b, value, n)
        with fe.scalar_mode(var, base):
            ptr = fe.element_ptr(s.buffer, fe.index_value(s.index))
        fe.b.store(value, ptr, align=align)
        return
    index = fe.index_value(s.index)
    for lane in range(n):  # ascending lanes, so colliding indices keep the last lane's value
        k = ir.Constant(ops.I32, lane)
        v = value if ops.lanes(value) is None else fe.b.extract_element(value, k)
        fe.b.store(v, fe.element_ptr(s.buffer, fe.b.extract_element(index, k)), align=align)
