"""ONNX converter for RoiAlign (opsets 10 and 16); see tc/compiler/ops/roi_align.py for
the canonical op. Adaptive sampling (sampling_ratio=0) needs the rois at compile time:
their largest sampling grid becomes the static one."""
from __future__ import annotations

from ...compiler.ops.roi_align import adaptive_grid
from .importer import converter


@converter("RoiAlign")
def _roi_align(cv, node, attrs):
    x, rois, batch = cv.inputs(node)[:3]
    # opset 10 has no coordinate_transformation_mode and behaves as output_half_pixel
    default_coords = "half_pixel" if cv.opset >= 16 else "output_half_pixel"
    canonical = {"mode": attrs.get("mode", "avg"),
                 "output_height": int(attrs.get("output_height", 1)),
                 "output_width": int(attrs.get("output_width", 1)),
                 "sampling_ratio": int(attrs.get("sampling_ratio", 0)),
                 "spatial_scale": float(attrs.get("spatial_scale", 1.0)),
                 "coordinate_transformation_mode": attrs.get("coordinate_transformation_mode",
                                                             default_coords)}
    if canonical["sampling_ratio"] == 0:
        values = cv.const_array(
            node.input[1], "RoiAlign's rois input (adaptive sampling, sampling_ratio=0, "
            "needs constant rois, or give a positive sampling_ratio)")
        canonical["max_grid"] = adaptive_grid(values, x.type.dtype, canonical)
    cv.emit("RoiAlign", [x, rois, batch], canonical, node)
