"""Reshape/Transpose chains that keep the innermost dim (the ONNX channel shuffle of
ShuffleNet: Reshape (N,C,H,W) -> (N,g,C/g,H,W), Transpose (0,2,1,3,4), Reshape back):
compiled against numpy, and their lowered loops read the input with contiguous vectors."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tc
from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.loops.simplify import simplify
from tc.compiler.ops import shape as shape_ops
from tc.compiler.ops.registry import lookup_op
from tc.compiler.schedule import default_schedule, lower
from tc.compiler.te import expr as E
from tests.compiler.loops.test_simplify_divmod import has_divmod_of
from tests.compiler.ops.test_shape_ops import rand


def shuffle_steps(n, c, h, w, groups):
    """The channel shuffle as (op, attrs) steps over an (n, c, h, w) tensor."""
    return [("Reshape", {"shape": (n, groups, c // groups, h, w)}),
            ("Transpose", {"perm": (0, 2, 1, 3, 4)}),
            ("Reshape", {"shape": (n, c, h, w)})]


def shuffle_model(n, c, h, w, groups) -> onnx.ModelProto:
    """An ONNX model of the channel shuffle, shapes as initializers (as exporters write)."""
    reshapes = [a["shape"] for op, a in shuffle_steps(n, c, h, w, groups) if op == "Reshape"]
    shapes = [numpy_helper.from_array(np.array(s, np.int64), f"shape{k}")
              for k, s in enumerate(reshapes)]
    nodes = [helper.make_node("Reshape", ["x", "shape0"], ["a"]),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["b", "shape1"], ["y"])]
    io = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, c, h, w]) for name in "xy"]
    graph = helper.make_graph(nodes, "channel_shuffle", io[:1], io[1:], shapes)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def numpy_shuffle(x, groups):
    """The oracle: numpy's reshape and transpose."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(0, 2, 1, 3, 4).reshape(x.shape)


SHAPES = [(1, 12, 7, 7, 3), (1, 24, 7, 7, 4), (2, 12, 5, 3, 4), (1, 60, 14, 14, 3),
          (1, 136, 28, 28, 4), (1, 48, 1, 1, 4)]


@pytest.mark.parametrize("n,c,h,w,groups", SHAPES)
def test_compiled_channel_shuffle_matches_numpy(n, c, h, w, groups):
    x = rand((n, c, h, w), seed=c + h)
    (got,) = tc.compile(shuffle_model(n, c, h, w, groups)).run([x])
    np.testing.assert_array_equal(got, numpy_shuffle(x, groups))


def lowered_chain(shape, steps) -> tuple[L.PrimFunc, L.Buffer]:
    """The default-scheduled loops of ``steps`` applied to a placeholder of ``shape``, and
    the placeholder's buffer."""
    x = out = te.placeholder(shape, "float32", "x")
    for op, attrs in steps:
        (out,) = lookup_op(op).compute([out], attrs)
    func = lower(default_schedule([out]), [x, out], "chain")
    return func, func.params[0]


CHAINS = {
    **{f"shuffle-{n}x{c}x{h}x{w}-g{g}": ((n, c, h, w), shuffle_steps(n, c, h, w, g))
       for n, c, h, w, g in SHAPES if w > 1},
    # the inner dim kept through a split, a transpose of the outer dims and a flatten
    "split-transpose-flatten": ((6, 35), [("Reshape", {"shape": (6, 5, 7)}),
                                          ("Transpose", {"perm": (1, 0, 2)}),
                                          ("Flatten", {"axis": 2})]),
    "split-transpose-merge": ((4, 9, 10), [("Reshape", {"shape": (2, 2, 9, 10)}),
                                           ("Transpose", {"perm": (1, 2, 0, 3)}),
                                           ("Reshape", {"shape": (36, 10)})]),
}


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "flat"])
@pytest.mark.parametrize("chain", CHAINS.values(), ids=CHAINS.keys())
def test_vector_lanes_read_consecutive_input_elements(chain, grouped, monkeypatch):
    """``flat``: each Reshape reads through the whole flat index (no runs of kept dims),
    which leaves it to the simplifier's div/mod rules to recover the contiguity."""
    if not grouped:
        monkeypatch.setattr(shape_ops, "_reshape_groups",
                            lambda src, dst: [((0, len(src)), (0, len(dst)))])
    func, x = lowered_chain(*chain)
    loops = [n for n in E.walk(func.body) if isinstance(n, L.For) and n.kind == L.VECTORIZED]
    assert loops, "the chain is not vectorized"
    for loop in loops:
        lane = loop.var
        reads = [n.index for n in E.walk(loop.body) if isinstance(n, L.Load) and n.buffer is x]
        assert reads
        for index in reads:
            assert not has_divmod_of(index, lane), index
            # one lane further reads the next element
            assert simplify(E.substitute(index, {lane: lane + 1}) - index) == E.const(1), index


def test_reshape_maps_runs_of_equal_size():
    groups = shape_ops._reshape_groups
    assert groups((1, 136, 28, 28), (1, 4, 34, 28, 28)) == \
        [((0, 1), (0, 1)), ((1, 2), (1, 3)), ((2, 3), (3, 4)), ((3, 4), (4, 5))]
    assert groups((4, 6), (3, 8)) == [((0, 2), (0, 2))]
    assert groups((6, 1), (6,)) == [((0, 1), (0, 1)), ((1, 2), (1, 1))]
    assert groups((2, 0, 3), (0, 5)) == [((0, 3), (0, 2))]


MORE_CHAINS = {
    **CHAINS,
    "misaligned-split": ((4, 6), [("Reshape", {"shape": (3, 8)}),
                                  ("Transpose", {"perm": (1, 0)})]),
    "unit-dims": ((6, 1), [("Reshape", {"shape": (1, 6)}),
                           ("Reshape", {"shape": (2, 1, 3, 1)})]),
    "transpose-split-transpose-flatten": (
        (2, 3, 4), [("Transpose", {"perm": (1, 0, 2)}), ("Reshape", {"shape": (3, 2, 2, 2)}),
                    ("Transpose", {"perm": (0, 2, 1, 3)}), ("Flatten", {"axis": 1})]),
}


@pytest.mark.parametrize("chain", MORE_CHAINS.values(), ids=MORE_CHAINS.keys())
def test_lowered_chain_matches_numpy(chain):
    """Runs of kept dims (and the ones that are not: non-aligned splits, size-1 dims)
    index the input right."""
    shape, steps = chain
    func, _ = lowered_chain(shape, steps)
    x = expected = rand(shape, seed=len(steps))
    for op, attrs in steps:
        (expected,) = lookup_op(op).reference([expected], attrs)
    got = np.zeros(expected.shape, np.float32)
    run_primfunc(func, [x, got])
    np.testing.assert_array_equal(got, expected)
