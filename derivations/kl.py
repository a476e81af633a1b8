"""Gaussian KL divergences, the Wishart digamma law and its large-N / Marchenko-Pastur limits, and
the first-order (1/N) finite-d correction of the deterministic-equivalent KL for real Gaussian data."""

from __future__ import annotations

import functools

import mpmath
import sympy as sp

from . import check as ck
from .losses import gaussian_expectation
from .symbols import N, d, df1, df2, eigen_symbols, explicit, i_, k_dof, kappa, lam, nu, qr, r, sM, u, x, z

ASSUMPTIONS = r"""
* $\mathrm{KL}(P\|Q) = E_P[\log p - \log q]$ for Gaussians $P = N(\mu_1, A)$, $Q = N(\mu_2, B)$;
  $E_P[x^\top Mx] = \mathrm{Tr}(MA)$ for centred $x$.
* A sampler reproducing $N(0, C)$ exactly: $\Sigma^{-1/2}C\Sigma^{-1/2} = W/N$, $W\sim\mathrm{Wishart}_d(N, I)$, $N\ge d$.
* Bartlett decomposition: $\det W = \prod_{i=1}^d \chi^2_{N-i+1}$ (independent); the Schur complement
  $1/(W^{-1})_{11}\sim\chi^2_{N-d+1}$, so $E\,W^{-1} = I/(N-d-1)$ for $N > d+1$ (standard Wishart facts).
* Proportional limit: $d, N\to\infty$, $q = d/N < 1$; the Riemann sum $\frac1d\sum_{i}\log(1-i/N)\to\frac1q\int_0^q\log(1-u)\,du$.
* Finite-d correction (real data): $X = \Sigma^{1/2}Z$, $Z\in\mathbb{R}^{d\times N}$ with i.i.d. $N(0,1)$
  entries, $\Sigma = \mathrm{diag}(\lambda_\nu)$, $R = (C+z)^{-1}$; Gaussian integration by parts
  $E[Z_{i\mu}F(Z)] = E[\partial F/\partial Z_{i\mu}]$. By the sign symmetry of $Z$'s rows, $E\,R$ and
  $E[R\Sigma R]$ are diagonal in Sigma's eigenbasis.
* Decoupling: $\mathrm{Cov}(\mathrm{Tr}\,\Sigma R, (RC)_{\nu\nu}) = O(1/N)$ (a linear spectral statistic and
  one diagonal entry), so $\frac1N E[\mathrm{Tr}(\Sigma R)\,RC] = \tau\,E[RC] + O(N^{-2})$ with
  $\tau = \frac1N\mathrm{Tr}\,\Sigma\,E R$. The corrections below are exact to first order in $1/N$
  at fixed $d/N$ and $\Sigma$; the remainder is $O(N^{-2})$ per dimension.
* Expectations of KL terms are integrals of analytic functions against the (corrected) measures, evaluated
  as contour integrals around the support, which needs $N > d$ (no atom at 0) and $N > d + 1$ for
  $E\,\mathrm{Tr}\,\Sigma C^{-1}$ to exist.
"""


def _sym2(name: str) -> sp.Matrix:
    e = sp.symbols(f"{name}_11 {name}_12 {name}_22", real=True)
    return sp.Matrix([[e[0], e[1]], [e[1], e[2]]])


