"""Schedule knobs: the default schedules as templates whose decisions a tuning config can
change.  Without a config (or with an empty one) a template gives exactly the default
schedule; a config changes the loops and the kernel still computes what onnxruntime
computes; every config of a space is either refused with InvalidConfig or correct."""
import itertools
import random

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tc.compiler.build import default_pipeline, group_to_te, lower_group
from tc.compiler.passes.fuse import partition
from tc.compiler.passes.manager import run_passes
from tc.compiler.schedule import (
    InvalidConfig,
    Knob,
    Knobs,
    default_schedule,
    schedule_space,
)
from tc.frontends.onnx import from_onnx
from tc.targets.target import Target

ort = pytest.importorskip("onnxruntime")
TARGET = Target.parse("llvm")


# --- Knobs ------------------------------------------------------------------------

def test_pick_returns_the_default_without_a_config():
    knobs = Knobs()
    assert knobs.pick("s0.x.tile", [(1, 2), (2, 2)], (2, 2)) == [2, 2]
    assert knobs.space == {"s0.x.tile": Knob(([1, 2], [2, 2]), [2, 2])}
    assert knobs.chosen == {"s0.x.tile": [2, 2]}
    knobs.check_all_used()


def test_pick_returns_the_configured_choice():
    knobs = Knobs({"a": [1, 2], "b": False, "c": "rows_outer"})
    assert knobs.pick("a", [(1, 2), (2, 2)], (2, 2)) == [1, 2]
    assert knobs.pick("b", (True, False), True) is False
    assert knobs.pick("c", ("cols_outer", "rows_outer"), "cols_outer") == "rows_outer"
    # the same knob asked twice (two stages that must agree) gives the same answer
    assert knobs.pick("a", [(1, 2), (2, 2)], (2, 2)) == [1, 2]
    knobs.check_all_used()


def test_a_value_out_of_the_choices_is_refused_with_its_knob_and_choices():
    with pytest.raises(InvalidConfig, match=r"'s1.matmul.mr': 7 is not one of its choices \[4, 2, 1\]"):
        Knobs({"s1.matmul.mr": 7}).pick("s1.matmul.mr", (4, 2, 1), 4)
    # bools and ints stay apart (True == 1 in Python)
    with pytest.raises(InvalidConfig, match="is not one of its choices"):
        Knobs({"p": 1}).pick("p", (True, False), True)
    with pytest.raises(InvalidConfig, match="is not one of its choices"):
        Knobs({"u": True}).pick("u", (1, 2, 4), 1)


def test_an_unknown_key_is_refused_after_scheduling():
    knobs = Knobs({"s9.conv2d.tile": [1, 1, 1]})
    knobs.pick("s0.pool.parallel", (True, False), True)
    with pytest.raises(InvalidConfig, match=r"\['s9.conv2d.tile'\].*knobs are \['s0.pool.parallel'\]"):
        knobs.check_all_used()


def test_template_bugs_are_not_invalid_configs():
    with pytest.raises(ValueError, match="default 3 is not among its choices") as err:
        Knobs().pick("k", (1, 2), 3)
    assert not isinstance(err.value, InvalidConfig)
    knobs = Knobs()
    knobs.pick("k", (1, 2), 1)
    with pytest.raises(ValueError, match="picked twice"):
        knobs.pick("k", (1, 2, 4), 1)


# --- workloads: one fused group each ------------------------------------------------

def _model(nodes, inputs, output, inits=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output)], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weight(shape, seed):
    return numpy_helper.from_array(
        np.random.default_rng(seed).standard_normal(shape).astype(np.float32), f"w{seed}")


