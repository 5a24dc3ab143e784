"""Timing shared by the benchmarks: engines take turns in one process."""
from __future__ import annotations

import statistics
import time


def interleaved_medians(fns: dict, repeat: int, block: int = 5) -> dict[str, float]:
    """Median seconds of each function over ``repeat`` timed runs, the functions taking
    turns in blocks of ``block`` runs; each block starts with one untimed run, so that
    one engine's idle-spinning worker threads (onnxruntime's spin for a while after a run)
    do not steal the cores the other engine's first run needs."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in times.values()) < repeat:
        for name, fn in fns.items():
            fn()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}
