"""extract_tasks: the distinct tunable workloads of a model, their keys, weights and FLOPs,
and tasks that lower (here and in a child process)."""
import multiprocessing
import pickle

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tc.autotune import Task, extract_tasks
from tc.autotune.tasks import tuning_target
from tc.compiler.graph.evaluate import evaluate
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.loops.ir import PrimFunc
from tc.examples import small_cnn
from tc.targets.target import Target

def mlp(seed=0, width=16, prefix=""):
    """x[1, width] -> (Gemm + Relu) twice, both layers width x width (random weights)."""
    rng = np.random.default_rng(seed)
    inits, nodes, x = [], [], f"{prefix}x"
    for i in range(2):
        w, b = f"{prefix}w{i}", f"{prefix}b{i}"
        inits += [numpy_helper.from_array(rng.uniform(-1, 1, (width, width)).astype(np.float32), w),
                  numpy_helper.from_array(rng.uniform(-1, 1, width).astype(np.float32), b)]
        nodes += [helper.make_node("Gemm", [x, w, b], [f"{prefix}g{i}"], transB=1,
                                   name=f"{prefix}fc{i}"),
                  helper.make_node("Relu", [f"{prefix}g{i}"], [f"{prefix}r{i}"])]
        x = f"{prefix}r{i}"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info(f"{prefix}x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def renamed(model, prefix):
    """A copy with every value and node name prefixed (inputs, outputs, weights)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for n in g.node:
        n.input[:] = [prefix + v for v in n.input]
        n.output[:] = [prefix + v for v in n.output]
        n.name = prefix + n.name
    for v in list(g.input) + list(g.output) + list(g.initializer):
        v.name = prefix + v.name
    return m


def test_small_cnn_tasks():
    tasks = extract_tasks(small_cnn(), "llvm")
    families = sorted(t.family for t in tasks)
    # three convs (different shapes), MaxPool and GlobalAveragePool, the Gemm, the Softmax;
    # Flatten alone is injective: no task
    assert families == ["conv2d"] * 3 + ["matmul", "pool", "pool", "softmax"]
    assert all(t.weight == 1 and t.target == tuning_target("llvm") for t in tasks)
    assert len({t.key for t in tasks}) == len(tasks)
    conv1 = tasks[0]
    assert "k3x3 s1x1 1x3x32x32 -> 1x16x32x32" in conv1.label
    # 2 FLOPs per multiply-add of a 3x3x3 -> 16 conv on 32x32, plus its epilogue (bias,
    # relu: at most a few FLOPs per output element)
    macs = 16 * 32 * 32 * 3 * 3 * 3
    assert 2 * macs <= conv1.flops <= 2 * macs + 4 * 16 * 32 * 32


def test_identical_layers_share_a_key():
    tasks = extract_tasks(mlp(), "llvm")
    assert len(tasks) == 1
    (task,) = tasks
    assert task.family == "matmul" and task.weight == 2
    assert 2 * 16 * 16 <= task.flops <= 2 * 16 * 16 + 3 * 16


def test_keys_stable_and_independent_of_names_and_weights(tmp_path):
    keys = [t.key for t in extract_tasks(small_cnn(seed=0))]
    onnx.save(small_cnn(seed=0), tmp_path / "cnn.onnx")
    assert keys == [t.key for t in extract_tasks(str(tmp_path / "cnn.onnx"))]
    assert keys == [t.key for t in extract_tasks(small_cnn(seed=3))]
    assert keys == [t.key for t in extract_tasks(renamed(small_cnn(), "layer7/"))]
    assert [t.key for t in extract_tasks(mlp(prefix="a_"))] == [t.key for t in extract_tasks(mlp())]


def test_key_holds_attributes_not_only_shapes():
    """A dilated 3x3 conv with pads 2 has the shapes of a plain one with pads 1."""
    def conv(dilation):
        w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
        node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[dilation] * 4,
                                dilations=[dilation] * 2)
        g = helper.make_graph([node], "c", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                          [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [w])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    (a,), (b,) = extract_tasks(conv(1)), extract_tasks(conv(2))
    assert a.key != b.key and a.key.split("#")[0] == b.key.split("#")[0]


def test_target_is_the_resolved_triple_and_cpu():
    """Logs are keyed by what the code was tuned on: the triple and CPU as resolved
    here, not the bare "llvm" (which means a different CPU on another machine)."""
    (task,) = extract_tasks(mlp(), "llvm  -mcpu=generic")
    triple = Target.parse("llvm").triple
    assert task.target == f"llvm -mtriple={triple} -mcpu=generic"
    assert tuning_target("llvm") == f"llvm -mtriple={triple} -mcpu={Target.parse('llvm').resolved().mcpu}"
    assert tuning_target("c") == "c"


def test_lowered_task_computes_its_group():
    """The PrimFunc of a task, run by the loop-IR interpreter on random data, matches
    the numpy references of the group's ops."""
    (task,) = extract_tasks(mlp(), "llvm")
    func = task.lower()
    assert isinstance(func, PrimFunc)
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(-1, 1, v.type.shape).astype(v.type.dtype) for v in task.graph.inputs]
    outputs = [np.zeros(v.type.shape, v.type.dtype) for v in task.graph.outputs]
    run_primfunc(func, inputs + outputs)
    for got, want in zip(outputs, evaluate(task.graph, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.any(outputs[0] != 0)


def _lower_in_child(task_bytes):
    """In a spawned process: the pickled task's PrimFunc text and small_cnn's keys."""
    task = pickle.loads(task_bytes)
    return str(task.lower()), [t.key for t in extract_tasks(small_cnn())]


def test_task_pickles_and_lowers_in_a_child_process():
    tasks = extract_tasks(small_cnn())
    task = tasks[1]
    copy = pickle.loads(pickle.dumps(task))
    assert isinstance(copy, Task) and copy == task
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        text, keys = pool.apply(_lower_in_child, (pickle.dumps(task),))
    assert text == str(task.lower())
    assert keys == [t.key for t in tasks]


def test_default_config_lowers_like_no_config():
    for task in extract_tasks(small_cnn()):
        space = task.space()
        config = task.default_config()
        assert set(config) == set(space)
        assert str(task.lower(config)) == str(task.lower())


def test_a_config_changes_the_kernel_not_its_results():
    """Each non-default value of each knob that the template accepts gives another
    PrimFunc computing the same as the numpy references."""
    from tc.compiler.schedule.knobs import InvalidConfig

    (task,) = extract_tasks(mlp(), "llvm")
    default = str(task.lower())
    rng = np.random.default_rng(2)
    inputs = [rng.uniform(-1, 1, v.type.shape).astype(v.type.dtype) for v in task.graph.inputs]
    want = evaluate(task.graph, inputs)
    changed = 0
    for name, knob in task.space().items():
        for choice in knob.choices:
            if choice == knob.default:
                continue
            try:
                func = task.lower({name: choice})
            except InvalidConfig:
                continue
            changed += str(func) != default
            outputs = [np.zeros(v.type.shape, v.type.dtype) for v in task.graph.outputs]
            run_primfunc(func, inputs + outputs)
            for got, w in zip(outputs, want):
                np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5, err_msg=f"{name}={choice}")
    assert changed > 0
