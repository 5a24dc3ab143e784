"""ONNX converter for LinearAttention (opset 27), unrolled over the static sequence length.

LinearAttention runs a recurrence over the T tokens of packed 3-D inputs (B, T, H*D):

- linear:       S_t = S_{t-1} + k_t (x) v_t
- gated:        S_t = exp(g_t) * S_{t-1} + k_t (x) v_t
- delta:        S_t = S_{t-1} + k_t (x) beta_t * (v_t - S_{t-1}^T k_t)
- gated_delta:  S_t = exp(g_t) * S_{t-1} + k_t (x) beta_t * (v_t - (exp(g_t) * S_{t-1})^T k_t)

with o_t = scale * q_t^T S_t, the state S of shape (B, H_kv, d_k, d_v) (zeros when
``past_state`` is absent), GQA by sharing KV head h // (H_q / H_kv) among query heads,
``decay`` per key element (B, T, H_kv*d_k) or per head (B, T, H_kv), and ``beta`` per
head (B, T, H_kv) or shared (B, T, 1).

T is static in tc, so the converter emits every step with canonical ops (Slice, Reshape,
Mul, Sub, Add, MatMul, Exp, Concat, Cast). A token's slice (B, 1, H*D) of a packed input
is, in memory order, already (B, H, D), so each step only needs Slice + Reshape, never a
Transpose; likewise a step's output (B, H_kv, G, d_v) is already (B, 1, H_q*d_v). Like
ONNX's reference, everything is computed in float32 (float16 inputs are cast up) and the
results are cast back: ``output`` to the query's dtype, ``present_state`` to
``past_state``'s dtype, or the query's when no past state is given.
"""
from __future__ import annotations

import math

import numpy as np

from .convert_shape import slice_attrs
from .importer import FrontendError, converter

_RULES = ("linear", "gated", "delta", "gated_delta")


class _Emitter:
    """Emits the canonical nodes of one LinearAttention node under unique value names."""

    def __init__(self, cv, node):
        self.cv, self.node = cv, node
        self.prefix = next(o for o in node.output if o) + "__linattn"
        self.count = 0

    def op(self, op, inputs, attrs, out=None):
        """One canonical node; ``out`` names its (single) result, default a fresh name."""
        if out is None:
            self.count += 1
            out = f"{self.prefix}_{op.lower()}{self.count}"
        return self.cv.emit(op, inputs, attrs, self.node, [out])[0]

    def reshape(self, x, shape):
        return self.op("Reshape", [x], {"shape": tuple(shape)})

    def step(self, x, t, shape):
        """Token ``t`` of a (B, T, N) tensor, reshaped to ``shape``."""
        b, n_t, n = x.type.shape
        sl = self.op("Slice", [x], slice_attrs((b, n_t, n), [t], [t + 1], [1]))
        return self.reshape(sl, shape)

    def to_f32(self, x):
        return x if x is None or x.type.dtype == "float32" else self.op("Cast", [x], {"to": "float32"})

    def cast_out(self, x, dtype, out):
        """``x`` as ``dtype`` under ONNX name ``out``."""
        if x.type.dtype == dtype:
            return self.op("Identity", [x], {}, out)
        return self.op("Cast", [x], {"to": dtype}, out)


