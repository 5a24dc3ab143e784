"""The C code generator on loop-IR kernels written by hand: what the C looks like, that it
compiles as strict C99 (gcc, and clang when installed: -Wall -Wextra -Werror -pedantic)
with no malloc, no threads and no stdio, and that it computes what numpy computes."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from tc.compiler.loops.ir import (Allocate, Buffer, For, IfThenElse, LetStmt, Load, PrimFunc,
                                  Seq, Store)
from tc.compiler.te.expr import Call, Var, cast, const, eq, lt, select
from tc.targets import CodegenError
from tc.targets.c import STACK_LIMIT_BYTES, build_c_object, emit_c

from .c_harness import STRICT_FLAGS, CLibrary

rng = np.random.default_rng(3)


def rand(*shape, dtype="float32"):
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def add_kernel(name="add", n=37, m=40, kind="vectorized"):
    A, B, C = (Buffer(x, (n, m), "float32") for x in "ABC")
    i, j = Var("i"), Var("j")
    return PrimFunc(name, (A, B, C), For(i, 0, n, "parallel", For(j, 0, m, kind,
                    Store(C, i * m + j, Load(A, i * m + j) + Load(B, i * m + j)))))


def row_sum_kernel():
    n, m = 9, 33
    A, S = Buffer("A", (n, m), "float64"), Buffer("S", (n,), "float64")
    i, k = Var("i"), Var("k")
    return PrimFunc("row_sum", (A, S), For(i, 0, n, "parallel", Seq([
        Store(S, i, const(0.0, "float64")),
        For(k, 0, m, "serial", Store(S, i, Load(S, i) + Load(A, i * m + k)))])))


def scratch_kernel(n: int, name: str):
    """Reverses each row of A through a temporary of ``n`` floats."""
    rows = 3
    A, B = Buffer("A", (rows, n), "float32"), Buffer("B", (rows, n), "float32")
    T = Buffer("T", (n,), "float32", scope="local")
    i, j, j2 = Var("i"), Var("j"), Var("j2")
    return PrimFunc(name, (A, B), For(i, 0, rows, "parallel", Allocate(T, Seq([
        For(j, 0, n, "vectorized", Store(T, j, Load(A, i * n + j) * const(3.0))),
        For(j2, 0, n, "unrolled", Store(B, i * n + j2, Load(T, n - 1 - j2) + const(1.0))),
    ]))))


def branch_kernel():
    n = 21
    A, B = Buffer("A", (n,), "int64"), Buffer("B", (n,), "int64")
    i = Var("i")
    return PrimFunc("branchy", (A, B), For(i, 0, n, "vectorized", IfThenElse(
        eq(i % 3, 0), Store(B, i, Load(A, i) * 2), Store(B, i, const(0) - Load(A, i)))))


def negative_division_kernel():
    """Floor division and modulo of negative loop values and data, as numpy's // and %."""
    n = 24
    A, Q, R, T = (Buffer(x, (n,), "int32") for x in ("A", "Q", "R", "T"))
    i = Var("i")
    k = i - 12  # -12 .. 11: a negative dividend in index arithmetic
    return PrimFunc("divmod", (A, Q, R, T), For(i, 0, n, "serial", Seq([
        Store(Q, i, cast("int32", k // 5) + Load(A, i) // const(-7, "int32")),
        Store(R, i, cast("int32", k % 5) + Load(A, i) % const(-7, "int32")),
        Store(T, i, Load(A, i) / const(-7, "int32")),
    ])))


def cast_kernel():
    n = 16
    X = Buffer("X", (n,), "float32")
    I, U, M, D = Buffer("I", (n,), "int32"), Buffer("U", (n,), "uint8"), \
        Buffer("M", (n,), "bool"), Buffer("D", (n,), "float64")
    i = Var("i")
    x = Load(X, i)
    return PrimFunc("casts", (X, I, U, M, D), For(i, 0, n, "vectorized", Seq([
        Store(I, i, cast("int32", x * const(1e9))),
        Store(U, i, cast("uint8", x * const(100.0))),
        Store(M, i, lt(x, const(0.0))),
        Store(D, i, cast("float64", select(Load(M, i), x, const(2.0)))),
    ])))


ALL = [add_kernel(), row_sum_kernel(), scratch_kernel(16, "scratch_small"),
       scratch_kernel(STACK_LIMIT_BYTES // 4 + 1, "scratch_large"), branch_kernel(),
       negative_division_kernel(), cast_kernel()]


def code_only(src: str) -> str:
    """``src`` without its comments."""
    return re.sub(r"/\*.*?\*/", "", src, flags=re.DOTALL)


@pytest.fixture(scope="module")
def lib():
    return CLibrary(ALL)


def test_source_is_plain_c99_with_no_allocation_threads_or_io(lib):
    src = code_only(lib.source.source)
    for banned in ("malloc", "free(", "alloca", "pthread", "stdio", "printf",
                   "tc_parallel_for", "tc_alloc"):
        assert banned not in src, banned
    assert set(re.findall(r"#include <(\w+)\.h>", src)) == {"math", "stdbool", "stdint"}
    assert "void add(void *p0, void *p1, void *p2)\n{" in src
    assert "const float *restrict A = (const float *)p0;" in src  # read-only: const
    assert "float *restrict C = (float *)p2;" in src
    assert "for (int64_t j = 0; j < 40; ++j) { /* vectorized */" in lib.source.source
    assert "/* parallel */" in lib.source.source and "/* unrolled */" in lib.source.source


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_compiles_strictly_with_gcc_and_clang(lib, compiler, tmp_path):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    path = tmp_path / "kernels.c"
    path.write_text(lib.source.source)
    proc = subprocess.run([compiler, *STRICT_FLAGS, "-c", str(path), "-o", str(tmp_path / "k.o")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_elementwise_and_reduction(lib):
    a, b, c = rand(37, 40), rand(37, 40), np.zeros((37, 40), "float32")
    lib.run("add", [a, b, c])
    np.testing.assert_array_equal(c, a + b)
    x, s = rand(9, 33, dtype="float64"), np.zeros(9)
    lib.run("row_sum", [x, s])
    np.testing.assert_allclose(s, x.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("name,n", [("scratch_small", 16),
                                    ("scratch_large", STACK_LIMIT_BYTES // 4 + 1)])
def test_allocate_on_the_stack_or_in_the_workspace(lib, name, n):
    a, b = rand(3, n), np.zeros((3, n), "float32")
    lib.run(name, [a, b])
    np.testing.assert_allclose(b, a[:, ::-1] * 3 + 1, rtol=1e-6)


def test_footprint_report():
    small, large = scratch_kernel(16, "s"), scratch_kernel(STACK_LIMIT_BYTES // 4 + 1, "l")
    src = emit_c([small, large])
    assert dict(src.kernel_stack_bytes) == {"s": 64, "l": 0}
    assert src.stack_bytes == 64
    # the large one takes whole 64-byte lines of the workspace, through a last argument
    n = STACK_LIMIT_BYTES // 4 + 1
    assert dict(src.scratch_bytes) == {"l": -(-n * 4 // 64) * 64}
    assert "    float T[16]; /* float32[16] */" in src.source
    assert "void l(void *p0, void *p1, void *p2)" in src.source
    assert re.search(rf"float \*restrict T = \(float \*\)\(scratch \+ 0\); /\* float32\[{n}\]: "
                     rf"{n * 4} bytes of the workspace", src.source)
    assert "static float" not in src.source
    # a lower limit moves the small one to the workspace too
    assert emit_c([small], stack_limit_bytes=32).scratch_bytes == (("s", 64),)


def test_if_then_else(lib):
    a, b = rng.integers(-100, 100, 21).astype(np.int64), np.zeros(21, np.int64)
    lib.run("branchy", [a, b])
    np.testing.assert_array_equal(b, np.where(np.arange(21) % 3 == 0, a * 2, -a))


def test_division_of_negative_numbers(lib):
    a = rng.integers(-1000, 1000, 24).astype(np.int32)
    q, r, t = (np.zeros(24, np.int32) for _ in range(3))
    lib.run("divmod", [a, q, r, t])
    k = np.arange(24) - 12
    np.testing.assert_array_equal(q, k // 5 + a // -7)
    np.testing.assert_array_equal(r, k % 5 + a % -7)
    np.testing.assert_array_equal(t, np.trunc(a / -7).astype(np.int32))


def test_casts(lib):
    x = rand(16)
    i, u, m, d = np.zeros(16, np.int32), np.zeros(16, np.uint8), np.zeros(16, bool), np.zeros(16)
    lib.run("casts", [x, i, u, m, d])
    big = x.astype(np.float32) * np.float32(1e9)
    np.testing.assert_array_equal(i, np.clip(np.trunc(big.astype(np.float64)), -2 ** 31,
                                             2 ** 31 - 1).astype(np.int32))
    percent = np.trunc(x * np.float32(100))
    np.testing.assert_array_equal(u, np.clip(percent, 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(m, x < 0)
    np.testing.assert_array_equal(d, np.where(x < 0, x, 2.0).astype(np.float64))


def test_libm_calls_are_reported():
    n = 8
    X32, Y32 = Buffer("X", (n,), "float32"), Buffer("Y", (n,), "float32")
    X64, Y64 = Buffer("X64", (n,), "float64"), Buffer("Y64", (n,), "float64")
    i = Var("i")
    f = PrimFunc("math", (X32, Y32, X64, Y64), For(i, 0, n, "serial", Seq([
        Store(Y32, i, Call("exp", (Load(X32, i),)) + Call("tanh", (Load(X32, i),))
              + Call("erf", (Load(X32, i),)) + Call("sqrt", (Load(X32, i),))),
        Store(Y64, i, Call("exp", (Load(X64, i),)) + Call("log", (Load(X64, i),))),
    ])))
    src = emit_c([f])
    assert src.libm_calls == ("exp", "log", "sqrtf")  # float32 exp/tanh/erf are inline
    assert "calls libm (exp, log, sqrtf): link with -lm" in src.source
    assert emit_c([add_kernel()]).libm_calls == ()


def test_shared_subexpressions_are_computed_once():
    """Inlining makes DAGs: 30 levels of x = x * x + x would be 2^30 terms as a tree."""
    n = 4
    X, Y = Buffer("X", (n,), "float32"), Buffer("Y", (n,), "float32")
    i = Var("i")
    v = Load(X, i)
    for _ in range(30):
        v = v * v + const(0.5)
    src = emit_c([PrimFunc("dag", (X, Y), For(i, 0, n, "serial", Store(Y, i, v)))]).source
    assert len(src) < 10_000 and "const float t29 = t28 * t28 + 0.5f;" in src


def test_names_are_sanitized_and_unique():
    n = 4
    A, B = Buffer("in.put*/", (n, n), "float32"), Buffer("HUGE_VAL", (n, n), "float32")
    outer, inner = Var("for"), Var("for")  # two variables with one name, and a keyword
    f = PrimFunc("names", (A, B), For(outer, 0, n, "serial", For(inner, 0, n, "serial",
                 Store(B, outer * n + inner, Load(A, inner * n + outer)))))
    lib = CLibrary([f])  # a math.h macro, a keyword, a comment end: all renamed
    src = lib.source.source
    assert "for (int64_t for_1 = 0;" in src and "in_put__" in src and "HUGE_VAL_1" in src
    a, b = rand(n, n), np.zeros((n, n), "float32")
    lib.run("names", [a, b])
    np.testing.assert_array_equal(b, a.T)


def test_lets_unused_parameters_and_data_dependent_loop_bounds():
    """A let bound to a load wraps its arithmetic; an unused parameter compiles without a
    warning; a loop whose extent is read from memory evaluates it once."""
    N = Buffer("N", (1,), "int64")
    A, B, U = Buffer("A", (10,), "int64"), Buffer("B", (10,), "int64"), Buffer("U", (3,), "int8")
    i, x, y = Var("i"), Var("x"), Var("unused")
    body = LetStmt(x, Load(A, i) * 3, LetStmt(y, const(5), Store(B, i, x + 1)))
    f = PrimFunc("lets", (N, A, B, U), For(i, 0, Load(N, 0), "serial", body))
    lib = CLibrary([f])
    code = code_only(lib.source.source)
    assert "(void)p3;" in code and "unused" not in code  # nor the let nobody reads
    assert "const int64_t x = tcc_mul_i64(A[i], 3);" in code
    a, b = rng.integers(-50, 50, 10).astype(np.int64), np.zeros(10, np.int64)
    lib.run("lets", [np.array([7]), a, b, np.zeros(3, np.int8)])
    np.testing.assert_array_equal(b[:7], a[:7] * 3 + 1)
    np.testing.assert_array_equal(b[7:], 0)


def test_float16_and_bfloat16_buffers():
    """float16 values are computed in float and rounded per operation; a bfloat16 buffer
    is moved as its uint16 storage."""
    n = 12
    H, O = Buffer("H", (n,), "float16"), Buffer("O", (n,), "float16")
    Bf, Bo = Buffer("Bf", (n,), "bfloat16"), Buffer("Bo", (n,), "bfloat16")
    i = Var("i")
    f = PrimFunc("half", (H, Bf, O, Bo), For(i, 0, n, "vectorized", Seq([
        Store(O, i, Load(H, i) * Load(H, i) + const(1.0, "float16")),
        Store(Bo, i, Load(Bf, n - 1 - i)),
    ])))
    lib = CLibrary([f])
    h = rand(n, dtype="float16")
    bf = rng.integers(0, 2 ** 16, n).astype(np.uint16)
    o, bo = np.zeros(n, np.float16), np.zeros(n, np.uint16)
    lib.run("half", [h, bf, o, bo])
    np.testing.assert_array_equal(o, h * h + np.float16(1))
    np.testing.assert_array_equal(bo, bf[::-1])


def test_object_code_for_the_host():
    obj = build_c_object([add_kernel()])
    assert obj[:4] == b"\x7fELF"


@pytest.mark.parametrize("func,message", [
    (PrimFunc("for", (), Seq([])), "C keyword"),
    (PrimFunc("tcc_exp_f32", (), Seq([])), "rename the kernel"),
    (PrimFunc("bad dtype", (), Seq([])), "not a C identifier"),
    (PrimFunc("c64", (Buffer("Z", (2,), "complex64"),), Seq([])), "dtype 'complex64'"),
    (PrimFunc("unbound", (Buffer("Z", (2,), "float32"),),
              Store(Buffer("Z", (2,), "float32"), 0, const(1.0))), "neither a parameter"),
    (PrimFunc("mismatch", (Buffer("Z", (2,), "int32"),),
              Store(Buffer("Z", (2,), "int32"), 0, const(1.0))), "insert a cast"),
])
def test_errors_name_the_kernel(func, message):
    with pytest.raises(CodegenError, match=message) as info:
        emit_c([func])
    assert f"cannot compile {func.name}" in str(info.value)


def test_duplicate_kernel_names_are_refused():
    with pytest.raises(CodegenError, match="unique"):
        emit_c([add_kernel(), add_kernel()])