@functools.lru_cache(maxsize=None)
def build() -> ck.Derivation:
    D = ck.Derivation("kl", "Gaussian KL, the d/(4N) law and the finite-d correction", ASSUMPTIONS)
    # ------------------------------------------------------------ Gaussian KL
    v1, v2 = sp.symbols("v_1 v_2", positive=True)
    m1, m2 = sp.symbols("mu_1 mu_2", real=True)
    logratio = (-sp.log(2 * sp.pi * v1) / 2 - (x - m1) ** 2 / (2 * v1)) - (-sp.log(2 * sp.pi * v2) / 2 - (x - m2) ** 2 / (2 * v2))
    xc = sp.Symbol("xi", real=True)
    kl1 = D.step("kl_1d", "KL between two 1-D Gaussians",
                 (v1 / v2 - 1 - sp.log(v1 / v2) + (m1 - m2) ** 2 / v2) / 2,
                 r"$E_P[\log p - \log q]$ with $x = \mu_1 + \xi$, $E\xi^2 = v_1$.")
    D.check("kl_1d", "Gaussian expectation of the log-ratio", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: gaussian_expectation(sp.expand(logratio.subs(x, m1 + xc)).subs(sp.log(2 * sp.pi * v1), sp.log(2 * sp.pi) + sp.log(v1))
                                     .subs(sp.log(2 * sp.pi * v2), sp.log(2 * sp.pi) + sp.log(v2)), [xc], cov=sp.Matrix([[v1]]))),
            rhs=sp.expand_log(kl1, force=True), simplifier=lambda e: sp.simplify(sp.expand_log(e, force=True)))
    D.check("kl_1d", "by direct integration (numeric quadrature, 1-D)", _kl1d_quad, fast=False)
    A, B = _sym2("A"), _sym2("B")
    xs = sp.Matrix(sp.symbols("x_1 x_2", real=True))
    lr = lambda: (-(xs.T * A.inv() * xs)[0] + (xs.T * B.inv() * xs)[0]) / 2
    klm = D.step("kl_matrix", "Centred Gaussian KL in d dimensions",
                 sp.Eq(sp.Symbol(r"\mathrm{KL}(N(0,A)\|N(0,B))"),
                       sp.Symbol(r"\tfrac12[\mathrm{Tr}B^{-1}A - d + \log\det B - \log\det A]")),
                 r"The quadratic part averages to $\frac12\mathrm{Tr}[(B^{-1}-A^{-1})A]$; the normalisations give the log-determinants.")
    D.check("kl_matrix", "E_A of the quadratic part = (Tr B^-1 A - d)/2 (2x2, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: gaussian_expectation(lr(), list(xs), cov=A)), rhs=ck.Lazy(lambda: ((B.inv() * A).trace() - 2) / 2),
            domain={A[0, 0]: (2, 3), A[1, 1]: (2, 3), A[0, 1]: (-1, 1), B[0, 0]: (2, 3), B[1, 1]: (2, 3), B[0, 1]: (-1, 1)})
    # eigenbasis forms
    th = sp.Symbol("theta", real=True)
    V = sp.Matrix([[sp.cos(th), -sp.sin(th)], [sp.sin(th), sp.cos(th)]])
    g1, g2, l1, l2 = sp.symbols("gamma_1 gamma_2 lambda_1 lambda_2", positive=True)
    Sg = V * sp.diag(g1, g2) * V.T
    Sig = sp.diag(l1, l2)
    ot = [(V[:, i].T * Sig.inv() * V[:, i])[0] for i in range(2)]
    oo_ = [(V[:, i].T * Sig * V[:, i])[0] for i in range(2)]
    kl_mat = lambda P, Q: ((Q.inv() * P).trace() - 2 + sp.log(Q.det()) - sp.log(P.det())) / 2
    D.step("kl_fwd", "KL_fwd with overlaps",
           sp.Symbol(r"\frac{1}{2d}[\sum_i\gamma_i\tilde o_i - d - \sum_i\log\gamma_i + \sum_\nu\log\lambda_\nu]"),
           r"$A = \Sigma_{gen} = \sum_i\gamma_iv_iv_i^\top$, $B = \Sigma$, $\tilde o_i = v_i^\top\Sigma^{-1}v_i$.")
    D.check("kl_fwd", "equals the matrix KL (2x2 rotated, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: kl_mat(Sg, Sig)), rhs=(g1 * ot[0] + g2 * ot[1] - 2 - sp.log(g1) - sp.log(g2) + sp.log(l1) + sp.log(l2)) / 2)
    D.step("kl_rev", "KL_rev with overlaps",
           sp.Symbol(r"\frac{1}{2d}[\sum_i o_i/\gamma_i - d + \sum_i\log\gamma_i - \sum_\nu\log\lambda_\nu]"), "")
    D.check("kl_rev", "equals the matrix KL (2x2 rotated, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: kl_mat(Sig, Sg)), rhs=(oo_[0] / g1 + oo_[1] / g2 - 2 + sp.log(g1) + sp.log(g2) - sp.log(l1) - sp.log(l2)) / 2)
    klinf = D.step("kl_infinity", "N = oo: commuting Sigma_gen = gamma(Sigma)",
                   (r - 1 - sp.log(r)) / 2, r"Per direction, $r = \gamma(\lambda)/\lambda$; $\mathrm{KL}_\infty = \mathrm{mean}_\nu$ of it.")
    D.check("kl_infinity", "1-D KL with v1 = gamma, v2 = lambda", ck.symbolic_equal,
            lhs=kl1.subs({v1: r * v2, m1: 0, m2: 0}), rhs=klinf)
    D.check("kl_infinity", "series at r = 1 starts at (r-1)^2/4", ck.series_equal,
            expr=klinf.subs(r, 1 + u), var=u, point=0, order=3, expected=u**2 / 4)

    # ------------------------------------------------------------ chi-square moments
    mellin = D.step("chi2_mellin", "Mellin transform of the chi-square kernel", 2**sM * sp.gamma(sM),
                    r"$\int_0^\infty x^{s-1}e^{-x/2}dx = 2^s\Gamma(s)$; the $\chi^2_k$ density is $x^{k/2-1}e^{-x/2}/(2^{k/2}\Gamma(k/2))$.")
    xp = sp.Symbol("x", positive=True)
    D.check("chi2_mellin", "sympy.integrate", lambda: ck.symbolic_equal(
        sp.integrate(xp ** (sM - 1) * sp.exp(-xp / 2), (xp, 0, sp.oo), conds="none"), mellin, simplifier=sp.powsimp))
    elog = D.step("chi2_log_moment", "E log chi^2_k", sp.digamma(k_dof / 2) + sp.log(2),
                  r"$E\log X = \frac{d}{ds}\log M(s)\big|_{s=k/2}$.")
    D.check("chi2_log_moment", "derivative of log M at s = k/2", ck.symbolic_equal,
            lhs=sp.diff(sp.log(mellin), sM).subs(sM, k_dof / 2), rhs=elog,
            simplifier=lambda e: sp.simplify(sp.expand_log(e, force=True)))
    D.check("chi2_log_moment", "numeric quadrature at k = 7", _chi2_log_quad)
    einv = D.step("chi2_inverse_moment", "E 1/chi^2_k", 1 / (k_dof - 2), r"$M(k/2-1)/M(k/2)$, $k > 2$.")
    D.check("chi2_inverse_moment", "ratio of Mellin transforms", ck.symbolic_equal,
            lhs=mellin.subs(sM, k_dof / 2 - 1) / mellin.subs(sM, k_dof / 2), rhs=einv, simplifier=sp.gammasimp)

    # ------------------------------------------------------------ digamma law
    psisum = sp.Sum(sp.digamma((N - i_ + 1) / 2), (i_, 1, d))
    e_fwd = D.step("wishart_kl_fwd", "E KL_fwd for Sigma_gen = C (per dimension)",
                   -(psisum + d * sp.log(2 / N)) / (2 * d),
                   r"$\mathrm{KL}_{fwd}/d = \frac{1}{2d}[\mathrm{Tr}W/N - d - \log\det(W/N)]$, $E\,\mathrm{Tr}W = Nd$, "
                   r"$E\log\det(W/N) = \sum_{i=1}^d[\psi(\frac{N-i+1}{2}) + \log 2] - d\log N$ (Bartlett).")
    e_rev = D.step("wishart_kl_rev", "E KL_rev for Sigma_gen = C (per dimension)",
                   (N / (N - d - 1) - 1) / 2 + (psisum + d * sp.log(2 / N)) / (2 * d),
                   r"$\mathrm{KL}_{rev}/d = \frac{1}{2d}[N\,\mathrm{Tr}W^{-1} - d + \log\det(W/N)]$, $E\,W^{-1} = I/(N-d-1)$.")
    Elogdet = sp.Sum(elog.subs(k_dof, N - i_ + 1), (i_, 1, d)) - d * sp.log(N)
    D.check("wishart_kl_fwd", "assembled from E Tr W = N d and Bartlett", ck.symbolic_equal,
            lhs=(N * d / N - d - Elogdet) / (2 * d), rhs=e_fwd,
            simplifier=lambda e: sp.simplify(sp.expand_log(sp.expand(e.doit()), force=True)))
    D.check("wishart_kl_rev", "assembled from E W^-1 = I/(N-d-1) and Bartlett", ck.symbolic_equal,
            lhs=(N * d / (N - d - 1) - d + Elogdet) / (2 * d), rhs=e_rev,
            simplifier=lambda e: sp.simplify(sp.expand_log(sp.expand(e.doit()), force=True)))
    D.check("wishart_kl_rev", "d = 1: E 1/chi^2_N = 1/(N - d - 1)", ck.symbolic_equal,
            lhs=einv.subs(k_dof, N), rhs=1 / (N - 1 - 1))
    D.check("wishart_kl_fwd", "Monte Carlo, d = 3, N = 12 (seeded, 4 standard errors)", _wishart_mc, fast=False)

    # ------------------------------------------------------------ large-N series, fixed d
    term = -i_ * u - (i_**2 - sp.Rational(1, 3)) / 2 * u**2
    D.step("digamma_term", "One term of the sum in 1/N", term.subs(u, 1 / N),
           r"$\psi(\frac{N-i+1}{2}) + \log\frac2N = -\frac iN - \frac{i^2 - 1/3}{2N^2} + O(N^{-3})$ "
           r"(from $\psi(x) = \log x - \frac1{2x} - \frac1{12x^2} + \dots$).")
    D.check("digamma_term", "series of psi((N-i+1)/2) + log(2/N) in u = 1/N", ck.series_equal,
            expr=sp.digamma((1 / u - i_ + 1) / 2) + sp.log(2 * u), var=u, point=0, order=3, expected=term)
    summed = sp.expand(sp.summation(sp.expand(term), (i_, 1, d)))
    fwd_ser = D.step("kl_fwd_series", "E KL_fwd at large N, fixed d",
                     (d + 1) / (4 * N) + (2 * d**2 + 3 * d - 1) / (24 * N**2),
                     r"Summing the terms over $i = 1..d$: $(d+1)/(4N) + (2d^2+3d-1)/(24N^2) + O(N^{-3})$.")
    D.check("kl_fwd_series", "from the summed term", ck.symbolic_equal,
            lhs=-summed.subs(u, 1 / N) / (2 * d), rhs=fwd_ser, simplifier=lambda e: sp.simplify(sp.expand(e)))
    rev_ser = D.step("kl_rev_series", "E KL_rev at large N, fixed d",
                     (d + 1) / (4 * N) + (10 * d**2 + 21 * d + 13) / (24 * N**2),
                     r"$\frac12\frac{d+1}{N-d-1} = \frac{d+1}{2N} + \frac{(d+1)^2}{2N^2} + \dots$ minus the forward terms.")
    D.check("kl_rev_series", "from the summed term and the 1/(N-d-1) series", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: sp.series(((N / (N - d - 1) - 1) / 2).subs(N, 1 / u), u, 0, 3).removeO().subs(u, 1 / N)
                        + summed.subs(u, 1 / N) / (2 * d)),
            rhs=rev_ser, simplifier=lambda e: sp.simplify(sp.expand(e)))
    D.check("kl_fwd_series", "residual of the exact law is O(N^-3) (d = 3, N = 1e4, 2e4; 50 digits)",
            _series_residual_check, exact=e_fwd, series=fwd_ser)
    D.check("kl_rev_series", "residual of the exact law is O(N^-3) (d = 3, N = 1e4, 2e4; 50 digits)",
            _series_residual_check, exact=e_rev, series=rev_ser)

    # ------------------------------------------------------------ Marchenko-Pastur limits
    antider = -(1 - u) * sp.log(1 - u) - u
    integ = antider.subs(u, qr) - antider.subs(u, 0)
    mp_fwd = D.step("mp_kl_fwd", "Proportional limit of E KL_fwd",
                    (1 + (1 - qr) / qr * sp.log(1 - qr)) / 2,
                    r"$-\frac{1}{2d}\sum_i\log(1-\frac{i-1}{N}) \to -\frac1{2q}\int_0^q\log(1-u)du$.")
    D.check("mp_kl_fwd", "antiderivative -(1-u)log(1-u) - u of log(1-u)", ck.symbolic_equal,
            lhs=sp.diff(antider, u), rhs=sp.log(1 - u))
    D.check("mp_kl_fwd", "from the Riemann-sum integral", ck.symbolic_equal, lhs=-integ / (2 * qr), rhs=mp_fwd)
    D.check("mp_kl_fwd", "series q/4 + q^2/12 + q^3/24", ck.series_equal, expr=mp_fwd, var=qr, point=0, order=4,
            expected=qr / 4 + qr**2 / 12 + qr**3 / 24)
    D.check("mp_kl_fwd", "agrees with the large-N series at d = qN, N -> oo", ck.limit_equal,
            expr=fwd_ser.subs(d, qr * N), var=N, point=sp.oo, expected=qr / 4 + qr**2 / 12)
    mp_rev = D.step("mp_kl_rev", "Proportional limit of E KL_rev",
                    (1 / (1 - qr) - 1) / 2 - mp_fwd, r"$\frac12[\frac{N}{N-d-1} - 1]\to\frac12\frac{q}{1-q}$.")
    D.check("mp_kl_rev", "series q/4 + 5q^2/12 + 11q^3/24", ck.series_equal, expr=mp_rev, var=qr, point=0, order=4,
            expected=qr / 4 + 5 * qr**2 / 12 + 11 * qr**3 / 24)
    D.check("mp_kl_rev", "agrees with the large-N series at d = qN, N -> oo", ck.limit_equal,
            expr=rev_ser.subs(d, qr * N), var=N, point=sp.oo, expected=qr / 4 + 5 * qr**2 / 12)
    D.check("mp_kl_fwd", "exact law at d = 2000, N = 4000 within 2/N of the limit", _mp_limit_check,
            exact=e_fwd, limit=mp_fwd, fast=False)
    D.check("mp_kl_rev", "exact law at d = 2000, N = 4000 within 2/N of the limit", _mp_limit_check,
            exact=e_rev, limit=mp_rev, fast=False)
    _finite_d_steps(D)
    D.set_slow(
        'kl_rev_series: from the summed term',
        'Gaussian expectation of the log-ratio',
        'E_A of the quadratic part',
        'equals the matrix KL',
        'sympy.integrate',
        'numeric quadrature at k = 7',
        'assembled from E Tr W',
        'assembled from E W^-1',
        'series of psi(',
        'tau = kappa/z - 1 = (1/N) sum lambda r',
        'by quadrature in kappa',
        'contour integral (mpmath',
    )
    return D


# ------------------------------------------------------------------ numeric helpers
def _kl1d_quad() -> ck.CheckResult:
    with mpmath.workdps(30):
        a1, a2, mu_a, mu_b = mpmath.mpf("0.7"), mpmath.mpf("1.9"), mpmath.mpf("0.3"), mpmath.mpf("-0.4")
        p = lambda t: mpmath.npdf(t, mu_a, mpmath.sqrt(a1))
        q = lambda t: mpmath.npdf(t, mu_b, mpmath.sqrt(a2))
        val = mpmath.quad(lambda t: p(t) * (mpmath.log(p(t)) - mpmath.log(q(t))), [-mpmath.inf, mu_a, mpmath.inf])
        ref = (a1 / a2 - 1 - mpmath.log(a1 / a2) + (mu_a - mu_b) ** 2 / a2) / 2
    return ck.numeric_value(val, ref, rtol=1e-25)


def _chi2_log_quad() -> ck.CheckResult:
    with mpmath.workdps(30):
        k = 7
        dens = lambda t: t ** (mpmath.mpf(k) / 2 - 1) * mpmath.exp(-t / 2) / (2 ** (mpmath.mpf(k) / 2) * mpmath.gamma(mpmath.mpf(k) / 2))
        val = mpmath.quad(lambda t: mpmath.log(t) * dens(t), [0, k, mpmath.inf])
        ref = mpmath.digamma(mpmath.mpf(k) / 2) + mpmath.log(2)
    return ck.numeric_value(val, ref, rtol=1e-25)


def _eval_law(expr: sp.Expr, dv: int, Nv) -> mpmath.mpf:
    """Evaluate an exact digamma law at integer d (sum done in mpmath)."""
    with mpmath.workdps(50):
        Nm = mpmath.mpf(Nv)
        ps = mpmath.fsum(mpmath.digamma((Nm - i + 1) / 2) for i in range(1, dv + 1))
        S = sp.Symbol("S_psi")
        e = expr.subs(sp.Sum(sp.digamma((N - i_ + 1) / 2), (i_, 1, d)), S)
        return ck.evaluate(e, {S: ps, N: Nm, d: dv})


def _series_residual_check(exact: sp.Expr, series: sp.Expr) -> ck.CheckResult:
    res = []
    for Nv in (10**4, 2 * 10**4):
        with mpmath.workdps(50):
            res.append(_eval_law(exact, 3, Nv) - ck.evaluate(series, {N: mpmath.mpf(Nv), d: 3}))
    ratio = res[0] / res[1]
    ok = abs(ratio - 8) < mpmath.mpf("0.01")
    return ck.predicate(ok, f"residuals {mpmath.nstr(res[0], 4)}, {mpmath.nstr(res[1], 4)}; ratio "
                        f"{mpmath.nstr(ratio, 6)} (8 for an O(N^-3) remainder)", kind="series")


def _mp_limit_check(exact: sp.Expr, limit: sp.Expr) -> ck.CheckResult:
    dv, Nv = 2000, 4000
    val = _eval_law(exact, dv, Nv)
    lim = ck.evaluate(limit, {qr: mpmath.mpf(dv) / Nv})
    diff = val - lim
    ok = 0 < abs(diff) < mpmath.mpf(2) / Nv
    return ck.predicate(ok, f"exact {mpmath.nstr(val, 10)}, limit {mpmath.nstr(lim, 10)}, difference "
                        f"{mpmath.nstr(diff, 4)} (bound 2/N = {2 / Nv})", kind="limit")


def _wishart_mc() -> ck.CheckResult:
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence(20251123))
    dv, Nv, reps = 3, 12, 200_000
    X = rng.standard_normal((reps, dv, Nv))
    Wm = X @ X.transpose(0, 2, 1) / Nv
    sign, logdet = np.linalg.slogdet(Wm)
    kl = (np.trace(Wm, axis1=1, axis2=2) - dv - logdet) / (2 * dv)
    mean, se = kl.mean(), kl.std() / np.sqrt(reps)
    with mpmath.workdps(30):
        ref = float(-(mpmath.fsum(mpmath.digamma(mpmath.mpf(Nv - i + 1) / 2) for i in range(1, dv + 1))
                      + dv * mpmath.log(mpmath.mpf(2) / Nv)) / (2 * dv))
    ok = abs(mean - ref) < 4 * se
    return ck.predicate(ok, f"MC {mean:.6f} +- {se:.6f} vs digamma law {ref:.6f}", kind="numeric")


