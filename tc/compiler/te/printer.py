"""Readable text for scalar expressions."""
from __future__ import annotations

from . import expr as E


def expr_str(e) -> str:
    if isinstance(e, E.Var):
        return e.name
    if isinstance(e, E.Const):
        if e.dtype in ("int64", "float32", "bool"):
            return repr(e.value)
        return f"{e.dtype}({e.value!r})"
    if isinstance(e, E.Binary):
        if e.op in ("min", "max"):
            return f"{e.op}({expr_str(e.a)}, {expr_str(e.b)})"
        return f"({expr_str(e.a)} {e.op} {expr_str(e.b)})"
    if isinstance(e, (E.Compare, E.Logical)):
        return f"({expr_str(e.a)} {e.op} {expr_str(e.b)})"
    if isinstance(e, E.Not):
        return f"!{expr_str(e.a)}"
    if isinstance(e, E.Select):
        return f"select({expr_str(e.cond)}, {expr_str(e.true_value)}, {expr_str(e.false_value)})"
    if isinstance(e, E.Cast):
        return f"{e.dtype}({expr_str(e.value)})"
    if isinstance(e, E.Reinterpret):
        return f"reinterpret<{e.dtype}>({expr_str(e.value)})"
    if isinstance(e, E.Call):
        return f"{e.name}({', '.join(expr_str(a) for a in e.args)})"
    if isinstance(e, E.TensorRead):
        return f"{e.tensor.name}[{', '.join(expr_str(i) for i in e.indices)}]"
    if isinstance(e, E.Reduce):
        axes = ", ".join(f"{a.var.name}:{a.extent}" for a in e.axes)
        return f"{e.combiner}({expr_str(e.source)}, axis=[{axes}])"
    # loop-IR expressions print themselves
    return e.to_text() if hasattr(e, "to_text") else repr(e)
