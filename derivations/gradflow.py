"""Gradient flow, explicit gradient descent and the DDPM sampler recursion, in C's eigenbasis."""

from __future__ import annotations

import functools

import sympy as sp

from . import check as ck
from .losses import gaussian_expectation
from .symbols import alpha, b, beta, c, eta, gam_t, m_, n_steps, phi, sig_t, tau

ASSUMPTIONS = r"""
* Objective $L(W) = \mathrm{Tr}[I - 2bW + WMW^\top]$ (losses page), $\nabla_W L = -2bI + 2WM$.
* Gradient flow $dW/d\tau = -\eta\nabla_W L$ from $W(0) = 0$; explicit GD $W_{n+1} = W_n - \eta\nabla L(W_n)$.
* Sampler $u_{t-1} = (u_t - (\beta_t/b_t) W_t u_t)/\sqrt{\alpha_t} + \sigma_t\xi_t$, $u_T\sim N(0,I)$, $\xi_t\sim N(0,I)$
  independent; $W_t = b_t\,\phi_t(C)$ a function of $C$ (true for $W^*$ and for gradient flow from 0).
* Schedule: $\bar\alpha_1 = \alpha_1 = 1-\beta_1$, so $b_1^2 = 1-\bar\alpha_1 = \beta_1$.
"""


