"""tc against onnxruntime on whole models, side by side in one process.

    python benchmarks/models.py [--models resnet50,bert_layer] [--threads 1,2] [--repeat 20]
                                [--json models.json]

Models: the nine light models of the onnx package (random weights) and the synthetic MLP
and BERT-like encoders of ``synthetic_models.py``; batch 1, float32.  For each model and
thread count, tc and onnxruntime take turns on the same input after warm-up (in blocks
of five runs, with a 50 ms pause between blocks when several threads run, see
``timing.interleaved_medians``); the table gives the median latency of each, their
ratio (tc / ort: below 1 means tc is faster) and the geometric mean of the ratios per
thread count.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(list(LIGHT_MODELS) + list(SYNTHETIC_MODELS)))
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    import tc

    thread_counts = [int(t) for t in args.threads.split(",")]
    rows = []
    print(f"{'model':<14} {'threads':>7} {'tc ms':>9} {'ort ms':>9} {'tc/ort':>7} {'build s':>8}")
    for name in args.models.split(","):
        model = load_model(name)
        feeds = random_feeds(model)
        t0 = time.perf_counter()
        module = tc.compile(model)
        build_s = time.perf_counter() - t0
        inputs = list(feeds.values())
        for threads in thread_counts:
            module.set_num_threads(threads)
            sess = ort_session(model, threads=threads)
            want = sess.run(None, feeds)[0]
            np.testing.assert_allclose(module.run(inputs)[0], want, rtol=2e-3, atol=2e-3)
            med = interleaved_medians({"tc": lambda: module.run(inputs),
                                       "ort": lambda: sess.run(None, feeds)}, args.repeat,
                                      settle=0.05 if threads > 1 else 0.0)
            row = {"model": name, "threads": threads, "tc_ms": med["tc"] * 1e3,
                   "ort_ms": med["ort"] * 1e3, "ratio": med["tc"] / med["ort"],
                   "build_s": build_s}
            rows.append(row)
            print(f"{name:<14} {threads:>7} {row['tc_ms']:9.2f} {row['ort_ms']:9.2f} "
                  f"{row['ratio']:7.2f} {build_s:8.1f}", flush=True)
    for threads in thread_counts:
        ratios = [r["ratio"] for r in rows if r["threads"] == threads]
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"geometric mean tc/ort at {threads} thread(s): {geo:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
