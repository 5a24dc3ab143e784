"""The tuner end to end on a small model: every measurement is logged, a resumed run
measures no config twice (also after SIGKILL mid-batch), and compiling with the log
applies its configs on this target only, with results unchanged."""
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import tc
from tc.autotune import TuningLog, extract_tasks, make_record
from tc.autotune.tuner import Progress, tune
from tests.models.light import ort_session


def mlp(seed=0):
    """Two 64x64 layers (Gemm+Relu, then Gemm) and a softmax: three tunable workloads."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.uniform(-0.5, 0.5, s).astype(np.float32), n)
             for n, s in (("w1", (64, 64)), ("b1", (64,)), ("w2", (64, 64)), ("b2", (64,)))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", 1, [8, 64])],
                              [helper.make_tensor_value_info("y", 1, [8, 64])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def tc_threads():
    """The thread count tc's runtime uses by default here (a compiled module's)."""
    return tc.compile(mlp()).num_threads


def _records(path):
    """The search's records (the verify phase re-measures configs by design: see
    test_tuner_verify.py)."""
    return [r for r in map(json.loads, open(path)) if r.get("phase") != "verify"]


def _pairs(records):
    """(workload, config) -> how many search records measured it."""
    return Counter((r["workload"], json.dumps(r["config"], sort_keys=True)) for r in records
                   if r.get("phase") != "verify")


class _Discard:
    def write(self, text):
        return len(text)

    def flush(self):
        pass


QUIET = Progress(stream=_Discard())


def test_tuning_logs_every_trial_and_resumes_without_measuring_a_config_twice(tmp_path):
    log = tmp_path / "tune.jsonl"
    first = tune(mlp(), trials=10, log_path=str(log), batch_size=4, repeat=2, progress=QUIET)
    assert first.trials == 10 and len(_records(log)) == 10
    second = tune(mlp(), trials=6, log_path=str(log), batch_size=4, repeat=2, progress=QUIET)
    records = _records(log)
    assert second.trials == 6 and len(records) == 16
    assert max(_pairs(records).values()) == 1
    tasks = {t.key for t in extract_tasks(mlp())}
    assert {r["workload"] for r in records} <= tasks
    assert all(r["error"] is None or r["error"].startswith("invalid config") for r in records)
    # the runtime's default thread count, as the measuring child saw it
    assert {r["threads"] for r in records if r["error"] is None} == {tc_threads()}


def test_compiling_with_the_log_applies_it_on_this_target_only(tmp_path):
    log = tmp_path / "tune.jsonl"
    tune(mlp(), trials=8, log_path=str(log), batch_size=4, repeat=2, progress=QUIET)
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    want, = ort_session(mlp()).run(None, {"x": x})
    tuned = tc.compile(mlp(), tuning_log=str(log), report=True)
    assert " tuned for llvm -mtriple=" in tuned.build_report.tuning
    np.testing.assert_allclose(tuned.run([x])[0], want, rtol=1e-5, atol=1e-6)

    # the same records under another CPU's target string are not applied
    other = tmp_path / "other.jsonl"
    foreign = TuningLog(other)
    for r in _records(log):
        foreign.append(make_record(r["target"].replace("-mcpu=", "-mcpu=x") , r["workload"],
                                   r["config"], r["costs"], r["error"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = tc.compile(mlp(), tuning_log=str(other), report=True)
    assert module.build_report.tuning.startswith(f"tuning log {other}: 0 of ")
    assert any("had no record" in str(w.message) for w in caught)


def test_a_tuning_run_killed_mid_batch_resumes_without_loss_or_repeats(tmp_path):
    """SIGKILL tc-tune once a few records are on disk; the records written survive, the
    resumed run adds new configs only."""
    onnx.save(mlp(), tmp_path / "mlp.onnx")
    cmd = [sys.executable, "-c", "import sys; from tc.cli import tune_main; "
           "sys.exit(tune_main(sys.argv[1:]))", "mlp.onnx", "--trials", "40",
           "--batch-size", "8", "--log", "tune.jsonl"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    log = tmp_path / "tune.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the tuner and its measuring children
    proc.wait()
    before = [line for line in log.read_text().splitlines(keepends=True) if line.endswith("\n")]
    assert len(before) >= 5

    out = subprocess.run(cmd[:-6] + ["--trials", "6", "--batch-size", "3", "--log",
                                     "tune.jsonl"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    after = log.read_text().splitlines(keepends=True)
    assert after[:len(before)] == before  # nothing written before the kill was lost
    records = [json.loads(line) for line in after if line.strip().startswith("{")
               and line.endswith("\n")]
    assert len(records) >= len(before) + 6
    assert max(_pairs(records).values()) == 1  # and no config was measured twice


def test_tc_tune_prints_its_summary_and_tc_build_applies_the_log(tmp_path):
    onnx.save(mlp(), tmp_path / "mlp.onnx")
    run = [sys.executable, "-c", "import sys; from tc.cli import tune_main, build_main; "
           "sys.exit((tune_main if sys.argv[1] == 'tune' else build_main)(sys.argv[2:]))"]
    out = subprocess.run(run + ["tune", "mlp.onnx", "--trials", "6", "--batch-size", "3"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "speedup" in out.stdout and "6 measurements" in out.stdout
    assert "tuning 3 tasks, 6 trials" in out.stderr
    out = subprocess.run(run + ["build", "mlp.onnx", "--tuning-log", "tune.jsonl"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "tuning log tune.jsonl: " in out.stdout and " tunable workloads tuned for " in out.stdout


def test_a_malformed_log_line_is_reported_and_skipped(tmp_path):
    log = tmp_path / "tune.jsonl"
    tune(mlp(), trials=3, log_path=str(log), batch_size=3, repeat=2, progress=QUIET)
    with open(log, "a") as f:
        f.write("not json\n")
    with pytest.warns(UserWarning, match=r"tune.jsonl:4"):
        summary = tune(mlp(), trials=2, log_path=str(log), batch_size=2, repeat=2,
                       progress=QUIET)
    assert summary.trials == 2


def test_a_warm_started_model_guides_the_search_from_the_first_round(tmp_path, monkeypatch):
    """A cost model saved by another run (features transfer across workloads) is loaded
    and used for proposals before this run has measured anything of its own."""
    from tc.autotune import tuner as tuner_module
    from tc.autotune.cost_model import CostModel
    from tc.autotune.features import FEATURE_LENGTH
    from tc.autotune.search import Proposer

    rng = np.random.default_rng(0)
    saved = tmp_path / "model.json"
    CostModel(seed=0).fit(rng.random((40, FEATURE_LENGTH)), rng.random(40)).save(str(saved))
    annealed = []
    real = Proposer.annealed_batch

    def spy(self, *args, **kwargs):
        annealed.append(True)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Proposer, "annealed_batch", spy)
    tuner_module.tune(mlp(), trials=5, log_path=str(tmp_path / "t.jsonl"), batch_size=2,
                      repeat=2, progress=QUIET, warm_start=str(saved))
    assert annealed  # with a fresh model the first rounds would be random


def test_a_model_of_another_feature_layout_is_refused_before_tuning(tmp_path):
    from tc.autotune.cost_model import CostModel
    from tc.autotune.features import FEATURE_LENGTH

    rng = np.random.default_rng(0)
    saved = tmp_path / "old.json"
    CostModel(seed=0).fit(rng.random((40, FEATURE_LENGTH - 7)), rng.random(40)).save(str(saved))
    log = tmp_path / "t.jsonl"
    with pytest.raises(ValueError, match=rf"the cost model {saved} was trained on "
                       rf"{FEATURE_LENGTH - 7} loop features, this tc computes {FEATURE_LENGTH}"):
        tune(mlp(), trials=2, log_path=str(log), progress=QUIET, warm_start=str(saved))
    assert not log.exists()  # nothing measured
