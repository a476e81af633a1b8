"""Spectral compression: an r-node Gauss rule of the spectral measure in u = log(lambda).

Every theory quantity is a spectral sum ``sum_nu w_nu f(lambda_nu)`` with ``f`` a rational
function of lambda and kappa, e.g. ``lambda/(lambda+kappa) = 1/(1 + exp(-(u - log kappa)))``.
In ``u = log(lambda)`` these are analytic in the strip ``|Im u| < pi - |arg kappa|`` whatever the
spectrum, so the Gauss rule of the measure ``mu = sum_i w_i delta(u - u_i)`` converges
geometrically in the number of nodes r, at a rate set by pi and the spread of log(lambda), not by d.

Algorithm (:func:`compress`):

1. merge equal eigenvalues; map u to x in [-1, 1] (``x = (u - c)/h``);
2. pre-pass for large spectra (more than ``PREPASS_MIN`` distinct values): cut the u axis into
   groups of width ``GROUP_WIDTH`` and replace each group of more than ``GROUP_NODES`` points by
   its own ``GROUP_NODES``-node Gauss rule (a Lanczos run on every group at once, O(d));
   the error of this step is bounded by :func:`prepass_bound` (below 1e-19 relative for real
   kappa > 0), so the reduced measure has at most a few thousand points;
3. Lanczos with full reorthogonalisation (twice) on the reduced measure in x: the Jacobi matrix
   of mu; Golub-Welsch (eigh of its leading r x r block) gives the r-node rule for every r;
4. r: the smallest with the a-priori bound (:func:`gauss_bound`) below ``tol`` on a grid of real
   kappa, then raised until the a-posteriori check against the direct sums passes.

A-priori bound. For f analytic and ``|f| <= M`` in the Bernstein ellipse ``E_rho`` (foci -1, 1),
the Chebyshev coefficients satisfy ``|a_k| <= 2 M rho^-k``, so the best polynomial approximation
of degree 2r-1 has error ``<= 2 M rho^(1-2r)/(rho-1)``; the r-node Gauss rule of a positive
measure of mass m0 is exact for that degree and has positive weights summing to m0, hence

    |sum w f - sum W f| <= 4 m0 M(rho) rho^(1-2r) / (rho - 1)   for every 1 < rho < rho_pole,

where rho_pole is the ellipse through the nearest pole ``u = log|kappa| + i (arg kappa +- pi)``.
M(rho) is evaluated on the ellipse (max modulus principle; 256 points) and the bound minimised
over 32 values of rho. Relative bounds divide by |df1|, |df2| (from the compressed rule).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._lazy import lazy_module

linalg = lazy_module("scipy.linalg")

__all__ = ["CompressionInfo", "GaussRules", "compress", "gauss_bound", "gauss_rule", "prepass_bound", "for_real_kappa",
           "for_complex_kappa", "certified", "certified_all", "AUTO_MIN_SIZE", "AUTO_MIN_WORK"]

#: spectra with more distinct values than this get the O(d) group pre-pass
PREPASS_MIN = 2048
#: width of a pre-pass group in u = log(lambda)
GROUP_WIDTH = 0.25
#: Gauss nodes per pre-pass group
GROUP_NODES = 8
#: relative range of the check grid: kappa in [KAPPA_LO * lambda_min, KAPPA_HI * lambda_max]
KAPPA_LO, KAPPA_HI = 1e-10, 1e4
#: most nodes tried before giving up (the spectrum is then returned uncompressed)
R_MAX = 160
_N_RHO, _N_PHI = 32, 256
#: compress="auto": spectra with at least this many distinct eigenvalues ...
AUTO_MIN_SIZE = 4096
#: ... and calls of at least this many (eigenvalue, kappa point) pairs, about 0.1 s of direct
#: sums (a compression costs 0.1-0.2 s at d = 1e4-2e5 and is memoised on the spectrum)
AUTO_MIN_WORK = 2e8
#: the tolerance of automatic compressions (relative, df1 and df2 at real kappa > 0)
AUTO_TOL = 1e-13


@dataclass(frozen=True)
class CompressionInfo:
    """What :meth:`lindiff.Spectrum.compress` did, and how accurate it is.

    Attributes
    ----------
    compressed : bool
        False when the spectrum was returned unchanged (too few distinct values, or ``tol`` not
        reachable with ``R_MAX`` nodes).
    r, n_distinct, n_reduced : int
        Nodes of the rule; distinct eigenvalues of the original; points after the pre-pass.
    tol : float
        The requested relative accuracy.
    kappa_range : (float, float)
        The real-kappa interval certified and checked: ``[1e-10 lambda_min, 1e4 lambda_max]``.
    bound : float
        A-priori bound on the max relative error of df1 and df2 over 200 log-spaced real kappa in
        ``kappa_range`` (final rule + pre-pass term; rounding not included). Normally <= ``tol``;
        it can exceed ``tol`` when r reached ``R_MAX`` and only the a-posteriori check passed
        (then the check is the guarantee, and ``theta_max`` says so for complex kappa).
    measured_df1, measured_df2 : float
        A-posteriori max relative error against the direct sums at 30 log-spaced real kappa.
    trace_rel_error, d_rel_error : float
        ``|Tr_compressed/Tr - 1|`` and the same for d (d is exact by construction).
    theta_max : float
        The largest ``|arg kappa|`` (a multiple of pi/40) for which the a-priori bound stays
        below ``tol`` for every ``|kappa|`` in ``kappa_range``: the certified complex region.
    prepass_bound : float
        The pre-pass term of ``bound`` (0 when there was no pre-pass).
    seconds : float
        Wall time of the compression (bound and check included).
    """

    compressed: bool
    r: int
    n_distinct: int
    n_reduced: int
    tol: float
    kappa_range: tuple[float, float]
    bound: float
    measured_df1: float
    measured_df2: float
    trace_rel_error: float
    d_rel_error: float
    theta_max: float
    prepass_bound: float
    seconds: float
    _center: float = field(default=0.0, repr=False)
    _half: float = field(default=1.0, repr=False)
    _mass: float = field(default=1.0, repr=False)
    _nodes: tuple[float, ...] = field(default=(), repr=False)
    _weights: tuple[float, ...] = field(default=(), repr=False)

    @property
    def measured(self) -> float:
        """``max(measured_df1, measured_df2)``."""
        return max(self.measured_df1, self.measured_df2)

    def bound_at(self, kappa: ArrayLike) -> NDArray[np.float64]:
        """A-priori relative error bound of df1 and df2 at ``kappa`` (real > 0 or complex, not on
        the negative axis), shape ``kappa.shape + (2,)``; inf where the rule gives no bound.
        Without a pre-pass term: add :attr:`prepass_bound` (valid for real kappa > 0)."""
        k = np.asarray(kappa, dtype=np.complex128)
        if not self.compressed:
            return np.zeros(k.shape + (2,))
        lam, w = np.asarray(self._nodes), np.asarray(self._weights)
        ab = gauss_bound(k.ravel(), self.r, self._center, self._half, self._mass)
        f1, f2 = _core.df12_complex(lam, w, k.ravel())
        rel = ab / np.stack([np.abs(f1), np.abs(f2)], axis=-1)
        return rel.reshape(k.shape + (2,))


# ---------------------------------------------------------------------------- bounds
def _ellipse_tables(kappa: NDArray[np.complex128], center: float, half: float
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For every kappa: 32 ellipse parameters below the nearest pole and max |f| on each ellipse,
    ``f(u) = 1/(1 + kappa exp(-u))`` with ``u = center + half x``, sampled at 256 angles.

    In real arithmetic: with ``v = u - log kappa`` and ``e = exp(-Re v)``,
    ``|1 + e^(-v)|^2 = (1 - e)^2 + 4 e cos^2(Im v / 2)`` (no cancellation, never negative); for
    real kappa the ellipse is symmetric about the real axis, so the angles in [0, pi] (129 of
    the 256) carry every value. Kernel: ``cpp/include/lindiff/compress_bound.hpp``."""
    rho, M = _core.ellipse_tables(np.ascontiguousarray(kappa, dtype=np.complex128).ravel(), float(center),
                                  float(half), _N_RHO, _N_PHI)
    return rho, M


