"""Algebraic simplification of scalar expressions and loop-IR statements.

``simplify(node)`` folds constants, removes identities (``x + 0``, ``x * 1``, integer
``x * 0``), puts integer sums in a canonical linear form (which merges nested constant
additions and ``(a * c1) * c2`` and cancels terms), recombines ``(x // c) * c + x % c``
into ``x`` (what split and fuse produce), and uses loop ranges to drop floor divisions,
modulos and guards whose outcome the ranges decide.  Divisions and modulos by a multiple
of a stride split there too: ``(x*k + y) // (k*m)`` is ``x // m`` and ``(x*k + y) %
(k*m)`` is ``(x % m)*k + y`` when the ranges prove ``0 <= y < k`` (a reshape's flat index
re-split at a coarser dim).  On statements it also removes loops of extent 1
(substituting the variable), flattens sequences and resolves constant conditions.
"""
from __future__ import annotations

import math

import numpy as np

from ..te import expr as E
from . import ir as L
from .bounds import const_bound

_PY_BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "min": min, "max": max, "&": lambda a, b: a & b, "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b, "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b,
}
_PY_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
               ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def simplify(node, ranges: dict | None = None):
    """Simplify an Expr or a Stmt (or a PrimFunc's body); ``ranges`` maps Var -> (lo, hi)."""
    ranges = dict(ranges or {})
    if isinstance(node, L.PrimFunc):
        import dataclasses

        return dataclasses.replace(node, body=simplify_stmt(node.body, ranges))
    if isinstance(node, L.Stmt):
        return simplify_stmt(node, ranges)
    return simplify_expr(node, ranges)


# --- expressions ----------------------------------------------------------------------

def simplify_expr(e: E.Expr, ranges: dict | None = None) -> E.Expr:
    """Simplify ``e`` bottom-up; ``ranges`` (Var -> inclusive (lo, hi)) enables bound rules."""
    ranges = ranges or {}
    return E.post_order_rewrite(e, lambda n: _rewrite(n, ranges))


def _is_const(e, value=None) -> bool:
    return isinstance(e, E.Const) and (value is None or e.value == value)


def _fold(dtype: str, value):
    if dtype == "bool":
        return E.Const(bool(value), "bool")
    if E.is_int(dtype):
        info = np.iinfo(dtype)
        v = int(value)
        if not info.min <= v <= info.max:
            return None  # overflow: leave it to the target's semantics
        return E.Const(v, dtype)
    return E.Const(float(np.dtype(dtype).type(value)), dtype)


def _rewrite(n, ranges):
    if isinstance(n, E.Binary):
        return _rewrite_binary(n, ranges)
    if isinstance(n, E.Compare):
        return _rewrite_compare(n, ranges)
    if isinstance(n, E.Logical):
        a, b = n.a, n.b
        if _is_const(a) and _is_const(b):
            return E.Const(bool(a.value and b.value) if n.op == "and" else bool(a.value or b.value), "bool")
        for x, y in ((a, b), (b, a)):
            if _is_const(x):
                if n.op == "and":
                    return y if x.value else E.Const(False, "bool")
                return E.Const(True, "bool") if x.value else y
        return n
    if isinstance(n, E.Not):
        if _is_const(n.a):
            return E.Const(not n.a.value, "bool")
        if isinstance(n.a, E.Not):
            return n.a.a
        return n
    if isinstance(n, E.Select):
        if _is_const(n.cond):
            return n.true_value if n.cond.value else n.false_value
        if n.true_value == n.false_value and not isinstance(n.true_value, E.Var):
            return n.true_value
        return n
    if isinstance(n, E.Cast):
        if n.value.dtype == n.dtype:
            return n.value
        if _is_const(n.value):
            v = n.value.value
            if E.is_int(n.dtype) and isinstance(v, float):
                if not math.isfinite(v):
                    return n
                v = int(v)  # C-style truncation toward zero
            folded = _fold(n.dtype, v)
            return folded if folded is not None else n
        return n
    return n


