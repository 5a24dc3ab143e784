"""The simplifier's range-aware floor division and modulo at a coarser divisor:
``(x*k + y) // (k*m)`` is ``x // m`` and ``(x*k + y) % (k*m)`` is ``(x % m)*k + y`` when
the loop ranges prove ``0 <= y < k``; and the recombination of ``(x // c) * (k*c) +
(x % c) * k`` into ``x * k`` when the quotient is in its simplified form."""
import itertools
import random

from tc.compiler.loops.simplify import simplify
from tc.compiler.te import expr as E

c = E.const
i, j, k, f, v = (E.Var(n) for n in "ijkfv")


def evaluate(e: E.Expr, env: dict) -> int:
    """``e`` (Vars, int Consts, + - * // %) at the integer point ``env``; floor semantics."""
    if isinstance(e, E.Var):
        return env[e]
    if isinstance(e, E.Const):
        return e.value
    a, b = evaluate(e.a, env), evaluate(e.b, env)
    return {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else None,
            "%": a % b if b else None}[e.op]


def assert_same_values(before: E.Expr, after: E.Expr, ranges: dict) -> None:
    """``before`` and ``after`` agree at every point of ``ranges`` (Var -> (lo, hi))."""
    names = list(ranges)
    for point in itertools.product(*(range(lo, hi + 1) for lo, hi in ranges.values())):
        env = dict(zip(names, point))
        assert evaluate(before, env) == evaluate(after, env), (str(before), str(after), point)


def has_divmod_of(e: E.Expr, var: E.Var) -> bool:
    """Whether ``e`` divides or takes a modulo of an expression of ``var``."""
    return any(isinstance(n, E.Binary) and n.op in ("//", "%") and
               any(m is var for m in E.walk(n)) for n in E.walk(e))


def test_divisor_a_multiple_of_the_stride():
    ranges = {i: (0, 7), j: (0, 3)}
    assert simplify((i * 4 + j) // 8, ranges) == i // 2
    assert simplify((i * 4 + j) % 8, ranges) == simplify((i % 2) * 4 + j)
    # a flat NCHW index re-split at a group of planes: (c*HW + hw) // (g*HW) = c // g
    ranges = {i: (0, 135), j: (0, 27), k: (0, 27)}
    flat = i * 784 + j * 28 + k
    assert simplify(flat // 3136, ranges) == i // 4
    assert simplify(flat % 3136, ranges) == simplify((i % 4) * 784 + j * 28 + k)
    # constants split too: (i*4 + 5) // 8 = (i*4 + 4 + 1) // 8 = (i + 1) // 2
    assert simplify((i * 4 + 5) // 8, {i: (0, 7)}) == (i + 1) // 2


def test_rule_needs_the_remainder_in_range():
    # j can reach 4 = k: (i*4 + j) // 8 is not i // 2 (i=1, j=4 gives 1, not 0)
    for ranges in ({i: (0, 7), j: (0, 4)}, {i: (0, 7), j: (-1, 3)}):
        e = (i * 4 + j) // 8
        assert simplify(e, ranges) == e
        assert_same_values((i * 4 + j) % 8, simplify((i * 4 + j) % 8, ranges), ranges)
    # no ranges: nothing is assumed about j
    assert simplify((i * 4 + j) // 8) == (i * 4 + j) // 8


def test_channel_shuffle_index_becomes_affine_in_the_vector_lane():
    """The input index of a channel shuffle as the reshape chain flattens and re-splits it
    (1x136x28x28, 4 groups; fused outer loop f, 7 vector lanes v): no // or % of v is left,
    so the lanes read consecutive elements."""
    hw = (f % 4) * 7 + v + ((f // 4) % 28) * 28
    index = (((hw + (f // 112) * 784) // 3136) * 784 + ((f // 112) % 4) * 26656
             + ((f // 4) % 28) * 28 + (f % 4) * 7 + v)
    ranges = {f: (0, 15231), v: (0, 6)}
    out = simplify(index, ranges)
    assert not has_divmod_of(out, v)
    assert simplify(E.substitute(out, {v: v + 1}) - out) == c(1)
    assert_same_values(index, out, {f: (0, 900), v: (0, 6)})


def test_fused_quotients_recombine():
    # a fuse of three axes leaves (x // 4) // 3, simplified to x // 12
    assert simplify(((f // 4) % 3) * 4 + (f // 12) * 12 + f % 4) is f
    assert simplify((f // 112) * 784 + ((f // 4) % 28) * 28 + (f % 4) * 7 + v) == simplify(f * 7 + v)
    # a zero-size dim's index divides by 0: left alone, not an error
    assert simplify((f % c(0)) * 3 + f // c(0)) == (f % c(0)) * 3 + f // c(0)


def test_random_div_mod_keep_their_values():
    """Random ``(sum of a_t * t + b) // m`` and ``% m`` over small ranges, with terms
    that are variables or their own quotients and remainders: the simplified form has the
    same value everywhere, whichever rule fires."""
    rng = random.Random(0)
    for _ in range(300):
        ranges = {i: (rng.randint(-2, 1), rng.randint(2, 9)), j: (0, rng.randint(1, 7)),
                  k: (0, rng.randint(1, 5))}
        atoms = [i, j, k, j // c(rng.randint(2, 3)), k % c(rng.randint(2, 4))]
        e = c(rng.randint(-3, 9))
        for t in rng.sample(atoms, rng.randint(1, 4)):
            e = e + t * c(rng.choice([1, 2, 3, 4, 6, 8, 12]))
        m = rng.choice([2, 3, 4, 6, 8, 12, 16, 24])
        for op in ("//", "%"):
            before = E.Binary(op, e, c(m))
            assert_same_values(before, simplify(before, ranges), ranges)
