"""ONNX converters for the recurrent ops RNN, GRU and LSTM (opsets 7, 14, 22).

tc's shapes are static, so the sequence length is known: each node is unrolled into
canonical ops, one cell per time step and direction, and the normal pipeline generates
the code. Per direction the input projection of every step is one Gemm
(``X @ W^T + Wb + Rb``, all steps at once); each step then adds ``H @ R^T`` (a Gemm whose
C is that step's rows of the projection), slices the gates, clips them (``clip``), applies
the activations and updates the state.

Gate orders (ONNX): RNN ``i``; GRU ``z, r, h``; LSTM ``i, o, f, c`` with peepholes
``P = [p_i, p_o, p_f]``. Supported: ``direction`` forward / reverse / bidirectional,
``activations`` (Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh,
HardSigmoid, Elu, Softsign, Softplus; case-insensitive) with ``activation_alpha`` /
``activation_beta`` consumed in order by the activations that take them, ``clip``,
``hidden_size``, ``linear_before_reset`` (GRU), ``input_forget`` (LSTM: f = 1 - i),
``layout`` 0/1, the optional inputs B, sequence_lens, initial_h, initial_c and P, and any
subset of the outputs Y, Y_h, Y_c (an empty output name: not computed).

An activation whose alpha/beta are not given takes the defaults of the ONNX op of that
name, as the spec says (LeakyRelu 0.01, ThresholdedRelu 1.0, HardSigmoid 0.2/0.5, Elu 1.0,
Affine 1.0/0.0; ScaledTanh, which has none, 1.0/1.0). onnxruntime differs there: it takes
0 for Affine, ScaledTanh and ThresholdedRelu.

``sequence_lens`` may be a constant or a graph input: unless it is a constant equal to
the sequence length everywhere, each step is masked per batch row with ``Where``. A row
past its length keeps its state and outputs zeros in Y; the reverse direction walks the
steps from the last to the first, so a row's padded steps come first and leave the
initial state untouched, as the spec requires.
"""
from __future__ import annotations

import numpy as np

from .convert_shape import slice_attrs
from .importer import FrontendError, NotConstantError, converter

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTIVATIONS = {"RNN": ("Tanh",), "GRU": ("Sigmoid", "Tanh"),
                        "LSTM": ("Sigmoid", "Tanh", "Tanh")}
_DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}

#: activation -> (default alpha, default beta); None where it takes no such parameter
_PARAMS = {
    "relu": (None, None), "tanh": (None, None), "sigmoid": (None, None),
    "softsign": (None, None), "softplus": (None, None),
    "affine": (1.0, 0.0), "scaledtanh": (1.0, 1.0), "hardsigmoid": (0.2, 0.5),
    "leakyrelu": (0.01, None), "thresholdedrelu": (1.0, None), "elu": (1.0, None),
}


class _Emitter:
    """Emits the canonical ops of one recurrent node under unique value names."""

    def __init__(self, cv, node, dtype: str):
        self.cv, self.node, self.dtype = cv, node, dtype
        self.base = next((o for o in node.output if o), node.name or node.op_type)
        self.count = 0

    def _name(self) -> str:
        self.count += 1
        return f"{self.base}__{self.node.op_type.lower()}{self.count}"

    def op(self, op: str, inputs: list, attrs: dict | None = None, out: str | None = None):
        v, = self.cv.emit(op, inputs, attrs or {}, self.node, [out or self._name()])
        return v

    def const(self, value, dtype: str | None = None):
        return self.cv.constant(np.asarray(value, dtype or self.dtype), self._name())

    def slice(self, x, axis: int, start: int, size: int):
        shape = x.type.shape
        if start == 0 and size == shape[axis]:
            return x
        return self.op("Slice", [x], slice_attrs(shape, [start], [start + size], [axis]))

    def reshape(self, x, shape, out: str | None = None):
        shape = tuple(int(d) for d in shape)
        if x.type.shape == shape and out is None:
            return x
        return self.op("Reshape", [x], {"shape": shape}, out)

    def add(self, a, b):
        return self.op("Add", [a, b])

    def mul(self, a, b):
        return self.op("Mul", [a, b])

    def sub(self, a, b):
        return self.op("Sub", [a, b])


# --- attributes ------------------------------------------------------------------------