def _rewrite_binary(n: E.Binary, ranges) -> E.Expr:
    a, b, op, dt = n.a, n.b, n.op, n.dtype
    if _is_const(a) and _is_const(b):
        folded = _fold_binary(op, a.value, b.value, dt)
        if folded is not None:
            return folded
    is_int = E.is_int(dt)
    if op == "+":
        if _is_const(b, 0):
            return a
        if _is_const(a, 0):
            return b
    elif op == "-":
        if _is_const(b, 0):
            return a
    elif op == "*":
        if _is_const(b, 1):
            return a
        if _is_const(a, 1):
            return b
        if is_int and (_is_const(a, 0) or _is_const(b, 0)):
            return E.Const(0, dt)
    elif op == "/" and _is_const(b, 1):
        return a
    if not is_int:
        return n
    if op in ("+", "-", "*"):
        return _from_linear(*_linear(n), dt)
    if op in ("//", "%") and _is_const(b) and b.value > 0:
        return _rewrite_divmod(op, a, b.value, dt, ranges)
    if op in ("min", "max"):
        lo, hi = const_bound(_from_linear(*_linear(E.Binary("-", a, b)), dt), ranges)
        if hi <= 0:  # a <= b
            return a if op == "min" else b
        if lo >= 0:  # a >= b
            return b if op == "min" else a
    return n


