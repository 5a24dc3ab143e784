"""Loop features of lowered kernels: a fixed-length finite vector that tells schedules of
one workload apart and moves the way the loop IR says (vector width, parallel extent,
FLOPs, strides and bytes of each access)."""
import math

import numpy as np
import pytest

from tc.autotune.features import FEATURE_LENGTH, FEATURE_NAMES, loop_features
from tc.compiler import te
from tc.compiler.schedule import create_schedule, default_schedule, lower
from tests.compiler.schedule import sched_programs

M, K, N = 64, 256, 256


def feature(vec: np.ndarray, name: str) -> float:
    return float(vec[FEATURE_NAMES.index(name)])


def load_slot(vec: np.ndarray, nbytes: int, stmt: int = 0) -> str:
    """The prefix of the load slot of statement ``stmt`` reading a buffer of ``nbytes``."""
    for i in range(3):
        prefix = f"stmt{stmt}.load{i}."
        if feature(vec, prefix + "log_buffer_bytes") == pytest.approx(math.log2(1 + nbytes)):
            return prefix
    raise AssertionError(f"no load of a {nbytes}-byte buffer")


def matmul_te(m=M, k=K, n=N):
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((k, n), "float32", "B")
    r = te.reduce_axis(k, "k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r.var] * B[r.var, j], axis=r), "C",
                   tag="matmul")
    return A, B, C


def matmul_func(mf=4, jf=8, vectorize=True, parallel=None, k_inner=False, j_outer=False,
                m=M, k=K, n=N):
    """A 64x256x256 matmul: ``(i_o, j_o, k, i_i, j_i)`` (or k innermost, or j_o outside
    i_o), i split by ``mf``, j by ``jf``; ``parallel`` is None, "i" (the outer tile loop)
    or "ij" (both tile loops fused)."""
    A, B, C = matmul_te(m, k, n)
    sch = create_schedule(C)
    st = sch[C]
    i, j = st.op.axes
    (r,) = st.op.reduce_axes
    io, ii = st.split(i, mf)
    jo, ji = st.split(j, jf)
    outer = (jo, io) if j_outer else (io, jo)
    st.reorder(*outer, ii, ji, r) if k_inner else st.reorder(*outer, r, ii, ji)
    if vectorize and not k_inner:
        st.vectorize(ji)
    if parallel == "i":
        st.parallel(outer[0])
    elif parallel == "ij":
        st.parallel(st.fuse(*outer))
    return lower(sch, [A, B, C], "mm")


def test_layout_is_fixed_finite_and_named():
    assert len(FEATURE_NAMES) == FEATURE_LENGTH == len(set(FEATURE_NAMES))
    for func in (matmul_func(), matmul_func(k_inner=True, parallel="i"),
                 matmul_func(mf=3, jf=5, m=7, k=9, n=13)):  # guards and a vector tail
        vec = loop_features(func)
        assert vec.dtype == np.float32 and vec.shape == (FEATURE_LENGTH,)
        assert np.isfinite(vec).all()


def test_schedules_of_one_workload_differ():
    base = loop_features(matmul_func())
    for other in (matmul_func(vectorize=False), matmul_func(mf=2), matmul_func(jf=16),
                  matmul_func(parallel="i"), matmul_func(k_inner=True),
                  matmul_func(j_outer=True)):
        assert not np.array_equal(base, loop_features(other))


def test_tile_order_shows_in_the_window_of_parallel_iterations():
    """Tiles fused into one parallel loop: row tiles outside, 8 neighbouring tasks share
    A's rows and read 8 panels of B; column tiles outside, the other way round."""
    rows_out = loop_features(matmul_func(parallel="ij"))
    cols_out = loop_features(matmul_func(parallel="ij", j_outer=True))
    a, b = load_slot(rows_out, M * K * 4), load_slot(rows_out, K * N * 4)
    assert (a, b) == (load_slot(cols_out, M * K * 4), load_slot(cols_out, K * N * 4))
    # (estimates: the fused index's // averages a step over its divisor)
    window = "log_bytes_window"
    assert feature(cols_out, a + window) > feature(rows_out, a + window) + 2   # > 4x
    assert feature(rows_out, b + window) > feature(cols_out, b + window) + 2
    assert feature(rows_out, a + window) == pytest.approx(math.log2(1 + 4 * K * 4), abs=0.3)

def test_vector_width():
    vec = loop_features(matmul_func(jf=8, vectorize=True))
    scalar = loop_features(matmul_func(jf=8, vectorize=False))
    # stmt0 is the reduction update (the most FLOPs)
    assert feature(vec, "stmt0.log_vector_width") == pytest.approx(math.log2(1 + 8))
    assert feature(vec, "stmt0.innermost_vectorized") == 1
    assert feature(scalar, "stmt0.log_vector_width") == pytest.approx(1.0)  # width 1
    assert feature(scalar, "stmt0.innermost_vectorized") == 0
    assert feature(vec, "total.vectorized_flop_share") == 1
    assert feature(scalar, "total.vectorized_flop_share") == 0
    wide = loop_features(matmul_func(jf=16, vectorize=True), target="llvm -mattr=+avx2")
    assert feature(wide, "stmt0.vector_width_per_lanes") == 2  # 16 lanes over AVX2's 8


