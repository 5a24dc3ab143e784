"""RoiAlign: the compiled one-node model and the numpy reference against onnxruntime, on
random data with rois partly outside the image; adaptive sampling with constant rois."""
import numpy as np
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tc.frontends.onnx.importer import NotConstantError
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model


def _inputs(dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (2, 3, 7, 9)).astype(dtype)
    rois = np.array([[0.0, 0.0, 8.0, 6.0],      # the whole image
                     [-3.5, 1.2, 4.3, 5.9],     # partly left of it
                     [6.1, 4.4, 13.7, 11.2],    # partly right of and below it
                     [2.3, 3.1, 2.9, 3.3],      # smaller than a pixel
                     [-6.0, -5.0, -1.5, -1.2],  # entirely outside
                     [1.5, 0.5, 7.5, 6.5],
                     [5.0, 4.0, 2.0, 1.0]], dtype)   # reversed (empty for half_pixel)
    rois[:, :4] += rng.uniform(-0.2, 0.2, rois.shape).astype(dtype)
    batch = np.array([0, 1, 1, 0, 1, 0, 1], np.int64)
    return x, rois, batch


def check(attrs, const_rois=False, opset=16, dtype="float32", seed=0, rtol=1e-5):
    x, rois, batch = _inputs(dtype, seed)
    model, feeds = typed_model("RoiAlign", [x, Const(rois) if const_rois else rois, batch],
                               attrs, opset, ir_version=8)
    expected = run_onnxruntime(model, feeds)[0]
    got = tc.compile(model).run(list(feeds.values()))[0]
    ref = evaluate(from_onnx(model), list(feeds.values()))[0]
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(ref, expected, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("coords", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("ratio", [2, 0])
def test_roi_align(mode, coords, ratio):
    check({"mode": mode, "coordinate_transformation_mode": coords, "sampling_ratio": ratio,
           "output_height": 3, "output_width": 4, "spatial_scale": 0.75},
          const_rois=ratio == 0)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_opset10_default_attrs(mode):
    # opset 10: output_half_pixel; defaults: 1 x 1 output, adaptive sampling, scale 1
    check({"mode": mode}, const_rois=True, opset=10)
    check({"mode": mode, "sampling_ratio": 3, "output_height": 2, "output_width": 2},
          opset=10, seed=1)


def test_roi_align_float64():
    check({"sampling_ratio": 0, "output_height": 2, "output_width": 3, "spatial_scale": 0.5},
          const_rois=True, dtype="float64", rtol=1e-12)


def test_roi_align_adaptive_needs_constant_rois():
    x, rois, batch = _inputs()
    model, _ = typed_model("RoiAlign", [x, rois, batch], {"output_height": 2}, 16)
    with pytest.raises(NotConstantError, match="adaptive sampling"):
        from_onnx(model)
