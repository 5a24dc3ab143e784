"""The CUDA generator computes int64 index arithmetic in int32 where interval arithmetic
from the loops' bounds proves its values fit, and keeps int64 where they may not (large
buffers, indices loaded from memory); what the kernels compute does not change
(floor division and modulo of negative values included), checked in the CPU emulator
against numpy."""
import numpy as np

from tc.compiler.loops.ir import Buffer, For, Load, PrimFunc, Store
from tc.compiler.te.expr import Binary, Var, cast, const
from tc.targets.cuda import emit_cuda

from .cuda_emulator import EmulatedCuda


def kernel_text(src, name):
    return src.source.split(f"{name}_k0(")[1].split("\n}\n")[0]


def test_indices_past_int32_stay_int64():
    n = 3 * 2 ** 30  # 12 GiB of float32: only emitted, never run
    A, B = Buffer("A", (n,), "float32"), Buffer("B", (n,), "float32")
    b, t = Var("b"), Var("t")
    body = For(b, 0, n // 1024, "blockIdx.x", For(t, 0, 1024, "threadIdx.x",
                                                  Store(B, b * 1024 + t, Load(A, b * 1024 + t))))
    text = kernel_text(emit_cuda([PrimFunc("huge", (A, B), body)], "cuda"), "huge")
    assert "const int32_t b = (int32_t)blockIdx.x;" in text  # b itself fits
    assert "const int64_t t0 = (int64_t)b;" in text
    assert "B[t0 * 1024 + t1] = A[t0 * 1024 + t1];" in text


def gather(index_dtype: str) -> PrimFunc:
    """O[i, j] = X[I[i], j]: rows picked by an index tensor (values from memory)."""
    X, O = Buffer("X", (50, 16), "float32"), Buffer("O", (40, 16), "float32")
    I = Buffer("I", (40,), index_dtype)
    i, j = Var("i"), Var("j")
    row = cast("int64", Load(I, i))
    body = For(i, 0, 40, "blockIdx.x", For(j, 0, 16, "threadIdx.x",
                                           Store(O, i * 16 + j, Load(X, row * 16 + j))))
    return PrimFunc(f"gather_{index_dtype}", (X, I, O), body)


def negative_steps() -> PrimFunc:
    """B[t] = A[(i // 3 + 3) * 3 + i % 3] + A[min(i, 0) + 8] for i = t - 8 in [-8, 7]."""
    A, B = Buffer("A", (18,), "float32"), Buffer("B", (16,), "float32")
    t = Var("t")
    i = t - 8
    idx = (Binary("//", i, const(3)) + 3) * 3 + Binary("%", i, const(3))
    value = Load(A, idx) + Load(A, Binary("min", i, const(0)) + 8)
    return PrimFunc("negative_steps", (A, B), For(t, 0, 16, "threadIdx.x", Store(B, t, value)))


def test_loaded_indices_stay_int64_and_values_are_unchanged():
    funcs = [gather("int64"), gather("int32"), negative_steps()]
    src = emit_cuda(funcs, "cuda")
    # the row index from memory is int64 arithmetic (wrapping, as on other targets)
    assert "X[tcc_add_i64(tcc_mul_i64(I[i], 16), (int64_t)j)]" in kernel_text(src, "gather_int64")
    assert "tcc_mul_i64((int64_t)I[i], 16)" in kernel_text(src, "gather_int32")
    steps = kernel_text(src, "negative_steps")
    assert "int64_t" not in steps and "tcc_floordiv_i32(" in steps
    lib = EmulatedCuda(funcs)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 16), np.float32)
    for dtype in ("int64", "int32"):
        rows = rng.integers(0, 50, 40).astype(dtype)
        out = np.zeros((40, 16), np.float32)
        lib.run(f"gather_{dtype}", [x, rows, out])
        np.testing.assert_array_equal(out, x[rows])
    a = rng.standard_normal(18, np.float32)
    out = np.zeros(16, np.float32)
    lib.run("negative_steps", [a, out])
    i = np.arange(16) - 8
    np.testing.assert_array_equal(out, a[(i // 3 + 3) * 3 + i % 3] + a[np.minimum(i, 0) + 8])
