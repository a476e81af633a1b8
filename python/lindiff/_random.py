"""Seeds, populations and seeded draws shared by :mod:`lindiff.exact`, :mod:`lindiff.simulate` and
:mod:`lindiff.memorization`: one seed always gives the same training set, whichever module draws it."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import real_array
from .spectrum import Spectrum

__all__ = ["Population", "seed_sequence", "population_eigen", "population_matrix", "haar", "draw_training_set"]

Population = Spectrum | ArrayLike


def seed_sequence(seed: int | np.random.SeedSequence, name: str = "seed") -> np.random.SeedSequence:
    """``seed`` as a :class:`numpy.random.SeedSequence` (an integer >= 0, or a SeedSequence as is)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral, np.integer)) or int(seed) < 0:
        raise ValueError(f"{name} must be an integer >= 0 or a numpy.random.SeedSequence (got {seed!r})")
    return np.random.SeedSequence(int(seed))


def population_eigen(population: Population, name: str = "population") -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """(eigenvalues, eigenvectors or None) of Sigma; None means Sigma is diagonal in the standard basis.

    A :class:`Spectrum` (expanded with its multiplicities, in its own order) or a 1-d array is the
    diagonal of Sigma; a 2-d array is a full symmetric positive definite matrix.
    """
    if isinstance(population, Spectrum):
        try:
            return population.expanded(), None
        except ValueError:
            raise ValueError(f"{name} must have integer multiplicities to be expanded to a d x d Sigma") from None
    arr = real_array(name, population)
    if arr.ndim == 1:
        if arr.size == 0 or not np.all(arr > 0):
            raise ValueError(f"{name} (the diagonal of Sigma) must be non-empty and > 0")
        return arr.copy(), None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a Spectrum, a 1-d diagonal, or a square d x d matrix (got shape {arr.shape})")
    scale = float(np.max(np.abs(arr)))
    if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12 * scale):
        raise ValueError(f"{name} must be symmetric")
    lam, P = np.linalg.eigh(0.5 * (arr + arr.T))
    if not lam[0] > 0:
        raise ValueError(f"{name} must be positive definite (smallest eigenvalue {lam[0]:.3g})")
    return lam, P


def population_matrix(population: Population, name: str = "sigma") -> NDArray[np.float64]:
    """Sigma as a d x d matrix, from anything :func:`population_eigen` takes."""
    lam, P = population_eigen(population, name)
    return np.diag(lam) if P is None else (P * lam) @ P.T


def haar(d: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def draw_training_set(lam: NDArray[np.float64], P: NDArray[np.float64] | None, N: int,
                      ss: np.random.SeedSequence, rotate: bool) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """The training set of :func:`lindiff.exact.draw_data` (validated arguments) and the rotation O (or None).

    Sigma's eigenvectors in the basis of X are ``O @ P`` (``O`` when P is None, i.e. Sigma diagonal).
    """
    d = lam.size
    Z = np.random.default_rng(ss).standard_normal((d, N))
    X = np.sqrt(lam)[:, None] * Z if P is None else (P * np.sqrt(lam)) @ (P.T @ Z)
    O = None
    if rotate:
        O = haar(d, np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (0,))))
        X = O @ X
    return X, O
