"""TopK: the k largest (or smallest) elements along an axis, and their int64 indices.

Canonical attributes: ``axis`` (non-negative), ``k`` (the frontend turns ONNX's constant K
input into it), ``largest`` (0 or 1). Results are always sorted (best first), ties broken
by the lower index, as onnxruntime does; ``sorted=0`` allows any order, so this order serves
it too.

TE, without a sort: a "reduce" stage ranks every element along the axis (how many elements
come before it: better, or equal at a lower index), a "reduce" stage finds for each output
slot j the index whose rank is j, and an "injective" stage gathers the values. O(n^2) along
the axis; a selection schedule for long axes is the follow-up.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, normalize_axis
from .registry import OpPattern


def _params(shape, attrs):
    axis = normalize_axis(attrs.get("axis", -1), len(shape))
    k = int(attrs["k"])
    if not 0 <= k <= shape[axis]:
        raise ValueError(f"TopK: k={k} is out of range for axis {axis} of length {shape[axis]}")
    return axis, k, bool(attrs.get("largest", 1))


def _infer(types, attrs):
    (x,) = types
    axis, k, _ = _params(x.shape, attrs)
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
    return [TensorType(shape, x.dtype), TensorType(shape, "int64")]


def _reference(xs, attrs):
    (x,) = xs
    axis, k, largest = _params(x.shape, attrs)
    n = x.shape[axis]
    if largest:  # stable descending order: ties keep the lower index first
        order = n - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, range(k), axis=axis).astype(np.int64)
    return [np.take_along_axis(x, idx, axis), idx]


def _compute(inputs, attrs):
    (x,) = inputs
    axis, k, largest = _params(x.shape, attrs)
    n = x.shape[axis]
    better = E.gt if largest else E.lt
    one, zero = E.const(1), E.const(0)

    def along(i, j):
        return tuple(i[:axis]) + (j,) + tuple(i[axis + 1:])

    m = te.reduce_axis(n, "m")

    def rank(*i):
        a, b = x[along(i, m.var)], x[i]
        before = E.logical_or(better(a, b), E.logical_and(E.eq(a, b), E.lt(m.var, i[axis])))
        return te.sum(E.select(before, one, zero), axis=m)

    ranks = te.compute(x.shape, rank, "topk_rank", tag="reduce", attrs={"axes": (axis,)})
    out_shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
    r = te.reduce_axis(n, "r")
    indices = te.compute(
        out_shape,
        lambda *j: te.sum(E.select(E.eq(ranks[along(j, r.var)], j[axis]), r.var, zero), axis=r),
        "topk_indices", tag="reduce", attrs={"axes": (axis,)})
    values = te.compute(out_shape, lambda *j: x[along(j, clamp_index(indices[j], n))],
                        "topk_values", tag="injective")
    return [values, indices]


define_op("TopK", _infer, _reference, _compute, OpPattern.REDUCTION, __doc__)
