"""The packing-layout knob: a conv task may pack its weights in another block of output
channels (``pack.block``); measurement repacks the reference's random weights for it,
and a build applying such a config repacks the model's constant weights."""
import numpy as np
import pytest
from onnx import helper, numpy_helper

import tc
from tc.autotune import TuningLog, extract_tasks
from tc.autotune.apply import AppliedLog
from tc.autotune.log import make_record
from tc.autotune.measure import measure
from tc.autotune.packing import PACK_BLOCK
from tc.compiler.build import _apply_log, external_values
from tc.compiler.passes.fuse import partition
from tc.compiler.passes.manager import run_passes
from tc.compiler.build import default_pipeline
from tc.compiler.passes.storage import assign_storage
from tests.frontends.onnx_models import run_onnxruntime


def conv_model(ic=24, oc=32, size=14, kernel=1, seed=0):
    """Conv (bias) + Relu, float32 NCHW."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.uniform(-0.5, 0.5, (oc, ic, kernel, kernel))
                                     .astype(np.float32), "w"),
             numpy_helper.from_array(rng.uniform(-0.5, 0.5, oc).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[kernel // 2] * 4),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", 1, [1, ic, size, size])],
        [helper.make_tensor_value_info("y", 1, [1, oc, size, size])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def conv_task():
    task, = extract_tasks(conv_model())
    return task


def other_block_config(task) -> dict:
    space = task.space()
    config = {name: knob.default for name, knob in space.items()}
    config[PACK_BLOCK] = next(b for b in space[PACK_BLOCK].choices if b != config[PACK_BLOCK])
    return config


def test_a_conv_task_offers_the_blocks_that_divide_its_channels(conv_task):
    knob = conv_task.space()[PACK_BLOCK]
    assert knob.choices == (8, 16) and knob.default in knob.choices
    config = other_block_config(conv_task)
    func = conv_task.lower(config)
    weights = func.params[1].shape
    assert weights[-1] == config[PACK_BLOCK] and weights[0] * weights[-1] == 32
    assert conv_task.input_steps({PACK_BLOCK: knob.default}) is None


def test_a_candidate_in_another_block_is_checked_against_the_default(conv_task):
    config = other_block_config(conv_task)
    result, = measure([conv_task.candidate(config)], conv_task.lower(), repeat=2)
    assert result.error is None, result.error
    assert len(result.costs) == 2 and len(result.baseline_costs) == 2
    # without the repacking steps the same kernel reads the weights in the wrong order
    wrong, = measure([(config, conv_task.lower(config))], conv_task.lower(), repeat=1)
    assert wrong.error.startswith("build: parameter 1 is float32"), wrong.error


def test_a_build_with_the_other_block_repacks_the_weights(tmp_path, conv_task):
    model = conv_model()
    config = other_block_config(conv_task)
    log = TuningLog(str(tmp_path / "t.jsonl"))
    log.append(make_record(conv_task.target, conv_task.key, config, [1e-3], threads=None))
    graph = tc._compile.import_graph(model)[0]
    graph, _ = run_passes(graph, default_pipeline("llvm"))
    groups = partition(graph)
    storage = assign_storage(graph, groups, external_values(graph))
    graph, groups, _, configs = _apply_log(AppliedLog(log, "llvm"), graph, groups, storage)
    conv, = [n for n in graph.nodes if n.op == "PackedConv"]
    assert conv.attr("block") == config[PACK_BLOCK]
    assert graph.constants[conv.inputs[1].name].shape[-1] == config[PACK_BLOCK]
    x = np.random.default_rng(1).uniform(-1, 1, (1, 24, 14, 14)).astype(np.float32)
    module = tc.compile(model, tuning_log=log.path)
    assert "1 of 1 tunable workloads tuned" in module.build_report.tuning
    np.testing.assert_allclose(module.run([x])[0], run_onnxruntime(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)
