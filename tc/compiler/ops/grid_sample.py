"""GridSample and AffineGrid: sampling a tensor at the positions of a normalized grid.

GridSample(X (N, C, d1..dr), grid (N, o1..or, r)) -> Y (N, C, o1..or).
Canonical attributes (the frontend fills every one):
- ``mode``: "linear" | "nearest" | "cubic" (ONNX opset 16's bilinear/bicubic map here);
- ``padding_mode``: "zeros" | "border" | "reflection";
- ``align_corners``: 0 | 1.
``grid[n, o, :]`` lists normalized coordinates in reverse dim order (x = width first).
Each becomes a source coordinate: denormalized (-1 and 1 are the corner pixels' centers
with align_corners, their outer edges without) and rounded half to even for "nearest".
Linear and cubic (Keys, a = -0.75) read 2 or 4 taps per dim around it; a tap outside X
reads 0 ("zeros"), the edge pixel ("border"), or its mirror image about the border range
("reflection": the pixel centers with align_corners, the outer edges without).
Padding applies to each tap, as in onnxruntime and PyTorch. The ONNX reference
implementation first clamps a coordinate outside the border range in "border" mode, which
only changes cubic results (within 1.5 pixels outside X); tc follows onnxruntime there.

TE stages, per dim: "grid_sample_coords<d>" (N, o1..or), the source coordinates, then
"grid_sample_index<d>" and "grid_sample_weight<d>" (N, o1..or, taps), each tap's index
(-1 outside X in "zeros" mode) and weight; all materialized. The output stage
"grid_sample" sums the weighted reads over the taps' product (reduce axes, one per dim):
every read index is clamped into X and taps outside X are masked by selects.

AffineGrid(theta (N, r, r + 1); ``size`` (N, C, d1..dr), ``align_corners``) -> grid
(N, d1..dr, r): ``theta[n] @ (x, y[, z], 1)``, the base grid being the normalized
coordinates of X's pixel centers, in the same reverse dim order.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from ..te import expr as E
from .common import cast_stage, clamp_index, define_op
from .registry import OpPattern

MODES = ("linear", "nearest", "cubic")
PADDING_MODES = ("zeros", "border", "reflection")
CUBIC_A = -0.75
#: coordinates are clamped to [-_FAR, size + _FAR - 1] (NaN to -_FAR): every tap beyond
#: reads the same zero or edge pixel, and the float-to-int cast stays defined
_FAR = 4.0


class _NumpyMath:
    floor = staticmethod(np.floor)
    rint = staticmethod(np.rint)
    where = staticmethod(np.where)
    lt = staticmethod(lambda a, b: a < b)
    gt = staticmethod(lambda a, b: a > b)
    ge = staticmethod(lambda a, b: a >= b)
    either = staticmethod(np.logical_or)
    le = staticmethod(lambda a, b: a <= b)
    abs = staticmethod(np.abs)
    minimum = staticmethod(np.minimum)
    to_int = staticmethod(lambda x: x.astype(np.int64))


class _TEMath:
    floor = staticmethod(lambda x: E.call("floor", x))
    rint = staticmethod(lambda x: E.call("round", x))  # round half to even
    where = staticmethod(E.select)
    lt, gt, ge = staticmethod(E.lt), staticmethod(E.gt), staticmethod(E.ge)
    either = staticmethod(E.logical_or)
    le = staticmethod(E.le)
    abs = staticmethod(lambda x: E.call("fabs", x))
    minimum = staticmethod(E.minimum)
    to_int = staticmethod(lambda x: E.cast("int64", x))


def _check(attrs):
    for key, allowed in (("mode", MODES), ("padding_mode", PADDING_MODES)):
        if attrs.get(key, allowed[0]) not in allowed:
            raise ValueError(f"GridSample {key} {attrs.get(key)!r} is not supported; "
                             f"tc has {allowed}")


def _coord_dtype(grid_dtype: str) -> str:
    return "float64" if grid_dtype == "float64" else "float32"


def _acc_dtype(x_dtype: str, grid_dtype: str) -> str:
    return "float64" if "float64" in (x_dtype, grid_dtype) else "float32"


def _bounds(size: int, align: bool) -> tuple[float, float]:
    """The border range of a dim: pixel centers (align_corners) or outer edges."""
    return (0.0, size - 1.0) if align else (-0.5, size - 0.5)


def _reflect(x, lo: float, hi: float, M):
    """``x`` mirrored at ``lo`` and ``hi`` until it lies between them: a triangle wave
    of period 2 (hi - lo), written to read ``x`` once (TE bodies are trees)."""
    span = hi - lo
    if span <= 0:
        return x * 0.0 + lo
    period = 2.0 * span
    z = x - lo
    return (lo + span) - M.abs(z - period * M.floor(z / period) - span)


def _source_coord(g, size: int, attrs, M):
    """The (padded) source coordinate along a dim of size ``size`` of grid value ``g``."""
    align = bool(attrs.get("align_corners", 0))
    x = (g + 1.0) / 2.0 * (size - 1.0) if align else ((g + 1.0) * float(size) - 1.0) / 2.0
    if attrs.get("mode", "linear") == "nearest":
        x = M.rint(x)
    if attrs.get("padding_mode", "zeros") == "reflection":
        # the same taps as mirroring each tap index (the mirrors map pixels to pixels
        # and the kernels are symmetric), but with x kept in range for the int cast
        x = _reflect(x, *_bounds(size, align), M)
    # a select rather than max: NaN fails the test and becomes -_FAR
    return M.minimum(M.where(M.ge(x, -_FAR), x, -_FAR), size + _FAR - 1.0)


def _reflect_index(i, size: int, align: bool, M):
    """Integer tap index ``i`` mirrored into [0, size) as the ONNX reference does."""
    if align:
        if size == 1:
            return i * 0
        period = 2 * (size - 1)
        j = i % period
        return M.where(M.gt(j, size - 1), period - j, j)
    period = 2 * size
    j = i % period
    return M.where(M.ge(j, size), period - 1 - j, j)


def _offsets(mode: str) -> tuple[int, ...]:
    """Tap offsets from the coordinate's floor (its rounding for "nearest")."""
    return {"nearest": (0,), "linear": (0, 1), "cubic": (-1, 0, 1, 2)}[mode]


