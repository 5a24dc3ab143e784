"""RoiAlign: average or max pooling of bilinear samples over regions of interest.

RoiAlign(X (N, C, H, W), rois (R, 4) as (x1, y1, x2, y2), batch_indices (R,)) ->
Y (R, C, output_height, output_width).
Canonical attributes (the frontend fills every one):
- ``mode``: "avg" | "max";
- ``output_height``, ``output_width``: ints >= 1;
- ``sampling_ratio``: int >= 0; 0 is adaptive: ceil(roi_height / output_height) (and
  likewise for the width) samples per bin, which differs from roi to roi;
- ``spatial_scale``: float; ``coordinate_transformation_mode``: "half_pixel" |
  "output_half_pixel" (the latter, ONNX opset 10's only behaviour, shifts nothing and
  stretches rois to at least 1 x 1);
- ``max_grid``: (rows, cols), adaptive sampling only: the static sampling grid of a bin.
  A roi's own grid is clamped to it; the frontend computes it over constant rois, so
  nothing is clamped there.
Bin (ph, pw) of roi r averages (or takes the max of) a grid of samples at
start + bin * (p + (i + 0.5) / grid) in each dim. A sample outside [-1, H] x [-1, W] is
0; any other is interpolated from the four pixels around it, clamped to the image. As in
onnxruntime and the ONNX reference, "max" takes the largest of the four weighted corner
values of a sample, then the largest over the samples. Coordinates, weights and sums are
computed in the rois' float type (float32 for float16), in onnxruntime's order.

TE stages: "roi_align_geometry" (R, 6): each roi's start, bin size and grid per dim;
"roi_align_index<d>" (R, out_d, grid_d, 2) int64 and "roi_align_weight<d>" (same shape)
for d = 0 (rows), 1 (cols): each sample's two taps and their weights (0 outside the
image, index -1 beyond the roi's own grid); the output stage "roi_align" reduces over
the grid (sum of weighted reads divided by the roi's count, or max). Generic schedule.
"""
from __future__ import annotations

import numpy as np

from .. import te
from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from ..te import expr as E
from .common import cast_stage, clamp_index, define_op
from .registry import OpPattern

MODES = ("avg", "max")
COORD_MODES = ("half_pixel", "output_half_pixel")


class _NumpyMath:
    floor, ceil = staticmethod(np.floor), staticmethod(np.ceil)
    where = staticmethod(np.where)
    maximum, minimum = staticmethod(np.maximum), staticmethod(np.minimum)
    to_int = staticmethod(lambda v: v.astype(np.int64))
    both = staticmethod(np.logical_and)
    ge = staticmethod(lambda a, b: a >= b)
    le = staticmethod(lambda a, b: a <= b)
    lt = staticmethod(lambda a, b: a < b)


class _TEMath:
    floor = staticmethod(lambda v: E.call("floor", v))
    ceil = staticmethod(lambda v: E.call("ceil", v))
    where = staticmethod(E.select)
    maximum, minimum = staticmethod(E.maximum), staticmethod(E.minimum)
    to_int = staticmethod(lambda v: E.cast("int64", v))
    both = staticmethod(E.logical_and)
    ge, le, lt = staticmethod(E.ge), staticmethod(E.le), staticmethod(E.lt)


def coord_dtype(x_dtype: str) -> str:
    """The float type of the coordinate and accumulation arithmetic."""
    return "float64" if x_dtype == "float64" else "float32"


def _out_size(attrs) -> tuple[int, int]:
    return int(attrs.get("output_height", 1)), int(attrs.get("output_width", 1))


def _check(attrs) -> None:
    for key, allowed in (("mode", MODES), ("coordinate_transformation_mode", COORD_MODES)):
        if attrs.get(key, allowed[0]) not in allowed:
            raise ValueError(f"RoiAlign {key} {attrs.get(key)!r} is not supported; "
                             f"tc has {allowed}")
    if min(_out_size(attrs)) < 1:
        raise ValueError(f"RoiAlign output size must be positive, got {_out_size(attrs)}")
    ratio = int(attrs.get("sampling_ratio", 0))
    if ratio < 0:
        raise ValueError(f"RoiAlign sampling_ratio must be >= 0, got {ratio}")
    if ratio == 0 and len(attrs.get("max_grid", ())) != 2:
        raise ValueError("RoiAlign with adaptive sampling (sampling_ratio=0) needs the "
                         "max_grid attribute (the frontend computes it from constant rois)")


def grid_extent(attrs) -> tuple[int, int]:
    """The static (rows, cols) sampling grid of a bin."""
    ratio = int(attrs.get("sampling_ratio", 0))
    if ratio > 0:
        return ratio, ratio
    return tuple(max(int(g), 1) for g in attrs["max_grid"])


