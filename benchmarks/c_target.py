"""The C target's kernels on this host against the LLVM ones, side by side in one process.

    python benchmarks/c_target.py squeezenet [--repeat 10]

Three builds of one model (benchmarks/models.py's load_model): LLVM (one thread, as the C
kernels run serially), the C target (``tc.compile(model, target="c")``: the C99 kernels
compiled by the host's cc), and the C target without ``TC_UNROLL`` hints (built with
``llvm_func.UNROLL_LIMIT`` set to 0, so no unrolled loop carries the pragma).  Median
milliseconds per run, the builds taking turns (``timing.interleaved_medians``).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from models import load_model, random_feeds  # noqa: E402
from timing import interleaved_medians  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    import tc
    from tc.targets import llvm_func

    model = load_model(args.model)
    feeds = list(random_feeds(model).values())
    llvm = tc.compile(model)
    llvm.set_num_threads(1)
    c_unroll = tc.compile(model, target="c")
    saved, llvm_func.UNROLL_LIMIT = llvm_func.UNROLL_LIMIT, 0
    try:
        c_plain = tc.compile(model, target="c")
    finally:
        llvm_func.UNROLL_LIMIT = saved
    medians = interleaved_medians({"llvm": lambda: llvm.run(feeds),
                                   "c": lambda: c_unroll.run(feeds),
                                   "c without TC_UNROLL": lambda: c_plain.run(feeds)},
                                  args.repeat)
    for name, seconds in medians.items():
        print(f"{args.model:<14} {name:<20} {seconds * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
