"""MaxUnpool: the partial inverse of MaxPool, scattering X to the positions Indices name.

MaxUnpool(X, I) canonical attributes (the frontend fills every one):
- ``kernel_shape``, ``strides``: one int per spatial dim;
- ``pads``: (begin..., end...) per spatial dim;
- ``output_shape``: the full output shape (the ONNX input, a compile-time constant), or
  absent for the default ``(in - 1) * stride + kernel - pads``.
Indices are flat row-major indices into that default shape, as MaxPool produces them (so
each point can only be named by the inputs whose pooling window covers it); a larger
output_shape zero-pads the result at the end of each spatial dim (the ONNX reference's
semantics).

TE stages: "unpool_match", a min-reduction over those ceil(kernel / stride) candidates
per dim giving the first one whose index names this point, then an "injective" stage
reading X there (0 where none does). Generic schedule.
"""
from __future__ import annotations


import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, in_range
from .registry import OpPattern
from .window import check_window_attrs

_NONE = np.iinfo(np.int64).max


def _geometry(x_shape, attrs):
    n = len(x_shape) - 2
    kernel = tuple(attrs["kernel_shape"])
    if len(kernel) != n:
        raise ValueError(f"MaxUnpool: kernel_shape {kernel} needs {n} entries")
    check_window_attrs("MaxUnpool", n, attrs, keys=("strides", "pads"))
    strides = tuple(attrs.get("strides", (1,) * n))
    pads = tuple(attrs.get("pads", (0,) * 2 * n))
    inferred = tuple(x_shape[:2]) + tuple((x_shape[2 + d] - 1) * strides[d] + kernel[d]
                                          - pads[d] - pads[n + d] for d in range(n))
    out = tuple(int(s) for s in attrs.get("output_shape", inferred))
    if len(out) != n + 2 or out[:2] != inferred[:2] or min(
            o - i for o, i in zip(out, inferred)) < 0:
        raise ValueError(f"MaxUnpool output_shape {out} should be (N, C, ...) of X "
                         f"{tuple(x_shape)}, at least {inferred}")
    return kernel, strides, pads, inferred, out


def _infer(types, attrs):
    x, i = types
    if x.shape != i.shape or len(x.shape) < 3:
        raise ValueError(f"MaxUnpool needs X and Indices of one shape (N, C, ...), got "
                         f"{x.shape} and {i.shape}")
    if not i.dtype.startswith("int"):
        raise ValueError(f"MaxUnpool's Indices must be int64, got {i.dtype}")
    return [TensorType(_geometry(x.shape, attrs)[4], x.dtype)]


def _reference(xs, attrs):
    x, idx = xs
    inferred, shape = _geometry(x.shape, attrs)[3:]
    flat = np.zeros(int(np.prod(inferred)), dtype=x.dtype)
    flat[np.asarray(idx, np.int64).reshape(-1)] = x.reshape(-1)
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, s) for s in inferred)] = flat.reshape(inferred)
    return [out]


def _compute(inputs, attrs):
    x, idx = inputs
    kernel, strides, pads, inferred, out = _geometry(x.shape, attrs)
    n = len(kernel)
    span = [-(-k // s) for k, s in zip(kernel, strides)]   # candidates per dim
    ts = [te.reduce_axis(t, f"t{d}") for d, t in enumerate(span)]

    def candidate(o, t):
        """Inputs q = (o + pad) // stride - t; with their validity."""
        q = [(o[d] + E.const(pads[d])) // E.const(strides[d]) - t[d] for d in range(n)]
        return [clamp_index(v, x.shape[2 + d]) for d, v in enumerate(q)], \
            E.logical_and(*[in_range(v, 0, x.shape[2 + d]) for d, v in enumerate(q)])

    def flat(b, c, o):
        f = b * E.const(out[1]) + c
        for d in range(n):
            f = f * E.const(inferred[2 + d]) + o[d]
        return E.cast("int64", f)

    def match(b, c, *o):
        q, valid = candidate(o, [t.var for t in ts])
        inside = [E.lt(o[d], E.const(inferred[2 + d])) for d in range(n)
                  if inferred[2 + d] < out[2 + d]]
        hit = E.logical_and(valid, *inside, E.eq(E.cast("int64", idx[(b, c) + tuple(q)]), flat(b, c, o)))
        code = ts[0].var
        for d in range(1, n):
            code = code * E.const(span[d]) + ts[d].var
        return te.min(E.select(hit, E.cast("int64", code), E.const(_NONE, "int64")), axis=ts)

    first = te.compute(out, match, "unpool_match", tag="unpool")

    def gather(b, c, *o):
        code = first[(b, c) + o]
        t, rest = [], code
        for d in reversed(range(n)):
            t.insert(0, rest % E.const(span[d]))
            rest = rest // E.const(span[d])
        q, _ = candidate(o, t)
        return E.select(E.lt(code, E.const(_NONE, "int64")), x[(b, c) + tuple(q)],
                        E.const(0, x.dtype))

    return [te.compute(out, gather, "max_unpool", tag="injective")]


define_op("MaxUnpool", _infer, _reference, _compute, OpPattern.OPAQUE, __doc__)