# ================================================================== finite-d (1/N) correction
D3 = 3                                                    # size of the concrete spectra of the checks
_LAMS3 = (sp.Rational(3, 2), sp.Rational(7, 10), sp.Rational(2, 5))
_N3 = 7                                                   # N > d + 1 for the checks at z -> 0
lv = sp.Symbol("lambda", positive=True)                   # one eigenvalue lambda_nu (per-eigenvalue algebra)
tau_ = sp.Symbol("tau", positive=True)
dlt = sp.Symbol("delta", real=True)                       # first-order part of tau
Dlt = sp.Symbol("Delta", real=True)                       # first-order part of (E R)_nu nu
eb = sp.Symbol("epsilon", positive=True)                  # bookkeeping parameter (order 1/N)
D2 = sp.Symbol("D_2", positive=True)                      # stand-in for df2(kappa)


def _S(p: int, q_: int, k: sp.Expr = kappa) -> sp.Sum:
    """sum_nu lambda_nu^p / (lambda_nu + kappa)^q (unevaluated, symbolic d)."""
    return sp.Sum(lam[nu] ** p / (lam[nu] + k) ** q_, (nu, 1, d))


def _finite_d_steps(D: ck.Derivation) -> None:
    """Steps ``finite_d_*``: E R to first order in 1/N for real data, the corrections of the three DE
    measures, their exact moments, and the first-order KL correction (any sampler)."""
    den = 1 - df2(kappa) / N
    t3 = _S(2, 3)
    zk = kappa * (1 - df1(kappa) / N)                     # z(kappa), the DE fixed point
    zk3 = lambda: explicit(zk, D3)                        # noqa: E731
    D.step("finite_d_derivative", "Derivative of the resolvent in one entry of Z",
           sp.Eq(sp.Symbol(r"\partial R/\partial Z_{i\mu}"),
                 sp.Symbol(r"-\tfrac1N R\,\Sigma^{1/2}(e_i z_\mu^\top + z_\mu e_i^\top)\Sigma^{1/2} R")),
           r"$C = \Sigma^{1/2}ZZ^\top\Sigma^{1/2}/N$ and $\partial R = -R\,(\partial C)\,R$; $Z_{i\mu}$ enters $C$ "
           r"twice (real data), which is what makes the first-order term below non-zero.")
    D.check("finite_d_derivative", "d = 2, N = 2, exact rational point", _resolvent_derivative_check)
    D.step("finite_d_stein", "Gaussian integration by parts for E[RC] (exact, any d, N)",
           sp.Eq(sp.Symbol(r"E[RC] = I - zE R"),
                 sp.Symbol(r"E[R\Sigma] - \tfrac1N E[R\Sigma RC] - \tfrac1N E[\mathrm{Tr}(\Sigma R)\,RC]")),
           r"$E[RC]_{ab} = \frac1N\sum_{\mu,i,j}E[(R\Sigma^{1/2})_{ai}Z_{i\mu}Z_{j\mu}]\,(\Sigma^{1/2})_{jb}$; integrating "
           r"$Z_{i\mu}$ by parts gives $R\Sigma$ from $\partial Z_{j\mu}/\partial Z_{i\mu}$ and the two terms of "
           r"$\partial R$. The middle term is absent for complex data; with $R\Sigma RC = R\Sigma - zR\Sigma R$ it is "
           r"$-\frac1N(E[R\Sigma] - zE[R\Sigma R])$.")
    D.check("finite_d_stein", "Monte Carlo, d = 3, N = 5 (seeded, 4 standard errors); without the real-data term it fails",
            _stein_mc, fast=False)
    rb = D.step("finite_d_order0", "Order 1: the deterministic equivalent", kappa / (z * (lv + kappa)),
                r"With the decoupling, $(1 - zr_\nu)(1+\tau) = \lambda_\nu r_\nu$ for $r_\nu = (E R)_{\nu\nu}$, so "
                r"$r_\nu = (1+\tau)/(\lambda_\nu + z(1+\tau))$; $\kappa = z(1+\tau)$ and $\tau = \frac1N\sum_\nu\lambda_\nu r_\nu$ "
                r"give $z = \kappa(1 - \mathrm{df}_1/N)$ (module `replica`).")
    D.check("finite_d_order0", "solves (1 - z r)(1 + tau) = lambda r with 1 + tau = kappa/z", ck.symbolic_equal,
            lhs=(1 - z * rb) * (kappa / z), rhs=lv * rb, simplifier=sp.cancel)
    D.check("finite_d_order0", "tau = kappa/z - 1 = (1/N) sum lambda r at z = z(kappa) (d = 3)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: (kappa / z - 1).subs(z, zk3())),
            rhs=ck.Lazy(lambda: explicit(sp.Sum(lam[nu] * kappa / (z * (lam[nu] + kappa)), (nu, 1, d)) / N, D3).subs(z, zk3())),
            simplifier=sp.cancel)
    eb_ = D.step("finite_d_RSR", "E[R Sigma R] at order 1",
                 (kappa / z) ** 2 * lv / ((lv + kappa) ** 2 * (1 - D2 / N)),
                 r"$R\Sigma R = -\partial_\varepsilon(C + z + \varepsilon\Sigma)^{-1}|_0$; the same argument for "
                 r"$C + \varepsilon\Sigma$ gives $r_\nu(\varepsilon) = 1/(\lambda_\nu/(1+\tau_\varepsilon) + \varepsilon\lambda_\nu + z)$, "
                 r"$\tau_\varepsilon = \frac1N\sum\lambda_\nu r_\nu(\varepsilon)$; differentiating (with $\tau_\varepsilon$) gives "
                 r"$(\kappa/z)^2\lambda_\nu/((\lambda_\nu+\kappa)^2(1 - \mathrm{df}_2/N))$, $D_2 = \mathrm{df}_2(\kappa)$. "
                 r"It is not $(\bar R\Sigma\bar R)_{\nu\nu}$: the off-diagonal fluctuations of $R$ add the factor $1/(1-\mathrm{df}_2/N)$.")
    D.check("finite_d_RSR", "implicit derivative of the perturbed DE (d = 3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(_rsr_from_perturbation),
            rhs=ck.Lazy(lambda: explicit(eb_.subs(lv, lam[1]).subs(D2, df2(kappa)), D3).subs(z, zk3())))
    # first order
    F = (1 - z * (rb + eb * Dlt)) * (1 + (kappa / z - 1) + eb * dlt) - lv * (rb + eb * Dlt) + eb / N * (lv * rb - z * eb_)
    eq1 = D.step("finite_d_equation", "Order 1/N: a linear equation for Delta",
                 sp.Eq(Dlt * (lv + kappa), lv / (lv + kappa) * dlt + (lv * rb - z * eb_) / N),
                 r"Insert $r_\nu = \bar r_\nu + \Delta_\nu$, $\tau = \bar\tau + \delta$ into "
                 r"$(1 - zr)(1+\tau) = \lambda r - \frac1N(\lambda r - zE[R\Sigma R]_{\nu\nu})$ and keep the first order; "
                 r"$\delta = \frac1N\sum_\nu\lambda_\nu\Delta_\nu$.")
    D.check("finite_d_equation", "first-order coefficient of the expanded equation", ck.symbolic_equal,
            lhs=sp.diff(F, eb).subs(eb, 0), rhs=-(eq1.lhs - eq1.rhs), simplifier=sp.cancel)
    delta_ = D.step("finite_d_delta", "First-order shift of tau",
                    kappa / (z * N**2) * (df2(kappa) / den - kappa * t3 / den**2),
                    r"Multiply the equation by $\lambda_\nu/(N(\lambda_\nu+\kappa))$ and sum: "
                    r"$\delta(1 - \mathrm{df}_2/N) = \frac{\kappa}{zN^2}[\mathrm{df}_2 - \kappa t_3/(1-\mathrm{df}_2/N)]$, "
                    r"$t_3 = \sum_\nu\lambda_\nu^2/(\lambda_\nu+\kappa)^3$.")
    D.check("finite_d_delta", "delta = (1/N) sum lambda Delta, solved (d = 3, numeric)", _delta_solve_check,
            eq=eq1, rb=rb, eb_=eb_, delta=delta_)
    Delta_ = D.step("finite_d_Delta", "First-order correction of (E R)_nu nu",
                    lv / (lv + kappa) ** 2 * (dlt + kappa / (z * N)) - kappa**2 * lv / (z * N * (lv + kappa) ** 3 * (1 - D2 / N)),
                    r"Solve the linear equation for $\Delta_\nu$ ($\delta$ from the previous step).")
    D.check("finite_d_Delta", "solves the first-order equation", ck.symbolic_equal,
            lhs=Delta_ * (lv + kappa), rhs=eq1.rhs, simplifier=sp.cancel)
    per_nu = lambda e: e.subs(lv, lam[nu])  # noqa: E731
    # delta and D_2 = df2 stay symbols inside the sums; x3 makes d = 3 explicit and substitutes them
    x3 = lambda e: explicit(e, D3).subs(dlt, explicit(delta_, D3)).subs(D2, explicit(df2(kappa), D3))  # noqa: E731
    dg = D.step("finite_d_g", "Correction of (1/d) Tr R", sp.Sum(per_nu(Delta_), (nu, 1, d)) / d,
                r"With $\delta$ of step `finite_d_delta` and $D_2 = \mathrm{df}_2(\kappa)$. The transform of the correction "
                r"$\delta\rho$ of the measure $\rho$; compactly "
                r"$\frac{t_3}{dN(1-\mathrm{df}_2/N)^2} = \frac1{2d}\frac{d}{dz}\log(1 - \mathrm{df}_2(\kappa(z))/N)$ (next step).")
    dgc = D.step("finite_d_g_compact", "Compact form of the correction of (1/d) Tr R",
                 t3 / (d * N * den**2), r"With $\kappa'(z) = 1/(1 - \mathrm{df}_2/N)$ and $d\,\mathrm{df}_2/d\kappa = -2t_3$: "
                 r"$\frac{d}{dz}\log(1-\mathrm{df}_2/N) = 2t_3/(N(1-\mathrm{df}_2/N)^2)$ -- the real-data mean term of the "
                 r"Bai-Silverstein CLT.")
    D.check("finite_d_g_compact", "equals the sum form at z = z(kappa) (d = 3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: x3(dg).subs(z, zk3())), rhs=ck.Lazy(lambda: explicit(dgc, D3)))
    D.check("finite_d_g_compact", "chain rule of (1/2d) d/dz log(1 - df2(kappa(z))/N) (d = 3)",
            _compact_chain_check, compact=dgc)
    dh = D.step("finite_d_h", "Correction of (1/d) Tr Sigma R", N * delta_ / d,
                r"$\frac1d\sum_\nu\lambda_\nu\Delta_\nu = N\delta/d$ by the definition of $\delta$.")
    D.check("finite_d_h", "equals (1/d) sum lambda Delta (d = 3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: x3(sp.Sum(lam[nu] * per_nu(Delta_), (nu, 1, d)) / d)),
            rhs=ck.Lazy(lambda: explicit(dh, D3)))
    dgi = D.step("finite_d_ginv", "Correction of (1/d) Tr Sigma^-1 R", sp.Sum(per_nu(Delta_) / lam[nu], (nu, 1, d)) / d, "")
    # exact moments
    D.step("finite_d_moments", "Exact moments (real data): the corrections are O(z^-3) at large z",
           sp.Eq(sp.Symbol(r"E\,C^2"), sp.Symbol(r"(1 + \tfrac1N)\Sigma^2 + \Sigma\,\mathrm{Tr}\Sigma/N")),
           r"Isserlis: $E[xx^\top xx^\top] = 2\Sigma^2 + \Sigma\,\mathrm{Tr}\Sigma$, so $E\,C^2 = \frac1N(2\Sigma^2 + "
           r"\Sigma\mathrm{Tr}\Sigma) + (1-\frac1N)\Sigma^2$, while the DE has $\Sigma^2 + \Sigma\mathrm{Tr}\Sigma/N$ and "
           r"$E\,C = \Sigma$ exactly. Hence $\delta\rho_A$ has mass 0, mean 0 and second moment "
           r"$\mathrm{Tr}(A\Sigma^2)/(dN)$: $z^3$ times the corrections tends to $\mathrm{Tr}\Sigma^2/(dN)$, "
           r"$\mathrm{Tr}\Sigma^3/(dN)$, $\mathrm{Tr}\Sigma/(dN)$ for $A = I, \Sigma, \Sigma^{-1}$.")
    D.check("finite_d_moments", "Isserlis fourth moment, d = 2", _isserlis_check)
    D.check("finite_d_moments", "DE: z^3 (r - 1/z + lambda/z^2) -> lambda^2 + lambda Tr Sigma/N (d = 3)", _large_z_check,
            expr=ck.Lazy(lambda: explicit((rb - 1 / z + lv / z**2).subs(lv, lam[1]), D3)),
            expected=ck.Lazy(lambda: explicit(lam[1] ** 2 + lam[1] * sp.Sum(lam[nu], (nu, 1, d)) / N, D3)))
    for key, lbl, e, want in (("finite_d_g", "Tr R", dg, sp.Sum(lam[nu] ** 2, (nu, 1, d)) / (d * N)),
                              ("finite_d_h", "Tr Sigma R", dh, sp.Sum(lam[nu] ** 3, (nu, 1, d)) / (d * N)),
                              ("finite_d_ginv", "Tr Sigma^-1 R", dgi, sp.Sum(lam[nu], (nu, 1, d)) / (d * N))):
        D.check(key, f"z^3 x correction of {lbl} -> Tr(A Sigma^2)/(dN) (d = 3)", _large_z_check,
                expr=ck.Lazy(lambda e=e: x3(e)), expected=ck.Lazy(lambda w=want: explicit(w, D3)))
    D.step("finite_d_inverse", "Exact inverse moments (Wishart): the corrections at z = 0",
           sp.Eq(sp.Symbol(r"E\,C^{-1}"), sp.Symbol(r"\Sigma^{-1}N/(N-d-1)")),
           r"$E\,W^{-1} = I/(N-d-1)$; the DE has $N/(N-d)$, and $\frac{N}{N-d-1} - \frac{N}{N-d} = \frac1{N(1-q)^2} + O(N^{-2})$. "
           r"So at $z\to0$ ($\kappa\to0$, $\kappa/z\to 1/(1-q)$) the corrections must be $\mathrm{Tr}(A\Sigma^{-1})/(dN(1-q)^2)$.")
    D.check("finite_d_inverse", "N/(N-d-1) - N/(N-d) = 1/(N(1-q)^2) + O(N^-2) at d = qN", ck.series_equal,
            expr=(N / (N - qr * N - 1) - N / (N - qr * N)), var=N, point=sp.oo, order=2, expected=1 / (N * (1 - qr) ** 2))
    for key, lbl, e, want in (("finite_d_g", "Tr R", dg, sp.Sum(1 / lam[nu], (nu, 1, d)) / d),
                              ("finite_d_h", "Tr Sigma R", dh, sp.S.One),
                              ("finite_d_ginv", "Tr Sigma^-1 R", dgi, sp.Sum(1 / lam[nu] ** 2, (nu, 1, d)) / d)):
        D.check(key, f"correction of {lbl} at z -> 0 = Tr(A Sigma^-1)/(dN(1-q)^2) (d = 3, N = 7)", _small_z_check,
                expr=ck.Lazy(lambda e=e: x3(e)), expected=ck.Lazy(lambda w=want: explicit(w, D3)))
    # the log-determinant
    ld = D.step("finite_d_logdet", "Correction of E log det C / d",
                sp.log(1 - d / N) / (2 * d),
                r"$\frac{d}{dz}\int\log(s+z)\,d\delta\rho = \delta g(z)$ and the mass of $\delta\rho$ is 0, so "
                r"$\int\log s\,d\delta\rho = -\int_0^\infty\delta g\,dz = -\frac1{2d}[\log(1-\mathrm{df}_2/N)]_{z=0}^{\infty}$ "
                r"with $\mathrm{df}_2 = d$ at $z = 0$ ($N > d$) and $0$ at $\infty$. Independent of Sigma: "
                r"$E\log\det C = \log\det\Sigma + E\log\det(W/N)$.")
    D.check("finite_d_logdet", "-int_0^oo (sum form) dz by quadrature in kappa (d = 3, N = 7)", _logdet_quad_check,
            dg=ck.Lazy(lambda: x3(dg)), expected=ld)
    # KL
    D.step("finite_d_kl", "First-order correction of the KL (any sampler gamma)",
           sp.Symbol(r"\delta\mathrm{KL}_{fwd} = \tfrac12[\int\gamma\,d\delta\rho_{\Sigma^{-1}} - \int\log\gamma\,d\delta\rho],\;"
                     r"\delta\mathrm{KL}_{rev} = \tfrac12[\int\gamma^{-1}d\delta\rho_\Sigma + \int\log\gamma\,d\delta\rho]"),
           r"The KL terms are linear in the three measures (steps `kl_fwd`, `kl_rev`); "
           r"$\int f\,d\delta\rho_A = -\frac1{2\pi i}\oint f(w)\,\delta g_A(-w)\,dw$ on the contour of the DE rule, "
           r"for $\gamma$ analytic and non-zero near the support. `lindiff.theory.kl(finite_d=True)` adds these to the DE.")
    for lbl, f_, which, want in (("f = s on the Sigma^-1 correction: 0", lambda w: w, "ginv", lambda qv, Nv, dv: 0),
                                 ("f = 1/s on the Sigma correction: 1/(N(1-q)^2)", lambda w: 1 / w, "h",
                                  lambda qv, Nv, dv: 1 / (Nv * (1 - qv) ** 2)),
                                 ("f = log s on the rho correction: log(1-q)/(2d)", mpmath.log, "g",
                                  lambda qv, Nv, dv: mpmath.log(1 - qv) / (2 * dv))):
        D.check("finite_d_kl", f"contour integral (mpmath, d = 3, N = 7), {lbl}", _contour_check,
                transforms=ck.Lazy(lambda: {"g": x3(dg), "h": explicit(dh, D3), "ginv": x3(dgi)}),
                f=f_, which=which, expected=want)
    q_fwd = D.step("finite_d_kl_identity_fwd", "gamma = s: forward correction (every Sigma)",
                   -sp.log(1 - qr) / (4 * d),
                   r"$\int s\,d\delta\rho_{\Sigma^{-1}} = 0$ (mean of $\delta\rho_{\Sigma^{-1}}$) and the log-determinant step.")
    q_rev = D.step("finite_d_kl_identity_rev", "gamma = s: reverse correction (every Sigma)",
                   qr / (2 * d * (1 - qr) ** 2) + sp.log(1 - qr) / (4 * d),
                   r"$\int s^{-1}d\delta\rho_\Sigma = \delta h(0) = 1/(N(1-q)^2)$ and the log-determinant step.")
    D.check("finite_d_kl_identity_fwd", "assembled from the moment and log-det steps", ck.symbolic_equal,
            lhs=(0 - ld) / 2, rhs=q_fwd.subs(qr, d / N), simplifier=sp.simplify)
    D.check("finite_d_kl_identity_rev", "assembled from the inverse-moment and log-det steps", ck.symbolic_equal,
            lhs=(1 / (N * (1 - d / N) ** 2) + ld) / 2, rhs=q_rev.subs(qr, d / N), simplifier=sp.simplify)
    e_fwd, e_rev, mp_fwd, mp_rev = (D.results[k] for k in ("wishart_kl_fwd", "wishart_kl_rev", "mp_kl_fwd", "mp_kl_rev"))
    D.check("finite_d_kl_identity_fwd", "= d (digamma law - MP limit) as d -> oo at q = 2/5 (Richardson, d = 1000, 2000)",
            _first_order_wishart_check, exact=e_fwd, limit=mp_fwd, first=q_fwd, fast=False)
    D.check("finite_d_kl_identity_rev", "= d (digamma law - MP limit) as d -> oo at q = 2/5 (Richardson, d = 1000, 2000)",
            _first_order_wishart_check, exact=e_rev, limit=mp_rev, first=q_rev, fast=False)
    D.step("finite_d_remainder", "Remainder of the first order",
           sp.Symbol(r"E\,\mathrm{KL} - \mathrm{KL}_{DE} - \delta\mathrm{KL} = O(d^{-2})"),
           r"For $\gamma = s$ the exact law gives it: at $q = 2/3$ about $-0.06/d^2$ (fwd) and $+6.3/d^2$ (rev), "
           r"at $q = 1/2$ $-0.02/d^2$ and $+1.0/d^2$; in the reverse direction it grows like $N/(N-d)^3$ near $N = d$.")
    D.check("finite_d_remainder", "digamma law - MP - first order is O(d^-2) (q = 1/2, d = 100, 200; ratio 4)",
            _remainder_order_check, exact=e_rev, limit=mp_rev, first=q_rev)


# ------------------------------------------------------------------ finite-d numeric helpers
def _resolvent_derivative_check() -> ck.CheckResult:
    Z = sp.Matrix(2, 2, sp.symbols("Z_11 Z_12 Z_21 Z_22", real=True))
    Sh = sp.diag(sp.Rational(3, 2), sp.Rational(1, 2))          # Sigma^1/2 for lambda = 9/4, 1/4
    zz, Nn = sp.Rational(2, 5), 2
    R = (Sh * Z * Z.T * Sh / Nn + zz * sp.eye(2)).inv()
    pt = dict(zip(Z, (sp.Rational(3, 10), sp.Rational(-7, 10), sp.Rational(1, 5), sp.Rational(9, 10))))
    Rp = R.subs(pt)
    bad = []
    for i in range(2):
        for mu in range(2):
            e = sp.zeros(2, 1)
            e[i] = 1
            zmu = Z[:, mu].subs(pt)
            lhs = sp.diff(R, Z[i, mu]).subs(pt)
            rhs = -Rp * Sh * (e * zmu.T + zmu * e.T) * Sh * Rp / Nn
            if sp.simplify(lhs - rhs) != sp.zeros(2, 2):
                bad.append((i, mu))
    return ck.predicate(not bad, "exact equality for all four entries Z_i,mu" if not bad else f"differs at {bad}",
                        kind="symbolic")


def _stein_mc() -> ck.CheckResult:
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence(20260302))
    lamv = np.array([2.0, 1.0, 0.4])
    dv, Nv, zv, reps = 3, 5, 0.6, 200_000
    X = np.sqrt(lamv)[None, :, None] * rng.standard_normal((reps, dv, Nv))
    C = X @ X.transpose(0, 2, 1) / Nv
    R = np.linalg.inv(C + zv * np.eye(dv))
    S = np.diag(lamv)
    RC = R @ C
    trSR = np.einsum("ij,rji->r", S, R)
    full = RC - R @ S + R @ S @ RC / Nv + trSR[:, None, None] * RC / Nv
    cplx = RC - R @ S + trSR[:, None, None] * RC / Nv          # without the real-data term
    zs = lambda A: np.diagonal(A, axis1=1, axis2=2).mean(0) / (np.diagonal(A, axis1=1, axis2=2).std(0) / np.sqrt(reps))  # noqa: E731
    zf, zc = zs(full), zs(cplx)
    ok = bool(np.all(np.abs(zf) < 4) and np.max(np.abs(zc)) > 4)
    return ck.predicate(ok, f"z of the diagonal: {np.round(zf, 2).tolist()} (identity), "
                        f"{np.round(zc, 1).tolist()} (without the term -(1/N) R Sigma R C)", kind="numeric")


