"""Finite-sample closed forms given ONE training set (spec §2).

Everything the linear diffusion model does with a training set ``X`` (d x N, columns are
samples) depends on the sample covariance ``C = X X^T / N = sum_i s_i v_i v_i^T`` only through
its eigenvalues ``s_i`` and the overlaps ``o_i = v_i^T Sigma v_i``, ``õ_i = v_i^T Sigma^-1 v_i``
with the population covariance Sigma. A :class:`SampleSpectrum` holds these; the functions below
turn them into exact (not asymptotic) losses, sampling covariances and KL divergences:

- :func:`losses`: per-dimension test / train / data losses for each diffusion time t and
  training time eta*tau (gradient flow from W = 0, or explicit GD), and the population optimum;
- :func:`denoiser`: the eigenvalues ``w_i = b_t phi_t(s_i)`` of the trained W_t;
- :func:`sigma_gen`: the eigenvalues ``gamma_i`` of the sampling covariance Sigma_gen;
- :func:`kl`, :func:`kl_gamma`: the exact Gaussian KL per dimension, both directions;
- :func:`denoiser_distance`, :func:`dense_test_loss`: for any dense denoiser W.

These are what simulations validate against and what the deterministic-equivalent theory
(:mod:`lindiff.theory`) converges to as d, N -> inf.

Examples
--------
>>> import numpy as np, lindiff
>>> from lindiff import exact
>>> spec = lindiff.Spectrum.powerlaw(50, k=1.0)
>>> smp = exact.SampleSpectrum.draw(spec, N=100, seed=0)
>>> res = exact.losses(smp, t=[10, 500])
>>> res.test.shape                                  # (len(eta_tau), len(t))
(1, 2)
>>> bool(np.all(res.test >= res.optimum))           # no predictor beats the population optimum
True
>>> out = exact.kl(smp, lindiff.Schedule.linear(T=1000))
>>> bool(out.fwd[0] > 0 and out.rev[0] > 0)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._random import (
    Population,
    draw_training_set,
    population_eigen,
    population_matrix,
    seed_sequence,
)
from ._validation import choice, flag, nonneg_scalar, positive_int, real_array
from .schedule import Schedule
from .theory.sampler import SAMPLERS, sampler_gamma, training_time

__all__ = [
    "ExactKL",
    "ExactLosses",
    "SampleSpectrum",
    "dense_test_loss",
    "denoiser",
    "denoiser_distance",
    "draw_data",
    "kl",
    "kl_gamma",
    "losses",
    "sigma_gen",
]


def draw_data(
    population: Population, N: int, seed: int | np.random.SeedSequence, *, rotate: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A seeded training set ``X = Sigma^1/2 Z`` (d x N) and its population covariance.

    ``Z`` (d x N, i.i.d. standard normal) comes from
    ``numpy.random.default_rng(numpy.random.SeedSequence(seed))``; with ``rotate=True`` the
    population is turned into a Haar-random basis, ``Sigma -> O Sigma O^T``, with O drawn from
    the first child ``SeedSequence(seed).spawn(1)[0]``, so that Z is the same with and without
    the rotation.

    Parameters
    ----------
    population : Spectrum, 1-d array (the diagonal of Sigma) or d x d SPD matrix
    N : int
        Number of samples (columns), >= 1.
    seed : int >= 0 or numpy.random.SeedSequence
    rotate : bool

    Returns
    -------
    X : ndarray, shape (d, N)
    sigma : ndarray, shape (d, d)
        The population covariance in the basis of X.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.exact import draw_data
    >>> X, S = draw_data(lindiff.Spectrum.powerlaw(4, k=1.0), N=3, seed=1)
    >>> X.shape, S.shape
    ((4, 3), (4, 4))
    """
    N = positive_int("N", N)
    flag("rotate", rotate)
    lam, P = population_eigen(population)
    X, O = draw_training_set(lam, P, N, seed_sequence(seed), bool(rotate))
    sigma = np.diag(lam) if P is None else (P * lam) @ P.T
    if O is not None:
        sigma = O @ sigma @ O.T
        sigma = 0.5 * (sigma + sigma.T)
    return X, sigma


def _readonly(a: ArrayLike) -> NDArray[np.float64]:
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


