"""Emit one loop-IR function body as LLVM IR (scalar code, serial and unrolled loops).

Vectorized loops are delegated to ``llvm_vector`` and parallel loops to
``llvm_parallel``; both drive the same :class:`FunctionEmitter`.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from llvmlite import ir

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from . import llvm_ops as ops
from .errors import CodegenError
from .llvm_parallel import emit_parallel
from .llvm_vector import emit_vectorized, vector_load, vector_store

STACK_LIMIT_BYTES = 64 * 1024  # larger temporaries go through tc_alloc/tc_free
UNROLL_LIMIT = 256             # "unrolled" loops longer than this stay loops
ALLOCA_ALIGN = 64
# Symbols the object file imports or LLVM may call for intrinsics: a kernel with one of
# these names would capture those calls.
RESERVED_NAMES = frozenset(
    ["tc_parallel_for", "tc_alloc", "tc_free", "malloc", "free", "memcpy", "memset",
     "memmove", "abort"] +
    [f"{n}{s}" for n in ("exp", "exp2", "log", "log2", "log10", "sqrt", "pow", "fabs",
                         "floor", "ceil", "round", "roundeven", "rint", "nearbyint", "trunc",
                         "tanh", "erf", "sin", "cos", "tan", "fmod", "fmin", "fmax", "ldexp",
                         "frexp", "sincos", "exp10")
     for s in ("", "f", "l")])


class FunctionEmitter:
    """Emits statements into ``fn``; ``env`` maps Vars and ``buffers`` maps Buffers to
    values in scope.  While a vectorized loop body is emitted, ``vector`` is
    ``(var, base, lanes)`` and expressions may evaluate to vectors.

    Both operands of Logical and Select are always evaluated (no short circuit), so a
    Load guarded only by a condition must be guarded by an IfThenElse instead."""

    def __init__(self, fn: ir.Function, func_name: str, target, shared: "EmitState",
                 in_parallel: bool = False):
        self.fn, self.func_name, self.target = fn, func_name, target
        self.shared, self.in_parallel = shared, in_parallel
        self.env: dict[E.Var, ir.Value] = {}
        self.buffers: dict[L.Buffer, ir.Value] = {}
        self.vector: tuple[E.Var, ir.Value, int] | None = None
        self._alloca_block = fn.append_basic_block("entry")
        start = fn.append_basic_block("start")
        self.b = ir.IRBuilder(start)
        self._start = start

    @property
    def module(self) -> ir.Module:
        return self.fn.module

    def finish(self) -> None:
        """Close the function: return, and jump from the alloca block to the code."""
        self.b.ret_void()
        ir.IRBuilder(self._alloca_block).branch(self._start)

    def entry_alloca(self, t: ir.Type, align: int) -> ir.Value:
        """A stack slot in the entry block, so loops do not grow the stack."""
        bb = ir.IRBuilder(self._alloca_block)
        slot = bb.alloca(t)
        slot.align = align
        slot.type = ops.PTR  # llvmlite types allocas as typed pointers; tc uses opaque ones
        return slot

    def outlined(self, fn: ir.Function) -> "FunctionEmitter":
        """An emitter for ``fn``, a function outlined from this one's parallel loop."""
        return FunctionEmitter(fn, self.func_name, self.target, self.shared, in_parallel=True)

    def remark(self, text: str) -> None:
        """Record a note on code that could not be emitted as scheduled."""
        self.shared.remarks.append(f"{self.func_name}: {text}")

    @contextmanager
    def bind(self, var: E.Var, value: ir.Value):
        """Bind ``var`` to ``value`` for the duration of the ``with`` block."""
        old = self.env.get(var)
        self.env[var] = value
        try:
            yield
        finally:
            if old is None:
                del self.env[var]
            else:
                self.env[var] = old

    @contextmanager
    def scalar_mode(self, var: E.Var, value: ir.Value):
        """Evaluate with the vectorized variable bound to the scalar ``value``."""
        saved = self.vector
        self.vector = None
        try:
            with self.bind(var, value):
                yield
        finally:
            self.vector = saved

    # --- expressions --------------------------------------------------------------

    def expr(self, e: E.Expr) -> ir.Value:
        """The value of ``e`` (a vector when it depends on the vectorized variable)."""
        method = getattr(self, f"_expr_{type(e).__name__}", None)
        if method is None:
            raise CodegenError(f"{type(e).__name__} cannot appear in loop IR ({e}); "
                               f"lower the TE program first")
        return method(e)

    def _expr_Const(self, e: E.Const) -> ir.Value:
        return ir.Constant(ops.scalar_type(e.dtype), e.value)

    def _expr_Var(self, e: E.Var) -> ir.Value:
        try:
            return self.env[e]
        except KeyError:
            raise CodegenError(f"variable {e.name!r} is used outside the loop or let that "
                               f"binds it") from None

    def _expr_Binary(self, e: E.Binary) -> ir.Value:
        _check_operands(e)
        return ops.binary(self.b, e.op, e.a.dtype, self.expr(e.a), self.expr(e.b))

    def _expr_Compare(self, e: E.Compare) -> ir.Value:
        _check_operands(e)
        return ops.compare(self.b, e.op, e.a.dtype, self.expr(e.a), self.expr(e.b))

    def _expr_Logical(self, e: E.Logical) -> ir.Value:
        a, b = ops.broadcast(self.b, self.bool_value(e.a), self.bool_value(e.b))
        return (self.b.and_ if e.op == "and" else self.b.or_)(a, b)

    def _expr_Not(self, e: E.Not) -> ir.Value:
        a = self.bool_value(e.a)
        return self.b.xor(a, ops.const(a.type, 1))

    def _expr_Select(self, e: E.Select) -> ir.Value:
        c, t, f = ops.broadcast(self.b, self.bool_value(e.cond), self.expr(e.true_value),
                                self.expr(e.false_value))
        return self.b.select(c, t, f)

    def _expr_Cast(self, e: E.Cast) -> ir.Value:
        return ops.cast(self.b, e.value.dtype, e.dtype, self.expr(e.value))

    def _expr_Reinterpret(self, e: E.Reinterpret) -> ir.Value:
        return ops.reinterpret(self.b, e.dtype, self.expr(e.value))

    def _expr_Call(self, e: E.Call) -> ir.Value:
        return ops.math_call(self.b, e.name, e.args[0].dtype, [self.expr(a) for a in e.args])

    def _expr_Load(self, e: L.Load) -> ir.Value:
        if self.vector is not None:
            return vector_load(self, e)
        return self.scalar_load(e)

    def bool_value(self, e: E.Expr) -> ir.Value:
        """``e`` as i1, casting a non-bool condition (non-zero is true)."""
        return ops.cast(self.b, e.dtype, "bool", self.expr(e))

    def index_value(self, e: E.Expr) -> ir.Value:
        """A flat index as i64 (vector of i64 in vector mode)."""
        if not E.is_int(e.dtype):
            raise CodegenError(f"index {e} has dtype {e.dtype}; indices must be integers")
        return ops.cast(self.b, e.dtype, "int64", self.expr(e))

    def buffer_ptr(self, buf: L.Buffer) -> ir.Value:
        try:
            return self.buffers[buf]
        except KeyError:
            raise CodegenError(f"buffer {buf.name!r} is neither a parameter of the function nor "
                               f"allocated around its use") from None

    def element_ptr(self, buf: L.Buffer, index: ir.Value) -> ir.Value:
        return self.b.gep(self.buffer_ptr(buf), [index], inbounds=True,
                          source_etype=ops.memory_type(buf.dtype))

    def scalar_load(self, e: L.Load) -> ir.Value:
        ptr = self.element_ptr(e.buffer, self.index_value(e.index))
        v = self.b.load(ptr, typ=ops.memory_type(e.buffer.dtype),
                        align=np.dtype(e.buffer.dtype).itemsize)
        return ops.from_memory(self.b, e.buffer.dtype, v)

    # --- statements ---------------------------------------------------------------

    def stmt(self, s: L.Stmt) -> None:
        method = getattr(self, f"_stmt_{type(s).__name__}", None)
        if method is None:
            raise CodegenError(f"unknown statement {type(s).__name__}")
        method(s)

    def _stmt_Seq(self, s: L.Seq) -> None:
        for x in s.stmts:
            self.stmt(x)

    def _stmt_Store(self, s: L.Store) -> None:
        if s.value.dtype != s.buffer.dtype:
            raise CodegenError(f"store of a {s.value.dtype} value into {s.buffer.dtype} buffer "
                               f"{s.buffer.name!r}; insert a cast")
        if self.vector is not None:
            vector_store(self, s)
            return
        value = ops.to_memory(self.b, s.buffer.dtype, self.expr(s.value))
        ptr = self.element_ptr(s.buffer, self.index_value(s.index))
        self.b.store(value, ptr, align=np.dtype(s.buffer.dtype).itemsize)

    def _stmt_IfThenElse(self, s: L.IfThenElse) -> None:
        cond = self.bool_value(s.cond)
        if s.else_case is None:
            with self.b.if_then(cond):
                self.stmt(s.then_case)
            return
        with self.b.if_else(cond) as (then, otherwise):
            with then:
                self.stmt(s.then_case)
            with otherwise:
                self.stmt(s.else_case)

    def _stmt_LetStmt(self, s: L.LetStmt) -> None:
        if s.var.dtype != s.value.dtype:
            raise CodegenError(f"let {s.var.name} ({s.var.dtype}) is bound to a "
                               f"{s.value.dtype} value; insert a cast")
        with self.bind(s.var, self.expr(s.value)):
            self.stmt(s.body)

    def _stmt_Allocate(self, s: L.Allocate) -> None:
        buf = s.buffer
        if buf in self.buffers:
            raise CodegenError(f"buffer {buf.name!r} is allocated twice")
        mem = ops.memory_type(buf.dtype)
        heap = buf.nbytes > STACK_LIMIT_BYTES
        if heap:
            alloc = ops.declare(self.module, "tc_alloc", ops.PTR, [ops.I64])
            ptr = self.b.call(alloc, [ir.Constant(ops.I64, buf.nbytes)])
        else:
            ptr = self.entry_alloca(ir.ArrayType(mem, buf.size), ALLOCA_ALIGN)
        self.buffers[buf] = ptr
        try:
            self.stmt(s.body)
        finally:
            del self.buffers[buf]
        if heap:
            free = ops.declare(self.module, "tc_free", ops.VOID, [ops.PTR])
            self.b.call(free, [ptr])

    def _stmt_Barrier(self, s: L.Barrier) -> None:
        """Threads bound to GPU axes run serially here: nothing to wait for."""

    def _stmt_ThreadAllReduce(self, s: L.ThreadAllReduce) -> None:
        """The loop bound to the thread axis ran serially, so ``buffer[0]`` already
        holds the whole reduction."""

    def _stmt_For(self, s: L.For) -> None:
        if not (E.is_int(s.var.dtype) and E.is_int(s.min.dtype) and E.is_int(s.extent.dtype)):
            raise CodegenError(f"loop {s.var.name}: variable, min and extent must be integers")
        if s.kind == L.PARALLEL:
            if not self.in_parallel:
                emit_parallel(self, s)
                return
        elif s.kind == L.VECTORIZED and self.vector is None:
            if emit_vectorized(self, s):
                return
        elif s.kind == L.UNROLLED and self._try_unroll(s):
            return
        start, extent = self.loop_bounds(s)
        stop = self.b.add(start, extent)
        self.loop(start, stop, lambda i: self._body_at(s, i), s.var.name)

    def loop_bounds(self, s: L.For) -> tuple[ir.Value, ir.Value]:
        """The loop's min and extent, in the loop variable's type."""
        return (ops.cast(self.b, s.min.dtype, s.var.dtype, self.expr(s.min)),
                ops.cast(self.b, s.extent.dtype, s.var.dtype, self.expr(s.extent)))

    def _body_at(self, s: L.For, i: ir.Value) -> None:
        with self.bind(s.var, i):
            self.stmt(s.body)

    def _try_unroll(self, s: L.For) -> bool:
        if not isinstance(s.extent, E.Const):
            self.remark(f"unrolled loop {s.var.name} has a non-constant extent; kept as a loop")
            return False
        if s.extent.value > UNROLL_LIMIT:
            self.remark(f"unrolled loop {s.var.name} has {s.extent.value} iterations "
                        f"(> {UNROLL_LIMIT}); kept as a loop")
            return False
        start, _ = self.loop_bounds(s)
        for k in range(s.extent.value):
            i = start if k == 0 else self.b.add(start, ir.Constant(start.type, k))
            self._body_at(s, i)
        return True

    def loop(self, start: ir.Value, stop: ir.Value, body, name: str) -> None:
        """``for i in [start, stop): body(i)`` with step 1 (``body`` emits at the cursor)."""
        pre = self.b.block
        header = self.fn.append_basic_block(f"{name}.header")
        body_bb = self.fn.append_basic_block(f"{name}.body")
        exit_bb = self.fn.append_basic_block(f"{name}.exit")
        self.b.branch(header)
        self.b.position_at_end(header)
        i = self.b.phi(start.type, name=name)
        i.add_incoming(start, pre)
        self.b.cbranch(self.b.icmp_signed("<", i, stop), body_bb, exit_bb)
        self.b.position_at_end(body_bb)
        body(i)
        nxt = self.b.add(i, ir.Constant(start.type, 1), flags=("nsw",))
        i.add_incoming(nxt, self.b.block)
        self.b.branch(header)
        self.b.position_at_end(exit_bb)


