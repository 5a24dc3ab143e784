"""Static memory planning: every intermediate tensor gets an offset in one arena.

Tensors live from the step that produces them to the last step that reads them.
Placement is greedy: tensors are taken in some order and each goes into the smallest gap
(best fit) that no placed tensor with an intersecting lifetime occupies.  Several orders
are tried (largest first, longest-lived first, earliest first, largest area in
bytes x steps first) and the smallest arena wins.
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


def aligned_size(n: int) -> int:
    """``n`` bytes rounded up to the arena alignment (at least one slot)."""
    n = max(n, 1)
    return (n + ALIGN - 1) // ALIGN * ALIGN


_ORDERS = (
    lambda t: (-t.nbytes, t.start, t.name),
    lambda t: (-(t.end - t.start), -t.nbytes, t.name),
    lambda t: (t.start, -t.nbytes, t.name),
    lambda t: (-t.nbytes * (t.end - t.start + 1), t.name),
)


def _breadth_orders(lifetimes: list[Lifetime]) -> list[list[Lifetime]]:
    """Tensors of the busiest steps first (TFLite's "greedy by breadth"): each tensor is
    ranked by the largest live total over its lifetime, so the peak packs tightly; ties
    go largest first, or earliest first."""
    live = _live_totals(lifetimes)
    rank = {t.name: max(v for s, v in live.items() if t.start <= s <= t.end) for t in lifetimes}
    return [sorted(lifetimes, key=lambda t: (-rank[t.name], -t.nbytes, t.name)),
            sorted(lifetimes, key=lambda t: (-rank[t.name], t.start, -t.nbytes, t.name))]


def _live_totals(lifetimes: list[Lifetime]) -> dict[int, int]:
    """Step -> total aligned bytes of the tensors alive at it (steps where one starts)."""
    return {s: sum(aligned_size(t.nbytes) for t in lifetimes if t.start <= s <= t.end)
            for s in {t.start for t in lifetimes}}


def plan_memory(lifetimes: list[Lifetime]) -> MemoryPlan:
    """Assign arena offsets so that tensors alive at the same time never overlap."""
    orders = [sorted(lifetimes, key=order) for order in _ORDERS] + _breadth_orders(lifetimes)
    offsets, arena = min((_place(order, high) for order in orders for high in (False, True)),
                         key=lambda placement: placement[1])
    lower = max(_live_totals(lifetimes).values(), default=0)
    naive = sum(aligned_size(t.nbytes) for t in lifetimes)
    return MemoryPlan(offsets, arena, lower, naive)


def _place(ordered: list[Lifetime], high: bool = False) -> tuple[dict[str, int], int]:
    """Best-fit placement in the given order; returns (offsets, arena bytes).

    ``high`` puts a tensor at the top of its gap instead of the bottom, which leaves the
    free space on the other side: which one packs better depends on the neighbours.
    """
    placed: list[tuple[int, int, Lifetime]] = []  # (offset, size, lifetime)
    offsets: dict[str, int] = {}
    for t in ordered:
        size = aligned_size(t.nbytes)
        busy = sorted((o, o + s) for o, s, u in placed if u.start <= t.end and t.start <= u.end)
        offset = 0
        best = None
        for lo, hi in busy:  # best fit: the smallest gap that holds the tensor
            if lo - offset >= size and (best is None or lo - offset < best[1]):
                best = (lo - size if high else offset, lo - offset)
            offset = max(offset, hi)
        offsets[t.name] = best[0] if best else offset
        placed.append((offsets[t.name], size, t))
    return offsets, max((o + s for o, s, _ in placed), default=0)
