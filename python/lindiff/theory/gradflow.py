"""Gradient-flow dynamics: losses vs training time and the optimal stopping time (spec §2–§3)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import __version__, _core
from .._labelled import Axis, assemble, axis, sample_size_axis, time_axis
from .._lazy import lazy_module
from .._results import report_convergence
from .._validation import (
    check_schedule,
    check_spectrum,
    choice,
    positive_int,
    positive_interval,
    real_scalar,
)
from ..schedule import Schedule
from ..spectrum import Spectrum
from .measure import DeMeasure, de_measure
from ._training_rule import training_rule
from .sampler import training_time

xr = lazy_module("xarray")

__all__ = ["denoiser_distance", "gradflow_losses", "optimal_stopping"]


QUADRATURES = ("auto", "gauss", "real", "contour")


def _losses_on(mu: DeMeasure, schedule: Schedule, c: float, eta_tau: NDArray[np.float64], gd_eta: float,
               tidx: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
    """(test, train, ridge data loss, max |Im|), each (n_eta, n_t)."""
    return _core.de_losses(mu.nodes, mu.weights["rho"], mu.weights["sigma"], mu.atoms["rho"], mu.atoms["sigma"],
                           schedule.a2, schedule.b2, c, eta_tau, gd_eta, tidx.astype(np.int64))


def gradflow_losses(
    spectrum: Spectrum,
    N: ArrayLike,
    eta_tau: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    t: ArrayLike | None = None,
    *,
    gd_eta: float | None = None,
    quadrature: str = "auto",
    tol: float = 1e-11,
    strict: bool = False,
) -> xr.Dataset:
    """Deterministic-equivalent test and train loss of gradient flow (or explicit GD) from W = 0.

    ``W_t(tau) = b_t M_t^-1 (I - exp(-2 eta tau M_t))``; the losses are integrals of
    F1 = (1 - b² phi)² and F2 = a² b² phi² against the DE measures of C (a quadrature rule of
    :func:`de_measure`, atoms at 0 added exactly). ``eta_tau = inf`` is the minimiser and agrees
    with :func:`static_losses`. With ``gd_eta``: n = eta_tau / gd_eta explicit GD steps,
    ``phi = (1 - (1 - 2 eta m)^n) / m``, exact for any n on the real-axis rule.

    ``quadrature``: ``"gauss"`` (a real Gauss rule in ln s of a few dozen nodes per measure, built
    from the real-axis rule and sized so that the losses at a check grid of (eta tau, t) agree with
    the real-axis rule's to ``tol / 10``: real, vectorised exp; :mod:`lindiff.theory._training_rule`),
    ``"real"`` (the real-axis rule itself: real nodes on the support, positive weights, any
    integrand, including explicit GD's ``(1 - 2 eta m)^n`` at any n), ``"contour"`` (complex
    contour nodes: cheaper to build at large d, but exp(-2 eta tau m) grows off the real axis and
    the integrals cancel: relative errors up to about 1e-8 at eta tau of order 1-100,
    ``docs/compression.md``; at large d with a steep spectrum it also needs far more nodes),
    ``"auto"`` (``"real"`` with ``gd_eta``, ``"gauss"`` for gradient flow, at every d: the
    real-axis rule's spectral sums go through a tree above 4096 distinct eigenvalues, so it costs
    O(log d) per node). The choice is in ``attrs["quadrature_rule"]``.

    Returns
    -------
    xarray.Dataset
        ``test``, ``train`` with dims ``(N, c, eta_tau, t)`` as given (scalars squeezed), the
        x_0 losses ``data_noise`` ((b²/a²) test: x_0 reconstructed from the noise predictor) and
        ``data_ridge`` (a ridge data predictor U = a C phi(C) trained by gradient flow for the
        same eta tau, spec §2), and the quadrature diagnostics ``measure_error``,
        ``measure_nodes`` (per N) and ``imag_residual`` (largest |Im| of the integrals: ~1e-15
        on a contour, 0 on a real rule).

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff.theory import gradflow_losses
    >>> ds = gradflow_losses(lindiff.Spectrum.powerlaw(200, 1.0), N=120, eta_tau=[1.0, 10.0, np.inf], t=[10, 500])
    >>> ds.test.dims
    ('eta_tau', 't')
    >>> ds.attrs["quadrature"]
    'gauss'
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    Nax = sample_size_axis(N, spectrum.d)
    cax = axis("c", c, positive=False)
    et, eta = training_time(eta_tau, gd_eta)
    eax = Axis("eta_tau", et, np.ndim(eta_tau) == 0)
    tax, tidx = time_axis(schedule, t)
    method = _quadrature_method(quadrature, eta)
    shape = (len(Nax), len(cax), len(eax), len(tax))
    test, train, ridge = np.empty(shape), np.empty(shape), np.empty(shape)
    err, nodes, imag = np.empty(len(Nax)), np.empty(len(Nax), dtype=np.int64), np.zeros(len(Nax))
    rules = []
    for i, n in enumerate(Nax.values):
        mu, how = _training_measure(spectrum, float(n), method, schedule, cax.values, et, tol, strict)
        rules.append(how)
        err[i], nodes[i] = mu.error, mu.nodes.size
        for j, cc in enumerate(cax.values):
            te, tr, ri, im = _losses_on(mu, schedule, float(cc), et, eta, tidx)
            test[i, j], train[i, j], ridge[i, j] = te, tr, ri
            imag[i] = max(imag[i], im)
    q = schedule.b2[tidx] / schedule.a2[tidx]
    dims = ("N", "c", "eta_tau", "t")
    variables = {
        "test": (dims, test, "per-dimension test loss of gradient flow at eta*tau"),
        "train": (dims, train, "per-dimension train loss (noise-averaged, no penalty)"),
        "data_noise": (dims, q * test, "x_0 reconstruction loss from the noise predictor, (b²/a²) test"),
        "data_ridge": (dims, ridge, "test loss of a ridge data predictor trained by gradient flow for eta*tau"),
        "measure_error": (("N",), err, "worst relative error of the quadrature's checks"),
        "measure_nodes": (("N",), nodes, "quadrature nodes"),
        "imag_residual": (("N",), imag, "largest |Im| of the loss integrals"),
    }
    attrs = {"quantity": "gradient-flow deterministic-equivalent losses", "spectrum": spectrum.name or "spectrum",
             "d": float(spectrum.d), "schedule": schedule.name, "T": schedule.T,
             "training": "gradient descent" if eta else "gradient flow", "gd_eta": eta,
             "quadrature": method, "quadrature_rule": "; ".join(dict.fromkeys(rules)), "lindiff_version": __version__}
    ds = assemble(variables, [Nax, cax, eax, tax], attrs)
    # The contour quadrature integrates analytic functions; explicit GD's (1 - 2 eta m)^n grows
    # exponentially off the real axis for large n, and the integrals then cancel catastrophically.
    finite = bool(np.all(np.isfinite(test)) and np.all(np.isfinite(train)) and np.all(np.isfinite(ridge)))
    ok = bool(np.all(imag <= 1e-8) and finite)
    report_convergence(ok, f"gradflow_losses: the {method} quadrature lost accuracy (largest imaginary residual "
                       f"{np.max(imag):.3g}{'' if finite else ', non-finite losses (for GD: is 2 gd_eta m_t beyond 2?)'})"
                       + ("; explicit GD (gd_eta) needs quadrature='real'" if eta and method == "contour" else ""),
                       ds, strict, stacklevel=3)
    return ds


def _quadrature_method(quadrature: str, gd_eta: float) -> str:
    choice("quadrature", quadrature, QUADRATURES)
    if quadrature == "auto":
        return "real" if gd_eta else "gauss"
    if quadrature == "gauss" and gd_eta:
        raise ValueError("quadrature='gauss' is for gradient flow; explicit GD (gd_eta) needs quadrature='real'")
    return quadrature


def _training_measure(spectrum: Spectrum, N: float, method: str, schedule: Schedule, c: NDArray[np.float64],
                      eta_tau: NDArray[np.float64], tol: float, strict: bool) -> tuple[DeMeasure, str]:
    """The rule the losses at N are summed over, and its description."""
    if method != "gauss":
        mu = de_measure(spectrum, N, method=method, tol=tol, strict=strict)
        return mu, f"{method} rule, {mu.nodes.size} nodes"
    rule = training_rule(de_measure(spectrum, N, method="real", tol=tol, strict=strict), schedule, c, tol / 10,
                         eta_tau)
    return rule.measure, rule.describe()


_CGOLD = (3 - math.sqrt(5)) / 2


def _minimise_log(f, lo: float, hi: float, tol: float = 1e-6, max_iter: int = 100) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Brent's minimisation (parabolic steps, golden-section fallback) of f(exp(u)) for u in
    [ln lo, ln hi]; stops when the bracket is below ``tol`` in u. Returns (x*, f(x*))."""
    a, b = math.log(lo), math.log(hi)
    x = w = v = a + _CGOLD * (b - a)
    fx = fw = fv = f(math.exp(x))
    d = e = 0.0
    for _ in range(max_iter):
        m = 0.5 * (a + b)
        tol1 = tol / 2 + 1e-12 * abs(x)
        if abs(x - m) <= 2 * tol1 - 0.5 * (b - a):
            break
        use_golden = True
        if abs(e) > tol1:  # try a parabola through x, w, v
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2 * (q - r)
            if q > 0:
                p = -p
            q = abs(q)
            if abs(p) < abs(0.5 * q * e) and q * (a - x) < p < q * (b - x):
                e, d = d, p / q
                u = x + d
                if u - a < 2 * tol1 or b - u < 2 * tol1:
                    d = tol1 if x < m else -tol1
                use_golden = False
        if use_golden:
            e = (a - x) if x >= m else (b - x)
            d = _CGOLD * e
        u = x + (d if abs(d) >= tol1 else (tol1 if d > 0 else -tol1))
        fu = f(math.exp(u))
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return math.exp(x), fx


def optimal_stopping(
    spectrum: Spectrum,
    N: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    t: int | str = "avg",
    *,
    eta_tau_range: tuple[float, float] = (1e-3, 1e7),
    grid_points: int = 21,
    rtol: float = 1e-6,
    quadrature: str = "auto",
    tol: float = 1e-11,
    strict: bool = False,
) -> xr.Dataset:
    """The training time eta*tau* that minimises the t-averaged (or one t's) DE test loss.

    A log-spaced scan of ``eta_tau_range`` brackets the minimum, then Brent's method in
    ln(eta tau) refines it to relative ``rtol``. When the loss still decreases at the end of the
    range (typically N >> d), the minimum is at tau = inf: ``eta_tau`` is inf and ``test_min``
    equals ``test_inf``. ``quadrature`` and ``tol`` as in :func:`gradflow_losses` (the rule is
    in ``attrs["quadrature_rule"]``).

    Returns
    -------
    xarray.Dataset
        ``eta_tau``, ``test_min``, ``train_at_min``, ``test_inf`` with dims ``(N, c)`` as given.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import optimal_stopping
    >>> ds = optimal_stopping(lindiff.Spectrum.powerlaw(200, 1.0), N=120)
    >>> bool(ds.test_min <= ds.test_inf)
    True
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    Nax = sample_size_axis(N, spectrum.d)
    cax = axis("c", c, positive=False)
    if isinstance(t, str):
        if t != "avg":
            raise ValueError(f"t must be 'avg' or an integer diffusion time (got {t!r})")
        tidx = np.arange(schedule.T)
    else:
        tidx = np.atleast_1d(schedule.index(t))
    lo, hi = positive_interval("eta_tau_range", eta_tau_range)
    rtol = real_scalar("rtol", rtol, minimum=1e-15, maximum=0.1)
    n_grid = positive_int("grid_points", grid_points, minimum=3)  # a bracket needs three points
    if n_grid > 100_000:
        raise ValueError(f"grid_points must be an integer in [3, 100000] (got {n_grid}: the scan holds "
                         f"grid_points x T losses; refine with rtol instead)")
    grid = np.geomspace(lo, hi, n_grid)
    shape = (len(Nax), len(cax))
    et_star, test_min, train_min, test_inf = (np.empty(shape) for _ in range(4))
    method = _quadrature_method(quadrature, 0.0)
    rules = []
    for i, n in enumerate(Nax.values):
        mu, how = _training_measure(spectrum, float(n), method, schedule, cax.values, grid, tol, strict)
        rules.append(how)
        for j, cc in enumerate(cax.values):
            def loss(x: float) -> float:
                te = _losses_on(mu, schedule, float(cc), np.array([x]), 0.0, tidx)[0]
                return float(te.mean())

            te_grid = _losses_on(mu, schedule, float(cc), np.append(grid, np.inf), 0.0, tidx)[0]
            curve = te_grid.mean(axis=1)
            test_inf[i, j] = curve[-1]
            k = int(np.argmin(curve[:-1]))
            if curve[-1] <= curve[k] or k == grid.size - 1:
                et_star[i, j], test_min[i, j] = math.inf, curve[-1]
            else:
                # bracket [grid[k-1], grid[k+1]]; at k = 0 search [grid[0], grid[1]] (a coarse grid
                # may put the first point lowest) and call the minimum below the range only if it
                # sits at grid[0]
                a, b = grid[max(k - 1, 0)], grid[k + 1]
                x, fx = _minimise_log(loss, a, b, tol=rtol)
                if k == 0 and math.log(x / a) <= 4 * rtol:
                    raise ValueError(f"the minimum lies below eta_tau_range[0] = {lo:g}; widen eta_tau_range")
                et_star[i, j], test_min[i, j] = x, fx
            tr = _losses_on(mu, schedule, float(cc), np.array([et_star[i, j]]), 0.0, tidx)[1]
            train_min[i, j] = float(tr.mean())
    dims = ("N", "c")
    variables = {
        "eta_tau": (dims, et_star, "optimal training time eta*tau* (inf: no early stopping helps)"),
        "test_min": (dims, test_min, "test loss at eta*tau*"),
        "train_at_min": (dims, train_min, "train loss at eta*tau*"),
        "test_inf": (dims, test_inf, "test loss of the minimiser (tau = inf)"),
    }
    attrs = {"quantity": "optimal stopping", "t": str(t), "spectrum": spectrum.name or "spectrum",
             "d": float(spectrum.d), "schedule": schedule.name, "quadrature": method,
             "quadrature_rule": "; ".join(dict.fromkeys(rules)), "lindiff_version": __version__}
    return assemble(variables, [Nax, cax], attrs)


def denoiser_distance(
    spectrum: Spectrum,
    N: ArrayLike,
    eta_tau: ArrayLike = np.inf,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    t: ArrayLike | None = None,
    *,
    tol: float = 1e-11,
    strict: bool = False,
) -> xr.DataArray:
    """Deterministic equivalent of E‖(W_t - W_ref) x_t‖²/d, the distance of the trained denoiser
    from the population reference W_ref = b (a² Sigma + b² I)^-1 (spec §2): by the excess-loss
    identity it equals L_test(W_t) - L_test(W_ref), the test loss minus the population optimum.
    For one dense W use :func:`lindiff.exact.denoiser_distance`.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import denoiser_distance
    >>> dist = denoiser_distance(lindiff.Spectrum.powerlaw(200, 1.0), N=400, eta_tau=[1.0, 100.0], t=500)
    >>> bool((dist >= 0).all())
    True
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    gf = gradflow_losses(spectrum, N, eta_tau, c, schedule, t, tol=tol, strict=strict)
    tax, tidx = time_axis(schedule, t)
    optimum = spectrum.df1(schedule.q[tidx]) / float(spectrum.d)
    opt = xr.DataArray(optimum if not tax.scalar else optimum[0], dims=("t",) if not tax.scalar else ())
    if not tax.scalar:
        opt = opt.assign_coords(t=tax.values)
    out = gf.test - opt
    out.name = "denoiser_distance"
    out.attrs = {"description": "E||(W - W_ref) x_t||^2 / d = test loss - population optimum"}
    return out
