"""The symbols of all derivations, in one place, with their assumptions.

Assumptions are SymPy's (``positive=True`` and so on); they matter, because they let SymPy
simplify ``sqrt(x**2)`` to ``x`` or ``log(x*y)`` to ``log(x) + log(y)``, and they define the
default sampling ranges of :func:`lindiff.derivations.check.sample_point` (positive symbols
are drawn in (1/5, 2)). A derivation that needs a narrower domain (``kappa < 1``, ``N > d + 3``)
states it with the ``domain=`` / ``where=`` arguments of its checks.

Spectra with ``d`` symbolic eigenvalues are written with an :class:`sympy.IndexedBase`
``lam[nu]`` and unevaluated sums over ``nu = 1..d`` (valid for any ``d``); :func:`explicit`
turns such an expression into one with concrete ``d`` and plain symbols ``lambda_1, ...``
for numeric checks.
"""

from __future__ import annotations

import sympy as sp

# ----------------------------------------------------------------- dimensions and spectra
d = sp.Symbol("d", positive=True, integer=True)          #: data dimension
nu = sp.Symbol("nu", positive=True, integer=True)        #: eigen-index 1..d
i_ = sp.Symbol("i", positive=True, integer=True)         #: summation index
N = sp.Symbol("N", positive=True)                        #: number of training samples (real for algebra)
lam = sp.IndexedBase("lambda", positive=True)            #: population eigenvalues lambda_nu > 0

# ----------------------------------------------------------------- deterministic equivalent
z = sp.Symbol("z", positive=True)           #: ridge / resolvent argument, R = (C + z)^-1
kappa = sp.Symbol("kappa", positive=True)   #: renormalised ridge (also the memorization kappa)
kappa0 = sp.Symbol("kappa_0", positive=True)  #: kappa at z = 0 when N < d
qq = sp.Symbol("q", positive=True)          #: replica order parameter phi^T Sigma phi
qhat = sp.Symbol("qhat", positive=True)     #: its conjugate
s = sp.Symbol("s", nonnegative=True)        #: an eigenvalue of C
o = sp.Symbol("o", positive=True)           #: overlap v^T Sigma v
ot = sp.Symbol("otilde", positive=True)     #: overlap v^T Sigma^-1 v

# ----------------------------------------------------------------- diffusion (Merger & Goldt)
a = sp.Symbol("a", positive=True)           #: a_t = sqrt(abar_t)
b = sp.Symbol("b", positive=True)           #: b_t = sqrt(1 - abar_t)
c = sp.Symbol("c", nonnegative=True)        #: ridge penalty
cp = sp.Symbol("c", positive=True)          #: ridge penalty when it must be > 0
q_noise = sp.Symbol("q", positive=True)     #: q = b^2 / a^2
beta = sp.Symbol("beta", positive=True)     #: beta_t
alpha = sp.Symbol("alpha", positive=True)   #: alpha_t = 1 - beta_t
eta = sp.Symbol("eta", positive=True)       #: learning rate
tau = sp.Symbol("tau", nonnegative=True)    #: training time
n_steps = sp.Symbol("n", positive=True, integer=True)  #: number of GD steps
m_ = sp.Symbol("m", positive=True)          #: m = a^2 s + b^2 + c
w = sp.Symbol("w", real=True)               #: eigenvalue of W
gam_t = sp.Symbol("gamma_t", positive=True)  #: variance of the sampler per eigen-direction
sig_t = sp.Symbol("sigma_t", nonnegative=True)  #: sampler noise scale
phi = sp.Symbol("phi", positive=True)       #: spectral filter, W = b phi(C)
r = sp.Symbol("r", positive=True)           #: gamma(lambda) / lambda

# ----------------------------------------------------------------- memorization (Halder)
sigma = sp.Symbol("sigma", positive=True)   #: data scale
T = sp.Symbol("T", positive=True)           #: forward time
ell = sp.Symbol("l", positive=True)         #: noise-scale parameter l
mean = sp.Symbol("m", real=True)            #: data mean per coordinate
gam = sp.Symbol("gamma", positive=True)     #: gamma = d / (N - 1)
t = sp.Symbol("t", positive=True)           #: Haagerup-Larsen parameter in (0, 1)
eps = sp.Symbol("epsilon", positive=True)   #: kernel bandwidth / small parameter
n_pts = sp.Symbol("n", positive=True)       #: number of KDE points
x = sp.Symbol("x", real=True)               #: integration variable
y = sp.Symbol("y", real=True)
mu1 = sp.Symbol("mu_1", real=True)
mu2 = sp.Symbol("mu_2", real=True)
v1 = sp.Symbol("v_1", positive=True)
v2 = sp.Symbol("v_2", positive=True)
k_dof = sp.Symbol("k", positive=True)       #: chi-square degrees of freedom
sM = sp.Symbol("s", positive=True)          #: Mellin variable
qr = sp.Symbol("q", positive=True)          #: ratio d / N in the proportional limit
u = sp.Symbol("u", positive=True)           #: auxiliary


def df1(k: sp.Expr, dd: sp.Expr = d) -> sp.Expr:
    """df1(kappa) = sum_nu lambda_nu / (lambda_nu + kappa), unevaluated for symbolic d."""
    return sp.Sum(lam[nu] / (lam[nu] + k), (nu, 1, dd))


def df2(k: sp.Expr, dd: sp.Expr = d) -> sp.Expr:
    """df2(kappa) = sum_nu lambda_nu^2 / (lambda_nu + kappa)^2."""
    return sp.Sum(lam[nu] ** 2 / (lam[nu] + k) ** 2, (nu, 1, dd))


def eigen_symbols(n: int) -> list[sp.Symbol]:
    """Plain positive symbols ``lambda_1 .. lambda_n`` for a concrete spectrum."""
    return list(sp.symbols(f"lambda_1:{n + 1}", positive=True))


def explicit(expr: sp.Expr, n: int) -> sp.Expr:
    """Set ``d = n``, expand the sums over ``nu`` and replace ``lambda[i]`` by ``lambda_i``.

    Examples
    --------
    >>> from lindiff.derivations.symbols import explicit, df1, kappa
    >>> explicit(df1(kappa), 2)
    lambda_1/(kappa + lambda_1) + lambda_2/(kappa + lambda_2)
    """
    e = sp.sympify(expr).subs(d, n).doit()
    syms = eigen_symbols(n)
    return e.subs({lam[k + 1]: syms[k] for k in range(n)})
