"""fp32 GEMM: tc against numpy (OpenBLAS) and the measured FMA peak, side by side.

    python benchmarks/gemm.py [--threads 1] [--repeat 20] [--json out.json]

Each size M x K x N is a one-node ONNX MatMul whose B is a constant (a weight, as in a
model); tc compiles it once, then tc and numpy take turns (``timing.interleaved_medians``),
and the median of ``repeat`` timed runs after warm-up is reported as GFLOP/s and as a
share of ``peak.py``'s single-core FMA peak times the thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

SIZES = [(128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
         (128, 768, 3072)]


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", help="also write the table here")
    return ap.parse_args()


def main() -> None:
    args = _parse()
    # numpy's BLAS reads its thread count when it loads
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    sys.path.insert(0, os.path.dirname(__file__))
    from peak import fma_peak_gflops
    from timing import interleaved_medians

    import tc

    peak = fma_peak_gflops() * args.threads
    rows = []
    print(f"fp32 peak ({args.threads} thread(s)): {peak:.1f} GFLOP/s")
    print(f"{'M x K x N':>18} {'tc GFLOP/s':>11} {'% peak':>7} {'numpy GFLOP/s':>14} "
          f"{'% peak':>7} {'tc/numpy time':>14}")
    for m, k, n in SIZES:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(b, "b")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        module = tc.compile(model)
        module.set_num_threads(args.threads)
        np.testing.assert_allclose(module.run([a])[0], a @ b, rtol=1e-3, atol=1e-3)
        med = interleaved_medians({"tc": lambda: module.run([a]), "numpy": lambda: a @ b},
                                  args.repeat)
        flops = 2 * m * k * n
        tc_s, np_s = med["tc"], med["numpy"]
        row = {"m": m, "k": k, "n": n, "tc_gflops": flops / tc_s / 1e9,
               "numpy_gflops": flops / np_s / 1e9, "peak_gflops": peak}
        rows.append(row)
        print(f"{f'{m} x {k} x {n}':>18} {row['tc_gflops']:11.1f} "
              f"{100 * row['tc_gflops'] / peak:6.1f}% {row['numpy_gflops']:14.1f} "
              f"{100 * row['numpy_gflops'] / peak:6.1f}% {tc_s / np_s:13.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
