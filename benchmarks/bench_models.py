"""tc vs onnxruntime on the light model zoo with random weights, side by side in one run.

    python benchmarks/bench_models.py [--models squeezenet,resnet50] [--threads 2] [--repeat 10]

Prints, per model: median latency of tc and of onnxruntime (after warm-up, same inputs,
same thread count), their ratio, and tc's achieved GFLOP/s over the conv/gemm FLOPs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tests.models.light import LIGHT_MODELS, model_path, ort_session, with_random_weights  # noqa: E402


def conv_gemm_flops(graph) -> int:
    """Multiply-add FLOPs (2 per MAC) of the Conv, Gemm and MatMul nodes of a tc graph."""
    flops = 0
    for n in graph.nodes:
        if n.op == "Conv":
            out = n.outputs[0].type.shape
            w = n.inputs[1].type.shape
            flops += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op in ("Gemm", "MatMul"):
            a, b = n.inputs[0].type.shape, n.outputs[0].type.shape
            k = a[0] if n.op == "Gemm" and n.attr("transA", 0) else a[-1]
            flops += 2 * int(np.prod(b)) * int(k)
    return flops


def median_seconds(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(LIGHT_MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()

    import tc
    from tc.frontends.onnx import from_onnx

    os.environ["TC_NUM_THREADS"] = str(args.threads)
    print(f"{'model':<14} {'tc ms':>9} {'ort ms':>9} {'tc/ort':>7} {'tc GFLOP/s':>11} {'build s':>8}")
    for name in args.models.split(","):
        model = with_random_weights(onnx.load(model_path(name)), seed=0)
        x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
        t0 = time.perf_counter()
        mod = tc.compile(model)
        build_s = time.perf_counter() - t0
        mod.set_num_threads(args.threads)
        sess = ort_session(model, threads=args.threads)
        feed = {sess.get_inputs()[0].name: x}
        t_tc = median_seconds(lambda: mod.run([x]), args.repeat)
        t_ort = median_seconds(lambda: sess.run(None, feed), args.repeat)
        gflops = conv_gemm_flops(from_onnx(model)) / t_tc / 1e9
        print(f"{name:<14} {t_tc * 1e3:9.2f} {t_ort * 1e3:9.2f} {t_tc / t_ort:7.2f} {gflops:11.2f} {build_s:8.1f}")


if __name__ == "__main__":
    main()
