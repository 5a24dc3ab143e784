"""Signal processing: DFT, STFT, the Hann / Hamming / Blackman windows, MelWeightMatrix.

Complex tensors follow ONNX: a trailing dim of 2 holds (real, imaginary); a trailing dim
of 1 is a real signal. Every size below is a canonical attribute: frontends read ONNX's
constant inputs (dft_length, axis, frame_step, size, ...) into them.

- DFT(x; axis, length, inverse, onesided): the transform of ``x`` (``[..., 1|2]``) along
  ``axis`` (non-negative, not the last dim), the signal cut or zero-padded to ``length``.
  Forward: X[k] = sum_n x[n] e^{-2 pi i k n / length}; inverse: e^{+...} and a 1/length
  factor. ``onesided`` forward keeps the ``length // 2 + 1`` first bins; ``onesided``
  inverse is IRFFT: the input holds the non-redundant half of a Hermitian spectrum and the
  result is the real signal (trailing dim 1) of ``length`` samples.
- STFT(signal[, window]; frame_step, frame_length, onesided): signal is (B, T, 1|2);
  frame f is ``signal[:, f * frame_step : f * frame_step + frame_length]`` times the
  window (rectangular when absent), transformed forward; the result is
  (B, frames, bins, 2) with frames = (T - frame_length) // frame_step + 1 and bins =
  frame_length // 2 + 1 when onesided, else frame_length.
- HannWindow / HammingWindow / BlackmanWindow(; size, periodic, dtype): no inputs; w[i]
  for i < size with N = size (periodic) or size - 1 (symmetric), t = 2 pi i / N:
  Hann 0.5 - 0.5 cos t, Hamming 25/46 - 21/46 cos t, Blackman 0.42 - 0.5 cos t +
  0.08 cos 2t.
- MelWeightMatrix(edges; num_spectrogram_bins, dtype): ``edges`` (int64, num_mel_bins + 2)
  are the spectrogram bins of the mel band edges (``mel_band_edges`` computes them from
  ONNX's inputs); column i is the triangle rising from edges[i] to 1 at edges[i + 1] and
  falling to 0 at edges[i + 2]. Output (num_spectrogram_bins, num_mel_bins).

TE: DFT and STFT are one "reduce" stage each, an O(N^2) sum over the transformed axis in
float64 whose twiddle angle is reduced exactly (k * n mod N, in integers) before the
cos/sin, then an "elemwise" stage scaling (inverse) and casting to the input dtype. The
windows and the mel matrix are single "elemwise" stages (computed in float64), usually
constant-folded away since nothing they compute depends on run-time data.
"""
from __future__ import annotations

import math

import numpy as np

from .. import te
from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from ..te import expr as E
from .common import clamp_index, define_op, normalize_axis
from .registry import OpPattern

_F64 = "float64"


def _f(v: float) -> E.Expr:
    return E.const(v, _F64)


def _check_complex_layout(op: str, t: TensorType, min_rank: int = 2) -> None:
    if len(t.shape) < min_rank or t.shape[-1] not in (1, 2) or not is_floating(t.dtype):
        raise ValueError(f"{op} needs a float tensor of rank >= {min_rank} whose last dim is 1 "
                         f"(real) or 2 (complex), got {t}")


def _twiddle(k: E.Expr, n: E.Expr, length: int, sign: int, part: E.Expr):
    """Weights (a, b) with ``out[part] = a * x_re + b * x_im`` for the term
    ``x[n] * e^{sign * 2 pi i k n / length}``; ``part`` 0 is the real part, 1 the imaginary.
    The angle is reduced modulo the period in integers, so it stays accurate for large k*n."""
    theta = E.cast(_F64, (k * n) % E.const(length)) * _f(2 * math.pi / length)
    cos, sin = E.call("cos", theta), E.call("sin", theta)
    ssin = sin if sign > 0 else -sin
    real = E.eq(part, E.const(0))
    return E.select(real, cos, ssin), E.select(real, -ssin, cos)


def _finish(acc: te.Tensor, dtype: str, scale: float, name: str) -> te.Tensor:
    """``acc * scale`` cast to ``dtype`` (the float64 accumulator itself when nothing to do)."""
    if dtype == _F64 and scale == 1.0:
        return acc

    def body(*i):
        v = acc[i] if scale == 1.0 else acc[i] * _f(scale)
        return E.cast(dtype, v)

    return te.compute(acc.shape, body, name, tag="elemwise")


