"""The verification after the search: the best search configs and the default are
measured again in turns, logged as "verify" records, and the log's best is the verified
one, so a config that was lucky once does not displace a faster default."""
import io

from tc.autotune import TuningLog, config_key
from tc.autotune.log import make_record
from tc.autotune.measure import MeasureResult
from tc.autotune.tuner import Progress, Tuner
from tests.autotune.test_tuner_proposals import gemm_task  # noqa: F401 (fixture)


class LuckyOnce:
    """Costs: the default 1.0 ms always; every other config 1.2 ms, except that the
    first time ``lucky`` is measured it reads 0.5 ms (a quiet moment)."""

    def __init__(self, default_key: str, lucky_key: str):
        self.default_key, self.lucky_key = default_key, lucky_key
        self.calls: list[str] = []

    def __call__(self, candidates, reference, *, target, repeat, timeout, workers):
        out = []
        for config, _ in candidates:
            key = config_key(config)
            first = key not in self.calls
            self.calls.append(key)
            cost = 1e-3 if key == self.default_key else (
                0.5e-3 if key == self.lucky_key and first else 1.2e-3)
            out.append(MeasureResult(config, costs=[cost] * repeat, threads=2))
        return out


def test_verification_keeps_the_default_when_the_search_winner_was_luck(tmp_path, gemm_task):  # noqa: F811
    log = TuningLog(str(tmp_path / "t.jsonl"))
    probe = Tuner([gemm_task], log, progress=Progress(io.StringIO()))
    default_key = probe.states[0].default_key
    lucky = next(c for c in probe.states[0].proposer.random_batch(8, {default_key})
                 if config_key(c) != default_key)
    fake = LuckyOnce(default_key, config_key(lucky))
    tuner = Tuner([gemm_task], log, batch_size=8, seed=3, measure=fake,
                  progress=Progress(io.StringIO()))
    tuner.tune(12)
    lucky_in_search = config_key(lucky) in fake.calls
    if not lucky_in_search:  # make sure the lucky config was among the measured ones
        tuner._round(tuner.states[0], [lucky])
    assert log.best(gemm_task.target, gemm_task.key) == lucky  # the search alone is fooled
    searched = len(log.records())
    tuner.verify(top=2, rounds=3)
    verify = [r for r in log.records() if r.get("phase") == "verify"]
    assert len(log.records()) == searched + len(verify) and len(verify) == 3 * 3
    assert {config_key(r["config"]) for r in verify} >= {default_key, config_key(lucky)}
    assert log.best(gemm_task.target, gemm_task.key) == tuner.states[0].proposer.default()
    assert tuner.states[0].best_cost == 1e-3
    # verify records are repeats, not trials: a resumed tuner counts only the search
    resumed = Tuner([gemm_task], log, measure=fake, progress=Progress(io.StringIO()))
    assert resumed.states[0].trials == searched


def test_best_record_pools_verify_costs_per_config(tmp_path):
    log = TuningLog(str(tmp_path / "t.jsonl"))
    a, b = {"x": 1}, {"x": 2}
    log.append(make_record("llvm", "w", a, [0.5], threads=2))  # search: a looks best
    for costs_a, costs_b in (([1.0, 1.1], [0.9, 0.95]), ([0.7], [0.92])):
        log.append(make_record("llvm", "w", a, costs_a, threads=2, phase="verify"))
        log.append(make_record("llvm", "w", b, costs_b, threads=2, phase="verify"))
    best = log.best_record("llvm", "w")
    assert best["config"] == b and sorted(best["costs"]) == [0.9, 0.92, 0.95]


def test_summary_compares_verified_times(tmp_path, gemm_task):  # noqa: F811
    """After verification the default's time is its verified one too."""
    log = TuningLog(str(tmp_path / "t.jsonl"))
    probe = Tuner([gemm_task], log, progress=Progress(io.StringIO()))
    default_key = probe.states[0].default_key
    lucky = next(c for c in probe.states[0].proposer.random_batch(8, {default_key}))
    fake = LuckyOnce(default_key, config_key(lucky))
    tuner = Tuner([gemm_task], log, batch_size=8, seed=3, measure=fake,
                  progress=Progress(io.StringIO()))
    tuner.tune(4)
    tuner._round(tuner.states[0], [lucky])
    tuner.verify(top=1, rounds=2)
    st = tuner.states[0]
    assert st.default_cost == st.best_cost == 1e-3
