"""Static (minimiser, eta tau = inf) deterministic-equivalent losses, spec §3."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import __version__
from .._compress import for_real_kappa
from .._labelled import assemble, axis, sample_size_axis, time_axis
from .._lazy import lazy_module
from .._validation import check_schedule, check_spectrum
from ..schedule import Schedule
from ..spectrum import Spectrum
from ._curves import kappa_curves

xr = lazy_module("xarray")

__all__ = ["static_losses", "de_resolvent"]


def de_resolvent(kappa: NDArray[np.float64], kappa_prime: NDArray[np.float64], sums: dict[str, NDArray[np.float64]],
                 z: NDArray[np.float64], d: float) -> dict[str, NDArray[np.float64]]:
    """Deterministic-equivalent resolvent traces at real z > 0 (spec §3), R = (C + z)^-1.

    With the direct spectral sums at kappa(z) (``s1`` = sum w/(lambda + kappa), ``df2``,
    ``e12`` = sum w lambda/(lambda + kappa)^2 = (df1 - df2)/kappa), in forms free of
    cancellation also for N >> d or z -> 0:

    - g = (1/d) Tr R = (1 - df1/d)/z = kappa S1 / (z d),
    - g' = -(1 - df1/d)/z² + (df1 - df2) kappa'/(z d kappa) = (e12 kappa' - kappa S1 / z) / (z d),
    - -h' = -(d/dz)(1/d) Tr Sigma R = (N/d)(kappa - z kappa')/z²
          = [(kappa/z) kappa e12 + (kappa/z - kappa') df2] / (z d).
    """
    s1, df2, e12 = sums["s1"], sums["df2"], sums["e12"]
    ratio = kappa / z
    g = ratio * s1 / d
    gp = (e12 * kappa_prime - ratio * s1) / (z * d)
    mhp = (ratio * kappa * e12 + (ratio - kappa_prime) * df2) / (z * d)
    return {"g": g, "g_prime": gp, "minus_h_prime": mhp}


def static_losses(
    spectrum: Spectrum,
    N: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    t: ArrayLike | None = None,
    *,
    tol: float = 1e-14,
    strict: bool = False,
    compress: bool | str = "auto",
) -> xr.Dataset:
    """Deterministic-equivalent per-dimension losses of the minimiser W_t*, for every t.

    With q = b_t²/a_t², z = (b_t² + c)/a_t², kappa = kappa(z) and the resolvent traces g, g', h'
    (:func:`de_resolvent`):

    - ``test`` = 1 - 2 q g - q² g' + q (-h'),
    - ``train`` = 1 - 2 q g - q² g' + q (g + z g') (noise-averaged, without the penalty),
    - ``data_noise`` = q × test (x_0 reconstructed from the noise predictor),
    - ``data_ridge`` = z² (-h') + q (1 - 2 z g - z² g') (the separately trained ridge predictor),
    - ``optimum`` = (1/d) sum_nu lambda_nu / (lambda_nu + q) (N = inf, c = 0).

    N < d is exact: g and h include C's null space (for c = 0 the test loss diverges as t -> 0,
    through the atom (N/d) kappa0 of the Sigma-weighted measure).

    Parameters
    ----------
    spectrum : Spectrum
    N, c : float or 1-d array
        Sample sizes (> 0) and ridge penalties (>= 0); arrays become dimensions.
    schedule : Schedule, optional
        Default ``Schedule.linear()``.
    t : int or 1-d array of int, optional
        Diffusion times in 1..T (default: all).
    compress : {"auto", True, False}
        Sum over the certified Gauss rule of :meth:`Spectrum.compress` (tol 1e-13) instead of
        every eigenvalue. ``"auto"``: when the spectrum has at least 4096 distinct eigenvalues and
        the call evaluates at least 2e8 (eigenvalue, kappa) pairs, or the spectrum was compressed
        before (the rule is memoised on it). Results agree with ``compress=False`` to about
        1e-12 relative, the direct sums' own rounding at d = 1e5-1e6 (``docs/compression.md``).

    Returns
    -------
    xarray.Dataset
        Variables ``test, train, data_noise, data_ridge, optimum`` and the solver diagnostics
        ``kappa, kappa_prime, kappa_converged, kappa_iterations, kappa_residual``; dims
        ``(N, c, t)`` for array arguments (scalars become scalar coordinates); ``.mean("t")``
        is the t-averaged loss. ``attrs["spectral_sums"]`` says whether the sums were direct or
        compressed (nodes, certified bound, measured error).

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import static_losses
    >>> ds = static_losses(lindiff.Spectrum.powerlaw(1000, 1.0), N=[600, 2000])
    >>> ds.test.dims
    ('N', 't')
    >>> bool((ds.test.mean("t") > ds.train.mean("t")).all())
    True
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    Nax = sample_size_axis(N, spectrum.d)
    cax = axis("c", c, positive=False)
    tax, tidx = time_axis(schedule, t)
    a2, b2 = schedule.a2[tidx], schedule.b2[tidx]
    q = b2 / a2
    nN, nc, nt = len(Nax), len(cax), len(tax)
    z = (b2[None, :] + cax.values[:, None]) / a2[None, :]                  # (c, t)
    zz = np.broadcast_to(z, (nN, nc, nt)).reshape(nN * nc, nt)
    NN = np.repeat(Nax.values, nc)
    sums_over, how = for_real_kappa(spectrum, compress, float(zz.size + nt))
    sol = kappa_curves(sums_over, NN, zz, tol=tol, strict=strict)
    shape = (nN, nc, nt)
    kap, kp = sol["kappa"].reshape(shape), sol["kappa_prime"].reshape(shape)
    zb = z[None, :, :]
    d = float(spectrum.d)
    r = de_resolvent(kap, kp, {k: sol[k].reshape(shape) for k in ("s1", "df2", "e12")}, zb, d)
    g, gp, mhp = r["g"], r["g_prime"], r["minus_h_prime"]
    qb = q[None, None, :]
    common = 1.0 - 2.0 * qb * g - qb**2 * gp
    test = common + qb * mhp
    train = common + qb * (g + zb * gp)
    ridge = zb * (zb * mhp) + qb * (1.0 - 2.0 * zb * g - zb * (zb * gp))  # z^2 h' as z (z h'): no overflow at huge c
    optimum = sums_over.df1(q) / d
    dims = ("N", "c", "t")
    variables = {
        "test": (dims, test, "per-dimension test loss of the minimiser"),
        "train": (dims, train, "per-dimension train loss (noise-averaged, no penalty)"),
        "data_noise": (dims, qb * test, "x_0 reconstruction loss from the noise predictor, (b²/a²) test"),
        "data_ridge": (dims, ridge, "test loss of the separately trained ridge data predictor"),
        "optimum": (("t",), optimum, "population optimum (N = inf, c = 0)"),
        "kappa": (dims, kap, "kappa(z), z = (b² + c)/a²"),
        "kappa_prime": (dims, kp, "kappa'(z)"),
        "kappa_converged": (dims, sol["converged"].reshape(shape), "solver converged"),
        "kappa_iterations": (dims, sol["iterations"].reshape(shape), "spectrum passes"),
        "kappa_residual": (dims, sol["residual"].reshape(shape), "relative residual of the fixed point"),
    }
    attrs = {"quantity": "static deterministic-equivalent losses", "spectrum": spectrum.name or "spectrum",
             "d": d, "trace": spectrum.trace, "schedule": schedule.name, "T": schedule.T, "tol": tol,
             "spectral_sums": how, "lindiff_version": __version__}
    return assemble(variables, [Nax, cax, tax], attrs)
