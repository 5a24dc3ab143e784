"""Normalizations, Hardmax/Softmax axes and the losses: the compiled op and its numpy
reference against onnxruntime on one-node models with random non-zero data."""
import numpy as np
import pytest

from tests.compiler.ops.test_reduce_ops import check, rand

I64 = np.int64


@pytest.mark.parametrize("shape,axis", [((2, 3, 4), -1), ((2, 3, 4), 1), ((3, 4), 0)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape, axis, with_bias):
    tail = shape[axis % len(shape):]
    ins = [rand(shape), rand(tail, seed=1)] + ([rand(tail, seed=2)] if with_bias else [])
    check("LayerNormalization", ins, {"axis": axis, "epsilon": 1e-3}, 17, rtol=1e-4, atol=1e-5)


def test_layer_norm_mean_and_inv_std_outputs():
    check("LayerNormalization", [rand((2, 3, 4)), rand((4,), seed=1), rand((4,), seed=2)],
          {"axis": 2}, 17, n_outputs=3, rtol=1e-4, atol=1e-5)


def test_layer_norm_float64():
    check("LayerNormalization", [rand((3, 5), "float64"), rand((5,), "float64", 1)],
          {"stash_type": 11}, 17, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("axis", [-1, 1])
def test_rms_norm(axis):
    check("RMSNormalization", [rand((2, 3, 4)), rand((2, 3, 4)[axis:], seed=1)],
          {"axis": axis, "epsilon": 1e-4}, 23, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset,param", [(21, 4), (18, 2)])
def test_group_norm(opset, param):
    check("GroupNormalization", [rand((2, 4, 3, 2)), rand((param,), seed=1), rand((param,), seed=2)],
          {"num_groups": 2, "epsilon": 1e-3}, opset, rtol=1e-4, atol=1e-5)


def test_instance_norm():
    check("InstanceNormalization", [rand((2, 3, 4, 5)), rand((3,), seed=1), rand((3,), seed=2)],
          {"epsilon": 1e-3}, 11, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attrs", [{"axes": [0, 2, 3]}, {"axes": [1, 2]}])
def test_mean_variance_norm(attrs):
    check("MeanVarianceNormalization", [rand((2, 3, 4, 2))], attrs, 13, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attrs", [{}, {"axis": 0, "p": 1}])
def test_lp_norm(attrs):
    check("LpNormalization", [rand((3, 4))], attrs, 11)


@pytest.mark.parametrize("op", ["Hardmax", "Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset,axis", [(13, 0), (13, 1), (11, 1), (11, 0)])
def test_softmax_family_axes(op, opset, axis):
    check(op, [rand((2, 3, 4), distinct=True)], {"axis": axis}, opset, rtol=1e-5, atol=1e-6)


def _target(shape, classes, ignore=None, seed=3):
    t = np.random.default_rng(seed).integers(0, classes, shape).astype(I64)
    if ignore is not None:
        t.flat[::3] = ignore
    return t


LOSS_CASES = [
    # input shape, reduction, weight, ignore_index
    ((3, 5), "mean", False, None),
    ((3, 5), "none", True, None),
    ((2, 4, 3), "sum", True, 1),
    ((2, 4, 3, 2), "mean", True, -1),
    ((2, 4, 3), "mean", False, 2),
]


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("shape,reduction,weighted,ignore", LOSS_CASES)
def test_losses(op, shape, reduction, weighted, ignore):
    c = shape[1]
    ins = [rand(shape), _target(shape[:1] + shape[2:], c, ignore)]
    if weighted:
        ins.append(np.abs(rand((c,), seed=1)))
    attrs = {"reduction": reduction}
    if ignore is not None:
        attrs["ignore_index"] = ignore
    n_out = 2 if op == "SoftmaxCrossEntropyLoss" else 1
    check(op, ins, attrs, 13, n_outputs=n_out, rtol=1e-5, atol=1e-6)
