"""Property: on random small graphs of element-wise, broadcast and shape ops, with no-ops,
BatchNorms and affine chains among them, simplify changes nothing the graph computes."""
import numpy as np
from hypothesis import given, settings, strategies as st

from tc.compiler.graph import GraphBuilder
from tc.compiler.passes.simplify import simplify
from tests.compiler.passes.simplify_helpers import assert_same_results

SHAPES = [(3,), (2, 3), (2, 3, 2), (1, 2, 3, 2)]


def _constant(draw, b, shape, rng):
    """A constant broadcasting into ``shape``: scalar, per-axis or full; sometimes 0 or 1."""
    kind = draw(st.sampled_from(["scalar", "per_axis", "full", "zero", "one"]))
    if kind in ("zero", "one"):
        cshape = draw(st.sampled_from([(), shape[-1:], shape]))
        return b.constant(np.full(cshape, 1.0 if kind == "one" else 0.0, np.float32), kind)
    if kind == "scalar":
        cshape = ()
    elif kind == "full":
        cshape = shape
    else:
        axis = draw(st.integers(0, len(shape) - 1))
        cshape = tuple(d if i == axis else 1 for i, d in enumerate(shape))[
            draw(st.integers(0, axis)):]
    values = rng.uniform(0.5, 2.0, cshape) * rng.choice([-1, 1], cshape)
    return b.constant(values.astype(np.float32), "c")


def _step(draw, b, pool, rng):
    x = draw(st.sampled_from(pool[-3:]))
    shape = x.type.shape
    kind = draw(st.sampled_from(["affine", "affine", "affine", "unary", "noop", "shape",
                                 "binary", "batchnorm"]))
    if kind == "affine":
        op = draw(st.sampled_from(["Mul", "Add", "Sub"]))
        c = _constant(draw, b, shape, rng)
        operands = [c, x] if op != "Sub" and draw(st.booleans()) else [x, c]
        return b.op(op, operands)[0]
    if kind == "unary":
        return b.op(draw(st.sampled_from(["Relu", "Tanh", "Neg", "Abs"])), [x])[0]
    if kind == "noop":
        op = draw(st.sampled_from(["Identity", "Dropout", "Reshape", "Transpose", "Cast"]))
        attrs = {"Reshape": {"shape": shape}, "Transpose": {"perm": tuple(range(len(shape)))},
                 "Cast": {"to": "float32"}}.get(op, {})
        return b.op(op, [x], attrs)[0]
    if kind == "shape":
        if draw(st.booleans()):
            perm = tuple(draw(st.permutations(range(len(shape)))))
            return b.op("Transpose", [x], {"perm": perm})[0]
        return b.op("Reshape", [x], {"shape": shape[::-1]})[0]
    if kind == "binary":
        y = draw(st.sampled_from([v for v in pool if v.type == x.type]))
        return b.op(draw(st.sampled_from(["Add", "Mul"])), [x, y])[0]
    if len(shape) < 2:
        return b.op("Relu", [x])[0]
    c = shape[1]
    params = [rng.uniform(0.5, 2.0, c), rng.standard_normal(c), rng.standard_normal(c),
              rng.uniform(0.5, 2.0, c)]
    return b.op("BatchNormalization",
                [x] + [b.constant(p.astype(np.float32), "bn") for p in params],
                {"epsilon": 1e-5})[0]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_simplify_preserves_what_random_graphs_compute(data):
    draw = data.draw
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    b = GraphBuilder("g")
    pool = [b.input("x", draw(st.sampled_from(SHAPES)), "float32")]
    for _ in range(draw(st.integers(1, 10))):
        pool.append(_step(draw, b, pool, rng))
    extra = draw(st.lists(st.sampled_from(pool[:-1]), max_size=2, unique=True)) \
        if len(pool) > 1 else []
    before = b.build([pool[-1]] + [v for v in extra if v is not pool[-1]])
    assert_same_results(before, simplify(before), rtol=1e-4, atol=1e-4)
