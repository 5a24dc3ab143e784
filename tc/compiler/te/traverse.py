"""Graph order over a TE program: which tensors feed which."""
from __future__ import annotations

import math

from . import expr as E
from .tensor import Tensor


def topo_order(outputs: list[Tensor]) -> list[Tensor]:
    """Every tensor reachable from ``outputs`` (placeholders included), producers first.

    The order is deterministic: a depth-first post-order following each compute's
    inputs in first-read order, outputs visited in the order given.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            if expanded:
                order.append(t)
                continue
            if id(t) in seen:
                continue
            seen.add(id(t))
            stack.append((t, True))
            if not t.is_placeholder:
                for inp in reversed(t.op.input_tensors):
                    if id(inp) not in seen:
                        stack.append((inp, False))
    return order


def consumers(outputs: list[Tensor]) -> dict[int, list[Tensor]]:
    """Map ``id(tensor)`` to the computes that read it directly, in topological order."""
    out: dict[int, list[Tensor]] = {}
    for t in topo_order(outputs):
        if not t.is_placeholder:
            for inp in t.op.input_tensors:
                out.setdefault(id(inp), []).append(t)
    return out


def count_flops(outputs: list[Tensor]) -> int:
    """Arithmetic work of the program computing ``outputs``, as profilers report it: a
    sum reduction of a product counts 2 per reduction point (multiply and add), another
    reduction 1 per point, and an arithmetic elementwise compute 1 per element (pure data
    movement counts 0)."""
    total = 0
    for t in topo_order(outputs):
        if t.is_placeholder:
            continue
        points = math.prod(a.extent for a in t.op.axes)
        body = t.op.body
        if isinstance(body, E.Reduce):
            points *= math.prod(a.extent for a in body.axes)
            mac = body.combiner == "sum" and isinstance(body.source, E.Binary) \
                and body.source.op == "*"
            total += points * (2 if mac else 1)
        elif _arithmetic(body):
            total += points
    return total


def _arithmetic(body) -> bool:
    """Whether ``body`` computes on values (a Binary outside every read's indices)."""
    nodes = list(E.walk(body))
    in_indices = sum(isinstance(m, E.Binary) for n in nodes if isinstance(n, E.TensorRead)
                     for i in n.indices for m in E.walk(i))
    return sum(isinstance(n, E.Binary) for n in nodes) > in_indices
