"""tc against onnxruntime on whole models, side by side in one process.

    python benchmarks/models.py [--models resnet50,bert_layer] [--threads 1,2] [--repeat 20]
                                [--json models.json] [--tuning-log tune.jsonl]

Models: the nine light models of the onnx package (random weights) and the synthetic MLP
and BERT-like encoders of ``synthetic_models.py``; batch 1, float32.  For each model and
thread count, tc and onnxruntime take turns on the same input after warm-up (in blocks
of five runs, with a 50 ms pause between blocks when several threads run, see
``timing.interleaved_medians``); the table gives the median latency of each, their
ratio (tc / ort: below 1 means tc is faster) and the geometric mean of the ratios per
thread count.

With ``--tuning-log`` (a ``tc-tune`` log; one log may hold records for several models,
e.g. from ``tune_models.py``: each model takes the records of its own workloads), each
model is compiled a second time with the log, and the tuned module takes its turns with
the other two: the table adds tuned's latency, tuned / ort and tuned / tc (the speedup
of tuning is 1 / that).  The two tc modules have a thread pool each, whose workers spin
for 500 us after a parallel region: the 50 ms pause before each block at several
threads keeps one module's spinning workers off the cores the next one runs on.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from synthetic_models import SYNTHETIC_MODELS  # noqa: E402
from timing import interleaved_medians  # noqa: E402

from tests.models.light import (  # noqa: E402
    LIGHT_MODELS,
    model_path,
    ort_session,
    with_random_weights,
)


def load_model(name: str) -> onnx.ModelProto:
    if name in SYNTHETIC_MODELS:
        return SYNTHETIC_MODELS[name]()
    return with_random_weights(onnx.load(model_path(name)), seed=0)


def random_feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Uniform [-1, 1) data for every graph input that is not an initializer."""
    inits = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in model.graph.input:
        if inp.name not in inits:
            shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
            feeds[inp.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return feeds


def geomean(rows: list[dict], column: str) -> float:
    return math.exp(sum(math.log(r[column]) for r in rows) / len(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(list(LIGHT_MODELS) + list(SYNTHETIC_MODELS)))
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--tuning-log", metavar="LOG",
                    help="also time each model compiled with this tc-tune log")
    args = ap.parse_args()
    import tc

    thread_counts = [int(t) for t in args.threads.split(",")]
    tuned = args.tuning_log is not None
    rows = []
    print(f"{'model':<14} {'threads':>7} {'tc ms':>9} "
          + (f"{'tuned ms':>9} " if tuned else "")
          + f"{'ort ms':>9} {'tc/ort':>7} "
          + (f"{'tuned/ort':>9} {'tuned/tc':>8} " if tuned else "") + f"{'build s':>8}")
    for name in args.models.split(","):
        model = load_model(name)
        feeds = random_feeds(model)
        t0 = time.perf_counter()
        modules = {"tc": tc.compile(model)}
        build_s = time.perf_counter() - t0
        if tuned:
            modules["tuned"] = tc.compile(model, tuning_log=args.tuning_log)
            print(f"{name}: {modules['tuned'].build_report.tuning}", file=sys.stderr)
        inputs = list(feeds.values())
        for threads in thread_counts:
            sess = ort_session(model, threads=threads)
            want = sess.run(None, feeds)[0]
            fns = {}
            for key, module in modules.items():
                module.set_num_threads(threads)
                np.testing.assert_allclose(module.run(inputs)[0], want, rtol=2e-3, atol=2e-3)
                fns[key] = lambda module=module: module.run(inputs)
            fns["ort"] = lambda: sess.run(None, feeds)
            med = interleaved_medians(fns, args.repeat, settle=0.05 if threads > 1 else 0.0)
            row = {"model": name, "threads": threads, "tc_ms": med["tc"] * 1e3,
                   "ort_ms": med["ort"] * 1e3, "ratio": med["tc"] / med["ort"],
                   "build_s": build_s}
            if tuned:
                row.update(tuned_ms=med["tuned"] * 1e3, tuned_ratio=med["tuned"] / med["ort"],
                           tuned_over_tc=med["tuned"] / med["tc"])
            rows.append(row)
            print(f"{name:<14} {threads:>7} {row['tc_ms']:9.2f} "
                  + (f"{row['tuned_ms']:9.2f} " if tuned else "")
                  + f"{row['ort_ms']:9.2f} {row['ratio']:7.2f} "
                  + (f"{row['tuned_ratio']:9.2f} {row['tuned_over_tc']:8.3f} " if tuned else "")
                  + f"{build_s:8.1f}", flush=True)
    for threads in thread_counts:
        at = [r for r in rows if r["threads"] == threads]
        line = f"geometric mean tc/ort at {threads} thread(s): {geomean(at, 'ratio'):.2f}"
        if tuned:
            line += (f", tuned/ort {geomean(at, 'tuned_ratio'):.2f}, "
                     f"tuned/tc {geomean(at, 'tuned_over_tc'):.3f}")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
