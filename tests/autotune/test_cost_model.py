"""The XGBoost ranking cost model: it learns a known ranking, is deterministic for a
seed, ranks failures last, keeps workloads apart, round-trips through a file, warm
starts, and ranks real matmul schedules (timed in-process) better than chance."""
import time

import numpy as np
import pytest

from tc.autotune.cost_model import CostModel, pairwise_accuracy, relative_throughput
from tc.autotune.features import loop_features
from tests.autotune.test_features import K, M, N, matmul_func
from tests.targets.jit import JitKernel


def synthetic(n: int, seed: int, dims: int = 40):
    """Random features and a cost that depends on a few of them (one interaction)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 4, (n, dims)).astype(np.float32)
    cost = 1e-3 * np.exp(0.8 * x[:, 0] - 0.5 * x[:, 1] + 0.3 * x[:, 2] * x[:, 3])
    return x, cost


def test_pairwise_accuracy():
    costs = np.array([1.0, 2.0, 3.0, np.inf])
    assert pairwise_accuracy([4, 3, 2, 1], costs) == 1
    assert pairwise_accuracy([1, 2, 3, 4], costs) == 0
    assert pairwise_accuracy([0, 0, 0, 0], costs) == 0.5
    assert pairwise_accuracy([3, 4, 2, 1], costs) == pytest.approx(5 / 6)
    # pairs across groups do not count
    assert pairwise_accuracy([1, 0, 5, 4], [1.0, 2.0, 10.0, 20.0], groups=[0, 0, 1, 1]) == 1


def test_relative_throughput():
    out = relative_throughput([2.0, 1.0, np.inf, 8.0, 4.0], groups=["a", "a", "a", "b", "b"])
    np.testing.assert_allclose(out, [0.5, 1.0, 0.0, 0.5, 1.0])


def test_learns_a_synthetic_ranking_and_is_deterministic():
    x, cost = synthetic(600, seed=0)
    xt, ct = synthetic(400, seed=1)
    scores = CostModel(seed=3).fit(x, cost).predict(xt)
    assert pairwise_accuracy(scores, ct) > 0.9
    np.testing.assert_array_equal(scores, CostModel(seed=3).fit(x, cost).predict(xt))


def test_untrained_model_has_no_preference():
    x, _ = synthetic(5, seed=0)
    model = CostModel()
    assert not model.fitted
    np.testing.assert_array_equal(model.predict(x), np.zeros(5))


def test_failures_rank_last():
    x, cost = synthetic(400, seed=2)
    cost[x[:, 5] > 3.0] = np.inf  # a feature that predicts a failing candidate
    xt, _ = synthetic(200, seed=3)
    failed = xt[:, 5] > 3.0
    scores = CostModel(seed=0).fit(x, cost).predict(xt)
    assert np.median(scores[failed]) < np.percentile(scores[~failed], 10)


def test_groups_rank_within_each_workload():
    """Two workloads (told apart by one feature, as real ones are by their shapes) whose
    costs differ by 1000x and depend on different features: pooled with groups the model
    learns both orders."""
    def workload(n, seed, which):
        x, cost = synthetic(n, seed)
        x[:, -1] = which
        return x, (cost if which == 0 else np.exp(-0.7 * x[:, 6]))

    (xa, ca), (xb, cb) = workload(300, 4, 0), workload(300, 5, 1)
    model = CostModel(seed=0).fit(np.concatenate([xa, xb]), np.concatenate([ca, cb]),
                                  groups=["small"] * 300 + ["big"] * 300)
    for which, seed in ((0, 6), (1, 7)):
        x, cost = workload(200, seed, which)
        assert pairwise_accuracy(model.predict(x), cost) > 0.8


def test_save_load_and_warm_start(tmp_path):
    x, cost = synthetic(300, seed=8)
    xn, cn = synthetic(100, seed=9)
    model = CostModel(seed=1).fit(x, cost)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = CostModel.load(path)
    assert loaded.seed == 1
    np.testing.assert_array_equal(loaded.predict(xn), model.predict(xn))
    # update refits on the union of the rows ...
    union = CostModel(seed=1).fit(np.concatenate([x, xn]), np.concatenate([cost, cn]))
    np.testing.assert_array_equal(model.update(xn, cn).predict(x), union.predict(x))
    # ... while a loaded model (no rows) continues boosting its trees on the new ones
    before = loaded.predict(xn)
    loaded.update(xn, cn)
    assert not np.array_equal(loaded.predict(xn), before)
    assert pairwise_accuracy(loaded.predict(xn), cn) > 0.9


def test_rejects_mismatched_rows():
    x, cost = synthetic(10, seed=0)
    with pytest.raises(ValueError, match="10 feature rows but 9 costs"):
        CostModel().fit(x, cost[:9])
    with pytest.raises(ValueError, match="2-D"):
        CostModel().predict(x[0])


# --- real kernels ------------------------------------------------------------------

def _schedules() -> list[dict]:
    """Hand-written 64x256x256 matmul schedules: register tiles of 1..8 rows x 4..32
    columns, vectorized or not, a few run in parallel, and the k-innermost order."""
    out = [{"mf": mf, "jf": jf, "vectorize": v} for mf in (1, 2, 4, 8) for jf in (4, 8, 16, 32)
           for v in (True, False)]
    out += [{"mf": mf, "jf": jf, "parallel": "i"} for mf, jf in ((2, 8), (4, 16), (8, 8))]
    out += [{"mf": mf, "jf": jf, "k_inner": True} for mf, jf in ((1, 8), (4, 32))]
    return out


def _time(func, reps: int = 15) -> float:
    """Seconds of ``func`` on random inputs (checked against numpy once): the fastest of
    ``reps`` runs, since another process on the machine (CI runs two test workers) can
    only make a run slower, and a median of a few runs can take that slowdown in."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    c = np.zeros((M, N), np.float32)
    kernel = JitKernel(func)
    kernel([a, b, c])
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-3)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        kernel([a, b, c])
        times.append(time.perf_counter() - t0)
    return min(times)


def test_ranks_held_out_matmul_schedules_better_than_chance():
    funcs = [matmul_func(**s) for s in _schedules()]
    features = np.stack([loop_features(f) for f in funcs])
    costs = np.array([_time(f) for f in funcs])
    held_out = np.arange(len(funcs)) % 3 == 0
    model = CostModel(seed=0).fit(features[~held_out], costs[~held_out])
    accuracy = pairwise_accuracy(model.predict(features[held_out]), costs[held_out])
    assert accuracy > 0.65, accuracy
