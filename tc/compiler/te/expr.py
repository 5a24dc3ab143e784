"""Scalar expressions, shared by tensor expressions (TE) and the loop IR.

All nodes are frozen dataclasses compared structurally, except ``Var`` which is
compared by identity (two loop variables named ``i`` are different variables).
Python operators build nodes: ``a + 1``, ``a * b``, ``a // 4`` (floor division),
``a % 4`` (floor modulo), ``a / b`` (true division, floats).  Comparisons use the
functions ``lt, le, gt, ge, eq, ne`` because ``==`` is structural equality.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

INDEX_DTYPE = "int64"

BINARY_OPS = ("+", "-", "*", "/", "//", "%", "min", "max", "&", "|", "^", "<<", ">>")
COMPARE_OPS = ("<", "<=", ">", ">=", "==", "!=")
LOGICAL_OPS = ("and", "or")
#: Math intrinsics a code generator must provide (element-wise, float unless noted).
INTRINSICS = ("exp", "log", "sqrt", "pow", "fabs", "floor", "ceil", "round", "tanh", "erf",
              "sin", "cos", "abs")
REDUCERS = ("sum", "max", "min", "prod")


FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def is_float(dtype: str) -> bool:
    """A standard float type (narrow formats such as bfloat16 are neither float nor int:
    expressions only move them or reinterpret their bits)."""
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


class Expr:
    """Base of every scalar expression; subclasses carry a ``dtype`` field."""

    dtype: str

    def __add__(self, o): return binary("+", self, o)
    def __radd__(self, o): return binary("+", o, self)
    def __sub__(self, o): return binary("-", self, o)
    def __rsub__(self, o): return binary("-", o, self)
    def __mul__(self, o): return binary("*", self, o)
    def __rmul__(self, o): return binary("*", o, self)
    def __truediv__(self, o): return binary("/", self, o)
    def __rtruediv__(self, o): return binary("/", o, self)
    def __floordiv__(self, o): return binary("//", self, o)
    def __rfloordiv__(self, o): return binary("//", o, self)
    def __mod__(self, o): return binary("%", self, o)
    def __rmod__(self, o): return binary("%", o, self)
    def __neg__(self): return binary("-", const(0, self.dtype), self)
    def __and__(self, o): return binary("&", self, o)
    def __or__(self, o): return binary("|", self, o)
    def __xor__(self, o): return binary("^", self, o)
    def __lshift__(self, o): return binary("<<", self, o)
    def __rshift__(self, o): return binary(">>", self, o)  # arithmetic for signed types

    def __str__(self) -> str:
        from .printer import expr_str

        return expr_str(self)


@dataclass(frozen=True, eq=False)
class Var(Expr):
    """A variable (loop index, reduction index, or let-bound value). Identity-compared."""

    name: str
    dtype: str = INDEX_DTYPE

    def __repr__(self) -> str:
        return f"Var({self.name!r})"


@dataclass(frozen=True)
class Const(Expr):
    value: Any  # int, float or bool
    dtype: str = INDEX_DTYPE


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    a: Expr
    b: Expr
    dtype: str = ""

    def __post_init__(self):
        assert self.op in BINARY_OPS, self.op
        if not self.dtype:
            object.__setattr__(self, "dtype", self.a.dtype)


@dataclass(frozen=True)
class Compare(Expr):
    op: str
    a: Expr
    b: Expr
    dtype: str = "bool"


@dataclass(frozen=True)
class Logical(Expr):
    op: str  # "and" | "or"
    a: Expr
    b: Expr
    dtype: str = "bool"


@dataclass(frozen=True)
class Not(Expr):
    a: Expr
    dtype: str = "bool"


@dataclass(frozen=True)
class Select(Expr):
    """``true_value if cond else false_value`` (both sides may be evaluated)."""

    cond: Expr
    true_value: Expr
    false_value: Expr
    dtype: str = ""

    def __post_init__(self):
        if not self.dtype:
            object.__setattr__(self, "dtype", self.true_value.dtype)


@dataclass(frozen=True)
class Cast(Expr):
    dtype: str
    value: Expr


@dataclass(frozen=True)
class Reinterpret(Expr):
    """The bits of ``value`` read as ``dtype`` (same width; e.g. float32 <-> uint32, or a
    narrow type such as float8_e4m3fn <-> its uint8 storage)."""

    dtype: str
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    """A math intrinsic from ``INTRINSICS`` applied element-wise."""

    name: str
    args: tuple[Expr, ...]
    dtype: str = ""

    def __post_init__(self):
        assert self.name in INTRINSICS, self.name
        object.__setattr__(self, "args", tuple(self.args))
        if not self.dtype:
            object.__setattr__(self, "dtype", self.args[0].dtype)


@dataclass(frozen=True)
class TensorRead(Expr):
    """``tensor[indices]`` inside a TE compute body (TE only; lowering turns it into Load)."""

    tensor: Any  # te.tensor.Tensor
    indices: tuple[Expr, ...]
    dtype: str = ""

    def __post_init__(self):
        object.__setattr__(self, "indices", tuple(as_expr(i) for i in self.indices))
        if not self.dtype:
            object.__setattr__(self, "dtype", self.tensor.dtype)


@dataclass(frozen=True)
class Reduce(Expr):
    """A reduction of ``source`` over ``axes`` (IterVars of kind "reduce") with ``combiner``.

    Only allowed as the whole body of a compute. ``init`` is the identity value.
    """

    combiner: str
    source: Expr
    axes: tuple[Any, ...]  # te.tensor.IterVar
    init: Expr
    dtype: str = ""

    def __post_init__(self):
        assert self.combiner in REDUCERS, self.combiner
        object.__setattr__(self, "axes", tuple(self.axes))
        if not self.dtype:
            object.__setattr__(self, "dtype", self.source.dtype)


# --- construction helpers -------------------------------------------------------------

def const(value, dtype: str | None = None) -> Const:
    """A constant; dtype defaults to int64 for ints, float32 for floats, bool for bools."""
    if dtype is None:
        dtype = "bool" if isinstance(value, bool) else INDEX_DTYPE if isinstance(value, int) else "float32"
    if dtype == "bool":
        value = bool(value)
    elif is_float(dtype):
        value = float(value)
    else:
        value = int(value)
    return Const(value, dtype)


def as_expr(x, dtype: str | None = None) -> Expr:
    if isinstance(x, Expr):
        return x
    return const(x, dtype)


def binary(op: str, a, b) -> Expr:
    """Build ``a op b``; a Python number takes the dtype of the other side."""
    if not isinstance(a, Expr):
        a = const(a, b.dtype)
    if not isinstance(b, Expr):
        b = const(b, a.dtype)
    if a.dtype != b.dtype:
        raise TypeError(f"dtype mismatch in {op}: {a.dtype} vs {b.dtype}; insert a cast")
    return Binary(op, a, b)


def _cmp(op):
    def f(a, b) -> Compare:
        if not isinstance(a, Expr):
            a = const(a, b.dtype)
        if not isinstance(b, Expr):
            b = const(b, a.dtype)
        return Compare(op, a, b)
    f.__name__ = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}[op]
    return f


lt, le, gt, ge, eq, ne = (_cmp(o) for o in COMPARE_OPS)


def minimum(a, b) -> Expr:
    return binary("min", a, b)


def maximum(a, b) -> Expr:
    return binary("max", a, b)


def logical_and(*conds) -> Expr:
    out = conds[0]
    for c in conds[1:]:
        out = Logical("and", out, c)
    return out


def logical_or(*conds) -> Expr:
    out = conds[0]
    for c in conds[1:]:
        out = Logical("or", out, c)
    return out


def select(cond, t, f) -> Select:
    t = as_expr(t, f.dtype if isinstance(f, Expr) else None)
    f = as_expr(f, t.dtype)
    return Select(cond, t, f)


def cast(dtype: str, x) -> Expr:
    x = as_expr(x)
    return x if x.dtype == dtype else Cast(dtype, x)


def reinterpret(dtype: str, x: Expr) -> Expr:
    """``x``'s bits as ``dtype``; both must have the same size in memory.  A bool's byte
    is 0 or 1, so to or from bool the value conversion is the bits (bool is a 1-bit
    register value, which no bitcast reaches)."""
    if x.dtype == dtype:
        return x
    if np.dtype(x.dtype).itemsize != np.dtype(dtype).itemsize:
        raise TypeError(f"cannot reinterpret {x.dtype} as {dtype}: sizes differ")
    if "bool" in (x.dtype, dtype):
        return cast(dtype, x)
    return Reinterpret(dtype, x)


def call(name: str, *args) -> Call:
    return Call(name, tuple(as_expr(a) for a in args))


# --- generic traversal ----------------------------------------------------------------

def _is_node(x) -> bool:
    from ..loops.ir import Stmt  # loop IR statements are traversed the same way

    return isinstance(x, (Expr, Stmt))


def map_children(node, fn: Callable):
    """Rebuild ``node`` with ``fn`` applied to each child Expr/Stmt (tuples included).

    Non-IR fields (buffers, tensors, iter vars, strings) are left alone.  Returns
    ``node`` itself when no child changed.
    """
    if not dataclasses.is_dataclass(node) or isinstance(node, Var):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        if _is_node(v):
            nv = fn(v)
        elif isinstance(v, tuple) and v and any(_is_node(x) for x in v):
            nv = tuple(fn(x) if _is_node(x) else x for x in v)
        else:
            continue
        if nv is not v and nv != v:
            changes[f.name] = nv
    return dataclasses.replace(node, **changes) if changes else node


def children(node) -> list:
    """The child Expr/Stmt nodes of ``node`` in field order."""
    out = []
    if not dataclasses.is_dataclass(node) or isinstance(node, Var):
        return out
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        if _is_node(v):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(x for x in v if _is_node(x))
    return out


def post_order_rewrite(node, fn: Callable, _memo: dict | None = None):
    """Rewrite bottom-up: children first, then ``fn`` on the rebuilt node.

    A subexpression shared by several parents (inlining makes DAGs) is rewritten once:
    results are memoized by node identity for the duration of the call.
    """
    memo = {} if _memo is None else _memo
    hit = memo.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    out = fn(map_children(node, lambda c: post_order_rewrite(c, fn, memo)))
    memo[id(node)] = (node, out)  # the node is kept alive, so its id stays unique
    return out


def walk(node):
    """Yield ``node`` and every descendant Expr/Stmt, pre-order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def substitute(node, mapping: dict):
    """Replace Vars (by identity) per ``mapping`` (Var -> Expr) throughout ``node``."""
    if not mapping:
        return node

    def fn(n):
        return mapping.get(n, n) if isinstance(n, Var) else n

    return post_order_rewrite(node, fn)
