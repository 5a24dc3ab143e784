"""Does the cost model earn its place?  Model-guided search vs random search, and the
model's ranking accuracy on held-out configs, replayed offline on measured tables.

    python benchmarks/tuning_quality.py [--cache tuning_quality.cache.json]
        [--json tuning_quality.json] [--seeds 0,1,2] [--passes 2] [--threads 1]
        [--workloads conv3x3_256@14,bert_ffn1,...]
    python benchmarks/tuning_quality.py --vary matmul.kc [--workloads bert_ffn1,...]
        [--passes 5] [--threads 1]

1. The tables.  For each workload below (one tunable task of a model, found by its label
   among ``tc.autotune.extract_tasks``), EVERY config of its knob space is measured with
   ``tc.autotune.measure.measure`` in batches of 16 with ``--threads`` kernel threads
   (1 by default: on a shared 2-core machine a single-threaded kernel is disturbed
   least; the tuner itself measures at the runtime's default, 2 here), in ``--passes``
   passes in different orders; a config's cost is the lowest of its per-pass medians.
   Configs the template rejects (``InvalidConfig``) are recorded as such and never run.
   The tables are kept in the ``--cache`` JSON file, keyed by target, thread count and
   workload key, so a rerun measures only what is missing (a larger ``--passes`` adds a
   pass); the agreement of the passes (the pairwise accuracy of pass 2's order against
   pass 1's) is the noise ceiling of any ranking.

2. Search, replayed offline against the table (standard practice for comparing search
   strategies, as in AutoTVM's and Ansor's evaluations: "measuring" a config reads its
   cost from the table, so every strategy sees the same noise).  For each seed:
   (a) random search: a random permutation of the configs that measured successfully
       (rejected and failing configs left out, which only helps random search);
   (b) model-guided search: ``tc.autotune.tuner.Tuner`` itself, on the one task, given
       a table lookup as its ``measure``: the default config first, random batches
       until ``MIN_TRAINING_ROWS``, then ``Proposer.annealed_batch`` scored by the
       ``CostModel`` on ``loop_features`` (precomputed once per config), batches of 16,
       epsilon 0.1.  Every trial it spends counts (it proposes no rejected config).
   The figure is the number of trials until a config reaches a goal, 95% (the issue's)
   or 99% of the best speed among the configs searched (cost <= best / goal), averaged
   over the seeds; "rand E" is random search's exact mean over all permutations,
   (N + 1) / (k + 1) for k configs within the goal among N.  Three modes:
   - tuner: as the Tuner runs, the default config measured first;
   - cold: the default config left out of both searches (the Tuner is told it is
     measured already), so that the default's own quality does not count;
   - warm: cold, and the Tuner's cost model already holds the whole table of a sibling
     workload (``SIBLINGS``: the same template on other shapes), as when a multi-task
     run reaches this task after tuning another.

3. Held-out ranking accuracy (``cost_model.pairwise_accuracy``):
   - within a workload: fit on a random half of its table, predict the other half;
   - transfer, >= 200 held-out configs of one workload: fit on the whole table of
     ``TRANSFER_SOURCE`` plus the part of ``TRANSFER_TARGET``'s table not held out
     (ranking groups by workload), predict ``HELD_OUT`` random configs of
     ``TRANSFER_TARGET``.

4. ``--vary KNOB`` (instead of 1-3: no table, no cache): is one knob worth searching?
   For each workload, the default config with each choice of the knob whose name ends
   in KNOB (the other knobs at their defaults), measured in ``--passes`` passes, each
   pass all choices in one shuffled batch (so that the choices are timed interleaved,
   seconds apart, and a slow spell of the shared machine hits them alike); a choice's
   cost is the lowest of its per-pass medians, compared with the knob's default.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from models import load_model  # noqa: E402

from tc.autotune import TuningLog, config_key, extract_tasks  # noqa: E402
from tc.autotune import tuner as tuner_module  # noqa: E402
from tc.autotune.cost_model import CostModel, pairwise_accuracy  # noqa: E402
from tc.autotune.features import loop_features  # noqa: E402
from tc.autotune.measure import MeasureResult, measure  # noqa: E402
from tc.compiler.schedule.knobs import InvalidConfig  # noqa: E402

#: name -> (model, the task's label); each space has over 100 configs
WORKLOADS = {
    "conv3x3_256@14": ("resnet50", "PackedConv+Relu k3x3 s1x1 1x256x14x14 -> 1x256x14x14"),
    "bert_ffn1": ("bert_layer", "PackedMatMul+Add+Gelu 1x128x768 -> 1x128x3072"),
    "bert_qkv": ("bert_layer", "PackedMatMul+Add 1x128x768 -> 1x128x768"),
    "conv3x3_64@56": ("resnet50", "PackedConv+Relu k3x3 s1x1 1x64x56x56 -> 1x64x56x56"),
    "bert_ffn2": ("bert_layer", "PackedMatMul+Add+Add 1x128x3072 -> 1x128x768"),
}
#: the workloads measured by default (bert_ffn2 on demand: the longest K, for --vary)
DEFAULT_WORKLOADS = ("conv3x3_256@14", "bert_ffn1", "bert_qkv", "conv3x3_64@56")
#: the "warm" search mode's other workload (same schedule template, other shapes)
SIBLINGS = {"conv3x3_256@14": "conv3x3_64@56", "conv3x3_64@56": "conv3x3_256@14",
            "bert_ffn1": "bert_qkv", "bert_qkv": "bert_ffn1"}
TRANSFER_SOURCE, TRANSFER_TARGET, HELD_OUT = "conv3x3_256@14", "conv3x3_64@56", 200
BATCH = 16
#: fractions of the table's best speed that a search must reach (the issue's is 0.95)
GOALS = (0.95, 0.99)


# --- the tables ------------------------------------------------------------------------

def find_task(model: str, label: str):
    """The task of ``model`` whose label is ``label``."""
    for task in extract_tasks(load_model(model)):
        if task.label == label:
            return task
    raise LookupError(f"{model} has no task labelled {label!r}")


def all_configs(space: dict) -> list[dict]:
    """Every config of ``space`` (the product of its knobs' choices)."""
    names = list(space)
    return [dict(zip(names, values))
            for values in itertools.product(*(space[n].choices for n in names))]


class Table:
    """Measured costs of every config of one task, persisted in the cache file.

    ``entries[config_key] = {"config", "invalid": bool, "passes": [median s | None, ...],
    "errors": [...]}``; a failed measurement is a None cost with its error."""

    def __init__(self, cache: dict, task, threads: int):
        self.task = task
        slot = f"{task.target} | threads={threads} | {task.key}"
        self.entries: dict = cache.setdefault(slot, {"label": task.label, "entries": {}})["entries"]

    def fill(self, passes: int, threads: int, save) -> None:
        """Measure what the table lacks, pass by pass (each pass in another order)."""
        configs = all_configs(self.task.space())
        reference = self.task.lower()
        for p in range(passes):
            todo = []
            for config in configs:
                entry = self.entries.setdefault(config_key(config), {
                    "config": config, "invalid": False, "passes": [], "errors": []})
                if entry["invalid"] or len(entry["passes"]) > p:
                    continue
                try:
                    todo.append(self.task.candidate(config))
                except InvalidConfig:
                    entry["invalid"] = True
            random.Random(p).shuffle(todo)
            for i in range(0, len(todo), BATCH):
                t0 = time.perf_counter()
                for r in measure(todo[i:i + BATCH], reference, repeat=5, num_threads=threads):
                    entry = self.entries[config_key(r.config)]
                    entry["passes"].append(None if r.error else r.median)
                    entry["errors"].append(r.error)
                save()
                print(f"  {self.task.label[:40]}: pass {p + 1}, {i + len(todo[i:i + BATCH])}"
                      f"/{len(todo)} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    def costs(self) -> dict[str, float]:
        """config key -> cost (lowest per-pass median; inf when any pass failed), for
        every config that the template accepts."""
        out = {}
        for key, e in self.entries.items():
            if not e["invalid"]:
                ok = e["passes"] and all(c is not None for c in e["passes"])
                out[key] = min(e["passes"]) if ok else math.inf
        return out

    def pass_agreement(self) -> float:
        """Pairwise accuracy of the second pass's order against the first's."""
        rows = [e["passes"][:2] for e in self.entries.values()
                if len(e["passes"]) >= 2 and None not in e["passes"][:2]]
        if not rows:
            return float("nan")
        first, second = np.array(rows).T
        return pairwise_accuracy(-second, first)

    def configs(self) -> dict[str, dict]:
        return {k: e["config"] for k, e in self.entries.items()}


def features_of(task, configs: dict[str, dict]) -> dict[str, np.ndarray | None]:
    """``loop_features`` of each config's kernel (None where the template rejects it)."""
    out = {}
    for key, config in configs.items():
        try:
            out[key] = loop_features(task.lower(config))
        except InvalidConfig:
            out[key] = None
    return out


# --- search replay ---------------------------------------------------------------------

def trials_to_goal(costs_in_order, best: float, goal: float) -> int:
    """1-based index of the first cost within ``goal`` of ``best``'s speed (len + 1 if
    none)."""
    for i, cost in enumerate(costs_in_order, 1):
        if cost <= best / goal:
            return i
    return len(costs_in_order) + 1


def searchable(costs: dict[str, float], default: str, cold: bool) -> list[float]:
    """The finite costs a search can find (without the default config when ``cold``)."""
    return [c for k, c in costs.items() if math.isfinite(c) and not (cold and k == default)]


def random_order(costs: dict[str, float], default: str, cold: bool, seed: int) -> list[float]:
    """Random search: the successfully measured configs' costs in a random order."""
    ok = searchable(costs, default, cold)
    return [ok[i] for i in np.random.default_rng(seed).permutation(len(ok))]


def random_expected(costs: dict[str, float], default: str, cold: bool, goal: float) -> float:
    """The mean of random search's trials to ``goal`` over all permutations:
    (N + 1) / (k + 1) for k configs within the goal among N."""
    ok = searchable(costs, default, cold)
    good = sum(c <= min(ok) / goal for c in ok)
    return (len(ok) + 1) / (good + 1)


def guided_order(task, costs: dict[str, float], features: dict, cold: bool, seed: int,
                 prior=None) -> list[float]:
    """The costs of the configs the real Tuner measures on ``task``, in its order
    (inf for a rejected or failed config), every measurement read from ``costs`` (see
    the module docstring).  ``cold``: the default config counts as measured already, so
    the tuner neither starts with it nor ever proposes it.  ``prior``: (task key, costs,
    features) of another workload whose measurements the tuner holds already, as a
    tuner that tuned that task earlier in the same run does (its cost model is trained
    on them before the first proposal)."""
    def replay_measure(candidates, reference, **_options):
        return [MeasureResult(config, costs=[costs[config_key(config)]])
                if math.isfinite(costs[config_key(config)])
                else MeasureResult(config, error="failed in the table")
                for config, _ in candidates]

    with tempfile.TemporaryDirectory() as tmp:
        log = TuningLog(os.path.join(tmp, "replay.jsonl"))
        tuner = tuner_module.Tuner([task], log, batch_size=BATCH, epsilon=0.1, seed=seed,
                                   progress=tuner_module.Progress(io.StringIO()),
                                   measure=replay_measure)
        state = tuner.states[0]
        state.features.update(features)
        if cold:
            state.measured.add(config_key(task.default_config()))
        if prior is not None:
            key, prior_costs, prior_features = prior
            _, rows, row_costs = rows_of(prior_costs, prior_features)
            tuner.rows += [(row, cost, key) for row, cost in zip(rows, row_costs)]
            tuner._refit()
        tuner.tune(len(features))
        return [math.inf if r["error"] else r["costs"][0] for r in log.records()]


#: search modes: (name, default config left out, the sibling workload's table known)
MODES = (("tuner", False, False), ("cold", True, False), ("warm", True, True))


def search_row(task, costs, features, seeds, sibling=None) -> dict:
    """Trials to each goal of random and model-guided search, per mode and seed;
    ``sibling``: (task key, costs, features) of the workload for the "warm" mode."""
    default = config_key(task.default_config())
    row = {}
    for mode, cold, warm in MODES:
        if warm and sibling is None:
            continue
        best = min(searchable(costs, default, cold))
        prior = sibling if warm else None
        orders = {"random": [random_order(costs, default, cold, s) for s in seeds],
                  "guided": [guided_order(task, costs, features, cold, s, prior)
                             for s in seeds]}
        for goal in GOALS:
            cell = {name: [trials_to_goal(o, best, goal) for o in runs]
                    for name, runs in orders.items()}
            cell["random_expected"] = random_expected(costs, default, cold, goal)
            cell["random_mean"] = float(np.mean(cell["random"]))
            cell["guided_mean"] = float(np.mean(cell["guided"]))
            cell["guided_over_random"] = cell["guided_mean"] / cell["random_mean"]
            row[f"{mode}@{goal:g}"] = cell
    return row


# --- held-out ranking ------------------------------------------------------------------

def rows_of(costs: dict[str, float], features: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(config keys, feature rows, costs) of the successfully measured configs."""
    keys = sorted(k for k, c in costs.items() if math.isfinite(c) and features[k] is not None)
    return (keys, np.stack([features[k] for k in keys]), np.array([costs[k] for k in keys]))


def half_split_accuracy(costs, features, seed: int) -> tuple[float, int]:
    """Fit on a random half of one workload's table, rank the other half."""
    _, x, y = rows_of(costs, features)
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[:len(y) // 2], order[len(y) // 2:]
    model = CostModel(seed=seed).fit(x[train], y[train])
    return pairwise_accuracy(model.predict(x[test]), y[test]), len(test)


def transfer_accuracy(source, target, seed: int) -> tuple[float, int, int]:
    """Fit on the whole ``source`` table plus ``target``'s rows not held out; rank
    HELD_OUT random configs of ``target``.  Returns (accuracy, held out, target rows
    trained on)."""
    _, xs, ys = rows_of(*source)
    _, xt, yt = rows_of(*target)
    order = np.random.default_rng(seed).permutation(len(yt))
    test, train = order[:HELD_OUT], order[HELD_OUT:]
    x = np.concatenate([xs, xt[train]])
    y = np.concatenate([ys, yt[train]])
    groups = ["source"] * len(ys) + ["target"] * len(train)
    model = CostModel(seed=seed).fit(x, y, groups)
    return pairwise_accuracy(model.predict(xt[test]), yt[test]), len(test), len(train)


# --- one knob ----------------------------------------------------------------------------

def vary_knob(task, suffix: str, passes: int, threads: int) -> tuple[str, list]:
    """(the knob's name, [(choice, per-pass medians in s or None if failed or rejected)])
    for each choice of ``task``'s knob named ``*suffix`` on the default config (see the
    module docstring, 4.)."""
    space = task.space()
    name = next((n for n in space if n.endswith(suffix)), None)
    if name is None:
        raise LookupError(f"{task.label} has no knob ending in {suffix!r}: {list(space)}")
    base = task.default_config()
    runs: dict = {}
    candidates = []
    for choice in space[name].choices:
        config = {**base, name: choice}
        runs[config_key(config)] = (choice, [])
        try:
            candidates.append(task.candidate(config))
        except InvalidConfig:
            pass
    reference = task.lower()
    for p in range(passes):
        order = random.Random(p).sample(candidates, len(candidates))
        for r in measure(order, reference, repeat=5, num_threads=threads):
            runs[config_key(r.config)][1].append(None if r.error else r.median)
        print(f"  {task.label[:40]}: pass {p + 1}/{passes}", file=sys.stderr)
    return name, list(runs.values())


def print_vary(label: str, name: str, rows: list, default) -> None:
    """One line per choice: per-pass medians, the lowest, and default / this."""
    costs = {c: min(t) if t and None not in t else math.inf for c, t in rows}
    print(f"\n{label}: {name} (default {default!r})")
    print(f"{'choice':>8} {'best ms':>8} {'vs default':>10}   per-pass medians (ms)")
    for choice, times in rows:
        per_pass = " ".join("fail" if t is None else f"{t * 1e3:.3f}" for t in times)
        print(f"{choice!s:>8} {costs[choice] * 1e3:8.3f} "
              f"{costs[default] / costs[choice]:9.3f}x   {per_pass or 'rejected'}", flush=True)


# --- main ------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="tuning_quality.cache.json",
                    help="the measured tables (read, completed and rewritten)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--passes", type=int, default=2, help="measurements of each config")
    ap.add_argument("--threads", type=int, default=1, help="kernel threads when measuring")
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS))
    ap.add_argument("--vary", metavar="KNOB",
                    help="only time each choice of this knob on the default config")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.workloads.split(",")
    if args.vary:
        for name in names:
            task = find_task(*WORKLOADS[name])
            knob, rows = vary_knob(task, args.vary, args.passes, args.threads)
            print_vary(f"{name} ({task.label}, {args.threads} threads)", knob, rows,
                       task.space()[knob].default)
        return

    cache = {}
    if os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)

    def save():
        with open(args.cache + ".tmp", "w") as f:
            json.dump(cache, f)
        os.replace(args.cache + ".tmp", args.cache)

    data = {}  # name -> (task, costs, features, pass agreement)
    for name in names:
        task = find_task(*WORKLOADS[name])
        table = Table(cache, task, args.threads)
        t0 = time.perf_counter()
        table.fill(args.passes, args.threads, save)
        costs = table.costs()
        data[name] = (task, costs, features_of(task, table.configs()), table.pass_agreement())
        print(f"{name}: {len(table.entries)} configs, {sum(map(math.isfinite, costs.values()))} "
              f"measured, {len(table.entries) - len(costs)} rejected; "
              f"table ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    results = {"seeds": seeds, "threads": args.threads, "passes": args.passes, "workloads": {}}
    print(f"\n{'workload':<16} {'space':>5} {'ok':>4} {'best ms':>8} {'default ms':>10} "
          f"{'half acc':>8} {'passes acc':>10}")
    for name in names:
        task, costs, features, agreement = data[name]
        ok = [c for c in costs.values() if math.isfinite(c)]
        halves = [half_split_accuracy(costs, features, s) for s in seeds]
        row = {"label": task.label, "space": len(features), "measured": len(ok),
               "best_ms": min(ok) * 1e3,
               "default_ms": costs[config_key(task.default_config())] * 1e3,
               "half_split_accuracy": [a for a, _ in halves],
               "half_split_held_out": halves[0][1], "pass_agreement": agreement}
        results["workloads"][name] = row
        print(f"{name:<16} {row['space']:>5} {row['measured']:>4} {row['best_ms']:8.3f} "
              f"{row['default_ms']:10.3f} {np.mean(row['half_split_accuracy']):8.3f} "
              f"{agreement:10.3f}", flush=True)

    print(f"\n{'workload':<16} {'mode':<6} {'goal':>5} {'random':>7} {'rand E':>7} "
          f"{'guided':>7} {'g/r':>5}   trials per seed (random; guided)")
    for name in names:
        task, costs, features, _ = data[name]
        sibling = SIBLINGS.get(name)
        known = ((data[sibling][0].key,) + data[sibling][1:3]) if sibling in data else None
        search = search_row(task, costs, features, seeds, known)
        results["workloads"][name]["search"] = search
        for cell_name, cell in search.items():
            mode, goal = cell_name.split("@")
            print(f"{name:<16} {mode:<6} {goal:>5} {cell['random_mean']:7.1f} "
                  f"{cell['random_expected']:7.1f} {cell['guided_mean']:7.1f} "
                  f"{cell['guided_over_random']:5.2f}   {cell['random']}; {cell['guided']}",
                  flush=True)

    if TRANSFER_SOURCE in names and TRANSFER_TARGET in names:
        src, dst = data[TRANSFER_SOURCE], data[TRANSFER_TARGET]
        runs = [transfer_accuracy(src[1:3], dst[1:3], s) for s in seeds]
        results["transfer"] = {"source": TRANSFER_SOURCE, "target": TRANSFER_TARGET,
                               "held_out": runs[0][1], "target_rows_trained": runs[0][2],
                               "accuracy": [a for a, _, _ in runs],
                               "mean": float(np.mean([a for a, _, _ in runs]))}
        t = results["transfer"]
        print(f"\nheld-out ranking: fit on {TRANSFER_SOURCE} (all) + {t['target_rows_trained']} "
              f"configs of {TRANSFER_TARGET}; {t['held_out']} held-out configs of "
              f"{TRANSFER_TARGET}: pairwise accuracy {t['mean']:.3f} "
              f"(seeds: {', '.join(f'{a:.3f}' for a in t['accuracy'])})")
    print(f"\nhalf acc: pairwise accuracy on a held-out half (mean over seeds {seeds}); "
          "passes acc: pass 2 ranked against pass 1 (the noise ceiling).\nrandom, guided: "
          "trials until a config reaches `goal` of the best speed, mean over the seeds; "
          "rand E: random's exact expectation; g/r: guided / random.\nmode tuner: the "
          "Tuner as it runs (default config first); cold: the default config left out of "
          "both searches; warm: cold, with the tuner's model trained on the sibling "
          "workload's table first.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