# --- DFT -------------------------------------------------------------------------------

def _dft_params(shape, attrs):
    rank = len(shape)
    axis = normalize_axis(attrs["axis"], rank)
    if axis == rank - 1:
        raise ValueError("DFT's axis cannot be the last dim (it holds real/imaginary parts)")
    length = int(attrs["length"])
    if length < 1:
        raise ValueError(f"DFT's dft_length must be >= 1, got {length}")
    return axis, length, bool(attrs.get("inverse", 0)), bool(attrs.get("onesided", 0))


def _dft_infer(types, attrs):
    (x,) = types
    _check_complex_layout("DFT", x)
    axis, length, inverse, onesided = _dft_params(x.shape, attrs)
    shape = list(x.shape)
    if inverse and onesided:
        shape[axis], shape[-1] = length, 1
    else:
        shape[axis], shape[-1] = (length // 2 + 1 if onesided else length), 2
    return [TensorType(tuple(shape), x.dtype)]


def _as_complex(x: np.ndarray) -> np.ndarray:
    """(..., 1|2) float array -> (...) complex128."""
    x = x.astype(np.float64)
    return x[..., 0] + 1j * x[..., 1] if x.shape[-1] == 2 else x[..., 0].astype(np.complex128)


def _as_pairs(z: np.ndarray) -> np.ndarray:
    return np.stack([z.real, z.imag], axis=-1)


def _dft_reference(xs, attrs):
    (x,) = xs
    axis, length, inverse, onesided = _dft_params(x.shape, attrs)
    z = _as_complex(x)
    if inverse and onesided:
        return [np.fft.irfft(z, n=length, axis=axis)[..., None]]
    out = np.fft.ifft(z, n=length, axis=axis) if inverse else np.fft.fft(z, n=length, axis=axis)
    if onesided:
        out = np.take(out, range(length // 2 + 1), axis=axis)
    return [_as_pairs(out)]


def _dft_compute(inputs, attrs):
    (x,) = inputs
    axis, length, inverse, onesided = _dft_params(x.shape, attrs)
    (out_t,) = _dft_infer([TensorType(x.shape, x.dtype)], attrs)
    complex_in = x.shape[-1] == 2

    def read(index, n, part):
        idx = tuple(index[:-1])
        return E.cast(_F64, x[idx[:axis] + (n,) + idx[axis + 1:] + (E.const(part),)])

    if inverse and onesided:
        # x[n] = 1/N sum over the half spectrum, each bin but DC and Nyquist counted twice
        kk = te.reduce_axis(min(x.shape[axis], length // 2 + 1), "k")

        def irfft(*i):
            k = kk.var
            a, b = _twiddle(k, i[axis], length, 1, E.const(0))
            edge = E.logical_or(E.eq(k, E.const(0)), E.eq(k * E.const(2), E.const(length)))
            term = E.select(edge, _f(1.0), _f(2.0)) * a * read(i, k, 0)
            if complex_in:
                term = term + E.select(edge, _f(0.0), _f(2.0)) * b * read(i, k, 1)
            return te.sum(term, axis=kk)

        acc = te.compute(out_t.shape, irfft, "irfft_acc", tag="reduce", attrs={"axes": (axis,)})
    else:
        nn = te.reduce_axis(min(x.shape[axis], length), "n")

        def dft(*i):
            a, b = _twiddle(i[axis], nn.var, length, 1 if inverse else -1, i[-1])
            term = a * read(i, nn.var, 0)
            if complex_in:
                term = term + b * read(i, nn.var, 1)
            return te.sum(term, axis=nn)

        acc = te.compute(out_t.shape, dft, "dft_acc", tag="reduce", attrs={"axes": (axis,)})
    return [_finish(acc, x.dtype, 1.0 / length if inverse else 1.0, "dft")]


define_op("DFT", _dft_infer, _dft_reference, _dft_compute, OpPattern.REDUCTION, __doc__)


# --- STFT ------------------------------------------------------------------------------

def _stft_params(types, attrs):
    signal = types[0]
    _check_complex_layout("STFT", signal, 3)
    if len(signal.shape) != 3:
        raise ValueError(f"STFT needs a signal of shape (batch, length, 1|2), got {signal}")
    step, frame = int(attrs["frame_step"]), int(attrs["frame_length"])
    if step < 1 or frame < 1:
        raise ValueError(f"STFT needs frame_step and frame_length >= 1, got {step}, {frame}")
    if frame > signal.shape[1]:
        raise ValueError(f"STFT's frame_length {frame} exceeds the signal length {signal.shape[1]}")
    if len(types) > 1 and types[1].shape != (frame,):
        raise ValueError(f"STFT's window must have shape ({frame},), got {types[1].shape}")
    frames = (signal.shape[1] - frame) // step + 1
    bins = frame // 2 + 1 if attrs.get("onesided", 1) else frame
    return step, frame, frames, bins


def _stft_infer(types, attrs):
    if len(types) not in (1, 2):
        raise ValueError(f"STFT takes a signal and an optional window, got {len(types)} inputs")
    _, _, frames, bins = _stft_params(types, attrs)
    return [TensorType((types[0].shape[0], frames, bins, 2), types[0].dtype)]


def _stft_reference(xs, attrs):
    step, frame, frames, bins = _stft_params([TensorType(x.shape, str(x.dtype)) for x in xs],
                                             attrs)
    z = _as_complex(xs[0])
    starts = np.arange(frames)[:, None] * step + np.arange(frame)[None, :]
    framed = z[:, starts]  # (B, frames, frame)
    if len(xs) > 1:
        framed = framed * xs[1].astype(np.float64)
    return [_as_pairs(np.fft.fft(framed, axis=-1)[..., :bins])]


def _stft_compute(inputs, attrs):
    signal = inputs[0]
    window = inputs[1] if len(inputs) > 1 else None
    step, frame, frames, bins = _stft_params(inputs, attrs)
    nn = te.reduce_axis(frame, "n")

    def body(b, f, k, part):
        n = nn.var
        t = f * E.const(step) + n

        def read(c):
            return E.cast(_F64, signal[b, t, E.const(c)])

        a, bw = _twiddle(k, n, frame, -1, part)
        term = a * read(0)
        if signal.shape[-1] == 2:
            term = term + bw * read(1)
        if window is not None:
            term = term * E.cast(_F64, window[n])
        return te.sum(term, axis=nn)

    acc = te.compute((signal.shape[0], frames, bins, 2), body, "stft_acc", tag="reduce",
                     attrs={"axes": (1,)})
    return [_finish(acc, signal.dtype, 1.0, "stft")]


define_op("STFT", _stft_infer, _stft_reference, _stft_compute, OpPattern.REDUCTION, __doc__)


# --- windows ---------------------------------------------------------------------------

#: name -> (a0, a1, a2): w = a0 - a1 cos t + a2 cos 2t
_WINDOWS = {
    "HannWindow": (0.5, 0.5, 0.0),
    "HammingWindow": (25.0 / 46.0, 21.0 / 46.0, 0.0),
    "BlackmanWindow": (0.42, 0.5, 0.08),
}


def _window_period(attrs) -> int:
    size = int(attrs["size"])
    if size < 0:
        raise ValueError(f"window size must be >= 0, got {size}")
    return size if attrs.get("periodic", 1) else size - 1


def _window_infer(name):
    def infer(types, attrs):
        if types:
            raise ValueError(f"{name} takes no inputs (its size is an attribute)")
        _window_period(attrs)
        return [TensorType((int(attrs["size"]),), str(np.dtype(attrs.get("dtype", "float32"))))]
    return infer


def _window_reference(name):
    a0, a1, a2 = _WINDOWS[name]

    def reference(xs, attrs):
        period = _window_period(attrs)
        i = np.arange(int(attrs["size"]), dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = 2 * np.pi * i / period if period else np.full_like(i, np.nan)
        return [a0 - a1 * np.cos(t) + a2 * np.cos(2 * t)]
    return reference


def _window_compute(name):
    a0, a1, a2 = _WINDOWS[name]

    def compute(inputs, attrs):
        period = _window_period(attrs)
        dtype = str(np.dtype(attrs.get("dtype", "float32")))

        def body(i):
            if period == 0:  # a symmetric window of one sample: 0/0, as the ONNX reference
                return E.cast(dtype, _f(math.nan))
            t = E.cast(_F64, i) * _f(2 * math.pi / period)
            v = _f(a0) - _f(a1) * E.call("cos", t)
            if a2:
                v = v + _f(a2) * E.call("cos", t * _f(2.0))
            return E.cast(dtype, v)

        return [te.compute((int(attrs["size"]),), body, name.lower(), tag="elemwise")]
    return compute


for _name in _WINDOWS:
    define_op(_name, _window_infer(_name), _window_reference(_name), _window_compute(_name),
              OpPattern.ELEMWISE, __doc__)


# --- MelWeightMatrix -------------------------------------------------------------------

def mel_band_edges(num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
                   upper_edge_hertz) -> np.ndarray:
    """The spectrogram bins (int64, ``num_mel_bins + 2``) of the mel band edges, evenly
    spaced on the mel scale mel(f) = 2595 log10(1 + f / 700) between the edge frequencies.

    The arguments are the numpy scalars ONNX's MelWeightMatrix receives; the arithmetic
    follows the ONNX reference step by step (including its dtypes), since the results are
    floored to integers and a different rounding could move an edge by one bin.
    """
    n = int(num_mel_bins)
    points = np.arange(0, n + 2)
    low = 2595 * np.log1p(lower_edge_hertz / 700) / np.log(10)
    high = 2595 * np.log1p(upper_edge_hertz / 700) / np.log(10)
    step = (high - low) / points.shape[0]
    hertz = 700 * np.expm1((points * step + low) / 2595 * np.log(10))
    return (((dft_length + 1) * hertz) // sample_rate).astype(np.int64)


def _mel_infer(types, attrs):
    (edges,) = types
    if len(edges.shape) != 1 or edges.shape[0] < 2 or edges.dtype != "int64":
        raise ValueError(f"MelWeightMatrix needs int64 band edges of shape (num_mel_bins + 2,), "
                         f"got {edges}")
    spectrogram_bins = int(attrs["num_spectrogram_bins"])
    return [TensorType((spectrogram_bins, edges.shape[0] - 2),
                       str(np.dtype(attrs.get("dtype", "float32"))))]


def _mel_reference(xs, attrs):
    edges = xs[0].astype(np.int64)
    j = np.arange(int(attrs["num_spectrogram_bins"]), dtype=np.int64)[:, None]
    lo, mid, hi = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        rise = np.where(lo == mid, 1.0, (j - lo) / (mid - lo).astype(np.float64))
        fall = (hi - j) / (hi - mid).astype(np.float64)
    in_rise = (lo <= mid) & (lo <= j) & (j <= mid) & ((lo < mid) | (j == mid))
    in_fall = (mid < hi) & (mid <= j) & (j < hi)
    return [np.where(in_fall, fall, np.where(in_rise, rise, 0.0))]


def _mel_compute(inputs, attrs):
    (edges,) = inputs
    n_edges = edges.shape[0]
    dtype = str(np.dtype(attrs.get("dtype", "float32")))

    def body(j, i):
        lo, mid, hi = (edges[clamp_index(i + d, n_edges)] for d in range(3))
        jf, lof, midf, hif = (E.cast(_F64, v) for v in (j, lo, mid, hi))
        # the divisors are clamped to 1 where a branch is not taken, so no 0/0 is evaluated
        rise = E.select(E.eq(lo, mid), _f(1.0),
                        (jf - lof) / E.maximum(midf - lof, _f(1.0)))
        fall = (hif - jf) / E.maximum(hif - midf, _f(1.0))
        in_rise = E.logical_and(E.le(lo, j), E.le(j, mid),
                                E.logical_or(E.lt(lo, mid), E.eq(j, mid)))
        in_fall = E.logical_and(E.lt(mid, hi), E.le(mid, j), E.lt(j, hi))
        return E.cast(dtype, E.select(in_fall, fall, E.select(in_rise, rise, _f(0.0))))

    shape = (int(attrs["num_spectrogram_bins"]), n_edges - 2)
    return [te.compute(shape, body, "mel_weight_matrix", tag="elemwise")]


define_op("MelWeightMatrix", _mel_infer, _mel_reference, _mel_compute, OpPattern.ELEMWISE,
          __doc__)
