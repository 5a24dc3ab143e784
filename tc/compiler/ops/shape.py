"""Shape and data-movement ops (injective): Reshape, Flatten, Transpose, Concat, Unsqueeze,
Squeeze, Identity, Dropout, ConstantOfShape, Shape.

Canonical attributes (data-dependent ONNX inputs are resolved by the frontend):
- Reshape(X; shape): the full output shape, no 0 or -1.
- Flatten(X; axis): 0 <= axis <= rank; output (prod(shape[:axis]), prod(shape[axis:])).
- Transpose(X; perm): a permutation of range(rank), always present.
- Concat(X...; axis): non-negative.
- Unsqueeze(X; axes): sorted, non-negative positions in the *output*.
- Squeeze(X; axes): sorted, non-negative positions in the input, each of size 1.
- Identity(X), Dropout(X): no attributes; Dropout is inference-mode (identity), one output.
- ConstantOfShape(; shape, value, dtype): no inputs; ``value`` a Python scalar and
  ``dtype`` a numpy dtype name.
- Shape(X; start, end): 0 <= start <= end <= rank; int64 output of X's dims[start:end].
TE tag of every stage: "injective".
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.ir import TensorType
from ..te import expr as E
from .common import clamp_index, define_op, normalize_axis, same_dtype
from .registry import OpPattern


def _injective(name: str, infer, reference, index_map, doc: str):
    """Register an op whose single output reads X at ``index_map(x, out_shape, attrs, i)``."""

    def compute(inputs, attrs):
        (x,) = inputs
        shape = infer([TensorType(x.shape, x.dtype)], attrs)[0].shape
        return [te.compute(shape, lambda *i: x[index_map(x, shape, attrs, i)], name.lower(),
                           tag="injective")]

    define_op(name, infer, reference, compute, OpPattern.INJECTIVE, doc)


def _unravel(flat: E.Expr, shape) -> tuple:
    """Row-major indices of ``flat`` (in range for ``shape``) in ``shape``."""
    out, stride = [], 1
    outermost = min((d for d, n in enumerate(shape) if n != 1), default=-1)
    for d in range(len(shape) - 1, -1, -1):
        q = flat if stride == 1 else flat // E.const(stride)
        out.append(E.const(0) if shape[d] == 1 else q if d == outermost
                   else q % E.const(shape[d]))
        stride *= shape[d]
    return tuple(reversed(out))


def _ravel(indices, shape) -> E.Expr:
    flat, stride = E.const(0), 1
    for i, dim in zip(reversed(indices), reversed(shape)):
        if dim != 1:
            flat = flat + i * E.const(stride) if stride != 1 else flat + i
        stride *= dim
    return flat


def _reshape_groups(src, dst) -> list:
    """Pair runs of ``src`` and ``dst`` dims of equal sizes, left to right: a list of
    ((src_lo, src_hi), (dst_lo, dst_hi)) ranges.  A reshape maps each run on its own,
    so dims it keeps (the H, W of a channel shuffle) are read directly rather than
    through the whole flat index.  One run of everything when a dim is 0."""
    if 0 in src or 0 in dst:
        return [((0, len(src)), (0, len(dst)))]
    groups, a, b = [], 0, 0
    while a < len(src) or b < len(dst):
        a0, b0, p, q = a, b, 1, 1
        if a < len(src):
            p, a = src[a], a + 1
        if b < len(dst):
            q, b = dst[b], b + 1
        while p != q:
            if p < q:
                p, a = p * src[a], a + 1
            else:
                q, b = q * dst[b], b + 1
        groups.append(((a0, a), (b0, b)))
    return groups


def _reshape_index(x, shape, attrs, i):
    out = []
    for (a0, a1), (b0, b1) in _reshape_groups(x.shape, shape):
        out.extend(_unravel(_ravel(i[b0:b1], shape[b0:b1]), x.shape[a0:a1]))
    return tuple(out)


# --- Reshape / Flatten -----------------------------------------------------------------

def _reshape_infer(types, attrs):
    (x,) = types
    shape = tuple(int(d) for d in attrs["shape"])
    if any(d < 0 for d in shape) or int(np.prod(shape)) != x.size:
        raise ValueError(f"cannot reshape {x.shape} ({x.size} elements) to {shape}; the "
                         "canonical Reshape shape has no 0 or -1")
    return [TensorType(shape, x.dtype)]


_injective("Reshape", _reshape_infer, lambda xs, a: [xs[0].reshape(tuple(a["shape"]))],
           _reshape_index, "Reshape(X; shape): full target shape.")


def _flatten_shape(shape, attrs):
    axis = int(attrs.get("axis", 1))
    if not 0 <= axis <= len(shape):
        raise ValueError(f"Flatten axis {axis} out of range for rank {len(shape)}")
    return (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))


_injective("Flatten", lambda t, a: [TensorType(_flatten_shape(t[0].shape, a), t[0].dtype)],
           lambda xs, a: [xs[0].reshape(_flatten_shape(xs[0].shape, a))],
           _reshape_index, "Flatten(X; axis): to 2-D at axis.")


# --- Transpose -------------------------------------------------------------------------

def _perm(rank, attrs):
    perm = tuple(attrs.get("perm", range(rank - 1, -1, -1)))
    if sorted(perm) != list(range(rank)):
        raise ValueError(f"Transpose perm {perm} is not a permutation of rank {rank}")
    return perm


def _transpose_index(x, shape, attrs, i):
    perm = _perm(x.ndim, attrs)
    idx = [None] * x.ndim
    for out_dim, in_dim in enumerate(perm):
        idx[in_dim] = i[out_dim]
    return tuple(idx)


_injective("Transpose",
           lambda t, a: [TensorType(tuple(t[0].shape[p] for p in _perm(len(t[0].shape), a)),
                                    t[0].dtype)],
           lambda xs, a: [np.transpose(xs[0], _perm(xs[0].ndim, a))],
           _transpose_index, "Transpose(X; perm).")


# --- Unsqueeze / Squeeze ---------------------------------------------------------------

def _unsqueeze_shape(shape, attrs):
    rank = len(shape) + len(attrs["axes"])
    axes = sorted(normalize_axis(a, rank, "Unsqueeze axis") for a in attrs["axes"])
    if len(set(axes)) != len(axes):
        raise ValueError(f"Unsqueeze axes {attrs['axes']} repeat")
    rest = iter(shape)
    return tuple(1 if d in axes else next(rest) for d in range(rank))


def _unsqueeze_index(x, shape, attrs, i):
    axes = {normalize_axis(a, len(shape)) for a in attrs["axes"]}
    return tuple(v for d, v in enumerate(i) if d not in axes)


_injective("Unsqueeze", lambda t, a: [TensorType(_unsqueeze_shape(t[0].shape, a), t[0].dtype)],
           lambda xs, a: [xs[0].reshape(_unsqueeze_shape(xs[0].shape, a))],
           _unsqueeze_index, "Unsqueeze(X; axes): axes index the output.")


def _squeeze_axes(shape, attrs):
    axes = {normalize_axis(a, len(shape), "Squeeze axis") for a in attrs["axes"]}
    if any(shape[a] != 1 for a in axes):
        raise ValueError(f"Squeeze axes {attrs['axes']} of shape {shape} are not all size 1")
    return axes


def _squeeze_shape(shape, attrs):
    axes = _squeeze_axes(shape, attrs)
    return tuple(s for d, s in enumerate(shape) if d not in axes)


def _squeeze_index(x, shape, attrs, i):
    axes, rest = _squeeze_axes(x.shape, attrs), iter(i)
    return tuple(E.const(0) if d in axes else next(rest) for d in range(x.ndim))


_injective("Squeeze", lambda t, a: [TensorType(_squeeze_shape(t[0].shape, a), t[0].dtype)],
           lambda xs, a: [xs[0].reshape(_squeeze_shape(xs[0].shape, a))],
           _squeeze_index, "Squeeze(X; axes): axes index the input, each of size 1.")


# --- Identity / Dropout ----------------------------------------------------------------

for _name in ("Identity", "Dropout"):
    _injective(_name, lambda t, a: [t[0]], lambda xs, a: [xs[0].copy()],
               lambda x, shape, attrs, i: tuple(i),
               f"{_name}(X): the input unchanged (Dropout in inference mode).")


# --- Concat ----------------------------------------------------------------------------

def _concat_infer(types, attrs):
    if not types:
        raise ValueError("Concat needs at least one input")
    rank = len(types[0].shape)
    axis = normalize_axis(attrs["axis"], rank, "Concat axis")
    for t in types:
        if len(t.shape) != rank or any(a != b for d, (a, b) in enumerate(zip(t.shape, types[0].shape))
                                       if d != axis):
            raise ValueError(f"Concat on axis {axis}: shapes {[t.shape for t in types]} differ "
                             "off the axis")
    shape = list(types[0].shape)
    shape[axis] = sum(t.shape[axis] for t in types)
    return [TensorType(tuple(shape), same_dtype(types, "Concat"))]


def _concat_compute(inputs, attrs):
    axis = normalize_axis(attrs["axis"], inputs[0].ndim)
    shape = _concat_infer([TensorType(t.shape, t.dtype) for t in inputs], attrs)[0].shape

    def body(*i):
        offsets = np.cumsum([0] + [t.shape[axis] for t in inputs])
        out = None
        for t, lo in reversed(list(zip(inputs, offsets))):  # build the Select chain inside out
            j = i[axis] - E.const(int(lo))
            read = t[i[:axis] + (clamp_index(j, t.shape[axis]),) + i[axis + 1:]]
            out = read if out is None else E.select(E.lt(i[axis], E.const(int(lo) + t.shape[axis])),
                                                    read, out)
        return out

    return [te.compute(shape, body, "concat", tag="injective", attrs={"axis": axis})]


define_op("Concat", _concat_infer,
          lambda xs, a: [np.concatenate(xs, axis=normalize_axis(a["axis"], xs[0].ndim))],
          _concat_compute, OpPattern.INJECTIVE, "Concat(X...; axis).")


# --- ConstantOfShape / Shape -----------------------------------------------------------

def _cos_infer(types, attrs):
    if types:
        raise ValueError("canonical ConstantOfShape takes no inputs: its shape is an attribute")
    return [TensorType(tuple(attrs["shape"]), attrs.get("dtype", "float32"))]


def _cos_compute(inputs, attrs):
    dtype = attrs.get("dtype", "float32")
    return [te.compute(tuple(attrs["shape"]), lambda *i: E.const(attrs.get("value", 0), dtype),
                       "constant_of_shape", tag="injective")]


define_op("ConstantOfShape", _cos_infer,
          lambda xs, a: [np.full(tuple(a["shape"]), a.get("value", 0), a.get("dtype", "float32"))],
          _cos_compute, OpPattern.INJECTIVE, "ConstantOfShape(; shape, value, dtype).")


def _shape_range(rank, attrs):
    start, end = int(attrs.get("start", 0)), int(attrs.get("end", rank))
    if not 0 <= start <= end <= rank:
        raise ValueError(f"Shape start={start}, end={end} is not a range of rank {rank}")
    return start, end


def _shape_infer(types, attrs):
    start, end = _shape_range(len(types[0].shape), attrs)
    return [TensorType((end - start,), "int64")]


def _shape_compute(inputs, attrs):
    (x,) = inputs
    start, end = _shape_range(x.ndim, attrs)
    dims = x.shape[start:end]

    def body(i):
        out = E.const(dims[-1] if dims else 0)
        for d in range(len(dims) - 2, -1, -1):
            out = E.select(E.eq(i, E.const(d)), E.const(dims[d]), out)
        return out

    return [te.compute((end - start,), body, "shape", tag="injective")]


define_op("Shape", _shape_infer,
          lambda xs, a: [np.array(xs[0].shape[slice(*_shape_range(xs[0].ndim, a))], np.int64)],
          _shape_compute, OpPattern.INJECTIVE, "Shape(X; start, end).")


# --- Expand / Slice / Tile / DepthToSpace / SpaceToDepth / Trilu -------------------------
# Canonical attributes:
# - Expand(X; shape): the full output shape (the numpy broadcast of X's shape and ONNX's
#   shape input, computed by the frontend). Tag "broadcast".
# - Slice(X; starts, steps, sizes): one entry per dim; out[i] = X[starts + i * steps],
#   0 <= starts < dim (any value when sizes is 0), steps non-zero. The frontend applies
#   ONNX's clamping of starts/ends.
# - Tile(X; repeats): one positive int per dim.
# - DepthToSpace(X; blocksize, mode "DCR"|"CRD"), SpaceToDepth(X; blocksize, mode): NCHW.
# - Trilu(X; upper (0|1), k (int)): keeps the upper/lower triangle of the last two dims.

def _expand_infer(types, attrs):
    (x,) = types
    shape = tuple(int(d) for d in attrs["shape"])
    from .common import broadcast_shapes
    if broadcast_shapes(x.shape, shape) != shape:
        raise ValueError(f"Expand: {x.shape} does not broadcast to {shape}; the canonical "
                         "shape is the broadcast of both")
    return [TensorType(shape, x.dtype)]


def _expand_compute(inputs, attrs):
    from .common import broadcast_read
    (x,) = inputs
    shape = tuple(int(d) for d in attrs["shape"])
    return [te.compute(shape, lambda *i: broadcast_read(x, i), "expand", tag="broadcast")]


define_op("Expand", _expand_infer,
          lambda xs, a: [np.broadcast_to(xs[0], tuple(a["shape"])).copy()],
          _expand_compute, OpPattern.BROADCAST, "Expand(X; shape): full broadcast shape.")


def _slice_check(shape, attrs):
    starts, steps, sizes = (tuple(int(v) for v in attrs[k]) for k in ("starts", "steps", "sizes"))
    if not len(starts) == len(steps) == len(sizes) == len(shape):
        raise ValueError(f"Slice needs starts/steps/sizes for each of {len(shape)} dims")
    for d, (s, st, n) in enumerate(zip(starts, steps, sizes)):
        if st == 0 or n < 0 or (n and not (0 <= s < shape[d] and 0 <= s + (n - 1) * st < shape[d])):
            raise ValueError(f"Slice of dim {d} (size {shape[d]}) with start {s}, step {st}, "
                             f"size {n} reads out of bounds")
    return starts, steps, sizes


def _slice_reference(xs, attrs):
    (x,) = xs
    starts, steps, sizes = _slice_check(x.shape, attrs)
    for d, (s, st, n) in enumerate(zip(starts, steps, sizes)):
        x = np.take(x, s + st * np.arange(n, dtype=np.int64), axis=d)
    return [x]


def _slice_index(x, shape, attrs, i):
    starts, steps, _ = _slice_check(x.shape, attrs)
    return tuple(v if (s, st) == (0, 1) else E.const(s) + v * E.const(st)
                 for v, s, st in zip(i, starts, steps))


_injective("Slice",
           lambda t, a: [TensorType(_slice_check(t[0].shape, a)[2], t[0].dtype)],
           _slice_reference, _slice_index,
           "Slice(X; starts, steps, sizes): out[i] = X[starts + i * steps] per dim.")


def _tile_repeats(rank, attrs):
    repeats = tuple(int(r) for r in attrs["repeats"])
    if len(repeats) != rank or min(repeats, default=1) < 0:
        raise ValueError(f"Tile needs {rank} non-negative repeats, got {repeats}")
    return repeats


_injective("Tile",
           lambda t, a: [TensorType(tuple(s * r for s, r in zip(
               t[0].shape, _tile_repeats(len(t[0].shape), a))), t[0].dtype)],
           lambda xs, a: [np.tile(xs[0], _tile_repeats(xs[0].ndim, a))],
           lambda x, shape, attrs, i: tuple(E.const(0) if n == 1 else v % E.const(n)
                                            for v, n in zip(i, x.shape)),
           "Tile(X; repeats).")


def _d2s_split(shape, attrs):
    b = int(attrs["blocksize"])
    if len(shape) != 4 or b < 1 or shape[1] % (b * b):
        raise ValueError(f"DepthToSpace needs NCHW input with C divisible by blocksize^2 "
                         f"({b}^2), got {shape}")
    return b


def _d2s_shape(shape, attrs):
    b = _d2s_split(shape, attrs)
    n, c, h, w = shape
    return (n, c // (b * b), h * b, w * b)


def _d2s_reference(xs, attrs):
    (x,) = xs
    b, (n, c, h, w) = _d2s_split(x.shape, attrs), x.shape
    if attrs.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return [y.reshape(_d2s_shape(x.shape, attrs))]


def _d2s_index(x, shape, attrs, i):
    b = _d2s_split(x.shape, attrs)
    n, c, y, xx = i
    bb, cc = E.const(b), E.const(shape[1])
    hy, by, wx, bx = y // bb, y % bb, xx // bb, xx % bb
    if attrs.get("mode", "DCR") == "DCR":
        ch = (by * bb + bx) * cc + c
    else:
        ch = c * E.const(b * b) + by * bb + bx
    return (n, ch, hy, wx)


_injective("DepthToSpace", lambda t, a: [TensorType(_d2s_shape(t[0].shape, a), t[0].dtype)],
           _d2s_reference, _d2s_index, "DepthToSpace(X; blocksize, mode DCR|CRD): NCHW.")


def _s2d_shape(shape, attrs):
    b = int(attrs["blocksize"])
    if len(shape) != 4 or b < 1 or shape[2] % b or shape[3] % b:
        raise ValueError(f"SpaceToDepth needs NCHW input with H, W divisible by blocksize {b}, "
                         f"got {shape}")
    n, c, h, w = shape
    return (n, c * b * b, h // b, w // b)


def _s2d_reference(xs, attrs):
    (x,) = xs
    b, (n, c, h, w) = int(attrs["blocksize"]), x.shape
    y = x.reshape(n, c, h // b, b, w // b, b)
    y = y.transpose(0, 1, 3, 5, 2, 4) if attrs.get("mode", "DCR") == "CRD" else \
        y.transpose(0, 3, 5, 1, 2, 4)
    return [y.reshape(_s2d_shape(x.shape, attrs))]


def _s2d_index(x, shape, attrs, i):
    b, c_in = int(attrs["blocksize"]), x.shape[1]
    n, ch, y, xx = i
    bb = E.const(b)
    if attrs.get("mode", "DCR") == "CRD":
        c, blk = ch // E.const(b * b), ch % E.const(b * b)
    else:
        blk, c = ch // E.const(c_in), ch % E.const(c_in)
    return (n, c, y * bb + blk // bb, xx * bb + blk % bb)


_injective("SpaceToDepth", lambda t, a: [TensorType(_s2d_shape(t[0].shape, a), t[0].dtype)],
           _s2d_reference, _s2d_index, "SpaceToDepth(X; blocksize, mode DCR|CRD): NCHW.")


def _trilu_infer(types, attrs):
    if len(types[0].shape) < 2:
        raise ValueError(f"Trilu needs rank >= 2, got shape {types[0].shape}")
    return [types[0]]


def _trilu_reference(xs, attrs):
    k = int(attrs.get("k", 0))
    return [np.triu(xs[0], k) if attrs.get("upper", 1) else np.tril(xs[0], k)]


def _trilu_compute(inputs, attrs):
    (x,) = inputs
    k, upper = int(attrs.get("k", 0)), bool(attrs.get("upper", 1))

    def body(*i):
        diff = i[-1] - i[-2]  # column - row
        keep = E.ge(diff, E.const(k)) if upper else E.le(diff, E.const(k))
        return E.select(keep, x[i], E.const(0, x.dtype))

    return [te.compute(x.shape, body, "trilu", tag="injective")]


define_op("Trilu", _trilu_infer, _trilu_reference, _trilu_compute, OpPattern.INJECTIVE,
          "Trilu(X; upper, k).")