def _check(ins, attrs):
    """Validated sizes: (b, t, h_q, h_kv, d_k, d_v, rule) or a FrontendError."""
    q, k, v, past, decay, beta = ins
    rule = attrs.get("update_rule", "gated_delta")
    if rule not in _RULES:
        raise FrontendError(f"LinearAttention update_rule {rule!r} is not one of {_RULES}")
    if "q_num_heads" not in attrs or "kv_num_heads" not in attrs:
        raise FrontendError("LinearAttention needs the q_num_heads and kv_num_heads attributes")
    h_q, h_kv = int(attrs["q_num_heads"]), int(attrs["kv_num_heads"])
    if h_q <= 0 or h_kv <= 0 or h_q % h_kv:
        raise FrontendError(f"LinearAttention q_num_heads ({h_q}) must be a positive multiple "
                            f"of kv_num_heads ({h_kv})")
    for name, x in (("query", q), ("key", k), ("value", v)):
        if len(x.type.shape) != 3:
            raise FrontendError(f"LinearAttention {name} must be 3-D (B, T, H*D), "
                                f"got {x.type.shape}")
    b, t, qd = q.type.shape
    if qd % h_q or k.type.shape[2] % h_kv or v.type.shape[2] % h_kv:
        raise FrontendError(f"LinearAttention hidden dims {qd}, {k.type.shape[2]}, "
                            f"{v.type.shape[2]} do not split into {h_q}/{h_kv} heads")
    d_k, d_v = qd // h_q, v.type.shape[2] // h_kv
    if k.type.shape != (b, t, h_kv * d_k) or v.type.shape[:2] != (b, t):
        raise FrontendError(f"LinearAttention key {k.type.shape} / value {v.type.shape} do not "
                            f"match query {q.type.shape}")
    if t == 0:
        raise FrontendError("LinearAttention with an empty sequence (T=0) is not supported")
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    if gated != (decay is not None) or delta != (beta is not None):
        raise FrontendError(f"LinearAttention update_rule {rule!r} needs decay "
                            f"{'given' if gated else 'absent'} and beta "
                            f"{'given' if delta else 'absent'}")
    if decay is not None and decay.type.shape not in ((b, t, h_kv), (b, t, h_kv * d_k)):
        raise FrontendError(f"LinearAttention decay shape {decay.type.shape} is neither "
                            f"{(b, t, h_kv)} nor {(b, t, h_kv * d_k)}")
    if beta is not None and beta.type.shape not in ((b, t, h_kv), (b, t, 1)):
        raise FrontendError(f"LinearAttention beta shape {beta.type.shape} is neither "
                            f"{(b, t, h_kv)} nor {(b, t, 1)}")
    if past is not None and past.type.shape != (b, h_kv, d_k, d_v):
        raise FrontendError(f"LinearAttention past_state shape {past.type.shape} is not "
                            f"{(b, h_kv, d_k, d_v)}")
    return b, t, h_q, h_kv, d_k, d_v, rule


def _update(em, state, t, k, v, decay, beta, dims):
    """The state after token ``t`` (``state`` None: zeros before the first token)."""
    b, h_kv, d_k, d_v = dims
    k_col = em.step(k, t, (b, h_kv, d_k, 1))
    v_t = em.step(v, t, (b, h_kv, 1, d_v))
    if decay is not None and state is not None:
        per_elem = decay.type.shape[2] != h_kv
        g = em.step(decay, t, (b, h_kv, d_k if per_elem else 1, 1))   # already exp(g)
        state = em.op("Mul", [state, g], {})
    if beta is not None:
        if state is not None:
            k_row = em.step(k, t, (b, h_kv, 1, d_k))
            v_t = em.op("Sub", [v_t, em.op("MatMul", [k_row, state], {})], {})
        v_t = em.op("Mul", [v_t, em.step(beta, t, (b, beta.type.shape[2], 1, 1))], {})
    write = em.op("Mul", [k_col, v_t], {})     # outer product k_t (x) v_t
    return write if state is None else em.op("Add", [state, write], {})


@converter("LinearAttention")
def _linear_attention(cv, node, attrs):
    ins = (cv.inputs(node) + [None] * 6)[:6]
    b, n_t, h_q, h_kv, d_k, d_v, _ = _check(ins, attrs)
    want_out = len(node.output) > 0 and bool(node.output[0])
    want_state = len(node.output) > 1 and bool(node.output[1])
    if not (want_out or want_state):
        return
    em = _Emitter(cv, node)
    q, k, v, past, decay, beta = (em.to_f32(x) for x in ins)
    scale = float(attrs.get("scale", 0.0)) or 1.0 / math.sqrt(d_k)
    if want_out:
        scale_c = cv.constant(np.array(scale, np.float32), f"{em.prefix}_scale")
        q = em.op("Mul", [q, scale_c], {})
    if decay is not None:
        decay = em.op("Exp", [decay], {})
    group = h_q // h_kv
    state, outs = past, []
    for t in range(n_t):
        state = _update(em, state, t, k, v, decay, beta, (b, h_kv, d_k, d_v))
        if want_out:
            q_t = em.step(q, t, (b, h_kv, group, d_k))
            o_t = em.op("MatMul", [q_t, state], {})          # (B, H_kv, G, d_v)
            outs.append(em.reshape(o_t, (b, 1, h_q * d_v)))
    if want_out:
        out = outs[0] if len(outs) == 1 else em.op("Concat", outs, {"axis": 1})
        em.cast_out(out, ins[0].type.dtype, node.output[0])
    if want_state:
        dtype = (ins[3] if ins[3] is not None else ins[0]).type.dtype
        em.cast_out(state, dtype, node.output[1])
