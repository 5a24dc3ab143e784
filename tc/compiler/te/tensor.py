"""Tensors and the operations that define them: placeholders and computes.

A compute's body is a scalar expression over its axis variables that reads other
tensors through ``TensorRead``; a reduction is a ``Reduce`` at the top of the body.

    A = placeholder((M, K), "float32", "A")
    B = placeholder((K, N), "float32", "B")
    k = reduce_axis(K, "k")
    C = compute((M, N), lambda i, j: sum(A[i, k] * B[k, j], axis=k), "C", tag="matmul")
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from . import expr as E


@dataclass(frozen=True, eq=False)
class IterVar:
    """An iteration axis: a variable over ``range(extent)``; kind "spatial" or "reduce"."""

    var: E.Var
    extent: int
    kind: str = "spatial"

    def __repr__(self) -> str:
        return f"IterVar({self.var.name}, {self.extent}, {self.kind})"


@dataclass(frozen=True, eq=False)
class PlaceholderOp:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True, eq=False)
class ComputeOp:
    """``output[axes] = body``.  ``tag`` names the op family (e.g. "conv2d", "matmul",
    "elemwise", "injective", "reduce", "pool"); default schedules dispatch on it.
    ``attrs`` carries facts a schedule may use (e.g. {"layout": "NCHW"})."""

    name: str
    axes: tuple[IterVar, ...]
    body: E.Expr
    tag: str = ""
    attrs: tuple[tuple[str, Any], ...] = ()

    @property
    def reduce_axes(self) -> tuple[IterVar, ...]:
        return self.body.axes if isinstance(self.body, E.Reduce) else ()

    @property
    def input_tensors(self) -> list["Tensor"]:
        """Distinct tensors this compute reads, in first-read order."""
        seen: dict[int, Tensor] = {}
        for n in E.walk(self.body):
            if isinstance(n, E.TensorRead) and id(n.tensor) not in seen:
                seen[id(n.tensor)] = n.tensor
        return list(seen.values())


@dataclass(frozen=True, eq=False)
class Tensor:
    """A tensor of static ``shape`` and ``dtype``, defined by ``op``. Identity-compared."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    op: Any  # PlaceholderOp | ComputeOp

    def __getitem__(self, indices) -> E.TensorRead:
        if not isinstance(indices, tuple):
            indices = (indices,)
        indices = tuple(i.var if isinstance(i, IterVar) else i for i in indices)
        if len(indices) != len(self.shape):
            raise IndexError(f"{self.name} has rank {len(self.shape)}, indexed with {len(indices)}")
        return E.TensorRead(self, indices)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_placeholder(self) -> bool:
        return isinstance(self.op, PlaceholderOp)

    def __repr__(self) -> str:
        return f"Tensor({self.name}, {self.shape}, {self.dtype})"


def placeholder(shape: Sequence[int], dtype: str = "float32", name: str = "placeholder") -> Tensor:
    """An input tensor of a TE program."""
    shape = tuple(int(s) for s in shape)
    return Tensor(name, shape, dtype, PlaceholderOp(name, shape, dtype))


def reduce_axis(extent: int, name: str = "k") -> IterVar:
    return IterVar(E.Var(name), int(extent), "reduce")


def compute(shape: Sequence[int], fcompute: Callable[..., E.Expr], name: str = "compute",
            tag: str = "", attrs: dict | None = None, dtype: str | None = None) -> Tensor:
    """Define ``name[i0, i1, ...] = fcompute(i0, i1, ...)`` over ``shape``.

    ``fcompute`` takes one index Var per dimension (or a single tuple if it takes one
    ``*args`` parameter). ``dtype`` casts the body when given.
    """
    shape = tuple(int(s) for s in shape)
    names = _axis_names(fcompute, len(shape))
    axes = tuple(IterVar(E.Var(n), s, "spatial") for n, s in zip(names, shape))
    body = E.as_expr(fcompute(*[a.var for a in axes]))
    if dtype is not None and body.dtype != dtype:
        if isinstance(body, E.Reduce):
            raise TypeError(f"{name}: a reduction's dtype follows its source; cast the source")
        body = E.cast(dtype, body)
    op = ComputeOp(name, axes, body, tag, tuple(sorted((attrs or {}).items())))
    return Tensor(name, shape, body.dtype, op)


def _axis_names(fcompute, n: int) -> list[str]:
    try:
        params = [p for p in inspect.signature(fcompute).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) == n:
        return [p.name for p in params]
    return [f"i{d}" for d in range(n)]


def _reducer(combiner: str, init_of: Callable[[str], Any]):
    def reduce(source: E.Expr, axis) -> E.Reduce:
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        return E.Reduce(combiner, source, axes, E.const(init_of(source.dtype), source.dtype))
    reduce.__name__ = combiner
    reduce.__doc__ = f"Reduce ``source`` over ``axis`` (an IterVar or a list) with {combiner}."
    return reduce


def _lowest(dtype: str):
    import numpy as np

    if dtype == "bool":
        return False
    return -float("inf") if E.is_float(dtype) else int(np.iinfo(dtype).min)


def _highest(dtype: str):
    import numpy as np

    if dtype == "bool":
        return True
    return float("inf") if E.is_float(dtype) else int(np.iinfo(dtype).max)


sum = _reducer("sum", lambda dt: 0)  # noqa: A001 - the TE spelling, as in TVM
max = _reducer("max", _lowest)  # noqa: A001
min = _reducer("min", _highest)  # noqa: A001
prod = _reducer("prod", lambda dt: 1)
