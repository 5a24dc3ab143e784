"""How much a tuning measurement depends on the child process that takes it, and how much
pairing (timing each candidate in turn with the default, ``measure(paired=True)``) removes.

    python benchmarks/measure_noise.py [--model bert_layer] [--task Gelu] [--children 12]

Takes the first task of ``--model`` whose label contains ``--task``, and a second config
of its space (the first valid one of a seeded random draw that differs from the
default), and measures that config once per fresh child process, 5 repeats each, timed
in turn with the default.  Prints per child the two medians and their ratio, then the
spread within children (median of each child's max/min) against the spread between
them (max/min of the children's medians), for the config alone, the default alone and
their ratio.  When a cost alone spreads much more between children than within, two
configs measured in different children compare the children as much as the configs;
the ratio is what the tuner ranks by.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from models import load_model  # noqa: E402

from tc.autotune import extract_tasks  # noqa: E402
from tc.autotune.log import config_key  # noqa: E402
from tc.autotune.measure import measure  # noqa: E402
from tc.autotune.search import Proposer  # noqa: E402
from tc.compiler.schedule.knobs import InvalidConfig  # noqa: E402


def other_config(task, seed: int = 0) -> dict:
    """A valid config of ``task``'s space other than its default (the default when the
    space has no other)."""
    proposer = Proposer(task.space(), seed=seed)
    default = config_key(proposer.default())

    def valid(config):
        try:
            task.lower(config)
            return True
        except InvalidConfig:
            return False

    batch = proposer.random_batch(8, {default}, valid)
    return batch[0] if batch else proposer.default()


def spread(values) -> float:
    return max(values) / min(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bert_layer")
    ap.add_argument("--task", default="Gelu")
    ap.add_argument("--children", type=int, default=12)
    args = ap.parse_args()
    task = next(t for t in extract_tasks(load_model(args.model)) if args.task in t.label)
    config = other_config(task)
    default = task.lower()
    print(f"{task.label}: config {config_key(config)} against the default, "
          f"{args.children} children x 5 repeats in turn")
    rows = []
    for i in range(args.children):
        r = measure([task.candidate(config)], default, target=task.target, repeat=5)[0]
        if r.error:
            sys.exit(f"the config failed: {r.error}")
        ratios = [c / b for c, b in zip(r.costs, r.baseline_costs)]
        rows.append((r.costs, r.baseline_costs, ratios))
        print(f"child {i:2d}: config {statistics.median(r.costs) * 1e3:.3f} ms, default "
              f"{statistics.median(r.baseline_costs) * 1e3:.3f} ms, ratio {r.relative:.3f}")
    for name, k in (("config", 0), ("default", 1), ("ratio", 2)):
        within = statistics.median(spread(row[k]) for row in rows)
        between = spread([statistics.median(row[k]) for row in rows])
        print(f"{name:8s} within a child: median max/min {within:.3f}; "
              f"between children: max/min of medians {between:.3f}"
              + (f", of minima {spread([min(row[k]) for row in rows]):.3f}" if k < 2 else
                 f", of min/min {spread([min(row[0]) / min(row[1]) for row in rows]):.3f}"))


if __name__ == "__main__":
    main()
