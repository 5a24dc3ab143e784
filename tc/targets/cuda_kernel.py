"""One root statement of a PrimFunc as one CUDA ``__global__`` kernel (for ``cuda.py``).

The C generator's FunctionEmitter does the statements and expressions (``c_expr``,
``c_helpers``: the semantics of the LLVM target); ``KernelEmitter`` adds what is CUDA's:

* a loop bound to a launch axis is no loop: ``const int64_t i = (int64_t)threadIdx.x;``,
  inside ``if (threadIdx.x < extent)`` only when the launch has more threads (blocks) on
  that axis than the loop's extent;
* a shared buffer is a ``__shared__`` array declared at kernel scope, a Barrier is
  ``__syncthreads()``, a ThreadAllReduce combines with warp shuffles (``cuda_reduce``);
* unrolled and vectorized loops are ``#pragma unroll`` loops; a vectorized loop copying
  4 (2) contiguous, 16 (8) byte aligned float32 elements is one float4 (float2) access
  (``cuda_vector``);
* code outside every loop bound to a thread axis runs in every thread of the block: a
  store it makes to global or shared memory is left to thread 0 (``if (threadIdx.x ==
  0u)``), so read-modify-write sequences there do not race;
* safety: a barrier (or all-reduce) that some threads of a block would skip is an error.
"""
from __future__ import annotations

import math

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from . import llvm_func
from .c import FunctionEmitter, _comment, _live_bytes, _scratch_size, _unique_nodes
from .c_expr import _LIBM, ExprEmitter, call
from .c_helpers import C_TYPE, MEM_TYPE, canonical
from .errors import CodegenError

#: in a kernel no loop is bound in (one thread), temporaries above this many bytes go to
#: the device scratch: a per-thread array is reserved for every thread the GPU can hold
UNBOUND_STACK_LIMIT_BYTES = 1024
#: a per-thread array larger than this is an error: it lives in local memory, reserved
#: for every thread the GPU can hold (a register tile is a few hundred bytes)
PRIVATE_LIMIT_BYTES = 16 * 1024
#: CUDA's static shared memory per block without opting in to more
SHARED_LIMIT_BYTES = 48 * 1024
MAX_THREADS = 1024
#: largest launch dimension per axis (grid x, y, z; block x, y, z)
_AXIS_LIMITS = {"blockIdx.x": 2 ** 31 - 1, "blockIdx.y": 65535, "blockIdx.z": 65535,
                "threadIdx.x": 1024, "threadIdx.y": 1024, "threadIdx.z": 64}
#: C++ keywords and CUDA built-ins a generated identifier may not take
CUDA_RESERVED = frozenset(
    "alignas alignof and and_eq asm bitand bitor catch char8_t char16_t char32_t class "
    "compl concept const_cast consteval constexpr constinit co_await co_return co_yield "
    "decltype delete dynamic_cast explicit export false friend mutable namespace new "
    "noexcept not not_eq nullptr operator or or_eq private protected public "
    "reinterpret_cast requires static_assert static_cast template this thread_local throw "
    "true try typeid typename using virtual wchar_t xor xor_eq "
    "threadIdx blockIdx blockDim gridDim warpSize dim3 float2 float4 int2 int4 uint2 uint4 "
    "__syncthreads std".split())


class CudaExprEmitter(ExprEmitter):
    """Expressions as in C, except that float32 exp, tanh and erf call CUDA's device
    math functions (expf, ...: within 2 ulps) instead of c_math's polynomials."""

    def _float_call(self, name: str, dtype: str, args):
        if name in _LIBM and name not in ("abs", "fabs"):
            return call(self.lib.libm_call(_LIBM[name], dtype), *args)
        return super()._float_call(name, dtype, args)