def _rsr_from_perturbation() -> sp.Expr:
    lam3 = eigen_symbols(D3)
    t_, e_ = sp.Symbol("t"), sp.Symbol("varepsilon")
    rr = [1 / (l / (1 + t_) + e_ * l + z) for l in lam3]
    G = t_ - sum(l * x_ for l, x_ in zip(lam3, rr)) / N
    dt = -sp.diff(G, e_) / sp.diff(G, t_)
    e1 = -(sp.diff(rr[0], e_) + sp.diff(rr[0], t_) * dt)
    return e1.subs(e_, 0).subs(t_, kappa / z - 1).subs(z, explicit(kappa * (1 - df1(kappa) / N), D3))


def _delta_solve_check(eq: sp.Eq, rb: sp.Expr, eb_: sp.Expr, delta: sp.Expr) -> ck.CheckResult:
    lam3 = eigen_symbols(D3)
    e = eq.lhs - eq.rhs                                   # linear in Delta
    Dl = [(-e.subs(Dlt, 0) / sp.diff(e, Dlt)).subs(lv, l).subs(D2, explicit(df2(kappa), D3)) for l in lam3]
    lin = dlt - sum(l * x_ for l, x_ in zip(lam3, Dl)) / N  # linear in delta
    return ck.numeric_equal(-lin.subs(dlt, 0) / sp.diff(lin, dlt), explicit(delta, D3))