def _tap_index(c, offset, size: int, attrs, M, clamp):
    """Index of the tap at ``offset`` (int) of coordinate ``c``: in [0, size), or -1 for
    a tap outside X in "zeros" mode."""
    mode = attrs.get("mode", "linear")
    i = M.to_int(c if mode == "nearest" else M.floor(c)) + offset
    padding = attrs.get("padding_mode", "zeros")
    if padding == "zeros":
        return M.where(M.either(M.lt(i, 0), M.gt(i, size - 1)), i * 0 - 1, i)
    if padding == "reflection":
        i = _reflect_index(i, size, bool(attrs.get("align_corners", 0)), M)
    return clamp(i, size)


def _tap_weight(c, offset, mode: str, M):
    """Weight of the tap at ``offset`` (float) of coordinate ``c``: the linear or cubic
    (Keys) kernel at the tap's distance ``u`` from ``c``."""
    u = M.abs(c - M.floor(c) - offset)
    if mode == "linear":
        return 1.0 - u
    a = CUBIC_A
    near = ((a + 2.0) * u - (a + 3.0)) * u * u + 1.0                  # u <= 1
    far = ((a * u - 5.0 * a) * u + 8.0 * a) * u - 4.0 * a              # 1 <= u <= 2
    return M.where(M.le(u, 1.0), near, far)


def _product(lists):
    out = [[]]
    for options in lists:
        out = [prefix + [o] for prefix in out for o in options]
    return out


