"""The linear DDPM sampler: noise variances sigma_t^2 and the variance map gamma(s)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._validation import choice, nonneg_scalar, positive_scalar, real_array
from ..schedule import Schedule

__all__ = ["SAMPLERS", "sampler_sigma2", "sampler_gamma", "training_time"]

SAMPLERS = ("ddpm", "ddpm_noise_last", "beta_tilde", "deterministic")


def sampler_sigma2(schedule: Schedule, sampler: str = "ddpm") -> NDArray[np.float64]:
    """Noise variances sigma_t^2 (index t - 1) of a sampler variant.

    ``ddpm`` (pinned): beta_t for t >= 2 and 0 at t = 1; ``ddpm_noise_last``: beta_t for all t;
    ``beta_tilde``: the posterior variance; ``deterministic``: 0.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import sampler_sigma2
    >>> s2 = sampler_sigma2(lindiff.Schedule.linear(T=3), "ddpm")
    >>> float(s2[0]), bool(s2[1] > 0)
    (0.0, True)
    """
    choice("sampler", sampler, SAMPLERS)
    if sampler == "ddpm":
        s2 = schedule.beta.copy()
        s2[0] = 0.0
        return s2
    if sampler == "ddpm_noise_last":
        return schedule.beta.copy()
    if sampler == "beta_tilde":
        return schedule.beta_tilde.copy()
    return np.zeros(schedule.T)


def training_time(eta_tau: ArrayLike, gd_eta: float | None) -> tuple[NDArray[np.float64], float]:
    """Validate eta*tau (array, > 0, inf = the minimiser) and the optional GD step."""
    et = np.atleast_1d(real_array("eta_tau", eta_tau, allow_inf=True))
    if et.ndim != 1:
        raise ValueError(f"eta_tau must be a scalar or 1-dimensional (got shape {et.shape})")
    if et.size == 0 or np.any(et <= 0):
        raise ValueError("eta_tau must be > 0 (inf: the minimiser) and non-empty")
    if gd_eta is None:
        return et, 0.0
    eta = positive_scalar("gd_eta", gd_eta)
    steps = et[np.isfinite(et)] / eta
    if np.any(np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(steps, 1)):
        raise ValueError("with gd_eta, eta_tau must be whole multiples of gd_eta (eta_tau = n * eta)")
    return et, eta


def sampler_gamma(
    s: ArrayLike,
    schedule: Schedule | None = None,
    c: float = 0.0,
    eta_tau: ArrayLike = np.inf,
    sampler: str = "ddpm",
    *,
    gd_eta: float | None = None,
) -> NDArray[np.generic]:
    """The sampling variance gamma(s) of the linear DDPM sampler, per eigenvalue s of C.

    With w_t(s) = b_t phi_t(s), phi_t = 1/m_t (minimiser, ``eta_tau = inf``),
    (1 - exp(-2 eta tau m_t))/m_t (gradient flow from 0) or (1 - (1 - 2 eta m_t)^n)/m_t
    (``gd_eta = eta``, n = eta_tau/eta steps), m_t = a_t^2 s + b_t^2 + c:
    gamma_T = 1, gamma_{t-1} = A_t^2 gamma_t + sigma_t^2, A_t = (1 - beta_t phi_t)/sqrt(alpha_t).

    Parameters
    ----------
    s : array_like
        Eigenvalues (real >= 0, or complex for contour integrals), any shape.
    schedule : Schedule, optional
        Default: ``Schedule.linear()``.
    c : float
        Ridge penalty.
    eta_tau : float or 1-d array
        Training time(s); the output gets a leading axis when this is an array.
    sampler : {"ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"}

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff.theory import sampler_gamma
    >>> g = sampler_gamma(np.array([0.0, 1.0, 4.0]))
    >>> float(g[0])            # sigma_1 = 0 annihilates C's null space
    0.0
    >>> bool(abs(g[1] - 1) < 0.05)
    True
    """
    schedule = Schedule.linear() if schedule is None else schedule
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule")
    c = nonneg_scalar("c", c)
    et, eta = training_time(eta_tau, gd_eta)
    sarr = np.asarray(s)
    if sarr.dtype == object or not np.issubdtype(sarr.dtype, np.number):
        raise ValueError(f"s must be numeric (got dtype {sarr.dtype})")
    if not np.all(np.isfinite(sarr)):
        raise ValueError("s must be finite")
    args = (schedule.beta, schedule.a2, schedule.b2, sampler_sigma2(schedule, sampler), c, et, eta)
    if np.iscomplexobj(sarr):
        out = _core.sampler_gamma_complex(sarr.astype(np.complex128).ravel(), *args)
    else:
        if np.any(sarr < 0):
            raise ValueError("real s must be >= 0 (eigenvalues of C)")
        out = _core.sampler_gamma(sarr.astype(np.float64).ravel(), *args)
    out = out.reshape(et.shape + sarr.shape)
    return out[0] if np.ndim(eta_tau) == 0 else out