def launch_dims(stmt: L.Stmt, kernel: str) -> dict[str, int]:
    """Launch axis -> the largest extent of the loops bound to it in ``stmt``.  Raises
    CodegenError for a bound loop with a non-constant extent or a launch CUDA cannot
    make.  Loops bound to one axis may nest (a shared copy filled inside the compute's
    thread loops): each thread runs both with its own index."""
    dims: dict[str, int] = {}

    def walk(s: L.Stmt) -> None:
        if isinstance(s, L.For) and s.kind in L.GPU_AXES:
            if not isinstance(s.extent, E.Const):
                raise CodegenError(f"kernel {kernel}: loop {s.var.name} is bound to {s.kind} "
                                   f"but its extent {s.extent} is not a constant; split the "
                                   f"axis by a constant factor and bind the inner part")
            dims[s.kind] = max(dims.get(s.kind, 1), int(s.extent.value))
        for c in _child_stmts(s):
            walk(c)

    walk(stmt)
    for axis, n in dims.items():
        if n > _AXIS_LIMITS[axis]:
            what = "blocks" if axis in L.BLOCK_AXES else "threads"
            raise CodegenError(f"kernel {kernel}: {n} {what} on {axis} exceed CUDA's "
                               f"{_AXIS_LIMITS[axis]}; split the axis bound to it and bind a "
                               f"smaller part")
    threads = math.prod(dims.get(a, 1) for a in L.THREAD_AXES)
    if threads > MAX_THREADS:
        raise CodegenError(f"kernel {kernel}: {threads} threads per block "
                           f"({' x '.join(str(dims.get(a, 1)) for a in L.THREAD_AXES)}) exceed "
                           f"CUDA's {MAX_THREADS}; bind smaller extents to the threadIdx axes")
    return dims


def _child_stmts(s: L.Stmt) -> list[L.Stmt]:
    if isinstance(s, L.Seq):
        return list(s.stmts)
    if isinstance(s, (L.For, L.LetStmt, L.Allocate)):
        return [s.body]
    if isinstance(s, L.IfThenElse):
        return [s.then_case] + ([s.else_case] if s.else_case is not None else [])
    return []


