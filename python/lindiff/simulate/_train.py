"""Really train the per-time linear denoisers W_t: full-batch GD or SGD in the C++ kernel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import __version__, _core
from .._display import html_table, text_table
from .._labelled import time_axis
from .._lazy import lazy_module
from .._validation import (
    check_memory,
    check_schedule,
    check_spectrum,
    choice,
    flag,
    nonneg_scalar,
    positive_int,
    positive_scalar,
)
from ..backends import cuda_module, resolve_backend
from ..errors import DivergenceWarning
from ..schedule import Schedule
from ..spectrum import Spectrum
from ._common import draw_seeds, philox_key, training_sets
from ._model import LinearModel

xr = lazy_module("xarray")

__all__ = ["TrainResult", "train", "METHODS"]

METHODS = ("gd", "sgd")
_DIVERGENCE = 1e10  # per-dimension objective (1 at W = 0) beyond which a W_t counts as diverged
_GPU_WORK = 1e10  # flops from which backend="auto" takes the GPU


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Trajectories and final weights of :func:`train`.

    Attributes
    ----------
    losses : xarray.Dataset
        ``test``, ``train`` (per dimension, without the penalty; test is exact given W and Sigma,
        train is noise averaged over the training set) with dims ``(draw, eta_tau, t)``;
        coordinates ``eta_tau`` (= eta x step), ``step``, ``t``, ``draw`` and scalar ``N``, ``c``.
        Validate it against :func:`lindiff.theory.gradflow_losses` with :func:`lindiff.validate`.
    W : ndarray, shape (draws, len(t), d, d)
        The denoisers after the last recorded step.
    X : ndarray, shape (draws, d, N)
        The training sets (one sample per column).
    sigma : ndarray, shape (d,) or (draws, d, d)
        Sigma's diagonal (``rotate=False``) or the rotated population covariance of each draw.
    schedule : Schedule
    t : ndarray of int
        The diffusion times trained (1-based).
    c, eta : float
    method : str
    """

    losses: xr.Dataset
    W: NDArray[np.float64]
    X: NDArray[np.float64]
    sigma: NDArray[np.float64]
    schedule: Schedule
    t: NDArray[np.int64]
    c: float
    eta: float
    method: str

    def population(self, draw: int = 0) -> NDArray[np.float64]:
        """The population covariance Sigma (d x d) in the basis of draw ``draw``."""
        draw = self._draw(draw)
        return np.diag(self.sigma) if self.sigma.ndim == 1 else self.sigma[draw]

    def _draw(self, draw: int) -> int:
        draws = self.W.shape[0]
        if not isinstance(draw, (int, np.integer)) or not 0 <= int(draw) < draws:
            raise ValueError(f"draw must be an integer in 0..{draws - 1} (got {draw!r})")
        return int(draw)

    def model(self, draw: int = 0) -> "LinearModel":
        """The trained denoisers of one draw as a :class:`LinearModel` for :func:`sample`.

        Needs every diffusion time 1..T (train with ``t=None``).
        """
        draw = self._draw(draw)
        if self.t.size != self.schedule.T or np.any(self.t != self.schedule.t):
            raise ValueError(f"sampling needs W_t for every t = 1..{self.schedule.T}; this run trained "
                             f"{self.t.size} times (train with t=None)")
        return LinearModel(self.W[draw], self.schedule, training_set=self.X[draw], sigma=self.population(draw))

    def _cells(self) -> list[tuple[str, str, bool | None]]:
        ds = self.losses
        n_div = int(ds.diverged.sum())
        last = ds.isel(eta_tau=-1)
        return [("method", self.method, None), ("eta", f"{self.eta:.4g}", None),
                ("draws x times", f"{self.W.shape[0]} x {self.t.size}", None), ("d, N", f"{self.W.shape[2]}, {self.X.shape[2]}", None),
                ("steps", str(int(ds.step[-1])), None), ("diverged", str(n_div), n_div == 0),
                ("final test (mean)", f"{float(last.test.mean()):.6g}", None),
                ("final train (mean)", f"{float(last.train.mean()):.6g}", None)]

    def __repr__(self) -> str:
        return text_table("lindiff.simulate.train", self._cells())

    def _repr_html_(self) -> str:
        return html_table("lindiff.simulate.train", self._cells())


def _top_eigenvalue(C: NDArray[np.float64], iterations: int = 200) -> NDArray[np.float64]:
    """Largest eigenvalue of each C[i] by power iteration (a lower bound that converges to it)."""
    v = np.ones(C.shape[:2]) / np.sqrt(C.shape[1])
    for _ in range(iterations):
        w = (C @ v[:, :, None])[:, :, 0]
        nrm = np.linalg.norm(w, axis=1, keepdims=True)
        v = w / np.where(nrm > 0, nrm, 1.0)
    return np.sum(v * (C @ v[:, :, None])[:, :, 0], axis=1)


