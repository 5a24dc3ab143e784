"""Test helper: hand-written GPU schedules lowered to the PrimFuncs the CUDA generator
reads (a tiled GEMM, an elementwise op, a row reduction across threads)."""
from __future__ import annotations

from tc.compiler import te
from tc.compiler.schedule import lower
from tc.compiler.schedule.schedule import create_schedule
from tc.compiler.te.expr import call


def gemm(m=64, n=48, k=40, tile=16, reg=4, k_step=8, copy_threads=None, vector=1,
         name="gemm"):
    """``gemm_schedule``'s GEMM lowered into a PrimFunc called ``name``."""
    sch, args = gemm_schedule(m, n, k, tile, reg, k_step, copy_threads, vector)
    return lower(sch, args, name)


def gemm_schedule(m=64, n=48, k=40, tile=16, reg=4, k_step=8, copy_threads=None, vector=1):
    """C = A @ B: ``tile`` x ``tile`` blocks (blockIdx.y, blockIdx.x) of
    (tile/reg) x (tile/reg) threads, each with a ``reg`` x ``reg`` register tile
    (unrolled); per ``k_step`` columns the block copies its rows of A and columns of B
    into shared memory with ``copy_threads`` (x, y) threads (default: the compute's, so
    every thread takes part), ``vector`` contiguous elements per thread and step (a
    vectorized loop).  Returns (the schedule, [A, B, C])."""
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((k, n), "float32", "B")
    r = te.reduce_axis(k, "k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C", tag="matmul")
    sch = create_schedule(C)
    CL = sch.cache_write(C, "local")
    s = sch[C]
    i, j = s.op.axes
    io, jo, ii, ji = s.tile(i, j, tile, tile)
    ty, ri = s.split(ii, reg)
    tx, rj = s.split(ji, reg)
    s.reorder(io, jo, ty, tx, ri, rj)
    for axis, launch in ((io, "blockIdx.y"), (jo, "blockIdx.x"), (ty, "threadIdx.y"),
                         (tx, "threadIdx.x")):
        s.bind(axis, launch)
    CL.compute_at(s, tx)
    ci, cj = CL.op.axes
    ko, ki = CL.split(CL.op.reduce_axes[0], k_step)
    CL.reorder(ko, ki, ci, cj)
    CL.unroll(ci)
    CL.unroll(cj)
    cx, cy = copy_threads or (tile // reg, tile // reg)
    for copy in (sch.cache_read(A, "shared", [CL]), sch.cache_read(B, "shared", [CL])):
        copy.compute_at(CL, ko)
        rest = copy.fuse(*copy.leaf_axes)
        if vector > 1:
            rest, lanes = copy.split(rest, vector)
            copy.vectorize(lanes)
        rest, tx_c = copy.split(rest, cx)
        _, ty_c = copy.split(rest, cy)
        copy.bind(tx_c, "threadIdx.x")
        copy.bind(ty_c, "threadIdx.y")
    return sch, [A, B, C]


def elementwise(rows=7, cols=300, threads=256, name="gelu_like"):
    """E = exp(A) * tanh(A) + erf(A), all axes fused, split into blocks of ``threads``."""
    A = te.placeholder((rows, cols), "float32", "A")
    E = te.compute((rows, cols), lambda i, j: call("exp", A[i, j]) * call("tanh", A[i, j])
                   + call("erf", A[i, j]), "E")
    sch = create_schedule(E)
    s = sch[E]
    blocks, lanes = s.split(s.fuse(*s.op.axes), threads)
    s.bind(blocks, "blockIdx.x")
    s.bind(lanes, "threadIdx.x")
    return lower(sch, [A, E], name)


def row_reduce(rows=7, cols=300, threads=100, combiner="max", dtype="float32", name=None):
    """S[i] = combiner over A[i, :]: one block per row, the reduce axis split so that
    ``threads`` threads (threadIdx.x) stride over it and combine their partials."""
    A = te.placeholder((rows, cols), dtype, "A")
    r = te.reduce_axis(cols, "k")
    reducer = {"max": te.max, "min": te.min, "sum": te.sum}[combiner]
    S = te.compute((rows,), lambda i: reducer(A[i, r], axis=r), "S")
    sch = create_schedule(S)
    s = sch[S]
    ko, ki = s.split(s.op.reduce_axes[0], threads)
    s.reorder(s.op.axes[0], ki, ko)
    s.bind(s.op.axes[0], "blockIdx.x")
    s.bind(ki, "threadIdx.x")
    return lower(sch, [A, S], name or f"row_{combiner}")
