"""tc's CUDA target against PyTorch on the same GPU (cuBLAS/cuDNN underneath), side by side.

    python benchmarks/cuda_vs_torch.py [--gemm 1024,2048,4096,8192] [--repeat 20]
                                       [--models bert_stack,bert_layer] [--arch sm_90]
                                       [--tuning-log tune.jsonl]

GEMM: ``C = A @ B`` on n x n float32 matrices, compiled by ``tc.compile(module,
target="cuda")`` from a one-line ``nn.Module``; tc runs on the device tensors torch made
(``Module.run`` with CUDA tensors: no host copies), torch runs ``torch.matmul`` (TF32
off, so both compute in float32 FMA).  Models: a BERT-like stack (4 post-norm
``nn.TransformerEncoderLayer`` of hidden 256, 4 heads, FFN 1024, GELU, 128 tokens) and
one BERT-base layer (hidden 768, 12 heads, FFN 3072), compiled from the module and run
eagerly by torch under ``inference_mode``.  The two engines take turns
(``timing.interleaved_medians``, each call synchronized); the table gives median
latencies, TFLOP/s for the GEMMs and the ratio tc / torch (below 1: tc is faster), and
the largest difference between the outputs.  With ``--tuning-log`` (e.g. from
``tune_models.py --target cuda``), each is also compiled with the log and a third engine,
"tuned", takes its turn: the table adds its time and tuned / tc default.

Needs an NVIDIA GPU, its driver and a CUDA build of torch; without them it says so and
measures nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved_medians  # noqa: E402


def _gpu_or_exit():
    try:
        import torch
    except ImportError:
        sys.exit("cuda_vs_torch: torch is not installed; nothing measured")
    if not torch.cuda.is_available():
        sys.exit("cuda_vs_torch: no CUDA device visible to torch (no GPU, no driver, or a "
                 "CPU build of torch); nothing measured")
    return torch


def _bert_stack(torch, layers: int, hidden: int, heads: int, ffn: int, seq: int = 128):
    layer = torch.nn.TransformerEncoderLayer(hidden, heads, ffn, batch_first=True, dropout=0.0,
                                             activation="gelu")
    model = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).eval()
    return model, (torch.randn(1, seq, hidden),)


MODELS = {"bert_stack": lambda torch: _bert_stack(torch, 4, 256, 4, 1024),
          "bert_layer": lambda torch: _bert_stack(torch, 1, 768, 12, 3072)}


def _compile(module, example, target, tuning_log=None):
    import tc

    t0 = time.perf_counter()
    mod = tc.compile(module, example_inputs=example, target=target, tuning_log=tuning_log)
    return mod, time.perf_counter() - t0


def _with_tuned(engines: dict, tuned, run) -> dict:
    """``engines`` plus "tuned" (``run(tuned)``) when a tuned module was built."""
    return engines if tuned is None else {**engines, "tuned": run(tuned)}


#: the columns a tuned engine adds to a table (``tuned_columns``)
TUNED_HEADER = f" {'tuned ms':>9} {'tuned/tc':>8}"


def tuned_columns(t: dict) -> str:
    """The tuned engine's median ms and its ratio to tc's default (empty without one)."""
    return f" {t['tuned'] * 1e3:>9.3f} {t['tuned'] / t['tc']:>8.2f}" if "tuned" in t else ""


def _timed(torch, fn):
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemm", default="1024,2048,4096,8192")
    parser.add_argument("--models", default="bert_stack,bert_layer")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--arch", default=None, help="e.g. sm_90 (default: the device's)")
    parser.add_argument("--tuning-log", default=None,
                        help="also time tc built with this log (tuned / tc default)")
    args = parser.parse_args()
    torch = _gpu_or_exit()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    target = "cuda" + (f" -arch={args.arch}" if args.arch else "")
    print(f"device: {torch.cuda.get_device_name()}, target {target!r}, torch {torch.__version__}")

    class MatMul(torch.nn.Module):
        def forward(self, a, b):
            return a @ b

    tuned_header = TUNED_HEADER if args.tuning_log else ""
    print(f"\n{'GEMM n':>8} {'tc ms':>9} {'torch ms':>9} {'tc TF/s':>8} {'torch TF/s':>10} "
          f"{'tc/torch':>8} {'max diff':>9} {'build s':>8}{tuned_header}")
    for n in [int(v) for v in args.gemm.split(",") if v]:
        a, b = torch.randn(n, n), torch.randn(n, n)
        mod, build_s = _compile(MatMul(), (a, b), target)
        tuned = _compile(MatMul(), (a, b), target, args.tuning_log)[0] if args.tuning_log \
            else None
        a, b = a.cuda(), b.cuda()
        got = mod.run([a, b])[0]
        want = a @ b
        diff = float((got - want).abs().max() / want.abs().max())
        t = interleaved_medians(_with_tuned(
            {"tc": _timed(torch, lambda: mod.run([a, b])),
             "torch": _timed(torch, lambda: torch.matmul(a, b))},
            tuned, lambda m: _timed(torch, lambda: m.run([a, b]))), args.repeat)
        flops = 2.0 * n ** 3
        print(f"{n:>8} {t['tc'] * 1e3:>9.3f} {t['torch'] * 1e3:>9.3f} "
              f"{flops / t['tc'] / 1e12:>8.2f} {flops / t['torch'] / 1e12:>10.2f} "
              f"{t['tc'] / t['torch']:>8.2f} {diff:>9.1e} {build_s:>8.1f}{tuned_columns(t)}")

    print(f"\n{'model':>12} {'tc ms':>9} {'torch ms':>9} {'tc/torch':>8} {'max diff':>9} "
          f"{'build s':>8}{tuned_header}")
    for name in [m for m in args.models.split(",") if m]:
        module, example = MODELS[name](torch)
        mod, build_s = _compile(module, example, target)
        tuned = _compile(module, example, target, args.tuning_log)[0] if args.tuning_log \
            else None
        module = module.cuda()
        x = example[0].cuda()
        with torch.inference_mode():
            want = module(x)
            got = mod.run([x])[0]
            diff = float((got - want).abs().max())
            t = interleaved_medians(_with_tuned(
                {"tc": _timed(torch, lambda: mod.run([x])),
                 "torch": _timed(torch, lambda: module(x))},
                tuned, lambda m: _timed(torch, lambda: m.run([x]))), args.repeat)
        print(f"{name:>12} {t['tc'] * 1e3:>9.3f} {t['torch'] * 1e3:>9.3f} "
              f"{t['tc'] / t['torch']:>8.2f} {diff:>9.1e} {build_s:>8.1f}{tuned_columns(t)}")


if __name__ == "__main__":
    main()
