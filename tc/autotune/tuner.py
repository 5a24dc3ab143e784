"""Tuning a model: one trial budget shared by its tasks, model-guided search, a log.

    summary = tune("model.onnx", target="llvm", trials=300, log_path="tune.jsonl")

Each round picks the task with the most to gain (``priority``: the seconds the model
spends in it, ``weight x best cost so far``, discounted by the rounds that did not
improve it), proposes a batch of unmeasured configs, measures them in child processes
(``measure.measure``, or the ``measure`` given to ``Tuner``), appends every result to
the log at once, and refits the cost model on everything measured so far.  Proposals
are random until the model has seen ``MIN_TRAINING_ROWS`` measurements, then simulated
annealing on the model's scores of each candidate's loop-IR features, with an
``epsilon`` share drawn at random.  A config the template rejects (``InvalidConfig``) is
never proposed: each candidate is lowered (and its features cached by config key, as
the model needs them anyway) before it enters a batch, so no trial is spent on one.

Each candidate is timed in turn with the task's default config in its child process
(``measure(paired=True)``), and its cost is taken as its ratio to the default times the
default's cost first measured (the task's ``unit``): the ratio is what carries from one
child process to the next on a busy machine, the raw cost much less.

Given an existing log, ``tune`` resumes: its records count as measured (never measured
again), give each task its best so far, and train the model before the first round.

After the search, ``verify`` measures each improved task's best few configs and its
default again, ``VERIFY_ROUNDS`` times in turn, as "verify" records: the log's best is
then chosen on those alone (a config that was lucky once does not displace the default).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..compiler.schedule.knobs import InvalidConfig
from ..targets.target import Target
from .cost_model import CostModel
from .features import FEATURE_LENGTH, loop_features
from .log import (TuningLog, config_key, make_record, pooled_records, ranked_records,
                  relative_cost)
from .measure import DeviceUnavailable, MeasureError
from .measure import measure as measure_batch
from .search import Proposer
from .tasks import Task, extract_tasks

#: measurements before the cost model guides the search (random proposals until then)
MIN_TRAINING_ROWS = 32
#: a round that does not improve a task's best divides its priority by this
STALL_DISCOUNT = 2.0
#: ``verify``: the configs of a task measured again besides its default, and how often
VERIFY_TOP, VERIFY_ROUNDS = 3, 3


@dataclass
class TaskState:
    """What the tuner knows about one task."""

    task: Task
    proposer: Proposer
    default_key: str = ""  # config_key of the default config (the template's defaults)
    measured: set[str] = field(default_factory=set)
    best_cost: float = math.inf
    best_config: dict | None = None
    default_cost: float = math.inf
    unit: float | None = None  # seconds: the default's cost that turns ratios into costs
    trials: int = 0
    stalls: int = 0
    exhausted: bool = False
    features: dict[str, np.ndarray | None] = field(default_factory=dict)  # config key -> row

    @property
    def priority(self) -> float:
        """Seconds per model run spent in this task, discounted by unproductive rounds."""
        if self.exhausted:
            return -1.0
        cost = self.best_cost if math.isfinite(self.best_cost) else 1.0
        return self.task.weight * cost / STALL_DISCOUNT ** self.stalls

    def cost(self, costs, baseline_costs=None, error: str | None = None) -> float:
        """A measurement's cost in seconds: infinity when it failed; the median of
        ``costs`` over the median of ``baseline_costs`` (the default's, timed in turn
        with them) times ``unit`` when paired (the first paired measurement sets
        ``unit``); else the median of ``costs``."""
        if error is not None or not costs:
            return math.inf
        if not baseline_costs:
            return _median(costs)
        if self.unit is None:
            self.unit = _median(baseline_costs)
        return relative_cost(costs, baseline_costs) * self.unit

    def gflops(self, cost: float) -> float:
        return self.task.flops / cost / 1e9 if math.isfinite(cost) and cost > 0 else 0.0


@dataclass
class TuningSummary:
    """Per task: (label, trials, default seconds, best seconds); and the totals."""

    tasks: list[tuple[str, int, float, float]]
    trials: int
    errors: int
    seconds: float


def default_build_workers(tasks: list[Task], batch_size: int) -> int:
    """Build processes for a batch (see ``Tuner``): 1 for CPU targets, else one per CPU
    core up to ``batch_size``."""
    if all(Target.parse(t.target).kind == "llvm" for t in tasks):
        return 1
    return max(1, min(batch_size, os.cpu_count() or 1))


class Tuner:
    """Tunes ``tasks`` into ``log`` (see the module docstring).

    ``measure``: measures a batch, with ``measure.measure``'s signature and results
    (``measure(candidates, reference, target=, repeat=, timeout=, workers=)`` -> one
    ``MeasureResult`` per (config, PrimFunc) candidate, in order); the default is
    ``measure.measure`` itself.  A replacement lets a benchmark replay measured tables
    or a test stand in for the child processes.

    ``build_workers``: processes building a batch's candidates in parallel (None: one for
    CPU targets, whose LLVM builds take a fraction of a second; for a GPU target one per
    CPU core up to the batch size, as nvcc takes seconds per candidate)."""

    def __init__(self, tasks: list[Task], log: TuningLog, *, batch_size: int = 16,
                 epsilon: float = 0.1, seed: int = 0, repeat: int = 5, timeout: float = 10.0,
                 progress=None, warm_start: CostModel | None = None, measure=None,
                 build_workers: int | None = None):
        self.log = log
        self.batch_size, self.epsilon = batch_size, epsilon
        self.repeat, self.timeout = repeat, timeout
        self.build_workers = (build_workers if build_workers is not None
                              else default_build_workers(tasks, batch_size))
        self.measure = measure if measure is not None else measure_batch
        self.progress = progress or Progress()
        # a model trained on other workloads (features transfer) guides the first rounds;
        # once this run has MIN_TRAINING_ROWS of its own, it is refit on them
        self.model = warm_start if warm_start is not None else CostModel(seed=seed)
        self.states = []
        for i, t in enumerate(tasks):
            proposer = Proposer(t.space(), seed=seed + i)
            self.states.append(TaskState(t, proposer, config_key(proposer.default())))
        self.rows: list[tuple[np.ndarray, float, str]] = []  # features, cost, task key
        self.errors = 0
        self._resume()

    # --- the log -------------------------------------------------------------------------

    def _resume(self) -> None:
        by_key = {st.task.key: st for st in self.states}
        for record in self.log.records():
            st = by_key.get(record["workload"])
            if st is None or record["target"] != st.task.target:
                continue
            if record.get("phase") == "verify":  # a repeat, not a trial
                continue
            key = config_key(record["config"])
            st.measured.add(key)
            st.trials += 1
            cost = st.cost(record["costs"], record.get("baseline_costs"), record["error"])
            if key == st.default_key and record["error"] is None:
                st.default_cost = cost
            self._learn(st, record["config"], cost)
        for st in self.states:
            self._take_best(st)
        if len(self.rows) >= MIN_TRAINING_ROWS:
            self._refit()

    def _take_best(self, st: TaskState) -> None:
        """The log's best config of the task becomes its best (``TuningLog.best_record``)."""
        best = self.log.best_record(st.task.target, st.task.key)
        if best is not None:
            st.best_cost = st.cost(best["costs"], best.get("baseline_costs"))
            st.best_config = best["config"]

    def _learn(self, st: TaskState, config: dict, cost: float) -> None:
        row = self._features(st, config)
        if row is not None:
            self.rows.append((row, cost, st.task.key))

    # --- one round -----------------------------------------------------------------------

    def tune(self, trials: int) -> TuningSummary:
        """Measure up to ``trials`` more configs over all tasks; returns the summary."""
        start, spent = time.perf_counter(), 0
        self.progress.start(self, trials)
        for st in self.states:  # the default of each task first: its baseline
            if spent >= trials:
                break
            if st.default_key not in st.measured:
                spent += self._round(st, [st.proposer.default()])
        while spent < trials:
            st = max(self.states, key=lambda s: s.priority)
            if st.exhausted:
                break
            batch = self._propose(st, min(self.batch_size, trials - spent))
            if not batch:
                st.exhausted = True
                continue
            spent += self._round(st, batch)
            self.progress.update(self, st, spent, trials, time.perf_counter() - start)
        self.progress.finish(self)
        return TuningSummary([(st.task.label, st.trials, st.default_cost, st.best_cost)
                              for st in self.states], spent, self.errors,
                             time.perf_counter() - start)

    def verify(self, top: int = VERIFY_TOP, rounds: int = VERIFY_ROUNDS) -> None:
        """Measure again, in ``rounds`` rounds, the default and the ``top`` best search
        configs of every task whose best is not its default, each round in a new order
        (so that a slow spell of the machine does not fall on one config), and log them
        as "verify" records; each task's best becomes the verified one."""
        rng = np.random.default_rng(len(self.states))
        for st in self.states:
            if st.exhausted and st.best_config is None:
                continue
            ranked = self._ranked_configs(st)
            if len(ranked) < 2 or config_key(ranked[0]) == st.default_key:
                continue
            default = st.proposer.default()
            configs = [default] + [c for c in ranked if config_key(c) != st.default_key][:top]
            for _ in range(rounds):
                order = [configs[i] for i in rng.permutation(len(configs))]
                results = self.measure([st.task.candidate(c) for c in order], st.task.lower(),
                                       target=st.task.target, repeat=self.repeat,
                                       timeout=self.timeout, workers=self.build_workers)
                for r in results:
                    self.log.append(make_record(st.task.target, st.task.key, r.config, r.costs,
                                                r.error, threads=r.threads, phase="verify",
                                                baseline_costs=r.baseline_costs))
            self._take_best(st)
            # the default's time as verified, so that the summary compares like with like
            verified = pooled_records(self._task_records(st, "verify"))
            if st.default_key in verified:
                default = verified[st.default_key]
                st.default_cost = st.cost(default["costs"], default.get("baseline_costs"))
            self.progress.note(f"verified {st.task.label}: best {st.best_cost * 1e3:.3f} ms"
                               + (" (the default)" if config_key(st.best_config or {})
                                  == st.default_key else ""))

    def _ranked_configs(self, st: TaskState) -> list[dict]:
        """The task's error-free search configs, fastest first (``ranked_records``)."""
        return [r["config"] for r in ranked_records(self._task_records(st, "search"))]

    def _task_records(self, st: TaskState, phase: str) -> list[dict]:
        """The log's error-free records of ``st``'s task from ``phase``."""
        return [r for r in self.log.records()
                if r["workload"] == st.task.key and r["target"] == st.task.target
                and r["error"] is None and r.get("phase", "search") == phase]

    def _propose(self, st: TaskState, size: int) -> list[dict]:
        """Up to ``size`` unmeasured configs that the template accepts."""
        def valid(config: dict) -> bool:
            return self._features(st, config) is not None

        if not self.model.fitted:
            return st.proposer.random_batch(size, st.measured, valid)
        starts = [st.best_config] if st.best_config else []
        return st.proposer.annealed_batch(size, st.measured, lambda cs: self._scores(st, cs),
                                          starts=starts, epsilon=self.epsilon, valid=valid)

    def _scores(self, st: TaskState, configs: list[dict]) -> list[float]:
        rows = [self._features(st, c) for c in configs]
        valid = [i for i, r in enumerate(rows) if r is not None]
        scores = [-math.inf] * len(configs)
        if valid:
            predicted = self.model.predict(np.stack([rows[i] for i in valid]))
            for i, score in zip(valid, predicted):
                scores[i] = float(score)
        return scores

    def _features(self, st: TaskState, config: dict) -> np.ndarray | None:
        """The loop features of ``config``'s kernel (None: the template rejects it),
        cached by config key: also the tuner's test of a candidate's validity (a
        rejected config fails while scheduling, before any lowering; a valid one's
        features are needed once it is measured anyway)."""
        key = config_key(config)
        if key not in st.features:
            try:
                st.features[key] = loop_features(st.task.lower(config))
            except InvalidConfig:
                st.features[key] = None
        return st.features[key]

    def _round(self, st: TaskState, batch: list[dict]) -> int:
        """Measure ``batch`` (rejected configs become error records without running) and
        log every result; returns the number of trials it took."""
        candidates, rejected = [], []
        for config in batch:
            try:
                candidates.append(st.task.candidate(config))
            except InvalidConfig as e:
                rejected.append((config, f"invalid config: {e}"))
        results = []
        if candidates:
            try:
                results = self.measure(candidates, st.task.lower(), target=st.task.target,
                                       repeat=self.repeat, timeout=self.timeout,
                                       workers=self.build_workers)
            except DeviceUnavailable:  # no task of this target can be measured here
                raise
            except MeasureError as e:  # the default kernel itself fails: skip the task
                st.exhausted = True
                self.progress.note(f"skipping {st.task.label}: {e}")
                return 0
        improved = False
        for config, error, costs, baseline, threads in (
                [(r.config, r.error, r.costs, r.baseline_costs, r.threads) for r in results]
                + [(c, e, [], [], None) for c, e in rejected]):
            self.log.append(make_record(st.task.target, st.task.key, config, costs, error,
                                        threads=threads, baseline_costs=baseline))
            st.measured.add(config_key(config))
            st.trials += 1
            cost = st.cost(costs, baseline, error)
            self.errors += error is not None
            if config_key(config) == st.default_key and error is None:
                st.default_cost = cost
            if cost < st.best_cost:
                st.best_cost, st.best_config, improved = cost, config, True
            self._learn(st, config, cost)
        st.stalls = 0 if improved else st.stalls + 1
        if len(self.rows) >= MIN_TRAINING_ROWS:
            self._refit()
        return len(batch)

    def _refit(self) -> None:
        features = np.stack([r for r, _, _ in self.rows])
        costs = np.array([c for _, c, _ in self.rows])
        groups = np.array([k for _, _, k in self.rows])
        self.model.fit(features, costs, groups)


