from tc.compiler.loops import ir as L
from tc.compiler.loops.simplify import simplify
from tc.compiler.te import expr as E

x, y, i, j = E.Var("x"), E.Var("y"), E.Var("i"), E.Var("j")
c = E.const
buf = L.Buffer("b", (64,), "float32")


def test_constant_folding():
    assert simplify(c(3) + c(4) * c(2)) == c(11)
    assert simplify(c(7) // c(2)) == c(3)
    assert simplify(c(-7) // c(2)) == c(-4)  # floor semantics
    assert simplify(c(-7) % c(3)) == c(2)
    assert simplify(E.minimum(c(3), c(5))) == c(3)
    assert simplify(c(1.5, "float32") * c(2.0, "float32")) == c(3.0, "float32")
    assert simplify(E.lt(c(2), c(3))) == E.Const(True, "bool")
    assert simplify(E.cast("int64", c(2.7, "float32"))) == c(2)


def test_identities():
    assert simplify(x + 0) is x
    assert simplify(0 + x) is x
    assert simplify(x * 1) is x
    assert simplify(x - 0) is x
    assert simplify(x * 0) == c(0)
    f = E.Var("f", "float32")
    assert simplify(f * c(1.0, "float32")) is f
    # float x * 0 is not 0 (NaN, inf), so it stays
    assert simplify(f * c(0.0, "float32")) == f * c(0.0, "float32")


def test_linear_forms():
    assert simplify((x * 4) * 2) == x * 8
    assert simplify(((x + 1) + 2) + 3) == x + 6
    assert simplify((x + 3) - 3) is x
    assert simplify(x * 4 + y - x * 4) is y
    assert simplify((x * 2 + 1) * 3) == x * 6 + 3


def test_split_fuse_patterns():
    assert simplify((x // 8) * 8 + x % 8) is x
    assert simplify(x % 8 + (x // 8) * 8) is x
    # nested: fuse of a split
    assert simplify(((x // 4) * 4 + x % 4) * 3 + y) == x * 3 + y


def test_bound_aware_div_mod():
    ranges = {i: (0, 7), j: (0, 3)}
    assert simplify((i * 4 + j) // 4, ranges) is i
    assert simplify((i * 4 + j) % 4, ranges) is j
    assert simplify(j // 4, ranges) == c(0)
    assert simplify(j % 4, ranges) is j
    assert simplify((x // 2) // 3) == x // 6
    # without ranges nothing is assumed
    assert simplify((i * 4 + j) // 4) == (i * 4 + j) // 4


def test_guard_removal_uses_loop_ranges():
    store = L.Store(buf, i * 4 + j, c(1.0, "float32"))
    always = L.For(i, 0, 4, "serial", L.For(j, 0, 4, "serial", L.IfThenElse(E.lt(i * 4 + j, 16), store)))
    assert simplify(always) == L.For(i, 0, 4, "serial", L.For(j, 0, 4, "serial", store))
    never = L.For(i, 0, 4, "serial", L.IfThenElse(E.ge(i, 4), store))
    assert simplify(never) == L.Seq(())
    maybe = L.For(i, 0, 4, "serial", L.For(j, 0, 4, "serial", L.IfThenElse(E.lt(i * 4 + j, 13), store)))
    assert simplify(maybe) == maybe
    # x <= min(a, b): the provable half goes away
    cond = E.le(i * 4 + j, E.minimum(i * 4 + 3, x))
    loop = L.For(i, 0, 4, "serial", L.For(j, 0, 4, "serial", L.IfThenElse(cond, store)))
    assert simplify(loop).body.body.cond == E.le(i * 4 + j, x)


def test_unit_loops_and_seqs():
    store = L.Store(buf, i + j, c(1.0, "float32"))
    loop = L.For(i, 2, 1, "serial", L.Seq((L.Seq(()), L.Seq((store,)))))
    assert simplify(loop) == L.Store(buf, j + 2, c(1.0, "float32"))
    assert simplify(L.For(i, 0, 0, "serial", store)) == L.Seq(())
    nested = L.Seq((L.Seq((store, store)), L.Seq(()), store))
    assert simplify(nested) == L.Seq((store, store, store))


def test_constant_conditions():
    a = L.Store(buf, c(0), c(1.0, "float32"))
    b = L.Store(buf, c(1), c(2.0, "float32"))
    assert simplify(L.IfThenElse(E.Const(True, "bool"), a, b)) == a
    assert simplify(L.IfThenElse(E.lt(c(3), c(1)), a, b)) == b
    assert simplify(L.IfThenElse(E.logical_and(E.Const(True, "bool"), E.lt(x, 3)), a)) == \
        L.IfThenElse(E.lt(x, 3), a)
    assert simplify(E.select(E.Const(False, "bool"), c(1.0, "float32"), c(2.0, "float32"))) == c(2.0, "float32")


def test_let_of_constant_is_substituted():
    v = E.Var("v")
    s = L.LetStmt(v, c(3) + c(1), L.Store(buf, v * 2, c(0.0, "float32")))
    assert simplify(s) == L.Store(buf, c(8), c(0.0, "float32"))


def test_primfunc():
    f = L.PrimFunc("f", (buf,), L.For(i, 0, 1, "serial", L.Store(buf, i + 0, c(0.0, "float32"))))
    assert simplify(f).body == L.Store(buf, c(0), c(0.0, "float32"))
