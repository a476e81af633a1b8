"""The r-node real Gauss rule of the DE measures that the training-time losses are summed over.

Along gradient flow every loss is an integral of F(s) = f(a² s + b² + c, e^{-2 eta tau m}) against
the DE measures rho and rho_Sigma of C (:mod:`lindiff.theory.measure`). In u = ln s these
integrands are analytic and bounded in the strip |Im u| < pi/2 for every eta tau (there
Re m > b² + c > 0, so |e^{-2 eta tau m}| < 1), so a Gauss rule of each measure in u converges
geometrically with a rate set by the strip and the spread of ln s, not by d or by the fine rule's
size. The rule is built from the fine real-axis rule of :func:`de_measure` (``method="real"``,
positive weights) by Lanczos in u (:class:`lindiff._compress.GaussRules`: one Lanczos run per
measure, extended by doubling, every size a leading block of it) and sized a posteriori:
r grows until the test, train and ridge-data losses at a check grid of (eta tau, t) agree with the
fine rule to ``tol``. The result is a real rule: the kernel evaluates it with real, vectorised exp.
Explicit GD is not covered (its (1 - 2 eta m)^n grows off the real axis): it keeps the fine rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .._compress import GaussRules
from ..schedule import Schedule
from .measure import DeMeasure

__all__ = ["TrainingRule", "training_rule"]

CHECK_ETA_TAU = np.append(np.geomspace(1e-3, 1e7, 21), np.inf)
R_START, R_STEP, R_MAX = 16, 8, 160
PREPASS_WIDTH = 0.125   # in ln s


@dataclass(frozen=True)
class TrainingRule:
    """A real quadrature rule ``sum_j w_j f(s_j)`` plus the atoms at 0, for the DE losses.

    ``measure`` is the rule the kernel sums over (real nodes; the first ``r_rho`` nodes carry
    rho's weights, the rest rho_Sigma's); ``error`` is the largest relative difference of the
    checked losses from the fine rule's (``fine_nodes`` nodes), ``compressed`` False when no
    rule up to :data:`R_MAX` nodes per measure reached ``tol`` and the fine rule is used as is.
    """

    measure: DeMeasure
    r_rho: int
    r_sigma: int
    fine_nodes: int
    error: float
    tol: float
    compressed: bool

    def describe(self) -> str:
        """One line for a result's attributes."""
        if not self.compressed:
            return (f"fine real-axis rule, {self.fine_nodes} nodes (no Gauss rule up to {R_MAX} nodes per "
                    f"measure reached {self.tol:g})")
        return (f"real Gauss rule in ln s: {self.r_rho} + {self.r_sigma} nodes (rho, rho_Sigma) from the "
                f"{self.fine_nodes}-node real-axis rule; checked losses within {self.error:.2g} (tol {self.tol:g})")


def _check_points(schedule: Schedule) -> NDArray[np.int64]:
    return np.unique(np.geomspace(1, schedule.T, 12).round().astype(np.int64)) - 1


def _losses(mu: DeMeasure, schedule: Schedule, c: float, eta_tau: NDArray[np.float64],
            tidx: NDArray[np.int64]) -> NDArray[np.float64]:
    te, tr, ri, _ = _core.de_losses(mu.nodes, mu.weights["rho"], mu.weights["sigma"], mu.atoms["rho"],
                                    mu.atoms["sigma"], schedule.a2, schedule.b2, c, eta_tau, 0.0, tidx)
    return np.stack([te, tr, ri])


