"""What the simplify rewrites share: one sweep's edits to a graph (``Edit``).

A rewrite walks ``graph.nodes`` in order and, for each node, keeps it, emits replacements,
absorbs it into an earlier replacement, or removes it by forwarding its output to another
value.  ``Edit.finish`` then builds the new graph, or returns the input graph itself when
nothing changed, so that a fixed-point driver can test ``new is old``.

Graph outputs are an ABI: their names never change.  When a removed node produced a graph
output, the value that replaces it takes the output's name instead (its producer is renamed);
where that is impossible (a graph input, a constant, another graph output) the node stays.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph.builder import unique_name
from ..graph.ir import Graph, Node, TensorType, Value


class Edit:
    """The edits of one sweep over ``graph`` (see the module docstring)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.constants = dict(graph.constants)
        self._consumers = graph.consumers()
        self._outputs = {v.name for v in graph.outputs}
        self._names = ({v.name for v in graph.inputs} | set(graph.constants)
                       | {o.name for n in graph.nodes for o in n.outputs})
        self._nodes: list[Node] = []
        self._node_outputs: set[str] = set()   # values produced by a node emitted so far
        self._alias: dict[str, Value] = {}      # value name -> the value that replaces it
        self._absorbed: set[str] = set()        # first-output names of absorbed nodes
        self._changed = False

    # --- queries -------------------------------------------------------------------------

    def const(self, value: Value) -> np.ndarray | None:
        """The array of ``value`` if it is a constant, else None."""
        return self.constants.get(value.name)

    def is_graph_output(self, value: Value) -> bool:
        """Whether ``value`` is one of the graph's outputs (whose name must stay)."""
        return value.name in self._outputs

    def sole_reader(self, value: Value) -> Node | None:
        """The one node reading ``value`` (once), if that is its only use."""
        readers = self._consumers.get(value.name, ())
        if len(readers) != 1 or self.is_graph_output(value):
            return None
        return readers[0]

    def chain(self, node: Node, step: Callable[[Node, Value], Any]) -> list[tuple[Node, Any]]:
        """Follow sole readers from ``node``'s (first) output while ``step(reader, value)``
        returns something truthy; the (reader, step result) pairs in order."""
        found = []
        value = node.outputs[0]
        while (reader := self.sole_reader(value)) is not None:
            result = step(reader, value)
            if not result:
                break
            found.append((reader, result))
            value = reader.outputs[0]
        return found

    def absorbed(self, node: Node) -> bool:
        """Whether ``node`` was merged into an earlier replacement of this sweep."""
        return node.outputs[0].name in self._absorbed

    # --- edits ---------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """A value name unused in the graph."""
        return unique_name(hint, self._names)

    def constant(self, array: np.ndarray, hint: str) -> Value:
        """A new constant value holding ``array``."""
        array = np.ascontiguousarray(array)
        value = Value(self.fresh(hint), TensorType(array.shape, str(array.dtype)))
        self.constants[value.name] = array
        return value

    def keep(self, node: Node) -> None:
        """Keep ``node`` unchanged."""
        self._nodes.append(node)
        self._node_outputs.update(o.name for o in node.outputs)

    def emit(self, node: Node) -> None:
        """Add a new or rewritten node."""
        self.keep(node)
        self._changed = True

    def absorb(self, nodes) -> None:
        """Drop ``nodes`` (later in the graph): an emitted node now computes their result."""
        self._absorbed.update(n.outputs[0].name for n in nodes)
        self._changed = True

    def forward(self, value: Value, replacement: Value) -> bool:
        """Make readers of ``value`` read ``replacement`` (same type) instead, so that the
        node producing ``value`` can be dropped. False, changing nothing, when ``value`` is
        a graph output that ``replacement`` cannot be renamed to."""
        if value.type != replacement.type:
            return False
        if not self.is_graph_output(value):
            self._alias[value.name] = replacement
            self._changed = True
            return True
        target = self.resolve(replacement)
        if target.name not in self._node_outputs or self.is_graph_output(target):
            return False
        self._alias[target.name] = value  # its producer now defines the output's name
        self._changed = True
        return True

    def resolve(self, value: Value) -> Value:
        """The value that stands for ``value`` after this sweep's forwards."""
        while value.name in self._alias:
            value = self._alias[value.name]
        return value

    def finish(self) -> Graph:
        """The edited graph; the input graph itself when nothing changed."""
        if not self._changed:
            return self.graph
        nodes = []
        for node in self._nodes:
            nodes.append(Node(node.op, tuple(self.resolve(v) for v in node.inputs),
                              tuple(self.resolve(v) for v in node.outputs),
                              node.attrs, node.name))
        outputs = tuple(self.resolve(v) for v in self.graph.outputs)
        return Graph(self.graph.inputs, outputs, nodes, self.constants, self.graph.name)


def drop_unread_constants(graph: Graph) -> Graph:
    """``graph`` without the constants that no node and no graph output reads."""
    read = {v.name for n in graph.nodes for v in n.inputs} | {v.name for v in graph.outputs}
    if all(name in read for name in graph.constants):
        return graph
    constants = {k: a for k, a in graph.constants.items() if k in read}
    return Graph(graph.inputs, graph.outputs, graph.nodes, constants, graph.name)


def is_float(value: Value) -> bool:
    """Whether ``value`` holds floating-point numbers."""
    return np.issubdtype(np.dtype(value.type.dtype), np.floating)
