"""Interval analysis of integer index expressions over loop-variable ranges.

``const_bound`` gives numeric bounds (for proving guards and picking buffer sizes);
``symbolic_bound`` gives bounds as expressions of the variables held fixed (for the
region a ``compute_at`` producer must cover in one consumer iteration).
"""
from __future__ import annotations

import math

from ..te import expr as E

Interval = tuple  # (lo, hi), inclusive


def const_bound(e: E.Expr, ranges: dict) -> tuple[float, float]:
    """Inclusive numeric bounds of integer ``e``; ``ranges`` maps Var -> (lo, hi) ints.

    Unknown parts give ``-inf``/``inf``.
    """
    inf = math.inf
    if isinstance(e, E.Const):
        if isinstance(e.value, (int, bool)):
            return (int(e.value), int(e.value))
        return (-inf, inf)
    if isinstance(e, E.Var):
        return ranges.get(e, (-inf, inf))
    if isinstance(e, E.Cast) and E.is_int(e.dtype) and E.is_int(e.value.dtype):
        return const_bound(e.value, ranges)
    if isinstance(e, E.Select):
        a, b = const_bound(e.true_value, ranges), const_bound(e.false_value, ranges)
        return (min(a[0], b[0]), max(a[1], b[1]))
    if not isinstance(e, E.Binary) or not E.is_int(e.dtype):
        return (-inf, inf)
    a = const_bound(e.a, ranges)
    b = const_bound(e.b, ranges)
    if e.op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if e.op == "-":
        return (a[0] - b[1], a[1] - b[0])
    if e.op == "*":
        prods = [_mul(x, y) for x in a for y in b]
        return (min(prods), max(prods))
    if e.op == "min":
        return (min(a[0], b[0]), min(a[1], b[1]))
    if e.op == "max":
        return (max(a[0], b[0]), max(a[1], b[1]))
    if e.op in ("//", "%") and b[0] == b[1] and b[0] > 0:
        c = b[0]
        if e.op == "//":
            return (_floordiv(a[0], c), _floordiv(a[1], c))
        if a[0] >= 0 and a[1] < c:
            return a
        if math.isfinite(a[0]) and math.isfinite(a[1]) and a[0] // c == a[1] // c:
            return (a[0] % c, a[1] % c)
        return (0, c - 1)
    return (-inf, inf)


def _mul(x, y):
    if x == 0 or y == 0:
        return 0
    return x * y


def _floordiv(x, c):
    return x if math.isinf(x) else x // c


def symbolic_bound(e: E.Expr, ranges: dict) -> Interval | None:
    """Inclusive bounds of ``e`` as Exprs; ``ranges`` maps the varying Vars to (lo, hi)
    Expr pairs, every other Var is held fixed.  None when the shape of ``e`` is beyond
    this analysis (the caller then falls back to a whole-dimension range)."""
    if not any(isinstance(n, E.Var) and n in ranges for n in E.walk(e)):
        return (e, e)
    if isinstance(e, E.Var):
        return ranges[e]
    if not isinstance(e, E.Binary):
        return None
    a = symbolic_bound(e.a, ranges)
    b = symbolic_bound(e.b, ranges)
    if a is None or b is None:
        return None
    if e.op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if e.op == "-":
        return (a[0] - b[1], a[1] - b[0])
    if e.op in ("min", "max"):
        f = E.minimum if e.op == "min" else E.maximum
        return (f(a[0], b[0]), f(a[1], b[1]))
    const_b = isinstance(e.b, E.Const) and isinstance(e.b.value, int)
    const_a = isinstance(e.a, E.Const) and isinstance(e.a.value, int)
    if e.op == "*" and (const_a or const_b):
        c, x = (e.b.value, a) if const_b else (e.a.value, b)
        return (x[0] * c, x[1] * c) if c >= 0 else (x[1] * c, x[0] * c)
    if e.op == "//" and const_b and e.b.value > 0:
        return (a[0] // e.b.value, a[1] // e.b.value)
    if e.op == "%" and const_b and e.b.value > 0:
        return (E.const(0, e.dtype), E.const(e.b.value - 1, e.dtype))
    return None