def _compact_chain_check(compact: sp.Expr) -> ck.CheckResult:
    K = sp.Function("kappa")(z)
    e = sp.diff(sp.log(1 - explicit(df2(K), D3) / N), z) / (2 * D3)
    e = e.subs(sp.Derivative(K, z), 1 / (1 - explicit(df2(K), D3) / N)).subs(K, kappa)
    return ck.symbolic_equal(e, explicit(compact, D3), simplifier=sp.cancel)


def _isserlis_check() -> ck.CheckResult:
    l1, l2 = sp.symbols("lambda_1 lambda_2", positive=True)
    sq = [sp.sqrt(l1), sp.sqrt(l2)]
    # x_a = sqrt(lambda_a) g_a, E g_a g_b g_c g_e = d_ab d_ce + d_ac d_be + d_ae d_bc
    m4 = lambda a, b, c, e: int(a == b and c == e) + int(a == c and b == e) + int(a == e and b == c)  # noqa: E731
    M = sp.zeros(2, 2)
    for a in range(2):
        for b in range(2):
            M[a, b] = sum(sq[a] * sq[c] * sq[c] * sq[b] * m4(a, c, c, b) for c in range(2))   # E x_a (x.x) x_b
    S = sp.diag(l1, l2)
    diff = (M - (2 * S**2 + S * (l1 + l2))).applyfunc(sp.simplify)
    return ck.predicate(diff == sp.zeros(2, 2), f"E[x x^T x x^T] - (2 Sigma^2 + Sigma Tr Sigma) = {diff.tolist()}",
                        kind="symbolic")


