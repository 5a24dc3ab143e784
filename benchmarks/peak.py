"""The machine's measured limits: single-core fp32 FMA peak and memory bandwidth.

    python benchmarks/peak.py

The FMA kernel is C built on the fly with the host compiler (``cc -O2 -march=native``):
twelve independent vector accumulators (enough to cover the FMA latency on two ports),
so it measures throughput, not latency.  Bandwidth is a large numpy copy (read + write)
and a large sum (read only).  Other benchmarks report their GFLOP/s as a share of
``fma_peak_gflops()``.
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import tempfile
import time

import numpy as np

_FMA_C = r"""
#include <immintrin.h>
/* n iterations of 12 independent 8-lane FMAs (12 * 8 * 2 * n flops), written out so the
   accumulators stay in registers */
#define STEP(a) a = _mm256_fmadd_ps(a, x, y)
float fma_loop(long n) {
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f),
           a3 = _mm256_set1_ps(3.f), a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f),
           a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f), a8 = _mm256_set1_ps(8.f),
           a9 = _mm256_set1_ps(9.f), a10 = _mm256_set1_ps(10.f), a11 = _mm256_set1_ps(11.f);
    for (long k = 0; k < n; k++) {
        STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5);
        STEP(a6); STEP(a7); STEP(a8); STEP(a9); STEP(a10); STEP(a11);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}
"""

@functools.lru_cache(maxsize=None)
def _fma_library() -> ctypes.CDLL:
    folder = tempfile.mkdtemp(prefix="tc_peak_")
    src, lib = os.path.join(folder, "fma.c"), os.path.join(folder, "fma.so")
    with open(src, "w") as f:
        f.write(_FMA_C)
    subprocess.run(["cc", "-O2", "-march=native", "-mavx2", "-mfma", "-shared", "-fPIC",
                    src, "-o", lib], check=True)
    dll = ctypes.CDLL(lib)
    dll.fma_loop.argtypes, dll.fma_loop.restype = [ctypes.c_long], ctypes.c_float
    return dll


@functools.lru_cache(maxsize=None)
def fma_peak_gflops(repeat: int = 7) -> float:
    """Best-of-``repeat`` single-thread fp32 FMA throughput in GFLOP/s."""
    dll, n = _fma_library(), 20_000_000
    dll.fma_loop(n // 10)   # warm up (clock ramp)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        dll.fma_loop(n)
        best = min(best, time.perf_counter() - t0)
    return 12 * 8 * 2 * n / best / 1e9


def bandwidth_gbs(mbytes: int = 256, repeat: int = 5) -> dict[str, float]:
    """Best-of-``repeat`` memory bandwidth in GB/s: ``copy`` (read + write) and ``read``."""
    a = np.ones(mbytes * 2**20 // 4, np.float32)
    b = np.empty_like(a)
    copy = read = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(b, a)
        copy = min(copy, time.perf_counter() - t0)
        t0 = time.perf_counter()
        a.sum()
        read = min(read, time.perf_counter() - t0)
    return {"copy": 2 * a.nbytes / copy / 1e9, "read": a.nbytes / read / 1e9}


def main() -> None:
    print(f"fp32 FMA peak, one core: {fma_peak_gflops():.1f} GFLOP/s")
    bw = bandwidth_gbs()
    print(f"memory bandwidth: copy {bw['copy']:.1f} GB/s, read {bw['read']:.1f} GB/s")


if __name__ == "__main__":
    main()
