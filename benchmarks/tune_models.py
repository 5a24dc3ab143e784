"""Tune benchmark models into one tuning log, for ``models.py --tuning-log``.

    python benchmarks/tune_models.py [--models bert_layer,resnet50] [--trials 300]
                                     [--log tune_models.jsonl] [--seed 0] [--target cuda]

Each model (``models.py``'s ``load_model``: the same random weights, so the same
workloads) is tuned by ``tc.autotune.tuner.tune`` with ``--trials`` measurements of its
own, all appending to one log; a model already in the log resumes (its records count as
trials done).  Prints ``tc-tune``'s per-task summary and the wall time per model.
``--target cuda`` tunes the GPU schedules on this machine's GPU (then compare with
``cuda_vs_torch.py --models bert_layer --tuning-log LOG``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from models import load_model  # noqa: E402

from tc.autotune.tuner import tune  # noqa: E402
from tc.cli import print_tuning_summary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="bert_layer,resnet50")
    ap.add_argument("--trials", type=int, default=300, help="measurements per model")
    ap.add_argument("--log", default="tune_models.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", default="llvm", help="llvm (this CPU) or cuda (its GPU)")
    args = ap.parse_args()
    for name in args.models.split(","):
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        summary = tune(load_model(name), args.target, trials=args.trials, log_path=args.log,
                       seed=args.seed)
        print_tuning_summary(summary, args.log)
        print(f"{name}: tuned in {time.perf_counter() - t0:.0f} s wall "
              f"(task extraction and model fits included)", flush=True)


if __name__ == "__main__":
    main()
