"""Generators the transition scan understands: the Merger & Goldt linear model and any user's sampler.

A *memorization model* (what :func:`lindiff.memorization.transition` needs for one N) has

- ``d`` and ``sigma`` (the data scale used by the KDE bandwidth),
- ``sample_data(n, seed)``: fresh points of the data law, one per row (the reference set),
- ``data_law``: the data law as a Gaussian tuple ``(mean, (eigenvalues, eigenvectors))``, or None,
- ``fit(seed)``: a training set and what was generated from it: an object with ``train`` (N, d)
  and ``generated`` (a Gaussian tuple for the closed form, or samples (n, d) for Monte Carlo),
  optionally ``kl_fwd``, ``kl_rev``, ``hellinger2`` (the individual distances to the data law).

:class:`~lindiff.memorization.OneStepModel`, :class:`LinearDiffusionModel` and
:class:`GeneratorModel` all are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import exact
from .._random import seed_sequence
from .._validation import positive_int, positive_scalar
from ..schedule import Schedule
from ..spectrum import Spectrum
from ._criterion import _Gaussian, _points

__all__ = ["GeneratedFit", "GeneratorModel", "LinearDiffusionModel"]


@dataclass(frozen=True, eq=False)
class GeneratedFit:
    """A training set and what a generator made of it.

    Attributes
    ----------
    train : ndarray (N, d)
    generated : tuple or ndarray
        ``(mean, (eigenvalues, eigenvectors))`` for a Gaussian p_gen, or samples (n, d).
    kl_fwd, kl_rev : float
        KL(p_gen || p)/d and KL(p || p_gen)/d against the data law (NaN when unknown, i.e. for samples).
    hellinger2 : float
        H^2(p_gen, p) (NaN when unknown).
    """

    train: NDArray[np.float64]
    generated: Any
    kl_fwd: float = math.nan
    kl_rev: float = math.nan
    hellinger2: float = math.nan


def _gaussian_fit(train: NDArray[np.float64], gen: _Gaussian, law: _Gaussian) -> GeneratedFit:
    kl_f, kl_r, h2 = gen.distances(law)
    d = gen.mean.size
    return GeneratedFit(train=train, generated=(gen.mean, (gen.evals, gen.evecs)),
                        kl_fwd=kl_f / d, kl_rev=kl_r / d, hellinger2=h2)


class LinearDiffusionModel:
    """The Merger & Goldt linear diffusion model as a memorization model: p_gen = N(0, Sigma_gen).

    Training sets ``X ~ N(0, Sigma)`` (:func:`lindiff.exact.draw_data`); the denoisers of every
    diffusion time are trained to ``eta_tau`` (infinite: the least-squares minimiser) and the
    sampler's exact covariance is ``Sigma_gen = sum_i gamma_i v_i v_i^T``
    (:func:`lindiff.exact.sigma_gen`), rank min(N, d) for the pinned sampler at c = 0.

    Parameters
    ----------
    spectrum : Spectrum
        The population spectrum (Sigma diagonal in the data basis).
    N : int
    schedule : Schedule, optional
        Default ``Schedule.linear(T=1000)``.
    c, eta_tau, sampler
        As in :func:`lindiff.exact.sigma_gen`.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.memorization import LinearDiffusionModel
    >>> model = LinearDiffusionModel(lindiff.Spectrum.powerlaw(6, k=1.0), N=4)
    >>> fit = model.fit(seed=0)
    >>> fit.train.shape, int((fit.generated[1][0] > 0).sum()), fit.hellinger2   # on span(X)
    ((4, 6), 4, 1.0)
    """

    def __init__(self, spectrum: Spectrum, N: int, schedule: Schedule | None = None, *, c: float = 0.0,
                 eta_tau: float = math.inf, sampler: str = "ddpm") -> None:
        if not isinstance(spectrum, Spectrum):
            raise ValueError(f"spectrum must be a lindiff.Spectrum (got {type(spectrum).__name__})")
        if spectrum.is_weighted:
            raise ValueError("spectrum must list every eigenvalue (a weighted spectrum has no finite-d data law)")
        self.spectrum = spectrum
        self.N = positive_int("N", N)
        self.schedule = Schedule.linear(T=1000) if schedule is None else schedule
        if not isinstance(self.schedule, Schedule):
            raise ValueError(f"schedule must be a lindiff.Schedule (got {type(schedule).__name__})")
        self.c = float(c)
        self.eta_tau = float(eta_tau)
        self.sampler = sampler
        self.d = int(spectrum.d)
        self.sigma = math.sqrt(spectrum.trace / self.d)

    @property
    def data_law(self) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """N(0, Sigma) as ``(mean, (eigenvalues, eigenvectors))``."""
        return np.zeros(self.d), (np.asarray(self.spectrum.eigenvalues, dtype=np.float64), np.eye(self.d))

    def sample_data(self, n: int, seed: int | np.random.SeedSequence = 0) -> NDArray[np.float64]:
        """n fresh points of N(0, Sigma), one per row."""
        X, _ = exact.draw_data(self.spectrum, positive_int("n", n), seed_sequence(seed))
        return np.ascontiguousarray(X.T)

    def with_N(self, N: int) -> LinearDiffusionModel:
        """The same model with another number of training points."""
        return LinearDiffusionModel(self.spectrum, N, self.schedule, c=self.c, eta_tau=self.eta_tau,
                                    sampler=self.sampler)

    def fit(self, seed: int | np.random.SeedSequence = 0) -> GeneratedFit:
        """A seeded training set and the exact Gaussian law of the trained sampler."""
        X, _ = exact.draw_data(self.spectrum, self.N, seed_sequence(seed))
        smp = exact.SampleSpectrum.from_data(X, self.spectrum)
        gamma = exact.sigma_gen(smp, self.schedule, self.c, self.eta_tau, self.sampler)[0]
        assert smp.vectors is not None
        keep = gamma > 0
        gen = _Gaussian(mean=np.zeros(self.d), evals=np.ascontiguousarray(gamma[keep]),
                        evecs=np.ascontiguousarray(smp.vectors[:, keep]))
        mean, (lam, V) = self.data_law
        return _gaussian_fit(np.ascontiguousarray(X.T), gen, _Gaussian(mean=mean, evals=lam, evecs=V))

    def __repr__(self) -> str:
        return f"LinearDiffusionModel(d={self.d}, N={self.N}, c={self.c:g}, eta_tau={self.eta_tau:g}, sampler={self.sampler!r})"


class GeneratorModel:
    """Any generator as a memorization model: a data sampler and a train-then-sample callable.

    Parameters
    ----------
    data : callable (n, rng) -> array (n, d)
        Draws n points of the data law with the ``numpy.random.Generator`` it is given.
    generator : callable (train, n, rng) -> array (n, d)
        Trains on ``train`` (N, d) and returns n samples, using the generator it is given (your
        U-net, a kernel density, anything).  Its samples go to the Monte Carlo form of the criterion.
    N : int
    n_samples : int
        Samples per training set (default 4096).
    sigma : float
        The data scale for the bandwidth (default: estimated once from 10^4 points of ``data``).

    Both callables must be picklable (module-level functions) to run with a process pool.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.memorization import GeneratorModel
    >>> data = lambda n, rng: rng.normal(size=(n, 3))
    >>> copier = lambda train, n, rng: train[rng.integers(0, len(train), n)]   # memorizes
    >>> fit = GeneratorModel(data, copier, N=5, n_samples=10, sigma=1.0).fit(seed=1)
    >>> fit.train.shape, fit.generated.shape
    ((5, 3), (10, 3))
    """

    def __init__(self, data: Callable[[int, np.random.Generator], Any],
                 generator: Callable[[NDArray[np.float64], int, np.random.Generator], Any],
                 N: int, *, n_samples: int = 4096, sigma: float | None = None) -> None:
        if not callable(data) or not callable(generator):
            raise ValueError("data and generator must be callables")
        self._data, self._generator = data, generator
        self.N = positive_int("N", N)
        self.n_samples = positive_int("n_samples", n_samples, 2)
        probe = self.sample_data(2 if sigma is not None else 10_000, np.random.SeedSequence(0, spawn_key=(0x5C,)))
        self.d = int(probe.shape[1])
        if sigma is None:
            sigma = math.sqrt(float(np.mean(np.var(probe, axis=0, ddof=1))))
        self.sigma = positive_scalar("sigma", sigma)

    data_law = None

    def sample_data(self, n: int, seed: int | np.random.SeedSequence = 0) -> NDArray[np.float64]:
        """n points of the data law (rows), from ``data(n, rng)``."""
        n = positive_int("n", n)
        out = _points("data(n, rng) output", self._data(n, np.random.default_rng(seed_sequence(seed))))
        if out.shape[0] != n:
            raise ValueError(f"data(n, rng) must return n = {n} rows (got shape {out.shape})")
        return out

    def with_N(self, N: int) -> GeneratorModel:
        """The same generator with another number of training points."""
        return GeneratorModel(self._data, self._generator, N, n_samples=self.n_samples, sigma=self.sigma)

    def fit(self, seed: int | np.random.SeedSequence = 0) -> GeneratedFit:
        """A training set from ``data`` (child 0 of the seed) and samples of ``generator`` (child 1)."""
        ss = seed_sequence(seed)
        train = self.sample_data(self.N, np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (0,)))
        rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (1,)))
        samples = _points("generator output", self._generator(train, self.n_samples, rng), self.d)
        return GeneratedFit(train=train, generated=samples)

    def __repr__(self) -> str:
        return f"GeneratorModel(d={self.d}, N={self.N}, n_samples={self.n_samples}, sigma={self.sigma:.6g})"
