"""BatchNormalization and per-channel Mul/Add folded into Conv/Gemm; other BatchNorms as
one affine pair; affine chains merged."""
import numpy as np

from tc.compiler.graph import Graph, GraphBuilder, Node, TensorType, Value, verify
from tc.compiler.passes.batchnorm_to_affine import batchnorm_to_affine
from tc.compiler.passes.merge_affine import merge_affine
from tc.compiler.passes.simplify import simplify
from tests.compiler.passes.simplify_helpers import assert_same_results, op_counts

CONV = {"strides": (1, 1), "pads": (1, 1, 1, 1), "dilations": (1, 1), "group": 1}
# BatchNorm parameters whose folded factors are exact in float32 (epsilon 0):
# s = scale / sqrt(var) = [2, 0.5], t = beta - mean * s = [-1.5, 4]
BN = dict(scale=[2.0, 1.0], beta=[0.5, 3.0], mean=[1.0, -2.0], var=[1.0, 4.0])
S, T = np.array([2.0, 0.5]), np.array([-1.5, 4.0])


def _f32(a):
    return np.asarray(a, np.float32)


def _bn(b, x, epsilon=0.0, params=BN):
    consts = [b.constant(_f32(params[k]), k) for k in ("scale", "beta", "mean", "var")]
    return b.op("BatchNormalization", [x] + consts, {"epsilon": epsilon},
                output_names=["y"])[0]


def _random_bn(rng, c):
    return dict(scale=rng.uniform(0.5, 2, c), beta=rng.standard_normal(c),
                mean=rng.standard_normal(c), var=rng.uniform(0.5, 2, c))


def test_batchnorm_folds_into_a_conv_without_bias():
    rng = np.random.default_rng(0)
    b = GraphBuilder("g")
    x = b.input("x", (1, 3, 5, 5), "float32")
    w = b.constant(_f32(rng.standard_normal((2, 3, 3, 3))), "w")
    c, = b.op("Conv", [x, w], CONV, output_names=["c"])
    y = _bn(b, c)
    before = b.build([y])

    after = simplify(before)
    verify(after)
    new_w = Value("w_folded", w.type)
    bias = Value("c_bias", TensorType((2,), "float32"))
    expected = Graph(before.inputs, before.outputs, [Node("Conv", (x, new_w, bias), (y,), CONV)],
                     {"w_folded": _f32(before.constants["w"] * S[:, None, None, None]),
                      "c_bias": _f32(T)}, "g")
    assert after.structurally_equal(expected)


def test_conv_bias_takes_a_following_per_channel_mul_and_add():
    rng = np.random.default_rng(1)
    b = GraphBuilder("g")
    x = b.input("x", (1, 3, 5, 5), "float32")
    w = b.constant(_f32(rng.standard_normal((2, 3, 3, 3))), "w")
    bias = b.constant(_f32(rng.standard_normal(2)), "bias")
    c, = b.op("Conv", [x, w, bias], CONV, output_names=["c"])
    m, = b.op("Mul", [c, b.constant(_f32(S.reshape(2, 1, 1)), "s")])
    y, = b.op("Add", [b.constant(_f32(T.reshape(1, 2, 1, 1)), "t"), m], output_names=["y"])
    before = b.build([y])

    after = simplify(before)
    verify(after)
    expected = Graph(before.inputs, before.outputs, [Node("Conv", (
        x, Value("w_folded", w.type), Value("c_bias", bias.type)), (y,), CONV)],
        {"w_folded": _f32(before.constants["w"] * S[:, None, None, None]),
         "c_bias": _f32(before.constants["bias"].astype(np.float64) * S + T)}, "g")
    assert after.structurally_equal(expected)


def test_batchnorm_with_random_parameters_folds_into_a_grouped_conv():
    rng = np.random.default_rng(2)
    b = GraphBuilder("g")
    x = b.input("x", (2, 3, 6, 6), "float32")
    w = b.constant(_f32(rng.standard_normal((6, 1, 3, 3))), "w_dw")
    c, = b.op("Conv", [x, w], {"strides": (2, 2), "pads": (1, 0, 1, 0),
                               "dilations": (1, 1), "group": 3})
    y = _bn(b, c, 1e-3, {k: _f32(v) for k, v in _random_bn(rng, 6).items()})
    r, = b.op("Relu", [y])
    before = b.build([r])
    after = simplify(before)
    assert [n.op for n in after.nodes] == ["Conv", "Relu"]
    assert_same_results(before, after)


def test_batchnorm_and_affine_fold_into_gemm():
    rng = np.random.default_rng(3)
    for trans_b, c_shape in ((1, (5,)), (0, (3, 1)), (0, None)):
        b = GraphBuilder("g")
        a = b.input("a", (3, 4), "float32")
        wshape = (5, 4) if trans_b else (4, 5)
        inputs = [a, b.constant(_f32(rng.standard_normal(wshape)), "w")]
        if c_shape:
            inputs.append(b.constant(_f32(rng.standard_normal(c_shape)), "c"))
        g, = b.op("Gemm", inputs, {"alpha": 0.5, "beta": 2.0, "transA": 0, "transB": trans_b})
        y = _bn(b, g, 1e-5, {k: _f32(v) for k, v in _random_bn(rng, 5).items()})
        y, = b.op("Mul", [y, b.constant(_f32(rng.uniform(1, 2, (1, 5))), "m")])
        y, = b.op("Sub", [y, b.constant(_f32(rng.standard_normal(())), "s")])
        before = b.build([y])
        after = simplify(before)
        assert [n.op for n in after.nodes] == ["Gemm"], (trans_b, c_shape)
        assert after.nodes[0].attr("alpha") == 0.5
        assert_same_results(before, after)


