"""Activation ATen ops onto tc's activation kernels: leaky_relu, elu (nn.SELU exports as
elu), gelu, _log_softmax; and the whole forms of silu, hardswish, hardsigmoid, softplus,
mish, celu and prelu.

``decompose`` breaks the last group into primitive ops (silu into sigmoid * x, softplus
and mish into exp/log1p/where, prelu into where(x > 0, ...)), which the elementwise and
logic converters lower; the converters here serve when ``KEPT_OPS`` keeps them whole,
mapping them onto tc's kernels."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter, op_name


def _input(cv: Lowering, node):
    """The op's tensor input, cast to the result dtype."""
    return cv.operands(node, *node.args[:1])[0]


@converter("aten.leaky_relu.default")
def _leaky_relu(cv: Lowering, node):
    return cv.emit("LeakyRelu", [_input(cv, node)],
                   {"alpha": float(arg(node, 1, "negative_slope", 0.01))}, node)


@converter("aten.elu.default")
def _elu(cv: Lowering, node):
    """scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)): Elu, or Selu (whose
    gamma is the scale) when scaled; nn.SELU exports as elu with SELU's constants."""
    x = _input(cv, node)
    alpha = float(arg(node, 1, "alpha", 1.0))
    scale = float(arg(node, 2, "scale", 1.0))
    if float(arg(node, 3, "input_scale", 1.0)) != 1.0:
        raise UnsupportedTorchOpsError(f"{node.name}: elu with input_scale != 1 is not "
                                       "supported yet")
    if scale == 1.0:
        return cv.emit("Elu", [x], {"alpha": alpha}, node)
    return cv.emit("Selu", [x], {"alpha": alpha, "gamma": scale}, node)


@converter("aten.celu.default")
def _celu(cv: Lowering, node):
    return cv.emit("Celu", [_input(cv, node)], {"alpha": float(arg(node, 1, "alpha", 1.0))},
                   node)


@converter("aten.gelu.default")
def _gelu(cv: Lowering, node):
    return cv.emit("Gelu", [_input(cv, node)],
                   {"approximate": node.kwargs.get("approximate", "none")}, node)


_PLAIN = {"aten.silu.default": ("Swish", {"alpha": 1.0}),
          "aten.hardswish.default": ("HardSwish", None),
          "aten.hardsigmoid.default": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}),
          "aten.mish.default": ("Mish", None)}


@converter(*_PLAIN)
def _plain(cv: Lowering, node):
    op, attrs = _PLAIN[op_name(node.target)]
    return cv.emit(op, [_input(cv, node)], attrs, node)


@converter("aten.softplus.default")
def _softplus(cv: Lowering, node):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as in
    torch, where the difference is not negligible for small thresholds)."""
    x = _input(cv, node)
    dtype = x.type.dtype
    beta = float(arg(node, 1, "beta", 1.0))
    threshold = float(arg(node, 2, "threshold", 20.0))
    bx = x if beta == 1.0 else cv.emit("Mul", [x, cv.scalar(beta, dtype)], None, node)
    y = cv.emit("Softplus", [bx], None, node)
    if beta != 1.0:
        y = cv.emit("Div", [y, cv.scalar(beta, dtype)], None, node)
    linear = cv.emit("Greater", [bx, cv.scalar(threshold, dtype)], None, node)
    return cv.emit("Where", [linear, x, y], None, node)


@converter("aten.prelu.default")
def _prelu(cv: Lowering, node):
    """One slope per channel (dim 1), or one for all."""
    x, slope = cv.operands(node, *node.args[:2])
    rank, n = len(x.type.shape), slope.type.shape[0] if slope.type.shape else 1
    if n > 1 and rank > 2:
        slope = cv.emit("Reshape", [slope], {"shape": (n,) + (1,) * (rank - 2)}, node)
    return cv.emit("PRelu", [x, slope], None, node)


@converter("aten._log_softmax.default")
def _log_softmax(cv: Lowering, node):
    x = _input(cv, node)
    return cv.emit("LogSoftmax", [x], {"axis": normalize_axis(node.args[1], len(x.type.shape))},
                   node)
