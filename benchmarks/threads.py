"""The cost of one parallel region of tc's thread pool (fork/join), in microseconds.

    python benchmarks/threads.py [--threads 1,2] [--regions 20000]

A C program linked with tc's runtime calls ``tc_parallel_for`` back to back with a
near-empty body (each chunk adds to a per-chunk counter) and reports the median time
per region over several batches, after warm-up (the pool's threads start on the first
region and spin between regions that come back to back, as a model's kernels do).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "tc_runtime.h"

static volatile long counts[64];
static void body(int64_t begin, int64_t end, void *closure) {
    (void)closure;
    counts[begin % 64] += end - begin;
}
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    int threads = atoi(argv[1]), regions = atoi(argv[2]), batches = 15, i, k;
    double per[15];
    tc_set_num_threads(threads);
    for (i = 0; i < regions; i++) tc_parallel_for(64, body, NULL);  /* warm-up */
    for (k = 0; k < batches; k++) {
        double t0 = now();
        for (i = 0; i < regions; i++) tc_parallel_for(64, body, NULL);
        per[k] = (now() - t0) / regions;
    }
    qsort(per, batches, sizeof per[0], cmp);
    printf("%.3f\n", per[batches / 2] * 1e6);
    return 0;
}
"""


def region_microseconds(threads: int, regions: int) -> float:
    """Median microseconds per parallel region with ``threads`` threads."""
    from tc.runtime import toolchain

    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "regions.c"), os.path.join(tmp, "regions")
        with open(src, "w") as f:
            f.write(_PROGRAM)
        toolchain.run_compiler(["-O2", "-I", str(toolchain.runtime_include_dir()), "-o", exe,
                                src, str(toolchain.runtime_object()), *toolchain.LINK_LIBS],
                               "building the thread-pool benchmark")
        out = subprocess.run([exe, str(threads), str(regions)], check=True,
                             capture_output=True, text=True)
        return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}")
    ap.add_argument("--regions", type=int, default=20000)
    args = ap.parse_args()
    for threads in (int(t) for t in args.threads.split(",")):
        print(f"{threads} thread(s): {region_microseconds(threads, args.regions):.2f} us "
              "per parallel region")


if __name__ == "__main__":
    main()
