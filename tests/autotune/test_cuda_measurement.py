"""Tuning for a CUDA target: each candidate is a one-kernel CUDA artifact, checked
against the default kernel's outputs and timed on the device (``tc_cuda_rerun``), in
the same measurement children as CPU candidates.

Without a GPU these run on the fake driver (tests/runtime/fake_libcuda.c: host memory,
each kernel run by the CPU CUDA emulator) with NVRTC builds: the emulator of every
candidate is built as measurement builds it (``_emulate_candidates``), so the kernels
the children launch are the generated ones.  The timings are the emulator's and mean
nothing; what is checked is the path: built, run through the runtime, checked, timed,
logged and applied by a build, and the error when no device can run the kernels."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tc
from tc.autotune import cuda_candidate, measure
from tc.autotune.measure import DeviceUnavailable, measure as measure_batch
from tc.autotune.tasks import extract_tasks
from tc.autotune.tuner import tune
from tc.cli import tune_main
from tc.targets import nvrtc
from tests.autotune.test_tuner import QUIET
from tests.frontends.onnx_models import run_onnxruntime
from tests.runtime.fake_driver import build_fake_driver, compile_with_source, use_fake_driver
from tests.runtime.test_cuda_compile import mlp_model
from tests.targets.cuda_emulator import build_emulator

pytestmark = pytest.mark.skipif(not nvrtc.nvrtc_available(),
                                reason="NVRTC is not installed (packages cuda-bindings and "
                                       "nvidia-cuda-nvrtc: pip install \"tc[nvrtc]\")")
TARGET = "cuda -arch=sm_80 -compiler=nvrtc"
#: the emulator runs each CUDA thread as a std::thread: slow, and CI runs two workers
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory) -> str:
    return build_fake_driver(tmp_path_factory.mktemp("fake-driver"))


@pytest.fixture
def emulated(fake_driver, tmp_path, monkeypatch):
    """Measurement children run on the fake driver, with every candidate's kernels."""
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", "")
    built = {}
    source_of = cuda_candidate.candidate_source

    def candidate_source(func, target):
        source = source_of(func, target)
        name = source.func_names[0]
        if name not in built:
            folder = tmp_path / f"emulated{len(built)}"
            folder.mkdir()
            built[name] = build_emulator(source, str(folder), by_name=True)
            monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", ":".join(built.values()))
        return source

    monkeypatch.setattr(cuda_candidate, "candidate_source", candidate_source)
    return built


def _one_op_model(op: str, shape=(4, 64)) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], axis=-1)], op.lower(), [x],
                              [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _task(model, family: str):
    return next(t for t in extract_tasks(model, TARGET) if t.family == family)


def _other_config(task) -> dict:
    """The default config with its first knob at another choice."""
    space = task.space()
    assert space, f"{task.label}: a GPU task has knobs to search"
    name, knob = next(iter(space.items()))
    return dict(task.default_config(), **{name: next(c for c in knob.choices
                                                     if c != knob.default)})


def test_cuda_candidates_are_checked_against_the_default_and_timed_in_pairs(emulated):
    task = _task(_one_op_model("Softmax"), "softmax")
    other = _other_config(task)
    wrong = _task(_one_op_model("LogSoftmax"), "softmax").lower()
    results = measure_batch([(task.default_config(), task.lower()), task.candidate(other)],
                            task.lower(), target=task.target, repeat=3, timeout=TIMEOUT)
    for r in results:
        assert r.error is None, r.error
        assert len(r.costs) == len(r.baseline_costs) == 3 and min(r.costs) > 0
        assert r.threads is None  # GPU kernels: no CPU thread count
    # the same shapes, another computation: the device outputs are really compared
    bad, = measure_batch([({}, wrong)], task.lower(), target=task.target, repeat=1,
                         timeout=TIMEOUT)
    assert bad.error.startswith("wrong result: max abs diff"), bad.error
    assert all(n.startswith(cuda_candidate.NAME_PREFIX) for n in emulated)


def test_candidates_built_in_parallel_processes_keep_their_kernel_names(fake_driver, tmp_path,
                                                                        monkeypatch):
    """Kernel names are digests of the loop IR, the same in every process: emulators
    made here run the kernels that builder processes compiled."""
    task = _task(_one_op_model("Softmax"), "softmax")
    configs = [task.default_config(), _other_config(task)]
    libraries = []
    for i, config in enumerate(configs):
        folder = tmp_path / f"emulated{i}"
        folder.mkdir()
        libraries.append(build_emulator(cuda_candidate.candidate_source(
            task.lower(config), task.target), str(folder), by_name=True))
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", ":".join(libraries))
    results = measure_batch([task.candidate(c) for c in configs], task.lower(),
                            target=task.target, repeat=1, timeout=TIMEOUT, workers=2)
    assert [r.error for r in results] == [None, None]


def test_a_candidate_whose_kernel_fails_gets_an_error_record(fake_driver, tmp_path,
                                                             monkeypatch):
    task = _task(_one_op_model("Softmax"), "softmax")
    reference = task.lower()
    other = _other_config(task)
    # the fake driver knows the default's kernels only: the other's launch fails
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", build_emulator(
        cuda_candidate.candidate_source(reference, task.target), str(tmp_path), by_name=True))
    failed, default = measure_batch([task.candidate(other),
                                     task.candidate(task.default_config())],
                                    reference, target=task.target, repeat=1, timeout=TIMEOUT)
    assert failed.error.startswith("run: RuntimeError: tc_model_run failed: ")
    assert f"{cuda_candidate.kernel_name(task.lower(other))}_k0" in failed.error
    assert "CUDA_ERROR_NOT_FOUND" in failed.error and not failed.costs
    assert default.error is None and default.costs  # measurement went on


