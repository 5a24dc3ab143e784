"""Single ONNX ops through ``tc.compile(model, target="c")`` against onnxruntime.

Each test builds one model whose outputs are many independent ops over the same random
inputs (one compile per family, to keep the suite fast); a failure names the output.
"""
import numpy as np

from .c_models import GraphBuilder, check_c_target


def _all_outputs(g: GraphBuilder, ops: list[tuple[str, list[str], dict]]) -> None:
    for op, inputs, attrs in ops:
        g.output(g.op(op, inputs, **attrs))


def test_unary_float_ops():
    g = GraphBuilder(seed=10)
    x = g.input("x", g.rand(3, 5, 7, low=0.05, high=3.0))
    pos = g.input("pos", np.abs(g.rand(3, 5, 7)))
    ops = [(op, [x], {}) for op in ("Exp", "Tanh", "Erf", "Sigmoid", "Relu", "Abs", "Neg",
                                    "Floor", "Ceil", "Round", "Sin", "Cos", "Reciprocal",
                                    "Softsign", "Sign", "HardSwish")]
    ops += [(op, [pos], {}) for op in ("Sqrt", "Log")]
    ops += [("LeakyRelu", [x], {"alpha": 0.1}), ("Elu", [x], {"alpha": 0.7}),
            ("HardSigmoid", [x], {}), ("Selu", [x], {}), ("Softplus", [x], {})]
    _all_outputs(g, ops)
    check_c_target(g.model(), g.feeds, rtol=1e-5, atol=1e-6)


def test_binary_float_ops_with_broadcasting():
    g = GraphBuilder(seed=11)
    a = g.input("a", g.rand(2, 3, 4))
    b = g.input("b", g.rand(3, 1))
    pos = g.input("pos", np.abs(g.rand(2, 3, 4)))
    ops = [(op, [a, b], {}) for op in ("Add", "Sub", "Mul", "Div", "Max", "Min")]
    ops += [("Pow", [pos, b], {}), ("Mod", [a, b], {"fmod": 1}),
            ("PRelu", [a, g.const(g.rand(3, 1))], {})]
    _all_outputs(g, ops)
    check_c_target(g.model(), g.feeds)


def test_integer_ops_on_negative_numbers():
    """Floor modulo and truncating division of negative int64/int32, shifts, min/max."""
    g = GraphBuilder(seed=12)
    a64 = g.input("a64", g.rng.integers(-1000, 1000, (4, 6)).astype(np.int64))
    b64 = g.rng.integers(1, 50, (6,)) * g.rng.choice([-1, 1], 6)
    b64 = g.input("b64", b64.astype(np.int64))
    a32 = g.input("a32", g.rng.integers(-2 ** 20, 2 ** 20, (4, 6)).astype(np.int32))
    u = g.input("u", g.rng.integers(0, 2 ** 16, (4, 6)).astype(np.uint32))
    s = g.input("s", g.rng.integers(0, 16, (4, 6)).astype(np.uint32))
    ops = [(op, [a64, b64], {}) for op in ("Add", "Sub", "Mul", "Div", "Max", "Min")]
    ops += [("Mod", [a64, b64], {}), ("Mod", [a64, b64], {"fmod": 1}),
            ("Mul", [a32, g.const(np.array(-3, np.int32))], {}), ("Abs", [a32], {}),
            ("Neg", [a32], {}), ("BitShift", [u, s], {"direction": "LEFT"}),
            ("BitShift", [u, s], {"direction": "RIGHT"})]
    _all_outputs(g, ops)
    check_c_target(g.model(), g.feeds)


def test_casts_comparisons_and_where():
    g = GraphBuilder(seed=13)
    x = g.input("x", g.rand(4, 9, low=0.1, high=300.0))
    y = g.input("y", g.rand(4, 9, low=0.1, high=300.0))
    i = g.input("i", g.rng.integers(-100, 100, (4, 9)).astype(np.int64))
    less = g.op("Less", [x, y])
    ops = [("Cast", [x], {"to": t}) for t in (6, 7, 9, 10, 11)]  # int32 int64 bool f16 f64
    ops += [("Cast", [i], {"to": 1}), ("Cast", [less], {"to": 1}),
            ("Cast", [i], {"to": 3}), ("Cast", [i], {"to": 12}),  # int8 (wraps), uint32
            ("Greater", [x, y], {}), ("Equal", [i, g.const(np.array(7, np.int64))], {}),
            ("LessOrEqual", [i, g.const(np.array(0, np.int64))], {}),
            ("Where", [less, x, y], {}), ("Not", [less], {}),
            ("And", [less, g.op("Greater", [i, g.const(np.array(0, np.int64))])], {}),
            ("IsNaN", [x], {})]
    g.output(less)
    _all_outputs(g, ops)
    check_c_target(g.model(), g.feeds)


def test_reductions_and_data_movement():
    g = GraphBuilder(seed=14)
    x = g.input("x", g.rand(3, 4, 10))
    axes = g.const(np.array([2], np.int64))
    ops = [(op, [x, axes], {}) for op in ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean",
                                          "ReduceProd", "ReduceL2", "ReduceLogSumExp")]
    ops += [("ArgMax", [x], {"axis": 1}), ("ArgMin", [x], {"axis": 2, "keepdims": 0}),
            ("Transpose", [x], {"perm": [2, 0, 1]}),
            ("Concat", [x, g.op("Neg", [x])], {"axis": 1}),
            ("Slice", [x, g.const(np.array([0, 9], np.int64)), g.const(np.array([3, 0], np.int64)),
                       g.const(np.array([0, 2], np.int64)), g.const(np.array([2, -3], np.int64))],
             {}),
            ("Expand", [g.op("ReduceSum", [x, axes]), g.const(np.array([2, 3, 4, 5], np.int64))],
             {}),
            ("CumSum", [x, g.const(np.array(2, np.int64))], {}),
            ("Softmax", [x], {"axis": 1}), ("LogSoftmax", [x], {"axis": -1})]
    _all_outputs(g, ops)
    check_c_target(g.model(opset=18), g.feeds)  # reduction axes as an input


def test_pooling():
    g = GraphBuilder(seed=15)
    x = g.input("x", g.rand(1, 5, 11, 9))
    ops = [("MaxPool", [x], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
           ("MaxPool", [x], {"kernel_shape": [2, 3], "strides": [1, 2]}),
           ("AveragePool", [x], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
           ("AveragePool", [x], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                 "count_include_pad": 1}),
           ("GlobalAveragePool", [x], {}), ("GlobalMaxPool", [x], {})]
    _all_outputs(g, ops)
    check_c_target(g.model(), g.feeds)
