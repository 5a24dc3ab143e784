"""Timing shared by the benchmarks: engines take turns in one process."""
from __future__ import annotations

import statistics
import time


def interleaved_medians(fns: dict, repeat: int, block: int = 5,
                        settle: float = 0.05) -> dict[str, float]:
    """Median seconds of each function over ``repeat`` timed runs, the functions taking
    turns in blocks of ``block`` runs.  Each block starts after ``settle`` seconds of
    sleep and one untimed run, so that the previous engine's idle-spinning worker
    threads (onnxruntime's and tc's spin for a while after a run) have gone to sleep
    instead of stealing the cores this engine's runs need (with 2 threads, squeezenet
    measured 7.7 ms interleaved without the sleep, 6.0 ms alone)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in times.values()) < repeat:
        for name, fn in fns.items():
            time.sleep(settle)
            fn()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}
