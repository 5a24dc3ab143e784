"""Signal ops (DFT, STFT, Hann/Hamming/BlackmanWindow, MelWeightMatrix): the compiled
one-node model and the numpy reference against onnxruntime. Sizes are initializers (they
must be constants); signals are graph inputs, so the DFT/STFT computes run compiled. The
windows and the mel matrix fold to constants in a model, so their TE computes are also
checked directly through the loop-IR interpreter."""
import numpy as np
import pytest

import tc
from tc.compiler import te
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.graph.ir import TensorType
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.ops.registry import apply_reference, lookup_op
from tc.compiler.ops.signal import mel_band_edges
from tc.compiler.schedule import default_schedule, lower
from tc.frontends.onnx import NotConstantError, from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model


def check(op, arrays, attrs=None, opset=17, rtol=1e-5):
    model, feeds = typed_model(op, arrays, attrs, opset, ir_version=8)
    (expected,) = run_onnxruntime(model, feeds)
    (got,) = tc.compile(model).run(list(feeds.values()))
    (ref,) = evaluate(from_onnx(model), list(feeds.values()))
    atol = rtol * max(float(np.abs(expected).max(initial=0.0)), 1.0)
    for out in (got, ref):
        assert out.dtype == expected.dtype and out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol)


def _signal(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def _i64(v):
    return Const(np.array(v, np.int64))


# --- DFT -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", [1, 2], ids=["real", "complex"])
@pytest.mark.parametrize("inverse", [0, 1])
def test_dft_opset17(channels, inverse):
    check("DFT", [_signal((2, 12, channels))], {"inverse": inverse})


@pytest.mark.parametrize("length", [7, 16], ids=["truncate", "pad"])
def test_dft_length(length):
    check("DFT", [_signal((3, 10, 2)), _i64(length)], {"axis": 1})


def test_dft_other_axis_and_double():
    check("DFT", [_signal((2, 3, 9, 2), "float64")], {"axis": 2}, rtol=1e-9)


@pytest.mark.parametrize("axis", [1, -3])
def test_dft_axis_input_opset20(axis):
    check("DFT", [_signal((2, 6, 5, 2)), None, _i64(axis)], opset=20)


def test_rfft():
    check("DFT", [_signal((2, 11, 1)), _i64(11)], {"onesided": 1}, opset=20)


@pytest.mark.parametrize("length", [None, 9], ids=["default", "odd"])
def test_irfft(length):
    arrays = [_signal((2, 5, 2))] + ([] if length is None else [_i64(length)])
    check("DFT", arrays, {"inverse": 1, "onesided": 1}, opset=20)


def test_dft_large_length_accuracy():
    # k * n reaches ~1e6: the integer angle reduction keeps the result at float32 rounding.
    # onnxruntime (float32 Bluestein for lengths not a power of 2) is off by ~1e-2 here,
    # so the oracle is numpy's float64 FFT.
    x = _signal((1, 1000, 1))
    model, _ = typed_model("DFT", [x], {"axis": 1}, 17)
    (got,) = tc.compile(model).run([x])
    z = np.fft.fft(x[0, :, 0].astype(np.float64))
    np.testing.assert_allclose(got[0], np.stack([z.real, z.imag], -1), rtol=0, atol=1e-5)


def test_dft_length_must_be_constant():
    model, _ = typed_model("DFT", [_signal((2, 8, 1)), np.array(8, np.int64)], {}, 17)
    with pytest.raises(NotConstantError, match="dft_length"):
        from_onnx(model)


def test_dft_rejects_last_axis():
    with pytest.raises(ValueError, match="last dim"):
        lookup_op("DFT").infer([TensorType((2, 8, 2), "float32")], {"axis": 2, "length": 8})


# --- STFT ------------------------------------------------------------------------------

@pytest.mark.parametrize("onesided", [0, 1])
def test_stft_with_window(onesided):
    window = np.hanning(16).astype(np.float32)
    check("STFT", [_signal((2, 64, 1)), _i64(8), window], {"onesided": onesided})


def test_stft_frame_length_no_window():
    check("STFT", [_signal((1, 50, 1)), _i64(5), None, _i64(12)])


def test_stft_complex_signal():
    check("STFT", [_signal((2, 40, 2)), _i64(6), _signal((10,), seed=1)], {"onesided": 0})


def test_stft_frame_step_must_be_constant():
    model, _ = typed_model("STFT", [_signal((1, 32, 1)), np.array(4, np.int64), None,
                                    _i64(8)], {}, 17)
    with pytest.raises(NotConstantError, match="frame_step"):
        from_onnx(model)


# --- windows and MelWeightMatrix --------------------------------------------------------

WINDOWS = ["HannWindow", "HammingWindow", "BlackmanWindow"]


@pytest.mark.parametrize("op", WINDOWS)
@pytest.mark.parametrize("periodic", [0, 1])
def test_window(op, periodic):
    check(op, [_i64(10)], {"periodic": periodic})


@pytest.mark.parametrize("op", WINDOWS)
def test_window_output_datatype(op):
    # double output; onnxruntime computes it in float32 precision
    check(op, [Const(np.array(7, np.int32))], {"output_datatype": 11}, rtol=1e-6)


@pytest.mark.parametrize("params", [(8, 16, 8192, 0.0, 4096.0), (10, 64, 16000, 20.0, 7000.0),
                                    (40, 512, 22050, 0.0, 11025.0)])
def test_mel_weight_matrix(params):
    n, length, rate, lo, hi = params
    check("MelWeightMatrix", [Const(np.array(n, np.int32)), Const(np.array(length, np.int32)),
                              Const(np.array(rate, np.int32)), Const(np.array(lo, np.float32)),
                              Const(np.array(hi, np.float32))])


def _run_te(op, inputs, attrs):
    """``op``'s TE compute, scheduled, lowered and interpreted."""
    placeholders = [te.placeholder(x.shape, str(x.dtype), f"in{i}") for i, x in enumerate(inputs)]
    (out,) = lookup_op(op).compute(placeholders, dict(attrs))
    func = lower(default_schedule([out]), placeholders + [out], op.lower())
    got = np.zeros(out.shape, out.dtype)
    run_primfunc(func, list(inputs) + [got])
    return got


@pytest.mark.parametrize("op", WINDOWS)
def test_window_te_compute(op):
    for periodic in (0, 1):
        attrs = {"size": 9, "periodic": periodic, "dtype": "float32"}
        np.testing.assert_allclose(_run_te(op, [], attrs), apply_reference(op, [], attrs)[0],
                                   atol=1e-6)


def test_mel_weight_matrix_te_compute():
    edges = mel_band_edges(np.int32(12), np.int32(64), np.int32(16000), np.float32(20.0),
                           np.float32(7600.0))
    edges[3] = edges[2]  # a flat rising edge: a peak of 1 at the center only
    attrs = {"num_spectrogram_bins": 33, "dtype": "float32"}
    np.testing.assert_allclose(_run_te("MelWeightMatrix", [edges], attrs),
                               apply_reference("MelWeightMatrix", [edges], attrs)[0], atol=1e-7)
