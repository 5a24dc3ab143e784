"""legalize_narrow_types: arithmetic on bfloat16/float8/int4 moves to float32/int32
between casts; conversions and pure data movement stay as they are."""
import ml_dtypes
import numpy as np
import pytest

from tc.compiler.build import build
from tc.compiler.graph import Graph, GraphBuilder, Node, TensorType, Value, verify
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.passes.legalize_narrow_types import legalize_narrow_types
from tc.runtime.module import load
from tc.targets.target import Target


def test_celu_on_bfloat16_runs_in_float32_between_casts():
    b = GraphBuilder("g")
    x = b.input("x", (2, 3), "bfloat16")
    y, = b.op("Celu", [x], {"alpha": 1.0}, output_names=["y"])
    before = b.build([y])

    after = legalize_narrow_types(before)
    verify(after)
    x32 = Value("x_float32", TensorType((2, 3), "float32"))
    y32 = Value("y_float32", TensorType((2, 3), "float32"))
    expected = Graph(before.inputs, before.outputs, [
        Node("Cast", (x,), (x32,), {"to": "float32"}),
        Node("Celu", (x32,), (y32,), {"alpha": 1.0}),
        Node("Cast", (y32,), (y,), {"to": "bfloat16"}),
    ], {}, "g")
    assert after.structurally_equal(expected), str(after)


def test_data_movement_and_casts_are_left_alone():
    b = GraphBuilder("g")
    x = b.input("x", (2, 4), "float8_e4m3fn")
    t, = b.op("Transpose", [x], {"perm": (1, 0)})
    r, = b.op("Reshape", [t], {"shape": (8,)})
    y, = b.op("Cast", [r], {"to": "float32"})
    before = b.build([y])
    assert legalize_narrow_types(before) is before


def test_mixed_inputs_only_narrow_ones_are_cast():
    b = GraphBuilder("g")
    x = b.input("x", (4,), "bfloat16")
    w = b.input("w", (4,), "float32")
    s, = b.op("Cast", [w], {"to": "bfloat16"})
    y, = b.op("Mul", [x, s], output_names=["y"])
    before = b.build([y])
    after = legalize_narrow_types(before)
    verify(after)
    ops = [n.op for n in after.nodes]
    assert ops == ["Cast", "Cast", "Cast", "Mul", "Cast"]
    assert {v.type.dtype for v in after.nodes[3].inputs} == {"float32"}


def test_a_narrow_dtype_attribute_becomes_the_compute_type():
    b = GraphBuilder("g")
    y, = b.op("ConstantOfShape", [], {"shape": (2,), "value": 1.5, "dtype": "bfloat16"},
              output_names=["y"])
    before = b.build([y])
    after = legalize_narrow_types(before)
    verify(after)
    y32 = Value("y_float32", TensorType((2,), "float32"))
    expected = Graph((), before.outputs, [
        Node("ConstantOfShape", (), (y32,), {"shape": (2,), "value": 1.5, "dtype": "float32"}),
        Node("Cast", (y32,), (y,), {"to": "bfloat16"}),
    ], {}, "g")
    assert after.structurally_equal(expected), str(after)


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e5m2"])
def test_compiled_arithmetic_on_narrow_floats_matches_float32_then_round(dtype, tmp_path):
    """End to end: tc's kernel == ml_dtypes(float32 math on the decoded inputs)."""
    b = GraphBuilder("g")
    x = b.input("x", (5, 7), dtype)
    w = b.input("w", (5, 7), dtype)
    s, = b.op("Mul", [x, w])
    y, = b.op("Sigmoid", [s], output_names=["y"])
    graph = b.build([y])
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-3, 3, (5, 7)).astype(np.float32).astype(dtype) for _ in range(2)]
    build(graph, Target.parse("llvm"), str(tmp_path / "g.so"))
    got = load(str(tmp_path / "g.so")).run(xs)[0]
    prod = (xs[0].astype(np.float32) * xs[1].astype(np.float32)).astype(dtype).astype(np.float32)
    want = (1 / (1 + np.exp(-prod))).astype(dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32),
                               rtol=float(ml_dtypes.finfo(dtype).eps))
    np.testing.assert_array_equal(evaluate(legalize_narrow_types(graph), xs)[0].astype(np.float32),
                                  want.astype(np.float32))
