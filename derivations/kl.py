"""Gaussian KL divergences, the Wishart digamma law and its large-N / Marchenko-Pastur limits."""

from __future__ import annotations

import functools

import mpmath
import sympy as sp

from . import check as ck
from .losses import gaussian_expectation
from .symbols import N, d, i_, k_dof, qr, r, sM, u, x

ASSUMPTIONS = r"""
* $\mathrm{KL}(P\|Q) = E_P[\log p - \log q]$ for Gaussians $P = N(\mu_1, A)$, $Q = N(\mu_2, B)$;
  $E_P[x^\top Mx] = \mathrm{Tr}(MA)$ for centred $x$.
* A sampler reproducing $N(0, C)$ exactly: $\Sigma^{-1/2}C\Sigma^{-1/2} = W/N$, $W\sim\mathrm{Wishart}_d(N, I)$, $N\ge d$.
* Bartlett decomposition: $\det W = \prod_{i=1}^d \chi^2_{N-i+1}$ (independent); the Schur complement
  $1/(W^{-1})_{11}\sim\chi^2_{N-d+1}$, so $E\,W^{-1} = I/(N-d-1)$ for $N > d+1$ (standard Wishart facts).
* Proportional limit: $d, N\to\infty$, $q = d/N < 1$; the Riemann sum $\frac1d\sum_{i}\log(1-i/N)\to\frac1q\int_0^q\log(1-u)\,du$.
"""


def _sym2(name: str) -> sp.Matrix:
    e = sp.symbols(f"{name}_11 {name}_12 {name}_22", real=True)
    return sp.Matrix([[e[0], e[1]], [e[1], e[2]]])


@functools.lru_cache(maxsize=None)
def build() -> ck.Derivation:
    D = ck.Derivation("kl", "Gaussian KL and the d/(4N) law", ASSUMPTIONS)
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
