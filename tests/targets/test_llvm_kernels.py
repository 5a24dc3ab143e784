"""Whole kernels written directly in the loop IR, run with MCJIT, checked against numpy."""
import re

import numpy as np
import pytest

from tc.compiler.loops.ir import (Allocate, Buffer, For, IfThenElse, LetStmt, Load, PrimFunc,
                                  Seq, Store)
from tc.compiler.te.expr import Var, call, const, eq, gt, select

from .jit import jit_run

rng = np.random.default_rng(0)


def rand(*shape, dtype="float32"):
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def test_elementwise_add_parallel_and_vectorized():
    n, m = 37, 40  # 40 lanes: one 32-lane chunk and an 8-lane tail
    A, B, C = (Buffer(x, (n, m), "float32") for x in "ABC")
    i, j = Var("i"), Var("j")
    f = PrimFunc("add", (A, B, C), For(i, 0, n, "parallel", For(j, 0, m, "vectorized",
                 Store(C, i * m + j, Load(A, i * m + j) + Load(B, i * m + j)))))
    a, b, c = rand(n, m), rand(n, m), np.zeros((n, m), "float32")
    art = jit_run(f, [a, b, c])
    np.testing.assert_array_equal(c, a + b)
    assert "call void @tc_parallel_for" in art.unoptimized_ir
    assert re.search(r"load <32 x float>", art.unoptimized_ir)
    assert re.search(r"fadd contract <8 x float>", art.unoptimized_ir)
    assert art.object_code[:4] == b"\x7fELF" and art.func_names == ("add",)


def test_row_sum_reduction():
    n, m = 9, 33
    A, S = Buffer("A", (n, m), "float64"), Buffer("S", (n,), "float64")
    i, k = Var("i"), Var("k")
    f = PrimFunc("row_sum", (A, S), For(i, 0, n, "parallel", Seq([
        Store(S, i, const(0.0, "float64")),
        For(k, 0, m, "serial", Store(S, i, Load(S, i) + Load(A, i * m + k)))])))
    a, s = rand(n, m, dtype="float64"), np.zeros(n)
    jit_run(f, [a, s])
    np.testing.assert_allclose(s, a.sum(axis=1), rtol=1e-12)


def test_vectorizing_a_reduction_axis_falls_back_to_scalar():
    n = 50
    A, S = Buffer("A", (n,), "float32"), Buffer("S", (1,), "float32")
    k = Var("k")
    f = PrimFunc("total", (A, S), Seq([Store(S, 0, const(0.0)),
                 For(k, 0, n, "vectorized", Store(S, 0, Load(S, 0) + Load(A, k)))]))
    a, s = rand(n), np.zeros(1, "float32")
    art = jit_run(f, [a, s])
    np.testing.assert_allclose(s[0], a.sum(), rtol=1e-5)
    assert any("emitted scalar" in r and "reduction" in r for r in art.remarks)


def test_matmul_parallel_serial_vectorized():
    M, K, N = 12, 7, 24
    A, B, C = Buffer("A", (M, K), "float32"), Buffer("B", (K, N), "float32"), \
        Buffer("C", (M, N), "float32")
    i, j, j0, k = Var("i"), Var("j"), Var("j0"), Var("k")
    body = Seq([
        For(j0, 0, N, "vectorized", Store(C, i * N + j0, const(0.0))),
        For(k, 0, K, "serial", For(j, 0, N, "vectorized", Store(
            C, i * N + j, Load(C, i * N + j) + Load(A, i * K + k) * Load(B, k * N + j)))),
    ])
    f = PrimFunc("matmul", (A, B, C), For(i, 0, M, "parallel", body))
    a, b, c = rand(M, K), rand(K, N), np.zeros((M, N), "float32")
    art = jit_run(f, [a, b, c])
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    assert "fmul contract <24 x float>" in art.unoptimized_ir
    # the scalar A[i, k] is splatted, not loaded per lane
    assert "shufflevector" in art.unoptimized_ir
    assert "fma" in art.ir or "fmuladd" in art.ir or "fmul contract <" in art.ir


