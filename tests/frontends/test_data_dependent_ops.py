"""Unique and NonMaxSuppression, whose output shapes depend on input values: computed at
compile time from initializers and checked against onnxruntime, both compiled and through
the graph's numpy evaluation; a runtime input gives an error naming it."""
import numpy as np
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import NotConstantError, from_onnx
from tc.frontends.onnx_backend import TcBackend
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model

F32, I64 = np.float32, np.int64


def check(op, inputs, attrs, opset, n_outputs):
    """Compile and evaluate a one-node model of initializers; compare with onnxruntime."""
    model, feeds = typed_model(op, [x if x is None else Const(x) for x in inputs], attrs,
                               opset, n_outputs)
    assert not feeds
    expected = run_onnxruntime(model, {})
    compiled = tc.compile(model).run([])
    evaluated = evaluate(from_onnx(model), [])
    for got in (compiled, evaluated):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
            np.testing.assert_array_equal(g, e)


# --- Unique --------------------------------------------------------------------------

def _with_repeats(shape, axis, dtype, seed):
    """Random data of few distinct values whose slices along ``axis`` repeat."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, shape).astype(dtype)
    if axis is not None and shape[axis] > 2:
        picks = rng.integers(0, shape[axis] // 2 + 1, shape[axis])
        x = np.take(x, picks, axis=axis)
    return x


UNIQUE = [
    # (shape, dtype, attrs)
    ((20,), I64, {}),
    ((4, 6), F32, {"sorted": 0}),
    ((3, 5, 2), np.float64, {"sorted": 1}),
    ((6, 3), F32, {"axis": 0}),
    ((6, 3), np.int8, {"axis": 0, "sorted": 0}),
    ((2, 7, 3), F32, {"axis": 1}),
    ((2, 7, 3), I64, {"axis": -2, "sorted": 0}),
    ((3, 2, 8), F32, {"axis": 2}),
    ((1,), F32, {}),
]


@pytest.mark.parametrize("seed,shape,dtype,attrs", [(i, *c) for i, c in enumerate(UNIQUE)],
                         ids=[f"{s}-{np.dtype(d)}-{a}" for s, d, a in UNIQUE])
def test_unique_matches_onnxruntime(seed, shape, dtype, attrs):
    x = _with_repeats(shape, attrs.get("axis"), dtype, seed)
    check("Unique", [x], attrs, 11, 4)


def test_unique_with_only_some_outputs():
    x = np.array([[1.5, -0.5, 1.5], [2.0, -0.5, 0.0]], F32)
    check("Unique", [x], {"sorted": 0}, 11, 1)
    check("Unique", [x], {}, 11, 2)


def test_unique_treats_negative_zero_as_zero():
    x = np.array([0.0, -0.0, 1.0, 0.0], F32)
    check("Unique", [x], {}, 11, 4)


# --- NonMaxSuppression ---------------------------------------------------------------

def _boxes(batches, n, seed, center=False, flip=False):
    """Random overlapping boxes: corners [y1, x1, y2, x2] or centers [xc, yc, w, h]."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 4, (batches, n, 2))
    size = rng.uniform(0.5, 3, (batches, n, 2))
    if center:
        return np.concatenate([low + size / 2, size], axis=2).astype(F32)
    corners = np.concatenate([low, low + size], axis=2)
    if flip:  # some boxes given with y1 > y2 or x1 > x2
        swap = rng.random((batches, n, 2)) < 0.5
        lo, hi = corners[..., :2].copy(), corners[..., 2:].copy()
        corners[..., :2] = np.where(swap, hi, lo)
        corners[..., 2:] = np.where(swap, lo, hi)
    return corners.astype(F32)


def _scores(batches, classes, n, seed, ties=False):
    rng = np.random.default_rng(seed + 100)
    scores = rng.random((batches, classes, n))
    return (np.round(scores * 4) / 4 if ties else scores).astype(F32)


def _limit(k):
    return np.array([k], I64)


NMS = [
    # (batches, classes, boxes, box options, extra inputs, attrs)
    (1, 1, 12, {}, [_limit(12), np.array([0.3], F32)], {}),
    (2, 3, 15, {}, [_limit(9), np.array([0.5], F32), np.array([0.4], F32)], {}),
    (2, 2, 10, {"flip": True}, [_limit(10), np.array([0.2], F32)], {}),
    (1, 2, 14, {"center": True}, [_limit(14), np.array([0.4], F32), np.array([0.1], F32)],
     {"center_point_box": 1}),
    (1, 3, 12, {"ties": True}, [_limit(12), np.array([0.1], F32)], {}),
    (1, 1, 8, {}, [_limit(20)], {}),                          # iou_threshold absent: 0
    (1, 1, 8, {}, [_limit(3), None, np.array([0.5], F32)], {}),
    (1, 2, 6, {}, [], {}),                                    # max_output absent: no boxes
    (1, 1, 6, {}, [_limit(0), np.array([0.5], F32)], {}),
    (2, 1, 9, {}, [_limit(5), np.array([0.5], F32), np.array([2.0], F32)], {}),
]


@pytest.mark.parametrize("index", range(len(NMS)))
def test_non_max_suppression_matches_onnxruntime(index):
    batches, classes, n, opts, extra, attrs = NMS[index]
    opset = 10 if index % 3 == 0 else 11
    boxes = _boxes(batches, n, seed=n, center=opts.get("center", False),
                   flip=opts.get("flip", False))
    scores = _scores(batches, classes, n, seed=n, ties=opts.get("ties", False))
    check("NonMaxSuppression", [boxes, scores, *extra], attrs, opset, 1)


# --- inputs known only at run time ---------------------------------------------------

def test_unique_of_a_graph_input_names_it():
    model, _ = typed_model("Unique", [np.array([3.0, 1.0, 3.0], F32)], {}, 11, 4)
    with pytest.raises(NotConstantError, match="Unique's input.*'in0'.*compile time"):
        from_onnx(model)


def test_nms_with_a_runtime_threshold_names_it():
    boxes, scores = _boxes(1, 5, seed=0), _scores(1, 1, 5, seed=0)
    model, _ = typed_model("NonMaxSuppression", [Const(boxes), Const(scores), Const(_limit(3)),
                                                 np.array([0.5], F32)], {}, 11, 1)
    with pytest.raises(NotConstantError, match="iou_threshold.*'in3'"):
        from_onnx(model)


def test_backend_binds_runtime_inputs_as_constants():
    boxes, scores = _boxes(1, 10, seed=3), _scores(1, 2, 10, seed=3)
    inputs = [boxes, scores, _limit(4), np.array([0.3], F32), np.array([0.2], F32)]
    model, feeds = typed_model("NonMaxSuppression", inputs, {}, 11, 1)
    rep = TcBackend.prepare(model)
    expected = run_onnxruntime(model, feeds)
    for _ in range(2):
        (got,) = rep.run(list(feeds.values()))
        np.testing.assert_array_equal(got, expected[0])
