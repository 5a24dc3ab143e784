"""GridSample and AffineGrid: the compiled one-node model and the numpy reference against
onnxruntime (or the ONNX reference evaluator where onnxruntime lacks a case), on random
inputs whose grids reach outside [-1, 1]; every input a graph input."""
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model


def check(op, arrays, attrs, opset=20, atol=1e-5, oracle="ort"):
    model, feeds = typed_model(op, arrays, attrs, opset, ir_version=10)
    if oracle == "ort":
        expected = run_onnxruntime(model, feeds)
    else:
        expected = ReferenceEvaluator(model).run(None, feeds)
    got = tc.compile(model).run(list(feeds.values()))
    ref = evaluate(from_onnx(model), list(feeds.values()))
    for e, g, r in zip(expected, got, ref):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), atol=atol, rtol=1e-5)
        np.testing.assert_allclose(r.astype(np.float64), e.astype(np.float64), atol=atol, rtol=1e-5)


def _grid(shape, dtype="float32", seed=1, reach=1.7):
    """Random normalized positions in [-reach, reach], a third of them on exact multiples
    of 1/8 (pixel centers, edges and round-half-to-even ties of the nearest mode)."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(-reach, reach, shape)
    g.reshape(-1)[::3] = np.round(g.reshape(-1)[::3] * 8) / 8
    return g.astype(dtype)


def _x(shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


CASES_2D = ([(m, p, 0) for m in ("linear", "nearest", "cubic")
             for p in ("zeros", "border", "reflection")]
            + [("cubic", p, 1) for p in ("zeros", "border", "reflection")]
            + [("linear", "reflection", 1), ("nearest", "reflection", 1)])


@pytest.mark.parametrize("mode,padding,align", CASES_2D)
def test_grid_sample_2d(mode, padding, align):
    attrs = {"mode": mode, "padding_mode": padding, "align_corners": align}
    check("GridSample", [_x((2, 3, 4, 5)), _grid((2, 3, 6, 2))], attrs)


@pytest.mark.parametrize("attrs", [{}, {"mode": "bicubic", "padding_mode": "reflection"}])
def test_grid_sample_opset16(attrs):  # default mode bilinear; bicubic is cubic
    check("GridSample", [_x((1, 2, 3, 4)), _grid((1, 5, 2, 2), reach=3.0)], attrs, opset=16)


@pytest.mark.parametrize("mode,padding,align", [
    ("linear", "zeros", 0), ("linear", "reflection", 1), ("nearest", "border", 0),
    ("nearest", "reflection", 0)])
def test_grid_sample_3d(mode, padding, align):
    attrs = {"mode": mode, "padding_mode": padding, "align_corners": align}
    check("GridSample", [_x((1, 2, 3, 4, 5)), _grid((1, 2, 3, 4, 3))], attrs)


def test_grid_sample_3d_cubic():  # onnxruntime samples 3-D grids linearly or nearest only
    attrs = {"mode": "cubic", "padding_mode": "reflection", "align_corners": 0}
    check("GridSample", [_x((1, 2, 3, 4, 3)), _grid((1, 2, 2, 3, 3))], attrs, oracle="onnx")


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_tiny_dims_far_grid(padding):
    """Dims of 1 and 2 pixels, positions up to 5 image widths away (many reflections)."""
    attrs = {"mode": "cubic", "padding_mode": padding, "align_corners": 0}
    check("GridSample", [_x((1, 2, 1, 2)), _grid((1, 4, 5, 2), reach=9.0)], attrs)


def test_grid_sample_float64():
    attrs = {"mode": "cubic", "padding_mode": "border", "align_corners": 1}
    check("GridSample", [_x((2, 2, 4, 4), "float64"), _grid((2, 3, 3, 2), "float64")], attrs,
          atol=1e-12)


def test_grid_sample_float16():  # computed in float32, rounded once to float16
    attrs = {"mode": "cubic", "padding_mode": "zeros", "align_corners": 0}
    check("GridSample", [_x((1, 2, 3, 4), "float16"), _grid((1, 3, 3, 2), "float16")], attrs,
          oracle="onnx", atol=2e-3)


def test_grid_sample_int_nearest():
    x = np.random.default_rng(0).integers(-100, 100, (1, 2, 3, 4)).astype(np.int32)
    attrs = {"mode": "nearest", "padding_mode": "zeros", "align_corners": 0}
    check("GridSample", [x, _grid((1, 4, 4, 2))], attrs, oracle="onnx", atol=0)


def test_grid_sample_non_finite_grid():
    grid = _grid((1, 2, 3, 2))
    grid[0, 0, :, 0] = [np.inf, -np.inf, 1e30]
    attrs = {"mode": "linear", "padding_mode": "zeros", "align_corners": 0}
    model, feeds = typed_model("GridSample", [_x((1, 1, 3, 3)), grid], attrs, 20, ir_version=10)
    got = tc.compile(model).run(list(feeds.values()))[0]
    np.testing.assert_allclose(got[0, 0, 1:], run_onnxruntime(model, feeds)[0][0, 0, 1:],
                               rtol=1e-5, atol=1e-6)
    assert np.array_equal(got[0, 0, 0], np.zeros(3, np.float32))


@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 4, 5)])
def test_affine_grid(size, align):
    r = len(size) - 2
    theta = _x((size[0], r, r + 1), seed=3)
    check("AffineGrid", [theta, Const(np.array(size, np.int64))], {"align_corners": align})


def test_affine_grid_constant_size_float64():
    theta = _x((1, 2, 3), "float64", seed=4)
    check("AffineGrid", [theta, Const(np.array([1, 1, 3, 1], np.int64))],
          {"align_corners": 0}, atol=1e-12)
