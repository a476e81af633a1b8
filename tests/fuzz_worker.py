"""The fuzz suite's isolated worker: one spawned process that runs :func:`fuzz_cases.run_case`,
replaced after a crash or a time-out, so a segfault or a hang is a verdict, not a dead run."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from typing import Any

import fuzz_cases

TIMEOUT_S = float(os.environ.get("LINDIFF_FUZZ_TIMEOUT", "30"))


class Isolated:
    """One spawned worker process, replaced after a crash or a time-out."""

    def __init__(self) -> None:
        self.pool: cf.ProcessPoolExecutor | None = None

    def _get(self) -> cf.ProcessPoolExecutor:
        if self.pool is None:
            self.pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        return self.pool

    def _reset(self) -> None:
        if self.pool is not None:
            for p in list(getattr(self.pool, "_processes", {}).values()):
                p.kill()
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def run(self, case: str, kwargs: dict[str, Any]) -> tuple[str, str]:
        fut = self._get().submit(fuzz_cases.run_case, case, kwargs)
        try:
            return fut.result(timeout=TIMEOUT_S)
        except cf.process.BrokenProcessPool:
            self._reset()
            return "crash", "the worker process died (segfault or abort)"
        except cf.TimeoutError:
            self._reset()
            return "hang", f"no answer in {TIMEOUT_S:g} s"
