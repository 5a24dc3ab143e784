"""The CUDA code generator on hand-written GPU schedules (a tiled GEMM, an elementwise
op, a row reduction across threads, a function of several root statements): the
structure of the CUDA it emits (read from the text), that nvcc accepts it for sm_80 and
sm_90 with every warning an error, and what it computes: the same PrimFuncs through the
C target (bound loops run serially) and the CUDA source itself in the CPU emulator
(tests/targets/cuda_emulator.py: one thread per CUDA thread), both against numpy."""
import re

import numpy as np
import pytest
from scipy.special import erf

from tc.compiler.loops.ir import Allocate, Buffer, For, IfThenElse, Load, PrimFunc, Seq, Store
from tc.compiler.te.expr import Var, binary, const, lt
from tc.targets.cuda import check_cuda_source, emit_cuda, find_nvcc

from .c_harness import CLibrary
from .cuda_emulator import EmulatedCuda
from .cuda_schedules import elementwise, gemm, row_reduce

needs_nvcc = pytest.mark.skipif(find_nvcc() is None,
                                reason="nvcc (the CUDA toolkit) is not installed")
rng = np.random.default_rng(11)
N = 300  # elements of the pipeline's vectors


def pipeline() -> PrimFunc:
    """Four root statements sharing the temporary T (device scratch):
    k0: T = 2 A (3 blocks x 128 threads); k1: B = T + 1 over 160 threads and C = 3 T over
    100 of them (a guarded loop); k2: S = sum(T), bound to nothing (one thread); k3:
    D = T[:64] over 64 threads, then M = max(T[:64]) outside the thread loop."""
    A, B, S, M = (Buffer(x, (n,), "float32") for x, n in (("A", N), ("B", N), ("S", 1), ("M", 1)))
    C, D = Buffer("C", (200,), "float32"), Buffer("D", (64,), "float32")
    T = Buffer("T", (N,), "float32", "local")
    b, t, t2, k, k2 = (Var(x) for x in ("b", "t", "t2", "k", "k2"))
    k0 = For(b, 0, 3, "blockIdx.x", For(t, 0, 128, "threadIdx.x", IfThenElse(
        lt(b * 128 + t, N), Store(T, b * 128 + t, Load(A, b * 128 + t) * const(2.0)))))
    b1, t1 = Var("b1"), Var("t1")
    k1 = For(b1, 0, 2, "blockIdx.x", Seq([
        For(t1, 0, 160, "threadIdx.x", IfThenElse(
            lt(b1 * 160 + t1, N), Store(B, b1 * 160 + t1, Load(T, b1 * 160 + t1) + const(1.0)))),
        For(t2, 0, 100, "threadIdx.x",
            Store(C, b1 * 100 + t2, Load(T, b1 * 100 + t2) * const(3.0)))]))
    k2_ = Seq([Store(S, 0, const(0.0)),
               For(k, 0, N, "serial", Store(S, 0, Load(S, 0) + Load(T, k)))])
    t3 = Var("t3")
    k3 = Seq([For(t3, 0, 64, "threadIdx.x", Store(D, t3, Load(T, t3))),
              Store(M, 0, Load(T, 0)),
              For(k2, 1, 63, "serial", Store(M, 0, binary("max", Load(M, 0), Load(T, k2))))])
    return PrimFunc("pipeline", (A, B, C, S, D, M), Allocate(T, Seq([k0, k1, k2_, k3])))


def _funcs():
    return [gemm(), elementwise(), row_reduce(), pipeline()]


def _cases():
    """name -> (inputs, expected outputs)."""
    a, b = rng.standard_normal((64, 40), np.float32), rng.standard_normal((40, 48), np.float32)
    x = rng.standard_normal((7, 300), np.float32)
    v = rng.standard_normal(N).astype(np.float32)
    t = 2 * v
    return {
        "gemm": ([a, b], [a @ b]),
        "gelu_like": ([x], [np.exp(x) * np.tanh(x) + erf(x)]),
        "row_max": ([x], [x.max(axis=1)]),
        "pipeline": ([v], [t + 1, np.concatenate([3 * t[:100], 3 * t[100:200]]),
                           [t.sum()], t[:64], [t[:64].max()]]),
    }


def _check(run, name, case):
    inputs, expected = case
    outs = [np.zeros(np.shape(e), np.float32) for e in expected]
    run(name, [*inputs, *outs])
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, np.asarray(want, np.float32), rtol=1e-5, atol=1e-4)


@pytest.fixture(scope="module")
def source():
    return emit_cuda(_funcs(), "cuda -arch=sm_80")


