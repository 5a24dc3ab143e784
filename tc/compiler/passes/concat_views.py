"""Zero-copy Concat: its inputs are written straight into their slice of its output.

When every dimension before the concat axis is 1 (batch 1, channel concat: the light
models' case), each input is one contiguous byte range of the output.  The producers
then write there, and the Concat kernel disappears.  Chains (densenet's
``concat_k = Concat(concat_{k-1}, new)``) nest: the whole chain shares one storage.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph
from .fuse import Group


def concat_views(graph: Graph, groups: list[Group], external: set[str]
                 ) -> tuple[dict[str, tuple[str, int]], set[int]]:
    """Return (value name -> (concat output name, byte offset), indices of elided groups).

    ``external`` names the values that live outside the arena (graph inputs, outputs,
    constants); they never take part.  A Concat is elided only when all its inputs can be
    views; a value is a view of at most one Concat (the first one, in execution order).
    """
    views: dict[str, tuple[str, int]] = {}
    elided: set[int] = set()
    for index, group in enumerate(groups):
        if len(group.nodes) != 1 or group.nodes[0].op != "Concat":
            continue
        node = group.nodes[0]
        out = node.outputs[0]
        axis = node.attr("axis")
        names = [v.name for v in node.inputs]
        if (out.name in external or any(d != 1 for d in out.type.shape[:axis])
                or len(set(names)) != len(names)
                or any(n in external or n in views for n in names)):
            continue
        offset = 0
        for v in node.inputs:
            views[v.name] = (out.name, offset)
            offset += int(np.prod(v.type.shape, dtype=np.int64)) * np.dtype(v.type.dtype).itemsize
        elided.add(index)
    return views, elided