def _activations(op: str, attrs: dict, n_dirs: int) -> list[list[tuple]]:
    """Per direction, the activations as (lower-case name, alpha, beta)."""
    names = [a if isinstance(a, str) else a.decode() for a in attrs.get("activations", ())]
    per_dir = len(_DEFAULT_ACTIVATIONS[op])
    if not names:
        names = list(_DEFAULT_ACTIVATIONS[op]) * n_dirs
    elif len(names) == per_dir and n_dirs == 2:
        names = names * 2   # one list given for both directions
    if len(names) != per_dir * n_dirs:
        raise FrontendError(f"{op} takes {per_dir} activation(s) per direction ({n_dirs} "
                            f"direction(s)), got {names}")
    alphas = list(attrs.get("activation_alpha", ()))
    betas = list(attrs.get("activation_beta", ()))
    acts = []
    for name in names:
        key = name.lower()
        if key not in _PARAMS:
            raise FrontendError(f"{op} activation {name!r} is not supported; tc supports "
                                f"{sorted(_PARAMS)}")
        alpha, beta = _PARAMS[key]
        if alpha is not None and alphas:
            alpha = float(alphas.pop(0))
        if beta is not None and betas:
            beta = float(betas.pop(0))
        acts.append((key, alpha, beta))
    return [acts[d * per_dir:(d + 1) * per_dir] for d in range(n_dirs)]


def _activate(em: _Emitter, x, act: tuple, clip):
    """``act`` applied to ``x``, clipped to [-clip, clip] first when ``clip`` is set."""
    if clip is not None:
        x = em.op("Clip", [x], {"min": -clip, "max": clip})
    name, alpha, beta = act
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softsign": "Softsign",
              "softplus": "Softplus"}
    if name in simple:
        return em.op(simple[name], [x])
    if name == "affine":
        return em.add(em.mul(x, em.const(alpha)), em.const(beta))
    if name == "scaledtanh":
        return em.mul(em.op("Tanh", [em.mul(x, em.const(beta))]), em.const(alpha))
    if name == "hardsigmoid":
        return em.op("HardSigmoid", [x], {"alpha": alpha, "beta": beta})
    op = {"leakyrelu": "LeakyRelu", "thresholdedrelu": "ThresholdedRelu", "elu": "Elu"}[name]
    return em.op(op, [x], {"alpha": alpha})


# --- the cells -------------------------------------------------------------------------

class _Cell:
    """The weights and settings of one direction; ``step`` advances the state one step."""

    def __init__(self, em, op, hidden, r, rec_bias, peep, acts, clip, attrs):
        self.em, self.op, self.hidden = em, op, hidden
        self.r, self.rec_bias, self.peep = r, rec_bias, peep
        self.acts, self.clip = acts, clip
        self.lbr = int(attrs.get("linear_before_reset", 0))
        self.input_forget = int(attrs.get("input_forget", 0))

    def gate(self, x, k: int):
        return self.em.slice(x, 1, k * self.hidden, self.hidden)

    def step(self, pre, h, c):
        """(H_t, C_t) from the step's input projection ``pre`` and the previous state."""
        return getattr(self, f"_{self.op.lower()}")(pre, h, c)

    def _rec(self, h, c_bias, r=None):
        """``c_bias + h @ r^T`` (``r`` defaults to all of R)."""
        r = self.r if r is None else r
        ins = [h, r] + ([c_bias] if c_bias is not None else [])
        return self.em.op("Gemm", ins, {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1})

    def _rnn(self, pre, h, c):
        return _activate(self.em, self._rec(h, pre), self.acts[0], self.clip), None

    def _lstm(self, pre, h, c):
        em, (f, g, hh) = self.em, self.acts
        gates = self._rec(h, pre)
        gi, go, gf, gc = (self.gate(gates, k) for k in range(4))
        if self.peep is not None:
            gi = em.add(gi, em.mul(self.peep[0], c))
            gf = em.add(gf, em.mul(self.peep[2], c))
        i = _activate(em, gi, f, self.clip)
        if self.input_forget:
            forget = em.sub(em.const(1.0), i)
        else:
            forget = _activate(em, gf, f, self.clip)
        cand = _activate(em, gc, g, self.clip)
        c_new = em.add(em.mul(forget, c), em.mul(i, cand))
        if self.peep is not None:
            go = em.add(go, em.mul(self.peep[1], c_new))
        o = _activate(em, go, f, self.clip)
        return em.mul(o, _activate(em, c_new, hh, None)), c_new

    def _gru(self, pre, h, c):
        em, (f, g), n = self.em, self.acts, self.hidden
        pre_zr, pre_h = em.slice(pre, 1, 0, 2 * n), self.gate(pre, 2)
        if self.lbr:
            rec = self._rec(h, self.rec_bias)
            zr = em.add(pre_zr, em.slice(rec, 1, 0, 2 * n))
        else:
            zr = self._rec(h, pre_zr, em.slice(self.r, 0, 0, 2 * n))
        z = _activate(em, self.gate(zr, 0), f, self.clip)
        r = _activate(em, self.gate(zr, 1), f, self.clip)
        if self.lbr:
            cand_pre = em.add(pre_h, em.mul(r, self.gate(rec, 2)))
        else:
            cand_pre = self._rec(em.mul(r, h), pre_h, em.slice(self.r, 0, 2 * n, n))
        cand = _activate(em, cand_pre, g, self.clip)
        # (1 - z) * cand + z * h
        return em.add(cand, em.mul(z, em.sub(h, cand))), None


