"""ONNX converters for CumSum and CumProd: the axis input becomes an attribute."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .importer import converter


@converter("CumSum", "CumProd")
def _scan(cv, node, attrs):
    x = cv.value(node.input[0])
    axis = cv.const_array(node.input[1], f"{node.op_type}'s axis input")
    cv.emit(node.op_type, [x],
            {"axis": normalize_axis(int(axis.reshape(-1)[0]), len(x.type.shape)),
             "exclusive": int(attrs.get("exclusive", 0)), "reverse": int(attrs.get("reverse", 0))},
            node)
