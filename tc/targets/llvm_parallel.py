"""Parallel loops: the body is outlined into ``void body(i64 begin, i64 end, void *closure)``
and handed to the runtime's thread pool::

    void tc_parallel_for(int64_t n, void (*body)(int64_t, int64_t, void *), void *closure);

The closure is a struct, on the caller's stack, holding the loop's min and every
variable and buffer pointer the body uses from outside.  Iteration ``k`` of
``[begin, end)`` runs the body with the loop variable ``min + k``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from . import llvm_ops as ops

if TYPE_CHECKING:
    from .llvm_func import FunctionEmitter

PARALLEL_FOR = "tc_parallel_for"


def _captures(fe: FunctionEmitter, loop: L.For) -> tuple[list[E.Var], list[L.Buffer]]:
    """Variables and buffers in scope that ``loop`` uses (in first-use order)."""
    vars_, bufs = {}, {}
    for node in E.walk(loop.body):
        if isinstance(node, E.Var) and node in fe.env and node is not loop.var:
            vars_[node] = None
        elif isinstance(node, (L.Load, L.Store)) and node.buffer in fe.buffers:
            bufs[node.buffer] = None
    return list(vars_), list(bufs)


def emit_parallel(fe: FunctionEmitter, loop: L.For) -> None:
    """Outline ``loop``'s body and call tc_parallel_for on it."""
    start, extent = fe.loop_bounds(loop)
    vars_, bufs = _captures(fe, loop)
    values = [start] + [fe.env[v] for v in vars_] + [fe.buffers[b] for b in bufs]
    closure_t = ir.LiteralStructType([v.type for v in values])

    fe.shared.n_outlined += 1
    name = f"{fe.func_name}.parallel{fe.shared.n_outlined}"
    body_fn = ir.Function(fe.module, ir.FunctionType(ops.VOID, [ops.I64, ops.I64, ops.PTR]),
                          name)
    body_fn.linkage = "internal"
    body_fn.attributes.add("nounwind")
    _emit_body(fe, body_fn, loop, closure_t, vars_, bufs)

    closure = fe.entry_alloca(closure_t, 8)
    for k, v in enumerate(values):
        fe.b.store(v, _field(fe.b, closure, closure_t, k))
    runner = ops.declare(fe.module, PARALLEL_FOR, ops.VOID, [ops.I64, ops.PTR, ops.PTR])
    fe.b.call(runner, [ops.cast(fe.b, loop.var.dtype, "int64", extent), body_fn, closure])


def _field(b: ir.IRBuilder, ptr: ir.Value, struct_t: ir.Type, k: int) -> ir.Value:
    return b.gep(ptr, [ir.Constant(ops.I32, 0), ir.Constant(ops.I32, k)], inbounds=True,
                 source_etype=struct_t)


def _emit_body(fe, body_fn, loop, closure_t, vars_, bufs) -> None:
    """``body_fn`` unpacks the closure and calls an inner function that takes the buffers
    as ``noalias`` arguments, so the body optimizes as well as the caller would."""
    types = list(closure_t.elements)
    impl = ir.Function(fe.module, ir.FunctionType(ops.VOID, [ops.I64, ops.I64] + types),
                       f"{body_fn.name}.impl")
    impl.linkage = "internal"
    impl.attributes.add("nounwind")
    impl.attributes.add("alwaysinline")

    b = ir.IRBuilder(body_fn.append_basic_block("entry"))
    begin, end, closure = body_fn.args
    begin.name, end.name, closure.name = "begin", "end", "closure"
    fields = [b.load(_field(b, closure, closure_t, k), typ=t) for k, t in enumerate(types)]
    b.call(impl, [begin, end] + fields)
    b.ret_void()

    inner = fe.outlined(impl)
    lo, hi, start, *captured = impl.args
    inner.env.update(zip(vars_, captured[:len(vars_)]))
    for buf, ptr in zip(bufs, captured[len(vars_):]):
        ptr.add_attribute("noalias")
        inner.buffers[buf] = ptr

    ib = inner.b
    # what the pool guarantees, stated for the optimizer: 0 <= lo <= hi <= extent; with a
    # constant loop min as well, it knows every index from this loop is non-negative
    # (floor divisions and modulos of indices then lose their sign fix-ups)
    _assume(ib, ib.icmp_signed(">=", lo, ir.Constant(ops.I64, 0)))
    _assume(ib, ib.icmp_signed("<=", lo, hi))
    if isinstance(loop.extent, E.Const):
        _assume(ib, ib.icmp_signed("<=", hi, ir.Constant(ops.I64, int(loop.extent.value))))
    if isinstance(loop.min, E.Const):
        start = ops.cast(ib, loop.min.dtype, loop.var.dtype, inner.expr(loop.min))

    def iteration(k):
        with inner.bind(loop.var, inner.b.add(start, k)):
            inner.stmt(loop.body)

    inner.loop(ops.cast(ib, "int64", loop.var.dtype, lo), ops.cast(ib, "int64", loop.var.dtype, hi),
               iteration, loop.var.name)
    inner.finish()


def _assume(b: ir.IRBuilder, cond: ir.Value) -> None:
    fn = ops.declare(b.module, "llvm.assume", ops.VOID, [ops.I1])
    b.call(fn, [cond])