_MAX_STEPS = 2**31 - 1   # beyond, a run would take days at any d; the kernel counts steps in int64 regardless


def _record_steps(steps: int, record_every: int | None) -> NDArray[np.int64]:
    every = max(1, steps // 100) if record_every is None else positive_int("record_every", record_every)
    rec = np.arange(0, steps + 1, every, dtype=np.int64)
    return rec if rec[-1] == steps else np.append(rec, np.int64(steps))


def train(
    spectrum: Spectrum,
    N: int,
    c: float = 0.0,
    schedule: Schedule | None = None,
    t: ArrayLike | None = None,
    method: str = "gd",
    eta: float | None = None,
    steps: int = 1000,
    draws: int = 4,
    seed: int | np.random.SeedSequence = 0,
    record_every: int | None = None,
    batch_size: int | None = None,
    backend: str = "auto",
    *,
    rotate: bool = False,
) -> TrainResult:
    """Train the linear denoisers W_t from W = 0 with dense matrix products (spec §1).

    For each draw (a training set ``X = Sigma^1/2 Z``, the same as :func:`lindiff.exact.draw_data`
    with ``seed=SeedSequence(seed).spawn(draws)[i]``) and each diffusion time t, minimise
    ``L_t(W) = (1/N) sum_mu E_eps ||eps - W(a_t x^mu + b_t eps)||^2 + c ||W||_F^2`` in the original
    basis, batched over draws x times in the C++ kernel (OpenMP, GIL released):

    - ``method="gd"``: full-batch gradient descent on the exactly noise-averaged loss,
      ``W <- W - 2 eta (W M_t - b_t I)``, ``M_t = a_t^2 C + (b_t^2 + c) I``; after n steps
      ``W = b_t M_t^-1 (I - (I - 2 eta M_t)^n)`` (the closed form of :mod:`lindiff.exact` with
      ``gd_eta=eta``), and for small eta it follows gradient flow at ``eta*tau = eta * n``;
    - ``method="sgd"``: minibatch SGD as diffusion training does it: each step draws
      ``batch_size`` training points (with replacement) and fresh noise eps, with a counter-based
      RNG (Philox) keyed by the draw, so results do not depend on the thread count.

    Losses are recorded every ``record_every`` steps: ``test`` exactly given W and Sigma,
    ``train`` exactly noise-averaged over the training set, both per dimension without the
    penalty. A W_t whose objective exceeds 1e10 (it is 1 at W = 0) or becomes non-finite is
    frozen; the trajectories are then cut before the first such record with a
    :class:`lindiff.DivergenceWarning` (no NaN rows). GD with ``eta >= 1/max_t m_t(s_max)`` is
    unstable, which is also warned about.

    Parameters
    ----------
    spectrum : Spectrum
        Population spectrum (integer multiplicities; expanded to a diagonal Sigma).
    N : int
        Training-set size.
    c : float
        Ridge penalty >= 0.
    schedule : Schedule, optional
        Default ``Schedule.linear()``.
    t : int or 1-d array of int, optional
        Diffusion times to train (default: all 1..T, needed by :meth:`TrainResult.model`).
    method : {"gd", "sgd"}
    eta : float, optional
        Learning rate; default ``0.5 / max_t (a_t^2 s_max + b_t^2 + c)`` over the draws (half
        the largest stable GD step).
    steps : int
        Number of steps, in [1, 2^31 - 1].
    draws : int
        Number of training sets (>= 1).
    seed : int >= 0 or numpy.random.SeedSequence
    record_every : int, optional
        Default ``max(1, steps // 100)``; the last step is always recorded.
    batch_size : int, optional
        SGD minibatch size (default ``min(N, 32)``); not used by GD.
    backend : {"auto", "cpu", "cuda"}
        ``"cuda"`` needs lindiff built with ``LINDIFF_CUDA=ON`` and a GPU (the same algorithm and
        RNG streams; equal to the CPU up to summation order); ``"auto"`` takes the GPU when there
        is one and the run is large (over 1e10 flops).
    rotate : bool
        Put the population in a Haar-random basis (Sigma is then dense).

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact, simulate
    >>> spec = lindiff.Spectrum.powerlaw(20, k=1.0)
    >>> res = simulate.train(spec, N=40, t=[10, 500], eta=0.01, steps=200, draws=2)
    >>> res.losses.test.dims
    ('draw', 'eta_tau', 't')
    >>> ss = np.random.SeedSequence(0).spawn(2)[1]          # draw 1's training set
    >>> smp = exact.SampleSpectrum.draw(spec, 40, seed=ss)
    >>> ex = exact.losses(smp, t=[10, 500], eta_tau=2.0, gd_eta=0.01)   # 200 steps
    >>> bool(np.allclose(res.losses.test.isel(draw=1, eta_tau=-1), ex.test[0], rtol=1e-10))
    True
    """
    choice("method", method, METHODS)
    schedule = check_schedule(schedule)
    c = nonneg_scalar("c", c)
    steps = positive_int("steps", steps, maximum=_MAX_STEPS)
    draws = positive_int("draws", draws)
    N = positive_int("N", N)
    rotate = flag("rotate", rotate)
    tax, tidx = time_axis(schedule, t)
    rec = _record_steps(steps, record_every)
    d = check_spectrum(spectrum).d
    check_memory("train", 8.0 * draws * (d * N + d * d * (len(tax) + 2) + 2 * rec.size * len(tax)),
                 f"d = {d}, N = {N}, draws = {draws}, {len(tax)} times, {rec.size} recorded steps: data, "
                 "covariances, denoisers and loss records", "lower draws, N, the number of times or record_every")
    seeds = draw_seeds(seed, draws)
    X, sigma = training_sets(spectrum, N, seeds, rotate)
    C = X @ np.swapaxes(X, 1, 2) / N
    C = 0.5 * (C + np.swapaxes(C, 1, 2))
    a2, b2 = schedule.a2[tidx], schedule.b2[tidx]
    m_max = float(np.max(a2)) * float(np.max(_top_eigenvalue(C))) + float(np.max(b2)) + c
    if eta is None:
        eta = 0.5 / m_max
    eta = positive_scalar("eta", eta)
    if method == "gd" and eta * m_max >= 1.0:
        warnings.warn(f"gradient descent with eta = {eta:.4g} is unstable: it needs eta < 1/max_t m_t(s_max) = "
                      f"{1.0 / m_max:.4g}; the losses grow", DivergenceWarning, stacklevel=2)
    if method == "gd" and batch_size is not None:
        raise ValueError("batch_size is for method='sgd' (GD uses the whole training set)")
    if method == "sgd":
        batch_size = min(N, 32) if batch_size is None else positive_int("batch_size", batch_size)
    per_step = d * d * (d if method == "gd" else 2 * batch_size)
    kernel = cuda_module() if resolve_backend(backend, work=2.0 * len(seeds) * a2.size * steps * per_step,
                                               gpu_threshold=_GPU_WORK) == "cuda" else _core
    if method == "gd":
        W, test, trn, div = kernel.train_gd(C, sigma, a2, b2, c, eta, rec, divergence_threshold=_DIVERGENCE)
    else:
        keys = np.stack([philox_key(ss, 1) for ss in seeds])
        W, test, trn, div = kernel.train_sgd(X, C, sigma, a2, b2, c, eta, rec, batch_size, keys,
                                             divergence_threshold=_DIVERGENCE)
    diverged = div >= 0
    keep = rec.size
    if np.any(diverged):
        keep = int(div[diverged].min())
        warnings.warn(f"{int(diverged.sum())} of {diverged.size} (draw, t) trainings diverged (objective > "
                      f"{_DIVERGENCE:g} or non-finite) with eta = {eta:.4g}; trajectories are cut at step "
                      f"{int(rec[max(keep - 1, 0)])}, before the first divergence", DivergenceWarning, stacklevel=2)
        keep = max(keep, 1)
    ds = xr.Dataset(
        {
            "test": (("draw", "eta_tau", "t"), test[:, :keep], {"description": "per-dimension test loss given W"}),
            "train": (("draw", "eta_tau", "t"), trn[:, :keep],
                      {"description": "per-dimension train loss (noise-averaged, no penalty)"}),
            "diverged": (("draw", "t"), diverged, {"description": "the training of this W_t diverged"}),
        },
        coords={"draw": np.arange(len(seeds)), "eta_tau": eta * rec[:keep].astype(np.float64),
                "step": ("eta_tau", rec[:keep]), "t": tax.values, "N": float(N), "c": c},
        attrs={"quantity": f"linear denoisers trained by {method}", "method": method, "eta": eta, "steps": steps,
               "batch_size": batch_size if method == "sgd" else 0, "spectrum": spectrum.name or "spectrum", "d": d,
               "schedule": schedule.name, "T": schedule.T, "draws": len(seeds), "rotate": int(bool(rotate)),
               "lindiff_version": __version__},
    )
    if tax.scalar:
        ds = ds.squeeze("t")
    return TrainResult(losses=ds, W=W, X=X, sigma=sigma, schedule=schedule, t=np.atleast_1d(tax.values),
                       c=c, eta=eta, method=method)
