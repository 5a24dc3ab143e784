"""Indexing ops whose indices are data: Gather, GatherElements, GatherND, ScatterElements,
ScatterND, OneHot, ReverseSequence, TensorScatter.

Indices are read from their tensor at run time (a Load cast to int64); negative indices
wrap once, then every index is clamped into range so that out-of-range data never reads
outside a buffer (ONNX leaves such results undefined; tc never crashes on them).

Canonical attributes:
- Gather(data, indices; axis): 0 <= axis < rank(data).
- GatherElements(data, indices; axis): 0 <= axis < rank.
- GatherND(data, indices; batch_dims).
- ScatterElements(data, indices, updates; axis, reduction "none"|"add"|"mul"|"max"|"min").
- ScatterND(data, indices, updates; reduction as above).
- OneHot(indices, values; depth, axis): values = [off, on]; 0 <= axis <= rank(indices).
- ReverseSequence(X, sequence_lens; batch_axis, time_axis), each 0 or 1.
- TensorScatter(past_cache, update[, write_indices]; axis, mode "linear"|"circular"):
  0 < axis < rank; ``update`` written into the cache along ``axis`` from each batch
  row's write index (0 without ``write_indices``), wrapping modulo the cache length in
  circular mode.
Gather-like ops (TensorScatter too: each output element reads one place) are injective; the scatters are opaque (a reduction over the updates
per output element, O(out * updates): fine for moderate sizes, not a fast scatter).
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op, normalize_axis
from .registry import OpPattern

REDUCTIONS = ("none", "add", "mul", "max", "min")


def _index(read: E.Expr, extent: int) -> E.Expr:
    """A data index read from a tensor: int64, wrapped when negative, clamped in range."""
    i = E.cast("int64", read)
    i = E.select(E.lt(i, E.const(0)), i + E.const(extent), i)
    return clamp_index(i, extent)


def _np_index(indices, extent):
    idx = indices.astype(np.int64)
    idx = np.where(idx < 0, idx + extent, idx)
    if idx.size and (idx.min() < 0 or idx.max() >= extent):
        raise ValueError(f"indices out of range [-{extent}, {extent})")
    return idx


def _check_int(t, op):
    if t.dtype not in ("int32", "int64"):
        raise ValueError(f"{op} indices must be int32 or int64, got {t.dtype}")


# --- Gather ----------------------------------------------------------------------------

def _gather_infer(types, attrs):
    data, indices = types
    _check_int(indices, "Gather")
    axis = normalize_axis(attrs.get("axis", 0), len(data.shape), "Gather axis")
    return [TensorType(data.shape[:axis] + tuple(indices.shape) + data.shape[axis + 1:],
                       data.dtype)]


def _gather_reference(xs, attrs):
    data, indices = xs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)
    return [np.take(data, _np_index(indices, data.shape[axis]), axis=axis)]


def _gather_compute(inputs, attrs):
    data, indices = inputs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)
    shape = _gather_infer([data, indices], attrs)[0].shape
    q = indices.ndim

    def body(*i):
        j = _index(indices[i[axis:axis + q]], data.shape[axis])
        return data[i[:axis] + (j,) + i[axis + q:]]

    return [te.compute(shape, body, "gather", tag="injective")]


define_op("Gather", _gather_infer, _gather_reference, _gather_compute, OpPattern.INJECTIVE,
          "Gather(data, indices; axis).")


# --- GatherElements ----------------------------------------------------------------------

def _ge_infer(types, attrs):
    data, indices = types
    _check_int(indices, "GatherElements")
    normalize_axis(attrs.get("axis", 0), len(data.shape), "GatherElements axis")
    if len(indices.shape) != len(data.shape):
        raise ValueError(f"GatherElements indices {indices.shape} and data {data.shape} "
                         "differ in rank")
    return [TensorType(tuple(indices.shape), data.dtype)]


def _ge_reference(xs, attrs):
    data, indices = xs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)
    return [np.take_along_axis(data, _np_index(indices, data.shape[axis]), axis=axis)]


def _ge_compute(inputs, attrs):
    data, indices = inputs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)

    def body(*i):
        j = _index(indices[i], data.shape[axis])
        return data[tuple(j if d == axis else clamp_index(v, data.shape[d])
                          for d, v in enumerate(i))]

    return [te.compute(indices.shape, body, "gather_elements", tag="injective")]


define_op("GatherElements", _ge_infer, _ge_reference, _ge_compute, OpPattern.INJECTIVE,
          "GatherElements(data, indices; axis).")


# --- GatherND ----------------------------------------------------------------------------

def _gnd_parts(data_shape, idx_shape, attrs):
    b = int(attrs.get("batch_dims", 0))
    k = idx_shape[-1]
    if not (0 <= b < len(idx_shape) and b + k <= len(data_shape)
            and tuple(data_shape[:b]) == tuple(idx_shape[:b])):
        raise ValueError(f"GatherND: indices {idx_shape} with batch_dims {b} do not fit "
                         f"data {data_shape}")
    return b, k


def _gnd_infer(types, attrs):
    data, indices = types
    _check_int(indices, "GatherND")
    b, k = _gnd_parts(data.shape, indices.shape, attrs)
    return [TensorType(tuple(indices.shape[:-1]) + tuple(data.shape[b + k:]), data.dtype)]


def _gnd_reference(xs, attrs):
    data, indices = xs
    b, k = _gnd_parts(data.shape, indices.shape, attrs)
    out_shape = indices.shape[:-1] + data.shape[b + k:]
    out = np.empty(out_shape, data.dtype)
    for pos in np.ndindex(*indices.shape[:-1]):
        idx = tuple(int(_np_index(np.array(indices[pos][d]), data.shape[b + d]))
                    for d in range(k))
        out[pos] = data[pos[:b] + idx]
    return [out]


def _gnd_compute(inputs, attrs):
    data, indices = inputs
    b, k = _gnd_parts(data.shape, indices.shape, attrs)
    shape = _gnd_infer([data, indices], attrs)[0].shape
    q = indices.ndim - 1

    def body(*i):
        lead = i[:q]
        idx = tuple(_index(indices[lead + (E.const(d),)], data.shape[b + d]) for d in range(k))
        return data[lead[:b] + idx + i[q:]]

    return [te.compute(shape, body, "gather_nd", tag="injective")]


define_op("GatherND", _gnd_infer, _gnd_reference, _gnd_compute, OpPattern.INJECTIVE,
          "GatherND(data, indices; batch_dims).")


# --- ScatterElements / ScatterND -----------------------------------------------------------

_NP_REDUCE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _reduction(attrs):
    r = attrs.get("reduction", "none")
    if r not in REDUCTIONS:
        raise ValueError(f"scatter reduction {r!r} is not one of {REDUCTIONS}")
    return r


def _scatter(data, updates, matches, reduction, name):
    """out[i] = data[i] combined with every update k whose target is i.

    ``matches(i, k)`` -> (bool expr: update k targets i, update value expr); k is a tuple
    of reduce IterVars over ``updates``'s leading positions."""
    def reduce_stage(kind):
        def body(*i):
            ks = [te.reduce_axis(n, f"k{d}") for d, n in enumerate(updates_positions)]
            hit, value = matches(i, tuple(k.var for k in ks))
            if kind == "none":  # the last update that targets i wins: max of its flat position
                flat = E.const(0)
                for kv, n in zip(ks, updates_positions):
                    flat = flat * E.const(n) + kv.var
                return te.max(E.select(hit, flat, E.const(-1)), ks)
            ident = {"add": E.const(0, data.dtype), "mul": E.const(1, data.dtype),
                     "max": E.const(te.tensor._lowest(data.dtype), data.dtype),
                     "min": E.const(te.tensor._highest(data.dtype), data.dtype)}[kind]
            reducer = {"add": te.sum, "mul": te.prod, "max": te.max, "min": te.min}[kind]
            return reducer(E.select(hit, value, ident), ks)
        return te.compute(data.shape, body, f"{name}_{kind}", tag="scatter")

    updates_positions = updates.shape
    reduction = _reduction({"reduction": reduction})
    acc = reduce_stage(reduction)
    if reduction == "none":
        def body(*i):
            last = acc[i]
            safe = E.maximum(last, E.const(0))
            pos, rest = [], safe
            for n in reversed(updates.shape):
                pos.append(rest % E.const(n))
                rest = rest // E.const(n)
            upd = updates[tuple(reversed(pos))]
            return E.select(E.ge(last, E.const(0)), upd, data[i])
    else:
        def body(*i):
            d, a = data[i], acc[i]
            if reduction == "add":
                return d + a
            if reduction == "mul":
                return d * a
            return E.maximum(d, a) if reduction == "max" else E.minimum(d, a)
    return te.compute(data.shape, body, name, tag="scatter")