def _lam3_values() -> dict:
    return dict(zip(eigen_symbols(D3), _LAMS3))


def _large_z_check(expr: sp.Expr, expected: sp.Expr) -> ck.CheckResult:
    """z(kappa)^3 * expr at kappa = 1e40 (d = 3 spectrum of _LAMS3, N = 7/3) against expected."""
    vals = {**_lam3_values(), N: sp.Rational(7, 3)}
    zk = explicit(kappa * (1 - df1(kappa) / N), D3).subs(vals)
    with mpmath.workdps(120):
        kv = mpmath.mpf(10) ** 40
        zz = ck.evaluate(zk, {kappa: kv}, dps=120)
        val = zz**3 * ck.evaluate(expr.subs(vals), {kappa: kv, z: zz}, dps=120)
        want = ck.evaluate(sp.sympify(expected).subs(vals) + kappa * 0, {kappa: kv}, dps=120)
    return ck.numeric_value(val, want, rtol=1e-30, dps=60)


def _small_z_check(expr: sp.Expr, expected: sp.Expr) -> ck.CheckResult:
    """expr at kappa = 1e-40 (z = z(kappa), N = 7 > d + 1 = 4) against expected / (N (1 - d/N)^2)."""
    vals = {**_lam3_values(), N: _N3}
    zk = explicit(kappa * (1 - df1(kappa) / N), D3).subs(vals)
    with mpmath.workdps(120):
        kv = mpmath.mpf(10) ** -40
        zz = ck.evaluate(zk, {kappa: kv}, dps=120)
        val = ck.evaluate(expr.subs(vals), {kappa: kv, z: zz}, dps=120)
        want = ck.evaluate(sp.sympify(expected).subs(vals) + kappa * 0, {kappa: kv}, dps=120) / (
            _N3 * (1 - mpmath.mpf(D3) / _N3) ** 2)
    return ck.numeric_value(val, want, rtol=1e-30, dps=60)


