"""The graph IR: a topologically ordered list of nodes over SSA values.

Every value has a static ``TensorType``.  Weights are constants: a value whose
name is a key of ``Graph.constants`` (a numpy array of exactly the value's type).
All nodes are immutable; passes build new graphs with ``dataclasses.replace``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .dtypes import DTYPES  # noqa: F401  (re-exported: the dtypes tc knows, by numpy name)


@dataclass(frozen=True)
class TensorType:
    """A static tensor type: shape (tuple of ints, () for a scalar) and numpy dtype name."""

    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; tc knows {', '.join(DTYPES)}")

    @property
    def size(self) -> int:
        """Number of elements."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class Value:
    """An SSA value. Names are unique within a graph (the verifier checks)."""

    name: str
    type: TensorType

    def __str__(self) -> str:
        return f"%{self.name}"


def freeze_attr(v: Any) -> Any:
    """Attribute values are hashable: lists become tuples, numpy scalars Python scalars."""
    if isinstance(v, (list, tuple)):
        return tuple(freeze_attr(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return tuple(freeze_attr(x) for x in v.tolist()) if v.ndim else v.item()
    if isinstance(v, bytes):
        return v.decode()
    return v


@dataclass(frozen=True)
class Node:
    """One operator application.

    ``op`` is a canonical op name from the registry (ONNX spelling, e.g. "Conv").
    ``attrs`` is a sorted tuple of (name, value) pairs with hashable values, in the
    canonical form the op's registration documents (frontends normalize to it).
    """

    op: str
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]
    attrs: tuple[tuple[str, Any], ...] = ()
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        attrs = self.attrs.items() if isinstance(self.attrs, Mapping) else self.attrs
        object.__setattr__(self, "attrs", tuple(sorted((k, freeze_attr(v)) for k, v in attrs)))

    def attr(self, name: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    @property
    def attr_dict(self) -> dict[str, Any]:
        return dict(self.attrs)


@dataclass(frozen=True)
class Graph:
    """A whole model: inputs, outputs, nodes in topological order, and constants."""

    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]
    nodes: tuple[Node, ...]
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    name: str = "model"

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "nodes", tuple(self.nodes))

    def is_constant(self, value: Value) -> bool:
        return value.name in self.constants

    def producers(self) -> dict[str, Node]:
        """Map from value name to the node that produces it."""
        return {o.name: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        """Map from value name to the nodes that read it (in node order)."""
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                users.setdefault(v.name, []).append(n)
        return users

    def structurally_equal(self, other: "Graph") -> bool:
        """Same inputs, outputs, nodes and constants (by value)."""
        if (self.inputs, self.outputs, self.nodes) != (other.inputs, other.outputs, other.nodes):
            return False
        if self.constants.keys() != other.constants.keys():
            return False
        return all(np.array_equal(self.constants[k], other.constants[k]) for k in self.constants)

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)