# ---------------------------------------------------------------------- the sample spectrum
@dataclass(frozen=True, eq=False)
class SampleSpectrum:
    """Eigen-data of one training set's covariance C, relative to the population Sigma.

    All arrays have shape (d,) and are indexed by the eigenpairs (s_i, v_i) of C, with s sorted
    in decreasing order. Build it with :meth:`from_data` or :meth:`draw`, or directly from
    eigen-data (e.g. from a simulation that keeps only these).

    Attributes
    ----------
    s : ndarray
        Eigenvalues of C, >= 0. C = X X^T / N (spec convention: no centring), or with
        ``centred`` the unbiased ``(X - xbar)(X - xbar)^T / (N - 1)``. Eigenvalues of C's null
        space (rank(C) < d, e.g. N < d) are exactly 0.
    o : ndarray
        ``o_i = v_i^T Sigma v_i`` (> 0).
    o_inv : ndarray
        ``õ_i = v_i^T Sigma^-1 v_i`` (> 0).
    population : ndarray
        Eigenvalues lambda_nu of Sigma, decreasing (> 0).
    N : int
        Number of samples.
    centred : bool
        The spec's alternative: centred C with N - 1 degrees of freedom and a learned mean xbar.
        The model then predicts from ``x_t - a_t xbar`` and the sampler adds xbar back; C
        (normalised by N - 1) replaces X X^T / N in the objective and the train loss.
    mean_coords : ndarray
        ``V^T xbar``, the learned mean in C's eigenbasis (zeros unless ``centred``).
    mean_quad_inv : float
        ``xbar^T Sigma^-1 xbar`` (0 unless ``centred``).
    vectors : ndarray (d, d) or None
        The eigenvectors v_i as columns, in the basis of X (needed only by :meth:`matrix`).

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff.exact import SampleSpectrum
    >>> smp = SampleSpectrum.draw(lindiff.Spectrum.powerlaw(6, k=1.0), N=4, seed=3)
    >>> smp.d, smp.N, smp.rank                   # N < d: a null space of dimension 2
    (6, 4, 4)
    >>> bool(np.isclose(smp.o.sum(), 6.0))      # sum_i o_i = Tr Sigma
    True
    """

    s: NDArray[np.float64]
    o: NDArray[np.float64]
    o_inv: NDArray[np.float64]
    population: NDArray[np.float64]
    N: int
    centred: bool = False
    mean_coords: NDArray[np.float64] | None = None
    mean_quad_inv: float = 0.0
    vectors: NDArray[np.float64] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        s = real_array("s", self.s, ndim=1)
        d = s.size
        if d == 0:
            raise ValueError("s must not be empty")
        if np.any(s < 0):
            raise ValueError("s (eigenvalues of C) must be >= 0")
        arrays = {"s": s}
        for name in ("o", "o_inv", "population"):
            a = real_array(name, getattr(self, name), ndim=1)
            if a.shape != (d,):
                raise ValueError(f"{name} must have shape ({d},) like s (got {a.shape})")
            if not np.all(a > 0):
                raise ValueError(f"{name} must be > 0 everywhere")
            arrays[name] = a
        arrays["population"] = np.sort(arrays["population"])[::-1]
        mc = np.zeros(d) if self.mean_coords is None else real_array("mean_coords", self.mean_coords, ndim=1)
        if mc.shape != (d,):
            raise ValueError(f"mean_coords must have shape ({d},) (got {mc.shape})")
        arrays["mean_coords"] = mc
        for name, a in arrays.items():
            object.__setattr__(self, name, _readonly(a))
        object.__setattr__(self, "N", positive_int("N", self.N))
        flag("centred", self.centred)
        object.__setattr__(self, "centred", bool(self.centred))
        if self.centred and self.N < 2:
            raise ValueError("N must be >= 2 with centred=True")
        object.__setattr__(self, "mean_quad_inv", nonneg_scalar("mean_quad_inv", self.mean_quad_inv))
        if not self.centred and (np.any(mc != 0) or self.mean_quad_inv != 0):
            raise ValueError("mean_coords and mean_quad_inv must be zero unless centred=True")
        if self.vectors is not None:
            V = real_array("vectors", self.vectors, ndim=2)
            if V.shape != (d, d):
                raise ValueError(f"vectors must have shape ({d}, {d}) (got {V.shape})")
            object.__setattr__(self, "vectors", _readonly(V))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_data(
        cls,
        X: ArrayLike,
        population: Population,
        *,
        centred: bool = False,
        rtol: float | None = None,
        keep_vectors: bool = True,
    ) -> SampleSpectrum:
        """Eigen-data of a training set X (d x N, columns are samples) against Sigma.

        Parameters
        ----------
        X : array_like, shape (d, N)
            The training set, **one sample per column** (the spec's convention; note that
            :meth:`lindiff.Spectrum.from_data` takes rows as samples).
        population : Spectrum, 1-d array (the diagonal of Sigma) or d x d SPD matrix
            The population covariance Sigma in the basis of X.
        centred : bool
            Use the centred, unbiased covariance and a learned mean (see the class docstring).
        rtol : float, optional
            Eigenvalues of C at or below ``rtol * max(s)`` are set to exactly 0 (C's null space).
            Default ``4 * max(d, N) * machine epsilon``.
        keep_vectors : bool
            Keep the eigenvectors (d x d) for :meth:`matrix`.

        Examples
        --------
        >>> import numpy as np
        >>> from lindiff.exact import SampleSpectrum
        >>> X = np.array([[1.0, -1.0], [0.0, 2.0], [1.0, 1.0]])
        >>> smp = SampleSpectrum.from_data(X, np.ones(3))
        >>> smp.s.round(6), smp.rank
        (array([3., 1., 0.]), 2)
        """
        lam, P = population_eigen(population)
        d = lam.size
        Xa = real_array("X", X, ndim=2)
        if Xa.shape[0] != d:
            raise ValueError(f"X must have shape (d, N) with d = {d} rows, one sample per column (got {Xa.shape})")
        N = Xa.shape[1]
        if N < 1:
            raise ValueError("X must have at least one column (sample)")
        flag("centred", centred)
        if centred and N < 2:
            raise ValueError("X must have at least 2 columns with centred=True")
        if centred:
            xbar = Xa.mean(axis=1)
            Xc = Xa - xbar[:, None]
            C = Xc @ Xc.T / (N - 1)
        else:
            xbar = None
            C = Xa @ Xa.T / N
        s, V = np.linalg.eigh(0.5 * (C + C.T))
        return cls._from_eigh(s[::-1], V[:, ::-1], lam, P, N, centred=bool(centred), xbar=xbar, rtol=rtol,
                              keep_vectors=keep_vectors)

    @classmethod
    def from_eigh(
        cls,
        s: ArrayLike,
        V: ArrayLike,
        population: Population,
        N: int,
        *,
        centred: bool = False,
        xbar: ArrayLike | None = None,
        rtol: float | None = None,
        keep_vectors: bool = True,
    ) -> SampleSpectrum:
        """Eigen-data from an eigendecomposition ``C = V diag(s) V^T`` already computed.

        The one place where (s, V) become overlaps: :meth:`from_data` and
        :func:`lindiff.simulate.ensemble` (which eigendecomposes many C at once) both end here.

        Parameters
        ----------
        s : array_like, shape (d,)
            Eigenvalues of C in decreasing order.
        V : array_like, shape (d, d)
            The eigenvectors as columns, ``V[:, i]`` for ``s[i]``, in the basis of X.
        population : Spectrum, 1-d array (the diagonal of Sigma) or d x d SPD matrix
            The population covariance Sigma in the basis of X.
        N : int
            Number of samples behind C.
        centred : bool
            C is the centred covariance ``(X - xbar)(X - xbar)^T / (N - 1)``; then ``xbar`` is required.
        xbar : array_like, shape (d,), optional
            The sample mean (with ``centred`` only).
        rtol : float, optional
            Eigenvalues at or below ``rtol * max(s)`` are set to exactly 0. Default
            ``4 * max(d, N) * machine epsilon``.
        keep_vectors : bool
            Keep V for :meth:`matrix`.

        Examples
        --------
        >>> import numpy as np
        >>> from lindiff.exact import SampleSpectrum
        >>> X = np.array([[1.0, -1.0], [0.0, 2.0], [1.0, 1.0]])
        >>> s, V = np.linalg.eigh(X @ X.T / 2)
        >>> smp = SampleSpectrum.from_eigh(s[::-1], V[:, ::-1], np.ones(3), N=2)
        >>> bool(np.allclose(smp.s, SampleSpectrum.from_data(X, np.ones(3)).s))
        True
        """
        lam, P = population_eigen(population)
        d = lam.size
        sa = real_array("s", s, ndim=1)
        Va = real_array("V", V, ndim=2)
        if sa.shape != (d,) or Va.shape != (d, d):
            raise ValueError(f"s and V must have shapes ({d},) and ({d}, {d}) like the population "
                             f"(got {sa.shape} and {Va.shape})")
        if np.any(np.diff(sa) > 0):
            raise ValueError("s must be in decreasing order (V's columns in the same order)")
        N = positive_int("N", N)
        flag("centred", centred)
        xb = None
        if centred:
            if xbar is None:
                raise ValueError("xbar (the sample mean) is required with centred=True")
            xb = real_array("xbar", xbar, ndim=1)
            if xb.shape != (d,):
                raise ValueError(f"xbar must have shape ({d},) (got {xb.shape})")
        elif xbar is not None:
            raise ValueError("xbar must be None unless centred=True")
        return cls._from_eigh(sa, Va, lam, P, N, centred=bool(centred), xbar=xb, rtol=rtol, keep_vectors=keep_vectors)

    @classmethod
    def _from_eigh(
        cls,
        s: NDArray[np.float64],
        V: NDArray[np.float64],
        lam: NDArray[np.float64],
        P: NDArray[np.float64] | None,
        N: int,
        *,
        centred: bool,
        xbar: NDArray[np.float64] | None,
        rtol: float | None,
        keep_vectors: bool,
    ) -> SampleSpectrum:
        """:meth:`from_eigh` for validated arrays; Sigma = P diag(lam) P^T in X's basis (P None: diagonal)."""
        d = lam.size
        if rtol is None:
            rtol = 4.0 * max(d, N) * np.finfo(np.float64).eps
        rtol = nonneg_scalar("rtol", rtol)
        s = np.array(s, dtype=np.float64, copy=True)
        smax = max(float(s[0]), 0.0)
        s[s <= rtol * smax] = 0.0
        # overlaps through Sigma's eigenbasis: o_i = sum_nu lambda_nu (p_nu . v_i)^2
        Vp = V if P is None else P.T @ V
        sq = Vp * Vp
        o = lam @ sq
        o_inv = (1.0 / lam) @ sq
        mean_coords, mean_quad_inv = None, 0.0
        if xbar is not None:
            mean_coords = V.T @ xbar
            xp = xbar if P is None else P.T @ xbar
            mean_quad_inv = float(np.sum(xp * xp / lam))
        return cls(s=s, o=o, o_inv=o_inv, population=lam, N=N, centred=bool(centred), mean_coords=mean_coords,
                   mean_quad_inv=mean_quad_inv, vectors=np.ascontiguousarray(V) if keep_vectors else None)

    @classmethod
    def draw(
        cls,
        population: Population,
        N: int,
        seed: int | np.random.SeedSequence,
        *,
        rotate: bool = False,
        centred: bool = False,
        keep_vectors: bool = True,
    ) -> SampleSpectrum:
        """Draw a training set with :func:`draw_data` and return its eigen-data.

        Examples
        --------
        >>> import lindiff
        >>> from lindiff.exact import SampleSpectrum
        >>> a = SampleSpectrum.draw(lindiff.Spectrum.powerlaw(20, k=1.0), N=40, seed=7)
        >>> b = SampleSpectrum.draw(lindiff.Spectrum.powerlaw(20, k=1.0), N=40, seed=7)
        >>> bool((a.s == b.s).all())                 # seeded: reproducible
        True
        """
        X, sigma = draw_data(population, N, seed, rotate=rotate)
        return cls.from_data(X, sigma if rotate else population, centred=centred, keep_vectors=keep_vectors)

    # ------------------------------------------------------------------ derived
    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.s.size)

    @property
    def dof(self) -> int:
        """Degrees of freedom of C: N, or N - 1 when centred."""
        return self.N - 1 if self.centred else self.N

    @property
    def rank(self) -> int:
        """Number of non-zero eigenvalues of C."""
        return int(np.count_nonzero(self.s))

    @property
    def logdet(self) -> float:
        """``sum_nu log lambda_nu = log det Sigma``."""
        return float(np.sum(np.log(self.population)))

    @property
    def o_test(self) -> NDArray[np.float64]:
        """Overlaps seen by the test loss: ``o_i`` plus ``(v_i^T xbar)^2`` with a learned mean."""
        return self.o + self.mean_coords**2 if self.centred else self.o

    def matrix(self, values: ArrayLike) -> NDArray[np.float64]:
        """The dense matrix ``sum_i values_i v_i v_i^T`` (batched over leading axes of ``values``).

        Examples
        --------
        >>> import numpy as np, lindiff
        >>> from lindiff.exact import SampleSpectrum, draw_data
        >>> X, S = draw_data(lindiff.Spectrum.powerlaw(5, k=1.0), N=8, seed=2)
        >>> smp = SampleSpectrum.from_data(X, S)
        >>> bool(np.allclose(smp.matrix(smp.s), X @ X.T / 8))
        True
        """
        if self.vectors is None:
            raise ValueError("this SampleSpectrum has no eigenvectors (built with keep_vectors=False)")
        v = real_array("values", values)
        if v.ndim == 0 or v.shape[-1] != self.d:
            raise ValueError(f"values must have a last axis of length d = {self.d} (got shape {v.shape})")
        V = self.vectors
        return (V * v[..., None, :]) @ V.T      # batched GEMM (an einsum here is a slow triple loop)


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class ExactLosses:
    """Exact per-dimension losses of one training set (spec §2), without the penalty.

    Arrays ``test, train, data_noise, data_ridge`` have shape ``(len(eta_tau), len(t))``;
    ``optimum`` has shape ``(len(t),)``; ``.mean(axis=-1)`` of a loss is its t-average when ``t``
    covers 1..T.

    Attributes
    ----------
    t : ndarray of int
        Diffusion times (1-based).
    eta_tau : ndarray
        Training times (inf: the minimiser).
    test : ndarray
        ``E ||eps - W_t x_t||^2 / d`` for fresh x_0 ~ N(0, Sigma) and eps.
    train : ndarray
        The same over the training set, noise averaged (the objective without the penalty).
    data_noise : ndarray
        ``(b_t^2 / a_t^2) * test``: the test error of x_0 reconstructed from the noise predictor.
    data_ridge : ndarray
        Test error ``(1/d){Tr[(I - a U) Sigma (I - a U)^T] + b^2 Tr U U^T}`` of a separately
        trained ridge data predictor ``x0_hat = U x_t``, trained like W (same c, same eta*tau,
        gradient flow / GD from 0): ``U = a C phi_t(C)``, ``U* = a C (a^2 C + (b^2 + c) I)^-1``
        at eta*tau = inf.
    optimum : ndarray
        Population optimum ``(1/d) sum_nu a^2 lambda_nu / (a^2 lambda_nu + b^2)`` (N = inf, c = 0).
    c : float
    gd_eta : float or None
    """

    t: NDArray[np.int64]
    eta_tau: NDArray[np.float64]
    test: NDArray[np.float64]
    train: NDArray[np.float64]
    data_noise: NDArray[np.float64]
    data_ridge: NDArray[np.float64]
    optimum: NDArray[np.float64]
    c: float
    gd_eta: float | None