def _geometry(x1, y1, x2, y2, attrs, M, limit=None):
    """Per roi and dim (rows, cols): start, bin size and sampling grid (a float; the
    adaptive one clamped to [0, limit[d]], or unclamped without ``limit``)."""
    half = attrs.get("coordinate_transformation_mode", "half_pixel") == "half_pixel"
    scale = float(np.float32(attrs.get("spatial_scale", 1.0)))  # a float attribute
    offset = 0.5 if half else 0.0
    starts = (y1 * scale - offset, x1 * scale - offset)
    ends = (y2 * scale - offset, x2 * scale - offset)
    ratio = int(attrs.get("sampling_ratio", 0))
    out = []
    for d, size in enumerate(_out_size(attrs)):
        extent = ends[d] - starts[d]
        if not half:  # malformed rois become 1 x 1
            extent = M.maximum(extent, 1.0)
        if ratio > 0:
            grid = extent * 0.0 + float(ratio)
        else:
            grid = M.ceil(extent / size)
            if limit is not None:  # NaN and negatives become 0
                grid = M.minimum(M.where(M.ge(grid, 0.0), grid, 0.0), float(limit[d]))
        out.append((starts[d], extent / size, grid))
    return out


def adaptive_grid(rois: np.ndarray, x_dtype: str, attrs) -> tuple[int, int]:
    """The largest adaptive (rows, cols) sampling grid over constant ``rois``."""
    cols = rois.astype(coord_dtype(x_dtype)).reshape(-1, 4).T
    dims = _geometry(*cols, dict(attrs, sampling_ratio=0), _NumpyMath)
    # non-finite grids (NaN or infinite rois) are left out; the TE clamps to the result
    return tuple(int(max(np.max(np.nan_to_num(grid, nan=0.0, posinf=0.0, neginf=0.0),
                                initial=0.0), 1.0)) for _, _, grid in dims)


def _taps(start, bin_size, grid, p, i, size: int, M):
    """The sample of bin ``p``, grid step ``i`` along a dim of ``size`` pixels: its taps
    (low, high), their weights (0 outside [-1, size]) and whether ``i`` is in the grid."""
    c = start + p * bin_size + (i + 0.5) * bin_size / M.maximum(grid, 1.0)
    weighted = M.both(M.both(M.ge(c, -1.0), M.le(c, float(size))), M.lt(i, grid))
    c = M.minimum(M.where(M.ge(c, 0.0), c, 0.0), float(size))  # NaN becomes 0
    low = M.floor(c)
    low_i = M.to_int(low)
    edge = M.ge(low_i, size - 1)
    lo = M.where(edge, size - 1, low_i)
    hi = M.where(edge, size - 1, low_i + 1)
    frac = M.where(edge, 0.0, c - low)
    w_lo = M.where(weighted, 1.0 - frac, 0.0)
    w_hi = M.where(weighted, frac, 0.0)
    return (lo, hi), (w_lo, w_hi), M.lt(i, grid)


def _infer(types, attrs):
    x, rois, batch = types
    _check(attrs)
    if len(x.shape) != 4 or len(rois.shape) != 2 or rois.shape[1] != 4 \
            or tuple(batch.shape) != (rois.shape[0],):
        raise ValueError(f"RoiAlign needs X (N, C, H, W), rois (R, 4) and batch_indices (R,), "
                         f"got {x.shape}, {rois.shape} and {batch.shape}")
    if not is_floating(x.dtype) or rois.dtype != x.dtype:
        raise ValueError(f"RoiAlign needs float X and rois of one type, got {x.dtype} and "
                         f"{rois.dtype}")
    if not E.is_int(batch.dtype):
        raise ValueError(f"RoiAlign batch_indices must be integers, got {batch.dtype}")
    return [TensorType((rois.shape[0], x.shape[1]) + _out_size(attrs), x.dtype)]


def _reference(xs, attrs):
    x, rois, batch = xs
    _check(attrs)
    cdt = np.dtype(coord_dtype(str(x.dtype)))
    extent = grid_extent(attrs)
    cols = [c[:, None, None] for c in rois.astype(cdt).T]
    dims = _geometry(*cols, attrs, _NumpyMath, extent)
    taps = []
    for d, ((start, bin_size, grid), size) in enumerate(zip(dims, x.shape[2:])):
        p = np.arange(_out_size(attrs)[d], dtype=cdt)[None, :, None]
        i = np.arange(extent[d], dtype=cdt)[None, None, :]
        with np.errstate(invalid="ignore"):
            taps.append(_taps(start, bin_size, grid, p, i, size, _NumpyMath))
    (y_idx, y_w, y_in), (x_idx, x_w, x_in) = taps
    b = np.clip(batch.astype(np.int64), 0, x.shape[0] - 1)[:, None, None, None, None]
    data = x.astype(cdt)
    terms = []
    for ya, yw in zip(y_idx, y_w):
        for xa, xw in zip(x_idx, x_w):
            # (R, OH, OW, GH, GW, C): the advanced indices around the C slice come first
            read = data[b, :, ya[:, :, None, :, None], xa[:, None, :, None, :]]
            w = yw[:, :, None, :, None] * xw[:, None, :, None, :]
            terms.append(w[..., None] * read)
    grid_h, grid_w = dims[0][2][:, 0, 0], dims[1][2][:, 0, 0]
    if attrs.get("mode", "avg") == "avg":
        count = np.maximum(grid_h * grid_w, 1.0)[:, None, None, None]
        out = (terms[0] + terms[1] + terms[2] + terms[3]).sum(axis=(3, 4)) / count
    else:
        vals = np.maximum(np.maximum(np.maximum(terms[0], terms[1]), terms[2]), terms[3])
        inside = (y_in[:, :, None, :, None] & x_in[:, None, :, None, :])[..., None]
        out = np.where(inside, vals, -np.inf).max(axis=(3, 4))
        empty = (grid_h * grid_w == 0)[:, None, None, None]
        out = np.where(empty, 0.0, out)
    return [np.moveaxis(out, -1, 1).astype(x.dtype)]