def kernel(source, name: str) -> str:
    """The text of ``__global__`` function ``name``."""
    m = re.search(rf'extern "C" __global__ void __launch_bounds__\(\d+\) {name}\(.*?\n}}\n',
                  source.source, re.S)
    assert m, f"no kernel {name}"
    return m.group(0)


def test_gemm_has_shared_tiles_bound_axes_and_an_unrolled_register_tile(source):
    text = kernel(source, "gemm_k0")
    assert "__launch_bounds__(16) gemm_k0(" in text
    assert "__shared__ __align__(16) float A_shared[128];" in text
    assert "__shared__ __align__(16) float B_shared[128];" in text
    assert text.count("__syncthreads();") == 3
    for axis in ("blockIdx.y", "blockIdx.x", "threadIdx.y", "threadIdx.x"):
        assert re.search(rf"const int32_t \w+ = \(int32_t\){re.escape(axis)};", text), axis
    assert "float C_local[16];" in text  # the register tile: a per-thread array
    lines = text.splitlines()
    tile_loops = [k for k, ln in enumerate(lines) if "/* unrolled */" in ln]
    assert len(tile_loops) == 4  # the init's and the update's 4 x 4 loops
    assert all(lines[k - 1].strip() == "#pragma unroll" for k in tile_loops)
    update = next(ln for ln in lines if "C_local[" in ln and "A_shared[" in ln)
    assert "B_shared[" in update and "A[" not in update
    [launch] = source.launches["gemm"]
    assert (launch.grid, launch.block, launch.shared_bytes) == ((3, 4, 1), (4, 4, 1), 1024)
    assert "gemm_k0<<<dim3(3, 4, 1), dim3(4, 4, 1), 0, tc_cuda_stream()>>>" in source.source
    assert 'TC_CUDA_CHECK_LAUNCH("gemm:gemm_k0");' in source.source


def test_elementwise_binds_blocks_and_threads_and_calls_device_math(source):
    text = kernel(source, "gelu_like_k0")
    assert "= (int32_t)blockIdx.x;" in text and "= (int32_t)threadIdx.x;" in text
    assert all(fn + "(" in text for fn in ("expf", "tanhf", "erff"))
    assert "for (" not in text and "__syncthreads" not in text
    [launch] = source.launches["gelu_like"]
    assert (launch.grid, launch.block) == ((9, 1, 1), (256, 1, 1))


def test_row_reduction_combines_threads_with_warp_shuffles(source):
    text = kernel(source, "row_max_k0")
    assert "__shfl_down_sync(" in text
    assert "S_acc_warps[5]" in text  # 4 warps' results and the total
    assert text.count("__syncthreads();") == 2
    assert "if (threadIdx.x == 0u) {" in text  # the result is stored once
    [launch] = source.launches["row_max"]
    assert (launch.grid, launch.block) == ((7, 1, 1), (100, 1, 1))


def test_root_statements_become_kernels_sharing_device_scratch(source):
    launches = source.launches["pipeline"]
    assert [(x.kernel, x.grid, x.block) for x in launches] == [
        ("pipeline_k0", (3, 1, 1), (128, 1, 1)), ("pipeline_k1", (2, 1, 1), (160, 1, 1)),
        ("pipeline_k2", (1, 1, 1), (1, 1, 1)), ("pipeline_k3", (1, 1, 1), (64, 1, 1))]
    assert source.scratch_bytes == {"pipeline": 1216}  # T: 1200 bytes, whole 64-byte lines
    assert 'extern "C" void pipeline(void *p0, void *p1, void *p2, void *p3, void *p4, ' \
           'void *p5, void *p6)' in source.source
    assert "(float *)((unsigned char *)p6 + 0)" in source.source
    assert "if (threadIdx.x < 100u) {" in kernel(source, "pipeline_k1")
    assert "runs as one thread (<<<1, 1>>>)" in source.source
    # k3's serial max runs outside the thread loop: one thread does it
    k3 = kernel(source, "pipeline_k3")
    assert k3.count("if (threadIdx.x == 0u) {") == 1


@pytest.mark.parametrize("name", ["gemm", "gelu_like", "row_max", "pipeline"])
def test_c_target_computes_the_same_primfuncs(name):
    funcs = {f.name: f for f in _funcs()}
    _check(CLibrary([funcs[name]]).run, name, _cases()[name])


def test_emulated_cuda_computes_what_numpy_does():
    lib = EmulatedCuda(_funcs())
    for name, case in _cases().items():
        _check(lib.run, name, case)


@needs_nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvcc_compiles_without_warnings(source, arch):
    check_cuda_source(source.source, arch)