def _infer(types, attrs):
    x, grid = types
    _check(attrs)
    r = len(x.shape) - 2
    if r < 1 or len(grid.shape) != r + 2 or grid.shape[-1] != r or grid.shape[0] != x.shape[0]:
        raise ValueError(f"GridSample needs X (N, C, d1..dr) and grid (N, o1..or, r), got X "
                         f"{x.shape} and grid {grid.shape}")
    if not is_floating(grid.dtype):
        raise ValueError(f"GridSample's grid must be a float tensor, got {grid.dtype}")
    if attrs.get("mode", "linear") != "nearest" and not is_floating(x.dtype):
        raise ValueError(f"GridSample {attrs.get('mode', 'linear')} needs a float X, "
                         f"got {x.dtype}")
    return [TensorType((x.shape[0], x.shape[1]) + tuple(grid.shape[1:-1]), x.dtype)]


def _np_clamp(i, size):
    return np.clip(i, 0, size - 1)


def _reference(xs, attrs):
    x, grid = xs
    r = x.ndim - 2
    mode = attrs.get("mode", "linear")
    offsets = _offsets(mode)
    cdt = np.dtype(_coord_dtype(str(grid.dtype)))
    floating = is_floating(str(x.dtype))
    src = x.astype(_acc_dtype(str(x.dtype), str(grid.dtype))) if floating else x
    per_dim = []
    for d in range(r):
        with np.errstate(invalid="ignore"):
            c = _source_coord(grid[..., r - 1 - d].astype(cdt), x.shape[2 + d], attrs,
                              _NumpyMath).astype(cdt)[..., None]
        index = _tap_index(c, np.array(offsets), x.shape[2 + d], attrs, _NumpyMath, _np_clamp)
        weight = (None if mode == "nearest" else
                  _tap_weight(c, np.array(offsets, cdt), mode, _NumpyMath).astype(src.dtype))
        per_dim.append([(index[..., k], None if weight is None else weight[..., k])
                        for k in range(len(offsets))])
    n_idx = np.arange(x.shape[0]).reshape((-1,) + (1,) * r)
    acc = None
    for combo in _product(per_dim):
        # advanced indices around the C slice put C last: (N, o1..or, C)
        read = src[(n_idx, slice(None)) + tuple(np.maximum(i, 0) for i, _ in combo)]
        outside = np.logical_or.reduce([i < 0 for i, _ in combo])[..., None]
        read = np.where(outside, np.zeros((), read.dtype), read)
        for _, w in combo:
            if w is not None:
                read = read * w[..., None]
        acc = read if acc is None else acc + read
    return [np.moveaxis(acc, -1, 1).astype(x.dtype)]


def _compute(inputs, attrs):
    x, grid = inputs
    r = len(x.shape) - 2
    sizes = x.shape[2:]
    mode = attrs.get("mode", "linear")
    offsets = _offsets(mode)
    cdt = _coord_dtype(grid.dtype)
    acc_dt = _acc_dtype(x.dtype, grid.dtype) if E.is_float(x.dtype) else x.dtype
    zeros = attrs.get("padding_mode", "zeros") == "zeros"
    weighted = mode != "nearest"
    taps_shape = tuple(grid.shape[:-1]) + (len(offsets),)

    def dim_stages(d):
        def coord_body(*i):
            g = E.cast(cdt, grid[tuple(i) + (E.const(r - 1 - d),)])
            return _source_coord(g, sizes[d], attrs, _TEMath)

        coords = te.compute(tuple(grid.shape[:-1]), coord_body, f"grid_sample_coords{d}",
                            tag="grid_sample_coords")

        def index_body(*i):
            offset = i[-1] + E.const(offsets[0])
            return _tap_index(coords[i[:-1]], offset, sizes[d], attrs, _TEMath, clamp_index)

        def weight_body(*i):
            offset = E.cast(cdt, i[-1]) + float(offsets[0])
            return E.cast(acc_dt, _tap_weight(coords[i[:-1]], offset, mode, _TEMath))

        index = te.compute(taps_shape, index_body, f"grid_sample_index{d}",
                           tag="grid_sample_taps")
        weight = (None if not weighted else
                  te.compute(taps_shape, weight_body, f"grid_sample_weight{d}",
                             tag="grid_sample_taps"))
        return index, weight

    stages = [dim_stages(d) for d in range(r)]

    # linear/cubic sum over the product of the dims' taps, as reduce axes: the body
    # holds one tap however many there are (64 for 3-D cubic)
    taps = [te.reduce_axis(len(offsets), f"tap{d}") for d in range(r)] if weighted else None

    def body(n, ch, *o):
        at = (n,) + tuple(o)
        ks = [E.const(0)] * r if taps is None else [t.var for t in taps]
        idx = [index[at + (k,)] for (index, _), k in zip(stages, ks)]
        read = E.cast(acc_dt, x[(n, ch) + tuple(clamp_index(i, size)
                                                 for i, size in zip(idx, sizes))])
        if zeros:  # index -1 marks a tap outside X
            read = E.select(E.logical_or(*[E.lt(i, E.const(0)) for i in idx]),
                            E.const(0, acc_dt), read)
        if taps is None:
            return E.cast(x.dtype, read)
        for (_, weight), k in zip(stages, ks):
            read = read * weight[at + (k,)]
        return te.sum(read, axis=taps)

    out_shape = (x.shape[0], x.shape[1]) + tuple(grid.shape[1:-1])
    out = te.compute(out_shape, body, "grid_sample", tag="grid_sample")
    return [cast_stage(out, x.dtype, "grid_sample_cast")]


