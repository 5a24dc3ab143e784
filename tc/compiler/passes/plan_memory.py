"""Static memory planning: every intermediate tensor gets an offset in one arena.

Tensors live from the step that produces them to the last step that reads them.
Placement is greedy by size (largest first), each at the lowest offset that does not
overlap a placed tensor whose lifetime intersects its own.
"""
from __future__ import annotations

from dataclasses import dataclass

ALIGN = 64


@dataclass(frozen=True)
class Lifetime:
    """A tensor of ``nbytes`` written at step ``start`` and last read at step ``end``."""

    name: str
    nbytes: int
    start: int
    end: int


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict[str, int]
    arena_bytes: int
    lower_bound: int   # the largest total of simultaneously live tensors
    naive_bytes: int   # every tensor in its own slot


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(lifetimes: list[Lifetime]) -> MemoryPlan:
    """Assign arena offsets so that tensors alive at the same time never overlap."""
    placed: list[tuple[int, int, Lifetime]] = []  # (offset, size, lifetime)
    offsets: dict[str, int] = {}
    for t in sorted(lifetimes, key=lambda t: (-t.nbytes, t.start, t.name)):
        size = _aligned(max(t.nbytes, 1))
        busy = sorted((o, o + s) for o, s, u in placed if u.start <= t.end and t.start <= u.end)
        offset = 0
        best = None
        for lo, hi in busy:  # best fit: the smallest gap that holds the tensor
            if lo - offset >= size and (best is None or lo - offset < best[1]):
                best = (offset, lo - offset)
            offset = max(offset, hi)
        offsets[t.name] = best[0] if best else offset
        placed.append((offsets[t.name], size, t))
    arena = max((o + s for o, s, _ in placed), default=0)
    steps = sorted({t.start for t in lifetimes})
    lower = max((sum(_aligned(max(t.nbytes, 1)) for t in lifetimes if t.start <= s <= t.end)
                 for s in steps), default=0)
    naive = sum(_aligned(max(t.nbytes, 1)) for t in lifetimes)
    return MemoryPlan(offsets, arena, lower, naive)