def _se_infer(types, attrs):
    data, indices, updates = types
    _check_int(indices, "ScatterElements")
    normalize_axis(attrs.get("axis", 0), len(data.shape), "ScatterElements axis")
    _reduction(attrs)
    if tuple(indices.shape) != tuple(updates.shape) or len(indices.shape) != len(data.shape):
        raise ValueError(f"ScatterElements needs indices {indices.shape} and updates "
                         f"{updates.shape} of one shape and data's rank {len(data.shape)}")
    return [data]


def _se_reference(xs, attrs):
    data, indices, updates = xs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)
    idx = _np_index(indices, data.shape[axis])
    out, red = data.copy(), _reduction(attrs)
    for pos in np.ndindex(*indices.shape):
        target = pos[:axis] + (idx[pos],) + pos[axis + 1:]
        out[target] = updates[pos] if red == "none" else _NP_REDUCE[red](out[target], updates[pos])
    return [out]


def _se_compute(inputs, attrs):
    data, indices, updates = inputs
    axis = normalize_axis(attrs.get("axis", 0), data.ndim)

    def matches(i, k):
        hit = E.eq(_index(indices[k], data.shape[axis]), i[axis])
        for d in range(data.ndim):
            if d != axis:
                hit = E.logical_and(hit, E.eq(k[d], i[d]))
        return hit, updates[k]

    return [_scatter(data, updates, matches, _reduction(attrs), "scatter_elements")]


