"""Operator semantics of the LLVM backend (scalar and vector paths) against numpy."""
import math

import numpy as np
import pytest

from tc.compiler.loops.ir import Buffer, For, Load, PrimFunc, Seq, Store
from tc.compiler.te.expr import (
    Binary,
    Call,
    Not,
    Var,
    cast,
    const,
    logical_and,
    lt,
    maximum,
    minimum,
    ne,
    select,
)

from .jit import jit_run

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
KINDS = ("serial", "vectorized")
N = 19  # odd, so vector chunks leave a tail
rng = np.random.default_rng(1)


def data(dtype, n=N):
    """Random non-zero values that every dtype in DTYPES can represent after a cast."""
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool)
    if dtype.startswith("uint"):
        return rng.integers(1, 120, n).astype(dtype)
    if dtype.startswith("int"):
        return (rng.integers(1, 120, n) * rng.choice([-1, 1], n)).astype(dtype)
    return (rng.uniform(0.5, 100, n) * rng.choice([-1, 1], n)).astype(dtype)


def elementwise(name, inputs, outputs, exprs, kind):
    """A PrimFunc computing out_k[i] = exprs[k](loads of inputs at i)."""
    i = Var("i")
    loads = [Load(b, i) for b in inputs]
    stores = [Store(o, i, e(*loads)) for o, e in zip(outputs, exprs)]
    return PrimFunc(name, tuple(inputs) + tuple(outputs), For(i, 0, inputs[0].size, kind,
                                                              Seq(stores)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("src", DTYPES)
def test_cast_from_every_dtype_to_every_dtype(src, kind):
    A = Buffer("A", (N,), src)
    outs = [Buffer(f"O_{d}", (N,), d) for d in DTYPES]
    f = elementwise(f"cast_{src}", [A], outs, [lambda a, d=d: cast(d, a) for d in DTYPES], kind)
    a = data(src)
    results = [np.zeros(N, d) for d in DTYPES]
    jit_run(f, [a] + results)
    for d, got in zip(DTYPES, results):
        with np.errstate(all="ignore"):
            want = a.astype(d)
        ok = np.ones(N, bool)
        if src.startswith("float") and d.startswith("uint"):
            ok = a >= 0  # numpy leaves negative float -> unsigned to the platform
        np.testing.assert_array_equal(got[ok], want[ok], err_msg=f"{src} -> {d}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bool"])
def test_arithmetic_in_every_dtype(dtype, kind):
    A, B = Buffer("A", (N,), dtype), Buffer("B", (N,), dtype)
    ops = ["+", "-", "*", "min", "max"]
    outs = [Buffer(f"O{k}", (N,), dtype) for k in range(len(ops))]
    f = elementwise(f"arith_{dtype}", [A, B], outs,
                    [lambda a, b, op=op: Binary(op, a, b) for op in ops], kind)
    a, b = data(dtype), data(dtype)
    results = [np.zeros(N, dtype) for _ in ops]
    jit_run(f, [a, b] + results)
    with np.errstate(all="ignore"):
        wants = [a + b, a - b, a * b, np.minimum(a, b), np.maximum(a, b)]
    for op, got, want in zip(ops, results, wants):
        if dtype == "float16":
            np.testing.assert_allclose(got, want, rtol=1e-3, err_msg=op)
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{dtype} {op}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "uint64"])
def test_floor_division_and_modulo_match_numpy(dtype, kind):
    A, B = Buffer("A", (N,), dtype), Buffer("B", (N,), dtype)
    signed = dtype.startswith("int")
    k = -3 if signed else 5
    exprs = [lambda a, b: a // b, lambda a, b: a % b,
             lambda a, b: a // const(k, dtype), lambda a, b: a % const(k, dtype),
             lambda a, b: a // const(4, dtype), lambda a, b: a % const(4, dtype)]
    outs = [Buffer(f"O{j}", (N,), dtype) for j in range(len(exprs))]
    f = elementwise(f"divmod_{dtype}", [A, B], outs, exprs, kind)
    a = data(dtype)
    b = (rng.integers(1, 9, N) * (rng.choice([-1, 1], N) if signed else 1)).astype(dtype)
    b[:3] = 0  # numpy gives 0 for x // 0 and x % 0; tc must agree and not trap
    if signed:
        b[3] = -1
    results = [np.zeros(N, dtype) for _ in exprs]
    jit_run(f, [a, b] + results)
    with np.errstate(all="ignore"):
        wants = [a // b, a % b, a // np.array(k, dtype), a % np.array(k, dtype),
                 a // np.array(4, dtype), a % np.array(4, dtype)]
    for j, (got, want) in enumerate(zip(results, wants)):
        np.testing.assert_array_equal(got, want, err_msg=f"expression {j}")


@pytest.mark.parametrize("kind", KINDS)
def test_float_floor_division_modulo_and_true_division(kind):
    A, B = Buffer("A", (N,), "float64"), Buffer("B", (N,), "float64")
    exprs = [lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a / b]
    outs = [Buffer(f"O{j}", (N,), "float64") for j in range(3)]
    f = elementwise("fdivmod", [A, B], outs, exprs, kind)
    a, b = data("float64"), data("float64") / 7
    results = [np.zeros(N) for _ in exprs]
    jit_run(f, [a, b] + results)
    np.testing.assert_array_equal(results[0], a // b)
    np.testing.assert_allclose(results[1], a % b, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(results[2], a / b)


def _erf(x):
    return np.vectorize(math.erf)(x).astype(x.dtype)


UNARY = {
    "exp": (np.exp, lambda x: x / 20), "log": (np.log, np.abs), "sqrt": (np.sqrt, np.abs),
    "fabs": (np.abs, None), "abs": (np.abs, None), "floor": (np.floor, None),
    "ceil": (np.ceil, None), "tanh": (np.tanh, lambda x: x / 30), "erf": (_erf, lambda x: x / 30),
    "sin": (np.sin, None), "cos": (np.cos, None), "round": (np.round, None),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_math_intrinsics_match_numpy(dtype, kind):
    names = list(UNARY)
    ins = [Buffer(f"X_{n}", (N,), dtype) for n in names] + [Buffer("Base", (N,), dtype)]
    outs = [Buffer(f"O_{n}", (N,), dtype) for n in names] + [Buffer("O_pow", (N,), dtype)]
    i = Var("i")
    exprs = [Call(n, (Load(x, i),)) for n, x in zip(names, ins)]
    exprs.append(Call("pow", (Load(ins[-1], i), Load(ins[0], i))))
    f = PrimFunc(f"math_{dtype}", tuple(ins + outs), For(i, 0, N, kind, Seq(
        [Store(o, i, e) for o, e in zip(outs, exprs)])))
    a = data(dtype)
    a[:4] = np.array([0.5, 1.5, 2.5, -2.5], dtype)  # round half to even
    xs = [(pre(a) if pre else a).astype(dtype) for _, pre in UNARY.values()]
    xs.append((np.abs(a) / 40 + 0.5).astype(dtype))
    results = [np.zeros(N, dtype) for _ in outs]
    jit_run(f, xs + results)
    rtol = 2e-3 if dtype == "float16" else 1e-6 if dtype == "float32" else 1e-13
    wants = [ref(x) for (ref, _), x in zip(UNARY.values(), xs)] + [np.power(xs[-1], xs[0])]
    for n, got, want in zip(names + ["pow"], results, wants):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=n)


def test_float64_to_float16_rounds_correctly():
    n = 4096
    A, B = Buffer("A", (n,), "float64"), Buffer("B", (n,), "float16")
    f = elementwise("to_half", [A], [B], [lambda a: cast("float16", a)], "vectorized")
    halves = rng.uniform(-60000, 60000, n).astype("float16").astype("float64")
    ulp = np.abs(np.spacing(halves.astype("float16")).astype("float64"))
    # values at and next to the midpoints between halves: where double rounding would fail
    a = halves + ulp / 2 + rng.choice([-1, 0, 1], n) * np.abs(halves) * 2.0 ** -40
    a[:4] = [np.inf, -np.inf, 1e300, 0.0]
    b = np.zeros(n, "float16")
    jit_run(f, [a, b])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(b, a.astype("float16"))


def test_math_intrinsics_become_vector_intrinsics():
    n = 8
    A, B = Buffer("A", (n,), "float32"), Buffer("B", (n,), "float32")
    f = elementwise("vlog", [A], [B], [lambda a: Call("log", (a,)) + Call("sqrt", (a,))],
                    "vectorized")
    a, b = np.abs(data("float32", n)) / 10, np.zeros(n, "float32")
    art = jit_run(f, [a, b])
    np.testing.assert_allclose(b, np.log(a) + np.sqrt(a), rtol=1e-6)
    assert "call <8 x float> @llvm.log.v8f32" in art.unoptimized_ir
    assert "call <8 x float> @llvm.sqrt.v8f32" in art.unoptimized_ir


@pytest.mark.parametrize("kind", KINDS)
def test_compare_logical_not_and_integer_abs(kind):
    A, B = Buffer("A", (N,), "int32"), Buffer("B", (N,), "float32")
    O1, O2, O3 = Buffer("O1", (N,), "bool"), Buffer("O2", (N,), "int32"), \
        Buffer("O3", (N,), "bool")
    f = elementwise("logic", [A, B], [O1, O2, O3], [
        lambda a, b: logical_and(lt(a, 10), Not(lt(b, 0.0))),
        lambda a, b: select(ne(b, 1.5), Call("abs", (a,)), const(7, "int32")),
        lambda a, b: ne(b, b)], kind)
    a, b = data("int32"), data("float32")
    b[0] = np.nan
    b[1] = 1.5
    o1, o2, o3 = np.zeros(N, bool), np.zeros(N, "int32"), np.zeros(N, bool)
    jit_run(f, [a, b, o1, o2, o3])
    np.testing.assert_array_equal(o1, (a < 10) & ~(b < 0))
    np.testing.assert_array_equal(o2, np.where(b != 1.5, np.abs(a), 7))
    np.testing.assert_array_equal(o3, b != b)


def test_float_min_max_propagate_nan_like_numpy():
    A, B = Buffer("A", (4,), "float32"), Buffer("B", (4,), "float32")
    O1, O2 = Buffer("O1", (4,), "float32"), Buffer("O2", (4,), "float32")
    f = elementwise("nanminmax", [A, B], [O1, O2], [minimum, maximum], "vectorized")
    a = np.array([np.nan, 1, 2, -3], "float32")
    b = np.array([1, np.nan, 3, -4], "float32")
    o1, o2 = np.zeros(4, "float32"), np.zeros(4, "float32")
    jit_run(f, [a, b, o1, o2])
    np.testing.assert_array_equal(o1, np.minimum(a, b))
    np.testing.assert_array_equal(o2, np.maximum(a, b))


@pytest.mark.parametrize("kind", KINDS)
def test_bitwise_and_shift_operators(kind):
    ops = ["&", "|", "^", "<<", ">>"]
    for dtype in ("int32", "uint8"):
        A, B = Buffer("A", (N,), dtype), Buffer("B", (N,), dtype)
        outs = [Buffer(f"O{k}", (N,), dtype) for k in range(len(ops))]
        f = elementwise("bits", [A, B], outs,
                        [lambda a, b, op=op: Binary(op, a, b) for op in ops], kind)
        a, b = data(dtype), rng.integers(0, 7, N).astype(dtype)
        results = [np.zeros(N, dtype) for _ in ops]
        jit_run(f, [a, b] + results)
        wants = [a & b, a | b, a ^ b, a << b, a >> b]
        for op, got, want in zip(ops, results, wants):
            np.testing.assert_array_equal(got, want, err_msg=f"{dtype} {op}")
