"""Resampling: upsample nearest (exact), linear, bilinear, trilinear and bicubic onto
tc's Resize."""
from __future__ import annotations

from .lowering import Lowering, arg, converter, op_name

#: torch's interpolation modes (in the op names) as Resize modes
_RESIZE_MODES = {"nearest": "nearest", "nearest_exact": "nearest", "linear": "linear",
                 "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}


@converter("aten.upsample_nearest1d.vec", "aten.upsample_nearest2d.vec",
           "aten.upsample_nearest3d.vec", "aten._upsample_nearest_exact1d.vec",
           "aten._upsample_nearest_exact2d.vec", "aten._upsample_nearest_exact3d.vec",
           "aten.upsample_linear1d.vec", "aten.upsample_bilinear2d.vec",
           "aten.upsample_trilinear3d.vec", "aten.upsample_bicubic2d.vec")
def _upsample(cv: Lowering, node):
    """Resize as torch computes it, with ``scale`` the given scale factor, else size / in:
    nearest reads floor(out / scale) ("asymmetric"); nearest-exact rounds (out + 0.5) /
    scale - 0.5 half up; linear and cubic read (out + 0.5) / scale - 0.5 ("half_pixel":
    linear clamps a negative coordinate to 0 as torch does; cubic's taps clamp) or, with
    align_corners, out * (in - 1) / (size - 1)."""
    x = cv.value(node.args[0])
    shape, size = tuple(x.type.shape), cv.out_shape(node)
    rank = len(size)
    kind = op_name(node.target).split(".")[1].lstrip("_").removeprefix("upsample_")[:-2]
    mode = _RESIZE_MODES[kind]
    align = mode != "nearest" and bool(arg(node, 2, "align_corners", False))
    factors = arg(node, 2 if mode == "nearest" else 3, "scale_factors")
    if factors and not align:
        scales = (1.0, 1.0) + tuple(float(f) for f in factors)
    else:
        scales = tuple(m / k for m, k in zip(size, shape))
    coords = "align_corners" if align else "asymmetric" if kind == "nearest" else "half_pixel"
    attrs = {"sizes": size, "scales": scales, "mode": mode,
             "coordinate_transformation_mode": coords,
             "nearest_mode": "round_prefer_ceil" if kind == "nearest_exact" else "floor",
             "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0,
             "roi": (0.0,) * rank + (1.0,) * rank, "antialias": 0}
    return cv.emit("Resize", [x], attrs, node)