define_op("ScatterElements", _se_infer, _se_reference, _se_compute, OpPattern.OPAQUE,
          "ScatterElements(data, indices, updates; axis, reduction).")


def _snd_infer(types, attrs):
    data, indices, updates = types
    _check_int(indices, "ScatterND")
    _reduction(attrs)
    k = indices.shape[-1]
    expect = tuple(indices.shape[:-1]) + tuple(data.shape[k:])
    if k > len(data.shape) or tuple(updates.shape) != expect:
        raise ValueError(f"ScatterND: updates {updates.shape} should be {expect} for indices "
                         f"{indices.shape} into data {data.shape}")
    return [data]


def _snd_reference(xs, attrs):
    data, indices, updates = xs
    out, red, k = data.copy(), _reduction(attrs), indices.shape[-1]
    for pos in np.ndindex(*indices.shape[:-1]):
        target = tuple(int(_np_index(np.array(indices[pos][d]), data.shape[d])) for d in range(k))
        out[target] = updates[pos] if red == "none" else _NP_REDUCE[red](out[target], updates[pos])
    return [out]


def _snd_compute(inputs, attrs):
    data, indices, updates = inputs
    k, q = indices.shape[-1], indices.ndim - 1

    def matches(i, kk):
        lead = kk[:q]
        hit = None
        for d in range(k):
            c = E.eq(_index(indices[lead + (E.const(d),)], data.shape[d]), i[d])
            hit = c if hit is None else E.logical_and(hit, c)
        for d in range(k, data.ndim):
            c = E.eq(kk[q + d - k], i[d])
            hit = c if hit is None else E.logical_and(hit, c)
        return hit, updates[kk]

    return [_scatter(data, updates, matches, _reduction(attrs), "scatter_nd")]


define_op("ScatterND", _snd_infer, _snd_reference, _snd_compute, OpPattern.OPAQUE,
          "ScatterND(data, indices, updates; reduction).")


# --- OneHot --------------------------------------------------------------------------------

def _onehot_axis(rank, attrs):
    return normalize_axis(attrs.get("axis", -1), rank + 1, "OneHot axis")


def _onehot_infer(types, attrs):
    indices, values = types
    depth = int(attrs["depth"])
    if int(np.prod(values.shape)) != 2 or depth < 1:
        raise ValueError(f"OneHot needs 2 values and depth >= 1, got {values.shape}, {depth}")
    shape = list(indices.shape)
    shape.insert(_onehot_axis(len(shape), attrs), depth)
    return [TensorType(tuple(shape), values.dtype)]


def _onehot_reference(xs, attrs):
    indices, values = xs
    depth, axis = int(attrs["depth"]), _onehot_axis(indices.ndim, attrs)
    idx = indices.astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    hot = np.expand_dims(idx, axis) == np.arange(depth).reshape(
        [depth if d == axis else 1 for d in range(indices.ndim + 1)])
    vals = values.reshape(-1)
    return [np.where(hot, vals[1], vals[0])]


def _onehot_compute(inputs, attrs):
    indices, values = inputs
    depth, axis = int(attrs["depth"]), _onehot_axis(indices.ndim, attrs)
    shape = _onehot_infer([indices, values], attrs)[0].shape
    zeros = (E.const(0),) * values.ndim

    def read_value(n):
        return values[zeros[:-1] + (E.const(n),)] if values.ndim else values[()]

    def body(*i):
        idx = E.cast("int64", indices[i[:axis] + i[axis + 1:]])
        idx = E.select(E.lt(idx, E.const(0)), idx + E.const(depth), idx)
        return E.select(E.eq(idx, i[axis]), read_value(1), read_value(0))

    return [te.compute(shape, body, "one_hot", tag="injective")]


