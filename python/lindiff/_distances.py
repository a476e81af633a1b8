"""Nearest-neighbour distances between point sets, scaled so squared distances neither overflow
nor underflow; shared by :mod:`lindiff.memorization` and :mod:`lindiff.simulate`."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["nearest_rows"]

_NN_BLOCK_ELEMENTS = 1 << 21  # distance block of 2M entries (16 MiB; about 4 such live at once)


def nearest_rows(train: NDArray[np.float64], samples: NDArray[np.float64], chunk: int | None = None
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Nearest and second-nearest training row of each sample row (no input checks).

    Sample rows are taken in chunks whose distance block has at most 2^21 entries, so the memory
    is ~64 MiB whatever n and N (2e4 x 2e4 points took 1.1 GiB with fixed 2048-row chunks)."""
    n, N = samples.shape[0], train.shape[0]
    if chunk is None:
        chunk = max(1, min(2048, _NN_BLOCK_ELEMENTS // max(N, 1)))
    # scale by a power of two (exact) so squared distances neither overflow nor underflow; the
    # ratio is scale-free and the distances are scaled back (inf only if they exceed the range)
    big = max(float(np.max(np.abs(train), initial=0.0)), float(np.max(np.abs(samples), initial=0.0)))
    unit = 1.0
    if big > 0 and not 1e-100 < big < 1e100:
        unit = math.ldexp(1.0, math.frexp(big)[1])
        train, samples = train / unit, samples / unit
    x2 = np.sum(train * train, axis=1)
    idx = np.empty(n, dtype=np.int64)
    d1 = np.empty(n)
    d2 = np.empty(n) if N >= 2 else None
    for lo in range(0, n, chunk):
        Uc = samples[lo:lo + chunk]
        D = np.maximum(np.sum(Uc * Uc, axis=1)[:, None] + x2[None, :] - 2.0 * (Uc @ train.T), 0.0)
        i = np.argmin(D, axis=1)
        idx[lo:lo + chunk] = i
        d1[lo:lo + chunk] = np.sqrt(D[np.arange(D.shape[0]), i])
        if d2 is not None:
            d2[lo:lo + chunk] = np.sqrt(np.partition(D, 1, axis=1)[:, 1])
    ratio = None
    if d2 is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d2 > 0, d1 / np.where(d2 > 0, d2, 1.0), 1.0)
    if unit != 1.0:
        with np.errstate(over="ignore"):
            d1 = d1 * unit
    return idx, d1, ratio
