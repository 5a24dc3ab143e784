"""Vectorized loops in the CUDA generator: float4 / float2 loads and stores where a run of
float32 elements is contiguous and starts at a multiple of the vector width; global
pointers are tested for alignment at run time (misaligned ones take the element-wise
loop, checked in the CPU emulator with a misaligned input), shared memory is aligned by
declaration; other vectorized loops stay unrolled loops."""
import numpy as np
import pytest

from tc.compiler.loops.ir import Buffer, For, Load, PrimFunc, Store
from tc.compiler.te.expr import Var, const
from tc.targets.cuda import check_cuda_source, emit_cuda, find_nvcc

from .cuda_emulator import EmulatedCuda
from .cuda_schedules import gemm

rng = np.random.default_rng(8)


def pairs(n=256, stride=1, lanes=2, name="pairs"):
    """B[lanes i + v] = 3 A[stride (lanes i + v)] for v in a vectorized loop of lanes."""
    A, B = (Buffer(x, (lanes * n * s,), "float32") for x, s in (("A", stride), ("B", 1)))
    b, t, v = Var("b"), Var("t"), Var("v")
    i = (b * 64 + t) * lanes
    index = i + v if stride == 1 else (i + v) * stride
    body = For(v, 0, lanes, "vectorized", Store(B, i + v, Load(A, index) * const(3.0)))
    return PrimFunc(name, (A, B), For(b, 0, n // 64, "blockIdx.x", For(t, 0, 64, "threadIdx.x",
                                                                         body)))


@pytest.fixture(scope="module")
def funcs():
    return [gemm(vector=4, name="gemm_v4"), pairs(), pairs(stride=2, name="strided"),
            pairs(lanes=3, name="triples")]


def test_float4_copies_into_shared_tiles(funcs):
    src = emit_cuda(funcs, "cuda").source
    text = src.split("gemm_v4_k0(")[1].split("\n}\n")[0]
    assert "if (((uintptr_t)A & 15u) == 0u) { /* float4 accesses */" in text
    assert "const float4 A_v = *(const float4 *)(A + " in text
    assert "*(float4 *)(A_shared + " in text and "*(float4 *)(B_shared + " in text
    assert "} else { /* a pointer is not aligned: one element at a time */" in text


def test_float2_and_strided_runs(funcs):
    src = emit_cuda(funcs, "cuda").source
    pair = src.split("pairs_k0(")[1].split("\n}\n")[0]
    assert "((uintptr_t)A & 7u) == 0u && ((uintptr_t)B & 7u) == 0u" in pair
    assert "const float2 A_v = *(const float2 *)(A + " in pair and "*(float2 *)(B + " in pair
    strided = src.split("strided_k0(")[1].split("\n}\n")[0]
    assert "A_v" not in strided and "*(float2 *)(B + " in strided  # only B is contiguous
    triples = src.split("triples_k0(")[1].split("\n}\n")[0]
    assert "float" + "3" not in triples and "#pragma unroll\n" in triples


def test_emulated_results_with_aligned_and_misaligned_pointers(funcs):
    lib = EmulatedCuda(funcs)
    a, b = rng.standard_normal((64, 40), np.float32), rng.standard_normal((40, 48), np.float32)
    raw = np.empty(64 * 40 + 4, np.float32)
    for shift in (0, 1):  # A's pointer 16-byte aligned (numpy's), then 4 bytes past that
        start = (-raw.ctypes.data // 4) % 4 + shift
        view = raw[start:start + 64 * 40]
        view[:] = a.ravel()
        c = np.zeros((64, 48), np.float32)
        lib.run("gemm_v4", [view, b, c])
        np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-4)
    x = rng.standard_normal(1024, np.float32)
    for name, inp, want in (("pairs", x[:512], 3 * x[:512]), ("strided", x, 3 * x[::2]),
                            ("triples", x[:768], 3 * x[:768])):
        out = np.zeros(len(want), np.float32)
        lib.run(name, [inp, out])
        np.testing.assert_allclose(out, want, rtol=1e-6)


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_nvcc_compiles_vector_accesses(funcs):
    check_cuda_source(emit_cuda(funcs, "cuda -arch=sm_80").source, "sm_80")
