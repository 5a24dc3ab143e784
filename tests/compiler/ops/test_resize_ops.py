"""Resize (and Upsample): modes x coordinate transforms, scales and sizes, compiled and
reference against onnxruntime."""
import numpy as np
import pytest

from tests.compiler.ops.test_shape_ops import case_id, check_case, rand

F32 = np.float32
X = ("in", rand((1, 2, 4, 5)))
NONE = ("const", np.zeros(0, F32))


def _scales(*s):
    return ("const", np.array(s, F32))


def _sizes(*s):
    return ("const", np.array(s, np.int64))


CASES = [
    ("Resize", [X, None, _scales(1, 1, 2, 1.5)], {"mode": "nearest"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 0.6, 0.5)],
     {"mode": "nearest", "nearest_mode": "ceil", "coordinate_transformation_mode": "asymmetric"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 1.75, 2)],
     {"mode": "nearest", "nearest_mode": "round_prefer_ceil",
      "coordinate_transformation_mode": "align_corners"}, 13, 1),
    ("Resize", [X, NONE, NONE, _sizes(1, 2, 7, 3)], {"mode": "linear"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 0.5, 1.8)],
     {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 2, 2)],
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 1.5, 2)], {"mode": "cubic"}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 0.8, 1.4)],
     {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, 13, 1),
    ("Resize", [X, None, _scales(1, 1, 2, 1.5)],
     {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}, 19, 1),
    ("Resize", [X, ("const", np.array([0, 0, 0.2, 0.3, 1, 1, 0.9, 0.8], F32)), None,
                _sizes(1, 2, 3, 3)],
     {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
      "extrapolation_value": 10.0}, 13, 1),
    ("Resize", [X, None, None, _sizes(6, 4)],
     {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, 18, 1),
    ("Resize", [X, None, _scales(1, 1, 0.6, 0.5)], {"mode": "linear", "antialias": 1}, 18, 1),
    ("Resize", [X, None, None, _sizes(1, 2, 3, 3)], {"mode": "cubic", "antialias": 1}, 18, 1),
    ("Resize", [("in", rand((1, 1, 3, 4), "uint8")), None, _scales(1, 1, 2, 2)],
     {"mode": "nearest"}, 13, 1),
    ("Resize", [("in", rand((1, 1, 3, 2))), _scales(1, 1, 2, 3)], {"mode": "nearest"}, 10, 1),
    ("Upsample", [("in", rand((1, 1, 2, 3)))], {"mode": "nearest", "scales": [1.0, 1.0, 2.0, 3.0]},
     7, 1),
    ("Upsample", [("in", rand((1, 1, 2, 3))), _scales(1, 1, 2, 2)], {"mode": "linear"}, 9, 1),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_compiled_resize_matches_onnxruntime(case):
    check_case(case, compiled=True, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_resize_reference_matches_onnxruntime(case):
    check_case(case, compiled=False, rtol=1e-4, atol=1e-5)
