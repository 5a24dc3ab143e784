import numpy as np
import pytest

from tc.compiler.loops import ir as L
from tc.compiler.loops.interpret import InterpretError, run_primfunc
from tc.compiler.te import expr as E


def _saxpy():
    x = L.Buffer("x", (3, 4), "float32")
    y = L.Buffer("y", (3, 4), "float32")
    out = L.Buffer("out", (3, 4), "float32")
    i, j = E.Var("i"), E.Var("j")
    idx = i * 4 + j
    body = L.For(i, 0, 3, "parallel", L.For(j, 0, 4, "vectorized",
                 L.Store(out, idx, L.Load(x, idx) * E.const(2.0, "float32") + E.call("exp", L.Load(y, idx)))))
    return L.PrimFunc("saxpy", (x, y, out), body)


def test_runs_against_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype("float32")
    out = np.zeros((3, 4), "float32")
    run_primfunc(_saxpy(), [a, b, out])
    np.testing.assert_allclose(out, 2 * a + np.exp(b), rtol=1e-6)


def test_local_buffers_start_as_nan_and_guards_and_lets():
    a = L.Buffer("a", (5,), "float32")
    out = L.Buffer("out", (5,), "float32")
    tmp = L.Buffer("tmp", (5,), "float32", "local")
    i, v = E.Var("i"), E.Var("v")
    body = L.Allocate(tmp, L.Seq((
        L.For(i, 0, 5, "serial", L.IfThenElse(E.lt(i, 3), L.Store(tmp, i, L.Load(a, i)))),
        L.For(i, 0, 5, "serial", L.LetStmt(v, i * 1, L.Store(out, v, L.Load(tmp, v)))),
    )))
    data = np.arange(1, 6, dtype="float32")
    out_arr = np.zeros(5, "float32")
    run_primfunc(L.PrimFunc("f", (a, out), body), [data, out_arr])
    np.testing.assert_array_equal(out_arr[:3], data[:3])
    assert np.isnan(out_arr[3:]).all()


def test_integer_semantics():
    a = L.Buffer("a", (4,), "int32")
    out = L.Buffer("out", (4,), "int32")
    i = E.Var("i")
    val = E.cast("int32", E.cast("float32", L.Load(a, i)) / E.const(2.0, "float32"))
    body = L.For(i, 0, 4, "serial", L.Store(out, i, val + L.Load(a, i) // E.const(3, "int32")))
    data = np.array([-7, -2, 5, 9], "int32")
    res = np.zeros(4, "int32")
    run_primfunc(L.PrimFunc("f", (a, out), body), [data, res])
    np.testing.assert_array_equal(res, np.trunc(data / 2).astype("int32") + data // 3)


def test_rejects_wrong_arrays():
    f = _saxpy()
    with pytest.raises(InterpretError, match="takes 3"):
        run_primfunc(f, [np.zeros((3, 4), "float32")])
    with pytest.raises(InterpretError, match="wants"):
        run_primfunc(f, [np.zeros((3, 4), "float64")] * 3)
    with pytest.raises(InterpretError, match="never bound"):
        b = L.Buffer("b", (1,), "float32")
        run_primfunc(L.PrimFunc("g", (b,), L.Store(b, E.Var("k"), E.const(0.0, "float32"))),
                     [np.zeros(1, "float32")])
