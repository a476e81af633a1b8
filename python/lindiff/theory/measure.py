"""The deterministic-equivalent spectral measures of C (spec §3): density on the real axis,
support, Stieltjes transform, and quadrature rules (real-axis adaptive Gauss or complex contour)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._display import Cell
from .._lazy import lazy_module
from .._results import DiagnosticsMixin, report_convergence
from .._validation import check_spectrum, choice, positive_scalar, real_array
from ..spectrum import Spectrum

xr = lazy_module("xarray")

__all__ = ["DeMeasure", "de_measure", "spectral_density"]

MEASURES = ("rho", "sigma", "sinv")
METHODS = ("real", "contour")


@dataclass(repr=False)
class DeMeasure(DiagnosticsMixin):
    """``int f dmu ≈ atom * f(0) + sum_j weight_j f(node_j)`` for the three DE measures of C:

    ``rho`` (eigenvalues of C), ``sigma`` (weighted by the overlaps v^T Sigma v) and ``sinv``
    (weighted by v^T Sigma^-1 v). With ``method="real"`` the nodes are real points of the
    support (adaptive Gauss per support interval, real positive weights: any integrand works,
    including explicit GD's ``(1 - 2 eta m)^n`` at any n); with ``method="contour"`` they lie
    on a contour around ``[s_lo, s_hi]`` (complex weights: integrands analytic near the
    support). The atoms sit at s = 0 (N < d). ``error`` is the worst relative error of the sum
    rules and of the Stieltjes transforms at three real points, against the real fixed-point
    solution; ``intervals`` counts the support intervals the real rule resolved.
    """

    nodes: NDArray[np.complex128]
    weights: dict[str, NDArray[np.complex128]]
    atoms: dict[str, float]
    s_lo: float
    s_hi: float
    kappa0: float
    error: float
    converged: bool
    message: str
    N: float
    d: float
    method: str = "contour"
    intervals: int = 1

    def integrate(self, f: Callable[[Any], Any], measure: str = "rho") -> complex:
        """``int f dmu`` for a vectorised f analytic near the support (f(0) is used for the atom).

        Examples
        --------
        >>> import lindiff
        >>> from lindiff.theory import de_measure
        >>> mu = de_measure(lindiff.Spectrum.powerlaw(200, 1.0), N=100)
        >>> round(mu.integrate(lambda s: s).real, 10)   # mean eigenvalue of C = Tr Sigma / d
        1.0
        """
        choice("measure", measure, MEASURES)
        vals = np.asarray(f(self.nodes))
        atom = self.atoms[measure]
        f0 = complex(np.asarray(f(np.zeros(1)))[0]) if atom else 0.0
        return complex(np.sum(self.weights[measure] * vals) + atom * f0)

    def _title(self) -> str:
        return f"DE measure ({self.method}): N = {self.N:g}, d = {self.d:g}, {self.nodes.size} nodes"

    def _cells(self) -> list[Cell]:
        return [
            ("converged", str(self.converged), self.converged),
            ("error", f"{self.error:.2g}", self.converged),
            ("support", f"[{self.s_lo:.4g}, {self.s_hi:.4g}], {self.intervals} interval(s)", None),
            ("atom rho{0}", f"{self.atoms['rho']:.4g}", None),
            ("kappa0", f"{self.kappa0:.4g}", None),
            ("message", self.message, None),
        ]

    def __repr__(self) -> str:
        return str(self)


def de_measure(spectrum: Spectrum, N: float, *, method: str = "contour", tol: float = 1e-11,
               max_nodes: int | None = None, min_nodes: int | None = None, strict: bool = False) -> DeMeasure:
    """Build the quadrature rule of the DE spectral measures of C = X X^T / N.

    ``method="contour"``: the Stieltjes transforms come from kappa continued to complex z along a
    contour (a Bernstein ellipse in ln s around the support); the number of nodes doubles until
    the checks hold. ``method="real"``: the real-axis parametrisation of
    :func:`spectral_density`; per support interval an adaptive composite 16-point Gauss-Legendre
    rule in theta, x = Re kappa = mid + half cos theta (the square-root edges become analytic),
    refined until the error estimate of the interval's masses and mean is below ``tol / 30``
    (rounding noise discounted); gaps in the support are found exactly (roots of df2(x) = N
    between the poles x = -lambda). Above 4096 distinct eigenvalues its spectral sums go through
    a tree of Chebyshev proxies in ln lambda (O(log d) per node, 2e-15 of the sum of |terms|). Both are checked by the sum rules (masses, mean)
    and the Stieltjes transforms at three real test points against the real fixed point, to
    ``tol``. Needs N != d: at N = d the support touches 0 (a hard edge) and a ValueError says so.

    Parameters
    ----------
    spectrum : Spectrum
    N : float
        Number of samples, > 0 and != d.
    method : {"contour", "real"}
    tol : float
        Relative accuracy asked of the checks.
    max_nodes : int, optional
        Node limit (contour: in all, default 16384; real: per support interval, default 65536).
    min_nodes : int, optional
        First level (default 64 contour, 16 real: one panel; the real rule starts from
        min_nodes / 32 panels); larger values refine the rule (a check of an integrand's
        convergence).
    strict : bool
        Raise :class:`lindiff.ConvergenceError` instead of warning when the checks fail.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import de_measure
    >>> mu = de_measure(lindiff.Spectrum.powerlaw(1000, 1.0), N=600)
    >>> bool(mu.converged), round(mu.atoms["rho"], 12)
    (True, 0.4)
    >>> real = de_measure(lindiff.Spectrum.powerlaw(1000, 1.0), N=600, method="real")
    >>> bool(real.converged), bool(abs(real.integrate(lambda s: s ** 2) - mu.integrate(lambda s: s ** 2)) < 1e-10)
    (True, True)
    """
    spectrum = check_spectrum(spectrum)
    N = positive_scalar("N", N)
    choice("method", method, METHODS)
    tol = positive_scalar("tol", tol)
    max_nodes = _node_count("max_nodes", max_nodes if max_nodes is not None else (65536 if method == "real" else 16384))
    first = _node_count("min_nodes", min_nodes if min_nodes is not None else (16 if method == "real" else 64))
    if first > max_nodes:
        raise ValueError(f"min_nodes must be <= max_nodes (got {first} > {max_nodes})")
    if method == "real":
        d = _core.de_measure_real(*spectrum._core_args(), N, tol=tol, m_min=first, m_max=max_nodes)
    else:
        d = _core.de_measure(*spectrum._core_args(), N, tol=tol, m_min=first, m_max=max_nodes)
    mu = DeMeasure(
        nodes=d["nodes"],
        weights={"rho": d["w_rho"], "sigma": d["w_sigma"], "sinv": d["w_sinv"]},
        atoms={"rho": d["atom_rho"], "sigma": d["atom_sigma"], "sinv": d["atom_sinv"]},
        s_lo=d["s_lo"], s_hi=d["s_hi"], kappa0=d["kappa0"], error=d["error"],
        converged=bool(d["converged"]), message=str(d["message"]), N=N, d=float(spectrum.d),
        method=method, intervals=int(d["intervals"]),
    )
    report_convergence(mu.converged, f"de_measure(N={N:g}, method={method!r}): {mu.message} "
                       f"(error {mu.error:.2g}, tol {tol:g})", mu, strict)
    return mu


def _node_count(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 8 <= int(value) <= 2**22:
        raise ValueError(f"{name} must be an integer in [8, 4194304] (got {value!r})")
    return int(value)


def spectral_density(spectrum: Spectrum, N: float, s: ArrayLike) -> xr.Dataset:
    """The deterministic-equivalent spectral density of C = X X^T / N on the real axis.

    At z = -s - i0 the fixed point z = kappa (1 - df1(kappa)/N) has kappa = x + i y with
    ``sum_nu lambda_nu^2 / ((lambda_nu + x)^2 + y^2) = N`` where y != 0; s(x) is strictly
    decreasing, so each s is solved for by bracketed Newton in the real x, with y from a
    monotone one-dimensional equation: no complex continuation, no branch to lose. Then
    ``rho(s) = y sum lambda/|lambda + kappa|^2 / (pi s d)`` (and the same with lambda^2 and 1 for
    the Sigma- and Sigma^-1-weighted measures), exact closed forms in kappa.

    Parameters
    ----------
    spectrum : Spectrum
        The population spectrum of Sigma.
    N : float
        Number of samples, > 0.
    s : float or array
        Real points (finite).

    Returns
    -------
    xarray.Dataset
        On dim ``s``: ``rho`` (density of the eigenvalues of C, continuous part),
        ``rho_sigma``, ``rho_sinv`` (densities of the measures weighted by v^T Sigma v and
        v^T Sigma^-1 v), ``stieltjes`` (complex ``m(s + i0) = int drho(u)/(u - s - i0)``, the atom
        included: Im m = pi rho), ``kappa`` (complex x + i y); on dim ``interval``:
        ``support_lo``, ``support_hi`` (the support intervals, gaps resolved). Attributes
        ``atom`` (mass 1 - N/d at s = 0 for N < d), ``N``, ``d``.

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff.theory import spectral_density
    >>> ds = spectral_density(lindiff.Spectrum(np.ones(100)), N=400, s=1.0)   # Marchenko-Pastur, d/N = 1/4
    >>> q = 0.25; lo, hi = (1 - q ** 0.5) ** 2, (1 + q ** 0.5) ** 2
    >>> bool(np.isclose(ds.rho, np.sqrt((hi - 1) * (1 - lo)) / (2 * np.pi * q)))
    True
    >>> float(ds.support_lo[0]), float(ds.support_hi[0])
    (0.25, 2.25)
    """
    spectrum = check_spectrum(spectrum)
    N = positive_scalar("N", N)
    sv = real_array("s", s)
    if sv.ndim > 1:
        raise ValueError(f"s must be a scalar or 1-dimensional (got shape {sv.shape})")
    if not np.all(np.isfinite(sv)):
        raise ValueError("s must be finite")
    flat = np.atleast_1d(sv).astype(np.float64)
    r = _core.de_spectral_density(*spectrum._core_args(), N, flat)
    dim = () if sv.ndim == 0 else ("s",)
    pick = (lambda a: a[0]) if sv.ndim == 0 else (lambda a: a)
    d = float(spectrum.d)
    out = xr.Dataset(
        {
            "rho": (dim, pick(r["rho"]), {"description": "density of the eigenvalues of C (continuous part)"}),
            "rho_sigma": (dim, pick(r["rho_sigma"]), {"description": "density weighted by v^T Sigma v"}),
            "rho_sinv": (dim, pick(r["rho_sinv"]), {"description": "density weighted by v^T Sigma^-1 v"}),
            "stieltjes": (dim, pick(r["stieltjes"]), {"description": "m(s + i0), atom included; Im = pi rho"}),
            "kappa": (dim, pick(r["kappa_re"] + 1j * r["kappa_im"]), {"description": "kappa at z = -s - i0"}),
            "support_lo": (("interval",), r["support_lo"][::-1], {"description": "support intervals, ascending"}),
            "support_hi": (("interval",), r["support_hi"][::-1]),
        },
        coords={"s": (dim, pick(flat))} if dim else {"s": flat[0]},
        attrs={"N": N, "d": d, "atom": max(0.0, 1.0 - N / d), "spectrum": spectrum.name or "spectrum"},
    )
    return out
