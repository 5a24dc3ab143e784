"""What a stage computes once the stages marked ``compute_inline`` are substituted."""
from __future__ import annotations

from ..te import expr as E
from .schedule import Schedule, Stage


def inline_expand(sch: Schedule, st: Stage, cache: dict | None = None) -> E.Expr:
    """``st``'s body with every read of an inlined stage replaced by that stage's body
    (index-substituted), recursively, and reads of a tensor ``st`` has a ``cache_read``
    copy of redirected to the copy.  ``cache`` (id(tensor) -> Expr) may be shared."""
    cache = {} if cache is None else cache
    key = id(st.tensor)
    if key not in cache:
        def fn(n):
            if isinstance(n, E.TensorRead):
                if id(n.tensor) in st.read_redirects:  # a copy of an inlined stage
                    return E.TensorRead(st.read_redirects[id(n.tensor)], n.indices)
                prod = sch.stage_of(n.tensor)
                if prod is not None and prod.attach == "inline":
                    body = inline_expand(sch, prod, cache)
                    return E.substitute(body, {a.var: i for a, i in zip(prod.op.axes, n.indices)})
            return n
        body = E.post_order_rewrite(st.op.body, fn)
        if st.read_redirects:
            def redirect(n):
                if isinstance(n, E.TensorRead) and id(n.tensor) in st.read_redirects:
                    return E.TensorRead(st.read_redirects[id(n.tensor)], n.indices)
                return n
            body = E.post_order_rewrite(body, redirect)
        cache[key] = body
    return cache[key]


def effective_reads(sch: Schedule, st: Stage, cache: dict | None = None) -> list:
    """The tensors ``st`` reads once inlined stages are substituted, in first-read order."""
    seen: dict = {}
    for n in E.walk(inline_expand(sch, st, cache)):
        if isinstance(n, E.TensorRead):
            seen.setdefault(id(n.tensor), n.tensor)
    return list(seen.values())


def stage_readers(sch: Schedule, cache: dict | None = None) -> dict[int, list[Stage]]:
    """id(tensor) -> the stages (not inlined) that read it once inlining is applied."""
    readers: dict[int, list[Stage]] = {}
    for st in sch.stages:
        if st.attach != "inline":
            for t in effective_reads(sch, st, cache):
                readers.setdefault(id(t), []).append(st)
    return readers
