"""Graph order over a TE program: which tensors feed which."""
from __future__ import annotations

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
