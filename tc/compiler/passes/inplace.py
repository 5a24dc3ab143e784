"""Which kernels may write their output over one of their inputs.

A group's output may take an input's storage when the input is read only at the output's
own index: the input has the output's type, and every node of the group that reads it,
and every node between those readers and the output, is elementwise/broadcast with the
output's shape.  Then each output element is written after the only read of the input
element at the same place, so overwriting is safe (the kernel's loop order does not
matter).  The input must also die at this kernel: no later kernel reads it.
"""
from __future__ import annotations

from ..graph.ir import Graph, Value
from ..ops.registry import OpPattern, lookup_op
from .fuse import Group

_SAME_INDEX = (OpPattern.ELEMWISE, OpPattern.BROADCAST)


def _same_index_path(group: Group, src: Value, dst: Value) -> bool:
    """Every path from ``src`` to ``dst`` inside the group is same-shape elementwise."""
    producer = {o.name: n for n in group.nodes for o in n.outputs}
    readers_ok = True
    reached = {src.name}
    for node in group.nodes:
        if not any(v.name in reached for v in node.inputs):
            continue
        same = (lookup_op(node.op).pattern in _SAME_INDEX
                and all(o.type == dst.type for o in node.outputs))
        readers_ok &= same
        reached.update(o.name for o in node.outputs)
    return readers_ok and dst.name in reached and dst.name in producer


def inplace_pairs(graph: Graph, groups: list[Group]) -> dict[str, str]:
    """Map group output name -> the name of the group input whose storage it reuses.

    Only intermediates take part: graph inputs, outputs and constants are never
    overwritten or reused.
    """
    external = {v.name for v in graph.inputs} | {v.name for v in graph.outputs} | set(graph.constants)
    last_read: dict[str, int] = {}
    for step, g in enumerate(groups):
        for v in g.inputs:
            last_read[v.name] = step
    pairs: dict[str, str] = {}
    taken: set[str] = set()
    for step, g in enumerate(groups):
        if len(g.outputs) != 1:  # another output's loop nest could read what this one overwrote
            continue
        for out in g.outputs:
            if out.name in external:
                continue
            for v in g.inputs:
                if (v.name not in external and v.name not in taken and v.type == out.type
                        and last_read.get(v.name) == step and _same_index_path(g, v, out)):
                    pairs[out.name] = v.name
                    taken.add(v.name)
                    break
    return pairs
