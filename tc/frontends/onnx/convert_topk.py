"""ONNX converter for TopK: K (an input since opset 10) becomes an attribute."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .importer import converter


@converter("TopK")
def _topk(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset >= 10:
        k = int(cv.const_array(node.input[1], "TopK's K input").reshape(-1)[0])
    else:
        k = int(attrs["k"])
    cv.emit("TopK", [x], {"axis": normalize_axis(attrs.get("axis", -1), len(x.type.shape)),
                          "k": k, "largest": int(attrs.get("largest", 1))}, node)