def test_without_a_driver_measuring_and_tuning_say_no_device(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", str(tmp_path / "no-libcuda.so.1"))
    task = _task(_one_op_model("Softmax"), "softmax")
    with pytest.raises(DeviceUnavailable, match="no usable CUDA device .*no CUDA driver"):
        measure_batch([task.candidate(task.default_config())], task.lower(),
                      target=task.target, repeat=1)
    # the tuner stops at once (no task could be measured), not task by task
    with pytest.raises(DeviceUnavailable):
        tune(_one_op_model("Softmax"), TARGET, trials=2, log_path=str(tmp_path / "log"),
             progress=QUIET)
    onnx.save(_one_op_model("Softmax"), tmp_path / "softmax.onnx")
    assert tune_main([str(tmp_path / "softmax.onnx"), "--target", TARGET, "--trials", "2",
                      "--log", str(tmp_path / "cli.jsonl")]) == 1
    err = capsys.readouterr().err
    assert f'tc-tune: error: cannot measure kernels for target "{TARGET}" on this machine: ' \
        in err and "no usable CUDA device (no CUDA driver" in err


def test_tuning_for_cuda_logs_records_that_a_cuda_build_applies(emulated, fake_driver,
                                                                 tmp_path, monkeypatch):
    model = mlp_model(np.random.default_rng(0), rows=2, k=64, n=64)
    log = tmp_path / "tune.jsonl"
    # built in this process: the emulator of each candidate is made as it is built
    summary = tune(model, TARGET, trials=6, log_path=str(log), batch_size=3, repeat=2,
                   timeout=TIMEOUT, verify_top=0, progress=QUIET, build_workers=1)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert summary.trials == len(records) == 6
    assert {r["target"] for r in records} == {"cuda -arch=sm_80 -compiler=nvrtc"}
    # every config ran on the (fake) device, was checked and timed against its default
    assert all(r["error"] is None and len(r["baseline_costs"]) == 2 for r in records), records
    assert len({json.dumps(r["config"], sort_keys=True) for r in records}) == 6

    module, source = compile_with_source(model, TARGET, monkeypatch, tuning_log=str(log),
                                         report=True)
    assert " tuned for cuda -arch=sm_80 -compiler=nvrtc" in module.build_report.tuning
    assert module.build_report.tuning.startswith(f"tuning log {log}: 3 of 3 ")
    folder = tmp_path / "model"
    folder.mkdir()
    use_fake_driver(monkeypatch, fake_driver, source, folder)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64)).astype(np.float32)
    for got, want in zip(module.run([x]), run_onnxruntime(model, {"x": x})):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_measure_refuses_a_target_it_cannot_time():
    task = _task(_one_op_model("Softmax"), "softmax")
    with pytest.raises(ValueError, match="'llvm' .* or 'cuda' .* not 'c'"):
        measure.measure([task.candidate({})], task.lower(), target="c")


def test_an_nvcc_build_without_a_visible_gpu_says_no_device(monkeypatch):
    from tests.runtime.cuda_native import require_nvcc

    require_nvcc()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # hides a GPU where there is one
    target = "cuda -arch=sm_80 -compiler=nvcc"
    task = next(t for t in extract_tasks(_one_op_model("Softmax"), target)
                if t.family == "softmax")
    with pytest.raises(DeviceUnavailable, match=r"cannot measure kernels for target \"cuda "
                       r"-arch=sm_80 -compiler=nvcc\" on this machine: .*no usable CUDA device"):
        measure_batch([task.candidate(task.default_config())], task.lower(),
                      target=task.target, repeat=1)


@pytest.mark.gpu
def test_tuning_on_the_gpu_gives_a_log_whose_build_matches_onnxruntime(tmp_path):
    model = mlp_model(np.random.default_rng(0), rows=64, k=256, n=128)
    log = tmp_path / "tune.jsonl"
    tune(model, "cuda", trials=12, log_path=str(log), batch_size=4, progress=QUIET)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all(r["error"] is None for r in records), records
    module = tc.compile(model, target="cuda", tuning_log=str(log), report=True)
    assert " tuned for cuda -arch=sm_" in module.build_report.tuning
    x = np.random.default_rng(1).uniform(-1, 1, (64, 256)).astype(np.float32)
    for got, want in zip(module.run([x]), run_onnxruntime(model, {"x": x})):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