def test_parallel_extent():
    none, rows, tiles = (loop_features(matmul_func(parallel=p)) for p in (None, "i", "ij"))
    name = "func.log_max_parallel_extent"
    assert feature(none, name) == 0
    assert feature(rows, name) == pytest.approx(math.log2(1 + M // 4))
    assert feature(tiles, name) == pytest.approx(math.log2(1 + (M // 4) * (N // 8)))
    assert feature(rows, "stmt0.log_parallel_extent") == feature(rows, name)
    assert feature(none, "total.parallel_flop_share") == 0
    assert feature(tiles, "total.parallel_flop_share") == 1


def test_flops_and_bytes_of_a_matmul():
    vec = loop_features(matmul_func())
    assert feature(vec, "total.log_flops") == pytest.approx(math.log2(1 + 2 * M * N * K))
    assert feature(vec, "stmt0.is_reduction") == 1
    assert feature(vec, "stmt0.store.read_modify_write") == 1
    # over the whole nest each buffer is touched entirely
    assert feature(vec, "stmt0.store.log_bytes_nest") == pytest.approx(math.log2(1 + M * N * 4))
    a, b = load_slot(vec, M * K * 4), load_slot(vec, K * N * 4)
    assert feature(vec, a + "log_bytes_nest") == pytest.approx(math.log2(1 + M * K * 4))
    assert feature(vec, b + "log_bytes_nest") == pytest.approx(math.log2(1 + K * N * 4))
    # innermost j_i (8 lanes): A[i, k] is broadcast, B[k, j] contiguous (32 bytes)
    assert feature(vec, a + "stride_broadcast") == 1
    assert feature(vec, b + "stride_contiguous") == 1
    assert feature(vec, b + "log_bytes_inner1") == pytest.approx(math.log2(1 + 32))
    # the store's accumulator tile (4 x 8) is reused across k, 256 iterations apart...
    assert feature(vec, "stmt0.store.log_reuse_count") == pytest.approx(math.log2(1 + K))
    assert feature(vec, "stmt0.store.log_reuse_dist_bytes") == pytest.approx(math.log2(1 + 128))


def test_strides_with_k_innermost():
    vec = loop_features(matmul_func(k_inner=True))
    a, b = load_slot(vec, M * K * 4), load_slot(vec, K * N * 4)
    assert feature(vec, a + "stride_contiguous") == 1                          # A[i, k]
    assert feature(vec, b + "stride_strided") == 1                             # B[k, j]
    assert feature(vec, b + "log_stride") == pytest.approx(math.log2(1 + N))


def test_a_default_scheduled_conv():
    placeholders, out, _ = sched_programs.conv2d(N=1, IC=8, H=14, W=14, OC=16)
    func = lower(default_schedule([out]), placeholders + [out], "conv")
    vec = loop_features(func, target="llvm")
    assert np.isfinite(vec).all()
    conv_flops = 2 * 16 * 14 * 14 * 8 * 9
    assert feature(vec, "stmt0.log_flops") == pytest.approx(math.log2(1 + conv_flops))
    assert feature(vec, "total.log_statements") >= math.log2(1 + 3)  # pad, init, update, ...
    assert feature(vec, "func.n_allocates") >= 1


def _cuda_task(model, family: str):
    from tc.autotune.tasks import extract_tasks

    return next(t for t in extract_tasks(model, "cuda -arch=sm_80") if t.family == family)


def test_gpu_schedules_show_their_launch_shared_memory_and_barriers():
    """Against the CUDA generator's launches and source: the main statement's loops bound
    to block and thread axes multiply to the grid and block sizes, one thread's trips are
    the GEMM's multiply-adds over all threads, shared memory and barriers are counted."""
    from tc.targets.cuda import emit_cuda
    from tests.runtime.test_cuda_compile import mlp_model

    task = _cuda_task(mlp_model(np.random.default_rng(0), rows=256, k=256, n=256), "matmul")
    space = task.space()
    configs = [task.default_config(),
               dict(task.default_config(), **{"s0.matmul.block": [32, 32],
                                              "s0.matmul.reg": [2, 2]})]
    assert configs[1]["s0.matmul.block"] in [list(c) for c in space["s0.matmul.block"].choices]
    vectors = []
    for config in configs:
        func = task.lower(config)
        launch, = emit_cuda([func], task.target).launches[func.name]
        vec = loop_features(func)
        vectors.append(vec)
        grid, block = math.prod(launch.grid), math.prod(launch.block)
        assert feature(vec, "stmt0.log_prod_block") == pytest.approx(math.log2(1 + grid))
        assert feature(vec, "stmt0.log_prod_thread") == pytest.approx(math.log2(1 + block))
        per_thread = 256 * 256 * 256 / (grid * block)
        assert feature(vec, "stmt0.log_task_trips") == pytest.approx(math.log2(1 + per_thread))
        assert feature(vec, "func.log_shared_bytes") == pytest.approx(
            math.log2(1 + launch.shared_bytes))
        source = emit_cuda([func], task.target).source
        assert feature(vec, "func.n_barriers") == source.count("__syncthreads()") > 0
        assert feature(vec, "stmt0.load0.is_shared") == feature(vec, "stmt0.load1.is_shared") == 1
    assert not np.array_equal(*vectors)


def _softmax_model():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, (8, 256))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, (8, 256))
    return helper.make_model(helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "s", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)])


def test_a_gpu_softmax_counts_its_two_row_all_reduces():
    from tc.autotune.tasks import extract_tasks

    gpu = loop_features(_cuda_task(_softmax_model(), "softmax").lower())
    assert feature(gpu, "func.n_thread_allreduces") == 2  # the row's max, then its sum
    assert feature(gpu, "stmt0.n_block") == 1 and feature(gpu, "stmt0.n_thread") >= 1
    cpu, = extract_tasks(_softmax_model(), "llvm")
    vec = loop_features(cpu.lower())
    assert feature(vec, "func.n_thread_allreduces") == feature(vec, "stmt0.n_block") == 0
    assert feature(vec, "stmt0.n_thread") == 0
