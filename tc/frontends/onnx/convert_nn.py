"""ONNX converters for convolution, pooling, normalization, softmax and Gemm."""
from __future__ import annotations

import numpy as np

from ...compiler.graph import Value
from ...compiler.ops.common import normalize_axis
from ...compiler.ops.window import resolve_auto_pad
from .importer import FrontendError, converter


def _window_common(x: Value, kernel, attrs) -> dict:
    n = len(x.type.shape) - 2
    strides = tuple(attrs.get("strides", (1,) * n))
    dilations = tuple(attrs.get("dilations", (1,) * n))
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = tuple(attrs.get("pads", (0,) * 2 * n))
    else:
        pads = resolve_auto_pad(auto_pad, x.type.shape[2:], kernel, strides, dilations)
    return {"strides": strides, "pads": pads, "dilations": dilations}


@converter("Conv")
def _conv(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    kernel = tuple(attrs.get("kernel_shape", ins[1].type.shape[2:]))
    canon = _window_common(ins[0], kernel, attrs)
    canon["group"] = int(attrs.get("group", 1))
    cv.emit("Conv", ins, canon, node)


@converter("MaxPool", "AveragePool", "LpPool")
def _pool(cv, node, attrs):
    (x,) = cv.inputs(node)[:1]
    kernel = tuple(attrs["kernel_shape"])
    canon = _window_common(x, kernel, attrs)
    canon.update(kernel_shape=kernel, ceil_mode=int(attrs.get("ceil_mode", 0)))
    outputs = node.output[:1]
    if node.op_type == "AveragePool":
        canon["count_include_pad"] = int(attrs.get("count_include_pad", 0))
    elif node.op_type == "LpPool":
        canon["p"] = int(attrs.get("p", 2))
    elif len(node.output) > 1 and node.output[1] in cv.used:
        canon.update(with_indices=1, storage_order=int(attrs.get("storage_order", 0)))
        outputs = node.output[:2]
    cv.emit(node.op_type, [x], canon, node, outputs)


@converter("BatchNormalization")
def _batchnorm(cv, node, attrs):
    if attrs.get("training_mode", 0):
        raise FrontendError(f"BatchNormalization {node.name!r} is in training mode; tc compiles "
                            "inference models: export the model in eval mode")
    if not attrs.get("spatial", 1):
        raise FrontendError(f"BatchNormalization {node.name!r} has spatial=0, which tc does "
                            "not support")
    cv.check_unused_outputs(node, 1, "tc's BatchNormalization is the inference form")
    cv.emit("BatchNormalization", cv.inputs(node)[:5],
            {"epsilon": float(attrs.get("epsilon", 1e-5))}, node, node.output[:1])


@converter("Softmax", "LogSoftmax", "Hardmax")
def _softmax(cv, node, attrs):
    (x,) = cv.inputs(node)
    shape = x.type.shape
    rank = len(shape)
    if cv.opset >= 13:
        cv.emit(node.op_type, [x], {"axis": normalize_axis(attrs.get("axis", -1), rank)}, node)
        return
    axis = normalize_axis(attrs.get("axis", 1), rank)
    if axis == rank - 1:  # the old coerce-to-2-D semantics agree with the new ones here
        cv.emit(node.op_type, [x], {"axis": axis}, node)
        return
    flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    out = node.output[0]
    x2, = cv.emit("Reshape", [x], {"shape": flat}, node, [out + "_2d"])
    y2, = cv.emit(node.op_type, [x2], {"axis": 1}, node, [out + "_2d_out"])
    cv.emit("Reshape", [y2], {"shape": shape}, node)


@converter("LRN")
def _lrn(cv, node, attrs):
    cv.emit("LRN", cv.inputs(node), {"size": int(attrs["size"]),
                                     "alpha": float(attrs.get("alpha", 1e-4)),
                                     "beta": float(attrs.get("beta", 0.75)),
                                     "bias": float(attrs.get("bias", 1.0))}, node)


@converter("Gemm")
def _gemm(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    cv.emit("Gemm", ins, {"alpha": float(attrs.get("alpha", 1.0)),
                          "beta": float(attrs.get("beta", 1.0)),
                          "transA": int(attrs.get("transA", 0)),
                          "transB": int(attrs.get("transB", 0))}, node)
