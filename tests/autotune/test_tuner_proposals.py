"""What the tuner measures, seen through a fake ``measure``: every result it returns is
logged as returned, no config is asked for twice, and no config the template rejects is
ever asked for (none spends a trial)."""
import hashlib
import io
import itertools

import pytest

from tc.autotune import TuningLog, config_key, extract_tasks
from tc.autotune.measure import MeasureResult
from tc.autotune.tuner import MIN_TRAINING_ROWS, Progress, Tuner
from tc.compiler.schedule.knobs import InvalidConfig
from tests.autotune.test_tuner import mlp


class FakeMeasure:
    """Stands in for ``measure.measure``: a made-up cost per config (stable, distinct),
    every fourth config failing; remembers each config it was asked for."""

    def __init__(self):
        self.asked: list[str] = []

    @staticmethod
    def cost(key: str) -> float:
        return 1e-4 * (1 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32)

    def __call__(self, candidates, reference, *, target, repeat, timeout, workers):
        results = []
        for config, func in candidates:
            key = config_key(config)
            self.asked.append(key)
            if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 4 == 0:
                results.append(MeasureResult(config, error="crash: signal 11 (SIGSEGV)"))
            else:
                results.append(MeasureResult(config, costs=[self.cost(key)] * repeat,
                                             threads=3))
        return results


@pytest.fixture(scope="module")
def gemm_task():
    """The Gemm+Relu task of the mlp: 144 configs, of which the template rejects those
    whose register tile needs more than the vector registers."""
    return next(t for t in extract_tasks(mlp()) if t.family == "matmul")


def valid_keys(task) -> set[str]:
    space = task.space()
    keys = set()
    for values in itertools.product(*(knob.choices for knob in space.values())):
        config = dict(zip(space, values))
        try:
            task.lower(config)
        except InvalidConfig:
            continue
        keys.add(config_key(config))
    return keys


def test_a_fake_measure_is_logged_as_returned_never_twice_and_never_invalid(tmp_path,
                                                                             gemm_task):
    valid = valid_keys(gemm_task)
    space = len(list(itertools.product(*(k.choices for k in gemm_task.space().values()))))
    assert MIN_TRAINING_ROWS < len(valid) < space  # model-guided rounds; some rejected
    fake = FakeMeasure()
    log = TuningLog(tmp_path / "tune.jsonl")
    tuner = Tuner([gemm_task], log, batch_size=16, seed=1, measure=fake,
                  progress=Progress(io.StringIO()))
    summary = tuner.tune(space)  # more trials than valid configs: the space runs out

    assert tuner.model.fitted  # the later rounds were proposed by annealing
    assert len(fake.asked) == len(set(fake.asked)) == summary.trials == len(valid)
    assert set(fake.asked) == valid  # every valid config, and no rejected one
    records = log.records()
    assert [config_key(r["config"]) for r in records] == fake.asked
    for r in records:
        key = config_key(r["config"])
        if r["error"] is None:
            assert r["costs"] == [FakeMeasure.cost(key)] * 5 and r["threads"] == 3
        else:
            assert r["error"].startswith("crash") and r["costs"] == [] and r["threads"] is None
    best = min((r for r in records if r["error"] is None),
               key=lambda r: FakeMeasure.cost(config_key(r["config"])))
    assert summary.tasks[0][3] == FakeMeasure.cost(config_key(best["config"]))


def test_resuming_with_a_fake_measure_asks_for_nothing_logged(tmp_path, gemm_task):
    path = tmp_path / "tune.jsonl"
    first, second = FakeMeasure(), FakeMeasure()
    for fake, trials in ((first, 40), (second, 40)):
        Tuner([gemm_task], TuningLog(path), batch_size=16, seed=2, measure=fake,
              progress=Progress(io.StringIO())).tune(trials)
    assert len(first.asked) == len(second.asked) == 40
    assert not set(first.asked) & set(second.asked)
    assert set(first.asked + second.asked) <= valid_keys(gemm_task)