def test_small_conv2d_as_loops():
    C_in, H, W, C_out, R = 3, 8, 9, 4, 3
    OH, OW = H - R + 1, W - R + 1
    X, Wt = Buffer("X", (C_in, H, W), "float32"), Buffer("Wt", (C_out, C_in, R, R), "float32")
    Y = Buffer("Y", (C_out, OH, OW), "float32")
    oc, oh, ow, ow0, ic, kh, kw = (Var(s) for s in ("oc", "oh", "ow", "ow0", "ic", "kh", "kw"))
    w = Var("w", "float32")
    y_idx = lambda x: (oc * OH + oh) * OW + x  # noqa: E731
    inner = LetStmt(w, Load(Wt, ((oc * C_in + ic) * R + kh) * R + kw),
                    For(ow, 0, OW, "vectorized", Store(Y, y_idx(ow), Load(Y, y_idx(ow)) + w *
                        Load(X, (ic * H + oh + kh) * W + ow + kw))))
    body = For(oc, 0, C_out, "parallel", For(oh, 0, OH, "serial", Seq([
        For(ow0, 0, OW, "vectorized", Store(Y, y_idx(ow0), const(0.0))),
        For(ic, 0, C_in, "serial", For(kh, 0, R, "serial", For(kw, 0, R, "unrolled", inner)))])))
    f = PrimFunc("conv", (X, Wt, Y), body)
    x, wt, y = rand(C_in, H, W), rand(C_out, C_in, R, R), np.zeros((C_out, OH, OW), "float32")
    jit_run(f, [x, wt, y])
    ref = np.zeros_like(y)
    for r in range(R):
        for s in range(R):
            ref += np.einsum("oc,chw->ohw", wt[:, :, r, s], x[:, r:r + OH, s:s + OW])
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_strided_loads_are_shuffled_and_strided_stores_scattered():
    """Stride 3 reads one wide load of (16 - 1) * 3 + 1 elements and a shuffle (nothing
    past the last lane's element: A holds exactly that many); stride 5 is gathered."""
    n = 16
    A, B, T = Buffer("A", ((n - 1) * 3 + 1,), "float32"), Buffer("B", (n,), "float32"), \
        Buffer("T", (2 * n,), "float32")
    G, H = Buffer("G", (5 * n,), "float32"), Buffer("H", (n,), "float32")
    j, k, m = Var("j"), Var("k"), Var("m")
    f = PrimFunc("strided", (A, B, T, G, H), Seq([
        For(j, 0, n, "vectorized", Store(B, j, Load(A, j * 3) * const(2.0))),
        For(k, 0, n, "vectorized", Store(T, k * 2 + 1, Load(A, k))),
        For(m, 0, n, "vectorized", Store(H, m, Load(G, m * 5))),
    ]))
    a, b, t = rand((n - 1) * 3 + 1), np.zeros(n, "float32"), np.zeros(2 * n, "float32")
    g, h = rand(5 * n), np.zeros(n, "float32")
    art = jit_run(f, [a, b, t, g, h])
    np.testing.assert_array_equal(b, a[::3] * 2)
    np.testing.assert_array_equal(t[1::2], a[:n])
    np.testing.assert_array_equal(t[0::2], 0)
    np.testing.assert_array_equal(h, g[::5])
    assert "load <46 x float>" in art.unoptimized_ir
    assert "shufflevector <46 x float>" in art.unoptimized_ir
    assert "insertelement <16 x float>" in art.unoptimized_ir  # the stride-5 gather
    assert "fmul contract <16 x float>" in art.unoptimized_ir


def test_transpose_gather_inside_parallel():
    n, m = 6, 10
    A, B = Buffer("A", (n, m), "int32"), Buffer("B", (m, n), "int32")
    i, j = Var("i"), Var("j")
    f = PrimFunc("transpose", (A, B), For(i, 0, m, "parallel", For(j, 0, n, "vectorized",
                 Store(B, i * n + j, Load(A, j * m + i)))))
    a = rng.integers(-1000, 1000, (n, m), dtype="int32")
    b = np.zeros((m, n), "int32")
    jit_run(f, [a, b])
    np.testing.assert_array_equal(b, a.T)