@dataclass(frozen=True, eq=False)
class ExactKL:
    """Exact KL per dimension between N(0, Sigma_gen) (plus the learned mean) and N(0, Sigma).

    Attributes
    ----------
    fwd : ndarray, shape (len(eta_tau),)
        ``KL(gen || data) / d``.
    rev : ndarray, shape (len(eta_tau),)
        ``KL(data || gen) / d``.
    gamma : ndarray, shape (len(eta_tau), d)
        Eigenvalues of Sigma_gen in C's eigenbasis.
    eta_tau : ndarray
    sampler : str
    c : float
    gd_eta : float or None
    """

    fwd: NDArray[np.float64]
    rev: NDArray[np.float64]
    gamma: NDArray[np.float64]
    eta_tau: NDArray[np.float64]
    sampler: str
    c: float
    gd_eta: float | None


# ---------------------------------------------------------------------- losses
def _check_sample(sample: object) -> SampleSpectrum:
    if not isinstance(sample, SampleSpectrum):
        raise ValueError(f"sample must be a lindiff.exact.SampleSpectrum (got {type(sample).__name__})")
    return sample


def _check_schedule(schedule: object) -> Schedule:
    schedule = Schedule.linear() if schedule is None else schedule
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule")
    return schedule


def _times(schedule: Schedule, t: ArrayLike | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    if t is None:
        idx = np.arange(schedule.T)
    else:
        idx = np.atleast_1d(schedule.index(t))
        if idx.ndim != 1:
            raise ValueError(f"t must be an integer or a 1-d array of integers (got shape {np.shape(t)})")
    return idx + 1, idx


def _phi_and_decay(m: NDArray[np.float64], et: float, eta: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``phi = (1 - E)/m`` and the decay factor E = exp(-2 eta tau m) or (1 - 2 eta m)^n (0 at tau = inf).

    The same conventions as the kernel's sampler map (see :func:`lindiff.theory.sampler_gamma`):
    1 - E is formed with expm1 / log1p, without cancellation.
    """
    if np.isinf(et):
        return 1.0 / m, np.zeros_like(m)
    if eta > 0:
        n = float(np.round(et / eta))
        x = 2.0 * eta * m
        stable = x < 1.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            y = n * np.log1p(-np.where(stable, x, 0.0))
            E = np.where(stable, np.exp(y), (1.0 - x) ** n)
            one_minus = np.where(stable, -np.expm1(y), 1.0 - E)
        return one_minus / m, E
    y = -2.0 * et * m
    return -np.expm1(y) / m, np.exp(y)


def denoiser(
    sample: SampleSpectrum,
    schedule: Schedule | None = None,
    c: float = 0.0,
    t: ArrayLike | None = None,
    eta_tau: ArrayLike = np.inf,
    *,
    gd_eta: float | None = None,
) -> NDArray[np.float64]:
    """Eigenvalues ``w_i = b_t phi_t(s_i)`` of the trained noise predictor W_t in C's eigenbasis.

    ``phi_t(s) = 1/m_t(s)`` (minimiser, eta*tau = inf), ``(1 - exp(-2 eta tau m_t))/m_t``
    (gradient flow from W = 0) or ``(1 - (1 - 2 eta m_t)^n)/m_t`` (``gd_eta = eta``, n = eta*tau/eta
    steps), with ``m_t(s) = a_t^2 s + b_t^2 + c``. In C's null space with c = 0 the minimiser has
    ``w = 1/b_t`` (memorisation).

    Returns
    -------
    ndarray, shape (len(eta_tau), len(t), d)

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact
    >>> smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(6, k=1.0), N=4, seed=0)
    >>> sch = lindiff.Schedule.linear()
    >>> w = exact.denoiser(smp, sch, t=5)
    >>> bool(np.isclose(w[0, 0, -1], 1 / sch.b[4]))   # null space: w = 1/b
    True
    """
    sample = _check_sample(sample)
    schedule = _check_schedule(schedule)
    c = nonneg_scalar("c", c)
    et, eta = training_time(eta_tau, gd_eta)
    _, idx = _times(schedule, t)
    m = schedule.a2[idx, None] * sample.s + (schedule.b2[idx, None] + c)
    b = schedule.b[idx, None]
    return np.stack([b * _phi_and_decay(m, e, eta)[0] for e in et])


def losses(
    sample: SampleSpectrum,
    schedule: Schedule | None = None,
    c: float = 0.0,
    t: ArrayLike | None = None,
    eta_tau: ArrayLike = np.inf,
    *,
    gd_eta: float | None = None,
) -> ExactLosses:
    """Exact per-dimension losses of W_t trained on one training set (spec §2).

    With ``w_i = b phi_i`` (see :func:`denoiser`) and ``o_i`` the overlaps:

    - ``test  = (1/d) sum_i [(1 - b w_i)^2 + a^2 w_i^2 o_i]``;
    - ``train = (1/d) sum_i [(1 - b w_i)^2 + a^2 w_i^2 s_i]``;
    - ``data_noise = (b^2/a^2) test``; ``data_ridge = (1/d) sum_i [(1 - a u_i)^2 o_i + b^2 u_i^2]``
      with ``u_i = a s_i phi_i``; ``optimum = (1/d) sum_nu a^2 lambda_nu / (a^2 lambda_nu + b^2)``.

    ``1 - b w_i = (a^2 s_i + c + b^2 E_i)/m_i`` and ``1 - a u_i = (b^2 + c + a^2 s_i E_i)/m_i``
    (E the decay factor) are used, so nothing cancels at small t. With a learned mean
    (``sample.centred``) the test losses use ``o_i + (v_i^T xbar)^2`` (:attr:`SampleSpectrum.o_test`).

    Parameters
    ----------
    sample : SampleSpectrum
    schedule : Schedule, optional
        Default ``Schedule.linear()``.
    c : float
        Ridge penalty c >= 0 of the objective.
    t : int or 1-d array of int, optional
        Diffusion times in 1..T (default: all).
    eta_tau : float or 1-d array
        Training times > 0 (inf: the minimiser).
    gd_eta : float, optional
        Explicit gradient descent with this step (eta_tau must be whole multiples of it).

    Returns
    -------
    ExactLosses
        Losses of shape (len(eta_tau), len(t)); ``optimum`` of shape (len(t),).

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact
    >>> smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(20, k=1.0), N=10, seed=0)
    >>> res = exact.losses(smp, t=[1, 100, 1000], eta_tau=[10.0, np.inf])
    >>> res.test.shape, res.optimum.shape
    ((2, 3), (3,))
    >>> bool(res.train[1, 0] < res.test[1, 0])            # N < d: memorisation at small t
    True
    """
    sample = _check_sample(sample)
    schedule = _check_schedule(schedule)
    c = nonneg_scalar("c", c)
    et, eta = training_time(eta_tau, gd_eta)
    tt, idx = _times(schedule, t)
    d = sample.d
    a2, b2 = schedule.a2[idx, None], schedule.b2[idx, None]
    s, o_test = sample.s, sample.o_test
    m = a2 * s + (b2 + c)
    out = {k: np.empty((et.size, idx.size)) for k in ("test", "train", "data_ridge")}
    live = s > 0  # s = 0 terms are formed as exact zeros (no 0 * inf when GD diverges)
    for j, e in enumerate(et):
        phi, E = _phi_and_decay(m, e, eta)
        with np.errstate(over="ignore", invalid="ignore"):
            sE = np.multiply(s, E, out=np.zeros_like(E), where=live)
            one_minus_bw = (a2 * s + c + b2 * E) / m
            one_minus_au = (b2 + c + a2 * sE) / m
            sig = a2 * b2 * phi**2 / d
            sig_s = np.multiply(sig, s, out=np.zeros_like(sig), where=live)
            noise = np.mean(one_minus_bw**2, axis=-1)
            out["test"][j] = noise + sig @ o_test
            out["train"][j] = noise + np.sum(sig_s, axis=-1)
            out["data_ridge"][j] = (one_minus_au**2) @ o_test / d + np.sum(
                np.multiply(sig_s, s, out=np.zeros_like(sig), where=live), axis=-1)
    q = (b2 / a2)[:, 0]
    lam = sample.population
    optimum = np.mean(a2 * lam / (a2 * lam + b2), axis=-1)
    return ExactLosses(t=tt, eta_tau=et, test=out["test"], train=out["train"], data_noise=q * out["test"],
                       data_ridge=out["data_ridge"], optimum=optimum, c=c, gd_eta=None if gd_eta is None else eta)


# ---------------------------------------------------------------------- sampler and KL
def sigma_gen(
    sample: SampleSpectrum,
    schedule: Schedule | None = None,
    c: float = 0.0,
    eta_tau: ArrayLike = np.inf,
    sampler: str = "ddpm",
    *,
    gd_eta: float | None = None,
) -> NDArray[np.float64]:
    """Eigenvalues gamma_i of the sampling covariance ``Sigma_gen = sum_i gamma_i v_i v_i^T``.

    ``gamma_i = lindiff.theory.sampler_gamma(s_i, schedule, c, eta_tau, sampler)``: the sampler
    with every W_t trained as in :func:`denoiser` maps N(0, I) at t = T to N(0, Sigma_gen). Use
    :meth:`SampleSpectrum.matrix` for the dense matrix. With a sampler whose last step adds no
    noise (sigma_1 = 0: the pinned ``ddpm``, ``beta_tilde``, ``deterministic``), c = 0 and
    eta*tau = inf, gamma = 0 exactly on C's null space.

    Returns
    -------
    ndarray, shape (len(eta_tau), d)

    Examples
    --------
    >>> import lindiff
    >>> from lindiff import exact
    >>> smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(6, k=1.0), N=4, seed=0)
    >>> g = exact.sigma_gen(smp)
    >>> g.shape, float(g[0, -1])                     # samples lie in span(X)
    ((1, 6), 0.0)
    """
    sample = _check_sample(sample)
    schedule = _check_schedule(schedule)
    choice("sampler", sampler, SAMPLERS)
    et, _ = training_time(eta_tau, gd_eta)
    return np.asarray(sampler_gamma(sample.s, schedule, c, et, sampler, gd_eta=gd_eta), dtype=np.float64)


def kl_gamma(sample: SampleSpectrum, gamma: ArrayLike) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    r"""Exact KL per dimension for ``Sigma_gen = sum_i gamma_i v_i v_i^T`` (spec §2).

    ``fwd = KL(N(0,Sigma_gen) || N(0,Sigma))/d = (1/2d)[sum_i gamma_i õ_i - d - sum_i log gamma_i + sum_nu log lambda_nu]``,
    ``rev = KL(N(0,Sigma) || N(0,Sigma_gen))/d = (1/2d)[sum_i o_i/gamma_i - d + sum_i log gamma_i - sum_nu log lambda_nu]``.
    With a learned mean (``sample.centred``) the generated mean is xbar, which adds
    ``xbar^T Sigma^-1 xbar / 2d`` to fwd and ``sum_i (v_i^T xbar)^2 / gamma_i / 2d`` to rev.

    Both are ``inf`` (never NaN) where some gamma_i = 0: Sigma_gen is singular (e.g. N < d,
    c = 0, eta*tau = inf and a sampler with sigma_1 = 0 such as the pinned ``ddpm``: samples lie
    in span(X)); likewise where some gamma_i = inf (a diverging gradient descent).

    Parameters
    ----------
    sample : SampleSpectrum
    gamma : array_like, shape (..., d)
        Eigenvalues of Sigma_gen (>= 0; inf allowed); any leading batch axes. ``gamma = sample.s``
        gives the KL of N(0, C) itself (the d/(4N) law, :func:`lindiff.theory.kl_wishart`).

    Returns
    -------
    (fwd, rev) : tuple of ndarray, shape gamma.shape[:-1] (floats for a 1-d gamma)

    Examples
    --------
    >>> import lindiff
    >>> from lindiff import exact
    >>> smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(10, k=1.0), N=400, seed=0)
    >>> fwd, rev = exact.kl_gamma(smp, smp.s)          # Sigma_gen = C: about (d + 1)/(4N)
    >>> bool(0 < fwd < 0.02 and 0 < rev < 0.02)
    True
    >>> exact.kl_gamma(smp, [0.0] + [1.0] * 9)         # a singular Sigma_gen
    (inf, inf)
    """
    sample = _check_sample(sample)
    g = np.asarray(gamma)
    if np.iscomplexobj(g) or g.dtype == object or not (np.issubdtype(g.dtype, np.integer) or np.issubdtype(g.dtype, np.floating)):
        raise ValueError(f"gamma must be a real array (got dtype {g.dtype})")
    g = g.astype(np.float64)
    if g.ndim == 0 or g.shape[-1] != sample.d:
        raise ValueError(f"gamma must have a last axis of length d = {sample.d} (got shape {g.shape})")
    if np.any(np.isnan(g)) or np.any(g < 0):
        raise ValueError("gamma (eigenvalues of Sigma_gen) must be >= 0, without NaN")
    d = sample.d
    # a zero (singular Sigma_gen) or an infinite gamma (overflow of a diverging GD) gives KL = inf
    singular = np.any((g == 0) | np.isinf(g), axis=-1)
    gs = np.where((g == 0) | np.isinf(g), 1.0, g)  # placeholders; those results are set to inf below
    logsum = np.sum(np.log(gs), axis=-1)
    fwd = (gs @ sample.o_inv - d - logsum + sample.logdet) / (2 * d)
    rev = (np.sum(sample.o / gs, axis=-1) - d + logsum - sample.logdet) / (2 * d)
    if sample.centred:
        fwd = fwd + sample.mean_quad_inv / (2 * d)
        rev = rev + np.sum(sample.mean_coords**2 / gs, axis=-1) / (2 * d)
    fwd = np.where(singular, np.inf, fwd)
    rev = np.where(singular, np.inf, rev)
    if fwd.ndim == 0:
        return float(fwd), float(rev)
    return fwd, rev


def kl(
    sample: SampleSpectrum,
    schedule: Schedule | None = None,
    c: float = 0.0,
    eta_tau: ArrayLike = np.inf,
    sampler: str = "ddpm",
    *,
    gd_eta: float | None = None,
) -> ExactKL:
    """Exact KL per dimension of the trained linear sampler, both directions (spec §2).

    :func:`sigma_gen` followed by :func:`kl_gamma`; ``inf`` (never NaN) where Sigma_gen is
    singular (N < d, c = 0, eta*tau = inf and sigma_1 = 0, e.g. the pinned ``ddpm`` sampler:
    samples lie in span(X)).

    Parameters
    ----------
    sample : SampleSpectrum
    schedule : Schedule, optional
        Default ``Schedule.linear()``.
    c : float
        Ridge penalty >= 0.
    eta_tau : float or 1-d array
        Training times > 0 (inf: the minimiser).
    sampler : {"ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"}
    gd_eta : float, optional
        Explicit gradient descent with this step.

    Returns
    -------
    ExactKL
        ``fwd``, ``rev`` of shape (len(eta_tau),) and ``gamma`` of shape (len(eta_tau), d).

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact
    >>> smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(6, k=1.0), N=4, seed=0)
    >>> out = exact.kl(smp, eta_tau=[100.0, np.inf])
    >>> bool(np.isfinite(out.fwd[0])), float(out.fwd[1]), float(out.rev[1])
    (True, inf, inf)
    """
    schedule = _check_schedule(schedule)
    c = nonneg_scalar("c", c)
    g = sigma_gen(sample, schedule, c, eta_tau, sampler, gd_eta=gd_eta)
    fwd, rev = kl_gamma(sample, g)
    et, eta = training_time(eta_tau, gd_eta)
    return ExactKL(fwd=fwd, rev=rev, gamma=g, eta_tau=et, sampler=sampler, c=c,
                   gd_eta=None if gd_eta is None else eta)


# ---------------------------------------------------------------------- dense denoisers
def _dense_args(W: ArrayLike, sigma: Population, a: float, b: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float, float]:
    S = population_matrix(sigma, "sigma")
    d = S.shape[0]
    Wa = real_array("W", W)
    if Wa.ndim < 2 or Wa.shape[-2:] != (d, d):
        raise ValueError(f"W must have shape (..., {d}, {d}) matching sigma (got {Wa.shape})")
    return Wa, S, nonneg_scalar("a", a), nonneg_scalar("b", b)


def dense_test_loss(W: ArrayLike, sigma: Population, a: float, b: float) -> NDArray[np.float64] | float:
    """Test loss per dimension of a dense noise predictor: ``E ||eps - W (a x_0 + b eps)||^2 / d``.

    ``= (1/d){Tr[(I - bW)(I - bW)^T] + a^2 Tr[W Sigma W^T]}`` for x_0 ~ N(0, Sigma).

    Parameters
    ----------
    W : array_like, shape (..., d, d)
        One denoiser or a batch.
    sigma : Spectrum, 1-d array (the diagonal) or d x d SPD matrix
    a, b : float
        Signal and noise scales a_t, b_t (>= 0).

    Returns
    -------
    float or ndarray of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.exact import dense_test_loss
    >>> dense_test_loss(np.zeros((3, 3)), np.ones(3), 0.6, 0.8)    # W = 0 predicts nothing
    1.0
    """
    Wa, S, a, b = _dense_args(W, sigma, a, b)
    d = S.shape[0]
    R = np.eye(d) - b * Wa
    val = (np.sum(R * R, axis=(-2, -1)) + a * a * np.einsum("...ij,jk,...ik->...", Wa, S, Wa)) / d
    return float(val) if val.ndim == 0 else val


def denoiser_distance(W: ArrayLike, sigma: Population, a: float, b: float) -> NDArray[np.float64] | float:
    """Distance of a dense denoiser from the population reference, ``E ||(W - W_ref) x_t||^2 / d``.

    ``W_ref = b (a^2 Sigma + b^2 I)^-1`` is the best linear noise predictor for x_0 ~ N(0, Sigma);
    ``x_t = a x_0 + b eps`` has covariance ``K = a^2 Sigma + b^2 I``, so the distance is
    ``Tr[(W - W_ref) K (W - W_ref)^T] / d``. It equals the excess test loss
    ``L_test(W) - L_test(W_ref)`` (spec §2; :func:`dense_test_loss`).

    Parameters
    ----------
    W : array_like, shape (..., d, d)
    sigma : Spectrum, 1-d array (the diagonal) or d x d SPD matrix
    a : float
        Signal scale a_t >= 0.
    b : float
        Noise scale b_t > 0.

    Returns
    -------
    float or ndarray of the batch shape

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.exact import denoiser_distance
    >>> a, b, lam = 0.6, 0.8, np.array([2.0, 0.5])
    >>> W_ref = np.diag(b / (a**2 * lam + b**2))
    >>> denoiser_distance(W_ref, lam, a, b)
    0.0
    """
    Wa, S, a, b = _dense_args(W, sigma, a, b)
    if b <= 0:
        raise ValueError(f"b must be > 0 (got {b!r})")
    d = S.shape[0]
    K = a * a * S + b * b * np.eye(d)
    D = Wa - b * np.linalg.inv(K)
    val = np.einsum("...ij,jk,...ik->...", D, K, D) / d
    return float(val) if val.ndim == 0 else val
