"""BitCast: the compiled kernel keeps every bit (numpy's ``view`` is the oracle)."""
import numpy as np
import pytest
from onnx import helper

import tc
from tc.frontends.onnx import FrontendError
from tests.frontends.onnx_models import typed_model

PAIRS = [("float32", "int32"), ("int32", "float32"), ("float64", "uint64"),
         ("float16", "int16"), ("int8", "uint8"), ("bool", "uint8"), ("bfloat16", "uint16"),
         ("float8_e4m3fn", "int8")]


def _random(dtype: str, shape, rng) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    width = np.dtype(dtype).itemsize
    bits = rng.integers(0, 256, (*shape, width), dtype=np.uint8)
    x = bits.view(dtype).reshape(shape)
    if dtype.startswith(("float", "bfloat")):  # NaN payloads need not survive numpy
        x = x.copy()
        x[np.isnan(x.astype(np.float32))] = np.ones((), dtype)
    return x


@pytest.mark.parametrize("src,dst", PAIRS)
def test_bitcast_keeps_bits(src, dst):
    x = _random(src, (3, 17), np.random.default_rng(0))
    model, feeds = typed_model("BitCast", [x], {"to": helper.np_dtype_to_tensor_dtype(np.dtype(dst))},
                               26, ir_version=13)
    (got,) = tc.compile(model).run([x])
    assert got.dtype == np.dtype(dst)
    np.testing.assert_array_equal(got.view(np.uint8), x.view(dst).view(np.uint8))


def test_bitcast_between_widths_says_why():
    node = helper.make_node("BitCast", ["x"], ["y"], to=helper.np_dtype_to_tensor_dtype(np.dtype("int16")))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [4])],
                              [helper.make_tensor_value_info("y", 5, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)], ir_version=13)
    with pytest.raises(FrontendError, match="element sizes differ"):
        tc.compile(model)
