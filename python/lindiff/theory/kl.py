"""KL divergence of the linear diffusion model's sampling distribution, spec §2–§3."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import __version__
from .._compress import certified_all, for_complex_kappa
from .._labelled import Axis, assemble, axis, sample_size_axis
from .._lazy import lazy_module
from .._results import report_convergence
from .._validation import check_schedule, check_spectrum, flag, optional_callable
from ..kappa import kappa as _kappa
from ..schedule import Schedule
from ..spectrum import Spectrum
from .measure import DeMeasure, de_measure
from .sampler import sampler_gamma, training_time

xr = lazy_module("xarray")

__all__ = ["kl", "kl_population"]


def _mean_log_lambda(spectrum: Spectrum) -> float:
    return float(np.sum(spectrum.weights * np.log(spectrum.eigenvalues)) / spectrum.d)


#: Largest relative error accepted of the correction's sum rules (quadrature of the 1/N terms).
_FINITE_D_TOL = 1e-7


def _first_order_weights(spectrum: Spectrum, N: float, mu: DeMeasure) -> tuple[dict[str, NDArray[np.complex128]], float]:
    """Weights of the 1/N corrections of the three DE measures on ``mu``'s contour nodes.

    Real Gaussian data (derivation ``lindiff.derivations.kl``, steps ``finite_d_*``): with
    ``R = (C + z)^-1``, ``E R = R_DE + Delta + O(N^-2)``, diagonal in Sigma's eigenbasis,

        Delta_nu = lambda_nu/(lambda_nu + kappa)^2 [delta + kappa/(z N)]
                   - kappa^2 lambda_nu / (z N (lambda_nu + kappa)^3 (1 - df2/N)),
        delta    = kappa/(z N^2) [df2/(1 - df2/N) - kappa t3/(1 - df2/N)^2],

    ``t3 = sum lambda^2/(lambda + kappa)^3``; the transforms of the corrections are
    ``(1/d) Tr A Delta`` for A = I, Sigma, Sigma^-1. A transform m(z) enters the rule as
    ``weight = fac * m(z)``; ``fac`` is recovered from ``w_rho / G_rho`` and checked against the
    other two measures (same kappa branch as ``de_measure``). Returns the weights and the
    largest relative error of the exact sum rules of the corrections (masses and first moments
    0, second moments ``Tr(A Sigma^2)/(d N)``).
    """
    z = -mu.nodes
    kres = _kappa(z, spectrum, N)
    if not np.all(kres.converged):
        raise RuntimeError("finite_d: kappa did not converge on the contour of de_measure")
    K = np.asarray(kres.value, dtype=np.complex128)
    lam, w, d = spectrum.eigenvalues, spectrum.weights, float(spectrum.d)
    cols = np.stack([w, w * lam, w * lam**2, w / lam], axis=1)      # sum w lambda^p f, p = 0, 1, 2, -1
    M = z.size
    P1, P2, P3 = (np.empty((M, 4), dtype=np.complex128) for _ in range(3))
    step = max(1, int(2_000_000 // max(lam.size, 1)))
    for a in range(0, M, step):
        X = 1.0 / (lam[None, :] + K[a:a + step, None])
        P1[a:a + step] = X @ cols
        X2 = X * X
        P2[a:a + step] = X2 @ cols
        P3[a:a + step] = (X2 * X) @ cols
    f = K / (z * d)
    G = {"rho": f * P1[:, 0], "sigma": f * P1[:, 1], "sinv": f * P1[:, 3]}
    fac = mu.weights["rho"] / G["rho"]
    for m in ("sigma", "sinv"):
        ref = mu.weights[m]
        if np.max(np.abs(fac * G[m] - ref)) > 1e-8 * np.max(np.abs(ref)):
            raise RuntimeError("finite_d: kappa on the contour does not match de_measure's branch")
    df2, t3 = P2[:, 2], P3[:, 2]
    den = 1.0 - df2 / N
    delta = K / (z * N**2) * (df2 / den - K * t3 / den**2)
    A = delta + K / (z * N)
    B = K**2 / (z * N * den)
    dm = {"rho": (A * P2[:, 1] - B * P3[:, 1]) / d,
          "sigma": (A * P2[:, 2] - B * P3[:, 2]) / d,
          "sinv": (A * P2[:, 0] - B * P3[:, 0]) / d}
    dw = {m: fac * dm[m] for m in dm}
    # exact sum rules of the corrections: E C = Sigma, E C^2 = (1 + 1/N) Sigma^2 + Sigma Tr Sigma / N
    m2 = {"rho": np.sum(w * lam**2), "sigma": np.sum(w * lam**3), "sinv": np.sum(w * lam)}
    s = mu.nodes
    err = 0.0
    for m, wt in dw.items():
        for k, want in ((0, 0.0), (1, 0.0), (2, m2[m] / (d * N))):
            got = np.sum(wt * s**k)
            scale = max(np.sum(np.abs(wt * s**k)), abs(want), 1e-300)
            err = max(err, abs(got - want) / scale)
    return dw, float(err)


def _measure(spectrum: Spectrum, rule: Spectrum, N: float, tol: float, strict: bool) -> tuple[DeMeasure, Spectrum]:
    """The DE measure at N over the Gauss rule ``rule`` when the rule is certified at kappa on
    every contour node (:func:`lindiff._compress.certified`), else over every eigenvalue; and the
    spectrum it used."""
    if rule is not spectrum:
        mu = de_measure(rule, N, tol=tol, strict=False)
        k = _kappa(-mu.nodes, rule, N, compress=False)
        if mu.converged and k.all_converged and certified_all(rule.info["compression"], k.value):
            return mu, rule
    return de_measure(spectrum, N, tol=tol, strict=strict), spectrum


def kl(
    spectrum: Spectrum,
    N: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    eta_tau: ArrayLike = np.inf,
    sampler: str = "ddpm",
    *,
    finite_d: bool = False,
    gamma: Callable[[NDArray[np.complex128]], ArrayLike] | None = None,
    tol: float = 1e-11,
    strict: bool = False,
    compress: bool | str = "auto",
) -> xr.Dataset:
    """Deterministic-equivalent KL per dimension between the sampling law N(0, Sigma_gen) and
    the data law N(0, Sigma), both directions:

    - ``kl_fwd`` = KL(gen ‖ data) = ½[∫ gamma drho_Sinv - 1 - ∫ log gamma drho + mean log lambda],
    - ``kl_rev`` = KL(data ‖ gen) = ½[∫ gamma⁻¹ drho_Sigma - 1 + ∫ log gamma drho - mean log lambda],

    with gamma(s) the sampler's variance map (:func:`sampler_gamma`) and the DE measures of
    :func:`de_measure` (atoms at 0 exactly). With N < d, c = 0 and the pinned ``ddpm`` sampler
    (sigma_1 = 0) the samples lie in span(X): gamma(0) = 0 and both KLs are +inf.

    Parameters
    ----------
    finite_d : bool
        Add the first-order finite-size correction to both directions (needs N > d + 1). The DE
        is the limit d, N -> inf at fixed d/N; for real Gaussian data E KL - DE is O(1/d) per
        dimension (for the N(0, C) sampler -log(1 - d/N)/(4d) forward, about 1/(4N) at small d/N),
        which a few hundred draws resolve: 6 to 19 standard errors of the ensembles below. The
        correction is the exact 1/N term of E (C + z)^-1 from Gaussian integration by parts
        (derived and checked in ``lindiff.derivations``, module ``kl``, steps ``finite_d_*``),
        integrated against this gamma on the DE contour, so it holds for any gamma (sampler, c,
        eta_tau or a user ``gamma``). What is left is O(1/d^2); for the N(0, C) sampler (exact law
        :func:`lindiff.theory.kl_wishart`) it is -0.06/d^2 (fwd) and +6.3/d^2 (rev) at N = 1.5 d,
        -0.02/d^2 and +1.0/d^2 at N = 2 d, and grows like N/(N - d)^3 in the reverse direction
        as N approaches d. Against :func:`lindiff.simulate.ensemble` at d in {50, 100, 200}
        (1000, 400, 200 draws), N/d in {1.5, 2, 4, 8}, power laws k in {0, 1, 2}, for the ``ddpm``
        sampler and gamma(s) = s, every cell is within 2.2 standard errors (the plain DE: 6.1 or
        more). The dataset gets ``finite_d_residual``, the largest relative error of the
        correction's exact sum rules on the contour (a warning above 1e-7).
    gamma : callable, optional
        Replace the sampler by any variance map gamma(s) (vectorised, analytic near the
        support), e.g. ``lambda s: s`` for a sampler that reproduces N(0, C) exactly.
    compress : {"auto", True, False}
        Build the DE measure over the Gauss rule of :meth:`Spectrum.compress` where the rule is
        certified at kappa on every contour node (``CompressionInfo.bound_at`` below 1e-13),
        else over every eigenvalue. The contour encloses the support, so kappa there comes close
        to the negative real axis (``|arg kappa|`` up to about pi) where a rule sized for real
        kappa has no bound: in practice the check fails and the direct sums are used; the
        attribute ``spectral_sums`` says which and why. ``"auto"``: tried only from 4096 distinct
        eigenvalues (and 2e8 eigenvalue-node pairs, or a memoised rule); ``True``: always tried.

    Returns
    -------
    xarray.Dataset
        ``kl_fwd``, ``kl_rev`` with dims ``(N, c, eta_tau)`` as given, ``imag_residual``
        (and ``finite_d_residual`` with ``finite_d``); ``attrs["spectral_sums"]``.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import kl, kl_marchenko_pastur
    >>> ds = kl(lindiff.Spectrum.powerlaw(500, 1.0), N=1000, gamma=lambda s: s)
    >>> fwd, rev = kl_marchenko_pastur(0.5)
    >>> bool(abs(ds.kl_fwd - fwd) < 1e-9 and abs(ds.kl_rev - rev) < 1e-9)
    True

    With ``finite_d`` the N(0, C) sampler gets the first order of the exact (Wishart) law:

    >>> from lindiff.theory import kl_wishart
    >>> fd = kl(lindiff.Spectrum.powerlaw(100, 1.0), N=200, gamma=lambda s: s, finite_d=True)
    >>> exact = kl_wishart(100, 200)
    >>> [round(float(v), 5) for v in (fd.kl_fwd, fd.kl_rev)], [round(v, 5) for v in exact]
    ([0.15516, 0.35484], [0.15516, 0.35494])
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    Nax = sample_size_axis(N, spectrum.d)
    cax = axis("c", c, positive=False)
    et, eta = training_time(eta_tau, None)
    eax = Axis("eta_tau", et, np.ndim(eta_tau) == 0)
    finite_d = flag("finite_d", finite_d)
    gamma = optional_callable("gamma", gamma)
    d = float(spectrum.d)
    mll = _mean_log_lambda(spectrum)
    shape = (len(Nax), len(cax), len(eax))
    fwd, rev, imag = np.empty(shape), np.empty(shape), np.zeros(len(Nax))
    fd_err = np.zeros(len(Nax))
    if finite_d and not np.all(Nax.values > d + 1):
        bad = float(Nax.values[~(Nax.values > d + 1)][0])
        raise ValueError(f"finite_d=True needs N > d + 1 (got N = {bad:g}, d = {d:g})")
    rule, how = for_complex_kappa(spectrum, compress, 2560.0 * len(Nax))
    used = []
    for i, n in enumerate(Nax.values):
        mu, over = _measure(spectrum, rule, n, tol, strict)
        used.append(over is not spectrum)
        w_rho, w_sig, w_inv = mu.weights["rho"], mu.weights["sigma"], mu.weights["sinv"]
        if finite_d:
            dw, fd_err[i] = _first_order_weights(over, n, mu)
        a_rho, a_sig, a_inv = mu.atoms["rho"], mu.atoms["sigma"], mu.atoms["sinv"]
        for j, cc in enumerate(cax.values):
            if gamma is None:
                g = np.atleast_2d(sampler_gamma(mu.nodes, schedule, float(cc), et, sampler))
                g0 = np.atleast_2d(sampler_gamma(np.zeros(1), schedule, float(cc), et, sampler))[:, 0]
            else:
                g = np.broadcast_to(np.asarray(gamma(mu.nodes), dtype=np.complex128), (et.size, mu.nodes.size))
                g0 = np.full(et.size, complex(np.asarray(gamma(np.zeros(1, dtype=np.complex128)))[0]).real)
            singular = _singular_gamma(g, et.size)
            g = np.where(singular[:, None], 1.0, g)   # rows with gamma = 0: KL = +inf (set below)
            logg = np.log(g)
            int_g = g @ w_inv
            int_log = logg @ w_rho
            with np.errstate(over="ignore", invalid="ignore"):  # 1/gamma beyond the float range
                int_inv = (1.0 / g) @ w_sig
            rev_overflow = ~np.isfinite(int_inv)                # ... makes kl_rev +inf (never NaN)
            int_inv = np.where(rev_overflow, 0.0, int_inv)
            imag[i] = max(imag[i], float(np.max(np.abs(np.r_[int_g.imag, int_log.imag, int_inv.imag]))))
            # atoms at s = 0 (N < d): gamma(0) = 0 makes both directions infinite
            null = g0 <= 0
            safe = np.where(null, 1.0, g0)
            atom_f = a_inv * g0 - (a_rho * np.log(safe) if a_rho else 0.0)
            atom_r = (a_sig / safe if a_sig else 0.0) + (a_rho * np.log(safe) if a_rho else 0.0)
            f = 0.5 * (int_g.real - 1.0 - int_log.real + mll + atom_f)
            r = 0.5 * (int_inv.real - 1.0 + int_log.real - mll + atom_r)
            if a_rho or a_sig:
                f = np.where(null, np.inf, f)
                r = np.where(null, np.inf, r)
            if finite_d:
                lin_g, lin_inv, lin_log = g @ dw["sinv"], (1.0 / g) @ dw["sigma"], logg @ dw["rho"]
                imag[i] = max(imag[i], float(np.max(np.abs(np.r_[lin_g.imag, lin_inv.imag, lin_log.imag]))))
                f = f + 0.5 * (lin_g.real - lin_log.real)
                r = r + 0.5 * (lin_inv.real + lin_log.real)
            fwd[i, j], rev[i, j] = np.where(singular, np.inf, f), np.where(singular | rev_overflow, np.inf, r)
    if finite_d:
        report_convergence(bool(np.all(fd_err <= _FINITE_D_TOL)),
                           f"kl(finite_d=True): sum rules of the 1/N correction hold only to {fd_err.max():.2g} "
                           f"(> {_FINITE_D_TOL:g})", None, strict)
    dims = ("N", "c", "eta_tau")
    variables = {
        "kl_fwd": (dims, fwd, "KL(gen || data) per dimension"),
        "kl_rev": (dims, rev, "KL(data || gen) per dimension"),
        "imag_residual": (("N",), imag, "largest |Im| of the contour integrals"),
    }
    if finite_d:
        variables["finite_d_residual"] = (("N",), fd_err, "largest relative error of the sum rules of the 1/N correction")
    if rule is not spectrum:
        how = (f"{sum(used)} of {len(used)} N over the {len(rule)}-node Gauss rule (certified at kappa on every "
               f"contour node), the rest direct sums over {len(spectrum)} eigenvalues (kappa on the contour "
               "outside the rule's certified region)")
    attrs = {"quantity": "deterministic-equivalent KL", "sampler": sampler if gamma is None else "user gamma",
             "finite_d": int(finite_d), "spectrum": spectrum.name or "spectrum", "d": d,
             "schedule": schedule.name, "spectral_sums": how, "lindiff_version": __version__}
    return assemble(variables, [Nax, cax, eax], attrs)


