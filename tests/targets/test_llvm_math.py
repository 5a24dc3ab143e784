"""Inline float32 exp, erf and tanh of the LLVM backend (tc/targets/llvm_math.py): error in
float32 ulps against float64 references over dense sweeps and special values, on vectors
and scalars, with FMA (the host) and without (plain x86-64)."""
import functools
import math
import platform
import re

import numpy as np
import pytest

from tc.compiler.loops.ir import Buffer, For, Load, PrimFunc, Store
from tc.compiler.te.expr import Call, Var, const

from .jit import jit_run

KINDS = ("serial", "vectorized")
TARGETS = ("llvm",) + (("llvm -mcpu=x86-64",) if platform.machine() in ("x86_64", "AMD64")
                       else ())  # the host (FMA here) and SSE2 without FMA
MAX_ULPS = 4
F32 = np.float32


def _erf64(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


REFERENCES = {"exp": np.exp, "tanh": np.tanh, "erf": _erf64}


def _sweep(lo, hi, n=1_000_000):
    """``n`` evenly spaced float32s on [lo, hi], tiny magnitudes of both signs, and random
    bit patterns (every exponent; some NaNs and infinities)."""
    tiny = np.geomspace(2.0 ** -149, 1e-2, 20_000)
    bits = np.random.default_rng(7).integers(0, 2 ** 32, 100_000, dtype=np.uint32).view(F32)
    return np.concatenate([np.linspace(lo, hi, n, dtype=F32), tiny.astype(F32),
                           -tiny.astype(F32), bits])


_SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.0 ** -149, -(2.0 ** -149),
                     2.0 ** -126, 1e-30, -1e-30, 3.4e38, -3.4e38], F32)
INPUTS = {  # the sweep's range and points of interest
    # overflow (88.7228317 is the last finite result), the smallest normal result
    # (-87.33654) and the subnormal range down to where e^x rounds to 0 (-103.972)
    "exp": ((-105, 90), [88.72283172607422, 88.72283935546875, -87.33654, -103.27893,
                         -103.97208, -103.97209, -104.5, 1e4, -1e4]),
    "tanh": ((-12, 12), [0.5625, -0.5625, 9.01, 44.4, 100.0, -100.0]),
    "erf": ((-4.5, 4.5), [1.0, -1.0, 3.9192058, 3.92, -3.92, 6.0]),
}


@functools.cache
def _case(name):
    """The inputs of ``name``'s sweep and its float64 reference."""
    (lo, hi), points = INPUTS[name]
    x = np.concatenate([_sweep(lo, hi), np.array(points, F32), _SPECIAL])
    with np.errstate(all="ignore"):
        return x, REFERENCES[name](x.astype(np.float64))


def _run(fn, x, kind="vectorized", target="llvm"):
    """``fn`` (of a loaded element) applied to every element of float32 ``x`` by a
    JIT-compiled loop; returns the results and the build artifact."""
    n = x.size
    X, Y = Buffer("X", (n,), "float32"), Buffer("Y", (n,), "float32")
    i = Var("i")
    f = PrimFunc(f"math_{kind}", (X, Y), For(i, 0, n, kind, Store(Y, i, fn(Load(X, i)))))
    y = np.zeros(n, F32)
    art = jit_run(f, [x, y], target)
    return y, art


def _call(name):
    return lambda v: Call(name, (v,))


def ulp_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in float32 ulps at ``want`` (float64): a relative error for normal
    results (so near 0 too), an absolute one of 2^-149 units for subnormal ones.  An
    infinite ``got`` counts as 2^128, the next power of two past the largest float32."""
    got = got.astype(np.float64)
    got = np.where(np.isinf(got), np.sign(got) * 2.0 ** 128, got)
    exponent = np.floor(np.log2(np.maximum(np.abs(want), 2.0 ** -126)))
    with np.errstate(invalid="ignore"):
        return np.abs(got - want) / 2.0 ** (exponent - 23)


def _check(name, got, x, want, normal_only=False):
    """``got`` is NaN, +-inf and +-0 where ``want`` is, and within MAX_ULPS elsewhere (with
    ``normal_only``, where ``want`` is a normal float32; below it within 2^-126)."""
    if normal_only:
        tiny = np.abs(want) < 2.0 ** -126
        assert np.all(np.abs(got[tiny] - want[tiny]) <= 2.0 ** -126), f"{name}: underflow"
        got, x, want = got[~tiny], x[~tiny], want[~tiny]
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan, err_msg=f"{name}: NaN where expected")
    inf = np.isinf(want) | (np.abs(want) >= 2.0 ** 128)
    np.testing.assert_array_equal(got[inf], np.sign(want[inf]) * np.inf,
                                  err_msg=f"{name}: +-inf")
    err = ulp_error(got[~nan & ~inf], want[~nan & ~inf])
    worst = np.argmax(err)
    assert err[worst] <= MAX_ULPS, (f"{name}({x[~nan & ~inf][worst]!r}) = "
                                    f"{got[~nan & ~inf][worst]!r}, want "
                                    f"{want[~nan & ~inf][worst]!r}: {err[worst]:.2f} ulps")
    zero = want == 0
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]),
                                  err_msg=f"{name}: sign of zero")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["exp", "tanh", "erf"])
def test_float32_within_few_ulps(name, kind, target):
    x, want = _case(name)
    got, _ = _run(_call(name), x, kind, target)
    _check(name, got, x, want)


def test_special_values_exactly():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 200.0, -200.0], F32)
    with np.errstate(all="ignore"):
        wants = {"exp": [1, 1, np.inf, 0, np.nan, np.inf, 0],
                 "tanh": [0.0, -0.0, 1, -1, np.nan, 1, -1],
                 "erf": [0.0, -0.0, 1, -1, np.nan, 1, -1]}
    for name, want in wants.items():
        got, _ = _run(_call(name), x)
        np.testing.assert_array_equal(got, np.array(want, F32), err_msg=name)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(np.array(want, F32)),
                                      err_msg=name)


@pytest.mark.parametrize("name", ["exp", "tanh", "erf"])
def test_no_libm_calls_remain(name):
    x = np.linspace(-3, 3, 64).astype(F32)
    _, art = _run(_call(name), x)
    assert not re.search(r"@(expf|tanhf|erff|llvm\.exp\.|llvm\.tanh\.)", art.ir)


def test_sigmoid_of_large_magnitudes_is_not_nan():
    """1 / (1 + e^-x), as tc's Sigmoid computes it, saturates to 0 and 1 (it flushes to 0
    where the result would be subnormal: e^-x overflows there)."""
    x = np.concatenate([np.linspace(-120, 120, 100_001),
                        [np.inf, -np.inf, 3.4e38, -3.4e38]]).astype(F32)
    one = const(1.0, "float32")
    got, _ = _run(lambda v: one / (one + Call("exp", (-v,))), x)
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-x.astype(np.float64)))
    _check("sigmoid", got, x, want, normal_only=True)