def _fold_binary(op, x, y, dt):
    if E.is_int(dt) or dt == "bool":
        if op in ("//", "%"):
            if y == 0:
                return None
            return _fold(dt, x // y if op == "//" else x % y)
        if op == "/":
            return None
        return _fold(dt, _PY_BINARY[op](x, y))
    t = np.dtype(dt).type
    with np.errstate(all="ignore"):
        if op == "/":
            return _fold(dt, t(x) / t(y))
        if op in ("+", "-", "*", "min", "max"):
            return _fold(dt, _PY_BINARY[op](t(x), t(y)))
    return None


def _linear(e: E.Expr) -> tuple[dict, int]:
    """``e`` as ({term: coeff}, constant) over non-linear integer terms."""
    if isinstance(e, E.Const) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return {}, e.value
    if isinstance(e, E.Binary) and e.op in ("+", "-"):
        ta, ca = _linear(e.a)
        tb, cb = _linear(e.b)
        s = 1 if e.op == "+" else -1
        out = dict(ta)
        for t, c in tb.items():
            out[t] = out.get(t, 0) + s * c
        return out, ca + s * cb
    if isinstance(e, E.Binary) and e.op == "*":
        for x, y in ((e.a, e.b), (e.b, e.a)):
            if isinstance(y, E.Const) and isinstance(y.value, int):
                t, c = _linear(x)
                return {k: v * y.value for k, v in t.items()}, c * y.value
    return {e: 1}, 0


def _recombine(terms: dict) -> dict:
    """Fold ``(x // c) * (k*c) + (x % c) * k`` into ``x * k`` until nothing changes; the
    quotient may be written ``x // c`` or simplified (``(y // d) // c`` is ``y // (d*c)``,
    what fusing three or more axes leaves)."""
    changed = True
    while changed:
        changed = False
        for t, k in list(terms.items()):
            if not (isinstance(t, E.Binary) and t.op == "%" and _is_const(t.b) and k != 0):
                continue
            c = t.b.value
            forms = [E.Binary("//", t.a, t.b)]
            if c > 0:
                forms.append(_rewrite_divmod("//", t.a, c, t.dtype, {}))
            q = next((q for q in forms if terms.get(q) == k * c), None)
            if q is not None:
                del terms[t], terms[q]
                sub, const = _linear(t.a)
                for s, v in sub.items():
                    terms[s] = terms.get(s, 0) + v * k
                terms[None] = terms.get(None, 0) + const * k
                changed = True
                break
    return terms


def _from_linear(terms: dict, const: int, dt: str) -> E.Expr:
    terms = dict(terms)
    terms[None] = const
    terms = _recombine(terms)
    const = terms.pop(None)
    out = None
    for t, c in terms.items():
        if c == 0:
            continue
        if out is None:
            out = t if c == 1 else E.Binary("*", t, E.Const(c, dt))
            continue
        mag = t if abs(c) == 1 else E.Binary("*", t, E.Const(abs(c), dt))
        out = E.Binary("+" if c > 0 else "-", out, mag)
    if out is None:
        return E.Const(const, dt)
    if const > 0:
        out = E.Binary("+", out, E.Const(const, dt))
    elif const < 0:
        out = E.Binary("-", out, E.Const(-const, dt))
    return out


def _rewrite_divmod(op: str, a: E.Expr, c: int, dt: str, ranges) -> E.Expr:
    if c == 1:
        return a if op == "//" else E.Const(0, dt)
    if op == "//" and isinstance(a, E.Binary) and a.op == "//" and _is_const(a.b) and a.b.value > 0:
        return _rewrite_divmod("//", a.a, a.b.value * c, dt, ranges)
    if op == "%" and isinstance(a, E.Binary) and a.op == "%" and _is_const(a.b) \
            and a.b.value > 0 and a.b.value % c == 0:
        return _rewrite_divmod("%", a.a, c, dt, ranges)
    terms, const = _linear(a)
    for k in _divisor_candidates(terms, c):
        split = _split_multiple(terms, const, k, dt, ranges)
        if split is None:
            continue
        (quot, q_const), rest = split
        if k == c:
            return rest if op == "%" else _from_linear(quot, q_const, dt)
        # a = x*k + y with 0 <= y < k and c = k*m: a // c = x // m, a % c = (x % m)*k + y
        x = _from_linear(quot, q_const, dt)
        if op == "//":
            return _rewrite_divmod("//", x, c // k, dt, ranges)
        x_mod, x_const = _linear(_rewrite_divmod("%", x, c // k, dt, ranges))
        y_terms, y_const = _linear(rest)
        out = {t: v * k for t, v in x_mod.items()}
        for t, v in y_terms.items():
            out[t] = out.get(t, 0) + v
        return _from_linear(out, x_const * k + y_const, dt)
    if op == "%":
        quot = {t: v for t, v in terms.items() if v % c == 0}
        if quot or const // c:
            rest = {t: v for t, v in terms.items() if v % c != 0}
            return E.Binary("%", _from_linear(rest, const % c, dt), E.Const(c, dt))
    return E.Binary(op, a, E.Const(c, dt))


def _divisor_candidates(terms: dict, c: int) -> list[int]:
    """The divisors ``k > 1`` of ``c`` worth trying to split ``a = x*k + y`` at, largest
    first: ``c`` itself and each term's ``gcd(coefficient, c)``."""
    return sorted({c} | {math.gcd(v, c) for v in terms.values()} - {1}, reverse=True)


def _split_multiple(terms: dict, const: int, k: int, dt: str, ranges):
    """Split the linear form ``terms + const`` into ``x*k + y`` with ``0 <= y < k`` proved
    by ``ranges``: ((x's terms, x's constant), y as an Expr), or None when the rest's
    bounds do not fit."""
    quot = {t: v // k for t, v in terms.items() if v % k == 0}
    rest = {t: v for t, v in terms.items() if v % k != 0}
    q_const, r_const = divmod(const, k)
    r = _from_linear(rest, r_const, dt)
    lo, hi = const_bound(r, ranges)
    if 0 <= lo and hi < k:
        return (quot, q_const), r
    return None


def _rewrite_compare(n: E.Compare, ranges) -> E.Expr:
    a, b = n.a, n.b
    if _is_const(a) and _is_const(b):
        return E.Const(bool(_PY_COMPARE[n.op](a.value, b.value)), "bool")
    if not E.is_int(a.dtype):
        return n
    # x < min(p, q)  <=>  x < p and x < q (and the mirror images), so each part can be proved
    split = None
    if n.op in ("<", "<=") and isinstance(b, E.Binary) and b.op == "min":
        split = (E.Compare(n.op, a, b.a), E.Compare(n.op, a, b.b))
    elif n.op in ("<", "<=") and isinstance(a, E.Binary) and a.op == "max":
        split = (E.Compare(n.op, a.a, b), E.Compare(n.op, a.b, b))
    elif n.op in (">", ">=") and isinstance(b, E.Binary) and b.op == "max":
        split = (E.Compare(n.op, a, b.a), E.Compare(n.op, a, b.b))
    elif n.op in (">", ">=") and isinstance(a, E.Binary) and a.op == "min":
        split = (E.Compare(n.op, a.a, b), E.Compare(n.op, a.b, b))
    if split is not None:
        return _rewrite(E.Logical("and", _rewrite_compare(split[0], ranges),
                                  _rewrite_compare(split[1], ranges)), ranges)
    lo, hi = const_bound(simplify_expr(E.Binary("-", a, b), ranges), ranges)
    verdict = {"<": (hi < 0, lo >= 0), "<=": (hi <= 0, lo > 0), ">": (lo > 0, hi <= 0),
               ">=": (lo >= 0, hi < 0), "==": (lo == hi == 0, lo > 0 or hi < 0),
               "!=": (lo > 0 or hi < 0, lo == hi == 0)}[n.op]
    if verdict[0]:
        return E.Const(True, "bool")
    if verdict[1]:
        return E.Const(False, "bool")
    return n


# --- statements -----------------------------------------------------------------------

_EMPTY = L.Seq(())


def _is_empty(s) -> bool:
    return isinstance(s, L.Seq) and not s.stmts


def simplify_stmt(s: L.Stmt, ranges: dict | None = None) -> L.Stmt:
    """Simplify a statement tree; loop variables' ranges are tracked on the way down."""
    ranges = ranges if ranges is not None else {}
    if isinstance(s, L.For):
        mn = simplify_expr(s.min, ranges)
        ext = simplify_expr(s.extent, ranges)
        if _is_const(ext) and ext.value <= 0:
            return _EMPTY
        if _is_const(ext, 1):
            return simplify_stmt(E.substitute(s.body, {s.var: mn}), ranges)
        lo, _ = const_bound(mn, ranges)
        _, hi_min = const_bound(mn, ranges)
        _, ext_hi = const_bound(ext, ranges)
        inner = dict(ranges)
        inner[s.var] = (lo, hi_min + ext_hi - 1)
        body = simplify_stmt(s.body, inner)
        if _is_empty(body):
            return _EMPTY
        return L.For(s.var, mn, ext, s.kind, body)
    if isinstance(s, L.Seq):
        out = []
        for x in s.stmts:
            x = simplify_stmt(x, ranges)
            if isinstance(x, L.Seq):
                out.extend(x.stmts)
            else:
                out.append(x)
        return out[0] if len(out) == 1 else L.Seq(tuple(out))
    if isinstance(s, L.IfThenElse):
        cond = simplify_expr(s.cond, ranges)
        if _is_const(cond):
            branch = s.then_case if cond.value else s.else_case
            return _EMPTY if branch is None else simplify_stmt(branch, ranges)
        then = simplify_stmt(s.then_case, ranges)
        els = None if s.else_case is None else simplify_stmt(s.else_case, ranges)
        if els is not None and _is_empty(els):
            els = None
        if _is_empty(then) and els is None:
            return _EMPTY
        return L.IfThenElse(cond, then, els)
    if isinstance(s, L.Store):
        return L.Store(s.buffer, simplify_expr(s.index, ranges), simplify_expr(s.value, ranges))
    if isinstance(s, L.LetStmt):
        value = simplify_expr(s.value, ranges)
        if isinstance(value, (E.Const, E.Var)):
            return simplify_stmt(E.substitute(s.body, {s.var: value}), ranges)
        inner = dict(ranges)
        if E.is_int(value.dtype):
            inner[s.var] = const_bound(value, ranges)
        return L.LetStmt(s.var, value, simplify_stmt(s.body, inner))
    if isinstance(s, L.Allocate):
        body = simplify_stmt(s.body, ranges)
        return body if _is_empty(body) else L.Allocate(s.buffer, body)
    return s
