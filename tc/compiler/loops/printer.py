"""Readable text for the loop IR."""
from __future__ import annotations

from . import ir as L


def stmt_str(s, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(s, L.For):
        head = f"{pad}for {s.var.name} in range({s.min}, {s.min} + {s.extent})"
        kind = "" if s.kind == L.SERIAL else f"  # {s.kind}"
        return f"{head}:{kind}\n{stmt_str(s.body, indent + 1)}"
    if isinstance(s, L.Seq):
        return "\n".join(stmt_str(x, indent) for x in s.stmts) or f"{pad}pass"
    if isinstance(s, L.Store):
        return f"{pad}{s.buffer.name}[{s.index}] = {s.value}"
    if isinstance(s, L.IfThenElse):
        out = f"{pad}if {s.cond}:\n{stmt_str(s.then_case, indent + 1)}"
        if s.else_case is not None:
            out += f"\n{pad}else:\n{stmt_str(s.else_case, indent + 1)}"
        return out
    if isinstance(s, L.LetStmt):
        return f"{pad}{s.var.name} = {s.value}\n{stmt_str(s.body, indent)}"
    if isinstance(s, L.Allocate):
        b = s.buffer
        scope = "" if b.scope == L.LOCAL else f" {b.scope}"
        return (f"{pad}allocate{scope} {b.name}: {b.dtype}[{', '.join(map(str, b.shape))}]\n"
                + stmt_str(s.body, indent))
    if isinstance(s, L.Barrier):
        return f"{pad}barrier"
    if isinstance(s, L.ThreadAllReduce):
        return f"{pad}{s.buffer.name}[0] = all_reduce_{s.combiner}({s.axis} < {s.extent})"
    return f"{pad}{s!r}"


def func_str(f: L.PrimFunc) -> str:
    params = ", ".join(f"{b.name}: {b.dtype}[{', '.join(map(str, b.shape))}]" for b in f.params)
    return f"def {f.name}({params}):\n{stmt_str(f.body, 1)}"
