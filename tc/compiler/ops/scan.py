"""Cumulative scans along one axis: CumSum, CumProd (registered from one table).

Canonical attributes: ``axis`` (non-negative; the frontend turns ONNX's constant axis
input into it), ``exclusive`` and ``reverse`` (0 or 1).

TE: one "reduce" stage, out[..., i, ...] = combine over k of x[..., k, ...] for the k the
flags select (k <= i; k < i when exclusive; k >= i / k > i when reversed), the others
contributing the combiner's identity. That is O(n^2) along the axis, which suits the
short axes these ops see in models; a sequential scan schedule is the follow-up.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..te import expr as E
from .common import define_op, normalize_axis
from .registry import OpPattern


def _params(rank, attrs):
    return (normalize_axis(attrs["axis"], rank), bool(attrs.get("exclusive", 0)),
            bool(attrs.get("reverse", 0)))


def _np_scan(np_fn, identity):
    def reference(xs, attrs):
        (x,) = xs
        axis, exclusive, reverse = _params(x.ndim, attrs)
        y = np.flip(x, axis) if reverse else x
        out = np_fn(y, axis=axis, dtype=x.dtype)
        if exclusive:
            pad = [(0, 0)] * x.ndim
            pad[axis] = (1, 0)
            out = np.pad(out, pad, constant_values=identity)
            out = np.take(out, range(x.shape[axis]), axis=axis)
        return [np.flip(out, axis) if reverse else out]
    return reference


def _scan_compute(combiner, identity, name):
    reducer = {"sum": te.sum, "prod": te.prod}[combiner]

    def compute(inputs, attrs):
        (x,) = inputs
        axis, exclusive, reverse = _params(x.ndim, attrs)
        k = te.reduce_axis(x.shape[axis], "k")
        cmp = {(False, False): E.le, (True, False): E.lt,
               (False, True): E.ge, (True, True): E.gt}[(exclusive, reverse)]

        def body(*i):
            v = x[i[:axis] + (k.var,) + i[axis + 1:]]
            return reducer(E.select(cmp(k.var, i[axis]), v, E.const(identity, x.dtype)), axis=k)

        return [te.compute(x.shape, body, name, tag="reduce", attrs={"axes": (axis,)})]
    return compute


def _infer(name):
    def infer(types, attrs):
        (x,) = types
        if x.dtype == "bool":
            raise ValueError(f"{name} does not take bool tensors")
        _params(len(x.shape), attrs)
        return [x]
    return infer


_SCANS = [
    # name, numpy cumulative function, TE combiner, identity
    ("CumSum", np.cumsum, "sum", 0),
    ("CumProd", np.cumprod, "prod", 1),
]

for _name, _np_fn, _combiner, _identity in _SCANS:
    define_op(_name, _infer(_name), _np_scan(_np_fn, _identity),
              _scan_compute(_combiner, _identity, _name.lower()), OpPattern.REDUCTION, __doc__)
