"""The loop IR: what a scheduled TE program lowers to, and what code generators read.

Buffers are flat at this level: ``Load``/``Store`` take one flat element index
(row-major over the buffer's shape; lowering computes it).  Expressions are the
scalar nodes of ``tc.compiler.te.expr`` plus ``Load``.

    PrimFunc(name, params=(A, B, C), body=
      For(i, 0, 64, "parallel",
        For(j, 0, 64, "vectorized",
          Store(C, i*64 + j, Load(A, i*64 + j) + Load(B, i*64 + j)))))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..te.expr import Expr, Var, as_expr

SERIAL, PARALLEL, VECTORIZED, UNROLLED = "serial", "parallel", "vectorized", "unrolled"
#: GPU launch axes a loop may be bound to (``Stage.bind``): on CUDA the loop variable is
#: the hardware index, elsewhere the loop runs serially, which computes the same result
#: (a cooperative fill bound to threadIdx then simply fills the whole tile)
BLOCK_AXES = ("blockIdx.x", "blockIdx.y", "blockIdx.z")
THREAD_AXES = ("threadIdx.x", "threadIdx.y", "threadIdx.z")
GPU_AXES = BLOCK_AXES + THREAD_AXES
FOR_KINDS = (SERIAL, PARALLEL, VECTORIZED, UNROLLED) + GPU_AXES
#: buffer scopes: a parameter or arena tensor, a private temporary (registers on a GPU),
#: and a GPU thread block's shared memory
GLOBAL, LOCAL, SHARED = "global", "local", "shared"


@dataclass(frozen=True, eq=False)
class Buffer:
    """A typed, contiguous array. ``scope`` is "global" (a parameter or arena tensor),
    "local" (a temporary allocated inside the function) or "shared" (a temporary in a
    GPU thread block's shared memory). Identity-compared."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scope: str = "global"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    def __repr__(self) -> str:
        return f"Buffer({self.name}, {self.shape}, {self.dtype})"


@dataclass(frozen=True)
class Load(Expr):
    buffer: Buffer
    index: Expr
    dtype: str = ""

    def __post_init__(self):
        object.__setattr__(self, "index", as_expr(self.index))
        if not self.dtype:
            object.__setattr__(self, "dtype", self.buffer.dtype)

    def to_text(self) -> str:
        return f"{self.buffer.name}[{self.index}]"


class Stmt:
    """Base of every statement."""

    def __str__(self) -> str:
        from .printer import stmt_str

        return stmt_str(self)


@dataclass(frozen=True)
class Store(Stmt):
    buffer: Buffer
    index: Expr
    value: Expr

    def __post_init__(self):
        object.__setattr__(self, "index", as_expr(self.index))


@dataclass(frozen=True)
class For(Stmt):
    """``for var in range(min, min + extent)``, executed as ``kind`` (see FOR_KINDS).

    "vectorized" and "unrolled" need a constant extent; "parallel" runs iterations on
    the runtime's thread pool (a parallel loop nested in another runs serially).  A
    kind of GPU_AXES binds the loop to a launch axis: on CUDA ``var`` is that index
    (the launch dimension is the largest extent bound to it in the kernel; indices past
    this loop's extent skip the body); other targets run it as a serial loop.
    """

    var: Var
    min: Expr
    extent: Expr
    kind: str
    body: Stmt

    def __post_init__(self):
        object.__setattr__(self, "min", as_expr(self.min))
        object.__setattr__(self, "extent", as_expr(self.extent))
        assert self.kind in FOR_KINDS, self.kind


@dataclass(frozen=True)
class Seq(Stmt):
    stmts: tuple[Stmt, ...]

    def __post_init__(self):
        object.__setattr__(self, "stmts", tuple(self.stmts))


@dataclass(frozen=True)
class IfThenElse(Stmt):
    cond: Expr
    then_case: Stmt
    else_case: Stmt | None = None


@dataclass(frozen=True)
class LetStmt(Stmt):
    """Bind ``var = value`` for ``body`` (evaluated once)."""

    var: Var
    value: Expr
    body: Stmt


@dataclass(frozen=True)
class Allocate(Stmt):
    """A local temporary ``buffer`` live during ``body`` (stack when small, heap otherwise)."""

    buffer: Buffer
    body: Stmt


@dataclass(frozen=True)
class Barrier(Stmt):
    """Every thread of a GPU thread block waits here (``__syncthreads()``): it separates
    the cooperative fill of a shared buffer from its readers.  A no-op off the GPU."""


@dataclass(frozen=True)
class ThreadAllReduce(Stmt):
    """Combine ``buffer[0]`` across the threads of launch axis ``axis`` (a THREAD_AXES
    name; ``extent`` threads take part) with ``combiner`` ("sum", "max", "min",
    "prod"); afterwards every thread's ``buffer[0]`` holds the result.

    Lowering emits it after the partial reduction over a reduce loop bound to a thread
    axis.  Off the GPU that loop runs serially, so ``buffer[0]`` already holds the full
    result and this is a no-op.
    """

    buffer: Buffer
    combiner: str
    axis: str
    extent: int


@dataclass(frozen=True)
class PrimFunc:
    """A kernel: ``params`` are global buffers (inputs then outputs), ``body`` the loops.

    Code generators emit ``void name(T0 *restrict p0, T1 *restrict p1, ...)``.
    """

    name: str
    params: tuple[Buffer, ...]
    body: Stmt
    attrs: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        from .printer import func_str

        return func_str(self)
