"""Per-step objective, minimiser, test / train / data losses, and their deterministic equivalents.

Exact finite-d identities are checked with explicit 2 x 2 matrices (symbolic entries where SymPy
is quick, exact rationals otherwise); deterministic-equivalent expressions reuse the traces
derived in :mod:`lindiff.derivations.replica`.
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from . import check as ck
from . import replica
from .symbols import N, a, b, c, d, df1, kappa, kappa0, lam, nu, q_noise, w, z

ASSUMPTIONS = r"""
* Forward process $x_t = a x_0 + b\varepsilon$, $\varepsilon\sim N(0,I_d)$; model $\hat\varepsilon = W x_t$.
* Per-step objective $L(W) = \frac1N\sum_\mu E_\varepsilon\|\varepsilon - W(a x^\mu + b\varepsilon)\|^2 + c\|W\|_F^2$,
  noise averaged exactly; $C = \frac1N\sum_\mu x^\mu x^{\mu\top}$; $M = a^2C + (b^2+c)I$.
* Test loss: fresh $x_0\sim N(0,\Sigma)$ and $\varepsilon$; losses per dimension, without the penalty.
* Deterministic equivalents: $g = \frac1d\mathrm{Tr}R$, $h = \frac1d\mathrm{Tr}\Sigma R$ and their $z$-derivatives from
  the replica page; $q = b^2/a^2$, $z = (b^2+c)/a^2$.
