"""The relative-distance criterion itself (spec ``memorization.md`` §1); see the package docstring."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from .. import _core
from .._display import html_table, text_table
from .._validation import positive_int, positive_scalar, real_array

__all__ = ["NearestNeighbour", "ReferenceSample", "RelativeDistance", "kde_bandwidth",
           "nearest_neighbour_ratio", "relative_distance"]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_4PI = math.log(4.0 * math.pi)


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
    if isinstance(bandwidth, str):
        if bandwidth == "halder":
            eps2 = sigma * sigma * math.exp(-2.0 * math.log(n) / d)
            # (4 pi eps_n^2)^(-d/2) / n = (4 pi sigma^2)^(-d/2) exactly: written without rounding
            return eps2, -0.5 * d * (_LOG_4PI + 2.0 * math.log(sigma))
        if bandwidth == "collapse":
            if n < 2:
                raise ValueError("bandwidth='collapse' needs at least 2 points per KDE")
            eps2 = sigma * sigma / math.expm1(2.0 * math.log(n) / d)
        else:
            raise ValueError(f"bandwidth must be 'halder', 'collapse' or a number > 0 (got {bandwidth!r})")
    elif isinstance(bandwidth, (numbers.Real, np.number)) and not isinstance(bandwidth, (bool, np.bool_)):
        eps2 = positive_scalar("bandwidth", bandwidth) ** 2
    else:
        raise ValueError(f"bandwidth must be 'halder', 'collapse' or a number > 0 (got {bandwidth!r})")
    return eps2, -0.5 * d * (_LOG_4PI + math.log(eps2)) - math.log(n)


# ----------------------------------------------------------------------------- kernels
def _lse_gauss(X: NDArray[np.float64], Y: NDArray[np.float64], scale: float, mode: int = 0) -> NDArray[np.float64]:
    """log sum_j exp(-scale |X_i - Y_j|^2) per row of X (C++ kernel; mode 1: j != i, mode 2: j > i)."""
    return np.asarray(_core.logsumexp_gauss(X, Y, float(scale), int(mode)))


def _log_off(X: NDArray[np.float64], eps2: float) -> float:
    """log off_n, off_n = (1/n) sum_{i != j} exp(-|x_i - x_j|^2 / (4 eps^2)) (-inf for n = 1)."""
    n = X.shape[0]
    if n < 2:
        return -math.inf
    rows = _lse_gauss(X, X, 0.25 / eps2, mode=2)  # j > i: half of the symmetric double sum
    return math.log(2.0) + float(logsumexp(rows)) - math.log(n)


def _log_kde(S: NDArray[np.float64], X: NDArray[np.float64], eps2: float) -> NDArray[np.float64]:
    """log rho_n(s) at every row s of S for the KDE of the rows of X with width eps."""
    n, d = X.shape
    return _lse_gauss(S, X, 0.5 / eps2) - 0.5 * d * (_LOG_2PI + math.log(eps2)) - math.log(n)


@dataclass(frozen=True)
class _Gaussian:
    mean: NDArray[np.float64]
    evals: NDArray[np.float64]  # (k,) >= 0
    evecs: NDArray[np.float64]  # (d, k) orthonormal columns; eigenvalue 0 on their complement

    def log_pdf(self, X: NDArray[np.float64], eps2: float) -> NDArray[np.float64]:
        """log N(x_k; mu, Sigma + eps^2 I) per row (whitened; eps2 may be 0 only for full rank)."""
        d = X.shape[1]
        k = self.evals.size
        a = self.evals + eps2
        R = X - self.mean
        P = R @ self.evecs
        q = np.sum(P * P / a, axis=1)
        logdet = float(np.sum(np.log(a)))
        if k < d:  # the complement of span(evecs) has variance eps^2 only
            q = q + np.maximum(np.sum(R * R, axis=1) - np.sum(P * P, axis=1), 0.0) / eps2
            logdet += (d - k) * math.log(eps2)
        return -0.5 * (d * _LOG_2PI + logdet) - 0.5 * q

    def log_C(self, X: NDArray[np.float64], eps2: float) -> float:
        """log C_n = log (1/n) sum_k N(x_k; mu, Sigma + eps^2 I) (log domain)."""
        return float(logsumexp(self.log_pdf(X, eps2))) - math.log(X.shape[0])

    def full_rank(self) -> bool:
        return self.evals.size == self.mean.size and bool(np.all(self.evals > 0))

    def log_self_overlap(self) -> float:
        """ln ∫p^2 = ln (4 pi)^(-d/2) det(Sigma)^(-1/2) (full rank only)."""
        return -0.5 * (self.mean.size * _LOG_4PI + float(np.sum(np.log(self.evals))))

    def log_overlap(self, other: _Gaussian) -> float:
        """ln ∫p q = ln N(mu_p; mu_q, Sigma_p + Sigma_q) for the Gaussian q = other (full rank)."""
        A = (self.evecs * self.evals) @ self.evecs.T + (other.evecs * other.evals) @ other.evecs.T
        w, V = np.linalg.eigh(0.5 * (A + A.T))
        z = (self.mean - other.mean) @ V
        return -0.5 * (self.mean.size * _LOG_2PI + float(np.sum(np.log(w))) + float(np.sum(z * z / w)))

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
        w = np.maximum(w, 0.0)
    return _Gaussian(mean=np.ascontiguousarray(mean), evals=np.ascontiguousarray(w), evecs=np.ascontiguousarray(V))


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
        self.center: NDArray[np.float64] = Y.mean(axis=0)
        self.points: NDArray[np.float64] = np.ascontiguousarray(Y - self.center)
        self.points.setflags(write=False)
        self._log_off: dict[float, float] = {}

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
        s = math.sqrt(float(np.mean(np.var(self.points, axis=0, ddof=1))))
        if not s > 0:
            raise ValueError("reference has zero variance: pass sigma explicitly")
        return s

    def log_off(self, eps2: float) -> float:
        """ln off_M for kernel width eps^2 (cached)."""
        if eps2 not in self._log_off:
            self._log_off[eps2] = _log_off(self.points, eps2)
        return self._log_off[eps2]

    def __repr__(self) -> str:
        return f"ReferenceSample(M={self.M}, d={self.d}, cached bandwidths={len(self._log_off)})"


def _signed_logsum(pos: list[float], neg: list[float]) -> tuple[bool, float]:
    """Sign and log |sum exp(pos) - sum exp(neg)| without leaving the log domain."""
    lp = float(logsumexp(pos)) if pos else -math.inf
    ln = float(logsumexp(neg)) if neg else -math.inf
    if lp == ln:
        return False, -math.inf
    hi, lo = (lp, ln) if lp > ln else (ln, lp)
    return lp > ln, hi + (math.log1p(-math.exp(lo - hi)) if lo > -math.inf else 0.0)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class RelativeDistance:
    """Result of :func:`relative_distance`: Delta = E_TG - E_OG and the terms it is made of.

    Attributes
    ----------
    positive : bool
        Delta > 0 (the generalization side of the criterion).
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
            ("Delta > 0 (generalizes)", str(self.positive), self.positive),
            ("ln|Delta|", f"{self.log_abs_delta:.6g}", None),
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
        ``positive``, ``log_abs_delta``, ``delta`` (may underflow to 0 at large d: see the class),
        ``stderr``, the log-domain terms and the settings used.

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
    if M is not None:
        eps2_O, logK_O = _eps2(bandwidth, sigma_f, M, d)
    else:  # the exact law: its self term is ∫p^2, written as K_O with off_O = 0
        assert law is not None
        eps2_O, logK_O = math.nan, law.log_self_overlap()

    gauss: _Gaussian | None = None
    S: NDArray[np.float64] | None = None
    if isinstance(generated, tuple):
        gauss = _gaussian(generated, d)
    else:
        S = _points("generated", generated, d)

    # translation invariance: centre on the reference (keeps |x|^2 + |y|^2 - 2 x.y accurate)
    c = ref.center if ref is not None else law.mean  # type: ignore[union-attr]
    X = np.ascontiguousarray(X - c)
    Y = ref.points if ref is not None else None  # already centred
    if law is not None:
        law = _Gaussian(mean=law.mean - c, evals=law.evals, evecs=law.evecs)
    if gauss is not None:
        gauss = _Gaussian(mean=gauss.mean - c, evals=gauss.evals, evecs=gauss.evecs)
    if S is not None:
        S = np.ascontiguousarray(S - c)

    def log_rho_O(P: NDArray[np.float64]) -> NDArray[np.float64]:
        if law is not None:
            return law.log_pdf(P, 0.0)
        assert Y is not None
        return _log_kde(P, Y, eps2_O)

    nan = math.nan
    common = dict(distance=distance, bandwidth=bandwidth, sigma=sigma_f, eps_T=math.sqrt(eps2_T),
                  eps_O=math.sqrt(eps2_O), N=N, M=M, d=d)

    if distance == "kl":
        if S is None:
            assert gauss is not None
            S = gauss.draw(positive_int("n_samples", n_samples, 2), seed)
        ns = S.shape[0]
        if ns < 2:
            raise ValueError("generated needs at least 2 samples for a standard error")
        lT, lO = _log_kde(S, X, eps2_T), log_rho_O(S)
        diff = lO - lT
        delta = float(np.mean(diff))
        se = float(np.std(diff, ddof=1) / math.sqrt(ns))
        return RelativeDistance(positive=delta > 0, log_abs_delta=math.log(abs(delta)) if delta else -math.inf,
                                delta=delta, stderr=se, log_stderr=math.log(se) if se > 0 else -math.inf,
                                log_K_T=logK_T, log_K_O=logK_O, log_off_T=nan, log_off_O=nan, log_C_T=nan,
                                log_C_O=nan, mean_log_rho_T=float(np.mean(lT)), mean_log_rho_O=float(np.mean(lO)),
                                method="monte carlo", n_samples=ns, **common)

    log_off_T = _log_off(X, eps2_T)
    log_off_O = ref.log_off(eps2_O) if ref is not None else -math.inf
    # self terms K_n (1 + off_n): with the pinned bandwidth the K_n cancel exactly (same number)
    pos = [logK_T + log_off_T]
    neg = [logK_O + log_off_O]
    if logK_T != logK_O:
        pos.append(logK_T)
        neg.append(logK_O)
    log2 = math.log(2.0)
    if gauss is not None:
        log_C_T = gauss.log_C(X, eps2_T)
        if law is not None:
            log_C_O = gauss.log_overlap(law)  # ∫p_gen p; Sigma_gen + Sigma_p is positive definite
        else:
            assert Y is not None
            log_C_O = gauss.log_C(Y, eps2_O)
        positive, log_abs = _signed_logsum(pos + [log2 + log_C_O], neg + [log2 + log_C_T])
        delta = (1.0 if positive else -1.0) * math.exp(log_abs) if log_abs > -math.inf else 0.0
        return RelativeDistance(positive=positive, log_abs_delta=log_abs, delta=delta, stderr=0.0,
                                log_stderr=-math.inf, log_K_T=logK_T, log_K_O=logK_O, log_off_T=log_off_T,
                                log_off_O=log_off_O, log_C_T=log_C_T, log_C_O=log_C_O, mean_log_rho_T=nan,
                                mean_log_rho_O=nan, method="closed form", n_samples=None, **common)

    assert S is not None
    ns = S.shape[0]
    if ns < 2:
        raise ValueError("generated needs at least 2 samples for a standard error")
    lT, lO = _log_kde(S, X, eps2_T), log_rho_O(S)
    # common scale L: every term as exp(term - L) <= 1, then back to the log domain
    self_pos, self_neg = float(logsumexp(pos)), float(logsumexp(neg))
    L = max(self_pos, self_neg, float(np.max(lT)), float(np.max(lO)))
    f = np.exp(lT - L) - np.exp(lO - L)  # rho_T(s) - rho_O(s), scaled by e^-L
    scaled = math.exp(self_pos - L) - math.exp(self_neg - L) - 2.0 * float(np.mean(f))
    scaled_se = 2.0 * float(np.std(f, ddof=1)) / math.sqrt(ns)
    log_abs = L + math.log(abs(scaled)) if scaled != 0 else -math.inf
    log_se = L + math.log(scaled_se) if scaled_se > 0 else -math.inf
    positive = scaled > 0
    return RelativeDistance(positive=positive, log_abs_delta=log_abs,
                            delta=(1.0 if positive else -1.0) * math.exp(log_abs) if scaled != 0 else 0.0,
                            stderr=math.exp(log_se), log_stderr=log_se, log_K_T=logK_T, log_K_O=logK_O,
                            log_off_T=log_off_T, log_off_O=log_off_O,
                            log_C_T=float(logsumexp(lT)) - math.log(ns), log_C_O=float(logsumexp(lO)) - math.log(ns),
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


def _nearest_rows(train: NDArray[np.float64], samples: NDArray[np.float64], chunk: int = 2048
                  ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Nearest and second-nearest training row of each sample row (no input checks)."""
    n, N = samples.shape[0], train.shape[0]
    x2 = np.sum(train * train, axis=1)
    idx = np.empty(n, dtype=np.int64)
    d1 = np.empty(n)
    d2 = np.empty(n) if N >= 2 else None
    for lo in range(0, n, chunk):
        Uc = samples[lo:lo + chunk]
        D = np.maximum(np.sum(Uc * Uc, axis=1)[:, None] + x2[None, :] - 2.0 * (Uc @ train.T), 0.0)
        i = np.argmin(D, axis=1)
        idx[lo:lo + chunk] = i
        d1[lo:lo + chunk] = np.sqrt(D[np.arange(D.shape[0]), i])
        if d2 is not None:
            d2[lo:lo + chunk] = np.sqrt(np.partition(D, 1, axis=1)[:, 1])
    ratio = None
    if d2 is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d2 > 0, d1 / np.where(d2 > 0, d2, 1.0), 1.0)
    return idx, d1, ratio


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
    idx, d1, ratio = _nearest_rows(X, U)
    return NearestNeighbour(ratio=ratio, index=idx, distance=d1)
