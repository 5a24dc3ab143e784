import pytest

from tc.compiler.loops import ir as L
from tc.compiler.loops.verifier import LoopIRError, verify_primfunc
from tc.compiler.te import expr as E

b = L.Buffer("b", (8,), "float32")
i, n = E.Var("i"), E.Var("n")
zero = E.const(0.0, "float32")


def test_accepts_wellformed():
    tmp = L.Buffer("t", (8,), "float32", "local")
    body = L.Allocate(tmp, L.For(i, 0, 8, "vectorized", L.Store(tmp, i, L.Load(b, i))))
    verify_primfunc(L.PrimFunc("f", (b,), body))


@pytest.mark.parametrize("body,msg", [
    (L.Store(b, i, zero), "variable i"),
    (L.For(i, 0, 8, "serial", L.Store(L.Buffer("other", (8,), "float32"), i, zero)), "store to other"),
    (L.For(i, 0, 8, "serial", L.Store(b, i, L.Load(L.Buffer("c", (8,), "float32"), i))), "load from c"),
    (L.LetStmt(n, E.const(4), L.For(i, 0, n, "vectorized", L.Store(b, i, zero))), "constant extent"),
    (L.LetStmt(n, E.const(4), L.For(i, 0, n, "unrolled", L.Store(b, i, zero))), "constant extent"),
    (L.For(i, 0, 8, "serial", L.For(i, 0, 8, "serial", L.Store(b, i, zero))), "bound twice"),
])
def test_rejects(body, msg):
    with pytest.raises(LoopIRError, match=msg):
        verify_primfunc(L.PrimFunc("f", (b,), body))


def test_let_binds_variable():
    verify_primfunc(L.PrimFunc("f", (b,), L.LetStmt(n, E.const(3), L.Store(b, n, zero))))
