"""Build graphs node by node, with types inferred by the op registry."""
from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Graph, Node, TensorType, Value


def unique_name(hint: str, taken: set[str]) -> str:
    """``hint``, or ``hint_1``, ``hint_2``, ...: the first not in ``taken`` (then added)."""
    name, i = hint, 0
    while name in taken:
        i += 1
        name = f"{hint}_{i}"
    taken.add(name)
    return name


class GraphBuilder:
    """Incrementally build a ``Graph``.

    >>> b = GraphBuilder()
    >>> x = b.input("x", (2, 3), "float32")
    >>> y, = b.op("Relu", [x])
    >>> g = b.build([y])
    """

    def __init__(self, name: str = "model"):
        self.name = name
        self._inputs: list[Value] = []
        self._nodes: list[Node] = []
        self._constants: dict[str, np.ndarray] = {}
        self._names: set[str] = set()

    def fresh_name(self, hint: str) -> str:
        """A value name not used yet in this graph, based on ``hint``."""
        return unique_name(hint, self._names)

    def input(self, name: str, shape, dtype: str) -> Value:
        v = Value(self.fresh_name(name), TensorType(tuple(shape), dtype))
        self._inputs.append(v)
        return v

    def constant(self, array, name: str = "const") -> Value:
        array = np.asarray(array)
        v = Value(self.fresh_name(name), TensorType(array.shape, str(array.dtype)))
        self._constants[v.name] = array
        return v

    def op(self, op: str, inputs: list[Value], attrs: dict[str, Any] | None = None,
           name: str = "", output_names: list[str] | None = None) -> list[Value]:
        """Append a node; its output types come from the op's registered inference."""
        from ..ops.registry import lookup_op

        attrs = attrs or {}
        types = lookup_op(op).infer([v.type for v in inputs], dict(attrs))
        hints = output_names or [f"{name or op.lower()}_out{i}" if len(types) > 1
                                 else (name or op.lower()) for i in range(len(types))]
        outs = [Value(self.fresh_name(h), t) for h, t in zip(hints, types)]
        self._nodes.append(Node(op, tuple(inputs), tuple(outs), attrs, name))
        return outs

    def build(self, outputs: list[Value]) -> Graph:
        return Graph(tuple(self._inputs), tuple(outputs), tuple(self._nodes),
                     dict(self._constants), self.name)
