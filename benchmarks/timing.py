"""Timing shared by the benchmarks: engines take turns in one process."""
from __future__ import annotations

import statistics
import time


def interleaved_medians(fns: dict, repeat: int, block: int = 5,
                        settle: float = 0.0) -> dict[str, float]:
    """Median seconds of each function over ``repeat`` timed runs, the functions taking
    turns in blocks of ``block`` runs.  Each block starts with one untimed run, after a
    pause of ``settle`` seconds when given: with several threads per engine, the pause
    lets the previous engine's idle-spinning worker threads (onnxruntime's and tc's spin
    for a while after a run) go to sleep instead of stealing the cores this engine's runs
    need (with 2 threads, squeezenet measured 7.7 ms interleaved without it, 6.0 ms
    alone).  Single-threaded timings need no pause, and short ones suffer from it (a
    256^3 GEMM lost 40% of its speed), so it is off by default."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in times.values()) < repeat:
        for name, fn in fns.items():
            _busy_wait(settle)
            fn()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _busy_wait(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
