"""The register-tiled matmul's ``kc`` knob (K blocks, the block loop outside the tile
loops): offered for the divisors of K in KC_RANGE, "none" by default (the default
schedule unchanged), and every choice computes what numpy computes, with the epilogue
fused or not, packed or plain weights; a block the reduce unrolling does not divide is
an InvalidConfig."""
import numpy as np
import pytest
from onnx import numpy_helper

from tc.compiler.build import group_to_te, lower_group
from tc.compiler.schedule import InvalidConfig, Knobs, default_schedule, schedule_space
from tests.compiler.schedule.test_knobs import TARGET, _feeds, _group, _run, matmul

#: (name, model, K blocks its kc knob offers)
CASES = [
    ("packed_bias", matmul(m=24, k=384, n=48), [64, 96, 128, 192]),
    ("batched_plain", matmul(m=6, k=256, n=32, batch=(2,), const=False), [64, 128]),
    ("odd_blocks", matmul(m=6, k=198, n=16), [66, 99]),
]
IDS = [c[0] for c in CASES]


def _kc_knob(model):
    graph, group = _group(model)
    space = schedule_space(group_to_te(group, graph.constants)[1], TARGET)
    return space, next(name for name in space if name.endswith("matmul.kc"))


def _numpy(model, feeds):
    """a @ w + b from the model's inputs and initializers."""
    values = {**{i.name: numpy_helper.to_array(i) for i in model.graph.initializer}, **feeds}
    return values["a"] @ values["w1"] + values["w2"]


@pytest.mark.parametrize("name,model,blocks", CASES, ids=IDS)
def test_kc_offers_the_divisors_of_k_and_defaults_to_the_unchanged_schedule(name, model,
                                                                           blocks):
    space, kc = _kc_knob(model)
    assert space[kc].choices == ("none", *blocks) and space[kc].default == "none"
    graph, group = _group(model)
    _, outputs = group_to_te(group, graph.constants)
    assert (default_schedule(outputs, TARGET, Knobs({kc: "none"})).steps
            == default_schedule(outputs, TARGET).steps)


@pytest.mark.parametrize("name,model,blocks", CASES, ids=IDS)
def test_every_k_block_computes_the_matmul(name, model, blocks):
    space, kc = _kc_knob(model)
    prefix = kc[:-len("kc")]
    feeds = _feeds(model)
    want = _numpy(model, feeds)
    default, default_func = _run(model, None, feeds)
    np.testing.assert_allclose(default, want, rtol=1e-4, atol=1e-4)
    for block in blocks:
        for extra in ({}, {prefix + "unroll_k": 2}, {prefix + "order": "rows_outer",
                                                      prefix + "granularity": "outer"}):
            config = {kc: block, **extra}
            try:
                got, func = _run(model, config, feeds)
            except InvalidConfig:
                assert block % extra.get(prefix + "unroll_k", 1), config
                continue
            assert str(func) != str(default_func)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=str(config))


def test_a_block_the_unrolling_does_not_divide_is_invalid():
    model = CASES[2][1]
    graph, group = _group(model)
    _, kc = _kc_knob(model)
    with pytest.raises(InvalidConfig, match="kc/unroll_k: a K block of 99"):
        lower_group(group, graph, TARGET, "k", {kc: 99, kc[:-2] + "unroll_k": 2})