# --- the converter ---------------------------------------------------------------------

def _input(cv, node, index: int):
    return cv.value(node.input[index]) if len(node.input) > index and node.input[index] else None


def _check_shape(op: str, what: str, v, expected) -> None:
    if v is not None and tuple(v.type.shape) != tuple(expected):
        raise FrontendError(f"{op}: {what} has shape {tuple(v.type.shape)}, expected "
                            f"{tuple(expected)}")


def _sequence_masks(em, cv, node, seq_len: int, batch: int):
    """Per step a [batch, 1] bool mask (step < sequence_lens), or None when every row
    runs the full length."""
    if len(node.input) <= 4 or not node.input[4]:
        return None
    try:
        lens = cv.const_array(node.input[4], f"{node.op_type}'s sequence_lens")
    except NotConstantError:
        lens = None
    if lens is not None:
        lens = np.asarray(lens).reshape(-1)
        if lens.shape != (batch,) or lens.min(initial=0) < 0 or lens.max(initial=0) > seq_len:
            raise FrontendError(f"{node.op_type}: sequence_lens {lens.tolist()} must hold "
                                f"{batch} values in [0, {seq_len}]")
        if (lens == seq_len).all():
            return None
        return [em.const((t < lens).reshape(batch, 1), "bool") for t in range(seq_len)]
    lens_v = cv.value(node.input[4])
    _check_shape(node.op_type, "sequence_lens", lens_v, (batch,))
    masks = []
    for t in range(seq_len):
        less = em.op("Less", [em.const(t, lens_v.type.dtype), lens_v])
        masks.append(em.op("Unsqueeze", [less], {"axes": (1,)}))
    return masks


def _direction_state(em, v, d: int, layout: int, batch: int, hidden: int):
    """Direction ``d``'s [batch, hidden] slice of an initial state, zeros when absent."""
    if v is None:
        return em.const(np.zeros((batch, hidden)))
    return em.reshape(em.slice(v, layout, d, 1), (batch, hidden))


def _emit_output(em, pieces, layout: int, final_shape, out: str):
    """Stack [batch, hidden] ``pieces`` on the time/direction axes into output ``out``."""
    batch, hidden = pieces[0].type.shape
    unit = (1, batch, hidden) if layout == 0 else (batch, 1, hidden)
    parts = [em.reshape(p, unit) for p in pieces]
    joined = parts[0] if len(parts) == 1 else em.op("Concat", parts, {"axis": layout})
    em.reshape(joined, final_shape, out)