def _check_operands(e) -> None:
    if e.a.dtype != e.b.dtype:
        raise CodegenError(f"operands of {e.op} have dtypes {e.a.dtype} and {e.b.dtype} in "
                           f"{e}; insert a cast")


class EmitState:
    """What the emitters of one PrimFunc share: remarks and outlined-function names."""

    def __init__(self):
        self.remarks: list[str] = []
        self.n_outlined = 0


def emit_primfunc(module: ir.Module, func: L.PrimFunc, target, state: EmitState) -> ir.Function:
    """Add ``void name(T0* noalias, ...)`` computing ``func`` to ``module``."""
    if not func.name.isidentifier() or not func.name.isascii():
        raise CodegenError(f"function name {func.name!r} is not a C identifier")
    if func.name in RESERVED_NAMES:
        raise CodegenError(f"function name {func.name!r} is a C library or tc runtime symbol; "
                           f"rename the kernel")
    if len(set(map(id, func.params))) != len(func.params):
        raise CodegenError(f"a buffer appears twice among the parameters of {func.name}")
    fnty = ir.FunctionType(ops.VOID, [ops.PTR] * len(func.params))
    fn = ir.Function(module, fnty, func.name)
    fn.attributes.add("nounwind")
    em = FunctionEmitter(fn, func.name, target, state)
    for arg, buf in zip(fn.args, func.params):
        ops.scalar_type(buf.dtype)
        arg.name = buf.name if buf.name.isidentifier() else f"p{len(em.buffers)}"
        arg.add_attribute("noalias")
        em.buffers[buf] = arg
    em.stmt(func.body)
    em.finish()
    return fn
