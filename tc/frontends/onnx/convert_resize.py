"""ONNX converters for Resize (opset 10+) and Upsample (opset 7-9): scales, sizes, roi and
axes become the canonical attributes of tc's Resize (see tc/compiler/ops/resize.py)."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from .importer import FrontendError, converter


def _round_half_up(v: float) -> int:
    return int(np.floor(v + 0.5))


def _resize_attrs(cv, node, attrs, x, scales, sizes, roi):
    shape, rank = x.type.shape, len(x.type.shape)
    axes = [normalize_axis(a, rank) for a in attrs.get("axes", range(rank))]
    full_scales = [1.0] * rank
    out = list(shape)
    if sizes is not None and len(sizes):
        sizes = [int(v) for v in sizes]
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            ratios = [sz / shape[a] for a, sz in zip(axes, sizes)]
            r = min(ratios) if policy == "not_larger" else max(ratios)
            sizes = [_round_half_up(r * shape[a]) for a in axes]
            for a in axes:
                full_scales[a] = r
        for a, sz in zip(axes, sizes):
            out[a] = sz
            if policy == "stretch":
                full_scales[a] = sz / shape[a]
    elif scales is not None:
        crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
        k = 0 if roi is None else len(roi) // 2
        for j, (a, sc) in enumerate(zip(axes, scales)):
            full_scales[a] = float(sc)
            extent = float(roi[k + j] - roi[j]) if crop and k else 1.0
            # float32 arithmetic, as onnxruntime and the ONNX reference do
            out[a] = int(np.floor(np.float32(shape[a]) * np.float32(extent) * np.float32(sc)))
    else:
        raise FrontendError(f"Resize {node.name!r} has neither scales nor sizes")
    full_roi = [0.0] * rank + [1.0] * rank
    if roi is not None and len(roi):
        k = len(roi) // 2
        for j, a in enumerate(axes):
            full_roi[a], full_roi[rank + a] = float(roi[j]), float(roi[k + j])
    mode = attrs.get("mode", "nearest")
    return {"sizes": tuple(out), "scales": tuple(full_scales),
            "mode": "linear" if mode in ("bilinear", "trilinear") else mode,
            "coordinate_transformation_mode": attrs.get("coordinate_transformation_mode",
                                                        "half_pixel"),
            "nearest_mode": attrs.get("nearest_mode", "round_prefer_floor"),
            "cubic_coeff_a": float(attrs.get("cubic_coeff_a", -0.75)),
            "exclude_outside": int(attrs.get("exclude_outside", 0)),
            "extrapolation_value": float(attrs.get("extrapolation_value", 0.0)),
            "roi": tuple(full_roi),
            "antialias": int(attrs.get("antialias", 0)) if mode != "nearest" else 0}


@converter("Resize")
def _resize(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 11:  # opset 10: (X, scales), asymmetric coordinates, floor for nearest
        scales = cv.const_array(node.input[1], "Resize's scales input")
        attrs = dict(attrs, coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        a = _resize_attrs(cv, node, attrs, x, scales, None, None)
    else:
        roi = cv.optional_const(node, 1, "Resize's roi input")
        scales = cv.optional_const(node, 2, "Resize's scales input")
        sizes = cv.optional_const(node, 3, "Resize's sizes input")
        if scales is not None and not len(scales):
            scales = None
        a = _resize_attrs(cv, node, attrs, x, scales, sizes, roi)
    cv.emit("Resize", [x], a, node)


@converter("Upsample")
def _upsample(cv, node, attrs):
    x = cv.value(node.input[0])
    if "scales" in attrs:
        scales = attrs["scales"]
    else:
        scales = cv.const_array(node.input[1], "Upsample's scales input")
    attrs = dict(attrs, coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    cv.emit("Resize", [x], _resize_attrs(cv, node, attrs, x, scales, None, None), node)
