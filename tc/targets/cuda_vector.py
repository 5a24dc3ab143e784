"""Vectorized loops as float4 / float2 accesses in CUDA (for ``cuda_kernel``).

A "vectorized" loop of 4 (or 2) iterations whose body is one Store becomes one float4
(float2) load per float32 buffer it reads as a contiguous run, and one float4 store
when it writes one, where the run's first index is provably a multiple of 4 (2)::

    for v in range(4):  # vectorized
      S[base + v] = A[base2 + v] * 2

    const float4 A_v = *(const float4 *)(A + base2);
    float4 S_v; S_v.x = A_v.x * 2.0f; ...; S_v.w = A_v.w * 2.0f;
    *(float4 *)(S + base) = S_v;

Shared buffers are declared 16-byte aligned; a global buffer's pointer (a parameter,
possibly a caller's device array) is tested at run time: the vector code runs when every
such pointer is aligned, the plain unrolled loop otherwise (a branch every thread of the
block takes the same way).  Other vectorized loops stay unrolled loops.
"""
from __future__ import annotations

import math

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from .c import FunctionEmitter, _unique_nodes
from .c_helpers import int_literal

_LANES = "xyzw"
_NONE = 1 << 40  # what a zero is a multiple of, for gcd


def emit_vector_loop(em, s: L.For) -> bool:
    """Emit vectorized loop ``s`` with vector accesses through ``em`` (a KernelEmitter);
    False, emitting nothing, when it has none to make."""
    if not (isinstance(s.min, E.Const) and s.min.value == 0 and isinstance(s.extent, E.Const)
            and s.extent.value in (2, 4) and isinstance(s.body, L.Store)):
        return False
    width, store = int(s.extent.value), s.body
    runs = {}  # Load -> its run's first index
    for n in _unique_nodes(store.value):
        if isinstance(n, L.Load):
            base = _run_start(em, n.buffer, n.index, s.var, width)
            if base is not None:
                runs[n] = base
    store_base = _run_start(em, store.buffer, store.index, s.var, width)
    if not runs and store_base is None:
        return False
    buffers = {n.buffer for n in runs} | ({store.buffer} if store_base is not None else set())
    checked = sorted(em.ex.buffer(b) for b in buffers if b.scope != L.SHARED)
    if checked:
        mask = 4 * width - 1
        cond = " && ".join(f"((uintptr_t){name} & {mask}u) == 0u" for name in checked)
        em.line(f"if ({cond}) {{ /* float{width} accesses */")
        em.depth += 1
    else:
        em.line(f"{{ /* float{width} accesses */")
        em.depth += 1
    _vector_body(em, s, width, runs, store_base)
    em.depth -= 1
    if checked:
        em.line("} else { /* a pointer is not aligned: one element at a time */")
        em.depth += 1
        FunctionEmitter._stmt_For(em, s)
        em.depth -= 1
    em.line("}")
    return True


def _vector_body(em, s: L.For, width: int, runs: dict, store_base) -> None:
    vtype = f"float{width}"
    names = {}
    for load, base in runs.items():
        name = em.fresh(f"{load.buffer.name}_v")
        with em.hoisted([base]):
            start = em.ex.expr(base).text
        em.line(f"const {vtype} {name} = *(const {vtype} *)({em.ex.buffer(load.buffer)} + "
                f"{start});")
        names[id(load)] = name
    store = s.body
    out = em.fresh(f"{store.buffer.name}_v") if store_base is not None else None
    if out:
        em.line(f"{vtype} {out};")
    em.ex.nonneg_vars.add(s.var)
    for lane in range(width):
        for key, name in names.items():
            em.ex.temps[key] = f"{name}.{_LANES[lane]}"
        with em.bound(s.var, int_literal(lane, s.var.dtype)):
            if out:
                with em.hoisted([store.value]):
                    em.line(f"{out}.{_LANES[lane]} = {em.ex.expr(store.value).text};")
            else:
                em.stmt(store)
    for key in names:
        em.ex.temps.pop(key, None)
    if out:
        with em.hoisted([store_base]):
            start = em.ex.expr(store_base).text
        em.line(f"*({vtype} *)({em.ex.buffer(store.buffer)} + {start}) = {out};")


def _run_start(em, buf: L.Buffer, index: E.Expr, var: E.Var, width: int):
    """The first index of the run ``buf[index]`` covers as ``var`` goes 0..width-1, when
    it is contiguous, of float32, in memory that can be aligned (shared or global) and
    starts at a multiple of ``width``; else None."""
    if buf.dtype != "float32" or buf in em.private:
        return None
    terms = _terms(index)
    bare = [t for t in terms if t is var]
    rest = [t for t in terms if t is not var]
    if len(bare) != 1 or any(_mentions(t, var) for t in rest):
        return None
    base = rest[0] if rest else E.const(0, index.dtype)
    for t in rest[1:]:
        base = E.Binary("+", base, t)
    return base if _multiple_of(base) % width == 0 else None


def _terms(e: E.Expr) -> list[E.Expr]:
    if isinstance(e, E.Binary) and e.op == "+":
        return _terms(e.a) + _terms(e.b)
    return [e]


def _mentions(e: E.Expr, var: E.Var) -> bool:
    return any(n is var for n in _unique_nodes(e))


def _multiple_of(e: E.Expr) -> int:
    """A positive integer ``e`` is provably a multiple of (1 when nothing is known)."""
    if isinstance(e, E.Const) and E.is_int(e.dtype):
        return abs(int(e.value)) or _NONE
    if isinstance(e, E.Binary) and e.op in ("+", "-"):
        return math.gcd(_multiple_of(e.a), _multiple_of(e.b))
    if isinstance(e, E.Binary) and e.op == "*":
        return min(_multiple_of(e.a) * _multiple_of(e.b), _NONE)
    return 1