define_op("OneHot", _onehot_infer, _onehot_reference, _onehot_compute, OpPattern.INJECTIVE,
          "OneHot(indices, values; depth, axis).")


# --- ReverseSequence ------------------------------------------------------------------------

def _rs_axes(attrs):
    b, t = int(attrs.get("batch_axis", 1)), int(attrs.get("time_axis", 0))
    if {b, t} != {0, 1}:
        raise ValueError(f"ReverseSequence batch_axis {b} and time_axis {t} must be 0 and 1")
    return b, t


def _rs_infer(types, attrs):
    x, lens = types
    b, _ = _rs_axes(attrs)
    if len(x.shape) < 2 or tuple(lens.shape) != (x.shape[b],):
        raise ValueError(f"ReverseSequence: sequence_lens {lens.shape} must be ({x.shape[b]},)")
    return [x]


def _rs_reference(xs, attrs):
    x, lens = xs
    b, t = _rs_axes(attrs)
    out = x.copy()
    for n in range(x.shape[b]):
        ln = int(lens[n])
        src = [slice(None)] * x.ndim
        src[b], src[t] = n, slice(ln - 1, None, -1) if ln > 0 else slice(0, 0)
        dst = list(src)
        dst[t] = slice(0, ln)
        out[tuple(dst)] = x[tuple(src)]
    return [out]


def _rs_compute(inputs, attrs):
    x, lens = inputs
    b, t = _rs_axes(attrs)

    def body(*i):
        n = E.minimum(E.cast("int64", lens[i[b]]), E.const(x.shape[t]))
        rev = E.lt(i[t], n)
        j = clamp_index(E.select(rev, n - E.const(1) - i[t], i[t]), x.shape[t])
        return x[tuple(j if d == t else v for d, v in enumerate(i))]

    return [te.compute(x.shape, body, "reverse_sequence", tag="injective")]


define_op("ReverseSequence", _rs_infer, _rs_reference, _rs_compute, OpPattern.INJECTIVE,
          "ReverseSequence(X, sequence_lens; batch_axis, time_axis).")


# --- TensorScatter (KV-cache update) -----------------------------------------------------

def _ts_infer(types, attrs):
    past, update = types[:2]
    axis = attrs["axis"]
    if past.dtype != update.dtype or len(past.shape) != len(update.shape) or any(
            p != u for d, (p, u) in enumerate(zip(past.shape, update.shape)) if d != axis):
        raise ValueError(f"TensorScatter: update {update} must match past_cache {past} "
                         f"except along axis {axis}")
    if update.shape[axis] > past.shape[axis]:
        raise ValueError(f"TensorScatter: {update.shape[axis]} updates do not fit a cache of "
                         f"{past.shape[axis]} along axis {axis}")
    if len(types) == 3:
        _check_int(types[2], "TensorScatter")
        if tuple(types[2].shape) != (past.shape[0],):
            raise ValueError(f"TensorScatter: write_indices must have shape ({past.shape[0]},), "
                             f"got {types[2].shape}")
    return [past]


def _ts_reference(xs, attrs):
    past, update = xs[:2]
    axis, cap, n = attrs["axis"], past.shape[attrs["axis"]], update.shape[attrs["axis"]]
    starts = xs[2] if len(xs) == 3 else np.zeros(past.shape[0], np.int64)
    out = past.copy()
    for b in range(past.shape[0]):
        for s in range(n):
            pos = int(starts[b]) + s
            pos = pos % cap if attrs.get("mode", "linear") == "circular" else pos
            if 0 <= pos < cap:
                dst = [b] + [slice(None)] * (past.ndim - 1)
                src = list(dst)
                dst[axis], src[axis] = pos, s
                out[tuple(dst)] = update[tuple(src)]
    return [out]


def _ts_compute(inputs, attrs):
    past, update = inputs[:2]
    axis, cap, n = attrs["axis"], past.shape[attrs["axis"]], update.shape[attrs["axis"]]
    circular = attrs.get("mode", "linear") == "circular"

    def body(*i):
        start = E.cast("int64", inputs[2][(i[0],)]) if len(inputs) == 3 else E.const(0)
        k = i[axis] - start
        if circular:
            k = k % E.const(cap)  # floor modulo: in [0, cap)
        hit = E.logical_and(E.ge(k, E.const(0)), E.lt(k, E.const(n)))
        src = tuple(clamp_index(k, n) if d == axis else v for d, v in enumerate(i))
        return E.select(hit, update[src], past[i])

    return [te.compute(past.shape, body, "tensor_scatter", tag="injective")]


define_op("TensorScatter", _ts_infer, _ts_reference, _ts_compute, OpPattern.INJECTIVE,
          "TensorScatter(past_cache, update[, write_indices]; axis, mode).")