class _LogRules:
    """Gauss rules in u = ln s, scaled to [-1, 1] over the fine rule's nodes, of one measure."""

    def __init__(self, s: NDArray[np.float64], w: NDArray[np.float64], lo: float, hi: float) -> None:
        keep = w > 0
        self.center, self.half = (np.log(hi) + np.log(lo)) / 2, max((np.log(hi) - np.log(lo)) / 2, 1e-300)
        # pre-pass groups of width 1/8 in ln s (the strip is pi/2 wide): a fine rule of 40k nodes
        # (d = 1e6) becomes ~2k points for the Lanczos run; the sizing below checks the result
        self.rules = GaussRules((np.log(s[keep]) - self.center) / self.half, w[keep], group_width=PREPASS_WIDTH / self.half)

    def rule(self, r: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x, wg = self.rules.rule(r)
        return np.exp(self.center + self.half * x), wg


def _assemble(fine: DeMeasure, rho: _LogRules, sigma: _LogRules, r: int) -> tuple[DeMeasure, int, int]:
    n1, w1 = rho.rule(r)
    n2, w2 = sigma.rule(r)
    z1, z2 = np.zeros_like(w1), np.zeros_like(w2)
    nodes = np.concatenate([n1, n2]).astype(np.complex128)
    weights = {"rho": np.concatenate([w1, z2]).astype(np.complex128),
               "sigma": np.concatenate([z1, w2]).astype(np.complex128),
               "sinv": np.zeros(nodes.size, dtype=np.complex128)}
    mu = DeMeasure(nodes=nodes, weights=weights, atoms=dict(fine.atoms), s_lo=fine.s_lo, s_hi=fine.s_hi,
                   kappa0=fine.kappa0, error=fine.error, converged=fine.converged, message=fine.message,
                   N=fine.N, d=fine.d, method="gauss", intervals=fine.intervals)
    return mu, n1.size, n2.size


def training_rule(fine: DeMeasure, schedule: Schedule, c: NDArray[np.float64], tol: float,
                  eta_tau: NDArray[np.float64] | None = None) -> TrainingRule:
    """The smallest Gauss rule (r = 16, 24, ... per measure) whose test, train and ridge-data
    losses at the check grid (21 eta tau in [1e-3, 1e7] and inf, up to 16 of the call's own
    ``eta_tau``, 12 log-spaced t, every c) agree with those of ``fine`` (a real-axis rule) to
    relative ``tol``; the fine rule itself when none up to :data:`R_MAX` nodes does.

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> from lindiff.theory import de_measure
    >>> from lindiff.theory._training_rule import training_rule
    >>> fine = de_measure(lindiff.Spectrum.powerlaw(1000, 1.0), 600, method="real")
    >>> rule = training_rule(fine, lindiff.Schedule.linear(), np.zeros(1), 1e-12)
    >>> rule.compressed, rule.r_rho < 64 < rule.fine_nodes, rule.error <= 1e-12
    (True, True, True)
    """
    w_ok = all(np.all(fine.weights[m].real >= 0) and not np.any(fine.weights[m].imag) for m in ("rho", "sigma"))
    if fine.method != "real" or not w_ok:
        raise ValueError("training_rule needs a real-axis rule with non-negative weights (de_measure(method='real'))")
    extra = np.asarray([] if eta_tau is None else eta_tau, dtype=np.float64).ravel()
    if extra.size > 16:
        extra = extra[np.linspace(0, extra.size - 1, 16).round().astype(int)]
    checks = np.concatenate([CHECK_ETA_TAU, extra])
    tidx = _check_points(schedule)
    refs = [_losses(fine, schedule, float(cc), checks, tidx) for cc in c]
    cap = min(R_MAX, fine.nodes.size // 2)
    s = fine.nodes.real
    lo, hi = float(s.min()), float(s.max())
    rho, sigma = (_LogRules(s, fine.weights[m].real, lo, hi) for m in ("rho", "sigma"))
    r = R_START
    while r <= cap:
        mu, r1, r2 = _assemble(fine, rho, sigma, r)
        err = max(float(np.max(np.abs(_losses(mu, schedule, float(cc), checks, tidx) - ref) / np.maximum(np.abs(ref), 1e-300)))
                  for cc, ref in zip(c, refs))
        if err <= tol:
            return TrainingRule(mu, r1, r2, fine.nodes.size, err, tol, True)
        r += R_STEP
    return TrainingRule(fine, fine.nodes.size, fine.nodes.size, fine.nodes.size, 0.0, tol, False)
