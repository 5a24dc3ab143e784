"""Activation functions: the compiled one-node model and the numpy reference against
onnxruntime, with default and non-default attributes."""
import numpy as np
import pytest

from tests.compiler.ops.test_elementwise_ops import check, random_array

CASES = [
    # op, attributes, opset
    ("Elu", {}, 18), ("Elu", {"alpha": 0.5}, 18),
    ("Celu", {}, 18), ("Celu", {"alpha": 2.0}, 18),
    ("Selu", {}, 18), ("Selu", {"alpha": 2.0, "gamma": 3.0}, 18),
    ("LeakyRelu", {}, 18), ("LeakyRelu", {"alpha": 0.3}, 18),
    ("ThresholdedRelu", {}, 18), ("ThresholdedRelu", {"alpha": 0.7}, 18),
    ("HardSigmoid", {}, 18), ("HardSigmoid", {"alpha": 0.4, "beta": 0.3}, 18),
    ("HardSwish", {}, 18), ("Softplus", {}, 18), ("Softsign", {}, 18), ("Mish", {}, 18),
    ("Swish", {}, 24), ("Swish", {"alpha": 1.5}, 24),
    ("Gelu", {}, 20), ("Gelu", {"approximate": "tanh"}, 20),
    ("Shrink", {}, 18), ("Shrink", {"bias": 1.5, "lambd": 1.0}, 18),
]


@pytest.mark.parametrize("op,attrs,opset", CASES,
                         ids=[f"{op}-{'-'.join(attrs) or 'default'}" for op, attrs, _ in CASES])
def test_activation(op, attrs, opset):
    x = random_array((3, 4, 5), "float32", np.random.default_rng(0), 0.05, 4.0)
    check(op, [x], attrs, opset=opset, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_activation_dtypes(dtype):
    x = random_array((4, 5), dtype, np.random.default_rng(1), 0.05, 4.0)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == "float16" else {}
    for op in ("Elu", "LeakyRelu", "HardSigmoid", "Softsign"):
        check(op, [x], opset=18, **tol)


def test_shrink_ints():
    x = np.array([[-5, -1, 0, 2, 7]], np.int32)
    check("Shrink", [x], {"bias": 2.0, "lambd": 1.5}, opset=18)


@pytest.mark.parametrize("slope_shape", [(1,), (4, 1, 1), (5,)])
def test_prelu_broadcast(slope_shape):
    rng = np.random.default_rng(2)
    x = random_array((2, 4, 3, 5), "float32", rng)
    slope = random_array(slope_shape, "float32", rng, 0.1, 0.9, False)
    check("PRelu", [x, slope], opset=16)


def test_prelu_int():
    rng = np.random.default_rng(3)
    x = random_array((3, 4), "int32", rng, 1, 9)
    check("PRelu", [x, np.array([2, 3, 1, 4], np.int32)], opset=16,
          oracle=lambda x, s: np.where(x < 0, s * x, x))


def test_prelu_opset6_channel_slope():
    """A 1-D slope of an opset-6 PRelu applies per channel (axis 1), where numpy
    broadcasting would not fit it at all."""
    import tc
    from tests.frontends.onnx_models import typed_model

    rng = np.random.default_rng(3)
    x = random_array((2, 3, 4, 5), "float32", rng, 0.05, 4.0)
    slope = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    model, feeds = typed_model("PRelu", [x, slope], opset=6, ir_version=3)
    (got,) = tc.compile(model).run(list(feeds.values()))
    np.testing.assert_allclose(got, np.where(x < 0, x * slope[:, None, None], x), rtol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 1.7])
def test_swiglu(alpha):
    import tc
    from tests.frontends.onnx_models import typed_model

    rng = np.random.default_rng(4)
    a, b = (random_array((4, 6), "float32", rng, 0.05, 4.0) for _ in range(2))
    model, feeds = typed_model("SwiGLU", [a, b], {"alpha": alpha}, 28, ir_version=13)
    (got,) = tc.compile(model).run(list(feeds.values()))
    np.testing.assert_allclose(got, a / (1 + np.exp(-alpha * a)) * b, rtol=1e-5, atol=1e-6)