def conv(n=1, ic=8, oc=16, size=6, k=3, pad=1, group=1, const=True):
    w = _weight((oc, ic // group, k, k), 1)
    out = size + 2 * pad - k + 1
    nodes = [helper.make_node("Conv", ["x", "w1", "w2"], ["c"], pads=[pad] * 4, group=group),
             helper.make_node("Relu", ["c"], ["y"])]
    inputs = [("x", [n, ic, size, size])] + ([] if const else [("w1", list(w.dims))])
    inits = [_weight((oc,), 2)] + ([w] if const else [])
    return _model(nodes, inputs, [n, oc, out, out], inits)


def matmul(m=24, k=8, n=48, batch=(), const=True):
    w = _weight(batch + (k, n) if not const else (k, n), 1)
    nodes = [helper.make_node("MatMul", ["a", "w1"], ["c"]),
             helper.make_node("Add", ["c", "w2"], ["y"])]
    inputs = [("a", list(batch) + [m, k])] + ([] if const else [("w1", list(w.dims))])
    return _model(nodes, inputs, list(batch) + [m, n], [_weight((n,), 2)] + ([w] if const else []))


def maxpool(shape=(1, 8, 9, 9)):
    out = (shape[2] + 2 - 3) // 2 + 1
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            pads=[1, 1, 1, 1])
    return _model([node], [("x", list(shape))], list(shape[:2]) + [out, out])


def softmax(shape=(2, 6, 20)):
    return _model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [("x", list(shape))],
                  list(shape))


def reduce_sum(shape=(2, 8, 12)):
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)
    return _model([node], [("x", list(shape))], list(shape[:2]), [axes])


