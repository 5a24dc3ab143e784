"""Recurrent ops (RNN, GRU, LSTM), unrolled by the ONNX frontend into canonical ops: the
compiled one-node model and the numpy reference against onnxruntime on random data.

onnxruntime does not run ``layout=1``; those models are checked against onnxruntime on
the layout-0 model with transposed inputs and outputs."""
import numpy as np
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import FrontendError, from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model

T, B, I, H = 3, 2, 4, 5   # steps, batch, input width, hidden size
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _model(op, arrays, attrs, opset=22, outputs=None):
    """A one-node model; ``outputs`` flags which of Y, Y_h(, Y_c) are requested."""
    outputs = outputs or (True,) * (3 if op == "LSTM" else 2)
    model, feeds = typed_model(op, arrays, attrs, opset, len(outputs), ir_version=10)
    node = model.graph.node[0]
    for k, keep in enumerate(outputs):
        if not keep:
            node.output[k] = ""
    kept = [o for o in model.graph.output if o.name in node.output]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    return model, feeds


def _tc(model, feeds):
    """(compiled results, numpy-reference results)."""
    got = tc.compile(model).run(list(feeds.values()))
    ref = evaluate(from_onnx(model), list(feeds.values()))
    return got, ref


def _close(results, expected):
    assert len(results) == len(expected)
    for r, e in zip(results, expected):
        assert r.shape == e.shape and r.dtype == e.dtype
        np.testing.assert_allclose(r, e, rtol=1e-5, atol=2e-6)


def check(op, arrays, attrs, opset=22, outputs=None):
    model, feeds = _model(op, arrays, attrs, opset, outputs)
    expected = run_onnxruntime(model, feeds)
    for results in _tc(model, feeds):
        _close(results, expected)


_RNG = np.random.default_rng(0)


def _u(*shape):
    return _RNG.uniform(-1, 1, shape).astype(np.float32)


def _weights(op, dirs, bias=True):
    g = GATES[op] * H
    return [_u(dirs, g, I), _u(dirs, g, H)] + ([_u(dirs, 2 * g)] if bias else [])


def test_rnn_bidirectional_constants():
    """Constant weights and sequence_lens (a row shorter than the sequence)."""
    w, r, b = _weights("RNN", 2)
    lens = Const(np.array([T, 1], np.int32))
    check("RNN", [_u(T, B, I), Const(w), Const(r), Const(b), lens, _u(2, B, H)],
          {"hidden_size": H, "direction": "bidirectional", "activations": ["Relu", "Tanh"]},
          opset=14)


def test_gru_forward_y_only():
    check("GRU", [_u(T, B, I), *_weights("GRU", 1)], {"hidden_size": H}, outputs=(True, False))


def test_gru_linear_before_reset_sequence_lens_input():
    """linear_before_reset=1, bidirectional, with sequence_lens a graph input."""
    lens = np.array([1, T], np.int32)
    check("GRU", [_u(T, B, I), *_weights("GRU", 2), lens, _u(2, B, H)],
          {"hidden_size": H, "linear_before_reset": 1, "direction": "bidirectional"}, opset=7)


def test_lstm_bidirectional_peepholes_clip():
    check("LSTM", [_u(T, B, I), *_weights("LSTM", 2), None, _u(2, B, H), _u(2, B, H),
                   _u(2, 3 * H)],
          {"hidden_size": H, "direction": "bidirectional", "clip": 0.4})


def test_lstm_activations_with_parameters_and_input_forget():
    """Six activations (three per direction), alpha/beta consumed in order by those that
    take them. Each is given its parameters: onnxruntime's defaults differ from the spec's
    for Affine, ScaledTanh and ThresholdedRelu."""
    acts = ["HardSigmoid", "Affine", "ScaledTanh", "Sigmoid", "ThresholdedRelu", "Elu"]
    check("LSTM", [_u(T, B, I), *_weights("LSTM", 2, bias=False)],
          {"hidden_size": H, "direction": "bidirectional", "activations": acts,
           "activation_alpha": [0.3, 0.8, 0.9, -0.2, 0.7],
           "activation_beta": [0.6, 0.1, 1.1], "input_forget": 1}, opset=14)


def test_rnn_other_activations():
    check("RNN", [_u(T, B, I), *_weights("RNN", 2)],
          {"hidden_size": H, "direction": "bidirectional",
           "activations": ["Softsign", "LeakyRelu"]}, outputs=(False, True))


def test_lstm_reverse_y_c_only():
    check("LSTM", [_u(T, B, I), *_weights("LSTM", 1)],
          {"hidden_size": H, "direction": "reverse"}, outputs=(False, False, True))


def test_lstm_layout_1():
    """layout=1 against onnxruntime on the transposed layout-0 model."""
    x, h0, c0, p = _u(B, T, I), _u(B, 2, H), _u(B, 2, H), _u(2, 3 * H)
    attrs = {"hidden_size": H, "direction": "bidirectional"}
    weights = _weights("LSTM", 2)
    model, feeds = _model("LSTM", [x, *weights, None, h0, c0, p], {**attrs, "layout": 1})
    model0, feeds0 = _model("LSTM", [x.transpose(1, 0, 2), *weights, None,
                                     h0.transpose(1, 0, 2), c0.transpose(1, 0, 2), p], attrs)
    y, y_h, y_c = run_onnxruntime(model0, feeds0)
    expected = [y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)]
    for results in _tc(model, feeds):
        _close(results, expected)


def test_unsupported_activation_is_a_clear_error():
    model, _ = _model("RNN", [_u(T, B, I), *_weights("RNN", 1)],
                      {"hidden_size": H, "activations": ["Gelu"]})
    with pytest.raises(FrontendError, match="activation 'Gelu' is not supported"):
        from_onnx(model)