define_op("GridSample", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)


# --- AffineGrid -------------------------------------------------------------------------

def _base_coord(i, size: int, align: bool):
    """Normalized coordinate of pixel ``i`` of a dim (float64 array or expression)."""
    if size == 1 and align:
        return i * 0.0
    if align:
        return i * (2.0 / (size - 1)) - 1.0
    step = 2.0 / size
    return i * step + (step / 2.0 - 1.0)


def _affine_check(theta_shape, attrs):
    size = tuple(int(s) for s in attrs["size"])
    r = len(size) - 2
    if r not in (2, 3) or tuple(theta_shape) != (size[0], r, r + 1):
        raise ValueError(f"AffineGrid needs theta (N, r, r + 1) and size (N, C, d1..dr) for "
                         f"r = 2 or 3, got theta {tuple(theta_shape)} and size {size}")
    return size, r


def _affine_infer(types, attrs):
    (theta,) = types
    size, r = _affine_check(theta.shape, attrs)
    if not is_floating(theta.dtype):
        raise ValueError(f"AffineGrid's theta must be a float tensor, got {theta.dtype}")
    return [TensorType((size[0],) + size[2:] + (r,), theta.dtype)]


def _affine_reference(xs, attrs):
    (theta,) = xs
    size, r = _affine_check(theta.shape, attrs)
    align = bool(attrs.get("align_corners", 0))
    spatial = size[2:]
    # base[..., c]: the coordinate along spatial dim r - 1 - c (x first), then 1
    axes = [_base_coord(np.arange(d, dtype=np.float64), d, align) for d in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([mesh[r - 1 - c] for c in range(r)] + [np.ones(spatial)], axis=-1)
    out = np.einsum("nkj,...j->n...k", theta.astype(np.float64), base)
    return [out.astype(theta.dtype)]


def _affine_compute(inputs, attrs):
    (theta,) = inputs
    size, r = _affine_check(theta.shape, attrs)
    align = bool(attrs.get("align_corners", 0))
    spatial = size[2:]

    def body(n, *rest):
        s, k = rest[:-1], rest[-1]
        acc = E.cast("float64", theta[n, k, E.const(r)])
        for c in range(r):
            d = r - 1 - c
            coord = _base_coord(E.cast("float64", s[d]), spatial[d], align)
            acc = acc + E.cast("float64", theta[n, k, E.const(c)]) * coord
        return E.cast(theta.dtype, acc)

    shape = (size[0],) + spatial + (r,)
    return [te.compute(shape, body, "affine_grid", tag="injective")]


define_op("AffineGrid", _affine_infer, _affine_reference, _affine_compute,
          OpPattern.INJECTIVE, "AffineGrid(theta; size, align_corners): see GridSample's doc.")
