"""The relative-distance criterion itself (spec ``memorization.md`` §1); see the package docstring."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._display import html_table, text_table
from .._distances import nearest_rows
from .._lazy import lazy_module
from .._validation import positive_int, positive_scalar, real_array

_special = lazy_module("scipy.special")

__all__ = ["NearestNeighbour", "ReferenceSample", "RelativeDistance", "kde_bandwidth",
           "nearest_neighbour_ratio", "relative_distance"]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_4PI = math.log(4.0 * math.pi)

# ----------------------------------------------------------------------------- rounding-error bounds
# The resolution of Delta (see relative_distance, Notes): every log-domain term is returned with an
# absolute bound on its error, built from the unit roundoff u = 2^-53 and gamma_n = n u / (1 - n u)
# (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3).  Inputs are taken as exact.
_U = 2.0 ** -53


def _gamma(n: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """gamma_n = n u / (1 - n u): the relative error bound of n chained roundings."""
    return n * _U / (1.0 - n * _U)


def _pairwise_depth(n: int) -> int:
    """Additions on the longest path of numpy's pairwise sum of n contiguous terms (8 accumulators,
    blocks of 128, halved recursively above; the remainder added sequentially)."""
    if n <= 8:
        return max(n - 1, 0)
    return -(-min(n, 128) // 8) + 10 + max(0, math.ceil(math.log2(n / 128.0)))


def _cpp_depth(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Additions on the longest path of the C++ kernel's row sum over m terms: blocks of 512
    columns (8 AVX lanes per block when built with AVX2, else sequential), blocks added in turn."""
    simd = "mavx2" in getattr(_core, "build_info", "")
    per_block = np.minimum(m, 512.0)
    if simd:
        per_block = np.ceil(per_block / 8.0) + 10.0
    return per_block + np.ceil(m / 512.0) + 1.0


