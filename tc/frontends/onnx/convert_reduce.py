"""ONNX converters for reductions: Reduce* (axes attribute or input) and ArgMax/ArgMin."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .importer import converter

_REDUCE_OPS = ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean", "ReduceL1",
               "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


def _axes_input_since(op: str) -> int:
    """The opset from which ``op`` takes its axes as an input rather than an attribute."""
    return 13 if op == "ReduceSum" else 18


@converter(*_REDUCE_OPS)
def _reduce(cv, node, attrs):
    x = cv.value(node.input[0])
    rank = len(x.type.shape)
    if cv.opset >= _axes_input_since(node.op_type):
        axes = cv.optional_const(node, 1, f"{node.op_type}'s axes input")
        axes = None if axes is None else [int(a) for a in axes.reshape(-1)]
    else:
        axes = attrs.get("axes")
    if not axes:  # absent or empty
        if attrs.get("noop_with_empty_axes", 0):
            cv.emit("Identity", [x], {}, node)
            return
        axes = range(rank)
    axes = tuple(sorted({normalize_axis(a, rank) for a in axes}))
    if not axes:  # a scalar: reducing nothing
        cv.emit("Identity", [x], {}, node)
        return
    cv.emit(node.op_type, [x], {"axes": axes, "keepdims": int(attrs.get("keepdims", 1))}, node)


@converter("ArgMax", "ArgMin")
def _arg(cv, node, attrs):
    x = cv.value(node.input[0])
    cv.emit(node.op_type, [x], {"axis": normalize_axis(attrs.get("axis", 0), len(x.type.shape)),
                                "keepdims": int(attrs.get("keepdims", 1)),
                                "select_last_index": int(attrs.get("select_last_index", 0))},
            node)
