"""The GPU schedule primitives (bind, cache_read, cache_write, a reduce axis bound to a
thread axis) lowered to the loop IR and run serially by the interpreter: off the GPU a
bound loop runs as a plain loop, so the result must equal numpy's."""
import numpy as np
import pytest

from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.loops.verifier import verify_primfunc
from tc.compiler.schedule import lower
from tc.compiler.schedule.schedule import ScheduleError, apply_steps, create_schedule

from ...targets.cuda_schedules import gemm_schedule

RNG = np.random.default_rng(7)


def _matmul(M, N, K):
    A = te.placeholder((M, K), "float32", "A")
    B = te.placeholder((K, N), "float32", "B")
    k = te.reduce_axis(K, "k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C", tag="matmul")
    return A, B, C


def _tiled_gemm(M, N, K):
    """Blocks of 16 x 16 outputs, 4 x 4 per thread in registers, A and B tiles of one k
    step (8) in shared memory, filled by all the block's threads."""
    return gemm_schedule(M, N, K, tile=16, reg=4, k_step=8)


def _walk(s):
    yield s
    for child in (getattr(s, "body", None), getattr(s, "then_case", None),
                  getattr(s, "else_case", None)):
        if isinstance(child, L.Stmt):
            yield from _walk(child)
    for x in getattr(s, "stmts", ()):
        yield from _walk(x)


@pytest.mark.parametrize("shape", [(64, 48, 40), (32, 32, 24)])
def test_tiled_gemm_with_shared_tiles_matches_numpy(shape):
    M, N, K = shape
    sch, args = _tiled_gemm(M, N, K)
    func = lower(sch, list(args), "gemm")
    verify_primfunc(func)
    a = RNG.standard_normal((M, K)).astype("float32")
    b = RNG.standard_normal((K, N)).astype("float32")
    c = np.zeros((M, N), "float32")
    run_primfunc(func, [a, b, c])
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_shared_tiles_cover_the_block_and_sit_between_barriers():
    sch, args = _tiled_gemm(64, 48, 40)
    func = lower(sch, list(args), "gemm")
    stmts = list(_walk(func.body))
    shared = [s.buffer for s in stmts if isinstance(s, L.Allocate) and s.buffer.scope == L.SHARED]
    # one k step (8) of the block's 16 rows of A and 16 columns of B: the threads bound
    # outside the attach point widen the region from one thread's rows to the block's
    assert sorted(b.shape for b in shared) == [(8, 16), (16, 8)]
    local = [s.buffer for s in stmts if isinstance(s, L.Allocate) and s.buffer.scope == L.LOCAL]
    assert [b.shape for b in local] == [(4, 4)]
    seq = next(s for s in stmts if isinstance(s, L.Seq)
               and any(isinstance(x, L.Barrier) for x in s.stmts))
    kinds = [type(x).__name__ for x in seq.stmts]
    # barrier, fill A, barrier (shared with B's fill), fill B, barrier, compute
    assert kinds[:5] == ["Barrier", "For", "Barrier", "For", "Barrier"]
    bound = {s.kind for s in stmts if isinstance(s, L.For)} & set(L.GPU_AXES)
    assert bound == {"blockIdx.x", "blockIdx.y", "threadIdx.x", "threadIdx.y"}


def test_recorded_steps_replay_to_the_same_loops():
    sch, args = _tiled_gemm(32, 32, 24)
    A, B, C = _matmul(32, 32, 24)
    replayed = apply_steps(create_schedule(C), sch.steps)
    assert str(lower(replayed, [A, B, C], "gemm").body) == str(lower(sch, list(args), "gemm").body)


@pytest.mark.parametrize("combiner", ["sum", "max"])
def test_reduce_axis_bound_to_threads_combines_partials(combiner):
    rows, cols = 6, 100
    X = te.placeholder((rows, cols), "float32", "X")
    r = te.reduce_axis(cols, "r")
    reducer = te.sum if combiner == "sum" else te.max
    Y = te.compute((rows,), lambda i: reducer(X[i, r], axis=r), "Y", tag="reduce")
    sch = create_schedule(Y)
    st = sch[Y]
    st.bind(st.op.axes[0], "blockIdx.x")
    outer, inner = st.split(st.op.reduce_axes[0], 32)  # 100 = 4 x 32 with a guarded tail
    st.reorder(inner, outer)
    st.bind(inner, "threadIdx.x")
    func = lower(sch, [X, Y], "rowreduce")
    verify_primfunc(func)
    reduces = [s for s in _walk(func.body) if isinstance(s, L.ThreadAllReduce)]
    assert [(s.combiner, s.axis, s.extent) for s in reduces] == [(combiner, "threadIdx.x", 32)]
    x = RNG.standard_normal((rows, cols)).astype("float32")
    y = np.zeros(rows, "float32")
    run_primfunc(func, [x, y])
    want = x.sum(axis=1) if combiner == "sum" else x.max(axis=1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_bind_refuses_a_reduce_axis_on_a_block_axis():
    A, B, C = _matmul(8, 8, 8)
    st = create_schedule(C)[C]
    with pytest.raises(ScheduleError, match="only be bound to a thread axis"):
        st.bind(st.op.reduce_axes[0], "blockIdx.x")


def test_bind_refuses_an_unknown_axis_and_a_second_binding():
    A, B, C = _matmul(8, 8, 8)
    st = create_schedule(C)[C]
    with pytest.raises(ScheduleError, match="launch axes are"):
        st.bind(st.op.axes[0], "warp.x")
    st.bind(st.op.axes[0], "threadIdx.x")
    with pytest.raises(ScheduleError, match="already bound"):
        st.bind(st.op.axes[1], "threadIdx.x")


def test_cache_read_needs_a_reader_and_a_known_scope():
    A, B, C = _matmul(8, 8, 8)
    D = te.compute((8, 8), lambda i, j: C[i, j] * 2.0, "D", tag="elemwise")
    sch = create_schedule(D)
    with pytest.raises(ScheduleError, match="does not read A"):
        sch.cache_read(A, "shared", [sch[D]])
    with pytest.raises(ScheduleError, match="scope must be one of"):
        sch.cache_read(A, "texture", [sch[C]])


def test_a_shared_copy_computed_at_root_is_refused():
    A, B, C = _matmul(8, 8, 8)
    sch = create_schedule(C)
    sch.cache_read(A, "shared", [sch[C]])
    with pytest.raises(ScheduleError, match="compute_at it inside a loop"):
        lower(sch, [A, B, C], "gemm")


def test_cache_write_comes_before_other_primitives():
    A, B, C = _matmul(8, 8, 8)
    sch = create_schedule(C)
    sch[C].split(sch[C].op.axes[0], 2)
    with pytest.raises(ScheduleError, match="before any other primitive"):
        sch.cache_write(C, "local")
