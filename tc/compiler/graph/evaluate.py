"""Run a graph node by node with the ops' numpy references (an oracle, not fast)."""
from __future__ import annotations

import numpy as np

from .ir import Graph


def evaluate(graph: Graph, inputs: list) -> list[np.ndarray]:
    """The graph's outputs for ``inputs`` (one array per graph input, in order).

    Each input is checked against its value's type; intermediates are freed after
    their last reader so that whole models fit in memory.
    """
    from ..ops.registry import apply_reference

    if len(inputs) != len(graph.inputs):
        raise ValueError(f"graph {graph.name} takes {len(graph.inputs)} inputs, got {len(inputs)}")
    env: dict[str, np.ndarray] = {}
    for value, array in zip(graph.inputs, inputs):
        array = np.asarray(array)
        if array.shape != value.type.shape or str(array.dtype) != value.type.dtype:
            raise ValueError(f"input %{value.name} must be {value.type}, got "
                             f"{array.dtype}{list(array.shape)}")
        env[value.name] = array
    last_use = {v.name: i for i, n in enumerate(graph.nodes) for v in n.inputs}
    keep = {v.name for v in graph.outputs}
    for i, node in enumerate(graph.nodes):
        args = [env[v.name] if v.name in env else graph.constants[v.name] for v in node.inputs]
        for value, out in zip(node.outputs, apply_reference(node.op, args, node.attr_dict)):
            env[value.name] = out
        for v in node.inputs:
            if last_use.get(v.name) == i and v.name not in keep:
                env.pop(v.name, None)
    return [env[v.name] if v.name in env else np.array(graph.constants[v.name])
            for v in graph.outputs]
