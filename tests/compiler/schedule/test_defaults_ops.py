"""Default schedules on the registered ops' own computes (integration with tc.compiler.ops)."""
import numpy as np
import pytest

from tc.compiler import te
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.loops.verifier import verify_primfunc
from tc.compiler.ops.registry import apply_reference, lookup_op
from tc.compiler.schedule import default_schedule, lower

CASES = [
    ("Conv", [(1, 3, 6, 7), (8, 3, 3, 3), (8,)], {"pads": [1, 1, 1, 1]}),
    ("Conv", [(1, 4, 7, 7), (6, 4, 3, 3)], {"strides": [2, 2], "pads": [0, 1, 1, 0]}),
    ("Conv", [(1, 4, 5, 6), (4, 1, 3, 3)], {"group": 4, "pads": [1, 1, 1, 1]}),
    ("Conv", [(2, 2, 5, 5), (3, 2, 2, 2)], {"dilations": [2, 2]}),
    ("Gemm", [(3, 5), (7, 5), (7,)], {"transB": 1}),
    ("Gemm", [(5, 3), (5, 9)], {"transA": 1, "alpha": 0.5}),
    ("MatMul", [(2, 3, 4), (4, 10)], {}),
    ("MatMul", [(4,), (4, 3)], {}),
    ("MaxPool", [(1, 2, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("AveragePool", [(1, 2, 6, 6)], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("GlobalAveragePool", [(1, 3, 4, 5)], {}),
    ("Softmax", [(3, 10)], {"axis": -1}),
    ("Transpose", [(2, 3, 4)], {"perm": [2, 0, 1]}),
]


@pytest.mark.parametrize("relu", [False, True], ids=["plain", "relu"])
@pytest.mark.parametrize("op,shapes,attrs", CASES, ids=lambda x: x if isinstance(x, str) else None)
def test_default_schedule_on_op(op, shapes, attrs, relu):
    opdef = lookup_op(op)
    inputs = [te.placeholder(s, "float32", f"in{i}") for i, s in enumerate(shapes)]
    try:
        (out,) = opdef.compute(inputs, dict(attrs))
    except NotImplementedError as e:
        pytest.skip(str(e))
    if relu:  # a fused elementwise epilogue, as the fuse pass builds it
        prev = out
        out = te.compute(prev.shape, lambda *i: te.maximum(prev[i], te.const(0.0)), "relu", tag="elemwise")
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal(s) + 0.25).astype("float32") for s in shapes]
    (expected,) = apply_reference(op, data, dict(attrs))
    if relu:
        expected = np.maximum(expected, 0)
    func = lower(default_schedule([out]), inputs + [out], op.lower())
    verify_primfunc(func)
    got = np.full(out.shape, np.nan, "float32")
    run_primfunc(func, data + [got])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
