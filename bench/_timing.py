"""Timing helpers shared by the benchmarks (the machine is shared: take the minimum of repeats)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Minimum wall time of ``repeat`` calls of ``fn`` and the last call's result."""
    times, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls of ``fn``."""
    return timed(fn, repeat)[0]