def _median(costs) -> float:
    return float(np.median(costs)) if costs else math.inf


class Progress:
    """Prints the tuning progress: one line per round, or one updating line on a
    terminal (``stream`` defaults to stderr)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()

    def start(self, tuner: Tuner, trials: int) -> None:
        print(f"tuning {len(tuner.states)} tasks, {trials} trials "
              f"(log {tuner.log.path})", file=self.stream)

    def update(self, tuner: Tuner, st: TaskState, spent: int, trials: int,
               seconds: float) -> None:
        left = seconds / max(spent, 1) * (trials - spent)
        index = tuner.states.index(st) + 1
        line = (f"[{spent}/{trials}] task {index}/{len(tuner.states)} {st.task.label[:48]}: "
                f"{st.trials} trials, best {st.gflops(st.best_cost):.1f} GFLOP/s "
                f"(default {st.gflops(st.default_cost):.1f}), {left / 60:.1f} min left")
        if self.live:
            print("\r\033[K" + line, end="", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(("\n" if self.live else "") + text, file=self.stream, flush=True)

    def finish(self, tuner: Tuner) -> None:
        if self.live:
            print(file=self.stream)


def tune(model, target: str = "llvm", *, trials: int = 300, log_path: str = "tune.jsonl",
         input_shapes=None, example_inputs=None, save_model: str | None = None,
         warm_start: str | None = None, verify_top: int = VERIFY_TOP,
         **options) -> TuningSummary:
    """Tune ``model``'s tasks for ``target`` with ``trials`` measurements in all,
    appending to (and resuming from) the log at ``log_path``; ``options`` go to
    ``Tuner`` (batch_size, epsilon, seed, repeat, timeout, progress).  ``warm_start``:
    a cost model saved by an earlier run (``save_model``), e.g. on another model, that
    guides the search from the first round.  ``verify_top``: configs per task measured
    again against the default after the search (``Tuner.verify``; 0: none); those
    repeats are not trials."""
    tasks = extract_tasks(model, target, input_shapes=input_shapes,
                          example_inputs=example_inputs)
    warm = CostModel.load(warm_start) if warm_start else None
    if warm is not None and warm.num_features != FEATURE_LENGTH:
        raise ValueError(f"the cost model {warm_start} was trained on {warm.num_features} loop "
                         f"features, this tc computes {FEATURE_LENGTH} (saved by another tc "
                         "version?): tune without --warm-start, or save a new model")
    tuner = Tuner(tasks, TuningLog(log_path), warm_start=warm, **options)
    summary = tuner.tune(trials)
    if verify_top > 0:
        tuner.verify(top=verify_top)
        summary.tasks = [(st.task.label, st.trials, st.default_cost, st.best_cost)
                         for st in tuner.states]
    if save_model and tuner.model.fitted:
        tuner.model.save(save_model)
    return summary
