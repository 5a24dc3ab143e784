"""Convolution and pooling breadth: each compiled one-node model, and each numpy reference
(through the frontend's canonical attributes), against onnxruntime on random non-zero data
(or against ONNX's reference evaluator for ops onnxruntime lacks, e.g. opset-27
CausalConvWithState)."""
import numpy as np
import pytest

import tc
from tc.compiler.graph import verify
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model

I64 = np.int64


def rand(*shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def model_of(op, inputs, attrs=None, opset=19, n_outputs=1):
    """A one-node model: ndarray entries are graph inputs, Const initializers, None absent."""
    return typed_model(op, inputs, attrs, opset, n_outputs, ir_version=8 if opset < 21 else 10)


def oracle(model, feeds, reference=False):
    if reference:
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(model).run(None, feeds)
    try:
        return run_onnxruntime(model, feeds)
    except Exception as e:  # an op or dtype onnxruntime lacks
        if "NOT_IMPLEMENTED" not in str(e) and "opset" not in str(e).lower():
            raise
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(model).run(None, feeds)


def check(op, inputs, attrs=None, opset=19, n_outputs=1, rtol=1e-5, atol=1e-5,
          reference=False):
    model, feeds = model_of(op, inputs, attrs, opset, n_outputs)
    expected = oracle(model, feeds, reference)
    got = tc.compile(model).run(list(feeds.values()))
    graph = from_onnx(model)
    verify(graph)
    ref = evaluate(graph, [feeds[v.name] for v in graph.inputs])
    for g, r, e in zip(got, ref, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
        np.testing.assert_allclose(r, e, rtol=rtol, atol=atol)


POOL_CASES = [
    ("MaxPool", (1, 2, 9), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    ("MaxPool", (1, 2, 5, 6, 5), {"kernel_shape": [2, 3, 2], "dilations": [2, 1, 1],
                                  "ceil_mode": 1, "strides": [2, 2, 2]}),
    ("MaxPool", (1, 2, 7, 7), {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER",
                               "strides": [2, 2]}),
    ("AveragePool", (1, 2, 10), {"kernel_shape": [4], "strides": [3], "pads": [2, 1],
                                 "count_include_pad": 1}),
    ("AveragePool", (1, 2, 6, 5, 7), {"kernel_shape": [3, 2, 3], "strides": [2, 2, 2],
                                      "pads": [1, 0, 1, 1, 1, 0], "ceil_mode": 1}),
    ("AveragePool", (1, 2, 6, 6, 6), {"kernel_shape": [2, 2, 2], "dilations": [2, 2, 2],
                                      "count_include_pad": 1, "pads": [1] * 6}),
    ("LpPool", (1, 2, 9), {"kernel_shape": [3], "p": 1, "strides": [2]}),
    ("LpPool", (1, 2, 6, 7), {"kernel_shape": [3, 2], "p": 2, "pads": [1, 0, 1, 1],
                              "dilations": [1, 2]}),
    ("LpPool", (1, 2, 6, 7), {"kernel_shape": [2, 2], "p": 3, "auto_pad": "SAME_UPPER",
                              "strides": [2, 2]}),
    ("LpPool", (1, 2, 4, 5, 4), {"kernel_shape": [2, 2, 2], "p": 2, "ceil_mode": 1,
                                 "strides": [2, 2, 2]}),
    ("GlobalMaxPool", (1, 3, 5), {}),
    ("GlobalAveragePool", (1, 3, 4, 3, 5), {}),
    ("GlobalLpPool", (1, 3, 4, 5), {"p": 3}),
]


@pytest.mark.parametrize("op, shape, attrs", POOL_CASES,
                         ids=[f"{i}-{c[0]}-{len(c[1]) - 2}d" for i, c in enumerate(POOL_CASES)])
def test_pooling(op, shape, attrs):
    rtol = 1e-4 if op in ("LpPool", "GlobalLpPool") else 1e-5
    check(op, [rand(*shape)], attrs, opset=19 if op != "GlobalLpPool" else 17, rtol=rtol)


@pytest.mark.parametrize("dtype", ["float16", "float64", "int8", "uint8"])
def test_maxpool_dtypes(dtype):
    x = (rand(1, 2, 6, 6) * 50).astype(dtype) if "int" in dtype else rand(1, 2, 6, 6, dtype=dtype)
    check("MaxPool", [x], {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0]}, opset=12)


@pytest.mark.parametrize("storage_order, shape, attrs", [
    (0, (2, 3, 7, 6), {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 1, 1, 0]}),
    (1, (1, 2, 5, 6), {"kernel_shape": [2, 3], "strides": [1, 2]}),
    (0, (1, 2, 7), {"kernel_shape": [3], "strides": [2], "ceil_mode": 1}),
    (0, (1, 2, 4, 5, 4), {"kernel_shape": [2, 2, 2], "strides": [2, 2, 1]}),
])
def test_maxpool_indices(storage_order, shape, attrs):
    check("MaxPool", [rand(*shape)], dict(attrs, storage_order=storage_order), opset=12,
          n_outputs=2)


CONV_CASES = [
    ("Conv", [(1, 4, 5, 6, 5), (6, 2, 3, 2, 3), (6,)],
     {"group": 2, "strides": [2, 1, 2], "pads": [1, 0, 1, 1, 1, 0], "dilations": [1, 2, 1]}),
    ("Conv", [(1, 2, 5, 5, 5), (3, 2, 2, 2, 2)], {"auto_pad": "SAME_UPPER"}),
    ("ConvTranspose", [(1, 2, 5), (2, 3, 3)], {"strides": [2], "output_padding": [1]}),
    ("ConvTranspose", [(1, 4, 4, 3), (4, 2, 3, 3), (4,)],
     {"group": 2, "strides": [2, 3], "pads": [1, 0, 0, 1], "dilations": [1, 2]}),
    ("ConvTranspose", [(2, 2, 3, 4), (2, 3, 2, 3)],
     {"strides": [2, 2], "output_shape": [7, 10]}),
    ("ConvTranspose", [(1, 2, 3, 3), (2, 2, 3, 3)], {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ("ConvTranspose", [(1, 2, 3, 3), (2, 2, 2, 3)], {"strides": [3, 2], "auto_pad": "SAME_UPPER"}),
    ("ConvTranspose", [(1, 2, 3, 4, 3), (2, 2, 3, 2, 2)],
     {"strides": [2, 1, 2], "pads": [1, 0, 0, 0, 1, 1]}),
]


@pytest.mark.parametrize("op, shapes, attrs", CONV_CASES,
                         ids=[f"{i}-{c[0]}-{len(c[1][0]) - 2}d" for i, c in enumerate(CONV_CASES)])
def test_convolutions(op, shapes, attrs):
    check(op, [rand(*s, seed=i) for i, s in enumerate(shapes)], attrs, rtol=1e-4, atol=1e-4)


def test_conv_transpose_float64():
    check("ConvTranspose", [rand(1, 2, 4, 4, dtype="float64"), rand(2, 2, 3, 3, dtype="float64")],
          {"strides": [2, 2], "pads": [1, 1, 1, 1]})


def test_conv_integer():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (1, 3, 6, 5)).astype(np.uint8)
    w = rng.integers(0, 255, (4, 3, 3, 2)).astype(np.uint8)
    check("ConvInteger", [x, w, Const(np.uint8(120)), Const(np.uint8(130))],
          {"pads": [1, 0, 1, 1], "strides": [2, 1]}, opset=10)


def test_qlinear_conv():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    w = rng.integers(0, 255, (3, 2, 2, 2)).astype(np.uint8)
    check("QLinearConv", [x, Const(np.float32(0.02)), Const(np.uint8(128)), w,
                          Const(np.float32(0.01)), Const(np.uint8(127)), Const(np.float32(0.05)),
                          Const(np.uint8(100)), Const(np.array([5, -7, 300], np.int32))],
          {"pads": [1, 1, 0, 0]}, opset=10, atol=1)


def test_max_unpool_inverts_max_pool():
    x = rand(1, 2, 6, 7)
    pool, _ = model_of("MaxPool", [x], {"kernel_shape": [2, 3], "strides": [2, 2]}, 12, 2)
    vals, idx = run_onnxruntime(pool, {"in0": x})
    check("MaxUnpool", [vals, idx], {"kernel_shape": [2, 3], "strides": [2, 2]}, opset=11)
    # a larger output_shape: onnxruntime reads the indices as flat into output_shape, the
    # ONNX reference (and the backend suite) into the default shape, zero-padded at the end
    check("MaxUnpool", [vals, idx, Const(np.array([1, 2, 7, 8], I64))],
          {"kernel_shape": [2, 3], "strides": [2, 2]}, opset=11, reference=True)


@pytest.mark.parametrize("image, block, attrs", [
    ((5, 5), (2, 2), {}),
    ((6, 5), (3, 2), {"strides": [2, 1], "pads": [1, 0, 1, 1], "dilations": [1, 2]}),
    ((4, 3, 4), (2, 1, 2), {"strides": [2, 1, 1]}),
])
def test_col2im(image, block, attrs):
    n = len(image)
    strides = attrs.get("strides", [1] * n)
    pads = attrs.get("pads", [0] * 2 * n)
    dil = attrs.get("dilations", [1] * n)
    blocks = [(image[d] + pads[d] + pads[n + d] - (block[d] - 1) * dil[d] - 1) // strides[d] + 1
              for d in range(n)]
    x = rand(2, 2 * int(np.prod(block)), int(np.prod(blocks)))
    check("Col2Im", [x, Const(np.array(image, I64)), Const(np.array(block, I64))], attrs,
          opset=18)


@pytest.mark.parametrize("with_mask_bias, attrs", [
    (False, {"pads": [1, 0, 1, 1], "strides": [2, 1]}),
    (True, {"group": 2, "offset_group": 2, "dilations": [1, 2]}),
])
def test_deform_conv(with_mask_bias, attrs):
    x, w = rand(1, 4, 6, 7), rand(4, 4 // attrs.get("group", 1), 2, 3, seed=1)
    model, _ = model_of("Conv", [x, w], {k: v for k, v in attrs.items() if k != "offset_group"})
    out = model.graph.output[0].type.tensor_type.shape.dim
    oh, ow = out[2].dim_value, out[3].dim_value
    og = attrs.get("offset_group", 1)
    offset = rand(1, og * 2 * 3 * 2, oh, ow, seed=2) * 1.7
    extra = [rand(4, seed=3), np.abs(rand(1, og * 6, oh, ow, seed=4))] if with_mask_bias else []
    check("DeformConv", [x, w, offset] + extra, attrs, opset=19, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype, extra, activation", [
    ("float32", (), "none"), ("float32", ("bias", "state"), "silu"),
    ("float16", ("state",), "swish"),
])
def test_causal_conv_with_state(dtype, extra, activation):
    x, w = rand(2, 3, 5, dtype=dtype), rand(3, 1, 4, dtype=dtype, seed=1)
    ins = [x, w, rand(3, dtype=dtype, seed=2) if "bias" in extra else None,
           rand(2, 3, 3, dtype=dtype, seed=3) if "state" in extra else None]
    while ins[-1] is None:
        ins.pop()
    tol = 2e-3 if dtype == "float16" else 1e-5
    check("CausalConvWithState", ins, {"activation": activation}, opset=27, n_outputs=2,
          rtol=tol, atol=tol)


@pytest.mark.parametrize("shapes", [[(1, 4, 6, 6), (5, 4, 3, 3), (5,)],
                                    [(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)]])
def test_conv_float16_accumulates_in_float32(shapes):
    check("Conv", [rand(*s, dtype="float16", seed=i) for i, s in enumerate(shapes)],
          {"pads": [1] * (2 * (len(shapes[0]) - 2))}, rtol=2e-3, atol=2e-3)
