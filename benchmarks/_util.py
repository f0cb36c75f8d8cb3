"""Small helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import time


def metric(name: str, value: float, unit: str, **extra) -> dict:
    return {"metric": name, "value": round(float(value), 4), "unit": unit, **extra}


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median wall time of fn() in milliseconds over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