def test_select_with_a_bool_mask_and_relu():
    n = 29
    M, A, B, C, R = Buffer("M", (n,), "bool"), Buffer("A", (n,), "float32"), \
        Buffer("B", (n,), "float32"), Buffer("C", (n,), "float32"), Buffer("R", (n,), "float32")
    i = Var("i")
    f = PrimFunc("masked", (M, A, B, C, R), For(i, 0, n, "vectorized", Seq([
        Store(C, i, select(Load(M, i), Load(A, i), Load(B, i))),
        Store(R, i, select(gt(Load(A, i), 0.0), Load(A, i), 0.0)),
    ])))
    mask = rng.integers(0, 2, n).astype(bool)
    a, b = rand(n), rand(n)
    c, r = np.zeros(n, "float32"), np.zeros(n, "float32")
    art = jit_run(f, [mask, a, b, c, r])
    np.testing.assert_array_equal(c, np.where(mask, a, b))
    np.testing.assert_array_equal(r, np.maximum(a, 0))
    assert re.search(r"select <29 x i1> .*<29 x float>", art.unoptimized_ir)


def test_allocate_small_on_the_stack_inside_a_parallel_loop():
    n, m = 8, 16
    A, B = Buffer("A", (n, m), "float32"), Buffer("B", (n, m), "float32")
    T = Buffer("T", (m,), "float32", scope="local")
    i, j, j2 = Var("i"), Var("j"), Var("j2")
    f = PrimFunc("scratch", (A, B), For(i, 0, n, "parallel", Allocate(T, Seq([
        For(j, 0, m, "vectorized", Store(T, j, Load(A, i * m + j) * const(3.0))),
        For(j2, 0, m, "serial", Store(B, i * m + j2, Load(T, m - 1 - j2) + const(1.0))),
    ]))))
    a, b = rand(n, m), np.zeros((n, m), "float32")
    art = jit_run(f, [a, b])
    np.testing.assert_allclose(b, a[:, ::-1] * 3 + 1, rtol=1e-6)
    assert "alloca [16 x float], align 64" in art.unoptimized_ir
    assert "tc_alloc" not in art.unoptimized_ir


def test_allocate_large_on_the_heap():
    n = 20000  # 80 KB of float32: above the 64 KiB stack limit
    A, B = Buffer("A", (n,), "float32"), Buffer("B", (n,), "float32")
    T = Buffer("T", (n,), "float32", scope="local")
    i, j = Var("i"), Var("j")
    f = PrimFunc("heap", (A, B), Allocate(T, Seq([
        For(i, 0, n, "serial", Store(T, i, Load(A, i) + const(1.0))),
        For(j, 0, n, "serial", Store(B, j, Load(T, n - 1 - j) * Load(T, j))),
    ])))
    a, b = rand(n), np.zeros(n, "float32")
    art = jit_run(f, [a, b])
    np.testing.assert_allclose(b, (a[::-1] + 1) * (a + 1), rtol=1e-6)
    assert "call ptr @tc_alloc(i64 80000)" in art.unoptimized_ir
    assert "call void @tc_free" in art.unoptimized_ir


def test_if_then_else_and_its_scalar_fallback_when_vectorized():
    n = 21
    A, B, C = Buffer("A", (n,), "int64"), Buffer("B", (n,), "int64"), Buffer("C", (n,), "int64")
    i, j = Var("i"), Var("j")
    branch = lambda v, out: IfThenElse(eq(v % 3, 0), Store(out, v, Load(A, v) * 2),  # noqa
                                       Store(out, v, const(0) - Load(A, v)))
    f = PrimFunc("branchy", (A, B, C), Seq([
        For(i, 0, n, "serial", branch(i, B)),
        For(j, 0, n, "vectorized", branch(j, C)),
    ]))
    a = rng.integers(1, 100, n)
    b, c = np.zeros(n, "int64"), np.zeros(n, "int64")
    art = jit_run(f, [a, b, c])
    ref = np.where(np.arange(n) % 3 == 0, a * 2, -a)
    np.testing.assert_array_equal(b, ref)
    np.testing.assert_array_equal(c, ref)
    assert any("IfThenElse" in r for r in art.remarks)


