"""The linear denoiser model: one d x d matrix W_t per diffusion time (trained or closed-form)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core, exact
from .._random import population_matrix
from .._validation import check_schedule, real_array
from ..schedule import Schedule
from ..theory.sampler import sampler_sigma2

__all__ = ["LinearModel", "square_stack"]


def square_stack(name: str, W: ArrayLike, T: int | None = None) -> NDArray[np.float64]:
    """``W`` as a C-contiguous (T, d, d) float64 stack of finite matrices (T checked when given)."""
    Wa = np.ascontiguousarray(real_array(name, W))
    if Wa.ndim != 3 or Wa.shape[1] != Wa.shape[2] or Wa.shape[1] == 0:
        raise ValueError(f"{name} must have shape (T, d, d) (got {Wa.shape})")
    if T is not None and Wa.shape[0] != T:
        raise ValueError(f"{name} must hold one d x d matrix per diffusion time t = 1..{T} (got {Wa.shape[0]})")
    if not np.all(np.isfinite(Wa)):
        raise ValueError(f"{name} must be finite")
    return Wa


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A linear denoiser ``eps_hat = W_t x_t`` for every diffusion time t = 1..T.

    Attributes
    ----------
    W : ndarray, shape (T, d, d)
        ``W[t - 1]`` is W_t.
    schedule : Schedule
    training_set : ndarray (d, N) or None
        The data it was trained on (one sample per column), for nearest-neighbour statistics.
    sigma : ndarray (d, d) or None
        The population covariance, for the KL of the samples to the data law.

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff import exact
    >>> from lindiff.simulate import LinearModel
    >>> X, S = exact.draw_data(lindiff.Spectrum.powerlaw(4, k=1.0), N=8, seed=0)
    >>> model = LinearModel.closed_form(X, lindiff.Schedule.linear(T=100), sigma=S)
    >>> model.W.shape
    (100, 4, 4)
    """

    W: NDArray[np.float64]
    schedule: Schedule
    training_set: NDArray[np.float64] | None = None
    sigma: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        schedule = check_schedule(self.schedule)
        object.__setattr__(self, "schedule", schedule)
        W = square_stack("W", self.W, schedule.T)
        object.__setattr__(self, "W", W)
        d = W.shape[1]
        if self.training_set is not None:
            X = real_array("training_set", self.training_set, ndim=2)
            if X.shape[0] != d:
                raise ValueError(f"training_set must have shape (d, N) with d = {d} (got {X.shape})")
            object.__setattr__(self, "training_set", X)
        if self.sigma is not None:
            S = population_matrix(self.sigma, "sigma")
            if S.shape != (d, d):
                raise ValueError(f"sigma must be a d x d covariance with d = {d} (got {S.shape})")
            object.__setattr__(self, "sigma", S)

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.W.shape[1])

    @classmethod
    def closed_form(
        cls,
        X: ArrayLike,
        schedule: Schedule | None = None,
        c: float = 0.0,
        eta_tau: float = np.inf,
        *,
        gd_eta: float | None = None,
        sigma: ArrayLike | None = None,
    ) -> LinearModel:
        """The closed-form denoisers of :mod:`lindiff.exact` for a training set X (d x N).

        ``W_t = V diag(b_t phi_t(s)) V^T`` (minimiser at ``eta_tau = inf``, gradient flow, or GD
        with ``gd_eta``), from C = X X^T / N.
        """
        schedule = check_schedule(schedule)
        Xa = real_array("X", X, ndim=2)
        pop = np.ones(Xa.shape[0]) if sigma is None else sigma
        smp = exact.SampleSpectrum.from_data(Xa, pop)
        if np.ndim(eta_tau) != 0:
            raise ValueError("eta_tau must be a scalar here (one model per training time)")
        w = exact.denoiser(smp, schedule, c, None, eta_tau, gd_eta=gd_eta)[0]
        return cls(smp.matrix(w), schedule, training_set=Xa, sigma=None if sigma is None else pop)

    def sigma_gen(self, sampler: str = "ddpm") -> NDArray[np.float64]:
        """The exact covariance of the sampler's output, ``G_0`` of
        ``G_{t-1} = A_t G_t A_t^T + sigma_t^2 I``, ``A_t = (I - (beta_t/b_t) W_t)/sqrt(alpha_t)``, G_T = I
        (dense, valid for any W_t)."""
        sch = self.schedule
        return _core.sampler_covariance(self.W, sch.beta, sch.b, np.sqrt(sampler_sigma2(sch, sampler)))