@functools.lru_cache(maxsize=None)
def build() -> ck.Derivation:
    D = ck.Derivation("gradflow", "Gradient flow, gradient descent and the sampler", ASSUMPTIONS)
    wf = sp.Function("w")
    ode = sp.Eq(sp.Derivative(wf(tau), tau), -eta * (-2 * b + 2 * m_ * wf(tau)))
    D.step("ode", "Gradient flow per eigen-direction", ode,
           r"In $C$'s eigenbasis ($M$ has eigenvalue $m = a^2s + b^2 + c$) the flow decouples.")
    sol = D.step("gf_solution", "Solution from w(0) = 0", b / m_ * (1 - sp.exp(-2 * eta * tau * m_)),
                 r"$w(\tau) = b\,\phi$, $\phi = (1-e^{-2\eta\tau m})/m$.")
    D.check("gf_solution", "sympy.dsolve with w(0) = 0", lambda: ck.symbolic_equal(
        sp.dsolve(ode, wf(tau), ics={wf(0): 0}).rhs, sol))
    D.check("gf_solution", "satisfies the ODE", ck.symbolic_equal,
            lhs=sp.diff(sol, tau), rhs=ode.rhs.subs(wf(tau), sol))
    D.check("gf_solution", "w(0) = 0", ck.symbolic_equal, lhs=sol.subs(tau, 0), rhs=0)
    D.check("gf_solution", "tau -> oo gives the minimiser b/m", ck.limit_equal, expr=sol, var=tau, point=sp.oo,
            expected=b / m_)
    # matrix version with a rotated eigenbasis
    th = sp.Symbol("theta", real=True)
    m1, m2 = sp.symbols("m_1 m_2", positive=True)
    V = sp.Matrix([[sp.cos(th), -sp.sin(th)], [sp.sin(th), sp.cos(th)]])
    M = V * sp.diag(m1, m2) * V.T
    Wt = V * sp.diag(*[b / mm * (1 - sp.exp(-2 * eta * tau * mm)) for mm in (m1, m2)]) * V.T
    D.check("gf_solution", "matrix form W = b M^-1 (I - exp(-2 eta tau M)) solves dW/dtau = -eta(-2bI + 2WM) (2x2)",
            ck.numeric_equal, lhs=ck.Lazy(lambda: (sp.diff(Wt, tau) + eta * (-2 * b * sp.eye(2) + 2 * Wt * M)).norm(1)), rhs=0,
            atol=1e-40)

    # ------------------------------------------------------------ gradient descent
    wn = sp.Function("w")
    rec = sp.Eq(wn(n_steps + 1), wn(n_steps) - eta * (-2 * b + 2 * m_ * wn(n_steps)))
    D.step("gd", "Explicit gradient descent", rec, "")
    gd = D.step("gd_solution", "GD solution from w_0 = 0", b / m_ * (1 - (1 - 2 * eta * m_) ** n_steps),
                r"$1 - e^{-2\eta\tau m}$ becomes $1 - (1-2\eta m)^n$.")
    D.check("gd_solution", "satisfies the recursion", ck.symbolic_equal,
            lhs=gd.subs(n_steps, n_steps + 1), rhs=rec.rhs.subs(wn(n_steps), gd), simplifier=lambda e: sp.simplify(sp.expand(e)))
    D.check("gd_solution", "w_0 = 0", ck.symbolic_equal, lhs=gd.subs(n_steps, 0), rhs=0)
    D.check("gd_solution", "sympy.rsolve", lambda: ck.symbolic_equal(
        sp.rsolve(wn(n_steps + 1) - rec.rhs, wn(n_steps), {wn(0): 0}), gd, simplifier=lambda e: sp.simplify(sp.expand(e))))
    K = sp.Symbol("K", positive=True)
    D.check("gd_solution", "n = K steps of size eta tau/K -> gradient flow as K -> oo", ck.limit_equal,
            expr=(1 - 2 * (eta * tau / K) * m_) ** K, var=K, point=sp.oo, expected=sp.exp(-2 * eta * tau * m_))

    # ------------------------------------------------------------ sampler
    A_sym = sp.Symbol("A_t")
    u_t, xi = sp.symbols("u_t xi", real=True)
    wt = b * phi
    step_expr = (u_t - beta / b * wt * u_t) / sp.sqrt(alpha) + sig_t * xi
    A_t = D.step("sampler_A", "Sampler map per eigen-direction", (1 - beta * phi) / sp.sqrt(alpha),
                 r"With $W_t = b_t\phi_t$: $u_{t-1} = A_t u_t + \sigma_t\xi_t$, $A_t = (1-\beta_t\phi_t)/\sqrt{\alpha_t}$.")
    D.check("sampler_A", "coefficient of u_t in the update", ck.symbolic_equal,
            lhs=sp.diff(step_expr, u_t), rhs=A_t)
    gam_rec = D.step("sampler_gamma", "Variance recursion", A_t**2 * gam_t + sig_t**2,
                     r"$\gamma_{t-1} = A_t^2\gamma_t + \sigma_t^2$, $\gamma_T = 1$; so $\Sigma_{gen} = \sum_i\gamma(s_i)v_iv_i^\top$.")
    D.check("sampler_gamma", "E[u_{t-1}^2] with u_t ~ N(0, gamma_t), xi ~ N(0, 1)", ck.symbolic_equal,
            lhs=ck.Lazy(lambda: gaussian_expectation(step_expr**2, [u_t, xi], cov=sp.diag(gam_t, 1))), rhs=gam_rec,
            simplifier=sp.expand)
    g1, g2, A1, A2 = sp.symbols("gamma_1 gamma_2 A_1 A_2", positive=True)
    Am = V * sp.diag(A1, A2) * V.T
    St = V * sp.diag(g1, g2) * V.T
    D.check("sampler_gamma", "matrix covariance stays diagonal in C's eigenbasis (2x2)", ck.numeric_equal,
            lhs=ck.Lazy(lambda: (Am * St * Am.T + sig_t**2 * sp.eye(2) - V * sp.diag(A1**2 * g1 + sig_t**2, A2**2 * g2 + sig_t**2) * V.T).norm(1)),
            rhs=0, atol=1e-40)
    # A_1(0)
    A10 = D.step("A1_zero", "Last step on C's null space (minimiser)",
                 sp.Eq(sp.Symbol("A_1(0)"), c / ((beta + c) * sp.sqrt(1 - beta))),
                 r"$s = 0$, $t = 1$: $m_1(0) = b_1^2 + c = \beta_1 + c$ and $\phi = 1/m$; at $c = 0$, $A_1(0) = 0$: with "
                 r"$\sigma_1 = 0$ the last step annihilates the null space ($\gamma(0) = 0$, samples in span$(X)$).")
    D.check("A1_zero", "A_1(0) from the general A_t with b_1^2 = beta_1", ck.symbolic_equal,
            lhs=A_t.subs({phi: 1 / (beta + c), alpha: 1 - beta}), rhs=A10.rhs)
    D.check("A1_zero", "c = 0 gives A_1(0) = 0", ck.symbolic_equal, lhs=A10.rhs.subs(c, 0), rhs=0)
    D.check("A1_zero", "gamma_0(0) = 0 at c = 0, sigma_1 = 0", ck.symbolic_equal,
            lhs=gam_rec.subs({phi: 1 / beta, alpha: 1 - beta, sig_t: 0}), rhs=0)
    A10gf = D.step("A1_zero_gf", "Last step on the null space under gradient flow",
                   sp.Eq(sp.Symbol("A_1(0)"), sp.exp(-2 * eta * tau * beta) / sp.sqrt(1 - beta)),
                   r"$\phi = (1-e^{-2\eta\tau\beta_1})/\beta_1$ at $c=0$: early stopping keeps $A_1(0) > 0$.")
    D.check("A1_zero_gf", "from A_t with the gradient-flow phi", ck.symbolic_equal,
            lhs=A_t.subs({phi: (1 - sp.exp(-2 * eta * tau * beta)) / beta, alpha: 1 - beta}), rhs=A10gf.rhs)
    D.check("A1_zero_gf", "tau -> oo recovers A_1(0) = 0", ck.limit_equal, expr=A10gf.rhs, var=tau, point=sp.oo,
            expected=0)
    D.set_slow(
        'tau -> oo gives the minimiser',
        'sympy.rsolve',
        'sympy.dsolve',
        'matrix form W = b M^-1',
        'matrix covariance stays diagonal',
    )
    return D