def _log_expm1(e: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """ln(e^e - 1) without overflow (-inf at 0, inf at inf)."""
    e = np.asarray(e, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        small = np.log(np.expm1(np.minimum(e, 30.0)))
        return np.where(e > 30.0, e + np.log1p(-np.exp(-np.maximum(np.minimum(e, 700.0), 30.0))), small)


def _lse_fast(v: NDArray[np.float64]) -> float:
    """ln sum exp(v) for the bounds (plain numpy; the values themselves use scipy's logsumexp)."""
    if v.size == 0:
        return -math.inf
    m = float(np.max(v))
    if not math.isfinite(m):
        return m
    with np.errstate(divide="ignore"):
        return m + math.log(float(np.sum(np.exp(v - m))))


def _lse_error(vals: NDArray[np.float64], errs: NDArray[np.float64], depth: float) -> float:
    """Bound on |_special.logsumexp(vals) - ln sum exp(v_exact)| for terms with |vals - v_exact| <= errs.

    Propagation: with w the softmax weights, ln sum w_j e^(delta_j) <= ln(1 + sum w_j expm1(|delta_j|))
    above and >= -sum w_j |delta_j| below (Jensen); both are evaluated in the log domain, so that a
    far term with a large error weighs nothing.  Accumulation (scipy: a_max +
    log1p(sum exp(a - a_max))): the shifts a - a_max round by u |a - a_max| (weighted mean
    <= u ln m), exp by 4u, the sum by gamma_depth, log1p and the final addition by u ln m + 2u |L|.
    """
    fin = np.isfinite(vals)
    v, e = vals[fin], errs[fin]
    if v.size == 0:
        return 0.0
    L = _lse_fast(v)
    if np.any(np.isnan(e)):
        return math.inf
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        s_up = _lse_fast(v - L + _log_expm1(e))             # ln sum w expm1(err): the upper side
        up = s_up + math.log1p(math.exp(-s_up)) if s_up > 0 else math.log1p(math.exp(s_up))
        down = math.exp(min(_lse_fast(v - L + np.log(e)), 700.0))   # sum w err: the lower side
    prop = max(up, down)
    logm = math.log(v.size)
    return prop + 3.0 * _U * logm + 4.0 * _U + float(_gamma(depth + 2)) + 2.0 * _U * abs(L)


def _norms(X: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean norms of the rows."""
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def _rows_error(X: NDArray[np.float64], r_Y: float, scale: float, rows: NDArray[np.float64],
                counts: NDArray[np.float64], rho_s: float, xn: NDArray[np.float64] | None = None
                ) -> NDArray[np.float64]:
    """Error bounds of the C++ rows L_i = log sum_j exp(-scale |x_i - y_j|^2) (m_i = counts[i] terms).

    Per pair, t_ij = -scale D_ij with D_ij = |x_i|^2 + |y_j|^2 - 2 x_i.y_j from a GEMM: the norms
    and the dot product carry gamma_d of |x|^2, |y|^2, |x||y|, the combination two roundings, the
    centring of the inputs (x - c) 2u (|x| + |y|)^2 more: |dD| <= gamma_(d+5) (|x_i| + |y_j|)^2;
    with (|x| + |y|)^2 <= D + 4 |x||y| and the scale's relative error rho_s (+ u for the product),
    |dt_ij| <= alpha |t_ij| + beta_i, alpha = gamma_(d+5) + rho_s + u, beta_i = gamma_(d+5) 4 scale
    |x_i| r_Y.  With w_j = e^(t_j - L) and the power mean, sum_j w_j e^(alpha |t_j|) <=
    e^(alpha (ln m - L)), and by Jensen sum_j w_j dt_j >= -(alpha (ln m - L) + beta): the row is
    off by at most alpha (ln m_i - L_i) + beta_i from the errors of its terms.
    Accumulation: exp 4u, the argument shifts u ln m_i, the blocked sum gamma_depth, one rescale
    per column block (6u each), ln and the final addition u ln m_i + u |L_i|.
    """
    d = X.shape[1]
    g = float(_gamma(d + 5))
    if xn is None:
        xn = _norms(X)
    m = np.maximum(counts, 1.0)
    logm = np.log(m)
    fin = np.isfinite(rows)
    mean_t = np.maximum(logm - np.where(fin, rows, 0.0), 0.0)
    prop = (g + rho_s + _U) * mean_t + g * 4.0 * scale * xn * r_Y
    acc = 4.0 * _U + _gamma(_cpp_depth(m)) + 6.0 * _U * np.ceil(m / 512.0) + 2.0 * _U * logm \
        + _U * np.abs(np.where(fin, rows, 0.0))
    return np.where(fin, prop + acc, 0.0)


def _eps2_rel_error(bandwidth: str | float, n: int, d: int) -> float:
    """Bound on the relative rounding error of eps_n^2 as _eps2 computes it."""
    if isinstance(bandwidth, str):
        x = 2.0 * math.log(n) / d
        if bandwidth == "collapse":
            return 2.1 * _U * (1.0 + x) + 5.0 * _U
        return 2.1 * _U * x + 4.0 * _U
    return _U


def _logK_error(bandwidth: str | float, sigma: float, eps2: float, logK: float, n: int, d: int,
                rho_eps: float) -> float:
    """Bound on the rounding error of ln K_n as _eps2 computes it."""
    if bandwidth == "halder":
        return 2.0 * _U * 0.5 * d * (_LOG_4PI + 2.0 * abs(math.log(sigma))) * 2.0 + 2.0 * _U * abs(logK)
    return 0.5 * d * (2.0 * _U * _LOG_4PI + rho_eps + 2.0 * _U * abs(math.log(eps2))) \
        + 2.0 * _U * (abs(logK) + math.log(n))



# ----------------------------------------------------------------------------- input checks
def _points(name: str, value: ArrayLike, d: int | None = None, minimum: int = 1) -> NDArray[np.float64]:
    """A (n, d) float64 C-contiguous array of finite points (one per row)."""
    arr = real_array(name, value)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional with one point per row, shape (n, d) (got shape {arr.shape})")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column (got shape {arr.shape})")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have d = {d} columns like train (got shape {arr.shape})")
    if arr.shape[0] < minimum:
        raise ValueError(f"{name} must hold at least {minimum} point(s) (got {arr.shape[0]})")
    return np.ascontiguousarray(arr)


def kde_bandwidth(n: int, d: int, sigma: float, bandwidth: str | float = "halder") -> float:
    """Kernel width eps_n of the KDE of n points in d dimensions (data scale ``sigma``).

    ``"halder"`` (pinned): ``eps_n = sigma n^(-1/d)``, for which the KDE's self-energy
    ``(4 pi eps_n^2)^(-d/2) / n`` equals ``∫p^2`` of isotropic N(m, sigma^2 I) data;
    ``"collapse"``: ``eps_n^2 = sigma^2 / (n^(2/d) - 1)`` (needs n >= 2); a number: that eps for every n.

    Examples
    --------
    >>> from lindiff.memorization import kde_bandwidth
    >>> round(kde_bandwidth(16, 4, 1.0), 12)
    0.5
    >>> round(kde_bandwidth(16, 4, 1.0, "collapse") ** 2, 12)
    0.333333333333
    """
    n = positive_int("n", n)
    d = positive_int("d", d)
    sigma = positive_scalar("sigma", sigma)
    return math.sqrt(_eps2(bandwidth, sigma, n, d)[0])


def _eps2(bandwidth: str | float, sigma: float, n: int, d: int) -> tuple[float, float]:
    """(eps_n^2, log K_n) with K_n = (4 pi eps_n^2)^(-d/2) / n, so that ∫rho_n^2 = K_n (1 + off_n)."""
    logK = None
    if isinstance(bandwidth, str):
        if bandwidth == "halder":
            eps2 = sigma * sigma * math.exp(-2.0 * math.log(n) / d)
            # (4 pi eps_n^2)^(-d/2) / n = (4 pi sigma^2)^(-d/2) exactly: written without rounding
            logK = -0.5 * d * (_LOG_4PI + 2.0 * math.log(sigma))
        elif bandwidth == "collapse":
            if n < 2:
                raise ValueError("bandwidth='collapse' needs at least 2 points per KDE")
            eps2 = sigma * sigma / math.expm1(2.0 * math.log(n) / d)
        else:
            raise ValueError(f"bandwidth must be 'halder', 'collapse' or a number > 0 (got {bandwidth!r})")
    elif isinstance(bandwidth, (numbers.Real, np.number)) and not isinstance(bandwidth, (bool, np.bool_)):
        b = positive_scalar("bandwidth", bandwidth)
        eps2 = b * b if b < 1e150 else math.inf
    else:
        raise ValueError(f"bandwidth must be 'halder', 'collapse' or a number > 0 (got {bandwidth!r})")
    # the kernels need eps^2 and 1/eps^2 as normal floats with room for the factors 4 and d
    if not 1e-290 < eps2 < 1e290:
        raise ValueError(f"the kernel width eps^2 = {eps2:.3g} (bandwidth {bandwidth!r}, sigma {sigma:.3g}, "
                         f"n = {n}, d = {d}) is outside the floating-point range [1e-290, 1e290]")
    if logK is None:
        logK = -0.5 * d * (_LOG_4PI + math.log(eps2)) - math.log(n)
    return eps2, logK


def _max_norm(P: NDArray[np.float64]) -> float:
    """An overflow-free upper bound on the largest row norm: max |coordinate| sqrt(d)."""
    return float(np.max(np.abs(P))) * math.sqrt(P.shape[1]) if P.size else 0.0


def _check_span(norms: list[float], width2: float) -> None:
    """The exponents |x - y|^2 / eps^2 and the quadratic forms must stay far from overflow: the
    (centred) inputs may span at most 1e75 kernel widths (or standard deviations of the exact law)."""
    span = 2.0 * max(norms)
    if not span < 1e75 * math.sqrt(width2):
        raise ValueError(f"the inputs span {span:.3g} after centring on the reference mean, more than 1e75 "
                         f"kernel widths (eps or the smallest standard deviation: {math.sqrt(width2):.3g}): "
                         "the squared distances overflow; rescale the data or the bandwidth")


# ----------------------------------------------------------------------------- kernels
def _lse_gauss(X: NDArray[np.float64], Y: NDArray[np.float64], scale: float, mode: int = 0) -> NDArray[np.float64]:
    """log sum_j exp(-scale |X_i - Y_j|^2) per row of X (C++ kernel; mode 1: j != i, mode 2: j > i)."""
    return np.asarray(_core.logsumexp_gauss(X, Y, float(scale), int(mode)))


def _off_rows(X: NDArray[np.float64], eps2: float) -> NDArray[np.float64]:
    """Rows ln sum_{j > i} exp(-|x_i - x_j|^2 / (4 eps^2)) of the self-overlap (C++ kernel)."""
    return _lse_gauss(X, X, 0.25 / eps2, mode=2)  # j > i: half of the symmetric double sum


def _log_off_from_rows(X: NDArray[np.float64], rows: NDArray[np.float64], eps2: float,
                       rho_eps: float, xn: NDArray[np.float64] | None = None) -> tuple[float, float]:
    """(ln off_n, bound on its rounding error) from the rows of :func:`_off_rows`."""
    n = X.shape[0]
    if n < 2:
        return -math.inf, 0.0
    lse = float(_special.logsumexp(rows))
    value = math.log(2.0) + lse - math.log(n)
    xn = _norms(X) if xn is None else xn
    errs = _rows_error(X, float(np.max(xn)), 0.25 / eps2, rows, (n - 1 - np.arange(n)).astype(np.float64),
                       rho_eps + _U, xn)
    err = _lse_error(rows, errs, _pairwise_depth(n)) + 2.0 * _U * (abs(lse) + math.log(2.0 * n) + abs(value))
    return value, err


def _log_off(X: NDArray[np.float64], eps2: float, rho_eps: float = 0.0) -> tuple[float, float]:
    """(ln off_n, bound on its rounding error), off_n = (1/n) sum_{i != j} exp(-|x_i - x_j|^2 / (4 eps^2))
    (-inf and 0 for n = 1); ``rho_eps`` bounds the relative error of eps^2."""
    if X.shape[0] < 2:
        return -math.inf, 0.0
    return _log_off_from_rows(X, _off_rows(X, eps2), eps2, rho_eps)


def _log_kde(S: NDArray[np.float64], X: NDArray[np.float64], eps2: float, rho_eps: float = 0.0,
             xn_X: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(ln rho_n(s), error bounds) at every row s of S for the KDE of the rows of X with width eps."""
    n, d = X.shape
    scale = 0.5 / eps2
    rows = _lse_gauss(S, X, scale)
    values = rows - 0.5 * d * (_LOG_2PI + math.log(eps2)) - math.log(n)
    norm = -0.5 * d * (_LOG_2PI + math.log(eps2)) - math.log(n)
    r_X = float(np.max(_norms(X) if xn_X is None else xn_X))
    errs = _rows_error(S, r_X, scale, rows, np.full(S.shape[0], float(n)), rho_eps + _U)
    errs = errs + 0.5 * d * (2.0 * _U * _LOG_2PI + rho_eps + 2.0 * _U * abs(math.log(eps2))) \
        + 2.0 * _U * (abs(norm) + math.log(n) + np.abs(values))
    return values, errs


@dataclass(frozen=True)
class _Gaussian:
    mean: NDArray[np.float64]
    evals: NDArray[np.float64]  # (k,) >= 0
    evecs: NDArray[np.float64]  # (d, k) orthonormal columns; eigenvalue 0 on their complement
    orth_err: float = 0.0       # bound on ||evecs^T evecs - I||_2 (0: taken as exactly orthonormal)
    cov_err: float = 0.0        # bound on ||Sigma_used - Sigma||_2 (e.g. the backward error of eigh)

    def log_pdf(self, X: NDArray[np.float64], eps2: float) -> NDArray[np.float64]:
        """log N(x_k; mu, Sigma + eps^2 I) per row (whitened; eps2 may be 0 only for full rank)."""
        return self.log_pdf_bounded(X, eps2, None)[0]

    def log_pdf_bounded(self, X: NDArray[np.float64], eps2: float, rho_eps: float | None = 0.0,
                        xn: NDArray[np.float64] | None = None
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """(log N(x_k; mu, Sigma + eps^2 I), bounds on their rounding errors) per row of the
        (centred) X; ``rho_eps`` bounds the relative error of eps^2 (None: values only).

        With R = x - mu (|R - R_exact| <= dR = u (|x| + |mu| + |R|), the centring included),
        P = R V (|P_j - P_j,exact| <= dP = (gamma_d |R| + dR) sqrt(1 + e), e = ``orth_err``),
        a = w + eps^2, q = sum P^2/a + (|R|^2 - |P|^2)/eps^2 (the second sum only for k < d):
        |dq| <= 2 dP sqrt(q1 tau) + dP^2 tau + (gamma_(k+2) + rho) q1
                + [gamma_d |R|^2 + 2|R| dR + dR^2 + gamma_k |P|^2 + 2 sqrt(k) |P| dP + k dP^2] / eps^2 (1 + rho + 2u)
                + (2u + rho) q2 + 3 e/(1 - e)^2 |R|^2 / A_min + u q,
        tau = sum 1/a, A_min the smallest eigenvalue of Sigma + eps^2 I; ln det to
        (u + rho) k + (4u + gamma_k) sum|ln a| + (d - k)(u + rho + 4u |ln eps^2|) + k e/(1 - e);
        a covariance error c (``cov_err``) adds c (tr A^-1 + q/A_min)/2; the final combination
        2u (d ln 2pi + |ln det|) + u q + 2u |result|.  Errors of ln N are half those of q, ln det.
        """
        d = X.shape[1]
        k = self.evals.size
        a = self.evals + eps2
        R = X - self.mean
        P = R @ self.evecs
        PP = P * P
        q1 = np.sum(PP / a, axis=1)
        q = q1
        logdet = float(np.sum(np.log(a)))
        if k < d:  # the complement of span(evecs) has variance eps^2 only
            RR, sP = np.sum(R * R, axis=1), np.sum(PP, axis=1)
            q2 = np.maximum(RR - sP, 0.0) / eps2
            q = q + q2
            logdet += (d - k) * math.log(eps2)
        values = -0.5 * (d * _LOG_2PI + logdet) - 0.5 * q
        if rho_eps is None:
            return values, None
        rho = float(rho_eps)
        e = float(self.orth_err)
        if not e < 0.5:
            return values, np.full(values.shape, math.inf)
        rn = np.sqrt(RR) if k < d else _norms(R)
        if xn is None:
            xn = _norms(X)
        dR = _U * (xn + float(np.linalg.norm(self.mean)) + rn) * (1.0 + 4.0 * _U)
        dP = (_gamma(d) * rn + dR) * math.sqrt(1.0 + e)
        tau = float(np.sum(1.0 / a)) if k else 0.0
        dq = 2.0 * dP * np.sqrt(q1 * tau) + dP * dP * tau + (_gamma(k + 2) + rho) * q1
        abs_log_a = float(np.sum(np.abs(np.log(a)))) if k else 0.0
        dlogdet = (_U + rho) * 1.01 * k + (4.0 * _U + _gamma(k)) * abs_log_a + k * e / (1.0 - e)
        if k < d:
            Pn = np.sqrt(sP)
            dq = dq + (_gamma(d) * RR + 2.0 * rn * dR + dR * dR + _gamma(k) * sP + 2.0 * math.sqrt(k) * Pn * dP
                       + k * dP * dP) / eps2 * (1.0 + rho + 2.0 * _U) + (2.0 * _U + rho) * q2
            A_min = eps2
            tau_full = tau + (d - k) / eps2
            dlogdet += (d - k) * (_U + rho + 4.0 * _U * abs(math.log(eps2))) + _gamma(2) * abs(logdet)
        else:
            A_min = float(np.min(a))
            tau_full = tau
        dq = dq + 3.0 * e / (1.0 - e) ** 2 * (rn + dR) ** 2 / A_min + _U * q
        errs = 0.5 * (dq + dlogdet) + 2.0 * _U * (d * _LOG_2PI + abs(logdet)) + _U * q + 2.0 * _U * np.abs(values)
        if self.cov_err > 0:
            errs = errs + 0.5 * self.cov_err * (tau_full + q / A_min) * (1.0 + 1e-6)
        return values, errs

    def log_C(self, X: NDArray[np.float64], eps2: float, rho_eps: float = 0.0,
              xn: NDArray[np.float64] | None = None) -> tuple[float, float]:
        """(log C_n, error bound), C_n = (1/n) sum_k N(x_k; mu, Sigma + eps^2 I) (log domain);
        ``xn``: the row norms of X when known."""
        lp, errs = self.log_pdf_bounded(X, eps2, rho_eps, xn)
        assert errs is not None
        n = X.shape[0]
        lse = float(_special.logsumexp(lp))
        value = lse - math.log(n)
        return value, _lse_error(lp, errs, _pairwise_depth(n)) + 2.0 * _U * (math.log(n) + abs(value))

    def full_rank(self) -> bool:
        return self.evals.size == self.mean.size and bool(np.all(self.evals > 0))

    def log_self_overlap(self) -> tuple[float, float]:
        """(ln ∫p^2, error bound), ∫p^2 = (4 pi)^(-d/2) det(Sigma)^(-1/2) (full rank only)."""
        d = self.mean.size
        logs = np.log(self.evals)
        value = -0.5 * (d * _LOG_4PI + float(np.sum(logs)))
        e = float(self.orth_err)
        err = 0.5 * ((4.0 * _U + _gamma(d)) * float(np.sum(np.abs(logs))) + d * e / (1.0 - e)
                     + self.cov_err * float(np.sum(1.0 / self.evals)) * (1.0 + 1e-6)) \
            + 2.0 * _U * (d * _LOG_4PI + abs(value)) if e < 0.5 else math.inf
        return value, err

    def log_overlap(self, other: _Gaussian) -> tuple[float, float]:
        """(ln ∫p q, error bound), ∫p q = N(mu_p; mu_q, Sigma_p + Sigma_q) for the Gaussian q = other
        (full rank).  The sum of the covariances carries gamma_(k+1) (tr Sigma_p + tr Sigma_q)(1 + e),
        its eigendecomposition the backward error (4d + 2) u ||A||, both as a covariance error."""
        d = self.mean.size
        A = (self.evecs * self.evals) @ self.evecs.T + (other.evecs * other.evals) @ other.evecs.T
        w, V = np.linalg.eigh(0.5 * (A + A.T))
        e = max(float(self.orth_err), float(other.orth_err))
        tr = float(np.sum(self.evals) + np.sum(other.evals))
        cov_err = (_gamma(d + 2) * tr * (1.0 + e) + (4 * d + 2) * _U * float(np.max(np.abs(w)))
                   + self.cov_err + other.cov_err + 2.0 * e * tr)
        joint = _Gaussian(mean=other.mean, evals=w, evecs=V, orth_err=_orth_error(V), cov_err=cov_err)
        if not np.all(w > 0):
            return math.nan, math.inf
        lp, errs = joint.log_pdf_bounded(self.mean[None, :], 0.0, 0.0)
        assert errs is not None
        return float(lp[0]), float(errs[0])

    def distances(self, law: _Gaussian) -> tuple[float, float, float]:
        """(KL(self || law), KL(law || self), H^2(self, law)), totals, for a full-rank ``law``.

        In the basis that whitens ``law`` and diagonalises the whitened covariance of ``self``
        (eigenvalues mu_i, mean offset delta_i): KL(p||q) = (1/2) sum(mu - 1 - ln mu) + |delta|^2/2,
        KL(q||p) = (1/2) sum(1/mu - 1 + ln mu + delta^2/mu), and the Bhattacharyya coefficient
        ln BC = sum[(1/4) ln mu - (1/2) ln((1 + mu)/2) - delta^2/(4 (1 + mu))], H^2 = 1 - BC.
        A degenerate ``self`` (rank < d) gives (inf, inf, 1) exactly.
        """
        d = self.mean.size
        if self.evals.size < d or not np.all(self.evals > 0):
            return math.inf, math.inf, 1.0
        W = law.evecs / np.sqrt(law.evals)                    # x -> W^T x whitens law
        A = (W.T @ self.evecs) * np.sqrt(self.evals)          # whitened square root of self's covariance
        mu, Q = np.linalg.eigh(A @ A.T)
        if not mu[0] > 0:
            return math.inf, math.inf, 1.0
        delta = Q.T @ (W.T @ (self.mean - law.mean))
        d2 = delta * delta
        kl_pq = 0.5 * float(np.sum(mu - 1.0 - np.log(mu)) + np.sum(d2))
        kl_qp = 0.5 * float(np.sum(1.0 / mu - 1.0 + np.log(mu) + d2 / mu))
        log_bc = float(np.sum(0.25 * np.log(mu) - 0.5 * np.log1p(0.5 * (mu - 1.0)) - 0.25 * d2 / (1.0 + mu)))
        return kl_pq, kl_qp, -math.expm1(log_bc)

    def draw(self, n: int, seed: int | np.random.SeedSequence | None) -> NDArray[np.float64]:
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.evals.size))
        return np.ascontiguousarray(self.mean + (z * np.sqrt(self.evals)) @ self.evecs.T)


def _gaussian(generated: tuple, d: int, name: str = "generated") -> _Gaussian:
    if len(generated) != 2:
        raise ValueError(f"{name} as a Gaussian must be a tuple (mean, covariance) or "
                         "(mean, (eigenvalues, eigenvectors))")
    mean = real_array(f"{name} mean", generated[0])
    if mean.shape != (d,):
        raise ValueError(f"{name} mean must have shape ({d},) (got {mean.shape})")
    cov = generated[1]
    if isinstance(cov, tuple):
        if len(cov) != 2:
            raise ValueError(f"{name} covariance as eigenpairs must be a tuple (eigenvalues, eigenvectors)")
        w = real_array(f"{name} eigenvalues", cov[0], ndim=1)
        V = real_array(f"{name} eigenvectors", cov[1], ndim=2)
        if V.shape[0] != d or V.shape[1] != w.size or w.size > d:
            raise ValueError(f"{name} eigenvectors must have shape ({d}, k) with k = len(eigenvalues) <= {d} "
                             f"(got {V.shape} for {w.size} eigenvalues)")
        if not np.allclose(V.T @ V, np.eye(w.size), atol=1e-8, rtol=0):
            raise ValueError(f"{name} eigenvectors must have orthonormal columns")
        if np.any(w < 0):
            raise ValueError(f"{name} eigenvalues must be >= 0")
        cov_err = 0.0
    else:
        S = real_array(f"{name} covariance", cov)
        if S.shape != (d, d):
            raise ValueError(f"{name} covariance must have shape ({d}, {d}) (got {S.shape})")
        scale = max(float(np.max(np.abs(S))), np.finfo(float).tiny)
        if not np.allclose(S, S.T, atol=1e-10 * scale, rtol=0):
            raise ValueError(f"{name} covariance must be symmetric")
        w, V = np.linalg.eigh(0.5 * (S + S.T))
        if w[0] < -1e-10 * max(scale, abs(w[-1])):
            raise ValueError(f"{name} covariance must be positive semi-definite (eigenvalue {w[0]:.3g})")
        # the symmetrisation (u |S| per entry), the backward error of eigh ((4d + 2) u ||S||) and
        # the clamp of negative rounding-level eigenvalues perturb the covariance used
        cov_err = d * _U * scale + (4 * d + 2) * _U * float(np.max(np.abs(w))) + max(0.0, -float(w[0]))
        w = np.maximum(w, 0.0)
    return _Gaussian(mean=np.ascontiguousarray(mean), evals=np.ascontiguousarray(w), evecs=np.ascontiguousarray(V),
                     orth_err=_orth_error(V), cov_err=cov_err)


def _orth_error(V: NDArray[np.float64]) -> float:
    """Bound on ||V^T V - I||_2 for the columns of V: the Frobenius norm of the Gram defect, evaluated
    in extended precision (long double) when that is cheap, plus the rounding of that evaluation
    (k gamma_d in the working precision, i.e. d k^2 u_ext at most)."""
    d, k = V.shape
    if k == 0:
        return 0.0
    ext = np.finfo(np.longdouble)
    if d * k * k <= 4e7 and ext.eps < np.finfo(np.float64).eps:
        Vl = V.astype(np.longdouble)
        G = Vl.T @ Vl
        u_ext = float(ext.eps) / 2.0
    else:
        G = V.T @ V
        u_ext = _U
    G[np.diag_indices(k)] -= 1
    defect = float(np.sqrt(np.sum(G * G)))
    return defect * (1.0 + 4.0 * _U) + k * d * u_ext / (1.0 - d * u_ext)


class ReferenceSample:
    """Fresh samples of the data law, prepared for many :func:`relative_distance` calls.

    Pass it as ``reference`` instead of the array: the points are centred once and the reference
    KDE's self-overlap ``off_O`` (a pairwise sum over M^2/2 pairs, most of the cost of one call at
    M = 10^4) is computed once per bandwidth and cached.  This is what :func:`transition` does for
    every training set drawn against the same reference.

    Parameters
    ----------
    points : array (M, d)
        One sample per row.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.memorization import ReferenceSample, relative_distance
    >>> rng = np.random.default_rng(2)
    >>> ref = ReferenceSample(rng.normal(size=(500, 4)))
    >>> gen = (np.zeros(4), 0.5 * np.eye(4))
    >>> a = relative_distance(rng.normal(size=(10, 4)), ref, gen)
    >>> b = relative_distance(rng.normal(size=(10, 4)), ref, gen)      # reuses off_O
    >>> a.log_off_O == b.log_off_O
    True
    """

    def __init__(self, points: ArrayLike) -> None:
        Y = _points("reference", points)
        with np.errstate(over="ignore", invalid="ignore"):
            self.center: NDArray[np.float64] = Y.mean(axis=0)
            self.points: NDArray[np.float64] = np.ascontiguousarray(Y - self.center)
        if not (np.all(np.isfinite(self.center)) and np.all(np.isfinite(self.points))):
            raise ValueError("reference coordinates overflow when centred (|coordinate| near the float64 "
                             "maximum): rescale the data")
        self.points.setflags(write=False)
        self._off_rows: dict[float, NDArray[np.float64]] = {}
        self._row_norms: NDArray[np.float64] | None = None

    @property
    def M(self) -> int:
        """Number of points."""
        return int(self.points.shape[0])

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.points.shape[1])

    def default_sigma(self) -> float:
        """sqrt of the mean per-coordinate variance (ddof = 1): the default data scale."""
        if self.M < 2:
            raise ValueError("reference needs at least 2 points to set the default sigma (or pass sigma)")
        with np.errstate(over="ignore", invalid="ignore"):
            s = math.sqrt(float(np.mean(np.var(self.points, axis=0, ddof=1))))
        if not math.isfinite(s):
            raise ValueError("reference variance overflows: pass sigma explicitly or rescale the data")
        if not s > 0:
            raise ValueError("reference has zero variance: pass sigma explicitly")
        return s

    def _norms(self) -> NDArray[np.float64]:
        """Row norms of the centred points (cached)."""
        if self._row_norms is None:
            self._row_norms = _norms(self.points)
            self._row_norms.setflags(write=False)
        return self._row_norms

    def log_off(self, eps2: float) -> float:
        """ln off_M for kernel width eps^2 (the pairwise sums cached per width)."""
        return self._log_off_bounded(eps2, 0.0)[0]

    def _log_off_bounded(self, eps2: float, rho_eps: float) -> tuple[float, float]:
        """(ln off_M, its rounding-error bound) for kernel width eps^2 of relative error rho_eps."""
        if self.M < 2:
            return -math.inf, 0.0
        key = float(eps2)
        if key not in self._off_rows:
            rows = _off_rows(self.points, key)
            rows.setflags(write=False)
            self._off_rows[key] = rows
        return _log_off_from_rows(self.points, self._off_rows[key], key, rho_eps, self._norms())

    def __repr__(self) -> str:
        return f"ReferenceSample(M={self.M}, d={self.d}, cached bandwidths={len(self._off_rows)})"


def _signed_logsum(pos: list[float], neg: list[float], pos_err: list[float] | None = None,
                   neg_err: list[float] | None = None) -> tuple[bool, float, float]:
    """Sign, ln |sum exp(pos) - sum exp(neg)| and ln of a bound on its rounding error, without
    leaving the log domain; ``pos_err``/``neg_err`` bound the errors of the terms (default 0).

    With lp, ln the two log-sum-exps (errors eta_p, eta_n, see :func:`_lse_error`), the exact
    difference lies within e^lp expm1(eta_p) + e^ln expm1(eta_n) of e^lp - e^ln; evaluating
    |e^lp - e^ln| = e^hi (1 - e^(lo - hi)) adds e^lo (5u + u |lo - hi|) + 3u (1 + ln|.|) |.|.
    """
    lp = float(_special.logsumexp(pos)) if pos else -math.inf
    ln = float(_special.logsumexp(neg)) if neg else -math.inf
    if lp == ln:
        log_abs = -math.inf
        positive = False
    else:
        hi, lo = (lp, ln) if lp > ln else (ln, lp)
        x = lo - hi   # ln(1 - e^x), x < 0, accurately on both sides of -ln 2
        log_abs = hi + ((math.log(-math.expm1(x)) if x > -0.6931471805599453 else math.log1p(-math.exp(x)))
                        if lo > -math.inf else 0.0)
        positive = lp > ln
    terms = []
    for vals, errs, lse in ((pos, pos_err, lp), (neg, neg_err, ln)):
        if lse > -math.inf:
            e = _lse_error(np.asarray(vals, dtype=np.float64),
                           np.asarray(errs if errs is not None else [0.0] * len(vals), dtype=np.float64), len(vals))
            terms.append(lse + (math.log(math.expm1(e)) if e < 700.0 else math.inf))
    hi, lo = max(lp, ln), min(lp, ln)
    if lo > -math.inf:
        terms.append(lo + math.log(5.0 * _U + _U * abs(lo - hi)))
    if log_abs > -math.inf:
        terms.append(log_abs + math.log(3.0 * _U * (1.0 + abs(log_abs))))
    log_res = float(_special.logsumexp(terms)) if terms else -math.inf
    return positive, log_abs, log_res + 1e-12 * (1.0 + abs(log_res)) if math.isfinite(log_res) else log_res


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class RelativeDistance:
    """Result of :func:`relative_distance`: Delta = E_TG - E_OG and the terms it is made of.

    Attributes
    ----------
    positive : bool
        Delta > 0 *determined*: the computed Delta is positive and its magnitude exceeds the
        floating-point resolution (``sign == +1``; the generalization side of the criterion).
        False both for a determined negative Delta and for an undetermined sign.
    sign : int
        +1 or -1 when |Delta| exceeds ``resolution`` (the sign is then certain, as far as the
        rounding-error bound holds), 0 when it does not (undetermined).
    determined : bool
        ``sign != 0``.
    resolution, log_resolution : float
        A bound on the rounding error of Delta (of the computed estimate, for Monte Carlo; the
        statistical error is ``stderr``) and its log; see :func:`relative_distance`, Notes.
        ``resolution`` may underflow like ``delta``; ``log_resolution`` does not.
    log_abs_delta : float
        ln |Delta| (-inf when Delta is exactly 0).  Always meaningful.
    delta : float
        Delta itself, ``±exp(log_abs_delta)``: it may underflow to 0 (or overflow to inf) in high
        dimension for the L2 distance, whose terms scale like (4 pi sigma^2)^(-d/2); use
        ``positive`` and ``log_abs_delta`` there.  For ``distance="kl"`` it is the KL difference.
    stderr, log_stderr : float
        Monte Carlo standard error of ``delta`` and its log (0 and -inf for the closed form).
    log_K_T, log_K_O : float
        ln K_n, K_n = (4 pi eps_n^2)^(-d/2) / n, so that ∫rho_n^2 = K_n (1 + off_n).
    log_off_T, log_off_O : float
        ln off_n, off_n = (1/n) sum_{i != j} exp(-|x_i - x_j|^2 / (4 eps_n^2)).
    log_C_T, log_C_O : float
        ln C_n, C_n = ∫p_gen rho_n (closed form, or the Monte Carlo mean of rho_n over samples).
        For ``distance="kl"`` the L2 terms are NaN and ``mean_log_rho_T/O`` hold E ln rho_n.
    distance, method, bandwidth, sigma, eps_T, eps_O, N, M, d, n_samples
        The settings used: ``method`` is "closed form" or "monte carlo"; ``M`` is None and
        ``eps_O`` NaN when the reference is the exact data law (then ``log_K_O`` = ln ∫p^2,
        ``log_off_O`` = -inf and ``log_C_O`` = ln ∫p_gen p).
    """

    positive: bool
    sign: int
    determined: bool
    resolution: float
    log_resolution: float
    log_abs_delta: float
    delta: float
    stderr: float
    log_stderr: float
    log_K_T: float
    log_K_O: float
    log_off_T: float
    log_off_O: float
    log_C_T: float
    log_C_O: float
    mean_log_rho_T: float
    mean_log_rho_O: float
    distance: str
    method: str
    bandwidth: str | float
    sigma: float
    eps_T: float
    eps_O: float
    N: int
    M: int | None
    d: int
    n_samples: int | None

    def _cells(self) -> list[tuple[str, str, bool | None]]:
        cells: list[tuple[str, str, bool | None]] = [
            ("Delta > 0 (generalizes)", str(self.positive) if self.determined else "undetermined",
             self.positive if self.determined else None),
            ("ln|Delta|", f"{self.log_abs_delta:.6g}", None),
            ("ln resolution", f"{self.log_resolution:.6g}", None),
            ("Delta", f"{self.delta:.6g}", None),
            ("stderr", f"{self.stderr:.3g}", None),
            ("distance", self.distance, None), ("method", self.method, None),
            ("bandwidth", str(self.bandwidth), None), ("sigma", f"{self.sigma:.6g}", None),
            ("eps_T", f"{self.eps_T:.6g}", None), ("eps_O", f"{self.eps_O:.6g}", None),
            ("N, M, d", f"{self.N}, {'exact law' if self.M is None else self.M}, {self.d}", None),
            ("samples", "-" if self.n_samples is None else str(self.n_samples), None),
        ]
        if self.distance == "l2":
            cells += [("ln off_T", f"{self.log_off_T:.6g}", None), ("ln off_O", f"{self.log_off_O:.6g}", None),
                      ("ln C_T", f"{self.log_C_T:.6g}", None), ("ln C_O", f"{self.log_C_O:.6g}", None)]
        else:
            cells += [("E ln rho_T", f"{self.mean_log_rho_T:.6g}", None),
                      ("E ln rho_O", f"{self.mean_log_rho_O:.6g}", None)]
        return cells

    def __repr__(self) -> str:
        return text_table("lindiff.memorization.relative_distance", self._cells())

    def _repr_html_(self) -> str:
        return html_table("lindiff.memorization.relative_distance", self._cells())


def relative_distance(
    train: ArrayLike,
    reference: ArrayLike,
    generated: ArrayLike | tuple,
    *,
    bandwidth: str | float = "halder",
    distance: str = "l2",
    sigma: float | None = None,
    n_samples: int = 4096,
    seed: int | np.random.SeedSequence | None = 0,
) -> RelativeDistance:
    r"""Relative distance Delta = E_TG - E_OG of a generated law to a training set (spec §1).

    Parameters
    ----------
    train : array (N, d)
        The training set, **one point per row**.
    reference : array (M, d), ReferenceSample or tuple
        Fresh samples of the data law, one per row (spec: M = 10^4, N <= M/4), whose KDE is rho_O
        (a :class:`ReferenceSample` caches its self-overlap across calls);
        or the exact data law p itself as a Gaussian tuple like ``generated`` (positive definite
        covariance), the spec's variant "rho_O replaced by p": E_OG = D(p_gen, p).
    generated : tuple or array (n, d)
        Either a Gaussian p_gen = N(mu, Sigma) as a tuple ``(mean (d,), covariance (d, d))`` or
        ``(mean, (eigenvalues (k,), eigenvectors (d, k)))`` (orthonormal columns; Sigma is 0 on
        their complement, so rank-deficient laws are cheap and exact), which gives the exact closed
        form for ``distance="l2"``; or an array of samples of any generator, one per row, which gives
        a Monte Carlo estimate with its standard error.  Only a *tuple* is read as a Gaussian.
    bandwidth : "halder", "collapse" or float
        Kernel width of the KDEs, see :func:`kde_bandwidth`: ``"halder"`` (pinned) eps_n = sigma n^(-1/d)
        for each KDE (n = N for rho_T, M for rho_O), ``"collapse"`` eps_n^2 = sigma^2 / (n^(2/d) - 1),
        or the same absolute eps for both KDEs.
    distance : "l2" or "kl"
        ``"l2"`` (pinned): D = squared L2 distance.  ``"kl"``: D(p, q) = KL(p_gen || q), so that
        Delta_KL = E_{p_gen}[ln rho_O - ln rho_T], always by Monte Carlo (finite even for a degenerate
        p_gen); a Gaussian ``generated`` is sampled with ``n_samples`` draws from ``seed``.
    sigma : float, optional
        Data scale in the bandwidth; default sqrt of the mean per-coordinate variance (ddof = 1)
        of ``reference`` (of its covariance, tr Sigma_p / d, for an exact law).
    n_samples, seed
        Number of draws and their seed, used only for ``distance="kl"`` with a Gaussian ``generated``.

    Returns
    -------
    RelativeDistance
        ``sign`` (+1, -1, or 0 when undetermined), ``determined``, ``positive`` (``sign == +1``),
        ``log_abs_delta``, ``log_resolution`` (the rounding-error bound on Delta, see Notes),
        ``delta`` (may underflow to 0 at large d: see the class), ``stderr``, the log-domain terms
        and the settings used.

    Notes
    -----
    With rho_n(x) = (1/n) sum_k N(x; x_k, eps_n^2 I) and D = ∫(p_gen - rho)^2,

    - ∫rho_n^2 = (1/n^2) sum_{i,j} N(x_i; x_j, 2 eps_n^2 I) = K_n (1 + off_n), with
      K_n = (4 pi eps_n^2)^(-d/2) / n and off_n = (1/n) sum_{i != j} exp(-|x_i - x_j|^2 / (4 eps_n^2));
    - C_n = ∫p_gen rho_n = (1/n) sum_k N(x_k; mu, Sigma + eps_n^2 I) for a Gaussian p_gen;
    - ∫p_gen^2 cancels in the difference, so Delta = K_T (1 + off_T) - K_O (1 + off_O) - 2 (C_T - C_O).
    - With the exact law p = N(m, S) as reference, K_O (1 + off_O) becomes
      ∫p^2 = (4 pi)^(-d/2) det(S)^(-1/2) and C_O = ∫p_gen p = N(mu; m, Sigma + S).

    With the pinned bandwidth K_T = K_O = K = (4 pi sigma^2)^(-d/2) (the same for every n), the
    self terms cancel exactly and Delta / K = off_T - off_O - 2 (C_T - C_O) / K, the spec's formula.
    For other bandwidths K_T != K_O and the self terms K_n stay.  Every term is evaluated as a
    logarithm (log-sum-exp over points, C++ kernel for the pairwise sums) and Delta's sign and
    log-magnitude come from a signed log-domain sum, so nothing underflows at d = 100 where the
    raw terms are ~1e-50.  For samples, C_n is the sample mean of rho_n and the standard error is
    that of 2 mean(rho_T - rho_O) (the off_n terms are exact).  Points are shifted by the
    reference mean first (Delta is translation invariant) to keep the GEMM-based squared distances
    accurate.

    **Numerical resolution.**  The terms of Delta can agree to many digits (at d = 100 the true
    |Delta| / K is 1e-8 to 1e-14 for N >= 0.75 d), so every result carries a bound on the rounding
    error of Delta, ``resolution`` (``log_resolution``), and states a sign only when |Delta| exceeds
    it (``sign`` = +1 or -1, ``determined``); otherwise ``sign`` = 0 and ``positive`` is False.  The
    inputs (points, mean, covariance or eigenpairs, sigma) are taken as exact; u = 2^-53,
    gamma_n = n u / (1 - n u).  The bound is built term by term:

    1. Squared distances D = |x|^2 + |y|^2 - 2 x.y (GEMM in the C++ kernel) of points centred on
       the reference mean: |dD| <= gamma_(d+5) (|x| + |y|)^2 (norms, dot product, combination,
       centring).  The exponent t = -D / (c eps^2) also carries the relative error rho of eps^2
       (a few u: the rounding of sigma^2 n^(-2/d) or of the collapse width).
    2. A log-sum-exp L = ln sum_j e^(t_j) of m terms with errors delta_j is off by at most
       e^(max delta) sum_j w_j delta_j (w the softmax weights).  With (|x| + |y|)^2 <= D + 4 |x||y|
       and the softmax mean of |t| at most ln m - L (an entropy bound), this is
       e^(max delta) [(gamma_(d+5) + rho + u)(ln m - L) + gamma_(d+5) 4 |x| max|y| / (c eps^2)],
       computable from L alone.  Accumulation adds 4u (exp), gamma of the summation depth (the
       kernel's blocked sum, numpy's pairwise sum), u ln m (the shifts by the maximum) and
       u ln m + 2u |L| (the logarithm and the final addition).  The same rule carries the row
       bounds through the sum over rows (ln off_n) and over points (ln C_n).
    3. Gaussian terms ln N(x; mu, Sigma + eps^2 I): the rounding of x - mu, of its projections on
       the eigenvectors (gamma_d |x - mu|), of the quadratic form and of the log-determinant; the
       non-orthonormality e of the eigenvectors (3 e / (1 - e)^2 |x - mu|^2 / lambda_min and
       k e / (1 - e) in ln det; e from the Gram matrix in extended precision); for a covariance
       matrix the backward error of its eigendecomposition ((4d + 2) u ||Sigma||).  ln K_n is
       exact up to a few u |ln K_n|.
    4. With lp and ln the log-sum-exps of the positive and the negative terms (errors eta_p,
       eta_n from rule 2), |Delta_computed - Delta| <= e^lp expm1(eta_p) + e^ln expm1(eta_n)
       + e^min(lp, ln) (5u + u |lp - ln|) + 3u (1 + |ln |Delta||) |Delta| = ``resolution``.

    For samples the bound covers the evaluation of the Monte Carlo estimate on the given samples
    (each exp(ln rho - L), their mean, the self terms); its statistical error is ``stderr``, a
    separate matter.  For ``distance="kl"`` it is the mean of the per-sample log-density bounds
    plus the rounding of the mean.  The bound is a worst case to first order: against 40-digit
    mpmath evaluations (d <= 16, and d = 100 with a one-step p_gen) it held in every case, at 16
    to ~3e4 times the actual error (median ~150).  Every term stays in the log domain, so the
    resolution is relative to the largest term, not to K: about 1e-11 of it at d = 100, where the
    one-step model's signs are determined with about 10 orders of magnitude to spare
    (docs/halder.md).

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.memorization import relative_distance
    >>> rng = np.random.default_rng(1)
    >>> d = 3
    >>> train, reference = rng.normal(size=(6, d)), rng.normal(size=(400, d))
    >>> gauss = (np.zeros(d), 0.5 * np.eye(d))
    >>> exact = relative_distance(train, reference, gauss)
    >>> mc = relative_distance(train, reference, rng.normal(scale=0.5 ** 0.5, size=(20000, d)))
    >>> bool(abs(mc.delta - exact.delta) < 4 * mc.stderr)
    True
    >>> relative_distance(train, reference, gauss, distance="kl", n_samples=2000).method
    'monte carlo'
    """
    X = _points("train", train)
    N, d = X.shape
    if distance not in ("l2", "kl"):
        raise ValueError(f"distance must be 'l2' or 'kl' (got {distance!r})")
    law: _Gaussian | None = None  # the exact data law, when given instead of reference samples
    ref: ReferenceSample | None = None
    if isinstance(reference, tuple):
        law = _gaussian(reference, d, "reference")
        if not law.full_rank():
            raise ValueError("reference as a Gaussian data law must have a positive definite covariance "
                             "(its L2 self-overlap and log-density are infinite otherwise)")
        M = None
    else:
        ref = reference if isinstance(reference, ReferenceSample) else ReferenceSample(reference)
        if ref.d != d:
            raise ValueError(f"reference must have d = {d} columns like train (got shape {ref.points.shape})")
        M = ref.M
    if sigma is None:
        if law is not None:
            sigma_f = math.sqrt(float(np.sum(law.evals)) / d)
        else:
            assert ref is not None
            sigma_f = ref.default_sigma()
    else:
        sigma_f = positive_scalar("sigma", sigma)
    eps2_T, logK_T = _eps2(bandwidth, sigma_f, N, d)
    rho_T = _eps2_rel_error(bandwidth, N, d)
    errK_T = _logK_error(bandwidth, sigma_f, eps2_T, logK_T, N, d, rho_T)
    if M is not None:
        eps2_O, logK_O = _eps2(bandwidth, sigma_f, M, d)
        rho_O = _eps2_rel_error(bandwidth, M, d)
        errK_O = _logK_error(bandwidth, sigma_f, eps2_O, logK_O, M, d, rho_O)
    else:  # the exact law: its self term is ∫p^2, written as K_O with off_O = 0
        assert law is not None
        eps2_O, rho_O = math.nan, 0.0
        logK_O, errK_O = law.log_self_overlap()

    gauss: _Gaussian | None = None
    S: NDArray[np.float64] | None = None
    if isinstance(generated, tuple):
        gauss = _gaussian(generated, d)
    else:
        S = _points("generated", generated, d)

    # translation invariance: centre on the reference (keeps |x|^2 + |y|^2 - 2 x.y accurate)
    c = ref.center if ref is not None else law.mean  # type: ignore[union-attr]
    with np.errstate(over="ignore", invalid="ignore"):   # overflow is caught by _check_span below
        X = np.ascontiguousarray(X - c)
        Y = ref.points if ref is not None else None  # already centred
        if law is not None:
            law = replace(law, mean=law.mean - c)
        if gauss is not None:
            gauss = replace(gauss, mean=gauss.mean - c)
        if S is not None:
            S = np.ascontiguousarray(S - c)
    norms = [_max_norm(P) for P in (X, S) if P is not None]
    if ref is not None:
        norms.append(float(np.max(ref._norms())))
    norms += [_max_norm(g.mean[None, :]) + math.sqrt(float(np.max(g.evals, initial=0.0)))
              for g in (gauss, law) if g is not None]
    _check_span(norms, min(eps2_T, eps2_O if M is not None else float(np.min(law.evals))))  # type: ignore[union-attr]

    def log_rho_O(P: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if law is not None:
            vals, errs = law.log_pdf_bounded(P, 0.0, 0.0)
            assert errs is not None
            return vals, errs
        assert Y is not None and ref is not None
        return _log_kde(P, Y, eps2_O, rho_O, ref._norms())

    nan = math.nan
    common = dict(distance=distance, bandwidth=bandwidth, sigma=sigma_f, eps_T=math.sqrt(eps2_T),
                  eps_O=math.sqrt(eps2_O), N=N, M=M, d=d)

    def verdict(positive: bool, log_abs: float, log_res: float) -> dict:
        if math.isnan(log_res):  # an invalid bound resolves nothing
            log_res = math.inf
        determined = bool(log_abs > log_res)
        sign = (1 if positive else -1) if determined else 0
        return dict(positive=sign > 0, sign=sign, determined=determined, log_resolution=log_res,
                    resolution=math.exp(log_res) if log_res < 709.0 else math.inf)

    if distance == "kl":
        if S is None:
            assert gauss is not None
            S = gauss.draw(positive_int("n_samples", n_samples, 2), seed)
        ns = S.shape[0]
        if ns < 2:
            raise ValueError("generated needs at least 2 samples for a standard error")
        (lT, eT), (lO, eO) = _log_kde(S, X, eps2_T, rho_T), log_rho_O(S)
        diff = lO - lT
        delta = float(np.mean(diff))
        se = float(np.std(diff, ddof=1) / math.sqrt(ns))
        # per sample: the two log-densities and the subtraction; the mean: its sum and division
        res = float(np.mean(eO + eT + _U * np.abs(diff))) + float(_gamma(_pairwise_depth(ns) + 2)) * float(np.mean(np.abs(diff)))
        log_abs = math.log(abs(delta)) if delta else -math.inf
        return RelativeDistance(**verdict(delta > 0, log_abs, math.log(res) if res > 0 else (-math.inf if res == 0 else math.inf)),
                                log_abs_delta=log_abs,
                                delta=delta, stderr=se, log_stderr=math.log(se) if se > 0 else -math.inf,
                                log_K_T=logK_T, log_K_O=logK_O, log_off_T=nan, log_off_O=nan, log_C_T=nan,
                                log_C_O=nan, mean_log_rho_T=float(np.mean(lT)), mean_log_rho_O=float(np.mean(lO)),
                                method="monte carlo", n_samples=ns, **common)

    log_off_T, errOff_T = _log_off(X, eps2_T, rho_T)
    log_off_O, errOff_O = ref._log_off_bounded(eps2_O, rho_O) if ref is not None else (-math.inf, 0.0)
    # self terms K_n (1 + off_n): with the pinned bandwidth the K_n cancel exactly (same number)
    pos = [logK_T + log_off_T]
    neg = [logK_O + log_off_O]
    pos_err = [errK_T + errOff_T + _U * abs(pos[0])]
    neg_err = [errK_O + errOff_O + _U * abs(neg[0])]
    if logK_T != logK_O:
        pos.append(logK_T)
        neg.append(logK_O)
        pos_err.append(errK_T)
        neg_err.append(errK_O)
    log2 = math.log(2.0)
    if gauss is not None:
        log_C_T, errC_T = gauss.log_C(X, eps2_T, rho_T)
        if law is not None:
            log_C_O, errC_O = gauss.log_overlap(law)  # ∫p_gen p; Sigma_gen + Sigma_p is positive definite
        else:
            assert Y is not None
            assert ref is not None
            log_C_O, errC_O = gauss.log_C(Y, eps2_O, rho_O, ref._norms())
        pos.append(log2 + log_C_O)
        neg.append(log2 + log_C_T)
        pos_err.append(errC_O + 2.0 * _U * abs(pos[-1]))
        neg_err.append(errC_T + 2.0 * _U * abs(neg[-1]))
        positive, log_abs, log_res = _signed_logsum(pos, neg, pos_err, neg_err)
        delta = (1.0 if positive else -1.0) * math.exp(log_abs) if log_abs > -math.inf else 0.0
        return RelativeDistance(**verdict(positive, log_abs, log_res), log_abs_delta=log_abs, delta=delta,
                                stderr=0.0, log_stderr=-math.inf, log_K_T=logK_T, log_K_O=logK_O,
                                log_off_T=log_off_T, log_off_O=log_off_O, log_C_T=log_C_T, log_C_O=log_C_O,
                                mean_log_rho_T=nan, mean_log_rho_O=nan, method="closed form", n_samples=None,
                                **common)

    assert S is not None
    ns = S.shape[0]
    if ns < 2:
        raise ValueError("generated needs at least 2 samples for a standard error")
    (lT, eT), (lO, eO) = _log_kde(S, X, eps2_T, rho_T), log_rho_O(S)
    # common scale L: every term as exp(term - L) <= 1, then back to the log domain
    self_pos, self_neg = float(_special.logsumexp(pos)), float(_special.logsumexp(neg))
    L = max(self_pos, self_neg, float(np.max(lT)), float(np.max(lO)))
    xT, xO = np.exp(lT - L), np.exp(lO - L)
    f = xT - xO  # rho_T(s) - rho_O(s), scaled by e^-L
    a_pos, a_neg = math.exp(self_pos - L), math.exp(self_neg - L)
    mean_f = float(np.mean(f))
    scaled = a_pos - a_neg - 2.0 * mean_f
    scaled_se = 2.0 * float(np.std(f, ddof=1)) / math.sqrt(ns)
    log_abs = L + math.log(abs(scaled)) if scaled != 0 else -math.inf
    log_se = L + math.log(scaled_se) if scaled_se > 0 else -math.inf
    # rounding-error bound in units of e^L: each exp(l - L) (the term's error, the shift, exp),
    # the difference f, the mean (sum and division), the self terms, the final combination
    with np.errstate(over="ignore"):   # exp(l - L) expm1(err) in the log domain: 0 * inf never arises
        err_f = (np.exp(np.minimum(lT - L + _log_expm1(eT), 700.0)) + xT * (4.0 * _U + _U * np.abs(lT - L))
                 + np.exp(np.minimum(lO - L + _log_expm1(eO), 700.0)) + xO * (4.0 * _U + _U * np.abs(lO - L))
                 + _U * np.abs(f))
    err_mean = float(np.mean(err_f)) + float(_gamma(_pairwise_depth(ns) + 2)) * float(np.mean(np.abs(f)))
    err = 2.0 * err_mean + 2.0 * _U * (a_pos + a_neg + 2.0 * abs(mean_f)) + 2.0 * _U * abs(scaled)
    for lse, vals, errs, amp in ((self_pos, pos, pos_err, a_pos), (self_neg, neg, neg_err, a_neg)):
        if lse > -math.inf:    # (no self term at all for a single point against the exact law)
            e = _lse_error(np.asarray(vals), np.asarray(errs), len(vals))
            err += math.exp(min(lse - L + float(_log_expm1(e)), 700.0)) + amp * (4.0 * _U + _U * abs(lse - L))
    log_res = L + math.log(err) if err > 0 else (-math.inf if err == 0 else math.inf)
    positive = scaled > 0
    return RelativeDistance(**verdict(positive, log_abs, log_res), log_abs_delta=log_abs,
                            delta=(1.0 if positive else -1.0) * math.exp(log_abs) if scaled != 0 else 0.0,
                            stderr=math.exp(log_se), log_stderr=log_se, log_K_T=logK_T, log_K_O=logK_O,
                            log_off_T=log_off_T, log_off_O=log_off_O,
                            log_C_T=float(_special.logsumexp(lT)) - math.log(ns), log_C_O=float(_special.logsumexp(lO)) - math.log(ns),
                            mean_log_rho_T=nan, mean_log_rho_O=nan, method="monte carlo", n_samples=ns, **common)


# ----------------------------------------------------------------------------- nearest neighbour
@dataclass(frozen=True)
class NearestNeighbour:
    """Result of :func:`nearest_neighbour_ratio`, one entry per sample.

    Attributes
    ----------
    ratio : ndarray (n,) or None
        Distance to the nearest over distance to the second-nearest training point (1 where both
        are 0, i.e. the sample sits on a duplicated training point); None for a single training point.
    index : ndarray (n,) of int64
        Row of the nearest training point.
    distance : ndarray (n,)
        Euclidean distance to it.
    """

    ratio: NDArray[np.float64] | None
    index: NDArray[np.int64]
    distance: NDArray[np.float64]

    @property
    def memorized(self) -> NDArray[np.bool_] | None:
        """ratio < 1/3: the common memorization verdict per sample."""
        return None if self.ratio is None else self.ratio < 1.0 / 3.0

    @property
    def fraction_memorized(self) -> float:
        """Fraction of samples with ratio < 1/3 (NaN without a ratio)."""
        return math.nan if self.ratio is None else float(np.mean(self.ratio < 1.0 / 3.0))


def nearest_neighbour_ratio(train: ArrayLike, samples: ArrayLike) -> NearestNeighbour:
    """The common nearest-neighbour memorization test, for comparison with the relative distance.

    For each sample (a row of ``samples``, shape (n, d)), the distance to the nearest training
    point (a row of ``train``, shape (N, d)) over the distance to the second-nearest; a sample
    counts as memorized when the ratio is below 1/3.  Squared distances come from chunked GEMMs
    (|x|^2 + |y|^2 - 2 x.y, clamped at 0), so very small distances carry absolute errors of order
    1e-8 |x|.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff.memorization import nearest_neighbour_ratio
    >>> train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    >>> nn = nearest_neighbour_ratio(train, [[0.5, 0.0], [6.0, 5.0]])
    >>> nn.index.tolist(), np.round(nn.ratio, 3).tolist(), nn.memorized.tolist()
    ([0, 1], [0.053, 0.82], [True, False])
    """
    X = _points("train", train)
    U = _points("samples", samples, X.shape[1])
    idx, d1, ratio = nearest_rows(X, U)
    return NearestNeighbour(ratio=ratio, index=idx, distance=d1)
