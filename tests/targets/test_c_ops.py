"""The C generator's operators against the LLVM generator's, bit for bit, on edge values.

Every scalar operator of the loop IR (arithmetic, floor division and modulo, shifts,
min/max, comparisons, casts between every pair of dtypes, bit reinterpretation, math
functions) is run over all pairs of edge values (zero divisors, INT_MIN / -1, NaN, signed
zeros, infinities, values that saturate or round to even) in a vectorized loop, compiled
once by each generator; the results must agree exactly (math functions within a few
ulps, where FMA contraction may change the last bits).
"""
import itertools

import numpy as np
import pytest

from tc.compiler.loops.ir import Buffer, For, Load, PrimFunc, Seq, Store
from tc.compiler.te.expr import (COMPARE_OPS, Binary, Call, Compare, Const, Logical, Not,
                                 Reinterpret, Var, cast, const, select)

from .c_harness import CLibrary, LLVMLibrary, assert_same_values

rng = np.random.default_rng(7)
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float16", "float32", "float64"]
DTYPES = ["bool"] + INTS + FLOATS


def edge_values(dtype: str) -> np.ndarray:
    """Values where C and LLVM semantics could part: bounds, signs, zeros, NaN, ties."""
    if dtype == "bool":
        return np.array([False, True])
    if dtype in INTS:
        info = np.iinfo(dtype)
        picks = [info.min, info.min + 1, -7, -3, -2, -1, 0, 1, 2, 3, 7, info.max - 1, info.max]
        picks += rng.integers(info.min, info.max, 3, dtype=dtype, endpoint=True).tolist()
        return np.array(sorted({int(v) for v in picks if info.min <= v <= info.max}), dtype)
    big = float(np.finfo(dtype).max)
    picks = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, -7.25, 100.5, 65519.0,
             65520.0, 3e9, -3e9, 1e19, -1e20, big, -big, float(np.finfo(dtype).tiny) / 4,
             1.0 + 2.0 ** -11 + 2.0 ** -40, np.inf, -np.inf, np.nan]
    with np.errstate(over="ignore"):
        return np.array(picks, dtype=np.float64).astype(dtype)