def gauss_bound(kappa: ArrayLike, r: int, center: float, half: float, mass: float
                ) -> NDArray[np.float64]:
    """A-priori absolute error bound of the r-node Gauss rule for df1 and df2 at each kappa,
    shape ``(K, 2)``: ``min_rho 4 m0 M^p rho^(1-2r)/(rho-1)``, p = 1, 2 (see the module doc)."""
    k = np.atleast_1d(np.asarray(kappa, dtype=np.complex128))
    rho, M = _ellipse_tables(k, center, half)
    return _bound_from_tables(rho, M, r, mass)


def _bound_from_tables(rho: NDArray[np.float64], M: NDArray[np.float64], r: int, mass: float
                       ) -> NDArray[np.float64]:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lr = np.log(rho)
        base = np.log(4 * mass) + (1 - 2 * r) * lr - np.log(rho - 1)
        b1 = np.exp(np.min(base + np.log(M), axis=-1))
        b2 = np.exp(np.min(base + 2 * np.log(M), axis=-1))
    out = np.stack([b1, b2], axis=-1)
    return np.where(np.isnan(out), np.inf, out)


def prepass_bound(width: float = GROUP_WIDTH, nodes: int = GROUP_NODES, theta: float = 0.0) -> float:
    """Relative error bound of the group pre-pass for df1 and df2 at ``kappa = |kappa| e^(i theta)``.

    A group of half-width ``a = width/2`` in u with its own n-node Gauss rule: take the ellipse
    with ``a (rho - 1/rho)/2 = b``, ``b = (pi - |theta|)/2`` (pi/2 for real kappa); on it
    ``|Im w| <= b``, so with ``f(w) = 1/(1 + e^(-(w - log kappa)))`` the phase of ``e^(-(w - log
    kappa))`` stays within ``phi = b + |theta| < pi`` and ``|f(w)| <= c min(1, e^(Re w - log|kappa|))``,
    ``c = 1/sqrt(min(1, 1 + cos phi))`` (1 for real kappa); on the group (real u)
    ``|f| >= 1/(1 + e^(log|kappa| - u))``. Hence ``max_ellipse |f| / min_group |f| <= c K``,
    ``K = 1 + e^E``, ``E = a (1 + (rho + 1/rho)/2)``, and each group's error is
    ``<= 4 (c K)^p rho^(1-2n)/(rho-1)`` (p = 2 for df2) times its ``sum w |f|^p``. Relative to
    the complex total, ``|sum w f^p| >= cos(p theta) sum w |f|^p`` (``|arg f| <= |theta|``), so the
    bound is divided by ``cos(p theta)``: finite for ``|theta| < pi/4``, inf beyond.

    Examples
    --------
    >>> from lindiff._compress import prepass_bound
    >>> prepass_bound() < 1e-19, prepass_bound(theta=0.2) < 1e-15, prepass_bound(theta=1.0)
    (True, True, inf)
    """
    th = abs(float(theta))
    if th >= np.pi / 4:
        return float("inf")
    a = width / 2
    b = (np.pi - th) / 2
    s = 2 * b / a
    rho = (s + np.sqrt(s * s + 4)) / 2
    E = a * (1 + (rho + 1 / rho) / 2)
    c = 1 / np.sqrt(min(1.0, 1 + np.cos(b + th)))
    K = c * (1 + np.exp(E))
    return float(4 * K * K * rho ** (1 - 2 * nodes) / (rho - 1) / np.cos(2 * th))


