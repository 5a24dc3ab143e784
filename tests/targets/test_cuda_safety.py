"""The CUDA generator refuses schedules that would hang or misbehave on a GPU, with a
CodegenError that names the function and kernel and says what to change: a barrier or
all-reduce some threads of a block would skip, more threads than a block can have, a
bound loop with a non-constant extent, an all-reduce in a 2-D block, too much shared
memory, a per-thread buffer filled by several threads or too large for one thread."""
import re

import pytest

from tc.compiler.loops.ir import (Allocate, Barrier, Buffer, For, IfThenElse, Load, PrimFunc,
                                  Seq, Store, ThreadAllReduce)
from tc.compiler.te.expr import Var, const, lt
from tc.targets import CodegenError
from tc.targets.cuda import emit_cuda

from .cuda_schedules import gemm


def _fails(func: PrimFunc, *fragments: str) -> str:
    with pytest.raises(CodegenError) as info:
        emit_cuda([func], "cuda -arch=sm_80")
    message = str(info.value)
    assert message.startswith(f"cannot compile {func.name}: ")
    for fragment in fragments:
        assert re.search(fragment, message), (fragment, message)
    return message


def _vectors(n=64):
    return Buffer("A", (n,), "float32"), Buffer("B", (n,), "float32")


def test_shared_copy_with_more_threads_than_the_compute_would_hang():
    """/tmp/gpu_try2.py's schedule: the copies bind 16 threads to threadIdx.x, the
    compute 4, so 12 of 16 threads skip the compute's barriers."""
    func = gemm(copy_threads=(16, 4), name="unsafe_gemm")
    _fails(func, r"kernel unsafe_gemm_k0: a barrier \(__syncthreads\(\)",
           r"bound to threadIdx.x with extent 4 while the kernel launches 16 threads",
           "would hang the block", "same extents")


def test_barrier_under_a_thread_dependent_condition():
    A, B = _vectors()
    sh = Buffer("sh", (32,), "float32", "shared")
    t = Var("t")
    body = For(t, 0, 32, "threadIdx.x", Allocate(sh, IfThenElse(lt(t, 16), Seq([
        Store(sh, t, Load(A, t)), Barrier(), Store(B, t, Load(sh, 31 - t))]))))
    _fails(PrimFunc("cond_barrier", (A, B), body), "an if whose condition", "would hang")


def test_all_reduce_in_a_loop_with_fewer_threads_than_the_launch():
    A, B = _vectors()
    acc = Buffer("acc", (1,), "float32", "local")
    t, w = Var("t"), Var("w")
    body = For(Var("b"), 0, 1, "blockIdx.x", Seq([
        For(w, 0, 64, "threadIdx.x", Store(B, w, Load(A, w))),
        For(t, 0, 32, "threadIdx.x", Allocate(acc, Seq([
            Store(acc, 0, Load(A, t)),
            ThreadAllReduce(acc, "sum", "threadIdx.x", 32),
            Store(B, t, Load(acc, 0))])))]))
    _fails(PrimFunc("short_reduce", (A, B), body), "the all-reduce of acc",
           "extent 32 while the kernel launches 64 threads on threadIdx.x")


def test_all_reduce_inside_a_loop_bound_to_its_axis():
    A, B = _vectors()
    acc = Buffer("acc", (1,), "float32", "local")
    t = Var("t")
    body = For(t, 0, 32, "threadIdx.x", Allocate(acc, Seq([
        Store(acc, 0, Load(A, t)),
        ThreadAllReduce(acc, "sum", "threadIdx.x", 32),
        Store(B, t, Load(acc, 0))])))
    _fails(PrimFunc("inner_reduce", (A, B), body), "inside a loop bound to threadIdx.x")