def test_a_conv_output_read_twice_is_not_folded():
    rng = np.random.default_rng(4)
    b = GraphBuilder("g")
    x = b.input("x", (1, 3, 5, 5), "float32")
    w = b.constant(_f32(rng.standard_normal((2, 3, 3, 3))), "w")
    c, = b.op("Conv", [x, w], CONV, output_names=["c"])
    y = _bn(b, c)
    r, = b.op("Relu", [c])
    before = b.build([y, r])

    after = simplify(before)
    assert after.nodes[0] == before.nodes[0]  # the Conv, weights untouched
    assert op_counts(after) == {"Conv": 1, "Mul": 1, "Add": 1, "Relu": 1}
    assert_same_results(before, after)


def test_a_mul_that_is_not_per_channel_is_not_folded():
    rng = np.random.default_rng(5)
    b = GraphBuilder("g")
    x = b.input("x", (1, 3, 5, 5), "float32")
    w = b.constant(_f32(rng.standard_normal((2, 3, 3, 3))), "w")
    c, = b.op("Conv", [x, w], CONV, output_names=["c"])
    spatial, = b.op("Mul", [c, b.constant(_f32(rng.uniform(1, 2, (2, 5, 5))), "m")])
    x2 = b.input("x2", (1, 2, 5, 5), "float32")
    c2, = b.op("Conv", [x, w], CONV, output_names=["c2"])
    by_input, = b.op("Mul", [c2, x2])
    before = b.build([spatial, by_input])

    assert simplify(before) is before


def test_a_lone_batchnorm_becomes_one_affine_pair_merged_with_its_neighbours():
    b = GraphBuilder("g")
    x = b.input("x", (1, 2, 2, 2), "float32")
    r, = b.op("Relu", [x], output_names=["r"])
    y = _bn(b, r)
    m, = b.op("Mul", [y, b.constant(_f32([[[2.0]], [[4.0]]]), "c")])
    z, = b.op("Add", [m, b.constant(_f32(1.0), "one")], output_names=["z"])
    before = b.build([z])

    after = simplify(before)
    verify(after)
    scaled = Value("z_scaled", x.type)
    scale = Value("z_scale", TensorType((2, 1, 1), "float32"))
    shift = Value("z_shift", scale.type)
    expected = Graph(before.inputs, before.outputs, [
        Node("Relu", (x,), (r,)),
        Node("Mul", (r, scale), (scaled,)),
        Node("Add", (scaled, shift), (z,)),
    ], {"z_scale": _f32([4.0, 2.0]).reshape(2, 1, 1),
        "z_shift": _f32([-2.0, 17.0]).reshape(2, 1, 1)}, "g")
    assert after.structurally_equal(expected)


def test_batchnorm_to_affine_on_rank_two_and_three():
    rng = np.random.default_rng(6)
    for shape in ((4, 3), (2, 3, 5)):
        b = GraphBuilder("g")
        x = b.input("x", shape, "float32")
        y = _bn(b, x, 1e-5, {k: _f32(v) for k, v in _random_bn(rng, 3).items()})
        before = b.build([y])
        after = batchnorm_to_affine(before)
        assert [n.op for n in after.nodes] == ["Mul", "Add"]
        assert after.constants[after.nodes[0].inputs[1].name].shape == (3,) + (1,) * (len(shape) - 2)
        assert_same_results(before, after)


def test_affine_chains_merge_into_one_mul_and_one_add():
    rng = np.random.default_rng(7)
    b = GraphBuilder("g")
    x = b.input("x", (3, 4), "float32")
    v, = b.op("Add", [x, b.constant(_f32(rng.standard_normal((3, 4))), "a")])
    v, = b.op("Mul", [b.constant(_f32(rng.uniform(1, 2, (4,))), "m"), v])
    v, = b.op("Sub", [v, b.constant(_f32(rng.standard_normal((3, 1))), "s")])
    v, = b.op("Mul", [v, b.constant(_f32(-1.5), "k")])
    before = b.build([v])
    after = merge_affine(before)
    assert [n.op for n in after.nodes] == ["Mul", "Add"]
    assert merge_affine(after) is after
    assert_same_results(before, after)


def test_affine_chains_stop_at_a_value_read_twice_and_at_non_constant_operands():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "float32")
    u = b.input("u", (4,), "float32")
    a, = b.op("Add", [x, b.constant(_f32([1, 2, 3, 4]), "a")])
    m, = b.op("Mul", [a, b.constant(_f32(2.0), "m")])      # a also read by the Relu
    r, = b.op("Relu", [a])
    v, = b.op("Mul", [r, u])                               # not a constant
    w, = b.op("Add", [v, b.constant(_f32(3.0), "c")])
    before = b.build([m, w])
    assert merge_affine(before) is before