def _singular_gamma(g: NDArray[np.generic], rows: int) -> NDArray[np.bool_]:
    """Rows where gamma vanishes at the nodes: Sigma_gen is singular there (e.g. a deterministic
    sampler whose abar_T underflows, or a user gamma = 0) and both KLs are +inf. Non-finite
    gamma values are a ValueError (they used to give a silent NaN)."""
    g = np.asarray(g).reshape(rows, -1)
    if not np.all(np.isfinite(g)):
        raise ValueError("gamma must be finite at the quadrature nodes (the sampler's variance map gave "
                         "inf or NaN: check the schedule, c and eta_tau, or the user gamma)")
    return np.any(g == 0, axis=1)


def kl_population(
    spectrum: Spectrum,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    sampler: str = "ddpm",
) -> xr.Dataset:
    """The N = inf optimum: Sigma_gen = gamma(Sigma), KL_inf = ½ mean_nu[r - 1 - log r] with
    r = gamma(lambda_nu)/lambda_nu (and ½ mean[1/r - 1 + log r] for the reverse direction).
    Non-zero because of the finite T, abar_T != 0 and the choice of sigma_t.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import kl_population
    >>> ds = kl_population(lindiff.Spectrum.powerlaw(100, 1.0))
    >>> bool(0 < ds.kl_fwd < 0.1)
    True
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    cax = axis("c", c, positive=False)
    lam, w, d = spectrum.eigenvalues, spectrum.weights, float(spectrum.d)
    fwd, rev = np.empty(len(cax)), np.empty(len(cax))
    for j, cc in enumerate(cax.values):
        g = np.asarray(sampler_gamma(lam, schedule, float(cc), np.inf, sampler), dtype=np.float64).ravel()
        if _singular_gamma(g, 1)[0]:  # Sigma_gen singular: both KLs are +inf
            fwd[j] = rev[j] = np.inf
            continue
        log_r = np.log(g) - np.log(lam)   # r = gamma/lambda may underflow (tiny gamma): keep its log
        with np.errstate(over="ignore"):  # 1/r beyond the float range: rev = +inf, the honest value
            fwd[j] = 0.5 * float(np.sum(w * (np.exp(log_r) - 1 - log_r))) / d
            rev[j] = 0.5 * float(np.sum(w * (np.exp(-log_r) - 1 + log_r))) / d
    variables = {"kl_fwd": (("c",), fwd, "KL(gen || data) per dimension, N = inf"),
                 "kl_rev": (("c",), rev, "KL(data || gen) per dimension, N = inf")}
    attrs = {"quantity": "population KL (N = inf)", "sampler": sampler, "spectrum": spectrum.name or "spectrum",
             "d": d, "schedule": schedule.name, "lindiff_version": __version__}
    return assemble(variables, [cax], attrs)
