"""Where every intermediate tensor lives: a storage root and a byte offset in it.

Three kinds of sharing, decided in this order:
1. views: a Concat's inputs are slices of its output (``concat_views``), the Concat
   kernel is elided;
2. in-place: an elementwise kernel overwrites an input that dies there (``inplace_pairs``),
   except for values that take part in a view;
3. the arena: roots are placed by liveness (``plan_memory``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..graph.ir import Graph
from .concat_views import concat_views
from .fuse import Group
from .inplace import inplace_pairs
from .plan_memory import Lifetime, MemoryPlan, aligned_size, plan_memory


@dataclass(frozen=True)
class StorageAssignment:
    location: dict[str, tuple[str, int]]  # value -> (storage root, byte offset in the root)
    elided: frozenset[int]                # groups whose kernel is not needed (views)
    memory: MemoryPlan                    # arena offsets of the roots

    def offset(self, value: str) -> int:
        """The arena byte offset of an intermediate ``value``."""
        root, inner = self.location.get(value, (value, 0))
        return self.memory.offsets[root] + inner


def assign_storage(graph: Graph, groups: list[Group], external: set[str]) -> StorageAssignment:
    """Place every intermediate value produced by ``groups`` (``external`` ones excluded)."""
    views, elided = concat_views(graph, groups, external)
    in_views = set(views) | {parent for parent, _ in views.values()}
    pairs = {out: inp for out, inp in inplace_pairs(graph, groups).items()
             if out not in in_views and inp not in in_views}
    parent = {**{v: (p, off) for v, (p, off) in views.items()},
              **{out: (inp, 0) for out, inp in pairs.items()}}

    location: dict[str, tuple[str, int]] = {}
    for name in parent:
        root, offset = name, 0
        while root in parent:
            root, step = parent[root]
            offset += step
        location[name] = (root, offset)

    start: dict[str, int] = {}
    end: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for step, g in enumerate(groups):
        if step in elided:
            continue
        for v in g.outputs:
            if v.name in external:
                continue
            root = location.get(v.name, (v.name, 0))[0]
            start.setdefault(root, step)
            end[root] = step
        for v in g.inputs:
            root = location.get(v.name, (v.name, 0))[0]
            if root in start:
                end[root] = step
    for g in groups:
        for v in g.outputs:
            root = location.get(v.name, (v.name, 0))[0]
            if root == v.name and root in start:
                sizes[root] = v.type.nbytes
    memory = plan_memory([Lifetime(n, sizes[n], start[n], end[n]) for n in start])
    # the naive figure gives every intermediate tensor its own slot
    naive = sum(aligned_size(v.type.nbytes) for g in groups for v in g.outputs
                if v.name not in external)
    return StorageAssignment(location, frozenset(elided), replace(memory, naive_bytes=naive))