def test_if_without_else():
    n = 10
    A = Buffer("A", (n,), "float32")
    i = Var("i")
    f = PrimFunc("clip_neg", (A,), For(i, 0, n, "serial", IfThenElse(
        gt(const(0.0), Load(A, i)), Store(A, i, const(0.0)))))
    a = rand(n)
    ref = np.maximum(a, 0)
    jit_run(f, [a])
    np.testing.assert_array_equal(a, ref)


def test_nested_parallel_runs_serially_inside():
    n, m = 5, 7
    A = Buffer("A", (n, m), "int32")
    i, j = Var("i"), Var("j")
    f = PrimFunc("nested", (A,), For(i, 0, n, "parallel", For(j, 0, m, "parallel",
                 Store(A, i * m + j, call("abs", Load(A, i * m + j)) + 1))))
    a = rng.integers(-50, 50, (n, m), dtype="int32")
    ref = np.abs(a) + 1
    art = jit_run(f, [a])
    np.testing.assert_array_equal(a, ref)
    assert art.unoptimized_ir.count("call void @tc_parallel_for") == 1


def test_parallel_loop_with_offset_min_and_captured_let():
    n = 40
    A, B = Buffer("A", (n,), "float64"), Buffer("B", (n,), "float64")
    i = Var("i")
    s = Var("s", "float64")
    f = PrimFunc("offset", (A, B), LetStmt(s, Load(A, 0) * 2.0, For(i, 3, n - 3, "parallel",
                 Store(B, i, Load(A, i) + s))))
    a, b = rand(n, dtype="float64"), np.zeros(n)
    jit_run(f, [a, b])
    ref = np.zeros(n)
    ref[3:n] = a[3:n] + a[0] * 2
    np.testing.assert_array_equal(b, ref)


def test_unrolled_loop_and_vector_let_depending_on_the_lane():
    n = 12
    A, B = Buffer("A", (n,), "float32"), Buffer("B", (4, n), "float32")
    u, j = Var("u"), Var("j")
    idx = Var("idx")
    f = PrimFunc("unrolled", (A, B), For(u, 0, 4, "unrolled", For(j, 0, n, "vectorized",
                 LetStmt(idx, u * n + j, Store(B, idx, Load(A, j) * call("sqrt", const(4.0)) +
                                                Load(A, n - 1 - j))))))
    a, b = rand(n), np.zeros((4, n), "float32")
    art = jit_run(f, [a, b])
    np.testing.assert_allclose(b, np.tile(a * 2 + a[::-1], (4, 1)), rtol=1e-6)
    assert "u.header" not in art.unoptimized_ir


@pytest.mark.parametrize("a, b, c", [(1, 0, 0), (0, 1, 5), (2, 1, 0), (-1, 3, 19), (3, -1, 20),
                                     (1, 16, 2)])
def test_affine_load_indices_in_vectorized_loops(a, b, c):
    """out[i, j] = src[a*j + b*i + c] for every mix of stride (contiguous, splat, gather)."""
    n, m = 4, 20
    size = 200
    S, O = Buffer("S", (size,), "float32"), Buffer("O", (n, m), "float32")
    i, j = Var("i"), Var("j")
    idx = const(a) * j + i * b - const(-c)
    f = PrimFunc("affine", (S, O), For(i, 0, n, "serial", For(j, 0, m, "vectorized",
                 Store(O, i * m + j, Load(S, idx)))))
    s, o = rand(size), np.zeros((n, m), "float32")
    art = jit_run(f, [s, o])
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    np.testing.assert_array_equal(o, s[a * jj + b * ii + c])
    if a == 1:
        assert "load <20 x float>" in art.unoptimized_ir