def test_more_than_1024_threads_per_block():
    A, B = Buffer("A", (64, 32), "float32"), Buffer("B", (64, 32), "float32")
    x, y = Var("x"), Var("y")
    body = For(x, 0, 64, "threadIdx.x", For(y, 0, 32, "threadIdx.y",
                                            Store(B, x * 32 + y, Load(A, x * 32 + y))))
    _fails(PrimFunc("too_wide", (A, B), body), "2048 threads per block", "64 x 32 x 1",
           "1024")


def test_too_many_blocks_on_y():
    A, B = _vectors(70000)
    b = Var("b")
    body = For(b, 0, 70000, "blockIdx.y", Store(B, b, Load(A, b)))
    _fails(PrimFunc("too_tall", (A, B), body), "70000 blocks on blockIdx.y", "65535")


def test_bound_loop_needs_a_constant_extent():
    A, B = _vectors()
    n, b = Var("n"), Var("b")
    body = For(n, 1, 3, "serial", For(b, 0, n * 16, "blockIdx.x", Store(B, b, Load(A, b))))
    _fails(PrimFunc("dynamic", (A, B), body), "loop b is bound to blockIdx.x",
           "not a constant", "split the axis by a constant factor")


def test_all_reduce_needs_a_one_dimensional_block():
    A, B = _vectors()
    acc = Buffer("acc", (1,), "float32", "local")
    x, y = Var("x"), Var("y")
    body = For(y, 0, 2, "threadIdx.y", Allocate(acc, Seq([
        Store(acc, 0, const(0.0)),
        For(x, 0, 32, "threadIdx.x", Store(acc, 0, Load(acc, 0) + Load(A, y * 32 + x))),
        ThreadAllReduce(acc, "sum", "threadIdx.x", 32),
        Store(B, y, Load(acc, 0))])))
    _fails(PrimFunc("reduce_2d", (A, B), body), r"32 x 2 x 1 threads",
           "blockDim.y == blockDim.z == 1")


def test_shared_memory_over_48_kib():
    A, B = _vectors(16384)
    sh = Buffer("big", (16384,), "float32", "shared")
    t, i = Var("t"), Var("i")
    body = For(t, 0, 256, "threadIdx.x", Allocate(sh, Seq([
        For(i, 0, 64, "serial", Store(sh, i * 256 + t, Load(A, i * 256 + t))),
        Barrier(),
        For(i, 0, 64, "serial", Store(B, i * 256 + t, Load(sh, 16383 - i * 256 - t)))])))
    _fails(PrimFunc("hog", (A, B), body), "kernel hog_k0 needs 65536 bytes of shared memory",
           "smaller shared tiles")


def test_per_thread_buffer_filled_by_several_threads():
    A, B = _vectors()
    tmp = Buffer("tmp", (64,), "float32", "local")
    t, i = Var("t"), Var("i")
    body = Allocate(tmp, Seq([
        For(t, 0, 64, "threadIdx.x", Store(tmp, t, Load(A, t) * const(2.0))),
        For(i, 0, 64, "threadIdx.x", Store(B, i, Load(tmp, 63 - i)))]))
    # one kernel: the Allocate is the function's only root statement's temporary, but as
    # a per-thread array, each thread would hold one element of it
    func = PrimFunc("scattered", (A, B), For(Var("b"), 0, 1, "blockIdx.x", body))
    _fails(func, "per-thread buffer 'tmp'", "only its own part", "shared")


def test_huge_per_thread_buffer():
    A, B = _vectors(64 * 8192)
    tile = Buffer("tile", (8192,), "float32", "local")
    t, i = Var("t"), Var("i")
    body = For(t, 0, 64, "threadIdx.x", Allocate(tile, Seq([
        For(i, 0, 8192, "serial", Store(tile, i, Load(A, t * 8192 + i))),
        For(i, 0, 8192, "serial", Store(B, t * 8192 + i, Load(tile, 8191 - i)))])))
    _fails(PrimFunc("hoard", (A, B), body), "per-thread buffer 'tile'", "32768 bytes",
           "compute_at it at a loop nearer")
