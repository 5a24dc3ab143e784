"""Shape arithmetic and registration glue shared by the op families.

Broadcasting, axis normalization, index clamping for TE reads, and ``define_op``:
the one place that wraps an op's parts into an ``OpDef`` and checks that every
numpy reference returns exactly the types its inference promised.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..graph.ir import TensorType
from ..te import expr as E
from .registry import OpDef, OpPattern, register_op


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in ``[-rank, rank)`` as a non-negative int; ValueError otherwise."""
    axis = int(axis)
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The numpy broadcast of ``shapes``; ValueError naming them when incompatible."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(rank):
        dims = {s[len(s) - rank + d] for s in shapes if len(s) - rank + d >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def same_dtype(types: Sequence[TensorType], op: str) -> str:
    """The common dtype of ``types``; ValueError when they differ (ONNX never promotes)."""
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise ValueError(f"{op} needs inputs of one dtype, got {', '.join(sorted(dtypes))}")
    return dtypes.pop()


def broadcast_read(tensor, out_indices: Sequence[E.Expr]) -> E.Expr:
    """Read ``tensor`` at the numpy-broadcast image of output indices ``out_indices``."""
    offset = len(out_indices) - tensor.ndim
    idx = [E.const(0) if dim == 1 else out_indices[offset + d]
           for d, dim in enumerate(tensor.shape)]
    return tensor[tuple(idx)]


def clamp_index(index: E.Expr, extent: int) -> E.Expr:
    """``index`` clamped to ``[0, extent)``: a Select evaluates both sides, so reads
    behind a bounds test must stay in bounds on their own."""
    return E.minimum(E.maximum(index, E.const(0)), E.const(extent - 1))


def in_range(index: E.Expr, lo: int, hi: int) -> E.Expr:
    """``lo <= index < hi`` as a boolean expression."""
    return E.logical_and(E.ge(index, E.const(lo)), E.lt(index, E.const(hi)))


def define_op(name: str, infer: Callable, reference: Callable, compute: Callable,
              pattern: OpPattern, doc: str = "") -> OpDef:
    """Register an op; its reference's outputs are cast to the inferred dtypes.

    numpy sometimes widens (e.g. a Python float times a float16 array); the graph
    IR's types are the contract, so the reference is held to them here, and a
    shape mismatch is a bug in the op that fails loudly.
    """

    def checked_reference(inputs: list, attrs: dict) -> list:
        types = infer([TensorType(np.shape(x), str(np.asarray(x).dtype)) for x in inputs], attrs)
        outs = reference([np.asarray(x) for x in inputs], attrs)
        result = []
        for out, t in zip(outs, types):
            out = np.asarray(out)
            if out.shape != t.shape:
                raise AssertionError(f"{name} reference gave shape {out.shape}, inferred {t.shape}")
            result.append(out.astype(t.dtype, copy=False))
        return result

    return register_op(OpDef(name, infer, checked_reference, compute, pattern, doc))


def cast_stage(t, dtype: str, name: str):
    """``t`` converted to ``dtype`` by an elementwise stage; ``t`` itself when it already
    has it (ops that accumulate in a wider type end with this)."""
    from .. import te

    if t.dtype == dtype:
        return t
    return te.compute(t.shape, lambda *i: E.cast(dtype, t[i]), name, tag="elemwise")
