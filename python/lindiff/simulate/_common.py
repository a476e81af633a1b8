"""Shared plumbing of the simulator: per-draw seeds and training sets."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .. import exact
from .._random import seed_sequence
from .._validation import positive_int
from ..spectrum import Spectrum

__all__ = ["draw_seeds", "philox_key", "training_sets"]


def draw_seeds(seed: int | np.random.SeedSequence, draws: int) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed).spawn(draws)``: draw i of any simulation uses child i, whatever the
    thread count, so ``lindiff.exact.draw_data(spectrum, N, seed=draw_seeds(seed, draws)[i])``
    reproduces its training set."""
    draws = positive_int("draws", draws)
    ss = seed_sequence(seed)  # children built explicitly: a SeedSequence passed in is not advanced
    return [np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (i,), pool_size=ss.pool_size)
            for i in range(draws)]


def philox_key(ss: np.random.SeedSequence, purpose: int) -> NDArray[np.uint32]:
    """A 2-word Philox key for one purpose of one draw: child ``(purpose,)`` of ``ss``.

    Purpose 0 is the Haar rotation of :func:`lindiff.exact.draw_data`; the simulator uses 1 (SGD
    minibatches) and 2 (sampler noise).
    """
    child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (purpose,))
    return child.generate_state(2, np.uint32)


def training_sets(spectrum: Spectrum, N: int, seeds: list[np.random.SeedSequence], rotate: bool
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Training sets X (draws, d, N) and population covariances in their basis: Sigma's diagonal
    (d,) when it is diagonal (``rotate=False``), else (draws, d, d)."""
    if not isinstance(spectrum, Spectrum):
        raise ValueError(f"spectrum must be a lindiff.Spectrum (got {type(spectrum).__name__})")
    N = positive_int("N", N)
    pairs = [exact.draw_data(spectrum, N, ss, rotate=rotate) for ss in seeds]
    X = np.stack([p[0] for p in pairs])
    sigma = np.stack([p[1] for p in pairs]) if rotate else spectrum.expanded()
    return X, sigma
