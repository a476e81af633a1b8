"""The linear DDPM sampler with given denoisers W_t, and what its samples say."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._display import html_table, text_table
from .._distances import nearest_rows
from .._random import population_matrix, seed_sequence
from .._validation import check_schedule, choice, positive_int, real_array
from ..backends import cuda_module, resolve_backend
from ..schedule import Schedule
from ..theory.sampler import SAMPLERS, sampler_sigma2
from ._common import philox_key
from ._model import LinearModel, square_stack
from ._train import TrainResult

__all__ = ["SampleResult", "gaussian_kl", "sample"]


def gaussian_kl(A: ArrayLike, B: ArrayLike) -> tuple[float, float]:
    """Per-dimension KL divergences between N(0, A) and N(0, B), both directions.

    ``fwd = KL(N(0,A) || N(0,B))/d = (1/2d) sum (mu - 1 - log mu)``, ``rev = (1/2d) sum (1/mu - 1 + log mu)``
    with mu the eigenvalues of ``B^-1/2 A B^-1/2``. ``inf`` (never NaN) when A or B is singular.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.simulate import gaussian_kl
    >>> fwd, rev = gaussian_kl(np.diag([2.0, 1.0]), np.eye(2))
    >>> bool(np.isclose(fwd, (1 - np.log(2)) / 4) and np.isclose(rev, (np.log(2) - 0.5) / 4))
    True
    """
    Aa, Ba = real_array("A", A, ndim=2), real_array("B", B, ndim=2)
    if Aa.shape != Ba.shape or Aa.shape[0] != Aa.shape[1]:
        raise ValueError(f"A and B must be square matrices of the same shape (got {Aa.shape}, {Ba.shape})")
    d = Aa.shape[0]
    lam, Q = np.linalg.eigh(0.5 * (Ba + Ba.T))
    if not lam[0] > lam[-1] * d * np.finfo(float).eps:
        return np.inf, np.inf
    Bh = Q / np.sqrt(lam)
    mu = np.linalg.eigvalsh(Bh.T @ (0.5 * (Aa + Aa.T)) @ Bh)
    if not mu[0] > mu[-1] * d * np.finfo(float).eps:
        return np.inf, np.inf
    return float(np.sum(mu - 1 - np.log(mu)) / (2 * d)), float(np.sum(1 / mu - 1 + np.log(mu)) / (2 * d))


@dataclass(frozen=True, eq=False)
class SampleResult:
    """Samples of the linear DDPM sampler and their statistics.

    Attributes
    ----------
    samples : ndarray, shape (d, n_samples)
        One sample per column, like a training set.
    covariance : ndarray (d, d)
        Empirical covariance ``U U^T / n`` (the mean is known to be 0).
    sigma_gen : ndarray (d, d)
        Exact covariance of the sampler's output for these W_t (:meth:`LinearModel.sigma_gen`).
    kl_fwd, kl_rev : float or None
        Empirical KL per dimension between N(0, covariance) and N(0, Sigma), both directions
        (None without a population covariance). Biased upward by about (d + 1)/(4 n).
    kl_fwd_gen, kl_rev_gen : float
        The same between N(0, covariance) and N(0, sigma_gen): a sampling-error check.
    kl_fwd_exact, kl_rev_exact : float or None
        The exact KL between N(0, sigma_gen) and N(0, Sigma) (no sampling error).
    chi2, chi2_dof, chi2_pvalue, chi2_note : float, int, float, str or None
        Likelihood-ratio test of ``covariance`` against ``sigma_gen``: ``n sum(mu - 1 - log mu)``
        with Bartlett's factor ``1 - (2d^2 + 3d - 1)/(6 n (d + 1))``, chi-square with d(d+1)/2
        degrees of freedom. NaN, with the reason in :attr:`chi2_note`, when the test is
        undefined: n_samples <= d (the sample covariance is singular: draw more than d samples)
        or sigma_gen singular (e.g. c = 0, N < d: the samples lie in span(X)).
    nearest_index, nearest_distance, nearest_ratio : ndarray (n_samples,) or None
        For each sample, the nearest training point, the Euclidean distance to it, and the
        distance to the nearest over the distance to the second nearest (the common
        nearest-neighbour memorisation test: memorised below 1/3). None without a training set.
    sampler : str
    """

    samples: NDArray[np.float64]
    covariance: NDArray[np.float64]
    sigma_gen: NDArray[np.float64]
    kl_fwd: float | None
    kl_rev: float | None
    kl_fwd_gen: float
    kl_rev_gen: float
    kl_fwd_exact: float | None
    kl_rev_exact: float | None
    chi2: float
    chi2_dof: int
    chi2_pvalue: float
    nearest_index: NDArray[np.int64] | None
    nearest_distance: NDArray[np.float64] | None
    nearest_ratio: NDArray[np.float64] | None
    sampler: str
    chi2_note: str | None = None

    def _cells(self) -> list[tuple[str, str, bool | None]]:
        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.5g}"

        cells: list[tuple[str, str, bool | None]] = [
            ("d x n", f"{self.samples.shape[0]} x {self.samples.shape[1]}", None), ("sampler", self.sampler, None),
            ("KL fwd (empirical)", f(self.kl_fwd), None), ("KL rev (empirical)", f(self.kl_rev), None),
            ("KL fwd (exact)", f(self.kl_fwd_exact), None), ("KL rev (exact)", f(self.kl_rev_exact), None),
            ("chi2 / dof", f"{self.chi2:.4g} / {self.chi2_dof}" if self.chi2_note is None else self.chi2_note, None),
            ("p-value", f"{self.chi2_pvalue:.3g}", None if np.isnan(self.chi2_pvalue) else self.chi2_pvalue > 1e-3),
        ]
        if self.nearest_ratio is not None:
            cells.append(("memorised (ratio < 1/3)", f"{float(np.mean(self.nearest_ratio < 1 / 3)):.3f}", None))
        return cells

    def __repr__(self) -> str:
        return text_table("lindiff.simulate.sample", self._cells())

    def _repr_html_(self) -> str:
        return html_table("lindiff.simulate.sample", self._cells())


def sample(
    model_or_W: LinearModel | ArrayLike,
    n_samples: int,
    schedule: Schedule | None = None,
    seed: int | np.random.SeedSequence = 0,
    *,
    sampler: str = "ddpm",
    training_set: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    backend: str = "auto",
) -> SampleResult:
    """Run the linear DDPM sampler of the spec with given denoisers W_t.

    ``u_T ~ N(0, I)``, ``u_{t-1} = (u_t - (beta_t/b_t) W_t u_t)/sqrt(alpha_t) + sigma_t xi_t`` with the
    noise variances of ``sampler`` (:func:`lindiff.theory.sampler_sigma2`), batched over blocks
    of samples in the C++ kernel with a counter-based RNG (results do not depend on the thread
    count).

    Parameters
    ----------
    model_or_W : LinearModel, TrainResult or array (T, d, d)
        The denoisers: from :func:`train` (``TrainResult``, draw 0, or ``result.model(draw)``),
        from the closed form (:meth:`LinearModel.closed_form`), or user supplied (``W[t-1]`` = W_t).
    n_samples : int
    schedule : Schedule, optional
        Needed only with a plain array (default ``Schedule.linear()``); a model carries its own.
    seed : int >= 0 or numpy.random.SeedSequence
    sampler : {"ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"}
    training_set : array (d, N), optional
        Overrides the model's training set for the nearest-neighbour statistics.
    sigma : array, optional
        Population covariance (d x d, or its diagonal / a Spectrum) for the KLs; overrides the model's.
    backend : {"auto", "cpu", "cuda"}
        ``"cuda"`` runs the sampler on the GPU (same RNG streams); ``"auto"`` takes it when there
        is one and the run is large (over 1e10 flops).

    Returns
    -------
    SampleResult

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact, simulate
    >>> X, S = exact.draw_data(lindiff.Spectrum.powerlaw(5, k=1.0), N=50, seed=0)
    >>> model = simulate.LinearModel.closed_form(X, sigma=S)
    >>> out = simulate.sample(model, 4000, seed=1)
    >>> out.samples.shape
    (5, 4000)
    >>> bool(out.chi2_pvalue > 1e-3)              # the samples' covariance is sigma_gen
    True
    """
    if isinstance(model_or_W, (TrainResult, LinearModel)):
        if schedule is not None:
            raise ValueError("schedule is taken from the model; pass it only with a plain W array")
        model = model_or_W.model(0) if isinstance(model_or_W, TrainResult) else model_or_W
    else:
        model = LinearModel(square_stack("W", model_or_W), check_schedule(schedule))
    n = positive_int("n_samples", n_samples)
    choice("sampler", sampler, SAMPLERS)
    d = model.d
    X = model.training_set if training_set is None else real_array("training_set", training_set, ndim=2)
    if X is not None and X.shape[0] != d:
        raise ValueError(f"training_set must have shape (d, N) with d = {d} (got {X.shape})")
    S = model.sigma if sigma is None else population_matrix(sigma, "sigma")
    if S is not None and S.shape != (d, d):
        raise ValueError(f"sigma must be a d x d covariance with d = {d} (got {S.shape})")
    sch = model.schedule
    sig = np.sqrt(sampler_sigma2(sch, sampler))
    key = philox_key(seed_sequence(seed), 2)
    work = 2.0 * sch.T * d * d * n
    kernel = cuda_module() if resolve_backend(backend, work=work, gpu_threshold=1e10) == "cuda" else _core
    U = kernel.sample_ddpm(model.W, sch.beta, sch.b, sig, key, n)
    cov = U @ U.T / n
    G = model.sigma_gen(sampler)
    kg = gaussian_kl(cov, G)
    mu_ok = np.isfinite(kg[0])
    dof = d * (d + 1) // 2
    chi2_note = None
    if n <= d:
        mu_ok, chi2_note = False, f"undefined: n_samples = {n} <= d = {d} (singular sample covariance)"
    elif not np.isfinite(gaussian_kl(G, np.eye(d))[0]):
        mu_ok, chi2_note = False, "undefined: sigma_gen is singular"
    if mu_ok:
        bartlett = 1.0 - (2 * d * d + 3 * d - 1) / (6.0 * n * (d + 1))
        stat = 2.0 * n * d * kg[0] * bartlett
        from scipy.stats import chi2 as _chi2

        pval = float(_chi2.sf(stat, dof))
    else:
        stat, pval = np.nan, np.nan
    kd = gaussian_kl(cov, S) if S is not None else (None, None)
    ke = gaussian_kl(G, S) if S is not None else (None, None)
    # one implementation of the nearest-neighbour test (points as rows there, as columns here)
    near = nearest_rows(X.T, U.T) if X is not None else (None, None, None)
    return SampleResult(samples=U, covariance=cov, sigma_gen=G, kl_fwd=kd[0], kl_rev=kd[1], kl_fwd_gen=kg[0],
                        kl_rev_gen=kg[1], kl_fwd_exact=ke[0], kl_rev_exact=ke[1], chi2=float(stat), chi2_dof=dof, chi2_note=chi2_note,
                        chi2_pvalue=pval, nearest_index=near[0], nearest_distance=near[1], nearest_ratio=near[2],
                        sampler=sampler)
