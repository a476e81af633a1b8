"""Quadrature rules for the deterministic-equivalent spectral measures of C (spec §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .._display import Cell
from .._results import DiagnosticsMixin, report_convergence
from .._validation import positive_scalar
from ..spectrum import Spectrum
from ._grid import check_spectrum

__all__ = ["DeMeasure", "de_measure"]

MEASURES = ("rho", "sigma", "sinv")


@dataclass(repr=False)
class DeMeasure(DiagnosticsMixin):
    """``int f dmu ≈ atom * f(0) + sum_j weight_j f(node_j)`` for the three DE measures of C:

    ``rho`` (eigenvalues of C), ``sigma`` (weighted by the overlaps v^T Sigma v) and ``sinv``
    (weighted by v^T Sigma^-1 v). Nodes lie on a contour around the continuous support
    ``[s_lo, s_hi]``; the atoms sit at s = 0 (N < d). ``error`` is the worst relative error of
    the sum rules and of the Stieltjes transforms at three real points, against the real
    fixed-point solution.
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
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES} (got {measure!r})")
        vals = np.asarray(f(self.nodes))
        atom = self.atoms[measure]
        f0 = complex(np.asarray(f(np.zeros(1)))[0]) if atom else 0.0
        return complex(np.sum(self.weights[measure] * vals) + atom * f0)

    def _title(self) -> str:
        return f"DE measure: N = {self.N:g}, d = {self.d:g}, {self.nodes.size} nodes"

    def _cells(self) -> list[Cell]:
        return [
            ("converged", str(self.converged), self.converged),
            ("error", f"{self.error:.2g}", self.converged),
            ("support", f"[{self.s_lo:.4g}, {self.s_hi:.4g}]", None),
            ("atom rho{0}", f"{self.atoms['rho']:.4g}", None),
            ("kappa0", f"{self.kappa0:.4g}", None),
            ("message", self.message, None),
        ]

    def __repr__(self) -> str:
        return str(self)


def de_measure(spectrum: Spectrum, N: float, *, tol: float = 1e-11, max_nodes: int = 16384,
               strict: bool = False) -> DeMeasure:
    """Build the quadrature rule of the DE spectral measures of C = X X^T / N.

    The Stieltjes transforms come from kappa continued to complex z along a contour (a
    Bernstein ellipse in ln s around the support); the number of nodes doubles until the sum
    rules (masses, mean) and the transforms at real test points hold to ``tol``. Needs N != d:
    at N = d the support touches 0 (a hard edge) and a ValueError says so.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.theory import de_measure
    >>> mu = de_measure(lindiff.Spectrum.powerlaw(1000, 1.0), N=600)
    >>> bool(mu.converged), round(mu.atoms["rho"], 12)
    (True, 0.4)
    """
    spectrum = check_spectrum(spectrum)
    N = positive_scalar("N", N)
    d = _core.de_measure(*spectrum._core_args(), N, tol=positive_scalar("tol", tol), m_max=int(max_nodes))
    mu = DeMeasure(
        nodes=d["nodes"],
        weights={"rho": d["w_rho"], "sigma": d["w_sigma"], "sinv": d["w_sinv"]},
        atoms={"rho": d["atom_rho"], "sigma": d["atom_sigma"], "sinv": d["atom_sinv"]},
        s_lo=d["s_lo"], s_hi=d["s_hi"], kappa0=d["kappa0"], error=d["error"],
        converged=bool(d["converged"]), message=str(d["message"]), N=N, d=float(spectrum.d),
    )
    report_convergence(mu.converged, f"de_measure(N={N:g}): {mu.message} (error {mu.error:.2g} > tol {tol:g})",
                       mu, strict)
    return mu