def _logdet_quad_check(dg: sp.Expr, expected: sp.Expr) -> ck.CheckResult:
    vals = {**_lam3_values(), N: _N3}
    zk = explicit(kappa * (1 - df1(kappa) / N), D3).subs(vals)
    g_k = sp.lambdify(kappa, dg.subs(vals).subs(z, zk) * sp.diff(zk, kappa), "mpmath")
    with mpmath.workdps(30):
        val = -mpmath.quad(g_k, [0, 1, 10, mpmath.inf])
        want = ck.evaluate(expected.subs(d, D3).subs(N, _N3) + kappa * 0, {kappa: 1}, dps=30)
    return ck.numeric_value(val, want, rtol=1e-20, dps=30)


def _first_order_wishart_check(exact: sp.Expr, limit: sp.Expr, first: sp.Expr) -> ck.CheckResult:
    qv = mpmath.mpf(2) / 5
    f = {}
    for dv in (1000, 2000):
        Nv = int(dv / qv)
        with mpmath.workdps(50):
            f[dv] = dv * (_eval_law(exact, dv, Nv) - ck.evaluate(limit, {qr: qv}))
    with mpmath.workdps(50):
        extrap = 2 * f[2000] - f[1000]
        want = ck.evaluate(first * d, {qr: qv, d: 1})
    r = ck.numeric_value(extrap, want, rtol=1e-5)
    return ck.CheckResult("wishart first order", r.passed, r.detail + f" (d x difference: {mpmath.nstr(f[1000], 8)}, "
                          f"{mpmath.nstr(f[2000], 8)})", "limit")


