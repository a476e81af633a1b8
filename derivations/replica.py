"""Deterministic equivalent of the sample-covariance resolvent from a replica saddle point.

We derive, for ``C = X X^T / N`` with ``x ~ N(0, Sigma)``, ``Sigma = diag(lambda_1..lambda_d)``,
the self-consistent equation ``z = kappa (1 - df1(kappa)/N)``, its derivative
``kappa'(z) = 1/(1 - df2/N)``, the traces ``g, h, (1/d) Tr Sigma^-1 R`` and their derivatives,
the isotropic (Marchenko-Pastur) case and the atoms at ``s = 0`` for ``N < d``.

Besides :func:`build`, the module offers mpmath reference solvers (:func:`kappa_reference`,
:func:`kappa_prime_reference`) obtained by lambdifying the *derived* expressions; the tests
compare them with the C++ kernel at 1e-12.
"""

from __future__ import annotations

import functools
from typing import Sequence

import mpmath
import sympy as sp

from . import check as ck
from .symbols import N, d, df1, df2, eigen_symbols, explicit, gam, kappa, kappa0, lam, nu, qhat, qq, z

D3 = 3  # size of the concrete spectrum used for numeric checks

ASSUMPTIONS = r"""
* Data: columns of $X \in \mathbb{R}^{d\times N}$ i.i.d. $N(0,\Sigma)$, $\Sigma=\mathrm{diag}(\lambda_\nu)$, $C = XX^\top/N$.
* Resolvent $R = (C + zI)^{-1}$, $z>0$; $d, N \to \infty$ with $d/N$ fixed (deterministic-equivalent limit).
* Replica-symmetric ansatz with $n \to 0$ replicas; the order parameter
  $q = \phi^\top\Sigma\phi$ is replica-diagonal (no coupling between replicas for a log-determinant).
* Gaussian identity used once per sample: $E_x \exp(-\tfrac{1}{2N}(x^\top\phi)^2) = (1 + \phi^\top\Sigma\phi/N)^{-1/2}$.
* A source $\varepsilon A$ with $A = \mathrm{diag}(a_\nu)$ (commuting with $\Sigma$) gives traces $\mathrm{Tr}(AR)$
  as $\partial_\varepsilon \log\det(C + z + \varepsilon A)$ at $\varepsilon = 0$.
"""

a_src = sp.IndexedBase("a")
epsr = sp.Symbol("varepsilon", real=True)
kp = sp.Symbol("kappa'", positive=True)  # kappa'(z) as a plain symbol
F1 = sp.Symbol("F_1", positive=True)      # stand-in for df1(kappa)


def _unique(sols: list) -> sp.Expr:
    return sols[0] if len(sols) == 1 else sp.nan


def _summand(e: sp.Sum) -> sp.Expr:
    return e.function