# ---------------------------------------------------------------------------- Lanczos
class _Lanczos:
    """Lanczos on diag(x) from sqrt(w/m0) with full reorthogonalisation (classical Gram-Schmidt,
    twice), resumable: :meth:`extend` continues from the last step, so the coefficients of the
    first r steps are the same whatever is asked later. Stops at breakdown (``complete``)."""

    def __init__(self, x: NDArray[np.float64], w: NDArray[np.float64]) -> None:
        self.x = x
        self.Q = np.zeros((min(16, x.size), x.size))
        self.Q[0] = np.sqrt(w / w.sum())
        self.alpha: list[float] = []
        self.beta: list[float] = []
        self.complete = False

    def extend(self, r: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The Jacobi matrix (alpha, beta) of the first min(r, steps possible) steps."""
        n = self.x.size
        r = min(r, n)
        if min(r + 1, n) > self.Q.shape[0]:   # room for the basis vector after step r - 1
            grown = np.zeros((min(max(r + 1, 2 * self.Q.shape[0]), n), n))
            grown[: self.Q.shape[0]] = self.Q
            self.Q = grown
        Q = self.Q
        while len(self.alpha) < r and not self.complete:
            j = len(self.alpha)
            v = self.x * Q[j]
            self.alpha.append(float(Q[j] @ v))
            for _ in range(2):
                v -= Q[: j + 1].T @ (Q[: j + 1] @ v)
            b = float(np.linalg.norm(v))
            if j + 1 == n or b <= 1e-13 * max(1.0, abs(self.alpha[j])):
                self.complete = True
                break
            self.beta.append(b)
            Q[j + 1] = v / b
        k = min(r, len(self.alpha))
        return np.array(self.alpha[:k]), np.array(self.beta[: max(k - 1, 0)])


def _lanczos(x: NDArray[np.float64], w: NDArray[np.float64], r: int
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Jacobi matrix (alpha, beta) of ``sum w delta(x)`` from r Lanczos steps (:class:`_Lanczos`)."""
    return _Lanczos(x, w).extend(r)


def _golub_welsch(alpha: NDArray[np.float64], beta: NDArray[np.float64], r: int, mass: float
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes (eigenvalues of the r x r Jacobi matrix) and weights ``m0 V[0, j]^2``. LAPACK's
    tridiagonal solver: a dense ``eigh`` goes through threaded BLAS, 30x slower on a loaded machine."""
    if r == 1:
        return alpha[:1].copy(), np.array([mass])
    x, V = linalg.eigh_tridiagonal(alpha[:r], beta[: r - 1])
    return x, mass * V[0] ** 2


def gauss_rule(x: NDArray[np.float64], w: NDArray[np.float64], r: int
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The r-node Gauss rule (nodes ascending, positive weights, the same mass) of the discrete
    measure ``sum_i w_i delta(x_i)`` (w > 0): Lanczos with full reorthogonalisation, then
    Golub-Welsch. Fewer nodes come back when the measure has fewer than r points. For accuracy
    pass x scaled to about [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff._compress import gauss_rule
    >>> x, w = gauss_rule(np.linspace(-1, 1, 2001), np.full(2001, 1 / 2001), 3)
    >>> bool(abs(w @ x ** 4 - np.mean(np.linspace(-1, 1, 2001) ** 4)) < 1e-14)
    True
    """
    alpha, beta = _lanczos(x, w, r)
    return _golub_welsch(alpha, beta, alpha.size, float(w.sum()))


class GaussRules:
    """Gauss rules of growing size of one discrete measure ``sum_i w_i delta(x_i)`` (w > 0), from
    one Lanczos run extended by doubling: the r-node rule is Golub-Welsch on the leading r x r
    block of the Jacobi matrix, bitwise the rule :func:`gauss_rule` gives for that r (the first r
    Lanczos steps do not depend on how many follow). Sizing a rule r = 16, 24, ... then costs
    about one Lanczos run of the final size instead of one per size. With ``group_width``, a
    measure of more than ``PREPASS_MIN`` points is first reduced by the pre-pass (every group of
    that width in x with more than ``GROUP_NODES`` points replaced by its own Gauss rule): exact for
    polynomials of degree < 2 GROUP_NODES per group, so for an integrand analytic in a strip
    much wider than the groups the error is that of the pre-pass bound; check it a posteriori.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff._compress import GaussRules, gauss_rule
    >>> x, w = np.linspace(-1, 1, 501), np.full(501, 1 / 501)
    >>> rules = GaussRules(x, w)
    >>> all(np.array_equal(rules.rule(r)[0], gauss_rule(x, w, r)[0]) for r in (4, 24, 40))
    True
    """

    def __init__(self, x: NDArray[np.float64], w: NDArray[np.float64], group_width: float | None = None) -> None:
        if group_width is not None and x.size > PREPASS_MIN:
            o = np.argsort(x, kind="stable")
            x, w = _prepass(x[o], w[o], group_width)
        self._lanczos, self._mass = _Lanczos(x, w), float(w.sum())
        self._alpha, self._beta = self._lanczos.extend(16)

    def rule(self, r: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The r-node rule (fewer nodes when the measure has fewer points)."""
        if r > self._alpha.size and not self._lanczos.complete:
            self._alpha, self._beta = self._lanczos.extend(r)
        n = min(r, self._alpha.size)
        return _golub_welsch(self._alpha, self._beta, n, self._mass)


def _segment_gauss(y: NDArray[np.float64], w: NDArray[np.float64], starts: NDArray[np.intp], n: int
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """n-node Gauss rules of many groups at once (contiguous segments starting at ``starts``,
    each with more than n points, local coordinate y in [-1, 1]); returns (G, n) nodes, weights.
    The Jacobi matrices come from the kernel (``segment_jacobi``, compress_bound.hpp), one
    Lanczos run per group; their eigenvalues here."""
    G = starts.size
    alpha, beta, mass = _core.segment_jacobi(y, w, starts.astype(np.int64), n)
    J = np.zeros((G, n, n))
    idx = np.arange(n)
    J[:, idx, idx] = alpha
    J[:, idx[:-1], idx[1:]] = beta
    J[:, idx[1:], idx[:-1]] = beta
    x, V = np.linalg.eigh(J)
    return x, mass[:, None] * V[:, 0, :] ** 2


def _prepass(u: NDArray[np.float64], w: NDArray[np.float64], width: float = GROUP_WIDTH
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Replace every group of ``width`` in u with more than GROUP_NODES points by its
    GROUP_NODES-node Gauss rule (u sorted ascending)."""
    g = np.floor((u - u[0]) / width).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    lens = np.diff(np.append(starts, u.size))
    big = lens > GROUP_NODES
    keep = np.repeat(~big, lens)
    parts_u, parts_w = [u[keep]], [w[keep]]
    if big.any():
        sel = np.repeat(big, lens)
        ub, wb = u[sel], w[sel]
        lb = lens[big]
        sb = np.r_[0, np.cumsum(lb)[:-1]]
        lo, hi = u[starts[big]], u[starts[big] + lb - 1]
        ctr, hw = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-300)
        gid = np.repeat(np.arange(lb.size), lb)
        y = (ub - ctr[gid]) / hw[gid]
        yn, wn = _segment_gauss(y, wb, sb, GROUP_NODES)
        parts_u.append((ctr[:, None] + hw[:, None] * yn).ravel())
        parts_w.append(wn.ravel())
    uu, ww = np.concatenate(parts_u), np.concatenate(parts_w)
    o = np.argsort(uu)
    return uu[o], ww[o]


# ---------------------------------------------------------------------------- driver
def _exact_mass(x: NDArray[np.float64], w: NDArray[np.float64], mass: float
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Reorder so the largest weight is summed last and set it to ``mass - (sum of the others)``
    in the kernel's summation order: d is preserved exactly, not just to rounding, at a relative
    change of the largest weight of order eps * d / w_max."""
    o = np.r_[np.delete(np.arange(w.size), np.argmax(w)), np.argmax(w)]
    x, w = x[o].copy(), w[o].copy()
    partial = float(_core.spectrum_summary(np.ones(w.size - 1), w[:-1])["d"])
    w[-1] = mass - partial
    for _ in range(8):
        res = mass - float(_core.spectrum_summary(np.ones_like(w), w)["d"])
        if res == 0:
            break
        w[-1] += res if abs(res) > np.spacing(w[-1]) else np.copysign(np.spacing(w[-1]), res)
    return x, w


def _rel_err(a: NDArray[Any], b: NDArray[Any]) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def direct_sums(lam: NDArray[np.float64], w: NDArray[np.float64], kappa: ArrayLike
                ) -> tuple[NDArray[Any], NDArray[Any]]:
    """df1 and df2 by the stable direct formula ``f = lambda/(lambda + kappa)``, pairwise sums
    (the reference of the a-posteriori check; the kernel's df2 at kappa >> lambda_max carries a
    rounding error of up to ~1e-13 relative, which would otherwise show up as compression error).
    Kernel: ``df12_pairwise`` in ``cpp/include/lindiff/compress_bound.hpp``."""
    k = np.atleast_1d(np.asarray(kappa))
    weights = None if bool(np.all(w == 1.0)) else np.ascontiguousarray(w, dtype=np.float64)
    f1, f2 = _core.df12_pairwise(np.ascontiguousarray(lam, dtype=np.float64), weights,
                                 np.ascontiguousarray(k, dtype=np.complex128).ravel())
    if not np.iscomplexobj(k):
        f1, f2 = f1.real, f2.real
    return f1.reshape(k.shape), f2.reshape(k.shape)


def _distinct_log(lam: NDArray[np.float64], w: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The distinct values of ln(lambda), ascending, and their summed weights: O(d) for a sorted
    spectrum (Spectrum's usual order), a sort otherwise."""
    lg = np.log(lam)
    step = np.diff(lg)
    if np.all(step <= 0):
        lg, w, step = lg[::-1], w[::-1], -step[::-1]
    if np.all(step >= 0):
        starts = np.flatnonzero(np.r_[True, step != 0])
        return lg[starts], np.add.reduceat(w, starts)
    ul, inv = np.unique(lg, return_inverse=True)
    return ul, np.bincount(inv.ravel(), weights=w, minlength=ul.size)


def compress(lam: NDArray[np.float64], w: NDArray[np.float64] | None, tol: float, angle: float = 0.0
             ) -> tuple[NDArray[np.float64], NDArray[np.float64], CompressionInfo]:
    """Nodes, weights and :class:`CompressionInfo` of the compressed spectrum (see module doc):
    r is sized so that the a-priori bound is below ``tol`` for real kappa > 0 and for
    ``|arg kappa| <= angle`` (moduli in the check range). When no compression happens the inputs
    come back (weights all 1 when ``w`` is None)."""
    t0 = time.perf_counter()
    w_in = np.ones_like(lam) if w is None else w
    mass = float(_core.spectrum_summary(lam, w)["d"])     # d as the kernel sums it
    trace = float(w_in @ lam)
    lmin, lmax = float(lam.min()), float(lam.max())
    krange = (KAPPA_LO * lmin, KAPPA_HI * lmax)

    def unchanged(n_reduced: int) -> tuple[NDArray[np.float64], NDArray[np.float64], CompressionInfo]:
        info = CompressionInfo(False, int(lam.size), int(np.unique(lam).size), n_reduced, tol, krange,
                               0.0, 0.0, 0.0, 0.0, 0.0, float(np.pi), 0.0, time.perf_counter() - t0)
        return lam, w_in, info

    ul, wu = _distinct_log(lam, w_in)
    n_distinct = ul.size
    if n_distinct <= 8:
        return unchanged(n_distinct)
    pre = n_distinct > PREPASS_MIN
    u, wr = _prepass(ul, wu) if pre else (ul, wu)
    pre_b = prepass_bound() if pre else 0.0
    center, half = (ul[0] + ul[-1]) / 2, (ul[-1] - ul[0]) / 2
    x = (u - center) / half
    lam_r = np.exp(u)

    # a-priori tables: 100 real kappa (+ 40 at arg = angle), denominators from the reduced measure
    kb = np.geomspace(*krange, 100).astype(np.complex128)
    if angle > 0:
        kb = np.concatenate([kb, np.geomspace(*krange, 40) * np.exp(1j * angle)])
    rho, M = _ellipse_tables(kb, center, half)
    g1, g2 = direct_sums(lam_r, wr, kb)
    den = np.stack([np.abs(g1), np.abs(g2)], axis=-1)
    real = kb.imag == 0

    def apriori(r: int) -> float:
        return float(np.max(_bound_from_tables(rho, M, r, mass) / den))

    # a-posteriori check points: 30 real kappa (+ 30 at arg = angle), direct stable sums
    kc = np.geomspace(*krange, 30).astype(np.complex128)
    if angle > 0:
        kc = np.concatenate([kc, np.geomspace(*krange, 30) * np.exp(1j * angle)])
    f1d, f2d = direct_sums(lam, w_in, kc)
    r_cap = min(R_MAX, u.size - 1)
    r0 = next((r for r in range(4, r_cap + 1) if apriori(r) + pre_b <= tol), r_cap)
    alpha, beta = _lanczos(x, wr, min(r_cap, r0 + 24))
    r = min(r0, alpha.size)
    while True:
        xn, wn = _golub_welsch(alpha, beta, r, mass)
        xn, wn = _exact_mass(xn, wn, mass)
        nodes = np.exp(center + half * xn)
        f1, f2 = direct_sums(nodes, wn, kc)
        e1, e2 = _rel_err(f1, f1d), _rel_err(f2, f2d)
        etr = abs(float(wn @ nodes) / trace - 1)
        if max(e1, e2, etr) <= tol:
            break
        if r >= alpha.size:
            if alpha.size >= r_cap:
                return unchanged(u.size)
            alpha, beta = _lanczos(x, wr, min(r_cap, alpha.size + 24))
            if r >= alpha.size:   # breakdown: the reduced measure has only r points
                return unchanged(u.size)
        r = min(r + 2, alpha.size)
    ab = _bound_from_tables(rho, M, r, mass)
    h1, h2 = direct_sums(nodes, wn, kb)
    bnd = float(np.max(ab[real] / np.stack([h1[real], h2[real]], axis=-1).real)) + pre_b

    # certified complex region: the largest theta (multiple of pi/20) with bound <= tol
    theta_max = 0.0
    mods = np.geomspace(*krange, 30)
    for th in np.arange(1, 20) * np.pi / 20:
        kz = mods * np.exp(1j * th)
        bz = gauss_bound(kz, r, center, half, mass)
        q1, q2 = direct_sums(nodes, wn, kz)
        if max(np.max(bz[:, 0] / np.abs(q1)), np.max(bz[:, 1] / np.abs(q2))) > tol:
            break
        theta_max = float(th)
    info = CompressionInfo(True, int(r), int(n_distinct), int(u.size), tol, krange, bnd, e1, e2, etr,
                           abs(float(_core.spectrum_summary(nodes, wn)["d"]) / mass - 1), theta_max, pre_b, time.perf_counter() - t0,
                           float(center), float(half), mass, tuple(nodes.tolist()), tuple(wn.tolist()))
    return nodes, wn, info


def _rule_for(spectrum: Any, compress: object, work: float, min_size: bool) -> tuple[Any, str]:
    """The memoised AUTO_TOL rule of ``spectrum`` when ``compress`` asks for it (None and the
    reason otherwise). ``work``: eigenvalue-point pairs of the call; ``min_size``: "auto" needs
    AUTO_MIN_SIZE distinct values even when a rule is memoised."""
    if compress is not True and compress is not False and not (isinstance(compress, str) and compress == "auto"):
        raise ValueError(f"compress must be 'auto', True or False (got {compress!r})")
    n = len(spectrum)
    if compress is False:
        return None, f"direct sums over {n} eigenvalues (compress=False)"
    memoised = (AUTO_TOL, 0.0) in spectrum._compressed
    small = n < AUTO_MIN_SIZE
    if compress == "auto" and ((min_size and small) or (not memoised and (small or work < AUTO_MIN_WORK))):
        return None, f"direct sums over {n} eigenvalues (compress='auto': compression would not pay)"
    out = spectrum.compress(AUTO_TOL)
    if not out.info["compression"].compressed:
        return None, f"direct sums over {n} eigenvalues (no Gauss rule reached {AUTO_TOL:g})"
    return out, ""


def _describe(info: CompressionInfo, n: int) -> str:
    return (f"{info.r}-node Gauss rule in log(lambda) for {n} eigenvalues (Spectrum.compress): "
            f"certified bound {info.bound:.2g}, measured {info.measured:.2g} (df1, df2 at real kappa)")


def for_real_kappa(spectrum: Any, compress: object, points: float) -> tuple[Any, str]:
    """The spectrum a theory call at ``points`` real kappa > 0 should sum over, and what it did.

    ``compress``: ``"auto"`` (compress when the spectrum has at least :data:`AUTO_MIN_SIZE`
    distinct eigenvalues and the call at least :data:`AUTO_MIN_WORK` eigenvalue-point pairs, or
    the spectrum was compressed before), ``True`` (always, at :data:`AUTO_TOL`) or ``False``
    (the direct sums). The description goes into the result's attributes.
    """
    out, why = _rule_for(spectrum, compress, points * len(spectrum), min_size=False)
    if out is None:
        return spectrum, why
    return out, _describe(out.info["compression"], len(spectrum))


def for_complex_kappa(spectrum: Any, compress: object, points: float) -> tuple[Any, str]:
    """As :func:`for_real_kappa` for a call at complex kappa, where every result must then pass
    :func:`certified` (a bound evaluation, ~0.1 ms per point): ``"auto"`` therefore also needs
    :data:`AUTO_MIN_SIZE` distinct eigenvalues when a rule is memoised."""
    out, why = _rule_for(spectrum, compress, points * len(spectrum), min_size=True)
    if out is None:
        return spectrum, why
    return out, _describe(out.info["compression"], len(spectrum))


def certified(info: CompressionInfo, kappa: ArrayLike, chunk: int = 64) -> NDArray[np.bool_]:
    """Where the rule of ``info`` is certified at ``kappa`` (real > 0 or complex): the a-priori
    relative bound of df1 and df2 plus the pre-pass term (:func:`prepass_bound` at arg kappa)
    is at most ``info.tol``, with ``|kappa|`` in ``info.kappa_range``. Real kappa > 0 in the range
    is certified by construction; complex kappa costs one bound evaluation per point (in chunks).

    Examples
    --------
    >>> import lindiff
    >>> from lindiff._compress import certified
    >>> info = lindiff.Spectrum.powerlaw(1000, 1.0).compress().info["compression"]
    >>> certified(info, [1.0, 1.0 + 0.1j, -1.0 + 0.1j]).tolist()
    [True, True, False]
    """
    k = np.atleast_1d(np.asarray(kappa, dtype=np.complex128)).ravel()
    ok = np.zeros(k.shape, dtype=bool)
    if not info.compressed:
        return ok
    lo, hi = info.kappa_range
    mod, th = np.abs(k), np.abs(np.angle(k))
    inside = np.isfinite(k) & (mod >= lo) & (mod <= hi)
    ok[inside & (th == 0) & (k.real > 0)] = True
    rest = np.flatnonzero(inside & ~ok)
    for a in range(0, rest.size, chunk):
        idx = rest[a:a + chunk]
        b = info.bound_at(k[idx]).max(axis=-1)
        pre = np.array([prepass_bound(theta=t) if info.prepass_bound > 0 else 0.0 for t in th[idx]])
        ok[idx] = b + pre <= info.tol
    return ok


def certified_all(info: CompressionInfo, kappa: ArrayLike) -> bool:
    """Whether :func:`certified` holds at every kappa, checked from the largest ``|arg kappa|``
    down in chunks of 8, stopping at the first failure (a contour whose kappa nears the negative
    axis fails at once, for the price of one chunk).

    Examples
    --------
    >>> import lindiff
    >>> from lindiff._compress import certified_all
    >>> info = lindiff.Spectrum.powerlaw(1000, 1.0).compress().info["compression"]
    >>> certified_all(info, [1.0, 2.0]), certified_all(info, [1.0, -1.0 + 0.01j])
    (True, False)
    """
    k = np.atleast_1d(np.asarray(kappa, dtype=np.complex128)).ravel()
    order = np.argsort(-np.abs(np.angle(k)), kind="stable")
    return all(bool(np.all(certified(info, k[order[a:a + 8]]))) for a in range(0, k.size, 8))