def pairs(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    v = edge_values(dtype)
    a, b = (np.array(x, dtype) for x in zip(*itertools.product(v, v)))
    return a, b


def elementwise(name: str, in_dtypes: list[str], outs: list[tuple[str, object]], n: int):
    """A kernel storing ``fn(*loads)`` into one output per (dtype, fn) of ``outs``."""
    ins = [Buffer(f"in{k}", (n,), d) for k, d in enumerate(in_dtypes)]
    out_bufs = [Buffer(f"out{k}", (n,), d) for k, (d, _) in enumerate(outs)]
    i = Var("i")
    loads = [Load(b, i) for b in ins]
    body = Seq([Store(o, i, fn(*loads)) for o, (_, fn) in zip(out_bufs, outs)])
    return PrimFunc(name, tuple(ins + out_bufs), For(i, 0, n, "vectorized", body))


def compare_kernels(funcs, inputs_of, reference=None, tolerance=None):
    """Run every kernel of ``funcs`` under both generators and compare each output."""
    c_lib, llvm_lib = CLibrary(funcs), LLVMLibrary(funcs)
    for f in funcs:
        n_in = len(inputs_of[f.name])
        outs = [np.zeros(b.shape, b.dtype) for b in f.params[n_in:]]
        from_c = [o.copy() for o in outs]
        from_llvm = [o.copy() for o in outs]
        c_lib.run(f.name, inputs_of[f.name] + from_c)
        llvm_lib.run(f.name, inputs_of[f.name] + from_llvm)
        for k, (got, want) in enumerate(zip(from_c, from_llvm)):
            what = f"{f.name} output {k} ({f.params[n_in + k].dtype})"
            if tolerance is not None and got.dtype.kind == "f":
                np.testing.assert_allclose(got, want, rtol=tolerance, atol=0, err_msg=what)
            else:
                assert_same_values(got, want, what)
    return c_lib


def _binary_ops(dtype: str) -> list[str]:
    if dtype == "bool":
        return ["&", "|", "^", "min", "max"]
    if dtype in FLOATS:
        return ["+", "-", "*", "/", "//", "%", "min", "max"]
    return ["+", "-", "*", "/", "//", "%", "min", "max", "&", "|", "^"]


def test_binary_operators_and_comparisons_match_llvm():
    funcs, inputs = [], {}
    for d in DTYPES:
        a, b = pairs(d)
        outs = [(d, lambda x, y, op=op: Binary(op, x, y)) for op in _binary_ops(d)]
        outs += [("bool", lambda x, y, op=op: Compare(op, x, y)) for op in COMPARE_OPS]
        funcs.append(elementwise(f"binary_{d}", [d, d], outs, a.size))
        inputs[f"binary_{d}"] = [a, b]
    compare_kernels(funcs, inputs)


def test_shifts_match_llvm_for_in_range_amounts():
    """An amount of the width or more is poison in LLVM, so only in-range ones compare."""
    funcs, inputs = [], {}
    for d in INTS:
        v = edge_values(d)
        width = np.dtype(d).itemsize * 8
        a, s = (np.array(x) for x in zip(*itertools.product(v, range(width))))
        outs = [(d, lambda x, y, op=op: Binary(op, x, y)) for op in ("<<", ">>")]
        funcs.append(elementwise(f"shift_{d}", [d, d], outs, a.size))
        inputs[f"shift_{d}"] = [a.astype(d), s.astype(d)]
    compare_kernels(funcs, inputs)


def test_casts_between_every_pair_of_dtypes_match_llvm():
    """float -> int saturates and maps NaN to 0; float64 -> float16 rounds once; to bool
    is non-zero (NaN included); int -> int wraps or extends by the source's sign."""
    funcs, inputs = [], {}
    for src in DTYPES:
        v = edge_values(src)
        outs = [(dst, lambda x, dst=dst: cast(dst, x)) for dst in DTYPES if dst != src]
        funcs.append(elementwise(f"cast_{src}", [src], outs, v.size))
        inputs[f"cast_{src}"] = [v]
    compare_kernels(funcs, inputs)


def test_float_to_int_casts_saturate_as_numpy_clips():
    """An independent check of the C side alone: saturation and truncation toward zero."""
    x = np.array([-1e30, -129.5, -128.9, -1.5, -0.5, 0.0, 0.7, 126.9, 127.5, 1e30, np.nan],
                 np.float32)
    f = elementwise("to_i8", ["float32"], [("int8", lambda v: cast("int8", v)),
                                          ("uint8", lambda v: cast("uint8", v))], x.size)
    lib = CLibrary([f])
    i8, u8 = np.zeros(x.size, np.int8), np.zeros(x.size, np.uint8)
    lib.run("to_i8", [x, i8, u8])
    finite = np.nan_to_num(x, nan=0.0)
    np.testing.assert_array_equal(i8, np.clip(np.trunc(finite), -128, 127).astype(np.int8))
    np.testing.assert_array_equal(u8, np.clip(np.trunc(finite), 0, 255).astype(np.uint8))


def test_reinterpret_logical_not_and_select_match_llvm():
    pairs_of = [("float32", "int32"), ("float32", "uint32"), ("float64", "int64"),
                ("float16", "uint16"), ("float16", "int16"), ("bfloat16", "uint16"),
                ("int32", "uint32"), ("uint8", "int8")]
    funcs, inputs = [], {}
    for k, (src, dst) in enumerate(pairs_of):
        storage = "uint16" if src == "bfloat16" else src
        v = edge_values(storage)
        outs = [(dst, lambda x, dst=dst: Reinterpret(dst, x))]
        if src == "bfloat16":
            v = v.astype(storage)
        funcs.append(elementwise(f"bits{k}", [src], outs, v.size))
        inputs[f"bits{k}"] = [v.view(np.uint16) if src == "bfloat16" else v]
    a, b = pairs("float32")
    logic = [("bool", lambda x, y: Logical("and", Compare("<", x, y), Compare("!=", x, x))),
             ("bool", lambda x, y: Logical("or", Not(Compare(">=", x, y)), Compare("==", y, y))),
             ("float32", lambda x, y: select(Compare("<", x, y), x, y)),
             ("float32", lambda x, y: select(cast("bool", x), y, const(-1.0)))]
    funcs.append(elementwise("logic", ["float32", "float32"], logic, a.size))
    inputs["logic"] = [a, b]
    compare_kernels(funcs, inputs)


def test_comparisons_decided_by_the_type_compile_cleanly():
    """``u >= 0`` or ``u8 <= 255`` would fail -Wtype-limits under -Werror if emitted."""
    v = edge_values("uint8")
    outs = [("bool", lambda x: Compare(">=", x, Const(0, "uint8"))),
            ("bool", lambda x: Compare("<=", x, Const(255, "uint8"))),
            ("bool", lambda x: Compare("<", Const(0, "uint8"), x)),
            ("bool", lambda x: Compare(">", x, Const(255, "uint8")))]
    f = elementwise("limits", ["uint8"], outs, v.size)
    compare_kernels([f], {"limits": [v]})


MATH = ["exp", "log", "sqrt", "fabs", "abs", "floor", "ceil", "round", "tanh", "erf", "sin",
        "cos"]


@pytest.mark.parametrize("dtype", FLOATS)
def test_math_functions_match_llvm(dtype):
    """Rounding functions exactly; the rest within a few ulps: float32 exp/tanh/erf are
    the same polynomials in both (llvm_math, c_math), FMA contraction aside."""
    v = np.concatenate([edge_values(dtype),
                        rng.uniform(-6, 6, 200).astype(dtype),
                        rng.uniform(0, 100, 50).astype(dtype)])
    exact = ["fabs", "abs", "floor", "ceil", "round", "sqrt"]
    approx = [m for m in MATH if m not in exact]
    funcs = [elementwise(f"exact_{dtype}", [dtype],
                         [(dtype, lambda x, m=m: Call(m, (x,))) for m in exact], v.size),
             elementwise(f"approx_{dtype}", [dtype],
                         [(dtype, lambda x, m=m: Call(m, (x,))) for m in approx]
                         + [(dtype, lambda x: Call("pow", (x, const(1.5, dtype))))], v.size)]
    inputs = {f.name: [v] for f in funcs}
    compare_kernels(funcs[:1], inputs)
    tolerance = {"float16": 1e-3, "float32": 4e-7, "float64": 1e-15}[dtype]
    compare_kernels(funcs[1:], inputs, tolerance=tolerance)


def test_float32_exp_tanh_erf_need_no_libm_and_match_float64():
    """The inline polynomials against float64 numpy/math (an independent oracle)."""
    import math

    x = np.concatenate([rng.uniform(-10, 10, 2000), rng.uniform(-87, 88, 200),
                        [0.0, -0.0, 88.7, -103.5, 1e-8]]).astype(np.float32)
    outs = [("float32", lambda v, m=m: Call(m, (v,))) for m in ("exp", "tanh", "erf")]
    f = elementwise("poly", ["float32"], outs, x.size)
    lib = CLibrary([f])
    assert lib.source.libm_calls == ()
    got = [np.zeros(x.size, np.float32) for _ in range(3)]
    lib.run("poly", [x] + got)
    x64 = x.astype(np.float64)
    want = [np.exp(x64), np.tanh(x64), np.array([math.erf(t) for t in x64])]
    for g, w in zip(got, want):
        w32 = w.astype(np.float32)
        ulp = np.spacing(np.abs(w32)).astype(np.float64)
        tiny = np.finfo(np.float32).smallest_subnormal
        err = np.abs(g.astype(np.float64) - w) / np.maximum(ulp, tiny)
        assert err.max() <= 4, err.max()


def test_integer_abs_keeps_int_min():
    funcs, inputs = [], {}
    for d in INTS:
        v = edge_values(d)
        funcs.append(elementwise(f"abs_{d}", [d], [(d, lambda x: Call("abs", (x,)))], v.size))
        inputs[f"abs_{d}"] = [v]
    compare_kernels(funcs, inputs)