def _remainder_order_check(exact: sp.Expr, limit: sp.Expr, first: sp.Expr) -> ck.CheckResult:
    res = []
    for dv in (100, 200):
        with mpmath.workdps(50):
            res.append(_eval_law(exact, dv, 2 * dv) - ck.evaluate(limit, {qr: mpmath.mpf(1) / 2})
                       - ck.evaluate(first, {qr: mpmath.mpf(1) / 2, d: dv}))
    ratio = res[0] / res[1]
    ok = abs(ratio - 4) < mpmath.mpf("0.2")
    return ck.predicate(ok, f"remainders {mpmath.nstr(res[0], 4)}, {mpmath.nstr(res[1], 4)} "
                        f"(d^2 x: {mpmath.nstr(res[0] * 100**2, 4)}, {mpmath.nstr(res[1] * 200**2, 4)}); ratio "
                        f"{mpmath.nstr(ratio, 5)} (4 for O(d^-2))", kind="series")


def _contour_check(transforms: dict, f, which: str, expected) -> ck.CheckResult:
    """-(1/2 pi i) oint f(w) dm(-w) dw around the DE support (d = 3 of _LAMS3, N = 7) by the trapezoidal
    rule on a circle in log w, kappa continued along it by Newton from the real root above the support."""
    vals = {**_lam3_values(), N: _N3}
    lam3 = [mpmath.mpf(sp.Rational(v).p) / sp.Rational(v).q for v in _LAMS3]
    with mpmath.workdps(30):
        Nm = mpmath.mpf(_N3)
        df = lambda k, p: mpmath.fsum((l / (l + k)) ** p for l in lam3)                 # noqa: E731
        zk = lambda k: k * (1 - df(k, 1) / Nm)                                           # noqa: E731
        dzk = lambda k: 1 - df(k, 2) / Nm                                                # noqa: E731
        # edges: kappa* with df2(kappa*) = N in (-lambda_min, 0) and below -lambda_max
        k_lo = mpmath.findroot(lambda k: df(k, 2) - Nm, (-min(lam3) + mpmath.mpf("1e-12"), mpmath.mpf(0)), solver="anderson")
        k_hi = mpmath.findroot(lambda k: df(k, 2) - Nm, (-max(lam3) * 3, -max(lam3) - mpmath.mpf("1e-12")), solver="anderson")
        s_lo, s_hi = -zk(k_lo), -zk(k_hi)
        # a circle in u = log w around [log s_lo, log s_hi] (|Im u| < pi: w never crosses the negative axis)
        uc, half = (mpmath.log(s_lo) + mpmath.log(s_hi)) / 2, (mpmath.log(s_hi) - mpmath.log(s_lo)) / 2
        rad = min(half + 1, 3)
        m_fn = sp.lambdify((kappa, z), transforms[which].subs(vals), "mpmath")
        M = 512
        w0 = mpmath.exp(uc + rad)                                                        # real, above the support
        k = mpmath.findroot(lambda kk: zk(kk) + w0, k_hi - 1, solver="newton")
        total = mpmath.mpc(0)
        for j in range(M):
            th = 2 * mpmath.pi * j / M
            w = mpmath.exp(uc + rad * mpmath.expj(th))
            for _ in range(60):                                                          # Newton from the previous point
                step = (zk(k) + w) / dzk(k)
                k -= step
                if abs(step) < mpmath.mpf(10) ** -28:
                    break
            dw = w * 1j * rad * mpmath.expj(th) * 2 * mpmath.pi / M                     # dw = w du
            total += f(w) * m_fn(k, -w) * dw
        val = -total / (2j * mpmath.pi)
        qv = mpmath.mpf(D3) / _N3
        want = expected(qv, Nm, D3)
    ok = abs(val.imag) < mpmath.mpf("1e-20") and abs(val.real - want) <= mpmath.mpf("1e-18") * max(1, abs(want))
    return ck.predicate(ok, f"contour {mpmath.nstr(val.real, 18)} (imag {mpmath.nstr(val.imag, 2)}) vs {mpmath.nstr(want, 18)}",
                        kind="numeric")