@converter("RNN", "GRU", "LSTM")
def _recurrent(cv, node, attrs):
    op = node.op_type
    x, w, r = (cv.value(n) for n in node.input[:3])
    b, h0 = _input(cv, node, 3), _input(cv, node, 5)
    c0 = _input(cv, node, 6) if op == "LSTM" else None
    p = _input(cv, node, 7) if op == "LSTM" else None
    layout = int(attrs.get("layout", 0))
    direction = attrs.get("direction", "forward")
    if layout not in (0, 1):
        raise FrontendError(f"{op}: layout must be 0 or 1, got {layout}")
    if direction not in _DIRECTIONS:
        raise FrontendError(f"{op}: direction must be one of {sorted(_DIRECTIONS)}, got "
                            f"{direction!r}")
    reverses = _DIRECTIONS[direction]
    n_dirs, gates = len(reverses), _GATES[op]
    if len(x.type.shape) != 3:
        raise FrontendError(f"{op}: X must be 3-D, got shape {x.type.shape}")
    seq_len, batch, width = x.type.shape if layout == 0 else (
        x.type.shape[1], x.type.shape[0], x.type.shape[2])
    hidden = int(attrs.get("hidden_size", r.type.shape[-1]))
    _check_shape(op, "W", w, (n_dirs, gates * hidden, width))
    _check_shape(op, "R", r, (n_dirs, gates * hidden, hidden))
    _check_shape(op, "B", b, (n_dirs, 2 * gates * hidden))
    state_shape = (n_dirs, batch, hidden) if layout == 0 else (batch, n_dirs, hidden)
    _check_shape(op, "initial_h", h0, state_shape)
    _check_shape(op, "initial_c", c0, state_shape)
    _check_shape(op, "P", p, (n_dirs, 3 * hidden))
    clip = float(attrs["clip"]) if "clip" in attrs else None
    acts = _activations(op, attrs, n_dirs)

    em = _Emitter(cv, node, x.type.dtype)
    masks = _sequence_masks(em, cv, node, seq_len, batch)
    x_tbi = x if layout == 0 else em.op("Transpose", [x], {"perm": (1, 0, 2)})
    x2 = em.reshape(x_tbi, (seq_len * batch, width))
    zero = em.const(0.0) if masks is not None else None

    ys, hs, cs = [[None] * n_dirs for _ in range(seq_len)], [], []
    for d, reverse in enumerate(reverses):
        gh = gates * hidden
        w_d = em.reshape(em.slice(w, 0, d, 1), (gh, width))
        r_d = em.reshape(em.slice(r, 0, d, 1), (gh, hidden))
        in_bias = rec_bias = None
        if b is not None:
            b_d = em.reshape(em.slice(b, 0, d, 1), (2 * gh,))
            wb, rb = em.slice(b_d, 0, 0, gh), em.slice(b_d, 0, gh, gh)
            if op == "GRU" and int(attrs.get("linear_before_reset", 0)):
                # Rb_h stays inside r * (H @ R_h^T + Rb_h)
                keep = np.repeat(np.array([1.0, 1.0, 0.0]), hidden)
                in_bias = em.add(wb, em.mul(rb, em.const(keep)))
                rec_bias = em.mul(rb, em.const(1.0 - keep))
            else:
                in_bias = em.add(wb, rb)
        gemm_in = [x2, w_d] + ([in_bias] if in_bias is not None else [])
        proj = em.op("Gemm", gemm_in, {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 1})
        peep = None
        if p is not None:
            p_d = em.reshape(em.slice(p, 0, d, 1), (3 * hidden,))
            peep = [em.slice(p_d, 0, k * hidden, hidden) for k in range(3)]
        cell = _Cell(em, op, hidden, r_d, rec_bias, peep, acts[d], clip, attrs)
        h = _direction_state(em, h0, d, layout, batch, hidden)
        c = _direction_state(em, c0, d, layout, batch, hidden) if op == "LSTM" else None
        for t in (reversed(range(seq_len)) if reverse else range(seq_len)):
            h_new, c_new = cell.step(em.slice(proj, 0, t * batch, batch), h, c)
            if masks is None:
                ys[t][d] = h = h_new
                c = c_new
            else:
                ys[t][d] = em.op("Where", [masks[t], h_new, zero])
                h = em.op("Where", [masks[t], h_new, h])
                if c is not None:
                    c = em.op("Where", [masks[t], c_new, c])
        hs.append(h)
        cs.append(c)

    outs = list(node.output) + [""] * 3
    if outs[0]:
        y_shape = ((seq_len, n_dirs, batch, hidden) if layout == 0
                   else (batch, seq_len, n_dirs, hidden))
        _emit_output(em, [v for step in ys for v in step], layout, y_shape, outs[0])
    if outs[1]:
        _emit_output(em, hs, layout, state_shape, outs[1])
    if outs[2] and op == "LSTM":
        _emit_output(em, cs, layout, state_shape, outs[2])
