"""Activation functions: Elu, Celu, Selu, LeakyRelu, ThresholdedRelu, HardSigmoid,
HardSwish, Softplus, Softsign, Mish, Swish, Gelu, Shrink, and PRelu (with a broadcast
slope).

Registered from one table: (name, attribute defaults, numpy reference, TE builder,
accepted dtypes). Each builder receives a scalar read and the canonical attributes.

Canonical attributes (every default filled by the frontend):
- Elu, Celu, LeakyRelu, ThresholdedRelu: ``alpha`` (float).
- Selu: ``alpha``, ``gamma``; HardSigmoid: ``alpha``, ``beta``; Swish: ``alpha``.
- Gelu: ``approximate`` ("none" or "tanh").
- Shrink: ``bias``, ``lambd``.
- HardSwish, Softplus, Softsign, Mish, PRelu: none.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import broadcast_shapes, define_op, same_dtype
from .elementwise import broadcast_map
from .registry import OpPattern

SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102519302368164062


def _c(x: E.Expr, v) -> E.Expr:
    return E.const(v, x.dtype)


def _exp(x):
    return E.call("exp", x)


def _te_softplus(x):
    # max(x, 0) + log(1 + exp(-|x|)): never overflows
    return E.maximum(x, _c(x, 0)) + E.call("log", _c(x, 1) + _exp(_c(x, 0) - E.call("fabs", x)))


def _np_softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _np_sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1)


def _te_sigmoid(x):
    return _c(x, 1) / (_c(x, 1) + _exp(_c(x, 0) - x))


def _te_hard_sigmoid(x, alpha, beta):
    return E.maximum(_c(x, 0), E.minimum(_c(x, 1), _c(x, alpha) * x + _c(x, beta)))


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


def _np_gelu(x, a):
    if a["approximate"] == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _np_erf(x / math.sqrt(2)))


def _te_gelu(x, a):
    half, one = _c(x, 0.5), _c(x, 1)
    if a["approximate"] == "tanh":
        inner = _c(x, math.sqrt(2 / math.pi)) * (x + _c(x, 0.044715) * x * x * x)
        return half * x * (one + E.call("tanh", inner))
    return half * x * (one + E.call("erf", x * _c(x, 1 / math.sqrt(2))))


def _te_shrink(x, a):
    lambd, bias = a["lambd"], a["bias"]
    return E.select(E.lt(x, _c(x, -lambd)), x + _c(x, bias),
                    E.select(E.gt(x, _c(x, lambd)), x - _c(x, bias), _c(x, 0)))


def _np_shrink(x, a):
    lambd, bias = a["lambd"], a["bias"]
    return np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0))


_FLOAT, _NUMERIC = "float", "numeric"

_ACTIVATIONS = [
    # name, attribute defaults, numpy (x, attrs), TE (x, attrs), dtypes
    ("Elu", {"alpha": 1.0},
     lambda x, a: np.where(x < 0, a["alpha"] * (np.exp(x) - 1), x),
     lambda x, a: E.select(E.lt(x, _c(x, 0)), _c(x, a["alpha"]) * (_exp(x) - _c(x, 1)), x),
     _FLOAT),
    ("Celu", {"alpha": 1.0},
     lambda x, a: np.maximum(x, 0) + np.minimum(0, a["alpha"] * (np.exp(x / a["alpha"]) - 1)),
     lambda x, a: E.maximum(x, _c(x, 0)) + E.minimum(
         _c(x, 0), _c(x, a["alpha"]) * (_exp(x / _c(x, a["alpha"])) - _c(x, 1))),
     _FLOAT),
    ("Selu", {"alpha": SELU_ALPHA, "gamma": SELU_GAMMA},
     lambda x, a: a["gamma"] * np.where(x > 0, x, a["alpha"] * (np.exp(x) - 1)),
     lambda x, a: _c(x, a["gamma"]) * E.select(
         E.gt(x, _c(x, 0)), x, _c(x, a["alpha"]) * (_exp(x) - _c(x, 1))),
     _FLOAT),
    ("LeakyRelu", {"alpha": 0.01},
     lambda x, a: np.where(x < 0, a["alpha"] * x, x),
     lambda x, a: E.select(E.lt(x, _c(x, 0)), _c(x, a["alpha"]) * x, x),
     _FLOAT),
    ("ThresholdedRelu", {"alpha": 1.0},
     lambda x, a: np.where(x > a["alpha"], x, 0),
     lambda x, a: E.select(E.gt(x, _c(x, a["alpha"])), x, _c(x, 0)),
     _FLOAT),
    ("HardSigmoid", {"alpha": 0.2, "beta": 0.5},
     lambda x, a: np.clip(a["alpha"] * x + a["beta"], 0, 1),
     lambda x, a: _te_hard_sigmoid(x, a["alpha"], a["beta"]),
     _FLOAT),
    ("HardSwish", {},
     lambda x, a: x * np.clip(x / 6 + 0.5, 0, 1),
     lambda x, a: x * _te_hard_sigmoid(x, 1 / 6, 0.5),
     _FLOAT),
    ("Softplus", {}, lambda x, a: _np_softplus(x), lambda x, a: _te_softplus(x), _FLOAT),
    ("Softsign", {},
     lambda x, a: x / (1 + np.abs(x)),
     lambda x, a: x / (_c(x, 1) + E.call("fabs", x)),
     _FLOAT),
    ("Mish", {},
     lambda x, a: x * np.tanh(_np_softplus(x)),
     lambda x, a: x * E.call("tanh", _te_softplus(x)),
     _FLOAT),
    ("Swish", {"alpha": 1.0},
     lambda x, a: x * _np_sigmoid(a["alpha"] * x),
     lambda x, a: x * _te_sigmoid(_c(x, a["alpha"]) * x),
     _FLOAT),
    ("Gelu", {"approximate": "none"}, _np_gelu, _te_gelu, _FLOAT),
    ("Shrink", {"bias": 0.0, "lambd": 0.5}, _np_shrink, _te_shrink, _NUMERIC),
]

#: attribute defaults per activation, for frontends
DEFAULTS = {name: dict(defaults) for name, defaults, *_ in _ACTIVATIONS}


def _register(name, defaults, np_fn, te_fn, kind):
    def attrs_of(attrs):
        return {**defaults, **attrs}

    def infer(types, attrs):
        (x,) = types
        if kind == _FLOAT and not is_floating(x.dtype) or x.dtype == "bool":
            raise ValueError(f"{name} is defined for {kind} tensors, got {x.dtype}")
        return [x]

    def reference(xs, attrs):
        x = xs[0]
        with np.errstate(over="ignore"):
            return [np_fn(x.astype(np.float64) if kind == _FLOAT else x, attrs_of(attrs))]

    def compute(inputs, attrs):
        (x,) = inputs
        a = attrs_of(attrs)
        return [te.compute(x.shape, lambda *i: te_fn(x[i], a), name.lower(), tag="elemwise")]

    doc = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "no attributes"
    define_op(name, infer, reference, compute, OpPattern.ELEMWISE,
              f"{name}(X): element-wise activation on {kind} tensors; {doc}.")


for _row in _ACTIVATIONS:
    _register(*_row)


# --- PRelu -----------------------------------------------------------------------------

def _prelu_infer(types, attrs):
    x, slope = types
    dtype = same_dtype(types, "PRelu")
    if dtype == "bool":
        raise ValueError("PRelu is defined for numeric tensors, got bool")
    return [TensorType(broadcast_shapes(x.shape, slope.shape), dtype)]


define_op("PRelu", _prelu_infer,
          lambda xs, attrs: [np.where(xs[0] < 0, xs[1] * xs[0], xs[0])],
          lambda inputs, attrs: [broadcast_map(
              "prelu", inputs, lambda x, s: E.select(E.lt(x, _c(x, 0)), s * x, x))],
          OpPattern.BROADCAST,
          "PRelu(X, Slope): X where X >= 0 else Slope * X, Slope broadcast to X; no attributes.")
