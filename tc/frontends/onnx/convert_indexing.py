"""ONNX converters for indexing ops: Gather*, Scatter*, TensorScatter, OneHot, Compress, ReverseSequence."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from .importer import FrontendError, converter


@converter("Gather", "GatherElements")
def _gather(cv, node, attrs):
    data, indices = cv.inputs(node)
    axis = normalize_axis(attrs.get("axis", 0), len(data.type.shape))
    cv.emit(node.op_type, [data, indices], {"axis": axis}, node)


@converter("GatherND")
def _gather_nd(cv, node, attrs):
    cv.emit("GatherND", cv.inputs(node), {"batch_dims": int(attrs.get("batch_dims", 0))}, node)


@converter("ScatterElements", "Scatter")
def _scatter_elements(cv, node, attrs):
    data, indices, updates = cv.inputs(node)
    cv.emit("ScatterElements", [data, indices, updates],
            {"axis": normalize_axis(attrs.get("axis", 0), len(data.type.shape)),
             "reduction": attrs.get("reduction", "none")}, node)


@converter("ScatterND")
def _scatter_nd(cv, node, attrs):
    cv.emit("ScatterND", cv.inputs(node), {"reduction": attrs.get("reduction", "none")}, node)


@converter("TensorScatter")
def _tensor_scatter(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    rank = len(ins[0].type.shape)
    axis = normalize_axis(attrs.get("axis", -2), rank)
    if axis == 0:
        raise FrontendError(f"TensorScatter {node.name!r}: axis 0 is the batch axis; the "
                            f"sequence axis must be another one")
    cv.emit("TensorScatter", ins, {"axis": axis, "mode": attrs.get("mode", "linear")}, node)


@converter("OneHot")
def _one_hot(cv, node, attrs):
    indices, _, values = cv.inputs(node)
    depth = cv.const_array(node.input[1], "OneHot's depth input")
    cv.emit("OneHot", [indices, values], {"depth": int(np.asarray(depth).reshape(-1)[0]),
                                          "axis": int(attrs.get("axis", -1))}, node)


@converter("Compress")
def _compress(cv, node, attrs):
    x = cv.value(node.input[0])
    cond = np.asarray(cv.const_array(node.input[1], "Compress's condition input")).reshape(-1)
    if "axis" in attrs:
        axis = normalize_axis(attrs["axis"], len(x.type.shape))
    else:
        x, = cv.emit("Reshape", [x], {"shape": (x.type.size,)}, node, [node.output[0] + "_flat"])
        axis = 0
    keep = np.nonzero(cond[:x.type.shape[axis]])[0].astype(np.int64)
    idx = cv.constant(keep, node.output[0] + "_indices")
    cv.emit("Gather", [x, idx], {"axis": axis}, node)


@converter("ReverseSequence")
def _reverse_sequence(cv, node, attrs):
    cv.emit("ReverseSequence", cv.inputs(node), {"batch_axis": int(attrs.get("batch_axis", 1)),
                                                 "time_axis": int(attrs.get("time_axis", 0))}, node)
