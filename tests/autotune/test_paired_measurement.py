"""Paired measurement: each candidate is timed in turn with the default config in its
child process, and configs are ranked by their ratio to it, so that a child process
that runs everything slower (or faster) does not decide which config wins."""
import io
import math
import statistics

import numpy as np

from tc.autotune import TuningLog, config_key
from tc.autotune.log import make_record, ranked_records
from tc.autotune.measure import MeasureResult, measure
from tc.autotune.tuner import Progress, Tuner
from tests.autotune.test_measure import _ikj_vectorized, _matmul_func, _naive
from tests.autotune.test_tuner_proposals import FakeMeasure, gemm_task  # noqa: F401 (fixture)


def test_a_paired_candidate_carries_the_defaults_costs_from_its_child():
    reference = _matmul_func()
    paired, unpaired = measure([({"s": "naive"}, _matmul_func(_naive))], reference, repeat=4)[0], \
        measure([({"s": "ikj"}, _matmul_func(_ikj_vectorized))], reference, repeat=3,
                paired=False)[0]
    assert paired.error is None and unpaired.error is None
    assert len(paired.baseline_costs) == 4 and all(0 < c < 1 for c in paired.baseline_costs)
    assert math.isclose(paired.relative, statistics.median(paired.costs)
                        / statistics.median(paired.baseline_costs))
    assert unpaired.baseline_costs == [] and unpaired.relative is None


class NoisyChildren(FakeMeasure):
    """Each candidate's child process runs everything ``factor`` times slower, the
    factor drawn at random between 0.5 and 2 (as measured between children on a busy
    machine); the default's costs, timed in the same child, share the factor."""

    def __init__(self, default_key: str, seed: int = 0):
        super().__init__()
        self.default_key = default_key
        self.rng = np.random.default_rng(seed)

    def __call__(self, candidates, reference, *, target, repeat, timeout, workers):
        results = []
        for config, _ in candidates:
            key = config_key(config)
            self.asked.append(key)
            factor = float(np.exp(self.rng.uniform(np.log(0.5), np.log(2.0))))
            results.append(MeasureResult(
                config, costs=[self.cost(key) * factor] * repeat, threads=2,
                baseline_costs=[self.cost(self.default_key) * factor] * repeat))
        return results


def test_the_tuner_ranks_by_the_ratio_to_the_default_not_the_raw_cost(tmp_path, gemm_task):  # noqa: F811
    log = TuningLog(str(tmp_path / "t.jsonl"))
    probe = Tuner([gemm_task], log, progress=Progress(io.StringIO()))
    fake = NoisyChildren(probe.states[0].default_key, seed=1)
    tuner = Tuner([gemm_task], log, batch_size=8, measure=fake, progress=Progress(io.StringIO()))
    tuner.tune(24)
    truth = {k: fake.cost(k) for k in set(fake.asked)}
    best_key = min(truth, key=truth.get)
    st = tuner.states[0]
    assert config_key(st.best_config) == best_key
    assert config_key(log.best(gemm_task.target, gemm_task.key)) == best_key
    # the raw costs alone would have picked another config (the noise is large enough)
    raw = min(log.records(), key=lambda r: statistics.median(r["costs"]))
    assert config_key(raw["config"]) != best_key
    # costs are ratios times the default's first measured cost (the task's unit)
    default_cost = truth[st.default_key]
    assert math.isclose(st.best_cost / st.default_cost, truth[best_key] / default_cost)
    # a resumed tuner reads the same
    resumed = Tuner([gemm_task], log, measure=fake, progress=Progress(io.StringIO()))
    assert config_key(resumed.states[0].best_config) == best_key
    assert math.isclose(resumed.states[0].best_cost, st.best_cost)


def test_ranked_records_fall_back_to_medians_when_any_record_is_unpaired():
    fast_raw = make_record("llvm", "w", {"a": 1}, [1.0], baseline_costs=[0.5])  # ratio 2
    slow_raw = make_record("llvm", "w", {"a": 2}, [3.0], baseline_costs=[3.0])  # ratio 1
    assert [r["config"] for r in ranked_records([fast_raw, slow_raw])] == [{"a": 2}, {"a": 1}]
    old = make_record("llvm", "w", {"a": 3}, [2.0])
    assert [r["config"] for r in ranked_records([fast_raw, slow_raw, old])] == [
        {"a": 1}, {"a": 3}, {"a": 2}]


def test_baseline_costs_are_pooled_and_validated(tmp_path):
    log = TuningLog(str(tmp_path / "t.jsonl"))
    for costs, base in (([1.0], [2.0]), ([1.2], [1.0]), ([1.1], [1.0])):
        log.append(make_record("llvm", "w", {"a": 1}, costs, baseline_costs=base, phase="verify"))
    log.append(make_record("llvm", "w", {"a": 2}, [1.0], baseline_costs=[1.05], phase="verify"))
    best = TuningLog(log.path).best_record("llvm", "w")
    assert best["config"] == {"a": 2}  # {"a": 1}: median 1.1 over median 1.0
    pooled = ranked_records(TuningLog(log.path).records())[1]
    assert pooled["costs"] == [1.0, 1.2, 1.1] and pooled["baseline_costs"] == [2.0, 1.0, 1.0]
    bad = make_record("llvm", "w", {"a": 3}, [1.0], baseline_costs=[1.0])
    bad["baseline_costs"] = [0.0]
    try:
        log.append(bad)
    except ValueError as e:
        assert "baseline_costs" in str(e)
    else:
        raise AssertionError("a zero baseline cost was accepted")