def elementwise(shape=(4, 40)):
    nodes = [helper.make_node("Add", ["x", "z"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    return _model(nodes, [("x", list(shape)), ("z", list(shape))], list(shape))


#: (name, model, a knob its schedule must have: the template it exercises)
WORKLOADS = [
    ("blocked_conv3x3", conv(), "conv2d_blocked.tile"),
    ("blocked_conv1x1", conv(ic=8, oc=16, size=8, k=1, pad=0), "conv2d_blocked.unroll_ic"),
    ("depthwise_conv", conv(ic=8, oc=8, size=10, group=8), "conv2d.oc_block"),
    ("pointwise_gemm", conv(ic=12, oc=24, size=4, k=1, pad=0, const=False), "conv2d.mr"),
    ("direct_conv", conv(ic=4, oc=6, size=5, const=False), "conv2d.rows"),
    ("matmul_packed", matmul(), "matmul.order"),
    ("matmul_batched", matmul(m=6, k=5, n=32, batch=(2,), const=False), "matmul.unroll_k"),
    ("matmul_plain", matmul(m=5, k=7, n=12), "matmul.parallel"),
    ("maxpool", maxpool(), "pool.unroll_reduce"),
    ("softmax", softmax(), "softmax.vector"),
    ("reduce_sum", reduce_sum(), "reduce.vector"),
    ("elementwise", elementwise(), "elemwise.vector"),
]
IDS = [w[0] for w in WORKLOADS]


def _group(model):
    """The model's graph after the build's passes, and its one fused group."""
    graph, _ = run_passes(from_onnx(model), default_pipeline())
    groups = partition(graph)
    assert len(groups) == 1, [g.name for g in groups]
    return graph, groups[0]


def _feeds(model, seed=0):
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    return {i.name: (rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
                     + 0.25).astype(np.float32)
            for i in model.graph.input if i.name not in inits}


def _run(model, config, feeds):
    """Lower the model's group with ``config`` and run it (LLVM JIT); returns (output,
    PrimFunc)."""
    from tests.targets.jit import jit_run

    graph, group = _group(model)
    func, _ = lower_group(group, graph, TARGET, "kernel", config)
    arrays = [np.ascontiguousarray(graph.constants[v.name] if v.name in graph.constants
                                   else feeds[v.name]) for v in group.inputs]
    out = np.full(group.outputs[0].type.shape, np.nan, np.float32)
    jit_run(func, arrays + [out], TARGET)
    return out, func


def _expected(model, feeds):
    return ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, feeds)[0]


# --- templates ------------------------------------------------------------------------

@pytest.mark.parametrize("name,model,knob", WORKLOADS, ids=IDS)
def test_no_config_gives_the_default_schedule(name, model, knob):
    graph, group = _group(model)
    _, outputs = group_to_te(group, graph.constants)
    space = schedule_space(outputs, TARGET)
    assert any(n.endswith(knob) for n in space), list(space)
    steps = default_schedule(outputs, TARGET).steps
    assert default_schedule(outputs, TARGET, Knobs()).steps == steps
    # every knob set to its default explicitly: still the same schedule
    all_defaults = Knobs({n: k.default for n, k in space.items()})
    assert default_schedule(outputs, TARGET, all_defaults).steps == steps
    all_defaults.check_all_used()


def test_knob_names_carry_the_stage_position_and_tag():
    graph, group = _group(WORKLOADS[0][1])
    space = schedule_space(group_to_te(group, graph.constants)[1], TARGET)
    assert list(space) == ["s1.conv2d_blocked.tile", "s1.conv2d_blocked.order",
                           "s1.conv2d_blocked.unroll_kx", "s1.conv2d_blocked.parallel",
                           "s0.pad.parallel"]
    tile = space["s1.conv2d_blocked.tile"]
    assert tile.default == [1, 6, 2] and tile.default in tile.choices
    assert all(r * c * v >= 4 for r, c, v in tile.choices)


def test_a_conv_tile_config_changes_the_loops_and_stays_correct():
    model = WORKLOADS[0][1]
    feeds = _feeds(model)
    want = _expected(model, feeds)
    default, default_func = _run(model, None, feeds)
    tuned, tuned_func = _run(model, {"s1.conv2d_blocked.tile": [2, 3, 1],
                                     "s1.conv2d_blocked.order": "spatial_outer"}, feeds)
    assert str(tuned_func) != str(default_func)
    np.testing.assert_allclose(default, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tuned, want, rtol=1e-4, atol=1e-4)


def test_lower_group_refuses_unknown_and_out_of_choice_configs():
    graph, group = _group(WORKLOADS[0][1])
    with pytest.raises(InvalidConfig, match="s1.conv2d_blocked.tiles"):
        lower_group(group, graph, TARGET, "k", {"s1.conv2d_blocked.tiles": [1, 6, 2]})
    with pytest.raises(InvalidConfig, match=r"\[5, 6, 2\] is not one of its choices"):
        lower_group(group, graph, TARGET, "k", {"s1.conv2d_blocked.tile": [5, 6, 2]})


def test_illegal_combinations_are_invalid_configs():
    graph, group = _group(matmul())
    # 8 rows x 2 vectors of accumulators overflow the 16 vector registers
    with pytest.raises(InvalidConfig, match="s0.matmul.mr/nr: 8 x 2 vector accumulators"):
        lower_group(group, graph, TARGET, "k", {"s0.matmul.mr": 8, "s0.matmul.nr": 2})


#: configs run per workload (the others are scheduled and lowered only)
SAMPLED = {"blocked_conv3x3": 30, "matmul_packed": 30}


@pytest.mark.parametrize("name,model,knob", WORKLOADS, ids=IDS)
def test_every_config_is_invalid_or_correct(name, model, knob):
    """The property a tuner relies on: a config either raises InvalidConfig or gives a
    kernel computing the right result.  Every config of the space is scheduled and
    lowered; a seeded sample of them is run (30 for the 3x3 conv and the GEMM, 12
    for the others)."""
    graph, group = _group(model)
    space = schedule_space(group_to_te(group, graph.constants)[1], TARGET)
    configs = [dict(zip(space, values))
               for values in itertools.product(*(k.choices for k in space.values()))]
    valid = []
    for config in configs:
        try:
            lower_group(group, graph, TARGET, "k", config)
        except InvalidConfig:
            continue
        valid.append(config)
    assert valid
    feeds = _feeds(model)
    want = _expected(model, feeds)
    rng = random.Random(0)
    for config in rng.sample(valid, min(SAMPLED.get(name, 12), len(valid))):
        got, _ = _run(model, config, feeds)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=str(config))
