"""The tuning cost model: XGBoost ranking candidates by their loop features.

As AutoTVM's, the model learns an order, not a time: ``rank:pairwise`` on the candidates
of one workload (a ranking group).  Each row's label is its throughput relative to the
group's best (``best cost / cost``, in (0, 1]); a failed candidate (infinite or NaN cost)
gets 0, so it is ranked below every success.  Rows of several workloads can be pooled
(``groups`` says which workload each row is): pairs are only formed within a group, so
the slow workloads do not teach that "big kernels are slow".

    model = CostModel(seed=0)
    model.fit(features, costs, groups)   # features: (n, FEATURE_LENGTH) from loop_features
    scores = model.predict(candidates)   # higher = predicted faster
    pairwise_accuracy(scores, measured_costs)

Warm start: ``fit`` on the records of other workloads, then ``update`` with the new
workload's measurements.  ``update`` refits on the union of every row this model was
trained on (a fresh, deterministic fit: the new rows weigh as much as the old);
a model read by ``load`` has no rows, so there ``update`` continues boosting the loaded
trees on the new rows (XGBoost's ``xgb_model`` continuation).
"""
from __future__ import annotations

import json

import numpy as np

#: booster parameters.  AutoTVM's XGBTuner uses rank:pairwise with depth 6 and eta 0.3;
#: on the few hundred rows of a tuning run shallower trees with more rounds ranked better
#: (held-out pairwise accuracy, 64x256x256 matmul schedules: 0.91 at depth 3 vs 0.90 at
#: 6; synthetic costs: 0.94 vs 0.89).  One thread: on a loaded 2-core machine OpenMP's
#: threads spin against the measurement processes (1000 rows at depth 4: 6.5 s at one
#: thread, 45 s at two).
DEFAULT_PARAMS = {
    "objective": "rank:pairwise",
    "max_depth": 3,
    "eta": 0.15,
    "gamma": 1e-4,
    "min_child_weight": 1,
    "subsample": 1.0,
    "lambda": 1.0,
    "tree_method": "hist",
    "max_bin": 64,  # features are log-scaled counts: 64 bins lose little, train 2x faster
    # random pairs over the whole group ("topk" pairs only the leaders with the rest)
    "lambdarank_pair_method": "mean",
    "lambdarank_num_pair_per_sample": 64,
    "nthread": 1,
    "verbosity": 0,
}
DEFAULT_ROUNDS = 200
#: boosting rounds that ``update`` adds to a loaded model
UPDATE_ROUNDS = 50


class CostModel:
    """An XGBoost ranker over loop-feature vectors; deterministic for a ``seed``."""

    def __init__(self, seed: int = 0, rounds: int = DEFAULT_ROUNDS, params: dict | None = None):
        self.seed = int(seed)
        self.rounds = int(rounds)
        self.params = {**DEFAULT_PARAMS, **(params or {}), "seed": self.seed}
        self._booster = None
        self._features: np.ndarray | None = None
        self._costs: np.ndarray | None = None
        self._groups: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self._booster is not None

    # --- training -------------------------------------------------------------------

    def fit(self, features, costs, groups=None) -> CostModel:
        """Train from scratch on ``features`` (n x FEATURE_LENGTH) and measured ``costs``
        (n seconds, lower is better; inf or NaN for a failed candidate).  ``groups``
        (n labels of any hashable kind, e.g. workload keys) puts rows in ranking groups;
        None: one group."""
        features, costs, groups = _rows(features, costs, groups)
        self._features, self._costs, self._groups = features, costs, groups
        self._booster = self._train(features, costs, groups, self.rounds)
        return self

    def update(self, features, costs, groups=None) -> CostModel:
        """Add measurements: refit on every row seen so far (see the module doc; a loaded
        model continues its trees on the new rows instead)."""
        features, costs, groups = _rows(features, costs, groups)
        if self._booster is not None and self._features is None:
            self._booster = self._train(features, costs, groups, UPDATE_ROUNDS, self._booster)
            return self
        if self._features is None:
            return self.fit(features, costs, groups)
        return self.fit(np.concatenate([self._features, features]),
                        np.concatenate([self._costs, costs]),
                        np.concatenate([self._groups, groups]))

    def _train(self, features, costs, groups, rounds: int, base=None):
        import xgboost as xgb

        order = np.argsort(groups, kind="stable")  # XGBoost wants each group contiguous
        dtrain = xgb.DMatrix(features[order], label=relative_throughput(costs, groups)[order],
                             qid=groups[order])
        return xgb.train(self.params, dtrain, num_boost_round=rounds, xgb_model=base)

    # --- use ------------------------------------------------------------------------

    def predict(self, features) -> np.ndarray:
        """Scores of ``features`` rows (higher = predicted faster); only their order
        means something.  All zeros before any training (no preference)."""
        features = _matrix(features)
        if self._booster is None:
            return np.zeros(len(features), dtype=np.float32)
        import xgboost as xgb

        return self._booster.predict(xgb.DMatrix(features))

    @property
    def num_features(self) -> int | None:
        """The feature count the model was trained on (None: not trained)."""
        return None if self._booster is None else int(self._booster.num_features())

    # --- persistence ----------------------------------------------------------------

    def save(self, path: str) -> None:
        """Write the trees and parameters as XGBoost's JSON (the rows are not kept)."""
        if self._booster is None:
            raise ValueError("save: the cost model is not trained yet")
        self._booster.set_attr(tc_cost_model=json.dumps(
            {"seed": self.seed, "rounds": self.rounds, "params": self.params}))
        self._booster.save_model(str(path))

    @classmethod
    def load(cls, path: str) -> CostModel:
        """A model read from ``save``'s file: it predicts as the saved one did."""
        import xgboost as xgb

        booster = xgb.Booster(model_file=str(path))
        meta = json.loads(booster.attr("tc_cost_model") or "{}")
        model = cls(seed=meta.get("seed", 0), rounds=meta.get("rounds", DEFAULT_ROUNDS),
                    params=meta.get("params"))
        model._booster = booster
        return model


