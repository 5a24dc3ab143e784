"""ONNX converters for GridSample (opsets 16, 20, 22) and AffineGrid (opset 20); see
tc/compiler/ops/grid_sample.py for the canonical ops."""
from __future__ import annotations

from .importer import FrontendError, converter

#: opset 16 names the modes after the 2-D case
_MODE_NAMES = {"bilinear": "linear", "bicubic": "cubic"}


@converter("GridSample")
def _grid_sample(cv, node, attrs):
    x, grid = cv.inputs(node)[:2]
    mode = attrs.get("mode", "bilinear" if cv.opset < 20 else "linear")
    if cv.opset < 20 and len(x.type.shape) != 4:
        raise FrontendError(f"GridSample {node.name!r}: opset {cv.opset} takes 4-D X only")
    cv.emit("GridSample", [x, grid],
            {"mode": _MODE_NAMES.get(mode, mode),
             "padding_mode": attrs.get("padding_mode", "zeros"),
             "align_corners": int(attrs.get("align_corners", 0))}, node)


@converter("AffineGrid")
def _affine_grid(cv, node, attrs):
    theta = cv.value(node.input[0])
    size = cv.const_array(node.input[1], "AffineGrid's size input")
    cv.emit("AffineGrid", [theta],
            {"size": tuple(int(s) for s in size),
             "align_corners": int(attrs.get("align_corners", 0))}, node)