@functools.lru_cache(maxsize=None)
def build() -> ck.Derivation:
    D = ck.Derivation("replica", "Replica saddle point and the deterministic equivalent", ASSUMPTIONS,
                      intro="Derivation of $z=\\kappa(1-\\mathrm{df}_1(\\kappa)/N)$ and of the resolvent traces "
                            "from the replica-symmetric action; every step is checked at $d=3$ numerically "
                            "(50 digits) and, where SymPy can, symbolically for any $d$.")
    lam3 = eigen_symbols(D3)

    # ---------------------------------------------------------------- action
    Phi = D.step(
        "action", "Replica-symmetric action",
        N * sp.log(1 + qq / N) - qq * qhat + sp.Sum(sp.log(z + epsr * a_src[nu] + qhat * lam[nu]), (nu, 1, d)),
        r"$\log\det(C+z+\varepsilon A) \asymp \mathrm{extr}_{q,\hat q}\,\Phi$ up to constants. It comes from "
        r"$\det(C+z+\varepsilon A)^{-n/2} = \int\prod_a d\phi_a\, e^{-\frac12\sum_a\phi_a^\top(C+z+\varepsilon A)\phi_a}$, "
        r"the Gaussian average over each of the $N$ samples ($N\log(1+q/N)$), a Fourier representation "
        r"of $\delta(q-\phi^\top\Sigma\phi)$ ($-q\hat q$) and the remaining Gaussian integral over $\phi$ "
        r"($\sum_\nu\log(z+\varepsilon a_\nu+\hat q\lambda_\nu)$).")
    Phi0 = Phi.subs(epsr, 0)
    D.check("action", "per-sample Gaussian average E exp(-p u^2/2) = (1 + p Var u)^(-1/2)", _gauss_avg_check)

    # ---------------------------------------------------------------- saddle-point equations
    E_q = D.step("dPhi_dq", "Saddle-point equation in q", sp.diff(Phi0, qq),
                 r"$\partial\Phi/\partial q = 0$.")
    E_qh = D.step("dPhi_dqhat", "Saddle-point equation in qhat", sp.diff(Phi0, qhat),
                  r"$\partial\Phi/\partial\hat q = 0$.")
    D.check("dPhi_dqhat", "equals -q + sum lambda/(z + qhat lambda)", ck.symbolic_equal,
            lhs=E_qh, rhs=-qq + sp.Sum(lam[nu] / (z + qhat * lam[nu]), (nu, 1, d)))
    qhat_of_q = 1 / (1 + qq / N)
    D.check("dPhi_dq", "solves to qhat = 1/(1 + q/N)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: _unique(sp.solve(sp.Eq(E_q, 0), qhat))), rhs=qhat_of_q)

    # substitute qhat = z / kappa (definition of kappa) in the qhat equation, summand by summand
    summand = _summand(E_qh.args[1] if isinstance(E_qh.args[1], sp.Sum) else [a for a in E_qh.args if isinstance(a, sp.Sum)][0])
    summand_k = D.step("summand", "Summand of the qhat equation at qhat = z/kappa",
                       sp.cancel(summand.subs(qhat, z / kappa)),
                       r"Define $\kappa = z/\hat q$. Then $q = \sum_\nu \lambda_\nu/(z+\hat q\lambda_\nu) = (\kappa/z)\,\mathrm{df}_1(\kappa)$.")
    D.check("summand", "equals (kappa/z) lambda/(lambda + kappa)", ck.symbolic_equal,
            lhs=summand_k, rhs=kappa / z * lam[nu] / (lam[nu] + kappa))
    # q equation -> q = kappa F1 / z, then qhat equation solved for z
    z_of_kappa = D.step("z_of_kappa", "Self-consistent equation",
                        kappa * (1 - df1(kappa) / N),
                        r"Eliminating $q$ and $\hat q$: $z = \kappa\,(1-\mathrm{df}_1(\kappa)/N)$.")
    D.check("z_of_kappa", "sympy.solve of the eliminated equations gives it (df1 -> F_1)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: _unique(sp.solve(sp.Eq(qhat_of_q.subs(qq, kappa * F1 / z), z / kappa), z))),
            rhs=kappa * (1 - F1 / N))
    # numeric: both saddle equations vanish at d=3 at the derived solution
    sol_subs = {qhat: z / kappa, qq: kappa * df1(kappa) / z}
    res_q = ck.Lazy(lambda: explicit(E_q.subs(sol_subs), D3).subs(z, explicit(z_of_kappa, D3)))
    res_qh = ck.Lazy(lambda: explicit(E_qh.subs(sol_subs), D3).subs(z, explicit(z_of_kappa, D3)))
    D.check("z_of_kappa", "dPhi/dq = 0 at the solution (d=3, numeric)", ck.numeric_equal, lhs=res_q, rhs=0,
            atol=1e-40)
    D.check("z_of_kappa", "dPhi/dqhat = 0 at the solution (d=3, numeric)", ck.numeric_equal, lhs=res_qh, rhs=0,
            atol=1e-40)
    D.check("z_of_kappa", "dPhi/dq = 0 at the solution (d=3, symbolic)", ck.symbolic_equal, lhs=res_q, rhs=0,
            simplifier=sp.cancel)
    D.check("z_of_kappa", "N -> oo: kappa = z (no renormalisation)", ck.limit_equal,
            expr=ck.Lazy(lambda: explicit(z_of_kappa, 2)), var=N, point=sp.oo, expected=kappa)

    # ---------------------------------------------------------------- traces by the envelope theorem
    trAR = D.step("trAR", "Tr(A R) from the source",
                  sp.diff(Phi, epsr).subs(epsr, 0).subs(qhat, z / kappa),
                  r"$\mathrm{Tr}(AR) = \partial_\varepsilon\Phi|_{\varepsilon=0}$ at the saddle point (envelope theorem), "
                  r"hence $R \asymp (\kappa/z)(\Sigma+\kappa)^{-1}$ on diagonal observables.")
    D.check("trAR", "summand equals (kappa/z) a/(lambda + kappa)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: sp.simplify(trAR.function)), rhs=kappa / z * a_src[nu] / (lam[nu] + kappa))
    # envelope: total derivative of the saddle value equals the partial one (tests the saddle point)
    zk3_ = lambda: explicit(z_of_kappa, D3)
    D.check("trAR", "envelope: d(Phi*)/dz along the saddle = Tr R (d=3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: sp.diff(explicit(Phi0.subs(sol_subs), D3).subs(z, zk3_()), kappa) / sp.diff(zk3_(), kappa)),
            rhs=ck.Lazy(lambda: explicit(sp.Sum(kappa / z / (lam[nu] + kappa), (nu, 1, d)), D3).subs(z, zk3_())))

    def with_source(a_expr):
        return sp.Sum(trAR.function.subs(a_src[nu], a_expr), trAR.limits[0])

    g = D.step("g", "g = (1/d) Tr R", (1 - df1(kappa) / d) / z,
               r"$A = I/d$: $g = \frac{\kappa}{zd}\sum_\nu (\lambda_\nu+\kappa)^{-1} = (1-\mathrm{df}_1/d)/z$.")
    D.check("g", "equals (kappa/(z d)) sum 1/(lambda + kappa) (d=3)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: explicit(g, D3)), rhs=ck.Lazy(lambda: explicit(with_source(1) / d, D3)), simplifier=sp.cancel)
    h = D.step("h", "h = (1/d) Tr Sigma R", N / d * (kappa / z - 1),
               r"$A = \Sigma/d$: $h = \kappa\,\mathrm{df}_1/(zd)$, and with the saddle equation "
               r"$\mathrm{df}_1 = N(1 - z/\kappa)$: $h = (N/d)(\kappa/z - 1)$.")
    D.check("h", "equals kappa df1/(z d) on the saddle (d=3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: explicit(h, D3).subs(z, zk3_())),
            rhs=ck.Lazy(lambda: explicit(with_source(lam[nu]) / d, D3).subs(z, zk3_())))
    D.check("h", "symbolic: N/d (kappa/z - 1) - kappa F1/(z d) = 0 at z = kappa(1 - F1/N)", ck.symbolic_equal,
            lhs=(N / d * (kappa / z - 1)).subs(z, kappa * (1 - F1 / N)),
            rhs=(kappa * F1 / (z * d)).subs(z, kappa * (1 - F1 / N)))
    ginv = D.step("trSinvR", "(1/d) Tr Sigma^-1 R", kappa / (z * d) * sp.Sum(1 / (lam[nu] * (lam[nu] + kappa)), (nu, 1, d)),
                  r"$A = \Sigma^{-1}/d$.")
    D.check("trSinvR", "from the source with a = 1/lambda (d=3)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: explicit(ginv, D3)), rhs=ck.Lazy(lambda: explicit(with_source(1 / lam[nu]) / d, D3)),
            simplifier=sp.cancel)

    # ---------------------------------------------------------------- kappa'(z)
    dz_dk = sp.diff(z_of_kappa, kappa)
    kprime = D.step("kappa_prime", "kappa'(z) by implicit differentiation", 1 / (1 - df2(kappa) / N),
                    r"$dz/d\kappa = 1 - \frac1N\sum_\nu\frac{d}{d\kappa}\frac{\kappa\lambda_\nu}{\lambda_\nu+\kappa}"
                    r" = 1 - \mathrm{df}_2/N$, so $\kappa'(z) = 1/(1-\mathrm{df}_2(\kappa)/N)$.")
    D.check("kappa_prime", "d/dkappa [kappa lambda/(lambda+kappa)] = lambda^2/(lambda+kappa)^2", ck.symbolic_equal,
            lhs=sp.diff(kappa * lam[nu] / (lam[nu] + kappa), kappa), rhs=lam[nu] ** 2 / (lam[nu] + kappa) ** 2)
    D.check("kappa_prime", "1/(dz/dkappa) (d=3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: 1 / explicit(dz_dk, D3)), rhs=ck.Lazy(lambda: explicit(kprime, D3)))

    # ---------------------------------------------------------------- derivatives of the traces
    K = sp.Function("kappa")(z)
    gK = (1 - df1(K) / d) / z
    dg = sp.diff(gK, z).subs(sp.Derivative(K, z), kp).subs(K, kappa)
    gprime = D.step("g_prime", "g'(z)", -(1 - df1(kappa) / d) / z**2 + (df1(kappa) - df2(kappa)) * kp / (z * d * kappa),
                    r"Chain rule with $\kappa'(z)$; $(\mathrm{df}_1-\mathrm{df}_2)/\kappa = \sum_\nu\lambda_\nu/(\lambda_\nu+\kappa)^2$.")
    D.check("g_prime", "chain rule of g(kappa(z)) (d=3, symbolic)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: explicit(dg, D3)), rhs=ck.Lazy(lambda: explicit(gprime, D3)), simplifier=sp.cancel)
    D.check("g_prime", "dg/dkappa / (dz/dkappa) on the saddle (d=3, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: sp.diff(explicit(g, D3).subs(z, zk3_()), kappa) / sp.diff(zk3_(), kappa)),
            rhs=ck.Lazy(lambda: explicit(gprime, D3).subs(kp, 1 / sp.diff(zk3_(), kappa)).subs(z, zk3_())))
    mhprime = D.step("minus_h_prime", "-h'(z)", N / d * (kappa - z * kp) / z**2, r"$-h' = (N/d)(\kappa - z\kappa')/z^2$.")
    D.check("minus_h_prime", "-(d/dz) of h(kappa(z))", ck.symbolic_equal,
            lhs=-sp.diff((N / d * (K / z - 1)), z).subs(sp.Derivative(K, z), kp).subs(K, kappa), rhs=mhprime)

    # ---------------------------------------------------------------- isotropic case
    iso = sp.expand((z - kappa * (1 - gam / (1 + kappa))) * (1 + kappa))
    quad = D.step("iso_quadratic", "Isotropic spectrum: a quadratic",
                  sp.Eq(kappa**2 + (1 - gam - z) * kappa - z, 0),
                  r"$\lambda_\nu = 1$, $\gamma = d/N$: $\mathrm{df}_1 = d/(1+\kappa)$ and "
                  r"$(1+\kappa)[z-\kappa(1-\gamma/(1+\kappa))] = -(\kappa^2+(1-\gamma-z)\kappa-z)$.")
    D.check("iso_quadratic", "(1+kappa) x equation = -quadratic", ck.symbolic_equal,
            lhs=iso, rhs=-quad.lhs, simplifier=lambda e: sp.expand(sp.cancel(e)))
    D.check("iso_quadratic", "df1 with lambda = 1 is d/(1+kappa) (any d)", ck.symbolic_equal,
            lhs=sp.Sum(df1(kappa).function.subs(lam[nu], 1), (nu, 1, d)).doit(), rhs=d / (1 + kappa))
    roots_ = lambda: sp.solve(quad, kappa)
    k_iso = D.step("iso_kappa", "Physical root", (z + gam - 1 + sp.sqrt((z + gam - 1) ** 2 + 4 * z)) / 2,
                   r"The product of the roots is $-z<0$: exactly one root is positive.")
    D.check("iso_kappa", "is a root of the quadratic", ck.symbolic_equal, lhs=quad.lhs.subs(kappa, k_iso), rhs=0,
            simplifier=lambda e: sp.expand(e))
    D.check("iso_kappa", "is one of sympy.solve's roots", lambda: ck.predicate(
        any(sp.simplify(rt - k_iso) == 0 for rt in roots_()), f"roots {roots_()}"))
    D.check("iso_kappa", "product of the roots = -z", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: sp.Mul(*roots_())), rhs=-z, simplifier=sp.expand)
    D.check("iso_kappa", "gamma -> 0: kappa -> z", ck.limit_equal, expr=k_iso, var=gam, point=0, expected=z)
    D.check("iso_kappa", "z -> 0 with gamma > 1: kappa_0 = gamma - 1", ck.limit_equal,
            expr=k_iso.subs(gam, 1 + sp.Symbol("delta", positive=True)), var=z, point=0,
            expected=sp.Symbol("delta", positive=True))
    g_iso = D.step("iso_g", "Marchenko-Pastur Stieltjes transform", kappa / ((1 + kappa) * z),
                   r"$g = (1-\mathrm{df}_1/d)/z = \kappa/((1+\kappa)z)$; it solves "
                   r"$\gamma z g^2 + (z+1-\gamma) g - 1 = 0$, the MP equation for $\int\rho(s)\,ds/(s+z)$.")
    mp_eq = (gam * z * g_iso**2 + (z + 1 - gam) * g_iso - 1).subs(kappa, k_iso)
    D.check("iso_g", "satisfies the MP quadratic (symbolic)", ck.symbolic_equal, lhs=mp_eq, rhs=0,
            simplifier=lambda e: sp.simplify(sp.radsimp(sp.together(e))))
    D.check("iso_g", "satisfies the MP quadratic (numeric)", ck.numeric_equal, lhs=mp_eq, rhs=0, atol=1e-40)
    D.check("iso_g", "equals the integral of the MP density against 1/(s+z) (quadrature, gamma<1)",
            _mp_density_check, fast=False)

    # ---------------------------------------------------------------- atoms at 0 for N < d
    zk = z_of_kappa
    atom_g = D.step("atom_rho", "Atom of rho at s = 0", sp.Eq(sp.Symbol(r"\rho\{0\}"), 1 - N / d),
                    r"$\rho\{0\} = \lim_{z\to0} z g = 1 - \mathrm{df}_1(\kappa_0)/d$ with $\mathrm{df}_1(\kappa_0)=N$.")
    atom_S = D.step("atom_rhoSigma", "Atom of rho_Sigma at 0", sp.Eq(sp.Symbol(r"\rho_\Sigma\{0\}"), N / d * kappa0),
                    r"$\lim_{z\to0} z h = (N/d)(\kappa_0 - 0)$.")
    atom_Si = D.step("atom_rhoSigmaInv", "Atom of rho_Sigma^-1 at 0",
                     sp.Eq(sp.Symbol(r"\rho_{\Sigma^{-1}}\{0\}"), kappa0 / d * sp.Sum(1 / (lam[nu] * (lam[nu] + kappa0)), (nu, 1, d))),
                     r"$\lim_{z\to0} z\,\frac1d\mathrm{Tr}\,\Sigma^{-1}R$.")
    for key, tr, val in (("atom_rho", g, atom_g.rhs), ("atom_rhoSigma", h, atom_S.rhs),
                         ("atom_rhoSigmaInv", ginv, atom_Si.rhs)):
        D.check(key, "z * trace -> atom as z -> 0 (d=3, N=2, numeric at kappa = kappa_0 + 1e-30)",
                _atom_check, trace=tr, atom=val, fast=True)
    D.set_slow(
        'solves to qhat = 1/(1 + q/N)',
        'per-sample Gaussian average',
        'sympy.solve of the eliminated',
        'dPhi/dqhat = 0 at the solution (d=3, numeric)',
        'dPhi/dq = 0 at the solution (d=3, symbolic)',
        'envelope:',
        'equals kappa df1/(z d)',
        'from the source with a = 1/lambda',
        'chain rule of g(kappa(z))',
        'dg/dkappa / (dz/dkappa)',
        'is one of sympy.solve',
        'product of the roots',
        'gamma -> 0: kappa -> z',
        'satisfies the MP quadratic (symbolic)',
    )
    return D


# ------------------------------------------------------------------ numeric helpers
def _gauss_avg_check() -> ck.CheckResult:
    """E_u exp(-p u^2/2) for u ~ N(0, s^2), by SymPy integration."""
    xg, sg, pv = sp.Symbol("x", real=True), sp.Symbol("s_x", positive=True), sp.Symbol("p", positive=True)
    avg = sp.integrate(sp.exp(-(pv + 1 / sg**2) * xg**2 / 2), (xg, -sp.oo, sp.oo)) / sp.sqrt(2 * sp.pi * sg**2)
    return ck.symbolic_equal(avg, (1 + pv * sg**2) ** sp.Rational(-1, 2))


_ATOM_LAMS = (sp.Rational(3, 2), sp.Rational(7, 10), sp.Rational(4, 5))


def _atom_check(trace: sp.Expr, atom: sp.Expr) -> ck.CheckResult:
    """z * trace at kappa = kappa_0 + delta (delta = 1e-30), with df1(kappa_0) = N = 2 < d = 3."""
    lam3 = eigen_symbols(D3)
    vals = dict(zip(lam3, _ATOM_LAMS))
    Nv = 2
    with mpmath.workdps(60):
        f = sp.lambdify(kappa, explicit(df1(kappa), D3).subs(vals) - Nv, "mpmath")
        k0 = mpmath.findroot(f, mpmath.mpf("0.5"))
        kv = k0 + mpmath.mpf("1e-30")
        zk = explicit(kappa * (1 - df1(kappa) / N), D3).subs(vals).subs(N, Nv)
        zz = ck.evaluate(zk, {kappa: kv}, dps=60)
        tr = explicit(trace, D3).subs(vals).subs(N, Nv)
        lhs = zz * ck.evaluate(tr, {kappa: kv, z: zz}, dps=60)
        rhs = ck.evaluate(explicit(atom, D3).subs(vals).subs(N, Nv), {kappa0: k0}, dps=60)
    return ck.numeric_value(lhs, rhs, rtol=1e-25, name="atom")


def _mp_density_check() -> ck.CheckResult:
    gv, zv = mpmath.mpf("0.37"), mpmath.mpf("0.29")
    with mpmath.workdps(30):
        sm, sp_ = (1 - mpmath.sqrt(gv)) ** 2, (1 + mpmath.sqrt(gv)) ** 2
        rho = lambda x: mpmath.sqrt((sp_ - x) * (x - sm)) / (2 * mpmath.pi * gv * x)
        mass = mpmath.quad(rho, [sm, 1, sp_])
        integral = mpmath.quad(lambda x: rho(x) / (x + zv), [sm, 1, sp_])
        kv = (zv + gv - 1 + mpmath.sqrt((zv + gv - 1) ** 2 + 4 * zv)) / 2
        gval = kv / ((1 + kv) * zv)
    r = ck.numeric_value(integral, gval, rtol=1e-20)
    ok = r.passed and abs(mass - 1) < mpmath.mpf("1e-20")
    return ck.CheckResult("mp density", ok, r.detail + f"; total mass {mpmath.nstr(mass, 22)}", "numeric")


# ------------------------------------------------------------------ reference solvers (tests use these)
@functools.lru_cache(maxsize=None)
def _z_and_dz(n: int):
    lam_n = eigen_symbols(n)
    zk = explicit(z_of_kappa_expr(), n)
    return lam_n, zk, sp.diff(zk, kappa)


def z_of_kappa_expr() -> sp.Expr:
    """The derived ``z(kappa) = kappa (1 - df1(kappa)/N)`` (symbolic d)."""
    return build().results["z_of_kappa"]


def kappa_prime_expr() -> sp.Expr:
    """The derived ``kappa'(z) = 1/(1 - df2(kappa)/N)`` (symbolic d)."""
    return build().results["kappa_prime"]


def _df_mp(lams: Sequence, k, power: int):
    return mpmath.fsum((l / (l + k)) ** power for l in lams)


def kappa_reference(zv, lams: Sequence[float], Nv: float, *, dps: int = 50, start=None):
    """Solve the derived self-consistent equation ``z = kappa (1 - df1(kappa)/N)`` in mpmath.

    For real ``z > 0`` the physical root is bracketed in ``[max(z, kappa_0), z + sum(lambda)/N]``
    and found by bisection-type iteration (unique there); for complex ``z`` Newton's method
    starts from ``start`` (or from the root at ``|z|``).

    The equation is the lambdified SymPy result of :func:`build` (``z_of_kappa``), evaluated
    as an mpmath sum for speed at large ``d``.

    Examples
    --------
    >>> from lindiff.derivations.replica import kappa_reference
    >>> k = kappa_reference(0.5, [1.0, 1.0], 4.0)       # isotropic: gamma = 1/2
    >>> import mpmath; mpmath.nstr(k, 12)
    '0.707106781187'
    """
    # the derived expression, checked against the sum form used here
    zk_sym = z_of_kappa_expr()
    assert sp.simplify(zk_sym - kappa * (1 - df1(kappa) / N)) == 0
    with mpmath.workdps(dps + 10):
        lams_m = [mpmath.mpf(l) for l in lams]
        Nm = mpmath.mpf(Nv)
        F = lambda k: k * (1 - _df_mp(lams_m, k, 1) / Nm)
        if isinstance(zv, complex) or isinstance(zv, mpmath.mpc):
            zc = mpmath.mpc(zv)
            k0 = mpmath.mpc(start) if start is not None else kappa_reference(abs(zc), lams, Nv, dps=dps)
            root = mpmath.findroot(lambda k: F(k) - zc, k0, solver="newton", tol=mpmath.mpf(10) ** (-dps))
            return +root
        zr = mpmath.mpf(zv)
        lo = zr
        if Nm < len(lams_m):
            k0 = mpmath.findroot(lambda k: _df_mp(lams_m, k, 1) - Nm,
                                 (mpmath.mpf(0) + mpmath.mpf(10) ** -30, mpmath.fsum(lams_m)), solver="anderson")
            lo = max(zr, k0)
        hi = zr + mpmath.fsum(lams_m) / Nm
        root = mpmath.findroot(lambda k: F(k) - zr, (lo, hi), solver="anderson", tol=mpmath.mpf(10) ** (-dps))
        return +root


def kappa_prime_reference(zv, lams: Sequence[float], Nv: float, *, dps: int = 50):
    """``kappa'(z) = 1/(1 - df2(kappa)/N)`` at the reference root (mpmath)."""
    with mpmath.workdps(dps + 10):
        k = kappa_reference(zv, lams, Nv, dps=dps)
        return 1 / (1 - _df_mp([mpmath.mpf(l) for l in lams], k, 2) / mpmath.mpf(Nv))
