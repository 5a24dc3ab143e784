"""Index arithmetic in 32 bits where its values provably fit (for ``cuda.py``).

Loop IR computes indices in int64 (``te.expr.INDEX_DTYPE``); a GPU does 64-bit integer
multiplies in several instructions and 64-bit divisions by constants in dozens, and
index arithmetic is a large part of a memory-bound kernel.  ``narrow_indices`` rewrites
one kernel statement so that every int64 loop variable, let variable and index
expression whose values interval arithmetic bounds within int32 (from the loops'
constant bounds) is computed as int32; the values are the same, so the semantics are.
An expression with an unbounded part (a variable loaded from memory, an int64 tensor
element) stays int64, and narrowed variables in it are cast back.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..compiler.loops import ir as L
from ..compiler.te import expr as E

_LO, _HI = -2 ** 31, 2 ** 31 - 1
_INT64 = "int64"


def narrow_indices(stmt: L.Stmt) -> L.Stmt:
    """``stmt`` with its int64 index arithmetic narrowed to int32 where it fits."""
    return _Narrowing().stmt(stmt)


def _fits(r) -> bool:
    return r is not None and _LO <= r[0] and r[1] <= _HI


def _floordiv(a: int, c: int) -> int:
    return a // c


def _truncdiv(a: int, c: int) -> int:
    q = abs(a) // abs(c)
    return q if (a >= 0) == (c > 0) else -q


class _Narrowing:
    def __init__(self):
        self.ranges: dict[E.Var, tuple[int, int]] = {}
        self.narrowed: dict[E.Var, E.Var] = {}  # int64 variable -> its int32 replacement
        self.seen: set[int] = set()
        self._range_memo: dict[int, tuple] = {}
        self._narrow_memo: dict[int, tuple] = {}
        self._rewrite_memo: dict[int, tuple] = {}

    def bind(self, var: E.Var, r) -> None:
        """Record ``var``'s range (a variable bound twice, in sibling scopes, forgets
        what was derived from its first range)."""
        if id(var) in self.seen:
            self._range_memo.clear()
            self._narrow_memo.clear()
            self._rewrite_memo.clear()
        self.seen.add(id(var))
        if r is None:
            self.ranges.pop(var, None)
        else:
            self.ranges[var] = r

    # --- ranges --------------------------------------------------------------------

    def range(self, e: E.Expr):
        """(lo, hi) bounding integer ``e``, or None when unknown."""
        return _memoized(self._range_memo, e, self._range)

    def _range(self, e: E.Expr):
        if isinstance(e, E.Const):
            return (int(e.value), int(e.value)) if E.is_int(e.dtype) else None
        if isinstance(e, E.Var):
            return self.ranges.get(e)
        if isinstance(e, (E.Cast, L.Load)):
            src = e.value if isinstance(e, E.Cast) else None
            dtype = e.value.dtype if src is not None else e.buffer.dtype
            if src is not None and not E.is_int(dtype) and dtype != "bool":
                return None
            inner = self.range(src) if src is not None and E.is_int(dtype) else None
            if inner is not None:
                return inner
            if dtype == "bool":
                return (0, 1)
            if dtype not in ("int8", "int16", "int32", "uint8", "uint16"):
                return None
            info = np.iinfo(dtype)
            return int(info.min), int(info.max)
        if isinstance(e, E.Select):
            a, b = self.range(e.true_value), self.range(e.false_value)
            return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
        if isinstance(e, E.Binary) and E.is_int(e.dtype):
            return self._binary_range(e)
        return None

    def _binary_range(self, e: E.Binary):
        a, b = self.range(e.a), self.range(e.b)
        if a is None or b is None:
            return None
        op = e.op
        if op == "+":
            return a[0] + b[0], a[1] + b[1]
        if op == "-":
            return a[0] - b[1], a[1] - b[0]
        if op == "*":
            corners = [x * y for x in a for y in b]
            return min(corners), max(corners)
        if op in ("min", "max"):
            f = min if op == "min" else max
            return f(a[0], b[0]), f(a[1], b[1])
        if op in ("//", "/", "%") and b[0] == b[1] and b[0] > 0:
            c = b[0]
            if op == "%":
                return a if 0 <= a[0] and a[1] < c else (0, c - 1)
            div = _floordiv if op == "//" else _truncdiv
            return div(a[0], c), div(a[1], c)
        return None

    # --- expressions ---------------------------------------------------------------

    def narrow(self, e: E.Expr):
        """An int32 expression equal to int64 ``e``, or None."""
        hit = self._narrow_memo.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        out = self._narrow(e) if e.dtype == _INT64 and _fits(self.range(e)) else None
        self._narrow_memo[id(e)] = (e, out)
        return out

    def _narrow(self, e: E.Expr):
        if isinstance(e, E.Const):
            return E.const(int(e.value), "int32")
        if isinstance(e, E.Var):
            return self.narrowed.get(e)
        if isinstance(e, E.Binary) and e.op in ("+", "-", "*", "//", "/", "%", "min", "max"):
            a, b = self.narrow(e.a), self.narrow(e.b)
            return None if a is None or b is None else E.Binary(e.op, a, b, "int32")
        if isinstance(e, E.Select):
            t, f = self.narrow(e.true_value), self.narrow(e.false_value)
            if t is None or f is None:
                return None
            return E.Select(self.rewrite(e.cond), t, f, "int32")
        if isinstance(e, E.Cast) and E.is_int(e.value.dtype):
            src = e.value.dtype
            if src == _INT64:
                return self.narrow(e.value)
            if src in ("int8", "int16", "int32", "uint8", "uint16"):
                return E.cast("int32", self.rewrite(e.value))
        return None

    def rewrite(self, e: E.Expr) -> E.Expr:
        """``e`` (same dtype) computing its narrowable int64 parts in int32."""
        return _memoized(self._rewrite_memo, e, self._rewrite)

    def _rewrite(self, e: E.Expr) -> E.Expr:
        if isinstance(e, E.Const):
            return e
        if e.dtype == _INT64:
            small = self.narrow(e)
            if small is not None:
                return E.Cast(_INT64, small)
            if isinstance(e, E.Var):
                return e
        if isinstance(e, E.Cast) and e.value.dtype == _INT64:
            small = self.narrow(e.value)
            if small is not None:  # int32 -> dtype converts the same value
                return E.cast(e.dtype, small)
        if isinstance(e, E.Compare) and e.a.dtype == _INT64:
            a, b = self.narrow(e.a), self.narrow(e.b)
            if a is not None and b is not None:
                return E.Compare(e.op, a, b)
        if isinstance(e, L.Load):
            return L.Load(e.buffer, self.index(e.index), e.dtype)
        changes = {}
        for f in dataclasses.fields(e):
            v = getattr(e, f.name)
            if isinstance(v, E.Expr):
                changes[f.name] = self.rewrite(v)
            elif isinstance(v, tuple) and v and all(isinstance(x, E.Expr) for x in v):
                changes[f.name] = tuple(self.rewrite(x) for x in v)
        if all(changes[k] is getattr(e, k) for k in changes):
            return e
        return dataclasses.replace(e, **changes)

    def index(self, e: E.Expr) -> E.Expr:
        """A Load's or Store's index: int32 when it fits (any integer type indexes)."""
        small = self.narrow(e) if e.dtype == _INT64 else None
        return small if small is not None else self.rewrite(e)

    # --- statements ----------------------------------------------------------------

    def stmt(self, s: L.Stmt) -> L.Stmt:
        if isinstance(s, L.For):
            return self._for(s)
        if isinstance(s, L.LetStmt):
            r = self.range(s.value) if E.is_int(s.var.dtype) else None
            small = self.narrow(s.value) if s.var.dtype == _INT64 else None
            self.bind(s.var, r)
            if small is None:
                self.narrowed.pop(s.var, None)
                return L.LetStmt(s.var, self.rewrite(s.value), self.stmt(s.body))
            var = E.Var(s.var.name, "int32")
            self.narrowed[s.var] = var
            return L.LetStmt(var, small, self.stmt(s.body))
        if isinstance(s, L.Store):
            return L.Store(s.buffer, self.index(s.index), self.rewrite(s.value))
        if isinstance(s, L.IfThenElse):
            return L.IfThenElse(self.rewrite(s.cond), self.stmt(s.then_case),
                                None if s.else_case is None else self.stmt(s.else_case))
        if isinstance(s, L.Seq):
            return L.Seq(tuple(self.stmt(x) for x in s.stmts))
        if isinstance(s, L.Allocate):
            return L.Allocate(s.buffer, self.stmt(s.body))
        return s  # Barrier, ThreadAllReduce

    def _for(self, s: L.For) -> L.For:
        lo, ext = self.range(s.min), self.range(s.extent)
        r = None
        if lo is not None and ext is not None:
            r = (lo[0], lo[1] + max(ext[1], 1) - 1)
        small_min = self.narrow(s.min) if s.min.dtype == _INT64 else None
        small_ext = self.narrow(s.extent) if s.extent.dtype == _INT64 else None
        self.bind(s.var, r)
        if s.var.dtype == _INT64 and _fits(r) and small_min is not None and small_ext is not None:
            var = E.Var(s.var.name, "int32")
            self.narrowed[s.var] = var
            return L.For(var, small_min, small_ext, s.kind, self.stmt(s.body))
        self.narrowed.pop(s.var, None)
        return L.For(s.var, self.rewrite(s.min), self.rewrite(s.extent), s.kind,
                     self.stmt(s.body))


def _memoized(memo: dict, e: E.Expr, compute):
    """``compute(e)``, remembered by node identity (the node is kept in the memo so
    that its id is not reused while the memo lives)."""
    hit = memo.get(id(e))
    if hit is not None and hit[0] is e:
        return hit[1]
    out = compute(e)
    memo[id(e)] = (e, out)
    return out
