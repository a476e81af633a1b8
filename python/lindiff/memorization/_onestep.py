"""Halder's analytically tractable model: one forward step and an affine one-step denoiser (spec §2).

Data ``x ~ N(m 1, sigma^2 I_d)``; one forward step ``y = a x + b z``, ``a = e^-T``,
``b^2 = l (1 - e^-2T)``; the denoiser ``x_hat = beta_0 + beta_1 y`` is fitted by least squares with
intercept on N pairs (one noise draw per training point), minimum-norm with an explicit relative
singular-value cut-off; the one-step sampler draws ``y_gen ~ N(a x_bar, c I)``,
``c = a^2 s_bar^2 + b^2``, so that ``p_gen = N(mu, Sigma)``, ``mu = beta_0 + a beta_1 x_bar`` and
``Sigma = c beta_1 beta_1^T`` (pinned; the author's code has ``c beta_1^T beta_1``,
``sigma_convention="ldm"``).  Everything depends on (T, l) only through
``kappa = sigma^2 / (sigma^2 + l (e^2T - 1))``.

The theory (:meth:`OneStepModel.theory`) is derived and checked in ``lindiff.derivations``
(module ``memorization``); two results there differ from the spec and are used here: the exact
E tr Sigma with the pinned (random) c has an extra O(1/N) term, and the 1/N coefficient of
E KL/d gains ``kappa^2 (5 - 4 kappa)/d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._display import html_table, text_table
from .._random import seed_sequence
from .._validation import choice, positive_int, positive_scalar, real_array
from ._criterion import _Gaussian

__all__ = ["OneStepFit", "OneStepModel", "free_log_det"]

CONVENTIONS = ("correct", "ldm")


def free_log_det(gamma: float, kappa: float) -> float:
    """J(gamma, kappa): the limit of (1/d) ln|det(I + T)|, T = sqrt((1 - kappa)/kappa) G W^(-1/2).

    From the Haagerup-Larsen radial law of the R-diagonal T (``lindiff.derivations``, module
    ``memorization``, step ``J``): J = 0 for gamma <= kappa; for kappa < gamma < 1, with t0 = kappa/gamma,
    ``J = (1/2)[(1 - t0) ln(gamma (1 - kappa)/kappa) + t0 - 1 - t0 ln t0
    - ((1 - kappa) ln(1 - kappa) - (1 - gamma) ln(1 - gamma) + kappa - gamma)/gamma]``.

    Examples
    --------
    >>> from lindiff.memorization import free_log_det
    >>> free_log_det(0.3, 0.5)
    0.0
    >>> round(free_log_det(0.7, 0.3), 10)
    0.242085103
    """
    g, k = float(gamma), float(kappa)
    if not 0.0 < k < 1.0:
        raise ValueError(f"kappa must lie in (0, 1) (got {kappa!r})")
    if not 0.0 < g < 1.0:
        raise ValueError(f"gamma must lie in (0, 1) (got {gamma!r})")
    if g <= k:
        return 0.0
    t0 = k / g
    return 0.5 * ((1.0 - t0) * math.log(g * (1.0 - k) / k) + t0 - 1.0 - t0 * math.log(t0)
                  - ((1.0 - k) * math.log1p(-k) - (1.0 - g) * math.log1p(-g) + k - g) / g)


def _mean_log_chi2(k: float, kappa: float) -> float:
    """E ln(1 - kappa + kappa U), U = chi^2_k / k: the exact mean of ln(c/v) (k = d (N - 1))."""
    from scipy import integrate, special

    # density of U: Gamma(shape k/2, scale 2/k); integrate over its bulk +- 40 standard deviations
    a = 0.5 * k
    sd = math.sqrt(2.0 / k)
    lo, hi = max(0.0, 1.0 - 40.0 * sd), 1.0 + 40.0 * sd
    logc = a * math.log(a) - special.gammaln(a)

    def f(u: float) -> float:
        if u <= 0.0:
            return 0.0
        return math.log1p(kappa * (u - 1.0)) * math.exp(logc + (a - 1.0) * math.log(u) - a * u)

    pts = [p for p in (1.0 - 5 * sd, 1.0, 1.0 + 5 * sd) if lo < p < hi]
    val, _ = integrate.quad(f, lo, hi, points=pts, limit=400, epsabs=1e-15, epsrel=1e-12)
    return float(val)


@dataclass(frozen=True, eq=False)
class OneStepFit:
    """One training set of :class:`OneStepModel`, its fitted denoiser and the generated law.

    Attributes
    ----------
    train : ndarray (N, d)
        The training points, one per row.
    beta0 : ndarray (d,), beta1 : ndarray (d, d)
        The fitted affine denoiser ``x_hat = beta0 + beta1 y``.
    c : float
        Variance of the one-step sampler's input, ``a^2 s_bar^2 + b^2``.
    mean : ndarray (d,)
        mu = beta0 + a beta1 x_bar.
    eigenvalues : ndarray (rank,), eigenvectors : ndarray (d, rank)
        The non-zero spectrum of Sigma (eigenvalues descending; Sigma is 0 on the complement).
    rank : int
        rank Sigma: min(N - 1, d) for generic data.
    kl_fwd, kl_rev : float
        KL(p_gen || p)/d and KL(p || p_gen)/d against the data law p = N(m 1, sigma^2 I);
        inf when Sigma is singular.
    hellinger2 : float
        Squared Hellinger distance H^2(p_gen, p) (1 when Sigma is singular).
    sigma_convention : str
    """

    train: NDArray[np.float64]
    beta0: NDArray[np.float64]
    beta1: NDArray[np.float64]
    c: float
    mean: NDArray[np.float64]
    eigenvalues: NDArray[np.float64]
    eigenvectors: NDArray[np.float64]
    rank: int
    kl_fwd: float
    kl_rev: float
    hellinger2: float
    sigma_convention: str

    @property
    def cov(self) -> NDArray[np.float64]:
        """Sigma, the covariance of p_gen (d, d)."""
        return (self.eigenvectors * self.eigenvalues) @ self.eigenvectors.T

    @property
    def generated(self) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """p_gen as ``(mean, (eigenvalues, eigenvectors))``, the Gaussian form :func:`relative_distance` takes."""
        return self.mean, (self.eigenvalues, self.eigenvectors)

    def sample(self, n: int, seed: int | np.random.SeedSequence = 0) -> NDArray[np.float64]:
        """n samples of p_gen (rows): ``mean + eigenvectors (sqrt(eigenvalues) z)``."""
        g = _Gaussian(mean=self.mean, evals=self.eigenvalues, evecs=self.eigenvectors)
        return g.draw(positive_int("n", n), seed_sequence(seed))

    def _cells(self) -> list[tuple[str, str, bool | None]]:
        N, d = self.train.shape
        return [("N, d", f"{N}, {d}", None), ("rank Sigma", str(self.rank), None),
                ("c", f"{self.c:.6g}", None), ("tr Sigma", f"{float(np.sum(self.eigenvalues)):.6g}", None),
                ("KL(p_gen||p)/d", f"{self.kl_fwd:.6g}", None), ("KL(p||p_gen)/d", f"{self.kl_rev:.6g}", None),
                ("H^2", f"{self.hellinger2:.6g}", None), ("sigma_convention", self.sigma_convention, None)]

    def __repr__(self) -> str:
        return text_table("lindiff.memorization.OneStepFit", self._cells())

    def _repr_html_(self) -> str:
        return html_table("lindiff.memorization.OneStepFit", self._cells())


class OneStepModel:
    r"""Halder's solvable model: Gaussian data, one forward step, an affine one-step denoiser.

    Parameters
    ----------
    d, N : int
        Dimension and number of training points (N >= 2).
    T, l : float
        Forward time and noise scale: ``a = e^-T``, ``b^2 = l (1 - e^-2T)`` (defaults 2, e^-4).
    sigma, m : float
        Data law ``N(m 1, sigma^2 I_d)`` (defaults 1, 10).
    sigma_convention : "correct" or "ldm"
        ``Sigma = c beta_1 beta_1^T`` (pinned; p_gen lies on the affine hull of the training set for
        N <= d) or the author's code's ``c beta_1^T beta_1`` (same trace and determinant, hence the
        same KL(p_gen || p), but a different support for N <= d: it changes P(Delta > 0) drastically).
    rcond : float
        Relative singular-value cut-off of the minimum-norm least squares and of rank Sigma.

    Examples
    --------
    >>> from lindiff.memorization import OneStepModel
    >>> model = OneStepModel(d=8, N=64)
    >>> round(model.kappa, 4)
    0.5046
    >>> fit = model.fit(seed=0)
    >>> fit.train.shape, fit.rank
    ((64, 8), 8)
    >>> th = model.theory()
    >>> bool(th["kl_lower_bound"] <= th["kl_de"]), round(th["n_c"], 2)
    (True, 16.85)
    >>> OneStepModel(d=8, N=5).fit(seed=0).rank        # N <= d: p_gen on the training set's affine hull
    4
    """

    def __init__(self, d: int, N: int, *, T: float = 2.0, l: float = math.exp(-4.0), sigma: float = 1.0,
                 m: float = 10.0, sigma_convention: str = "correct", rcond: float = 1e-10) -> None:
        self.d = positive_int("d", d)
        self.N = positive_int("N", N, 2)
        self.T = positive_scalar("T", T)
        self.l = positive_scalar("l", l)
        self.sigma = positive_scalar("sigma", sigma)
        if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(m)):
            raise ValueError(f"m must be a finite real number (got {m!r})")
        self.m = float(m)
        choice("sigma_convention", sigma_convention, CONVENTIONS)
        self.sigma_convention = sigma_convention
        self.rcond = positive_scalar("rcond", rcond)
        if self.rcond >= 1.0:
            raise ValueError(f"rcond must be < 1 (got {rcond!r})")

    # ------------------------------------------------------------------ parameters
    @property
    def a(self) -> float:
        """Signal scale of the forward step, e^-T."""
        return math.exp(-self.T)

    @property
    def b(self) -> float:
        """Noise scale of the forward step, sqrt(l (1 - e^-2T))."""
        return math.sqrt(self.l * -math.expm1(-2.0 * self.T))

    @property
    def kappa(self) -> float:
        """kappa = sigma^2 / (sigma^2 + l (e^2T - 1)): p_gen -> N(m, kappa sigma^2 I) as N -> inf."""
        s2 = self.sigma ** 2
        return s2 / (s2 + self.l * math.expm1(2.0 * self.T))

    @property
    def data_law(self) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """The data law ``N(m 1, sigma^2 I)`` as ``(mean, (eigenvalues, eigenvectors))``."""
        return np.full(self.d, self.m), (np.full(self.d, self.sigma ** 2), np.eye(self.d))

    def sample_data(self, n: int, seed: int | np.random.SeedSequence = 0) -> NDArray[np.float64]:
        """n fresh points of the data law (rows), e.g. the reference set of the criterion."""
        rng = np.random.default_rng(seed_sequence(seed))
        return self.m + self.sigma * rng.standard_normal((positive_int("n", n), self.d))

    def with_N(self, N: int) -> OneStepModel:
        """The same model with another number of training points."""
        return OneStepModel(self.d, N, T=self.T, l=self.l, sigma=self.sigma, m=self.m,
                            sigma_convention=self.sigma_convention, rcond=self.rcond)

    # ------------------------------------------------------------------ one training set
    def fit(self, seed: int | np.random.SeedSequence = 0, *, train: ArrayLike | None = None) -> OneStepFit:
        """Fit the affine denoiser to a training set (drawn, or ``train``) and return the generated law.

        The training points X (N x d) and the forward noise Z come from
        ``numpy.random.default_rng(SeedSequence(seed))`` (X first), so both conventions see the same
        data for the same seed.  With ``train`` (your own N x d points, one per row) the same
        generator still draws (and discards) X first, so Z is the one the seed gives:
        ``fit(seed, train=fit(seed).train)`` is ``fit(seed)``.  The KL and H^2 of the result are
        against the model's data law N(m 1, sigma^2 I).  Least squares: ``beta_1 = X_c^T U_k S_k^-1
        V_k^T`` from the SVD ``Y_c = U S V^T`` of the centred noisy inputs, keeping ``s > rcond s_max``
        (minimum norm); ``beta_0 = x_bar - beta_1 y_bar``.

        Examples
        --------
        >>> import numpy as np
        >>> from lindiff.memorization import OneStepModel
        >>> model = OneStepModel(d=4, N=16)
        >>> mine = 10.0 + np.random.default_rng(5).standard_normal((16, 4))
        >>> fit = model.fit(seed=1, train=mine)
        >>> fit.train.shape, bool(np.array_equal(model.fit(seed=1, train=model.fit(seed=1).train).beta1,
        ...                                       model.fit(seed=1).beta1))
        ((16, 4), True)
        """
        d, N = self.d, self.N
        rng = np.random.default_rng(seed_sequence(seed))
        X = self.m + self.sigma * rng.standard_normal((N, d))
        if train is not None:
            X = real_array("train", train, ndim=2)
            if X.shape != (N, d):
                raise ValueError(f"train must have shape (N, d) = ({N}, {d}) for this model (got {X.shape}); "
                                 "build the model with the training set's N and d")
            X = X.copy()
        Y = self.a * X + self.b * rng.standard_normal((N, d))
        xbar, ybar = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - xbar, Y - ybar
        U, s, Vt = np.linalg.svd(Yc, full_matrices=False)
        keep = s > self.rcond * s[0]
        A = (Xc.T @ U[:, keep]) / s[keep]                 # beta_1 = A V_k^T, A is d x k
        Vk = Vt[keep].T
        beta1 = A @ Vk.T
        beta0 = xbar - beta1 @ ybar
        s_bar2 = float(np.mean(np.var(X, axis=0, ddof=1)))
        c = self.a ** 2 * s_bar2 + self.b ** 2
        mean = xbar + beta1 @ (self.a * xbar - ybar)
        P, D, Qt = np.linalg.svd(A, full_matrices=False)   # beta_1 beta_1^T = P D^2 P^T
        r = D > self.rcond * D[0] if D.size else np.zeros(0, dtype=bool)
        evecs = P[:, r] if self.sigma_convention == "correct" else Vk @ Qt[r].T   # beta_1^T beta_1 = (Vk Q) D^2 (Vk Q)^T
        evals = c * D[r] ** 2
        gen = _Gaussian(mean=mean, evals=evals, evecs=np.ascontiguousarray(evecs))
        law_mean, (law_evals, law_evecs) = self.data_law
        kl_f, kl_r, h2 = gen.distances(_Gaussian(mean=law_mean, evals=law_evals, evecs=law_evecs))
        for arr in (X, beta0, beta1, mean, evals, evecs):
            arr.setflags(write=False)
        return OneStepFit(train=X, beta0=beta0, beta1=beta1, c=c, mean=mean, eigenvalues=evals,
                          eigenvectors=gen.evecs, rank=int(evals.size), kl_fwd=kl_f / d, kl_rev=kl_r / d,
                          hellinger2=h2, sigma_convention=self.sigma_convention)

    # ------------------------------------------------------------------ theory
    def _trace_moments(self) -> tuple[float, float]:
        """(v E tr beta_1 beta_1^T / sigma^2, E tr Sigma / sigma^2) exactly; inf where they diverge.

        n = N - 1 centred pairs; G = Y_c^T Y_c (n > d) or H = Y_c Y_c^T (n < d) is Wishart, and
        E tr G^-1 diverges for n in {d - 1, d, d + 1}.  The pinned c = a^2 s_bar^2 + b^2 is correlated
        with beta_1; its exact contribution uses Gaussian fourth moments and E[tr G tr G^-1].
        """
        d, n, k = self.d, self.N - 1, self.kappa
        # homogeneous in (sigma^2, v = a^2 sigma^2 + b^2): take sigma = v = 1, so a^2 = kappa, b^2 = 1 - kappa,
        # beta*^2 = (a sigma^2 / v)^2 = kappa and the residual variance s_e^2 = sigma^2 (1 - kappa)
        v, a2, b2 = 1.0, k, 1.0 - k
        bs2, se2 = k, 1.0 - k
        if n > d + 1:      # G = d x d Wishart with n dof
            e_trbb = d * bs2 + d * d * se2 / (v * (n - d - 1))
            e_s2bb = (d * v * bs2 ** 2 + d * bs2 * se2 * (n * d - 2) / (n * (n - d - 1)) + 4 * bs2 * se2 / n
                      + d * bs2 * se2 + se2 ** 2 * d * (d * n + 2) / (n * v * (n - d - 1)))
        elif n < d - 1:    # H = n x n Wishart with d dof (minimum-norm solution)
            e_trbb = n * bs2 + se2 * d * n / (v * (d - n - 1))
            e_s2bb = (bs2 ** 2 * n * v + bs2 * se2 * (d * n - 2) / (d - n - 1) + bs2 * se2 * n
                      + 4 * bs2 * se2 / d + se2 ** 2 * (n * d + 2) / (v * (d - n - 1)))
        else:
            return math.inf, math.inf
        return v * e_trbb, a2 * e_s2bb + b2 * e_trbb

    def theory(self) -> dict[str, float]:
        """Floors, exact moments, the Jensen bound, the deterministic equivalent and the large-N series.

        KL values are per dimension; ``trace_mean`` and ``mean_sq`` are totals in units of sigma^2.

        Returns
        -------
        dict
            - ``kl_fwd_floor`` = (kappa - 1 - ln kappa)/2, ``kl_rev_floor`` = (1/kappa - 1 + ln kappa)/2,
              ``h2_floor`` = 1 - (2 sqrt(kappa)/(1 + kappa))^(d/2): the N = inf values.
            - ``trace_mean`` = E tr Sigma / sigma^2 (exact, with the pinned random c; the spec's
              kappa d + (1 - kappa) d^2/(N - d - 2) is its c -> E c version) and
              ``mean_sq`` = E |mu - m|^2 / sigma^2 (exact): finite for N - 1 > d + 1 and N - 1 < d - 1,
              inf in between.
            - ``kl_lower_bound``: (1/d)[(d/2)(q - 1 - ln q) + mean_sq/2], q = trace_mean/d (AM-GM, then
              Jensen), a lower bound on E KL(p_gen || p)/d.
            - ``kl_de``: the deterministic equivalent of E KL(p_gen || p)/d,
              (1/2d)[trace_mean - d - d (ln kappa + 2 J(gamma, kappa)) + mean_sq], gamma = d/(N - 1).
            - ``kl_de1``: kl_de with its finite-size corrections of the log-determinant: the exact
              -E ln(c/v)/2 (chi-square quadrature) and, for gamma < kappa (spectrum of T inside the unit
              disk), -ln(1 - tau)/(2d), tau = (1 - kappa) d / (kappa (N - d - 2)) = E tr T T^T / d (the
              real-Ginibre correction sum_k E tr T^2k / k; it gives the 1/N series term (1 - kappa)/kappa);
              for gamma >= kappa only the first.
            - ``kl_large_n``: (kappa - 1 - ln kappa)/2 + C1/(2N),
              C1 = (1 - kappa) d + 1 + kappa (1 - kappa) + (1 - kappa)/kappa + kappa^2 (5 - 4 kappa)/d.
            - ``n_c`` = 1 + d/kappa: where the spectrum of Sigma detaches from 0 (gamma = kappa).

            E KL(p_gen || p) is infinite for N <= d + 2 (p_gen is degenerate for N <= d); E KL(p || p_gen)
            is infinite for every N (the floor is its N = inf limit; report medians of samples).
            ``kl_de``, ``kl_de1`` and ``kl_lower_bound`` hold for both conventions (same trace, same
            determinant).
        """
        d, N, k = self.d, self.N, self.kappa
        out = {
            "kl_fwd_floor": 0.5 * (k - 1.0 - math.log(k)),
            "kl_rev_floor": 0.5 * (1.0 / k - 1.0 + math.log(k)),
            "h2_floor": -math.expm1(0.5 * d * math.log(2.0 * math.sqrt(k) / (1.0 + k))),
        }
        vtr, trace = self._trace_moments()
        mean_sq = (d + (1.0 - k) * vtr) / N
        out["trace_mean"], out["mean_sq"] = trace, mean_sq
        if N - 1 > d + 1:
            q = trace / d
            out["kl_lower_bound"] = (0.5 * d * (q - 1.0 - math.log(q)) + 0.5 * mean_sq) / d
            gamma = d / (N - 1)
            J = free_log_det(gamma, k)
            de = (trace - d - d * (math.log(k) + 2.0 * J) + mean_sq) / (2.0 * d)
            out["kl_de"] = de
            corr = -0.5 * _mean_log_chi2(d * (N - 1), k)
            tau = (1.0 - k) * d / (k * (N - d - 2))
            if gamma < k and tau < 1.0:
                corr -= 0.5 * math.log1p(-tau) / d
            out["kl_de1"] = de + corr
        else:
            for key in ("kl_lower_bound", "kl_de", "kl_de1"):
                out[key] = math.inf
        c1 = (1 - k) * d + 1 + k * (1 - k) + (1 - k) / k + k * k * (5 - 4 * k) / d
        out["kl_large_n"] = out["kl_fwd_floor"] + c1 / (2.0 * N)
        out["n_c"] = 1.0 + d / k
        return out

    def __repr__(self) -> str:
        return (f"OneStepModel(d={self.d}, N={self.N}, T={self.T:g}, l={self.l:g}, sigma={self.sigma:g}, "
                f"m={self.m:g}, sigma_convention={self.sigma_convention!r}, kappa={self.kappa:.6g})")