"""

DIM = 2


def _msym(name: str, symmetric: bool = False) -> sp.Matrix:
    if symmetric:
        e = sp.symbols(f"{name}_11 {name}_12 {name}_22", real=True)
        return sp.Matrix([[e[0], e[1]], [e[1], e[2]]])
    return sp.Matrix(DIM, DIM, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def gaussian_expectation(expr: sp.Expr, xs: list[sp.Symbol], cov: sp.Matrix | None = None) -> sp.Expr:
    """E over a centred Gaussian vector ``xs`` (covariance ``cov``, identity by default) of a
    polynomial of degree <= 2 in ``xs`` (Isserlis' theorem at second order).

    Examples
    --------
    >>> import sympy as sp
    >>> e1, e2 = sp.symbols("e1 e2")
    >>> gaussian_expectation((1 + 3 * e1 + e2)**2, [e1, e2])
    11
    """
    cov = sp.eye(len(xs)) if cov is None else cov
    P = sp.Poly(sp.expand(expr), *xs)
    if P.total_degree() > 2:
        raise ValueError("gaussian_expectation: degree > 2 not supported")
    out = sp.S.Zero
    for mon, coeff in P.terms():
        if sum(mon) == 0:
            out += coeff
        elif sum(mon) == 2:
            idx = [i for i, k in enumerate(mon) for _ in range(k)]
            out += coeff * cov[idx[0], idx[1]]
    return out


@functools.lru_cache(maxsize=None)
def build() -> ck.Derivation:
    D = ck.Derivation("losses", "Objective, minimiser and losses", ASSUMPTIONS,
                      intro="From the per-sample objective to the closed forms of the spec (section 2) and "
                            "to the deterministic-equivalent losses (section 3).")
    I2 = sp.eye(DIM)
    W = _msym("W")
    Cm = _msym("C", symmetric=True)
    Sm = _msym("S", symmetric=True)
    xs = sp.Matrix(sp.symbols("x_1 x_2", real=True))
    es = list(sp.symbols("e_1 e_2", real=True))
    ev = sp.Matrix(es)

    # ------------------------------------------------------------ noise-averaged objective
    r = ev - W * (a * xs + b * ev)
    per_sample = ck.Lazy(lambda: gaussian_expectation((r.T * r)[0], es))
    Mm = a**2 * Cm + (b**2 + c) * I2
    L_expr = (I2 - 2 * b * W + W * Mm * W.T).trace()
    D.step("objective", "Noise-averaged per-step objective",
           sp.Eq(sp.Symbol("L(W)"), sp.Symbol(r"\mathrm{Tr}[I - 2bW + W M W^\top]")),
           r"$E_\varepsilon\|\varepsilon - W(ax+b\varepsilon)\|^2 = \mathrm{Tr}(I-bW)(I-bW)^\top + a^2 x^\top W^\top W x$; "
           r"averaging $xx^\top$ over the training set gives $C$, and $\mathrm{Tr}W = \mathrm{Tr}W^\top$.")
    D.check("objective", "per-sample expectation (2x2, symbolic)", ck.symbolic_equal,
            lhs=per_sample, rhs=((I2 - b * W) * (I2 - b * W).T).trace() + a**2 * (xs.T * W.T * W * xs)[0],
            simplifier=sp.expand)
    # average over samples: replace x x^T by C (the expression is linear in x_i x_j)
    avg = ck.Lazy(lambda: sp.expand(per_sample()).subs({xs[0] ** 2: Cm[0, 0], xs[1] ** 2: Cm[1, 1]})
                  .subs(xs[0] * xs[1], Cm[0, 1]) + c * (W * W.T).trace())
    D.check("objective", "sample average + penalty = Tr[I - 2bW + W M W^T] (2x2)", ck.symbolic_equal,
            lhs=avg, rhs=L_expr, simplifier=sp.expand)

    # ------------------------------------------------------------ gradient and minimiser
    D.step("gradient", "Gradient", sp.Eq(sp.Symbol(r"\nabla_W L"), sp.Symbol("-2bI + 2WM")),
           r"$\nabla_W L = -2bI + 2WM$ ($M$ symmetric).")
    D.check("gradient", "entrywise derivative (2x2)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: sp.Matrix(DIM, DIM, lambda i, j: sp.diff(L_expr, W[i, j]) - (-2 * b * I2 + 2 * W * Mm)[i, j]).norm(1)),
            rhs=0, simplifier=sp.expand)
    Wstar_ = lambda: b * Mm.inv()
    D.step("minimiser", "Minimiser", sp.Eq(sp.Symbol("W^*"), sp.Symbol(r"b M^{-1} = (b/a^2)(C + zI)^{-1}")),
           r"$\nabla L = 0 \Rightarrow W^* = bM^{-1}$; with $z = (b^2+c)/a^2$, $W^* = (b/a^2)(C+zI)^{-1}$.")
    D.check("minimiser", "gradient vanishes at b M^-1 (2x2)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: (-2 * b * I2 + 2 * Wstar_() * Mm).norm(1)), rhs=0, simplifier=sp.simplify)
    D.check("minimiser", "b M^-1 = (b/a^2)(C + zI)^-1 (2x2)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: (Wstar_() - b / a**2 * (Cm + (b**2 + c) / a**2 * I2).inv())[0, 1]), rhs=0, simplifier=sp.simplify)

    # ------------------------------------------------------------ losses with overlaps
    th = sp.Symbol("theta", real=True)
    V = sp.Matrix([[sp.cos(th), -sp.sin(th)], [sp.sin(th), sp.cos(th)]])
    w1, w2 = sp.symbols("w_1 w_2", real=True)
    Wd = V * sp.diag(w1, w2) * V.T
    x0 = sp.Matrix(sp.symbols("y_1 y_2", real=True))
    test_ps = ck.Lazy(lambda: gaussian_expectation(((ev - Wd * (a * x0 + b * ev)).T * (ev - Wd * (a * x0 + b * ev)))[0],
                                   es + list(x0), cov=sp.diag(sp.eye(2), Sm)))
    o_i = [(V[:, i].T * Sm * V[:, i])[0] for i in range(2)]
    Ltest_ov = D.step("test_loss_overlaps", "Test loss of a W diagonal in C's eigenbasis",
                      sp.Sum((1 - b * sp.Indexed("w", sp.Symbol("i"))) ** 2
                             + a**2 * sp.Indexed("w", sp.Symbol("i")) ** 2 * sp.Indexed("o", sp.Symbol("i")),
                             (sp.Symbol("i"), 1, d)) / d,
                      r"$L_{test} = \frac1d\sum_i[(1-bw_i)^2 + a^2w_i^2 o_i]$, $o_i = v_i^\top\Sigma v_i$; the train loss "
                      r"replaces $o_i$ by $s_i$.")
    D.check("test_loss_overlaps", "E over x0 ~ N(0,S), eps, with a rotated eigenbasis (2x2, numeric)", ck.numeric_equal,
            lhs=test_ps, rhs=sum((1 - b * wi) ** 2 + a**2 * wi**2 * oi for wi, oi in zip((w1, w2), o_i)),
            domain={Sm[0, 0]: (2, 3), Sm[1, 1]: (2, 3), Sm[0, 1]: (-1, 1)})

    # ------------------------------------------------------------ population optimum and excess loss
    Lopt = D.step("population_optimum", "Population optimum per eigen-direction",
                  a**2 * lam[nu] / (a**2 * lam[nu] + b**2),
                  r"$W_{ref} = b(a^2\Sigma+b^2)^{-1}$: $w = b/(a^2\lambda+b^2)$ gives "
                  r"$(1-bw)^2 + a^2w^2\lambda = a^2\lambda/(a^2\lambda+b^2)$.")
    wref = b / (a**2 * lam[nu] + b**2)
    D.check("population_optimum", "per-direction loss at w_ref", ck.symbolic_equal,
            lhs=(1 - b * wref) ** 2 + a**2 * wref**2 * lam[nu], rhs=Lopt)
    D.check("population_optimum", "w_ref minimises (1-bw)^2 + a^2 w^2 lambda", ck.symbolic_equal,
            lhs=sp.solve(sp.diff((1 - b * w) ** 2 + a**2 * w**2 * lam[nu], w), w)[0], rhs=wref)
    Sx = a**2 * Sm + b**2 * I2
    Wref_ = lambda: b * Sx.inv()
    Lpop = lambda WW: (I2 - 2 * b * WW + WW * Sx * WW.T).trace()
    D.step("excess_loss", "Excess test loss = distance to the reference denoiser",
           sp.Eq(sp.Symbol(r"E\|(W - W_{ref})x_t\|^2"), sp.Symbol(r"d\,[L_{test}(W) - L_{test}(W_{ref})]")),
           r"With $S = a^2\Sigma + b^2I$: $L(W) - L(W_{ref}) = \mathrm{Tr}[(W - bS^{-1})S(W-bS^{-1})^\top]$.")
    D.check("excess_loss", "identity for a general 2x2 W (numeric)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: Lpop(W) - Lpop(Wref_())), rhs=ck.Lazy(lambda: ((W - Wref_()) * Sx * (W - Wref_()).T).trace()),
            domain={Sm[0, 0]: (2, 3), Sm[1, 1]: (2, 3), Sm[0, 1]: (-1, 1)})

    # ------------------------------------------------------------ static losses via traces (exact, finite d)
    D.step("static_test_loss", "Static test loss through resolvent traces",
           sp.Eq(sp.Symbol("L_test"), 1 - 2 * q_noise * sp.Symbol("g") - q_noise**2 * sp.Symbol("g'") + q_noise * sp.Symbol("(-h')")),
           r"$bW^* = qR$ and $a^2W^*\Sigma W^* = qR\Sigma R$; $\frac1d\mathrm{Tr}R^2 = -g'$, "
           r"$\frac1d\mathrm{Tr}R\Sigma R = -h'$ (exact at finite $d$, hence also for the deterministic equivalents).")
    D.step("static_train_loss", "Static train loss through resolvent traces",
           sp.Eq(sp.Symbol("L_train"), 1 - 2 * q_noise * sp.Symbol("g") - q_noise**2 * sp.Symbol("g'")
                 + q_noise * (sp.Symbol("g") + z * sp.Symbol("g'"))),
           r"$\Sigma\to C$ and $RC = I - zR$: $\frac1d\mathrm{Tr}RCR = g + zg'$.")
    D.check("static_test_loss", "exact at finite d with rational 3x3 C, Sigma", _trace_loss_check, train=False)
    D.check("static_train_loss", "exact at finite d with rational 3x3 C", _trace_loss_check, train=True)

    # ------------------------------------------------------------ c = 0 identity
    gsym, gp = sp.symbols("g g'")
    Ltr_c0 = (1 - 2 * q_noise * gsym - q_noise**2 * gp + q_noise * (gsym + z * gp)).subs(z, q_noise)
    ident = D.step("train_c0", "c = 0: L_train = df1(kappa(q))/d",
                   sp.Eq(sp.Symbol("L_train"), df1(kappa) / d),
                   r"At $c=0$, $z=q$: $L_{train} = 1 - qg$, and $g = (1-\mathrm{df}_1/d)/q$ gives "
                   r"$\mathrm{df}_1(\kappa(q))/d$: the population loss $\frac1d\sum_\nu\lambda_\nu/(\lambda_\nu+\kappa)$ "
                   r"at the renormalised noise level $\kappa > q$.")
    D.check("train_c0", "L_train(z = q) = 1 - q g", ck.symbolic_equal, lhs=Ltr_c0, rhs=1 - q_noise * gsym,
            simplifier=sp.expand)
    D.check("train_c0", "1 - q g with the DE g equals df1/d", ck.symbolic_equal,
            lhs=(1 - q_noise * replica.build().results["g"].subs(z, q_noise)), rhs=ident.rhs)
    D.check("train_c0", "population loss a^2 lambda/(a^2 lambda + b^2) = lambda/(lambda + q)", ck.symbolic_equal,
            lhs=Lopt, rhs=lam[nu] / (lam[nu] + b**2 / a**2))

    # ------------------------------------------------------------ data losses
    eps_hat = sp.Symbol(r"\hat\varepsilon", real=True)
    x0s, es1 = sp.symbols("x_0 varepsilon", real=True)
    xt = a * x0s + b * es1
    x0hat = (xt - b * eps_hat) / a
    D.step("data_from_noise", "Data loss from the noise predictor",
           sp.Eq(sp.Symbol("L_data"), b**2 / a**2 * sp.Symbol("L_noise")),
           r"$\hat x_0 = (x_t - b\hat\varepsilon)/a \Rightarrow x_0 - \hat x_0 = -(b/a)(\varepsilon - \hat\varepsilon)$.")
    D.check("data_from_noise", "x0 - x0_hat = -(b/a)(eps - eps_hat)", ck.symbolic_equal,
            lhs=x0s - x0hat, rhs=-(b / a) * (es1 - eps_hat))
    U = _msym("U")
    xv = sp.Matrix(sp.symbols("y_1 y_2", real=True))
    res = xv - U * (a * xv + b * ev)

    def data_grad_at_ustar():
        data_obj = gaussian_expectation((res.T * res)[0], es)
        data_avg = sp.expand(data_obj).subs({xv[0] ** 2: Cm[0, 0], xv[1] ** 2: Cm[1, 1]}).subs(xv[0] * xv[1], Cm[0, 1])
        data_avg = data_avg + c * (U * U.T).trace()
        Ustar = a * Cm * (a**2 * Cm + (b**2 + c) * I2).inv()
        gradU = sp.Matrix(DIM, DIM, lambda i, j: sp.diff(data_avg, U[i, j]))
        return gradU.subs(dict(zip(U, Ustar))).norm(1)

    D.step("data_minimiser", "Ridge data predictor",
           sp.Eq(sp.Symbol("U^*"), sp.Symbol(r"aC(a^2C + (b^2+c)I)^{-1}")),
           r"$\nabla_U\{\mathrm{Tr}[C - 2aUC + U(a^2C+b^2)U^\top] + c\|U\|^2\} = 0$.")
    D.check("data_minimiser", "gradient vanishes at U* (2x2, numeric)", ck.numeric_equal,
            lhs=ck.Lazy(data_grad_at_ustar), rhs=0, atol=1e-40,
            domain={Cm[0, 0]: (2, 3), Cm[1, 1]: (2, 3), Cm[0, 1]: (-1, 1)})
    D.step("data_loss", "Data loss of a data predictor",
           sp.Eq(sp.Symbol("L_data(U)"), sp.Symbol(r"\frac1d\{\mathrm{Tr}[(I-aU)\Sigma(I-aU)^\top] + b^2\mathrm{Tr}UU^\top\}")),
           r"$x_0 - U x_t = (I - aU)x_0 - bU\varepsilon$ with independent $x_0$, $\varepsilon$.")
    D.check("data_loss", "Gaussian expectation (2x2, symbolic)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: gaussian_expectation(((x0 - U * (a * x0 + b * ev)).T * (x0 - U * (a * x0 + b * ev)))[0],
                                                     es + list(x0), cov=sp.diag(sp.eye(2), Sm))),
            rhs=((I2 - a * U) * Sm * (I2 - a * U).T).trace() + b**2 * (U * U.T).trace(), simplifier=sp.expand)

    # ------------------------------------------------------------ null space (N < d)
    m0 = b**2 + c
    w0 = D.step("null_w", "Minimiser in C's null space", b / m0, r"$s = 0$: $m = b^2 + c$, $w = b/(b^2+c)$; "
                r"$w = 1/b$ at $c = 0$ (the noise is predicted exactly: memorisation).")
    D.check("null_w", "c -> 0 gives 1/b", ck.limit_equal, expr=w0, var=c, point=0, expected=1 / b)
    null_loss = D.step("null_test_loss", "Null-space part of the test loss of W*",
                       (1 - N / d) * (c / (b**2 + c)) ** 2 + (N / d) * kappa0 * a**2 * b**2 / (b**2 + c) ** 2,
                       r"$\rho\{0\}F_1(0) + \rho_\Sigma\{0\}F_2(0)$ with $F_1 = (1-bw)^2$, $F_2 = a^2w^2$ and the atoms "
                       r"$1-N/d$, $(N/d)\kappa_0$ of the replica page.")
    rep = replica.build().results
    D.check("null_test_loss", "atoms times F1(0), F2(0)", ck.symbolic_equal,
            lhs=rep["atom_rho"].rhs * (1 - b * w0) ** 2 + rep["atom_rhoSigma"].rhs * a**2 * w0**2, rhs=null_loss)
    D.check("null_test_loss", "c = 0: (N/d) kappa_0 a^2/b^2 (diverges as b -> 0)", ck.symbolic_equal,
            lhs=null_loss.subs(c, 0), rhs=N / d * kappa0 * a**2 / b**2)
    D.check("null_test_loss", "c = 0 diverges as t -> 0 (b -> 0)", ck.limit_equal,
            expr=null_loss.subs(c, 0), var=b, point=0, expected=sp.oo)
    D.set_slow(
        'data_loss: Gaussian expectation',
        'per-sample expectation (2x2',
        'gradient vanishes at b M^-1',
        'rotated eigenbasis (2x2, numeric)',
        'per-direction loss at w_ref',
        'identity for a general 2x2 W',
        'gradient vanishes at U*',
    )
    return D


def _trace_loss_check(train: bool) -> ck.CheckResult:
    """Exact rational check of L_test / L_train through g, g', h' at d = 3."""
    Cm = sp.Matrix([[3, 1, 0], [1, 2, sp.Rational(1, 2)], [0, sp.Rational(1, 2), 1]]) / 2
    Sg = sp.Matrix([[2, sp.Rational(1, 3), 0], [sp.Rational(1, 3), 1, 0], [0, 0, sp.Rational(1, 2)]])
    av, bv, cv = sp.Rational(3, 5), sp.Rational(4, 5), sp.Rational(1, 7)
    I3 = sp.eye(3)
    M = av**2 * Cm + (bv**2 + cv) * I3
    Wst = bv * M.inv()
    zv = (bv**2 + cv) / av**2
    qv = bv**2 / av**2
    R = (Cm + zv * I3).inv()
    g = R.trace() / 3
    gp = -(R * R).trace() / 3
    mhp = (R * Sg * R).trace() / 3
    if train:
        direct = ((I3 - bv * Wst) * (I3 - bv * Wst).T + av**2 * Wst * Cm * Wst.T).trace() / 3
        formula = 1 - 2 * qv * g - qv**2 * gp + qv * (g + zv * gp)
    else:
        direct = ((I3 - bv * Wst) * (I3 - bv * Wst).T + av**2 * Wst * Sg * Wst.T).trace() / 3
        formula = 1 - 2 * qv * g - qv**2 * gp + qv * mhp
    return ck.symbolic_equal(direct, formula, simplifier=sp.nsimplify)
