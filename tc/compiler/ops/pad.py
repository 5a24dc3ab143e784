"""Padding: the ``Pad`` op, and the TE padding stage that Conv and pooling read from.

Canonical attributes of Pad:
- ``pads``: (begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}), non-negative ints;
- ``mode``: "constant" | "edge" | "reflect" | "wrap";
- ``value``: the fill for "constant" (a Python number, default 0).
The frontend turns Pad's opset-11+ inputs (pads, constant_value, axes) into these, and
negative pads (cropping) into a Slice before the Pad.
TE tag: "pad" (injective: a schedule may inline it).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import te
from ..graph.ir import TensorType
from ..te import expr as E
from .common import clamp_index, define_op, in_range
from .registry import OpPattern

MODES = ("constant", "edge", "reflect", "wrap")


def pad_stage(x, begin: Sequence[int], end: Sequence[int], value=0, name: str = "pad",
              mode: str = "constant"):
    """A compute that pads ``x`` by ``begin``/``end`` per dimension; ``x`` itself when
    there is nothing to pad. Border reads use clamped indices (Select is eager)."""
    if not any(begin) and not any(end):
        return x
    shape = tuple(s + b + e for s, b, e in zip(x.shape, begin, end))

    def source_index(d, i):
        j, n = i - E.const(begin[d]), x.shape[d]
        if mode == "reflect" and n > 1:
            last = E.const(n - 1)
            return last - E.call("abs", last - E.call("abs", j))
        if mode == "wrap":
            return j % E.const(n)  # floor modulo: wraps both ways
        return clamp_index(j, n)

    def body(*i):
        read = x[tuple(source_index(d, v) for d, v in enumerate(i))]
        if mode != "constant":
            return read
        inside = [in_range(v, begin[d], begin[d] + x.shape[d])
                  for d, v in enumerate(i) if begin[d] or end[d]]
        return E.select(E.logical_and(*inside), read, E.const(value, x.dtype))

    # constant padding tells a materializing lowering where the source lies (see
    # schedule/lower.py: emit_constant_pad)
    attrs = {"pad_begin": tuple(begin), "pad_end": tuple(end), "pad_value": value} \
        if mode == "constant" else {}
    return te.compute(shape, body, name, tag="pad", attrs=attrs)


def _check(rank: int, attrs: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pads = tuple(attrs["pads"])
    if len(pads) != 2 * rank:
        raise ValueError(f"Pad needs {2 * rank} pads for rank {rank}, got {len(pads)}")
    if min(pads, default=0) < 0:
        raise ValueError(f"Pad with negative pads {pads} (cropping) is not supported")
    if attrs.get("mode", "constant") not in MODES:
        raise ValueError(f"Pad mode {attrs.get('mode')!r} is not supported; tc has {MODES}")
    return pads[:rank], pads[rank:]


def _infer(types, attrs):
    (x,) = types
    begin, end = _check(len(x.shape), attrs)
    if attrs.get("mode") in ("reflect", "wrap"):
        for d, (b, e) in enumerate(zip(begin, end)):
            if max(b, e) >= x.shape[d] and max(b, e) > 0:
                raise ValueError(f"{attrs['mode']} padding of {max(b, e)} on dim {d} of size "
                                 f"{x.shape[d]} needs pads smaller than the dim")
    return [TensorType(tuple(s + b + e for s, b, e in zip(x.shape, begin, end)), x.dtype)]


def _reference(xs, attrs):
    (x,) = xs
    begin, end = _check(x.ndim, attrs)
    widths = list(zip(begin, end))
    mode = attrs.get("mode", "constant")
    if mode == "constant":
        return [np.pad(x, widths, mode="constant", constant_values=attrs.get("value", 0))]
    return [np.pad(x, widths, mode=mode)]  # numpy's "wrap" is ONNX's


def _compute(inputs, attrs):
    (x,) = inputs
    begin, end = _check(x.ndim, attrs)
    if not any(begin + end):
        return [te.compute(x.shape, lambda *i: x[i], "pad", tag="injective")]
    return [pad_stage(x, begin, end, attrs.get("value", 0), "pad", attrs.get("mode", "constant"))]


define_op("Pad", _infer, _reference, _compute, OpPattern.INJECTIVE,
          "Pad(X; pads, mode, value): pads = begins then ends; mode constant|edge|reflect|wrap.")
