"""lindiff.solve_fixed_point / find_root: every method, diagnostics, failure reporting."""

from __future__ import annotations

import numpy as np
import pytest

import lindiff


def _linear_map(n: int = 6, rho: float = 0.95, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(np.linspace(-rho, rho, n)) @ Q.T
    b = rng.normal(size=n)
    xstar = np.linalg.solve(np.eye(n) - A, b)
    return (lambda x: A @ x + b), A, xstar


@pytest.mark.parametrize("method", ["picard", "anderson", "newton"])
def test_methods_find_the_fixed_point(method: str) -> None:
    f, _, xstar = _linear_map()
    r = lindiff.solve_fixed_point(f, np.zeros(6), method=method, max_iter=2000)
    assert r.converged
    np.testing.assert_allclose(r.x, xstar, rtol=1e-10)
    # the reported residual is that of the undamped map at the returned x
    assert r.residual == pytest.approx(np.linalg.norm(f(r.x) - r.x), rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(r.fx, f(r.x), rtol=1e-14)
    assert r.evaluations >= r.iterations and len(r.damping_history) == r.iterations


def test_anderson_beats_picard_on_slow_contraction() -> None:
    f, _, _ = _linear_map(rho=0.99)
    p = lindiff.solve_fixed_point(f, np.zeros(6), method="picard", max_iter=10000)
    a = lindiff.solve_fixed_point(f, np.zeros(6), method="anderson")
    assert p.converged and a.converged and a.iterations * 10 < p.iterations


def test_newton_with_supplied_jacobian_and_nonlinear_map() -> None:
    def g(x):  # type: ignore[no-untyped-def]
        return np.array([np.cos(x[1]), 0.5 * np.sin(x[0]) + 0.1])

    def jac(x):  # type: ignore[no-untyped-def]
        return np.array([[0.0, -np.sin(x[1])], [0.5 * np.cos(x[0]), 0.0]])

    r = lindiff.solve_fixed_point(g, [0.0, 0.0], method="newton", jac=jac)
    assert r.converged and r.iterations <= 8
    np.testing.assert_allclose(g(r.x), r.x, atol=1e-12)
    fd = lindiff.solve_fixed_point(g, [0.0, 0.0], method="newton")
    np.testing.assert_allclose(fd.x, r.x, rtol=1e-10)
    assert fd.evaluations > r.evaluations  # finite differences cost evaluations


def test_damping_adapts_on_an_expansive_picard_map() -> None:
    # x = -1.5 x + 2.5 has slope -1.5: plain Picard diverges, damping < 0.8 converges
    r = lindiff.solve_fixed_point(lambda x: -1.5 * x + 2.5, 0.0, method="picard", max_iter=500)
    assert r.converged and r.x == pytest.approx(1.0, rel=1e-10)
    assert min(r.damping_history) < 0.8


def test_non_convergence_warns_or_raises() -> None:
    f, _, _ = _linear_map(rho=0.999)
    with pytest.warns(lindiff.ConvergenceWarning, match="did not converge"):
        r = lindiff.solve_fixed_point(f, np.zeros(6), method="picard", max_iter=5)
    assert not r.converged and r.message == "iteration limit reached"
    with pytest.raises(lindiff.ConvergenceError):
        lindiff.solve_fixed_point(f, np.zeros(6), method="picard", max_iter=5, strict=True)
    assert "(!)" in str(r) and "#FF7878" in r._repr_html_()


def test_bad_fixed_point_input() -> None:
    with pytest.raises(ValueError, match="method must be"):
        lindiff.solve_fixed_point(np.cos, 1.0, method="bogus")
    with pytest.raises(ValueError, match="x0 must be finite"):
        lindiff.solve_fixed_point(np.cos, np.nan)
    with pytest.raises(ValueError, match="f must return an array of shape"):
        lindiff.solve_fixed_point(lambda x: np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="f must be callable"):
        lindiff.solve_fixed_point(3.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="damping must be"):
        lindiff.solve_fixed_point(np.cos, 1.0, damping=0.0)


def test_find_root_with_and_without_derivative() -> None:
    r = lindiff.find_root(lambda x: x**3 - 2 * x - 5, (2.0, 3.0), fprime=lambda x: 3 * x**2 - 2)
    assert r.converged and r.x == pytest.approx(2.0945514815423265, rel=1e-15)
    fd = lindiff.find_root(lambda x: x**3 - 2 * x - 5, (2.0, 3.0))
    assert fd.converged and fd.x == pytest.approx(r.x, rel=1e-14) and fd.evaluations > fd.iterations
    # Newton alone would run away from x0 = 0.1 on arctan; the bracket keeps it
    a = lindiff.find_root(np.arctan, (-10.0, 30.0), fprime=lambda x: 1 / (1 + x * x), x0=25.0)
    assert a.converged and abs(a.x) < 1e-15 and a.extra["bisections"] >= 1


def test_find_root_bad_input() -> None:
    with pytest.raises(ValueError, match="does not enclose a sign change"):
        lindiff.find_root(lambda x: x * x + 1, (-1.0, 1.0))
    with pytest.raises(ValueError, match="lo < hi"):
        lindiff.find_root(lambda x: x, (1.0, -1.0))
    with pytest.raises(ValueError, match="must return a real scalar"):
        lindiff.find_root(lambda x: "a", (-1.0, 1.0))


# ------------------------------------------------------------------ overflow-safe convergence tests
@pytest.mark.parametrize("x0", [1e155, 1e300, -1e300])
def test_fixed_point_from_a_huge_start_is_not_converged_at_once(x0: float) -> None:
    """||F|| and ||x|| overflowed to inf and inf <= inf read as converged after 0 iterations."""
    r = lindiff.solve_fixed_point(lambda x: 0.5 * x + 1, x0, strict=True)
    assert r.converged and r.iterations > 0
    assert r.x == pytest.approx(2.0, rel=1e-10)


def test_find_root_on_an_extreme_bracket() -> None:
    r = lindiff.find_root(lambda x: x - 3.0, (-1e308, 1e308), strict=True)
    assert r.converged and r.x == pytest.approx(3.0)
    with np.errstate(over="ignore"), pytest.warns(lindiff.ConvergenceWarning, match="non-finite"):
        bad = lindiff.find_root(lambda x: np.exp(x) - 2, (-1e308, 1e308))
    assert not bad.converged
