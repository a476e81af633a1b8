"""The spectral tree (cpp/include/lindiff/spectral_tree.hpp): O(p log d) spectral sums of the
real-axis DE measure, and the adaptive real-axis rule built on it, at d up to 196608."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lindiff
from lindiff import _core
from lindiff.theory import de_measure, gradflow_losses, spectral_density

DIRECT = 10**9   # tree_from: never build a tree
TREE = 16        # tree_from: always


def _terms(lam: np.ndarray, w: np.ndarray, x: float, Y: float) -> np.ndarray:
    """The seven point-sum terms per eigenvalue (rows), as density.hpp writes them."""
    b = lam + x
    D = b * b + Y
    wl = w * lam
    return np.stack([wl * (x * b + Y) / D, wl / D, wl * lam / D, w / D, wl * b / D,
                     wl * lam / D**2, wl * lam * b / D**2])


def _spectrum(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.sort(10 ** rng.uniform(-8, 2, d))[::-1], rng.uniform(0.5, 2.0, d)


def _queries(lam: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x next to poles (-lambda (1 + 1e-12 .. 1e-1)), far left and right; Y = 0 or 1e-20 .. 1e2."""
    rng = np.random.default_rng(seed)
    k = n // 2
    near = -lam[rng.integers(0, lam.size, k)] * (1 + 10 ** rng.uniform(-12, -1, k))
    far = np.concatenate([10 ** rng.uniform(-9, 3, (n - k) // 2), -(10 ** rng.uniform(-9, 3, n - k - (n - k) // 2))])
    Y = np.where(rng.random(n) < 0.25, 0.0, 10 ** rng.uniform(-20, 2, n))
    return np.concatenate([near, far]), Y


def test_tree_sums_against_mpmath() -> None:
    lam, w = _spectrum(2500, 0)
    x, Y = _queries(lam, 24, 1)
    tree = _core.de_point_sums(lam, w, x, Y, tree_from=TREE)
    direct = _core.de_point_sums(lam, w, x, Y, tree_from=DIRECT)
    mp.mp.dps = 30
    L, W = [mp.mpf(float(v)) for v in lam], [mp.mpf(float(v)) for v in w]
    worst_tree = worst_direct = 0.0
    for i in range(x.size):
        xm, Ym = mp.mpf(float(x[i])), mp.mpf(float(Y[i]))
        cols: list[list[mp.mpf]] = [[] for _ in range(7)]
        for lm, wm in zip(L, W):
            b = lm + xm
            D = b * b + Ym
            for c, v in enumerate((wm * lm * (xm * b + Ym) / D, wm * lm / D, wm * lm * lm / D, wm / D,
                                   wm * lm * b / D, wm * lm * lm / D**2, wm * lm * lm * b / D**2)):
                cols[c].append(v)
        for c in range(7):
            exact, size = mp.fsum(cols[c]), mp.fsum(abs(v) for v in cols[c])
            worst_tree = max(worst_tree, float(abs(tree[i, c] - exact) / size))
            worst_direct = max(worst_direct, float(abs(direct[i, c] - exact) / size))
    # the tree's proxies carry an interpolation error below rho_min^-p = 2e-19; what is left is
    # rounding, no worse than the direct sum's
    assert worst_tree < 1e-14
    assert worst_tree <= max(worst_direct, 1e-15) * 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 3000), st.integers(0, 2**31), st.floats(-12.0, 4.0), st.floats(-25.0, 3.0),
       st.booleans(), st.integers(1, 4))
def test_fuzz_tree_sums_against_direct(d: int, seed: int, log_x: float, log_y: float, left: bool, repeats: int) -> None:
    rng = np.random.default_rng(seed)
    base = 10 ** rng.uniform(-10, 3, max(1, d // repeats))
    lam = np.repeat(base, repeats)[:d] if d >= repeats else base
    w = rng.uniform(0.1, 3.0, lam.size)
    x = np.array([-(10**log_x) if left else 10**log_x, -lam[rng.integers(lam.size)]])
    Y = np.array([10**log_y, 10**log_y])
    tree = _core.de_point_sums(lam, w, x, Y, tree_from=TREE)
    direct = _core.de_point_sums(lam, w, x, Y, tree_from=DIRECT)
    assert np.all(np.isfinite(tree)) and np.all(np.isfinite(direct))
    for i in range(2):
        size = np.abs(_terms(lam, w, x[i], Y[i])).sum(axis=1)
        np.testing.assert_array_less(np.abs(tree[i] - direct[i]), 1e-13 * size + 1e-300)


@pytest.mark.parametrize("name, ratio", [("k1", 0.6), ("k2", 0.6), ("k2", 3.0), ("repeated", 0.5), ("gapped", 0.8)])
def test_tree_and_direct_rules_agree(name: str, ratio: float) -> None:
    d = 5000
    lam = {"k1": lindiff.Spectrum.powerlaw(d, 1.0).eigenvalues, "k2": lindiff.Spectrum.powerlaw(d, 2.0).eigenvalues,
           "repeated": np.repeat(lindiff.Spectrum.powerlaw(d // 5, 1.5).eigenvalues, 5),
           "gapped": np.concatenate([np.full(d // 2, 1.0), np.linspace(0.01, 0.02, d // 2)])}[name]
    N = ratio * lam.size
    rules = [_core.de_measure_real(lam, None, N, tree_from=t) for t in (TREE, DIRECT)]
    for r in rules:
        assert r["converged"] and r["error"] < 1e-11
    for f in (lambda s: s, lambda s: s * s, lambda s: np.exp(-s / np.mean(lam)), lambda s: 1 / (1 + s / np.mean(lam))):
        for key in ("w_rho", "w_sigma"):
            a, b = (np.sum(r[key] * f(r["nodes"])).real for r in rules)
            assert abs(a - b) <= 1e-11 * abs(b), (key, a, b)
    # the densities at interior points, where the real-axis point is well conditioned
    sup = spectral_density(lindiff.Spectrum(lam), N, 1.0)
    lo, hi = float(sup.support_lo[0]), float(sup.support_hi[0])
    s = np.geomspace(lo, hi, 60)[5:-5]
    a, b = (_core.de_spectral_density(lam, None, N, s, tree_from=t) for t in (TREE, DIRECT))
    inside = a["rho"] > 0
    assert inside.sum() > 10
    np.testing.assert_allclose(a["rho"][inside], b["rho"][inside], rtol=1e-10)


def test_atom_at_zero_with_the_tree() -> None:
    """s = 0 below the support (N < d): the atom, -inf, not 1 / (rounding of s) with tree sums."""
    spec = lindiff.Spectrum.powerlaw(8192, 1.0)
    ds = spectral_density(spec, 4000, np.array([0.0, 1e-3]))
    assert ds.stieltjes.values[0].real == -np.inf
    assert np.isfinite(ds.stieltjes.values[1])
    above = spectral_density(spec, 20000, 0.0)   # N > d: (1/d) Tr C^-1, finite
    assert np.isfinite(complex(above.stieltjes.values)) and float(above.rho) == 0.0


@pytest.mark.parametrize("d, k", [(100_000, 2.0), (196_608, 1.0)])
def test_real_rule_at_large_d(d: int, k: float) -> None:
    """The adaptive rule converges where the old doubled Gauss-Chebyshev rule hit 16384 nodes in the
    bulk (d = 196608, k = 2) and stays a few ten thousand nodes; sum rules hold."""
    spec = lindiff.Spectrum.powerlaw(d, k)
    mu = de_measure(spec, 0.6 * d, method="real")
    assert mu.converged and mu.error < 1e-11
    assert mu.nodes.size < 40_000
    mass = mu.integrate(lambda s: np.ones_like(s)).real
    mean = mu.integrate(lambda s: s).real
    assert abs(mass - 1) < 1e-11
    assert abs(mean - spec.eigenvalues.mean()) < 1e-11 * spec.eigenvalues.mean()


def test_gradflow_gauss_matches_real_rule_at_large_d() -> None:
    """quadrature="auto" is the Gauss rule at every d now; it agrees with the real-axis rule."""
    spec = lindiff.Spectrum.powerlaw(50_000, 1.5)
    eta = np.geomspace(1e-4, 1e6, 30)
    g = gradflow_losses(spec, N=30_000, eta_tau=eta, t=np.arange(1, 1001, 37))
    r = gradflow_losses(spec, N=30_000, eta_tau=eta, t=np.arange(1, 1001, 37), quadrature="real")
    assert g.attrs["quadrature"] == "gauss"
    for v in ("test", "train", "data_ridge"):
        np.testing.assert_allclose(g[v].values, r[v].values, rtol=2e-12, atol=0)
