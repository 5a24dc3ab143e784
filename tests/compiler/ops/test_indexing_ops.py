"""Indexing ops (Gather, GatherElements, GatherND, ScatterElements, ScatterND, OneHot,
ReverseSequence, Compress): compiled and reference against onnxruntime, with indices both
as run-time inputs and as constants, negative indices included."""
import numpy as np
import pytest

from tests.compiler.ops.test_shape_ops import case_id, check_case, make_model, rand

I64 = np.int64
X = ("in", rand((3, 4, 5)))

CASES = [
    ("Gather", [X, ("in", np.array([[2, -1], [0, 1]], I64))], {"axis": 1}, 13, 1),
    ("Gather", [("in", rand((5, 3), "int8")), ("const", np.array([-5, 4, 0], np.int32))], {}, 13, 1),
    ("Gather", [X, ("in", np.array(-2, I64))], {"axis": -1}, 13, 1),
    ("GatherElements", [X, ("in", np.array([[[1, -1, 0, 2, 1]] * 2] * 3, I64))], {"axis": 1}, 13, 1),
    ("GatherND", [X, ("in", np.array([[0, -1], [2, 1]], I64))], {}, 13, 1),
    ("GatherND", [X, ("in", np.array([[1], [3], [0]], I64))], {"batch_dims": 1}, 13, 1),
    ("ScatterElements", [("in", rand((3, 4))), ("in", np.array([[1, -1], [0, 0], [3, 2]], I64)),
                         ("in", rand((3, 2), seed=1))], {"axis": 1}, 16, 1),
    ("ScatterElements", [("in", rand((3, 4), "int32")), ("in", np.array([[1, 1], [0, 2]], I64)),
                         ("in", rand((2, 2), "int32", seed=1))], {"axis": 0, "reduction": "add"}, 16, 1),
    ("ScatterElements", [("in", rand((3, 4))), ("in", np.array([[1, 1, 0]], I64)),
                         ("in", rand((1, 3), seed=1))], {"axis": 1, "reduction": "mul"}, 16, 1),
    ("ScatterElements", [("in", rand((4,))), ("in", np.array([1, 1, 3], I64)),
                         ("in", rand((3,), seed=1))], {"reduction": "max"}, 18, 1),
    ("ScatterND", [("in", rand((4, 3))), ("in", np.array([[1], [-1]], I64)),
                   ("in", rand((2, 3), seed=1))], {}, 16, 1),
    ("ScatterND", [("in", rand((2, 3))), ("in", np.array([[0, 1], [1, 2], [0, 1]], I64)),
                   ("in", rand((3,), seed=1))], {"reduction": "add"}, 16, 1),
    ("ScatterND", [("in", rand((2, 3), "int64")), ("in", np.array([[0, 1], [1, 2]], I64)),
                   ("in", rand((2,), "int64", seed=1))], {"reduction": "min"}, 18, 1),
    ("OneHot", [("in", np.array([[1, -1], [3, 9]], I64)), ("const", np.array(4, I64)),
                ("in", np.array([2.0, 5.0], np.float32))], {"axis": 1}, 11, 1),
    ("OneHot", [("in", np.array([0, 2], I64)), ("const", np.array([3], I64)),
                ("const", np.array([0, 7], I64))], {}, 11, 1),
    ("ReverseSequence", [("in", rand((4, 3))), ("in", np.array([4, 1, 2], I64))],
     {"batch_axis": 1, "time_axis": 0}, 10, 1),
    ("ReverseSequence", [("in", rand((2, 5, 2), "uint16")), ("in", np.array([3, 5], I64))],
     {"batch_axis": 0, "time_axis": 1}, 10, 1),
    ("Compress", [X, ("const", np.array([True, False, True]))], {"axis": 0}, 11, 1),
    ("Compress", [("in", rand((2, 3))), ("const", np.array([0, 1, 1, 0, 1], bool))], {}, 11, 1),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_compiled_indexing_op_matches_onnxruntime(case):
    check_case(case, compiled=True)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{case_id(c)}" for i, c in enumerate(CASES)])
def test_indexing_op_reference_matches_onnxruntime(case):
    check_case(case, compiled=False)


def test_out_of_range_gather_indices_do_not_crash():
    import tc

    model, feeds = make_model("Gather", [("in", rand((4, 3))), ("in", np.array([1, 1000, -999], I64))],
                              {}, 13)
    out, = tc.compile(model).run([feeds["in0"], feeds["in1"]])
    np.testing.assert_array_equal(out[0], feeds["in0"][1])  # the in-range row is right


@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("with_indices", [True, False])
def test_tensor_scatter_writes_updates_at_each_rows_index(mode, with_indices):
    """A KV-cache update: the numpy loop of ONNX's pseudocode is the oracle."""
    import tc
    from tests.frontends.onnx_models import typed_model

    rng = np.random.default_rng(11)
    past = rng.uniform(-2, 2, (3, 2, 6, 4)).astype(np.float32)
    update = rng.uniform(3, 5, (3, 2, 3, 4)).astype(np.float32)
    starts = np.array([0, 2, 5 if mode == "circular" else 3], I64)
    arrays = [past, update] + ([starts] if with_indices else [])
    model, feeds = typed_model("TensorScatter", arrays, {"mode": mode}, 24, ir_version=10)
    (got,) = tc.compile(model).run(list(feeds.values()))
    want = past.copy()
    for b in range(3):
        for s in range(3):
            pos = (starts[b] if with_indices else 0) + s
            want[b, :, pos % 6] = update[b, :, s]
    np.testing.assert_array_equal(got, want)
