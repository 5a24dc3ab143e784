"""Logic ops (comparisons, boolean and bitwise logic, shifts, Where, IsNaN/IsInf): the
compiled one-node model and the numpy reference against onnxruntime."""
import numpy as np
import pytest

from tests.compiler.ops.test_elementwise_ops import check, random_array

COMPARE_DTYPES = ("bool", "int8", "uint16", "int64", "float16", "float64")


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", COMPARE_DTYPES)
def test_compare(op, dtype):
    if dtype == "bool" and op != "Equal":
        pytest.skip("only Equal takes bool")
    rng = np.random.default_rng(0)
    a = random_array((2, 3, 4), dtype, rng, 1, 4, True)
    b = random_array((3, 1), dtype, rng, 1, 4, True)
    oracle = {"Equal": np.equal, "Less": np.less, "Greater": np.greater,
              "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal}[op]
    check(op, [a, b], opset=19, oracle=oracle)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_boolean_logic(op):
    rng = np.random.default_rng(1)
    check(op, [random_array((3, 4), "bool", rng), random_array((4,), "bool", rng)])


def test_not_where_isnan():
    rng = np.random.default_rng(2)
    cond = random_array((3, 1, 4), "bool", rng)
    check("Not", [cond])
    for dtype in ("int32", "float16", "uint8"):
        x = random_array((5, 4), dtype, rng, 1, 9, not dtype.startswith("u"))
        y = random_array((4,), dtype, rng, 1, 9, not dtype.startswith("u"))
        check("Where", [cond, x, y], oracle=np.where)
    x = np.array([1.0, np.nan, -np.inf, np.inf, -2.0], np.float32)
    check("IsNaN", [x])


@pytest.mark.parametrize("pos,neg", [(1, 1), (1, 0), (0, 1)])
def test_isinf(pos, neg):
    x = np.array([[1.0, np.nan, -np.inf], [np.inf, -2.0, 0.5]], np.float64)
    check("IsInf", [x], {"detect_positive": pos, "detect_negative": neg}, opset=20)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot"])
@pytest.mark.parametrize("dtype", ("int8", "uint8", "int32", "uint64"))
def test_bitwise(op, dtype):
    rng = np.random.default_rng(3)
    a = random_array((3, 4), dtype, rng, 1, 120, not dtype.startswith("u"))
    b = random_array((4,), dtype, rng, 1, 120, not dtype.startswith("u"))
    check(op, [a] if op == "BitwiseNot" else [a, b])


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", ("uint8", "uint32", "uint64"))
def test_bitshift(direction, dtype):
    x = np.array([[16, 4, 1, 255], [3, 7, 200, 9]], dtype)
    n = np.array([1, 2, 3, 0], dtype)
    check("BitShift", [x, n], {"direction": direction}, opset=11)