def _compute(inputs, attrs):
    x, rois, batch = inputs
    _check(attrs)
    n, channels, height, width = x.shape
    num_rois = rois.shape[0]
    out_size = _out_size(attrs)
    extent = grid_extent(attrs)
    cdt = coord_dtype(x.dtype)
    adaptive = int(attrs.get("sampling_ratio", 0)) == 0

    def geometry_body(r, k):
        cols = [E.cast(cdt, rois[r, E.const(j)]) for j in range(4)]
        dims = _geometry(*cols, attrs, _TEMath, extent)
        # columns: start, bin size, grid of the rows, then of the cols
        values = [v for d in dims for v in d]
        order = [values[0], values[3], values[1], values[4], values[2], values[5]]
        out = order[-1]
        for j in range(len(order) - 2, -1, -1):
            out = E.select(E.eq(k, E.const(j)), order[j], out)
        return out

    geometry = te.compute((num_rois, 6), geometry_body, "roi_align_geometry",
                          tag="roi_align_geometry")

    def dim_stages(d, size):
        shape = (num_rois, out_size[d], extent[d], 2)

        def sample(r, p, i):
            return _taps(geometry[r, E.const(d)], geometry[r, E.const(2 + d)],
                         geometry[r, E.const(4 + d)], E.cast(cdt, p), E.cast(cdt, i), size,
                         _TEMath)

        def index_body(r, p, i, t):
            (lo, hi), _, in_grid = sample(r, p, i)
            return E.select(in_grid, E.select(E.eq(t, E.const(0)), lo, hi), E.const(-1))

        def weight_body(r, p, i, t):
            _, (w_lo, w_hi), _ = sample(r, p, i)
            return E.select(E.eq(t, E.const(0)), w_lo, w_hi)

        return (te.compute(shape, index_body, f"roi_align_index{d}", tag="roi_align_taps"),
                te.compute(shape, weight_body, f"roi_align_weight{d}", tag="roi_align_taps"))

    (y_index, y_weight), (x_index, x_weight) = dim_stages(0, height), dim_stages(1, width)
    iy, ix = te.reduce_axis(extent[0], "iy"), te.reduce_axis(extent[1], "ix")

    def body(r, ch, ph, pw):
        b = clamp_index(E.cast("int64", batch[r]), n)
        ys = [(y_index[r, ph, iy.var, E.const(t)], y_weight[r, ph, iy.var, E.const(t)])
              for t in (0, 1)]
        xs = [(x_index[r, pw, ix.var, E.const(t)], x_weight[r, pw, ix.var, E.const(t)])
              for t in (0, 1)]
        terms = [(wy * wx) * E.cast(cdt, x[b, ch, clamp_index(ya, height),
                                           clamp_index(xa, width)])
                 for ya, wy in ys for xa, wx in xs]
        grid_count = geometry[r, E.const(4)] * geometry[r, E.const(5)]
        if attrs.get("mode", "avg") == "avg":
            total = terms[0] + terms[1] + terms[2] + terms[3]
            count = (E.maximum(grid_count, 1.0) if adaptive
                     else E.const(float(extent[0] * extent[1]), cdt))
            return te.sum(total / count, axis=[iy, ix])
        val = E.maximum(E.maximum(E.maximum(terms[0], terms[1]), terms[2]), terms[3])
        if adaptive:  # skip samples beyond the roi's grid; a roi without any gives 0
            in_grid = E.logical_and(E.ge(ys[0][0], E.const(0)), E.ge(xs[0][0], E.const(0)))
            first = E.logical_and(E.eq(iy.var, E.const(0)), E.eq(ix.var, E.const(0)))
            empty = E.logical_and(E.eq(grid_count, 0.0), first)
            val = E.select(in_grid, val,
                           E.select(empty, E.const(0.0, cdt), E.const(-float("inf"), cdt)))
        return te.max(val, axis=[iy, ix])

    out_shape = (num_rois, channels) + out_size
    out = te.compute(out_shape, body, "roi_align", tag="roi_align")
    return [cast_stage(out, x.dtype, "roi_align_cast")]


define_op("RoiAlign", _infer, _reference, _compute, OpPattern.OUT_FUSABLE, __doc__)
