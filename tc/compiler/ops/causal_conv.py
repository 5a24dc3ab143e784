"""CausalConvWithState: a stateful causal depthwise 1-D convolution (ONNX opset 27).

CausalConvWithState(input (B, C, L), weight (C, 1, k)[, bias (C,)][, past_state
(B, C, k - 1)]) -> output (B, C, L), present_state (B, C, k - 1).
Canonical attributes (the frontend fills every one):
- ``activation``: "none" | "silu" ("swish" is the same function);
- ``has_bias``, ``has_past_state``: 0 | 1, saying which optional inputs follow weight
  (absent ones are omitted; a missing past state is zeros).
The sequence is past_state ++ input; output[t] = sum_j seq[t + j] * weight[c, 0, j]
(+ bias, then the activation); present_state is the last k - 1 positions of seq.
float16 accumulates and activates in float32, as the ONNX reference does.

TE stages: "causal_seq" (injective concat, inlined), "causal_conv" (a sum over the k taps;
generic schedule), an "elemwise" bias/activation stage, and "causal_state" (injective).
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import clamp_index, define_op
from .registry import OpPattern

ACTIVATIONS = ("none", "silu", "swish")


def _split(items, attrs):
    x, w = items[:2]
    rest = list(items[2:])
    bias = rest.pop(0) if attrs.get("has_bias", 0) else None
    state = rest.pop(0) if attrs.get("has_past_state", 0) else None
    return x, w, bias, state


def _infer(types, attrs):
    x, w, bias, state = _split(types, attrs)
    if attrs.get("activation", "none") not in ACTIVATIONS:
        raise ValueError(f"CausalConvWithState activation {attrs.get('activation')!r} is not "
                         f"one of {ACTIVATIONS}")
    if len(x.shape) != 3 or len(w.shape) != 3 or w.shape[:2] != (x.shape[1], 1):
        raise ValueError(f"CausalConvWithState needs input (B, C, L) and weight (C, 1, k), got "
                         f"{x.shape} and {w.shape}")
    b, c, _ = x.shape
    k = w.shape[2]
    if bias is not None and bias.shape != (c,):
        raise ValueError(f"CausalConvWithState bias should be ({c},), got {bias.shape}")
    if state is not None and state.shape != (b, c, k - 1):
        raise ValueError(f"CausalConvWithState past_state should be {(b, c, k - 1)}, got "
                         f"{state.shape}")
    return [TensorType(x.shape, x.dtype), TensorType((b, c, k - 1), x.dtype)]


def _reference(xs, attrs):
    x, w, bias, state = _split(xs, attrs)
    k = w.shape[2]
    if state is None:
        state = np.zeros(x.shape[:2] + (k - 1,), x.dtype)
    seq = np.concatenate([state, x], axis=2)
    acc = "float32" if x.dtype == np.float16 else x.dtype
    out = sum(seq[:, :, j:j + x.shape[2]].astype(acc) * w[:, 0, j, None].astype(acc)
              for j in range(k))
    if bias is not None:
        out = out + bias[:, None].astype(acc)
    if attrs.get("activation", "none") != "none":
        out = out / (1 + np.exp(-out))
    return [out.astype(x.dtype), seq[:, :, seq.shape[2] - (k - 1):]]


def _compute(inputs, attrs):
    x, w, bias, state = _split(inputs, attrs)
    b, c, length = x.shape
    k = w.shape[2]
    acc = "float32" if x.dtype == "float16" else x.dtype

    def seq_at(n, ch, t):   # t indexes past_state ++ input
        read = x[n, ch, clamp_index(t - E.const(k - 1), length)]
        if state is None or k == 1:
            return E.select(E.ge(t, E.const(k - 1)), read, E.const(0, x.dtype)) if k > 1 else read
        past = state[n, ch, clamp_index(t, k - 1)]
        return E.select(E.ge(t, E.const(k - 1)), read, past)

    seq = te.compute((b, c, length + k - 1), seq_at, "causal_seq", tag="injective")
    j = te.reduce_axis(k, "j")
    conv = te.compute(
        x.shape, lambda n, ch, t: te.sum(E.cast(acc, seq[n, ch, t + j.var])
                                          * E.cast(acc, w[ch, 0, j.var]), axis=j),
        "causal_conv", tag="causal_conv")

    def epilogue(n, ch, t):
        v = conv[n, ch, t]
        if bias is not None:
            v = v + E.cast(acc, bias[ch])
        if attrs.get("activation", "none") != "none":
            v = v / (E.const(1.0, acc) + E.call("exp", E.const(0.0, acc) - v))
        return E.cast(x.dtype, v)

    out = te.compute(x.shape, epilogue, "causal_conv_out", tag="elemwise")
    present = te.compute((b, c, k - 1), lambda n, ch, t: seq[n, ch, t + E.const(length)],
                         "causal_state", tag="injective")
    return [out, present]


define_op("CausalConvWithState", _infer, _reference, _compute, OpPattern.OPAQUE, __doc__)
