"""ThreadAllReduce in the CUDA generator: warp shuffles and a pass through shared memory,
for every combiner, several dtypes, one or many warps, partial warps and fewer taking
part than the block has threads.  Each case is a row reduction written in loop IR whose
threads then all write the total (so the broadcast is checked too); it runs in the CPU
emulator (whose shuffles check their masks) and through the C target, against numpy,
and the whole batch passes nvcc."""
import numpy as np
import pytest

from tc.compiler.loops.ir import Allocate, Buffer, For, Load, PrimFunc, Seq, Store, ThreadAllReduce
from tc.compiler.te.expr import Binary, Var, const
from tc.targets.cuda import check_cuda_source, emit_cuda, find_nvcc

from .c_harness import CLibrary
from .cuda_emulator import EmulatedCuda

ROWS, PER_THREAD = 3, 3
# (threads taking part, threads of the launch, combiner, dtype)
CASES = [
    (1, 1, "sum", "float32"),
    (1, 64, "min", "float32"),
    (5, 5, "sum", "float32"),
    (32, 32, "max", "float32"),
    (32, 96, "sum", "int32"),
    (33, 33, "max", "float32"),
    (100, 128, "prod", "float64"),
    (256, 256, "sum", "int8"),
    (40, 40, "max", "bool"),
    (64, 64, "sum", "float16"),
    (1024, 1024, "max", "int64"),
]
_OPS = {"sum": "+", "prod": "*", "max": "max", "min": "min"}


def _identity(combiner: str, dtype: str):
    if combiner in ("sum", "prod"):
        return int(combiner == "prod") if dtype != "bool" else False
    if dtype == "bool":
        return combiner == "min"
    if dtype.startswith("float"):
        return float("-inf") if combiner == "max" else float("inf")
    info = np.iinfo(dtype)
    return int(info.min if combiner == "max" else info.max)


def all_reduce_func(n: int, launch: int, combiner: str, dtype: str) -> PrimFunc:
    """Per row (a block): ``n`` threads fold PER_THREAD elements each, combine their
    partials, store the row's total to S and, all ``launch`` threads, to W."""
    k = n * PER_THREAD
    A, S = Buffer("A", (ROWS, k), dtype), Buffer("S", (ROWS,), dtype)
    W = Buffer("W", (ROWS, launch), dtype)
    acc = Buffer("acc", (1,), dtype, "local")
    r, t, u, t2 = Var("r"), Var("t"), Var("u"), Var("t2")
    fold = Binary(_OPS[combiner], Load(acc, 0), Load(A, r * k + u * n + t))
    body = Allocate(acc, Seq([
        Store(acc, 0, const(_identity(combiner, dtype), dtype)),
        For(t, 0, n, "threadIdx.x", For(u, 0, PER_THREAD, "serial", Store(acc, 0, fold))),
        ThreadAllReduce(acc, combiner, "threadIdx.x", n),
        Store(S, r, Load(acc, 0)),
        For(t2, 0, launch, "threadIdx.x", Store(W, r * launch + t2, Load(acc, 0)))]))
    name = f"reduce_{combiner}_{dtype}_{n}_of_{launch}"
    return PrimFunc(name, (A, S, W), For(r, 0, ROWS, "blockIdx.x", body))


def _inputs(n: int, combiner: str, dtype: str, rng) -> np.ndarray:
    shape = (ROWS, n * PER_THREAD)
    if dtype == "bool":
        return rng.random(shape) < 0.02
    if dtype.startswith("float"):
        lo, hi = (0.9, 1.1) if combiner == "prod" else (-2, 2)
        return rng.uniform(lo, hi, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -10 ** 6), min(info.max, 10 ** 6), shape, dtype=dtype)


def _expected(a: np.ndarray, combiner: str) -> np.ndarray:
    if a.dtype == np.float16:  # float16 sums round at every step, in any order
        return a.astype(np.float64).sum(axis=1)
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[combiner]
    return fn(a, axis=1, dtype=a.dtype) if combiner in ("sum", "prod") else fn(a, axis=1)


def _run_and_check(run, case, rng):
    n, launch, combiner, dtype = case
    func = all_reduce_func(*case)
    a = _inputs(n, combiner, dtype, rng)
    s, w = np.zeros(ROWS, a.dtype), np.zeros((ROWS, launch), a.dtype)
    run(func.name, [a, s, w])
    want = _expected(a, combiner)
    tol = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}.get(dtype, 0)
    np.testing.assert_allclose(s.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_array_equal(w, np.repeat(s[:, None], launch, axis=1))


@pytest.fixture(scope="module")
def funcs():
    return [all_reduce_func(*c) for c in CASES]


def test_emulated_all_reduce_matches_numpy(funcs):
    lib = EmulatedCuda(funcs)
    rng = np.random.default_rng(5)
    for case in CASES:
        _run_and_check(lib.run, case, rng)


def test_c_target_runs_the_same_primfuncs(funcs):
    lib = CLibrary(funcs)
    rng = np.random.default_rng(6)
    for case in CASES:
        _run_and_check(lib.run, case, rng)


def test_structure_warp_shuffles_then_shared_memory(funcs):
    src = emit_cuda(funcs, "cuda").source
    one_warp = src.split("reduce_max_float32_32_of_32_k0(")[1].split("\n}\n")[0]
    assert "__shfl_down_sync(0xffffffffu" in one_warp and "__shfl_sync(0xffffffffu" in one_warp
    assert "__syncthreads" not in one_warp and "__shared__" not in one_warp
    many = src.split("reduce_prod_float64_100_of_128_k0(")[1].split("\n}\n")[0]
    assert "__shared__ __align__(16) double acc_warps[5];" in many
    assert many.count("__syncthreads();") == 2
    assert "if (acc_lane == 0 && threadIdx.x < 100u)" in many  # threads past 100 stay out


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_nvcc_compiles_every_case(funcs):
    check_cuda_source(emit_cuda(funcs, "cuda -arch=sm_90").source, "sm_90")
