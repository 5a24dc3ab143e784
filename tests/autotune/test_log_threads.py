"""The thread count of each tuning record: written with every measurement, missing
(older records) read as unknown, and the records of the thread count a build will run
at are the ones applied."""
import json

import pytest

from tc.autotune import TuningLog, extract_tasks, make_record
from tc.autotune.apply import AppliedLog
from tc.autotune.log import preferred_threads
from tc.autotune.tasks import is_tunable, kernel_groups
from tc.frontends.onnx import from_onnx
from tests.autotune.test_tuner import mlp

TARGET = "llvm -mcpu=znver3"
WL = "PackedMatMul+Add float32[8,64] -> float32[8,64] #0123456789abcdef"


def rec(tile, cost, threads, target=TARGET, workload=WL):
    return make_record(target, workload, {"tile": tile}, [cost], threads=threads)


def test_threads_round_trip_and_a_record_without_them_reads_as_unknown(tmp_path):
    path = tmp_path / "tune.jsonl"
    log = TuningLog(path)
    log.append(rec(4, 1e-3, 2))
    old = {k: v for k, v in rec(8, 2e-3, None).items() if k != "threads"}
    with open(path, "a") as f:  # as a writer before the field existed wrote it
        f.write(json.dumps(old) + "\n")
    records = TuningLog(path).records()
    assert [r.get("threads") for r in records] == [2, None]
    assert TuningLog(path).best(TARGET, WL, threads=1) == {"tile": 4}  # 2 threads: nearest


@pytest.mark.parametrize("bad", [0, -1, "2", 1.5, True])
def test_a_bad_thread_count_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="threads"):
        TuningLog(tmp_path / "tune.jsonl").append(dict(rec(4, 1e-3, 1), threads=bad))


def test_preferred_threads():
    assert preferred_threads({1, 2, None}, 1) == 1
    assert preferred_threads({1, 4}, 2) == 1           # nearest
    assert preferred_threads({1, 3}, 2) == 3           # equally near: more threads
    assert preferred_threads({1, 2, None}, None) == 2  # unknown build: most threads
    assert preferred_threads({None}, 2) is None        # only unknown records
    assert preferred_threads(set(), 2) is None


def test_best_record_takes_the_best_at_the_preferred_thread_count(tmp_path):
    log = TuningLog(tmp_path / "tune.jsonl")
    # at 1 thread tile 4 wins; at 2 threads tile 8 wins, though slower than 4's 1-thread
    # time would suggest; unknown-thread records never win over known ones
    for tile, cost, threads in ((4, 1.0e-3, 1), (8, 1.5e-3, 1), (4, 0.9e-3, 2), (8, 0.6e-3, 2),
                                (16, 1e-6, None)):
        log.append(rec(tile, cost, threads))
    assert log.best(TARGET, WL, threads=1) == {"tile": 4}
    assert log.best(TARGET, WL, threads=2) == {"tile": 8}
    assert log.best(TARGET, WL, threads=8) == {"tile": 8}
    assert log.best(TARGET, WL) == {"tile": 8}
    assert log.best_record(TARGET, WL, threads=1)["threads"] == 1


def test_applied_log_prefers_the_builds_thread_count(tmp_path, monkeypatch):
    """The build's count: given explicitly, else $TC_NUM_THREADS, else most threads."""
    task = next(t for t in extract_tasks(mlp()) if t.family == "matmul")
    group = next(g for g in kernel_groups(from_onnx(mlp())) if is_tunable(g))
    log = TuningLog(tmp_path / "tune.jsonl")
    one, two = {"s0.matmul.mr": 4}, {"s0.matmul.mr": 2}
    log.append(make_record(task.target, task.key, one, [1e-5], threads=1))
    log.append(make_record(task.target, task.key, two, [2e-5], threads=2))

    monkeypatch.delenv("TC_NUM_THREADS", raising=False)
    assert AppliedLog(log, "llvm").config_for(group) == two
    assert AppliedLog(log, "llvm", threads=1).config_for(group) == one
    monkeypatch.setenv("TC_NUM_THREADS", "1")
    assert AppliedLog(log, "llvm").config_for(group) == one
    assert AppliedLog(log, "llvm", threads=2).config_for(group) == two
