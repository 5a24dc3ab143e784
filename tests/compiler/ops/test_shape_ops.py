"""Shape ops (Expand, Slice, Split, Tile, DepthToSpace, SpaceToDepth, Trilu, Reshape, ...)
and the compile-time ones (Size, Range, EyeLike, NonZero, CenterCropPad): the compiled op
and the numpy reference, each against onnxruntime on one-node models."""
import numpy as np
import pytest

import tc
from tc.compiler.graph.evaluate import evaluate
from tc.frontends.onnx import from_onnx
from tests.frontends.onnx_models import Const, run_onnxruntime, typed_model

I64 = np.int64


def make_model(op, inputs, attrs=None, opset=18, n_outputs=1, seed=0):
    """A one-node model. ``inputs``: ("in", array) a graph input fed ``array``,
    ("const", array) an initializer, or None (absent). Returns (model, feeds)."""
    specs = [None if s is None else Const(s[1]) if s[0] == "const" else np.asarray(s[1])
             for s in inputs]
    return typed_model(op, specs, attrs, opset, n_outputs)


def rand(shape, dtype="float32", seed=0):
    """Random non-zero data of ``dtype``."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == bool:
        return rng.integers(0, 2, shape).astype(bool)
    if np.issubdtype(np.dtype(dtype), np.integer):
        lo = 1 if np.issubdtype(np.dtype(dtype), np.unsignedinteger) else -50
        return rng.integers(lo, 50, shape).astype(dtype)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


def check_case(case, compiled: bool, rtol=1e-5, atol=1e-6):
    op, inputs, attrs, opset, n_out = case
    model, feeds = make_model(op, inputs, attrs, opset, n_out)
    expected = run_onnxruntime(model, feeds)
    if compiled:
        mod = tc.compile(model)
        got = mod.run([feeds[s["name"]] for s in mod.metadata["inputs"]])
    else:
        graph = from_onnx(model)
        got = evaluate(graph, [feeds[v.name] for v in graph.inputs])
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def case_id(case):
    op, inputs, attrs, opset, _ = case
    dtypes = "_".join(str(np.asarray(s[1]).dtype) for s in inputs if s and s[0] == "in")
    return f"{op}-opset{opset}-{dtypes}-{'_'.join(sorted(attrs)) or 'plain'}"


X = ("in", rand((2, 3, 4)))
CASES = [
    # (op, inputs, attrs, opset, number of outputs)
    ("Expand", [X, ("const", np.array([2, 1, 1, 4], I64))], {}, 13, 1),
    ("Expand", [("in", rand((3, 1), "int32")), ("const", np.array([2, 3, 5], I64))], {}, 13, 1),
    ("Expand", [("in", rand((1, 4), "bool")), ("const", np.array([3, 1], I64))], {}, 13, 1),
    ("Slice", [X, ("const", np.array([0, 1], I64)), ("const", np.array([2, 100], I64)),
               ("const", np.array([0, 2], I64))], {}, 13, 1),
    ("Slice", [X, ("const", np.array([-1, 10], I64)), ("const", np.array([-100, 0], I64)),
               ("const", np.array([2, 1], I64)), ("const", np.array([-2, -1], I64))], {}, 13, 1),
    ("Slice", [("in", rand((4, 5), "int64"))], {"starts": [1], "ends": [-1], "axes": [1]}, 9, 1),
    ("Split", [X, ("const", np.array([1, 3], I64))], {"axis": 2}, 13, 2),
    ("Split", [("in", rand((7, 2), "float16"))], {"num_outputs": 3}, 18, 3),
    ("Split", [X], {"axis": 1, "split": [2, 1]}, 11, 2),
    ("Tile", [X, ("const", np.array([2, 1, 3], I64))], {}, 13, 1),
    ("DepthToSpace", [("in", rand((1, 8, 2, 3)))], {"blocksize": 2}, 13, 1),
    ("DepthToSpace", [("in", rand((2, 8, 2, 3), "uint8"))], {"blocksize": 2, "mode": "CRD"}, 13, 1),
    ("SpaceToDepth", [("in", rand((1, 2, 4, 6)))], {"blocksize": 2}, 13, 1),
    ("Trilu", [X], {}, 14, 1),
    ("Trilu", [("in", rand((3, 5), "int32")), ("const", np.array(-1, I64))], {"upper": 0}, 14, 1),
    ("Trilu", [X, ("const", np.array(2, I64))], {"upper": 1}, 14, 1),
    ("Reshape", [X, ("const", np.array([0, -1], I64))], {}, 14, 1),
    ("Pad", [("in", rand((3, 4))), ("const", np.array([1, 2, 2, 3], I64))], {"mode": "wrap"}, 19, 1),
    ("Pad", [("in", rand((3, 4), "int32")), ("const", np.array([-1, 2, 1, -2], I64)),
             ("const", np.array(7, np.int32))], {}, 13, 1),
    ("CenterCropPad", [("in", rand((5, 4, 3))), ("const", np.array([3, 6], I64))],
     {"axes": [0, 1]}, 18, 1),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_compiled_shape_op_matches_onnxruntime(case):
    check_case(case, compiled=True)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_shape_op_reference_matches_onnxruntime(case):
    check_case(case, compiled=False)


FOLDED = [
    ("Size", [X], {}, 13, 1),
    ("Range", [("const", np.array(1.5, np.float32)), ("const", np.array(7, np.float32)),
               ("const", np.array(1.25, np.float32))], {}, 11, 1),
    ("Range", [("const", np.array(10, np.int32)), ("const", np.array(2, np.int32)),
               ("const", np.array(-3, np.int32))], {}, 11, 1),
    ("EyeLike", [("in", rand((3, 4)))], {"k": 1, "dtype": 7}, 9, 1),
    ("NonZero", [("const", np.array([[1, 0, 2], [0, 3, 0]], np.int32))], {}, 13, 1),
]


@pytest.mark.parametrize("case", FOLDED, ids=[case_id(c) for c in FOLDED])
def test_compile_time_op_folds_to_the_onnxruntime_value(case):
    check_case(case, compiled=False)


def test_range_with_a_runtime_limit_names_the_input():
    from tc.frontends.onnx.importer import FrontendError

    model, _ = make_model("Range", [("const", np.array(0, I64)), ("in", np.array(5, I64)),
                                    ("const", np.array(1, I64))], {}, 11)
    with pytest.raises(FrontendError, match="Range's limit"):
        from_onnx(model)