def relative_throughput(costs, groups=None) -> np.ndarray:
    """Per row, its group's best cost over its own (1 for the fastest); 0 for a failed
    (infinite or NaN) cost, or for every row of a group without a success."""
    costs = np.asarray(costs, dtype=np.float64)
    groups = np.zeros(len(costs), dtype=np.int64) if groups is None else np.asarray(groups)
    ok = np.isfinite(costs) & (costs > 0)
    out = np.zeros(len(costs), dtype=np.float32)
    for g in np.unique(groups):
        rows = (groups == g) & ok
        if rows.any():
            out[rows] = costs[rows].min() / costs[rows]
    return out


def pairwise_accuracy(scores, costs, groups=None) -> float:
    """The fraction of pairs with different costs (within one group, when ``groups``
    is given) that ``scores`` order correctly: the faster one scored higher.  Tied
    scores count half (so a constant predictor scores 0.5); a failed (inf/NaN) cost is
    slower than any finite one.  NaN when there is no such pair."""
    scores = np.asarray(scores, dtype=np.float64)
    costs = np.where(np.isfinite(np.asarray(costs, dtype=np.float64)), costs, np.inf)
    groups = np.zeros(len(costs), dtype=np.int64) if groups is None else np.asarray(groups)
    right = total = 0.0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        s, c = scores[idx], costs[idx]
        for lo in range(0, len(idx), 1024):  # rows in chunks: memory stays O(1024 n)
            faster = c[lo:lo + 1024, None] < c[None, :]
            ds = s[lo:lo + 1024, None] - s[None, :]
            total += faster.sum()
            right += (faster & (ds > 0)).sum() + 0.5 * (faster & (ds == 0)).sum()
    return float(right / total) if total else float("nan")


def _matrix(features) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D array (rows x features), got shape "
                         f"{features.shape}")
    return features


def _rows(features, costs, groups):
    """Validated (features, costs, group ids) arrays of one length."""
    features = _matrix(features)
    costs = np.asarray(costs, dtype=np.float64).reshape(-1)
    if len(costs) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(costs)} costs")
    if groups is None:
        ids = np.zeros(len(costs), dtype=np.int64)
    else:
        groups = list(groups)
        if len(groups) != len(costs):
            raise ValueError(f"{len(costs)} costs but {len(groups)} group labels")
        ids = np.array([_group_id(g) for g in groups], dtype=np.int64)
    return features, costs, ids


def _group_id(label) -> int:
    """A stable integer for a group label (the same across processes, unlike hash())."""
    if isinstance(label, (int, np.integer)):
        return int(label)
    import zlib

    return zlib.crc32(str(label).encode()) & 0x7FFFFFFF
