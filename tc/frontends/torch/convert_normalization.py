"""Batch norm (with running statistics, or batch statistics: instance norm), group norm
and layer norm."""
from __future__ import annotations

import math

import numpy as np

from .lowering import Lowering, arg, converter


def _channel_param(cv: Lowering, v, x, fill: float, name: str):
    """A per-channel parameter, or (the module has none: affine=False) ``fill`` for each
    of ``x``'s channels."""
    if v is not None:
        return v
    return cv.b.constant(np.full(x.type.shape[1], fill, x.type.dtype), name)


def _running_stats_norm(cv: Lowering, node, x, w, b, mean, var, eps):
    w, b = _channel_param(cv, w, x, 1.0, "bn_scale"), _channel_param(cv, b, x, 0.0, "bn_bias")
    return cv.emit("BatchNormalization", [x, w, b, mean, var], {"epsilon": float(eps)}, node)


def _batch_stats_norm(cv: Lowering, node, x, w, b, eps):
    """Batch norm by the input's own statistics per channel over N and the spatial dims:
    InstanceNormalization of x viewed as (1, C, N * spatial)."""
    w = _channel_param(cv, w, x, 1.0, "norm_scale")
    b = _channel_param(cv, b, x, 0.0, "norm_bias")
    shape = tuple(x.type.shape)
    perm = (1, 0) + tuple(range(2, len(shape)))
    regroup = shape[0] != 1 or len(shape) < 3  # else x is (1, C, ...) already
    if regroup:
        x = cv.emit("Transpose", [x], {"perm": perm}, node)
        x = cv.emit("Reshape", [x], {"shape": (1, shape[1], math.prod(shape) // shape[1])}, node)
    y = cv.emit("InstanceNormalization", [x, w, b], {"epsilon": float(eps)}, node)
    if regroup:
        y = cv.emit("Reshape", [y], {"shape": tuple(shape[i] for i in perm)}, node)
        y = cv.emit("Transpose", [y], {"perm": perm}, node)
    return y


@converter("aten._native_batch_norm_legit_no_training.default")
def _batch_norm(cv: Lowering, node):
    x, w, b, mean, var = (cv.value(a) for a in node.args[:5])
    return (_running_stats_norm(cv, node, x, w, b, mean, var, arg(node, 6, "eps")), None, None)


@converter("aten._native_batch_norm_legit.no_stats")
def _batch_norm_no_stats(cv: Lowering, node):
    """Instance norm exports as this over x viewed as (1, N * C, ...); BatchNorm without
    running stats too."""
    x, w, b = (cv.value(a) for a in node.args[:3])
    return (_batch_stats_norm(cv, node, x, w, b, arg(node, 5, "eps")), None, None)


@converter("aten.batch_norm.default")
def _batch_norm_composite(cv: Lowering, node):
    x, w, b, mean, var = (cv.value(a) for a in node.args[:5])
    if arg(node, 5, "training") or mean is None:
        return _batch_stats_norm(cv, node, x, w, b, arg(node, 7, "eps"))
    return _running_stats_norm(cv, node, x, w, b, mean, var, arg(node, 7, "eps"))


@converter("aten.instance_norm.default")
def _instance_norm(cv: Lowering, node):
    x, w, b, mean, var = (cv.value(a) for a in node.args[:5])
    eps = arg(node, 7, "eps")
    if not arg(node, 5, "use_input_stats") and mean is not None:
        return _running_stats_norm(cv, node, x, w, b, mean, var, eps)
    w = _channel_param(cv, w, x, 1.0, "norm_scale")
    b = _channel_param(cv, b, x, 0.0, "norm_bias")
    return cv.emit("InstanceNormalization", [x, w, b], {"epsilon": float(eps)}, node)


def _group_norm(cv: Lowering, node, x, groups, w, b, eps):
    w = _channel_param(cv, w, x, 1.0, "group_norm_scale")
    b = _channel_param(cv, b, x, 0.0, "group_norm_bias")
    attrs = {"num_groups": int(groups), "epsilon": float(eps), "stash_dtype": "float32"}
    return cv.emit("GroupNormalization", [x, w, b], attrs, node)


@converter("aten.native_group_norm.default")
def _native_group_norm(cv: Lowering, node):
    x, w, b = (cv.value(a) for a in node.args[:3])
    return (_group_norm(cv, node, x, node.args[6], w, b, node.args[7]), None, None)


@converter("aten.group_norm.default")
def _group_norm_composite(cv: Lowering, node):
    x = cv.value(node.args[0])
    w, b = cv.value(arg(node, 2, "weight")), cv.value(arg(node, 3, "bias"))
    return _group_norm(cv, node, x, node.args[1], w, b, arg(node, 4, "eps", 1e-5))


@converter("aten.layer_norm.default")
def _layer_norm(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = tuple(node.args[1])
    weight, bias = cv.value(arg(node, 2, "weight")), cv.value(arg(node, 3, "bias"))
    eps = float(arg(node, 4, "eps", 1e-5))
    rank = len(x.type.shape)
    if weight is None:
        weight = cv.b.constant(np.ones(shape, x.type.dtype), "layer_norm_scale")
    ins = [x, weight] + ([bias] if bias is not None else [])
    return cv.emit("LayerNormalization", ins,
                   {"axis": rank - len(shape), "epsilon": eps, "stash_dtype": "float32",
                    "num_outputs": 1}, node)
