"""LinearAttention (opset 27): the compiled one-node model and tc's numpy graph evaluation
against ONNX's reference evaluator (onnxruntime lacks the op), on random inputs."""
import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import FrontendError, from_onnx

_NAMES = ("query", "key", "value", "past_state", "decay", "beta")


def _inputs(b=2, t=2, h_q=4, h_kv=2, d_k=4, d_v=3, rule="gated_delta", past=False,
            decay="elem", beta="head", dtype="float32", seed=0):
    """Random inputs (None for absent ones), keys L2-normalized per head for delta rules."""
    rng = np.random.default_rng(seed)
    key = rng.standard_normal((b, t, h_kv, d_k))
    if "delta" in rule:
        key /= np.linalg.norm(key, axis=-1, keepdims=True)
    arrays = [rng.standard_normal((b, t, h_q * d_k)), key.reshape(b, t, h_kv * d_k),
              rng.standard_normal((b, t, h_kv * d_v)),
              0.3 * rng.standard_normal((b, h_kv, d_k, d_v)) if past else None, None, None]
    if "gated" in rule:
        arrays[4] = -0.2 * np.abs(rng.standard_normal((b, t, h_kv * d_k if decay == "elem"
                                                        else h_kv)))
    if "delta" in rule:
        arrays[5] = rng.uniform(0.1, 1.0, (b, t, h_kv if beta == "head" else 1))
    return [None if a is None else a.astype(dtype) for a in arrays]


def _model(arrays, attrs, outputs=("output", "present_state")):
    """A one-node LinearAttention model over ``arrays`` (graph inputs) and its feeds."""
    names = [n if a is not None else "" for n, a in zip(_NAMES, arrays)]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node("LinearAttention", names, list(outputs), **attrs)
    ins = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in zip(_NAMES, arrays) if a is not None]
    outs = [onnx.ValueInfoProto(name=o) for o in outputs if o]
    graph = helper.make_graph([node], "linear_attention", ins, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 27)])
    model.ir_version = 10
    return model, {n: a for n, a in zip(_NAMES, arrays) if a is not None}


def check(arrays, attrs, outputs=("output", "present_state"), rtol=1e-4, atol=1e-5):
    model, feeds = _model(arrays, attrs, outputs)
    expected = ReferenceEvaluator(model).run(None, feeds)
    got = tc.compile(model).run(list(feeds.values()))
    ref = evaluate(from_onnx(model), list(feeds.values()))
    assert len(got) == len(expected) == len(ref)
    for e, g, r in zip(expected, got, ref):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol, atol)
        np.testing.assert_allclose(r.astype(np.float64), e.astype(np.float64), rtol, atol)


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("past", [False, True])
def test_update_rules(rule, past):
    check(_inputs(rule=rule, past=past), {"update_rule": rule, "q_num_heads": 4,
                                          "kv_num_heads": 2})


@pytest.mark.parametrize("h_q,h_kv", [(3, 3), (6, 2), (4, 1)])   # MHA, GQA, MQA
def test_head_groupings(h_q, h_kv):
    check(_inputs(h_q=h_q, h_kv=h_kv, past=True, seed=1),
          {"q_num_heads": h_q, "kv_num_heads": h_kv})


@pytest.mark.parametrize("decay,beta", [("head", "head"), ("elem", "one")])
def test_decay_and_beta_forms(decay, beta):
    check(_inputs(decay=decay, beta=beta, past=True, seed=2),
          {"q_num_heads": 4, "kv_num_heads": 2})


def test_explicit_scale_and_decode_step():
    check(_inputs(t=1, past=True, seed=3), {"q_num_heads": 4, "kv_num_heads": 2, "scale": 0.3})


def test_float16_with_float32_state():
    arrays = _inputs(dtype="float16", seed=4)
    arrays[3] = (0.3 * np.random.default_rng(5).standard_normal((2, 2, 4, 3))).astype("float32")
    check(arrays, {"q_num_heads": 4, "kv_num_heads": 2}, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("outputs", [("output",), ("", "present_state")])
def test_unrequested_outputs(outputs):
    check(_inputs(past=True, seed=6), {"q_num_heads": 4, "kv_num_heads": 2}, outputs)


def test_missing_decay_is_rejected():
    arrays = _inputs(rule="delta")
    model, _ = _model(arrays, {"update_rule": "gated_delta", "q_num_heads": 4,
                               "kv_num_heads": 2})
    with pytest.raises(FrontendError, match="decay"):
        from_onnx(model)
