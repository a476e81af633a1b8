"""Named progress on stderr for long runs (:func:`lindiff.sweep`, ``lindiff reproduce``).

On a terminal a ``tqdm`` bar; when stderr is piped or written to a file, one plain line per step
(about every tenth of the work, and at the end): the label, points done of the total, the time
so far and an estimate of the time left, so a log shows what is running and how far it got.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

__all__ = ["Progress", "progress_bar"]


class Progress:
    """Progress of ``total`` points under a name; :meth:`update` after each piece, :meth:`close` at the end."""

    def __init__(self, total: int, label: str, *, initial: int = 0, stream: IO[str] | None = None,
                 steps: int = 10) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.total, self.initial, self.done, self.label = int(total), int(initial), int(initial), label
        self.t0 = time.perf_counter()
        self.step = max(1, math.ceil(max(self.total - self.initial, 1) / max(1, steps)))
        self.next_line = self.initial + self.step
        self.bar: Any = None
        isatty = getattr(self.stream, "isatty", None)
        if callable(isatty) and isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.initial, desc=label, unit="pt", file=self.stream,
                            dynamic_ncols=True)
        else:
            self._line()

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        if self.bar is not None:
            self.bar.update(n)
        elif self.done >= self.next_line or self.done >= self.total:
            self._line()
            self.next_line = self.done + self.step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done < self.total:   # stopped early: say where
            self._line(stopped=True)

    def _line(self, stopped: bool = False) -> None:
        elapsed = time.perf_counter() - self.t0
        text = f"{self.label}: {self.done}/{self.total} points ({100.0 * self.done / max(self.total, 1):.0f} %), " \
               f"{elapsed:.1f} s"
        made = self.done - self.initial
        if stopped:
            text += ", stopped"
        elif 0 < made and self.done < self.total:
            text += f", about {elapsed / made * (self.total - self.done):.0f} s left"
        print(text, file=self.stream, flush=True)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, label: str, enabled: bool, *, initial: int = 0) -> Progress | _Silent:
    """A :class:`Progress` when ``enabled``, else an object that ignores updates."""
    return Progress(total, label, initial=initial) if enabled else _Silent()
