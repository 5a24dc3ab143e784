"""ONNX converters for the signal ops: DFT, STFT, the windows and MelWeightMatrix.

The inputs that fix shapes (dft_length, axis, frame_step, frame_length, size, the mel
parameters) must be compile-time constants; they become canonical attributes.
"""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from ...compiler.ops.signal import mel_band_edges
from .importer import converter, np_dtype


def _scalar(cv, node, index: int, what: str):
    """The constant scalar at input ``index`` as a numpy scalar, or None when absent."""
    array = cv.optional_const(node, index, f"{node.op_type}'s {what} input")
    return None if array is None else np.asarray(array).reshape(-1)[0]


@converter("DFT")
def _dft(cv, node, attrs):
    x = cv.value(node.input[0])
    rank = len(x.type.shape)
    if cv.opset >= 20:
        axis = _scalar(cv, node, 2, "axis")
        axis = -2 if axis is None else int(axis)
    else:
        axis = int(attrs.get("axis", 1))
    axis = normalize_axis(axis, rank, "DFT axis")
    if axis == rank - 1:
        raise ValueError(f"DFT's axis must not be the last dim (real/imaginary parts); got "
                         f"axis {axis} for rank {rank}")
    inverse, onesided = int(attrs.get("inverse", 0)), int(attrs.get("onesided", 0))
    length = _scalar(cv, node, 1, "dft_length")
    if length is None:
        n = x.type.shape[axis]
        length = 2 * (n - 1) if inverse and onesided else n
    cv.emit("DFT", [x], {"axis": axis, "length": int(length), "inverse": inverse,
                         "onesided": onesided}, node)


@converter("STFT")
def _stft(cv, node, attrs):
    signal = cv.value(node.input[0])
    step = _scalar(cv, node, 1, "frame_step")
    window = cv.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    frame = _scalar(cv, node, 3, "frame_length")
    if frame is None:
        frame = window.type.shape[0] if window is not None else signal.type.shape[-2]
    elif window is not None and window.type.shape != (int(frame),):
        raise ValueError(f"STFT's window has shape {window.type.shape}, but frame_length is "
                         f"{int(frame)}")
    cv.emit("STFT", [signal] + ([window] if window is not None else []),
            {"frame_step": int(step), "frame_length": int(frame),
             "onesided": int(attrs.get("onesided", 1))}, node)


@converter("HannWindow", "HammingWindow", "BlackmanWindow")
def _window(cv, node, attrs):
    size = _scalar(cv, node, 0, "size")
    cv.emit(node.op_type, [], {"size": int(size), "periodic": int(attrs.get("periodic", 1)),
                               "dtype": np_dtype(int(attrs.get("output_datatype", 1)))}, node)


@converter("MelWeightMatrix")
def _mel_weight_matrix(cv, node, attrs):
    names = ("num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz")
    args = [_scalar(cv, node, i, what) for i, what in enumerate(names)]
    edges = cv.constant(mel_band_edges(*args), f"{node.output[0]}_mel_edges")
    cv.emit("MelWeightMatrix", [edges],
            {"num_spectrogram_bins": int(args[1]) // 2 + 1,
             "dtype": np_dtype(int(attrs.get("output_datatype", 1)))}, node)
