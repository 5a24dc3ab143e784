"""Losses: NegativeLogLikelihoodLoss (SoftmaxCrossEntropyLoss is LogSoftmax followed by it,
composed by the frontend).

Canonical attributes of NegativeLogLikelihoodLoss(input, target, weight?; reduction,
ignore_index):
- ``input`` (N, C, d1, ...) float; ``target`` (N, d1, ...) int32/int64 class indices;
  ``weight`` (C,) optional per-class weights (1 when absent).
- ``reduction``: "none" (per-element loss, the target's shape), "sum" or "mean" (a scalar;
  mean divides by the sum of the weights of the counted elements).
- ``ignore_index``: an int whose target elements contribute 0 (and no weight), or None.

TE: a per-element "injective" stage -input[n, t, d...] * weight[t] (0 where ignored); for
"sum"/"mean" a "reduce" stage over all of it (and of the weights, for "mean") and an
"elemwise" division.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op
from .reduce import reduce_stage
from .registry import OpPattern

_REDUCTIONS = ("none", "sum", "mean")


def _infer(types, attrs):
    x, target = types[:2]
    if not is_floating(x.dtype):
        raise ValueError(f"NegativeLogLikelihoodLoss needs a float input, got {x.dtype}")
    if target.dtype not in ("int32", "int64"):
        raise ValueError(f"NegativeLogLikelihoodLoss needs an int32/int64 target, got {target.dtype}")
    if len(x.shape) < 2 or target.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(f"NegativeLogLikelihoodLoss: input {x.shape} and target {target.shape} "
                         "need shapes (N, C, d...) and (N, d...)")
    if len(types) > 2 and types[2].shape != (x.shape[1],):
        raise ValueError(f"NegativeLogLikelihoodLoss: weight needs shape ({x.shape[1]},), "
                         f"got {types[2].shape}")
    reduction = attrs.get("reduction", "mean")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"NegativeLogLikelihoodLoss: reduction {reduction!r} is not one of "
                         f"{_REDUCTIONS}")
    return [TensorType(target.shape if reduction == "none" else (), x.dtype)]


def _reference(xs, attrs):
    x, target = xs[:2]
    c = x.shape[1]
    weight = xs[2] if len(xs) > 2 else np.ones(c, x.dtype)
    ii = attrs.get("ignore_index")
    valid = np.ones(target.shape, bool) if ii is None else target != ii
    t = np.where(valid, target, 0).astype(np.int64)
    picked = np.take_along_axis(x, np.expand_dims(t, 1), 1)[:, 0]
    w = np.where(valid, weight[np.clip(t, 0, c - 1)], 0).astype(x.dtype)
    loss = -picked * w
    reduction = attrs.get("reduction", "mean")
    if reduction == "none":
        return [loss]
    if reduction == "sum":
        return [loss.sum()]
    with np.errstate(divide="ignore", invalid="ignore"):
        return [loss.sum() / w.sum()]


def _compute(inputs, attrs):
    x, target = inputs[:2]
    weight = inputs[2] if len(inputs) > 2 else None
    c = x.shape[1]
    ii = attrs.get("ignore_index")
    zero = E.const(0, x.dtype)

    def parts(i):
        """(valid, clamped class index) at target index ``i``."""
        t = E.cast("int64", target[i])
        valid = E.const(True) if ii is None else E.ne(t, E.const(int(ii)))
        return valid, clamp_index(t, c)

    def w_at(i):
        valid, t = parts(i)
        return E.select(valid, weight[(t,)] if weight is not None else E.const(1, x.dtype), zero)

    def loss_at(*i):
        _, t = parts(i)
        return zero - x[(i[0], t) + tuple(i[1:])] * w_at(i)

    loss = te.compute(target.shape, loss_at, "nll_loss", tag="injective")
    reduction = attrs.get("reduction", "mean")
    if reduction == "none":
        return [loss]
    axes = tuple(range(target.ndim))
    total = reduce_stage(loss, axes, False, "sum", lambda idx, i: loss[idx], "nll_loss_sum")
    if reduction == "sum":
        return [total]
    wsum = reduce_stage(loss, axes, False, "sum", lambda idx, i: w_at(idx), "nll_loss_weight_sum")
    return [te.compute((), lambda: total[()] / wsum[()], "nll_loss_mean", tag="elemwise")]


define_op("NegativeLogLikelihoodLoss", _infer, _reference, _compute, OpPattern.REDUCTION, __doc__)
