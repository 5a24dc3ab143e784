"""Where a compiled model spends its time: tc's plan steps, slowest kernels first.

    python benchmarks/profile_kernels.py resnet50 [--threads 1] [--top 20] [--repeat 20]

Models are those of ``models.py`` (the light onnx models and the synthetic ones) or a
path to an .onnx file.  Each kernel is one fused group of graph nodes; its name lists
them.  Steps calling the same kernel (identical code, e.g. repeated layers) are summed.
"""
from __future__ import annotations

import argparse
import os
import sys

import onnx

sys.path.insert(0, os.path.dirname(__file__))
from models import load_model, random_feeds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a model name of models.py or an .onnx path")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    import tc

    model = onnx.load(args.model) if args.model.endswith(".onnx") else load_model(args.model)
    module = tc.compile(model)
    module.set_num_threads(args.threads)
    steps = module.profile(list(random_feeds(model).values()), repeat=args.repeat)
    by_kernel: dict[str, list[dict]] = {}
    for s in steps:
        by_kernel.setdefault(s["kernel"], []).append(s)
    total = sum(s["ms"] for s in steps)
    rows = sorted(by_kernel.values(), key=lambda calls: -sum(c["ms"] for c in calls))
    print(f"{args.model}: {len(steps)} steps, {total:.2f} ms in all "
          f"(medians per step, {args.threads} thread(s))")
    print(f"{'ms':>8} {'%':>5} {'calls':>5} {'GFLOP/s':>7}  kernel: label")
    for calls in rows[:args.top]:
        ms = sum(c["ms"] for c in calls)
        gflops = sum(c["flops"] for c in calls) / (ms * 1e6) if ms > 0 else 0.0
        print(f"{ms:8.3f} {100 * ms / total:5.1f} {len(calls):5d} {gflops:7.1f}  "
              f"{calls[0]['kernel']}: {calls[0]['label']}")

if __name__ == "__main__":
    main()