class KernelEmitter(FunctionEmitter):
    """Emits ``kernel`` (a PrimFunc whose params are the global buffers one root
    statement touches, its body that statement) as a ``__global__`` function launched
    with ``dims`` (launch axis -> extent)."""

    RESTRICT = "__restrict__"
    EXPR_EMITTER = CudaExprEmitter

    def __init__(self, kernel: L.PrimFunc, helpers, dims: dict[str, int], note: str):
        limit = UNBOUND_STACK_LIMIT_BYTES if not dims else 2 ** 62
        super().__init__(kernel, helpers, limit)
        self.used |= CUDA_RESERVED
        self.note = note
        self.dims = dims
        self.grid_dims = tuple(dims.get(a, 1) for a in L.BLOCK_AXES)
        self.block_dims = tuple(dims.get(a, 1) for a in L.THREAD_AXES)
        self.scratch_bytes = _live_bytes(kernel.body, lambda b: _scratch_size(b.nbytes)
                                         if b.scope != L.SHARED and b.nbytes > limit else 0)
        self.shared_decls: list[str] = []
        self.shared_bytes = 0
        #: per-thread buffers: the non-shared temporaries allocated inside the kernel
        self.private = {n.buffer for n in _unique_nodes(kernel.body)
                        if isinstance(n, L.Allocate) and n.buffer.scope != L.SHARED}
        #: thread axes of more than one thread that no enclosing loop is bound to
        self.free_axes = tuple(a for a in L.THREAD_AXES if dims.get(a, 1) > 1)
        self.thread_vars: set[E.Var] = set()   # vars that differ between a block's threads
        self.divergence: list[str] = []        # why some threads may skip the current code
        self.enclosing_axes: list[str] = []    # the axes of the bound loops around it
        self.alloc_threads: dict[L.Buffer, frozenset] = {}
        self._facts: dict[int, tuple] = {}
        self.arg_types: list[str] = []

    # --- the kernel ----------------------------------------------------------------------

    @property
    def threads(self) -> int:
        return math.prod(self.block_dims)

    def emit(self) -> str:
        func = self.func
        stored = {n.buffer for n in _unique_nodes(func.body) if isinstance(n, L.Store)}
        params = []
        for buf in func.params:
            mem = MEM_TYPE[canonical(buf.dtype)]
            qual = "" if buf in stored else "const "
            name = self.fresh(buf.name)
            self.arg_types.append(f"{qual}{mem} *")
            params.append(f"{qual}{mem} *{self.RESTRICT} {name}")
            self.ex.buffers[buf] = name
        if self.scratch_bytes:
            self.scratch = self.fresh("scratch")
            self.arg_types.append("unsigned char *")
            params.append(f"unsigned char *{self.RESTRICT} {self.scratch}")
        self.stmt(func.body)
        if self.shared_bytes > SHARED_LIMIT_BYTES:
            raise CodegenError(f"kernel {func.name} needs {self.shared_bytes} bytes of shared "
                               f"memory, over CUDA's {SHARED_LIMIT_BYTES} static limit; "
                               f"choose smaller shared tiles (block tile or k step)")
        comment = (f"/* {self.note}: grid {self.grid_dims}, block {self.block_dims}, "
                   f"{self.shared_bytes} bytes of shared memory{self._unbound_note()} */")
        signature = (f'extern "C" __global__ void __launch_bounds__({self.threads}) '
                     f"{func.name}({', '.join(params) or 'void'})")
        return "\n".join([comment, signature, "{", *self.shared_decls, *self.lines, "}"])

    def _unbound_note(self) -> str:
        if self.dims:
            return ""
        return (";\n * runs as one thread (<<<1, 1>>>): no loop of this statement is bound "
                "to a GPU axis (Stage.bind)")

    # --- facts about statements -------------------------------------------------------

    def depends_on_thread(self, e: E.Expr) -> bool:
        """Whether ``e`` may differ between the threads of a block: it reads a thread
        index (or a variable derived from one) or a per-thread buffer."""
        return any((isinstance(n, E.Var) and n in self.thread_vars)
                   or (isinstance(n, L.Load) and n.buffer in self.private)
                   for n in _unique_nodes(e))

    def facts(self, s: L.Stmt) -> tuple[bool, bool, frozenset]:
        """(writes global or shared memory, must run in every thread, the per-thread
        buffers allocated outside ``s`` that it writes), memoized."""
        hit = self._facts.get(id(s))
        if hit is not None and hit[0] is s:
            return hit[1]
        if isinstance(s, L.Store):
            private = s.buffer in self.private
            out = (not private, False, frozenset([s.buffer]) if private else frozenset())
        elif isinstance(s, (L.Barrier, L.ThreadAllReduce)):
            out = (False, True, frozenset())
        else:
            kids = [self.facts(c) for c in _child_stmts(s)]
            writes = any(k[0] for k in kids)
            everyone = any(k[1] for k in kids) or (isinstance(s, L.For) and s.kind in L.GPU_AXES)
            local = frozenset().union(*(k[2] for k in kids))
            if isinstance(s, L.Allocate):
                local -= {s.buffer}
            out = (writes, everyone, local)
        self._facts[id(s)] = (s, out)
        return out

    # --- statements ----------------------------------------------------------------------

    def one_thread(self, s: L.Stmt) -> bool:
        """Whether ``s`` is code every thread would run that writes shared or global
        memory (and no per-thread buffer of the enclosing code): thread 0 runs it."""
        writes, everyone, local = self.facts(s)
        return bool(self.free_axes) and writes and not everyone and not local

    def stmt(self, s: L.Stmt) -> None:
        if self.one_thread(s):
            self.in_one_thread([s])
        else:
            super().stmt(s)

    def _stmt_Seq(self, s: L.Seq) -> None:
        run: list[L.Stmt] = []  # consecutive statements for thread 0 share one guard
        for x in s.stmts:
            if self.one_thread(x):
                run.append(x)
                continue
            if run:
                self.in_one_thread(run)
                run = []
            self.stmt(x)
        if run:
            self.in_one_thread(run)

    def in_one_thread(self, stmts: list[L.Stmt]) -> None:
        cond = " && ".join(f"{a} == 0u" for a in self.free_axes)
        free, self.free_axes = self.free_axes, ()
        self.line(f"if ({cond}) {{ /* one thread: this code is bound to no thread axis */")
        self.depth += 1
        try:
            for x in stmts:
                super().stmt(x)
        finally:
            self.depth -= 1
            self.free_axes = free
        self.line("}")

    def _stmt_For(self, s: L.For) -> None:
        if s.kind in L.GPU_AXES:
            self._bound_loop(s)
            return
        varying = self.depends_on_thread(s.min) or self.depends_on_thread(s.extent)
        if varying:
            self.thread_vars.add(s.var)
            self.divergence.append(f"loop {s.var.name}, whose bounds depend on the thread index")
        try:
            if s.kind == L.VECTORIZED:
                from .cuda_vector import emit_vector_loop

                if emit_vector_loop(self, s):
                    return
            super()._stmt_For(s)
        finally:
            if varying:
                self.divergence.pop()

    def loop_hint(self, s: L.For) -> str | None:
        if (s.kind in (L.UNROLLED, L.VECTORIZED) and isinstance(s.extent, E.Const)
                and 1 < s.extent.value <= llvm_func.UNROLL_LIMIT):
            return "#pragma unroll"
        return None

    def _bound_loop(self, s: L.For) -> None:
        """``var`` is the hardware index (plus the loop's min); indices past the extent
        skip the body when the launch has more."""
        axis, extent = s.kind, int(s.extent.value)
        if not (E.is_int(s.var.dtype) and E.is_int(s.min.dtype)):
            raise CodegenError(f"loop {s.var.name}: variable and min must be integers")
        if extent <= 0:
            self.line(f"/* loop {_comment(s.var.name)} bound to {axis} has no iterations */")
            return
        dim = self.dims[axis]
        guarded = extent < dim
        per_thread = axis in L.THREAD_AXES and dim > 1
        if guarded:
            self.line(f"if ({axis} < {extent}u) {{ /* {_comment(s.var.name)}: {extent} of "
                      f"{dim} */")
            self.depth += 1
            if per_thread:
                self.divergence.append(
                    f"loop {s.var.name}, bound to {axis} with extent {extent} while the "
                    f"kernel launches {dim} threads on {axis} (the largest extent bound to it)")
        free = self.free_axes
        self.free_axes = tuple(a for a in free if a != axis)
        self.enclosing_axes.append(axis)
        try:
            if any(n is s.var for n in _unique_nodes(s.body)):
                ctype = C_TYPE[canonical(s.var.dtype)]
                with self.hoisted([s.min]):
                    lo = self.ex.convert(s.min.dtype, s.var.dtype, self.ex.expr(s.min))
                index = f"({ctype}){axis}"
                value = index if _is_zero(s.min) else f"{lo.text} + {index}"
                name = self.fresh(s.var.name)
                self.line(f"const {ctype} {name} = {value};")
                if self.ex.nonneg(s.min):
                    self.ex.nonneg_vars.add(s.var)
                if per_thread or self.depends_on_thread(s.min):
                    self.thread_vars.add(s.var)
                with self.bound(s.var, name):
                    self.stmt(s.body)
            else:
                self.stmt(s.body)
        finally:
            self.free_axes = free
            self.enclosing_axes.pop()
            if guarded:
                if per_thread:
                    self.divergence.pop()
                self.depth -= 1
        if guarded:
            self.line("}")

    def _stmt_IfThenElse(self, s: L.IfThenElse) -> None:
        varying = self.depends_on_thread(s.cond)
        if varying:
            self.divergence.append(f"an if whose condition ({s.cond}) depends on the thread "
                                   f"index")
        try:
            super()._stmt_IfThenElse(s)
        finally:
            if varying:
                self.divergence.pop()

    def _stmt_LetStmt(self, s: L.LetStmt) -> None:
        if self.depends_on_thread(s.value):
            self.thread_vars.add(s.var)
        super()._stmt_LetStmt(s)

    def _stmt_Allocate(self, s: L.Allocate) -> None:
        buf = s.buffer
        if buf.scope != L.SHARED:
            if self.dims and buf.nbytes > PRIVATE_LIMIT_BYTES:
                raise CodegenError(
                    f"kernel {self.func.name}: per-thread buffer {buf.name!r} "
                    f"({buf.dtype}{list(buf.shape)}) takes {buf.nbytes} bytes in every thread, "
                    f"over {PRIVATE_LIMIT_BYTES}; compute_at it at a loop nearer the thread's "
                    f"own work (a register tile is a few hundred bytes)")
            self.alloc_threads[buf] = frozenset(self.thread_vars)
            super()._stmt_Allocate(s)
            return
        if buf in self.ex.buffers:
            raise CodegenError(f"buffer {buf.name!r} is allocated twice")
        if not any(isinstance(n, (L.Load, L.Store)) and n.buffer is buf
                   for n in _unique_nodes(s.body)):
            self.stmt(s.body)  # an unused array would be a warning
            return
        name = self.fresh(buf.name)
        self.declare_shared(MEM_TYPE[canonical(buf.dtype)], name, max(buf.size, 1),
                            f"{buf.dtype}{list(buf.shape)}", buf.nbytes)
        self.ex.buffers[buf] = name
        try:
            self.stmt(s.body)
        finally:
            del self.ex.buffers[buf]

    def declare_shared(self, ctype: str, name: str, size: int, what: str, nbytes: int) -> None:
        """A ``__shared__`` array at kernel scope, 16-byte aligned (float4 accesses)."""
        self.shared_decls.append(f"    __shared__ __align__(16) {ctype} {name}[{size}]; "
                                 f"/* {_comment(what)} */")
        self.shared_bytes += -(-nbytes // 16) * 16

    def _stmt_Store(self, s: L.Store) -> None:
        buf = s.buffer
        if buf in self.private:
            since = self.thread_vars - self.alloc_threads.get(buf, frozenset())
            if any(isinstance(n, E.Var) and n in since for n in _unique_nodes(s.index)):
                raise CodegenError(
                    f"per-thread buffer {buf.name!r} is written at an index that depends on "
                    f"a thread index bound inside its allocation: each thread would fill "
                    f"only its own part; make it a shared copy (cache_read(..., \"shared\")) "
                    f"or compute_at it inside the thread-bound loop")
        super()._stmt_Store(s)

    def check_all_threads(self, what: str) -> None:
        """Raise CodegenError when some threads of a block may not reach ``what``."""
        if self.divergence:
            raise CodegenError(
                f"kernel {self.func.name}: {what} lies inside {self.divergence[-1]}; threads "
                f"that skip it would hang the block.  Give the loops bound to a thread axis "
                f"around it the full launch extent (split the shared copy's and the compute's "
                f"thread-bound axes to the same extents: block {self.block_dims}), or move it out "
                f"of the condition (compute_at at an outer loop)")

    def _stmt_Barrier(self, s: L.Barrier) -> None:
        self.check_all_threads("a barrier (__syncthreads(), around a shared-memory copy)")
        self.line("__syncthreads();")

    def _stmt_ThreadAllReduce(self, s: L.ThreadAllReduce) -> None:
        from .cuda_reduce import emit_all_reduce

        self.check_all_threads(f"the all-reduce of {s.buffer.name} across {s.axis}")
        if s.axis in self.enclosing_axes:
            raise CodegenError(f"kernel {self.func.name}: the all-reduce of {s.buffer.name} "
                               f"across {s.axis} lies inside a loop bound to {s.axis}: each "
                               f"thread would combine one iteration's value; put the all-reduce "
                               f"after the reduce loop bound to {s.axis}")
        emit_all_reduce(self, s)


def _is_zero(e: E.Expr) -> bool:
    return isinstance(e, E.Const) and e.value == 0
