"""How much a tuning measurement depends on the child process that takes it.

    python benchmarks/measure_noise.py [--model bert_layer] [--task Gelu] [--children 12]

Measures one task's default config (the first task of ``--model`` whose label contains
``--task``) with ``tc.autotune.measure.measure`` once per fresh child process, 5 repeats
each, and prints each child's costs, then the spread within children (median of each
child's max/min) against the spread between them (max/min of the children's medians).
When the second is much larger than the first, comparing configs measured in different
children compares the children as much as the configs.
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
from tc.autotune.measure import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bert_layer")
    ap.add_argument("--task", default="Gelu")
    ap.add_argument("--children", type=int, default=12)
    args = ap.parse_args()
    task = next(t for t in extract_tasks(load_model(args.model)) if args.task in t.label)
    func = task.lower()
    print(f"{task.label}: {args.children} children x 5 repeats")
    medians, within = [], []
    for i in range(args.children):
        costs = measure([({}, func)], func, target=task.target, repeat=5)[0].costs
        medians.append(statistics.median(costs))
        within.append(max(costs) / min(costs))
        print(f"child {i:2d}: " + " ".join(f"{c * 1e3:.3f}" for c in costs) + " ms")
    print(f"within a child: median max/min {statistics.median(within):.3f}; between children: "
          f"medians {min(medians) * 1e3:.3f}-{max(medians) * 1e3:.3f} ms "
          f"(max/min {max(medians) / min(medians):.3f})")


if __name__ == "__main__":
    main()
