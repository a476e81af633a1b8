"""lindiff.memorization: the relative-distance criterion (spec memorization.md §1) and the
nearest-neighbour test, checked against brute force, quadrature and high-precision arithmetic."""

from __future__ import annotations

import math
import os

import mpmath
import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

import lindiff
from lindiff import _core
from lindiff.memorization import kde_bandwidth, nearest_neighbour_ratio, relative_distance

BANDWIDTHS = ["halder", "collapse", 0.4]


def _brute_lse(X, Y, scale, mode):
    D = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    n = X.shape[0]
    if mode == 0:
        mask = np.ones(D.shape, bool)
    elif mode == 1:
        mask = ~np.eye(n, dtype=bool)
    else:
        mask = np.triu(np.ones((n, n), bool), 1)
    return np.array([logsumexp(-scale * D[i][mask[i]]) if mask[i].any() else -np.inf for i in range(n)])


# ----------------------------------------------------------------------------- C++ kernel
@pytest.mark.parametrize("n,m,d", [(1, 1, 1), (5, 7, 3), (70, 1100, 4), (130, 130, 9)])
@pytest.mark.parametrize("chunks", [(64, 512), (3, 2), (7, 5), (200, 3)])
def test_logsumexp_gauss_matches_scipy(n, m, d, chunks):
    rng = np.random.default_rng(n * 1000 + m)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    for scale in (0.05, 0.7, 30.0):
        got = _core.logsumexp_gauss(X, Y, scale, 0, *chunks)
        np.testing.assert_allclose(got, _brute_lse(X, Y, scale, 0), rtol=1e-12, atol=1e-12)
        for mode in (1, 2):
            got = _core.logsumexp_gauss(X, X, scale, mode, *chunks)
            ref = _brute_lse(X, X, scale, mode)
            fin = np.isfinite(ref)
            assert np.array_equal(np.isfinite(got), fin)
            assert np.all(got[~fin] == -np.inf)
            np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12, atol=1e-12)


def test_logsumexp_gauss_extreme_range():
    # terms spanning far more than the double range: the streaming max keeps the answer exact
    X = np.array([[0.0], [40.0]])
    Y = np.array([[0.0], [1.0], [100.0]])
    got = _core.logsumexp_gauss(X, Y, 10.0, 0, 1, 1)
    np.testing.assert_allclose(got, _brute_lse(X, Y, 10.0, 0), rtol=1e-12, atol=1e-15)
    assert np.isclose(got[1], -10.0 * 39.0**2)


def test_logsumexp_gauss_thread_count_independent():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(1500, 16))
    saved = lindiff.get_num_threads()
    try:
        lindiff.set_num_threads(1)
        a = [_core.logsumexp_gauss(X, X, 0.3, mode) for mode in (0, 1, 2)]
        r1 = relative_distance(X[:40], X[40:], X[:300] + 0.1)
        lindiff.set_num_threads(3)
        b = [_core.logsumexp_gauss(X, X, 0.3, mode) for mode in (0, 1, 2)]
        r3 = relative_distance(X[:40], X[40:], X[:300] + 0.1)
    finally:
        lindiff.set_num_threads(saved)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    for f in ("positive", "log_abs_delta", "stderr", "log_off_T", "log_off_O", "log_C_T", "log_C_O"):
        assert getattr(r1, f) == getattr(r3, f)


def test_logsumexp_gauss_bad_input():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same number of columns"):
        _core.logsumexp_gauss(X, np.zeros((3, 3)), 1.0, 0)
    with pytest.raises(ValueError, match="scale"):
        _core.logsumexp_gauss(X, X, -1.0, 0)
    with pytest.raises(ValueError, match="mode"):
        _core.logsumexp_gauss(X, X, 1.0, 3)
    with pytest.raises(ValueError, match="Y = X"):
        _core.logsumexp_gauss(X, np.zeros((4, 2)), 1.0, 1)


# ----------------------------------------------------------------------------- L2 closed form
def _delta_quad_1d(X, Y, mean, var, eps_T, eps_O):
    """E_TG - E_OG by adaptive quadrature of the two squared differences (scipy.integrate.quad)."""

    def f(x):
        pg = norm.pdf(x, mean, math.sqrt(var))
        rT = norm.pdf(x, X[:, 0], eps_T).mean()
        rO = norm.pdf(x, Y[:, 0], eps_O).mean()
        return (pg - rT) ** 2 - (pg - rO) ** 2

    # integrate piecewise between the kernel centres so quad resolves every bump
    pts = np.unique(np.concatenate([X[:, 0], Y[:, 0], [mean]]))
    edges = np.concatenate([[pts[0] - 15], pts, [pts[-1] + 15]])
    return math.fsum(integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-10, limit=200)[0]
                     for lo, hi in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("bandwidth", BANDWIDTHS)
def test_closed_form_against_quadrature_d1(bandwidth):
    rng = np.random.default_rng(11)
    X, Y = 3.0 + rng.normal(size=(5, 1)), 3.0 + rng.normal(size=(40, 1))
    for mean, var in [(3.2, 0.6), (3.0, 0.05), (4.5, 2.0)]:
        r = relative_distance(X, Y, (np.array([mean]), np.array([[var]])), bandwidth=bandwidth)
        q = _delta_quad_1d(X, Y, mean, var, r.eps_T, r.eps_O)
        assert r.delta == pytest.approx(q, rel=1e-9, abs=1e-14)
        assert r.positive == (q > 0)
        assert r.log_abs_delta == pytest.approx(math.log(abs(q)), abs=1e-8)


@pytest.mark.parametrize("bandwidth", BANDWIDTHS)
def test_closed_form_against_quadrature_d2(bandwidth):
    # full (correlated) covariance: trapezoid on a fine grid is spectrally accurate for Gaussians
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(25, 2))
    mean, cov = np.array([0.3, -0.2]), np.array([[0.7, 0.3], [0.3, 0.5]])
    r = relative_distance(X, Y, (mean, cov), bandwidth=bandwidth)
    g = np.linspace(-9, 9, 721)
    P = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    pg = multivariate_normal(mean, cov).pdf(P)

    def kde(Z, eps):
        return np.mean([multivariate_normal(z, eps**2 * np.eye(2)).pdf(P) for z in Z], axis=0)

    f = ((pg - kde(X, r.eps_T)) ** 2 - (pg - kde(Y, r.eps_O)) ** 2).reshape(g.size, g.size)
    q = integrate.trapezoid(integrate.trapezoid(f, g, axis=1), g)
    assert r.delta == pytest.approx(q, rel=1e-8)
    assert r.positive == (q > 0)


def test_closed_form_terms_match_definitions():
    rng = np.random.default_rng(13)
    d = 3
    X, Y = rng.normal(size=(6, d)), rng.normal(size=(30, d))
    mean, cov = rng.normal(size=d) * 0.1, np.diag([0.3, 0.6, 0.9])
    r = relative_distance(X, Y, (mean, cov), sigma=1.3)
    eT = 1.3 * 6 ** (-1 / d)
    assert r.eps_T == pytest.approx(eT, rel=1e-14)
    assert r.log_K_T == pytest.approx(-d / 2 * math.log(4 * math.pi * 1.3**2), rel=1e-14)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    off = (np.exp(-D / (4 * eT**2)).sum() - 6) / 6
    assert r.log_off_T == pytest.approx(math.log(off), rel=1e-12)
    C = multivariate_normal(mean, cov + eT**2 * np.eye(d)).pdf(X).mean()
    assert r.log_C_T == pytest.approx(math.log(C), rel=1e-12)


def test_eigenpairs_and_rank_deficient_covariance():
    rng = np.random.default_rng(14)
    d, k = 5, 2
    X, Y = rng.normal(size=(8, d)), rng.normal(size=(60, d))
    V = np.linalg.qr(rng.normal(size=(d, k)))[0]
    w = np.array([0.4, 1.1])
    S = V @ np.diag(w) @ V.T  # rank 2
    mean = rng.normal(size=d) * 0.2
    a = relative_distance(X, Y, (mean, S))
    b = relative_distance(X, Y, (mean, (w, V)))
    assert a.positive == b.positive
    assert a.log_abs_delta == pytest.approx(b.log_abs_delta, rel=1e-10)
    for t in ("log_C_T", "log_C_O", "log_off_T", "log_off_O"):
        assert getattr(a, t) == pytest.approx(getattr(b, t), rel=1e-10)


# ----------------------------------------------------------------------------- log-domain robustness
def _mp_delta(X, Y, mean, var, sigma, d):
    """Raw-formula Delta in 150-digit arithmetic (pinned bandwidth, diagonal covariance).

    The self terms K_T and K_O (~e^-885 at d = 700) cancel only to the working precision, which
    must therefore resolve e^-885 * 10^-dps far below Delta (~e^-1008).
    """
    mpmath.mp.dps = 150
    s = mpmath.mpf(sigma)

    def terms(P):
        n = len(P)
        e2 = s**2 * mpmath.mpf(n) ** (mpmath.mpf(-2) / d)
        K = (4 * mpmath.pi * e2) ** (-mpmath.mpf(d) / 2) / n
        off = mpmath.fsum(mpmath.exp(-mpmath.fsum((mpmath.mpf(P[i][c]) - mpmath.mpf(P[j][c])) ** 2 for c in range(d))
                                     / (4 * e2)) for i in range(n) for j in range(n) if i != j) / n
        C = mpmath.fsum(mpmath.fprod((2 * mpmath.pi * (mpmath.mpf(var[c]) + e2)) ** mpmath.mpf(-0.5)
                                     * mpmath.exp(-(mpmath.mpf(P[k][c]) - mpmath.mpf(mean[c])) ** 2
                                                  / (2 * (mpmath.mpf(var[c]) + e2))) for c in range(d))
                        for k in range(n)) / n
        return K * (1 + off), C

    sT, CT = terms(X)
    sO, CO = terms(Y)
    return sT - sO - 2 * (CT - CO)


@pytest.mark.parametrize("d,shift", [(100, 0.0), (100, 0.6), (700, 0.0)])
def test_log_domain_against_mpmath(d, shift):
    rng = np.random.default_rng(d + int(10 * shift))
    X, Y = 5.0 + rng.normal(size=(3, d)), 5.0 + rng.normal(size=(5, d))
    mean = 5.0 + shift + np.zeros(d)
    var = rng.uniform(0.3, 0.7, size=d)
    sigma = 1.0
    r = relative_distance(X, Y, (mean, np.diag(var)), sigma=sigma)
    ref = _mp_delta(X, Y, mean, var, sigma, d)
    assert ref != 0
    assert r.positive == (ref > 0)
    assert r.log_abs_delta == pytest.approx(float(mpmath.log(abs(ref))), rel=1e-10)
    assert math.isfinite(r.log_abs_delta)
    if d == 700:  # the raw value is below the double range: delta underflows, the log does not
        assert float(mpmath.log(abs(ref))) < -750 and r.delta == 0.0


# ----------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_samples_match_direct_sums():
    rng = np.random.default_rng(21)
    d = 2
    X, Y, S = rng.normal(size=(5, d)), rng.normal(size=(50, d)), rng.normal(size=(300, d))
    r = relative_distance(X, Y, S, bandwidth="collapse")
    kT = np.array([multivariate_normal(x, r.eps_T**2 * np.eye(d)).pdf(S) for x in X]).mean(0)
    kO = np.array([multivariate_normal(y, r.eps_O**2 * np.eye(d)).pdf(S) for y in Y]).mean(0)

    def self_energy(P, e):
        D = ((P[:, None] - P[None]) ** 2).sum(-1)
        return np.exp(-D / (4 * e**2)).sum() / len(P) ** 2 * (4 * math.pi * e**2) ** (-d / 2)

    f = kT - kO
    delta = self_energy(X, r.eps_T) - self_energy(Y, r.eps_O) - 2 * f.mean()
    assert r.method == "monte carlo" and r.n_samples == 300
    assert r.delta == pytest.approx(delta, rel=1e-10)
    assert r.stderr == pytest.approx(2 * f.std(ddof=1) / math.sqrt(300), rel=1e-10)
    assert r.log_C_T == pytest.approx(math.log(kT.mean()), rel=1e-10)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_monte_carlo_within_3_stderr_of_closed_form(d):
    rng = np.random.default_rng(30 + d)
    X, Y = rng.normal(size=(4, d)), rng.normal(size=(200, d))
    mean, cov = 0.1 * np.ones(d), 0.5 * np.eye(d) + 0.1
    exact = relative_distance(X, Y, (mean, cov))
    z = []
    for _ in range(12):
        S = rng.multivariate_normal(mean, cov, size=20000)
        mc = relative_distance(X, Y, S)
        z.append((mc.delta - exact.delta) / mc.stderr)
    z = np.array(z)
    assert np.all(np.abs(z) < 3.5)
    assert 0.3 < np.mean(z**2) < 2.5  # the standard error is honest, not just large


def test_kl_variant():
    rng = np.random.default_rng(40)
    d = 2
    X, Y, S = rng.normal(size=(5, d)), rng.normal(size=(60, d)), rng.normal(size=(400, d))
    r = relative_distance(X, Y, S, distance="kl", bandwidth=0.5)
    lT = np.log(np.array([multivariate_normal(x, 0.25 * np.eye(d)).pdf(S) for x in X]).mean(0))
    lO = np.log(np.array([multivariate_normal(y, 0.25 * np.eye(d)).pdf(S) for y in Y]).mean(0))
    assert r.delta == pytest.approx(np.mean(lO - lT), rel=1e-10)
    assert r.stderr == pytest.approx(np.std(lO - lT, ddof=1) / math.sqrt(400), rel=1e-10)
    assert r.positive == (r.delta > 0) and math.isnan(r.log_off_T)
    # a Gaussian generator is sampled reproducibly from the seed
    g = (np.zeros(d), 0.5 * np.eye(d))
    a = relative_distance(X, Y, g, distance="kl", n_samples=500, seed=3)
    b = relative_distance(X, Y, g, distance="kl", n_samples=500, seed=3)
    c = relative_distance(X, Y, g, distance="kl", n_samples=500, seed=4)
    assert (a.delta, a.stderr, a.mean_log_rho_T) == (b.delta, b.stderr, b.mean_log_rho_T)
    assert a.delta != c.delta and a.n_samples == 500


# ----------------------------------------------------------------------------- calibration
def test_calibration_data_independent_generator_positive():
    """N(m, kappa sigma^2 I) ignores the training set: Delta > 0 in most draws for N << M."""
    rng = np.random.default_rng(50)
    d, N, M, kappa, m = 8, 16, 2000, 0.5, 10.0
    pos = [relative_distance(m + rng.normal(size=(N, d)), m + rng.normal(size=(M, d)),
                             (np.full(d, m), kappa * np.eye(d))).positive for _ in range(60)]
    assert np.mean(pos) > 0.9


@pytest.mark.parametrize("kind", ["copies", "kde"])
def test_memorizing_generators_negative(kind):
    rng = np.random.default_rng(51)
    d, N, M, m = 8, 16, 2000, 10.0
    neg = []
    for _ in range(10):
        X, Y = m + rng.normal(size=(N, d)), m + rng.normal(size=(M, d))
        S = X[rng.integers(0, N, 2000)]
        if kind == "kde":  # samples of the training set's own KDE
            S = S + kde_bandwidth(N, d, float(np.sqrt(np.var(Y, axis=0, ddof=1).mean()))) * rng.normal(size=S.shape)
        neg.append(not relative_distance(X, Y, S).positive)
        neg.append(not relative_distance(X, Y, S, distance="kl").positive)
    assert all(neg)


# ----------------------------------------------------------------------------- settings and display
def test_bandwidths_and_default_sigma():
    rng = np.random.default_rng(60)
    X, Y = rng.normal(size=(8, 3)), 2.0 * rng.normal(size=(100, 3))
    r = relative_distance(X, Y, (np.zeros(3), np.eye(3)))
    assert r.sigma == pytest.approx(math.sqrt(np.var(Y, axis=0, ddof=1).mean()), rel=1e-14)
    assert r.eps_T == pytest.approx(r.sigma * 8 ** (-1 / 3)) and r.eps_O == pytest.approx(r.sigma * 100 ** (-1 / 3))
    assert r.log_K_T == r.log_K_O
    c = relative_distance(X, Y, (np.zeros(3), np.eye(3)), bandwidth="collapse", sigma=1.0)
    assert c.eps_T**2 == pytest.approx(1 / (8 ** (2 / 3) - 1)) and c.bandwidth == "collapse"
    f = relative_distance(X, Y, (np.zeros(3), np.eye(3)), bandwidth=0.3)
    assert f.eps_T == f.eps_O == pytest.approx(0.3)
    assert kde_bandwidth(100, 3, 2.0) == pytest.approx(2.0 * 100 ** (-1 / 3))
    text = repr(r)
    assert "relative_distance" in text and "halder" in text and "ln|Delta|" in text
    assert "<table" in r._repr_html_()


def test_translation_invariance():
    rng = np.random.default_rng(61)
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=(80, 4))
    g = (np.zeros(4), 0.5 * np.eye(4))
    a = relative_distance(X, Y, g)
    t = np.full(4, 1e3)
    b = relative_distance(X + t, Y + t, (g[0] + t, g[1]))
    assert a.positive == b.positive and a.log_abs_delta == pytest.approx(b.log_abs_delta, rel=1e-9)


def test_bad_input():
    X, Y = np.zeros((4, 2)) + np.arange(4)[:, None], np.random.default_rng(0).normal(size=(10, 2))
    g = (np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="train"):
        relative_distance(np.zeros(4), Y, g)
    with pytest.raises(ValueError, match="reference"):
        relative_distance(X, np.zeros((10, 3)), g)
    with pytest.raises(ValueError, match="train"):
        relative_distance(np.full((4, 2), np.nan), Y, g)
    with pytest.raises(ValueError, match="generated"):
        relative_distance(X, Y, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="generated mean"):
        relative_distance(X, Y, (np.zeros(3), np.eye(2)))
    with pytest.raises(ValueError, match="generated covariance"):
        relative_distance(X, Y, (np.zeros(2), np.eye(3)))
    with pytest.raises(ValueError, match="symmetric"):
        relative_distance(X, Y, (np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]])))
    with pytest.raises(ValueError, match="semi-definite"):
        relative_distance(X, Y, (np.zeros(2), np.diag([1.0, -1.0])))
    with pytest.raises(ValueError, match="orthonormal"):
        relative_distance(X, Y, (np.zeros(2), (np.ones(2), np.ones((2, 2)))))
    with pytest.raises(ValueError, match="eigenvalues"):
        relative_distance(X, Y, (np.zeros(2), (np.array([1.0, -1.0]), np.eye(2))))
    with pytest.raises(ValueError, match="tuple"):
        relative_distance(X, Y, (np.zeros(2), np.eye(2), 1))
    with pytest.raises(ValueError, match="sigma"):
        relative_distance(X, Y, g, sigma=0.0)
    with pytest.raises(ValueError, match="sigma"):
        relative_distance(X, Y[:1], g)
    with pytest.raises(ValueError, match="bandwidth"):
        relative_distance(X, Y, g, bandwidth="silverman")
    with pytest.raises(ValueError, match="bandwidth"):
        relative_distance(X, Y, g, bandwidth=-1.0)
    with pytest.raises(ValueError, match="collapse"):
        relative_distance(X[:1], Y, g, bandwidth="collapse")
    with pytest.raises(ValueError, match="distance"):
        relative_distance(X, Y, g, distance="hellinger")
    with pytest.raises(ValueError, match="n_samples"):
        relative_distance(X, Y, g, distance="kl", n_samples=0)
    with pytest.raises(ValueError, match="2 samples"):
        relative_distance(X, Y, np.zeros((1, 2)))


# ----------------------------------------------------------------------------- nearest neighbour
def test_nearest_neighbour_ratio_brute_force():
    rng = np.random.default_rng(70)
    X, U = rng.normal(size=(30, 5)), rng.normal(size=(200, 5))
    U[:10] = X[:10] + 1e-3 * rng.normal(size=(10, 5))  # near copies: memorized
    nn = nearest_neighbour_ratio(X, U)
    D = np.sqrt(((U[:, None] - X[None]) ** 2).sum(-1))
    Ds = np.sort(D, axis=1)
    np.testing.assert_array_equal(nn.index, D.argmin(1))
    np.testing.assert_allclose(nn.distance, Ds[:, 0], atol=1e-7)
    np.testing.assert_allclose(nn.ratio, Ds[:, 0] / Ds[:, 1], atol=1e-6)
    assert nn.memorized[:10].all() and nn.fraction_memorized == pytest.approx(np.mean(Ds[:, 0] / Ds[:, 1] < 1 / 3))
    one = nearest_neighbour_ratio(X[:1], U)
    assert one.ratio is None and one.memorized is None and math.isnan(one.fraction_memorized)
    with pytest.raises(ValueError, match="samples"):
        nearest_neighbour_ratio(X, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="train"):
        nearest_neighbour_ratio(np.zeros(3), U)


def test_sampler_uses_the_same_nearest_neighbour():
    """simulate.sample's nearest-neighbour statistics are those of nearest_neighbour_ratio."""
    import lindiff
    from lindiff import exact, simulate

    X, S = exact.draw_data(lindiff.Spectrum.powerlaw(3, k=1.0), N=12, seed=71)
    model = simulate.LinearModel.closed_form(X, lindiff.Schedule.linear(T=50), sigma=S)
    out = simulate.sample(model, 40, seed=3)
    nn = nearest_neighbour_ratio(X.T, out.samples.T)   # columns as points in the sampler
    assert np.array_equal(out.nearest_index, nn.index) and np.array_equal(out.nearest_ratio, nn.ratio)
    assert np.array_equal(out.nearest_distance, nn.distance)


# ----------------------------------------------------------------------------- exact data law as reference
def test_exact_law_reference_against_quadrature_d1():
    rng = np.random.default_rng(80)
    pm, pv = 3.0, 1.2
    X = pm + math.sqrt(pv) * rng.normal(size=(5, 1))
    law = (np.array([pm]), np.array([[pv]]))
    for mean, var, bw in [(3.2, 0.6, "halder"), (3.0, 0.05, 0.4), (4.5, 2.0, "collapse")]:
        r = relative_distance(X, law, (np.array([mean]), np.array([[var]])), bandwidth=bw)

        def f(x, mean=mean, var=var, eT=r.eps_T):
            pg = norm.pdf(x, mean, math.sqrt(var))
            return (pg - norm.pdf(x, X[:, 0], eT).mean()) ** 2 - (pg - norm.pdf(x, pm, math.sqrt(pv))) ** 2

        edges = np.concatenate([[-15.0], np.sort(X[:, 0]), [20.0]])
        q = math.fsum(integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-10, limit=200)[0]
                      for lo, hi in zip(edges[:-1], edges[1:]))
        assert r.M is None and math.isnan(r.eps_O) and r.log_off_O == -math.inf
        assert r.sigma == pytest.approx(math.sqrt(pv))
        assert r.delta == pytest.approx(q, rel=1e-9, abs=1e-14)
        assert r.positive == (q > 0)
    assert "exact law" in repr(r)


def test_exact_law_reference_d2_grid_and_monte_carlo():
    rng = np.random.default_rng(81)
    pm, pc = np.array([0.5, -0.5]), np.array([[1.0, 0.4], [0.4, 0.8]])
    X = rng.multivariate_normal(pm, pc, size=4)
    mean, cov = np.array([0.3, -0.2]), np.array([[0.7, 0.3], [0.3, 0.5]])
    r = relative_distance(X, (pm, pc), (mean, cov))
    g = np.linspace(-9, 9, 721)
    P = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    pg, pp = multivariate_normal(mean, cov).pdf(P), multivariate_normal(pm, pc).pdf(P)
    kT = np.mean([multivariate_normal(x, r.eps_T**2 * np.eye(2)).pdf(P) for x in X], axis=0)
    f = ((pg - kT) ** 2 - (pg - pp) ** 2).reshape(g.size, g.size)
    q = integrate.trapezoid(integrate.trapezoid(f, g, axis=1), g)
    assert r.delta == pytest.approx(q, rel=1e-8)
    z = []
    for _ in range(8):
        mc = relative_distance(X, (pm, pc), rng.multivariate_normal(mean, cov, size=20000))
        z.append((mc.delta - r.delta) / mc.stderr)
    assert np.all(np.abs(z) < 3.5)
    # KL variant: E[ln p - ln rho_T] over the given samples
    S = rng.multivariate_normal(mean, cov, size=300)
    k = relative_distance(X, (pm, pc), S, distance="kl")
    lT = np.log(np.mean([multivariate_normal(x, k.eps_T**2 * np.eye(2)).pdf(S) for x in X], axis=0))
    assert k.delta == pytest.approx(np.mean(multivariate_normal(pm, pc).logpdf(S) - lT), rel=1e-10)
    # a rank-deficient p_gen against the exact law: closed form = Monte Carlo
    V, w = np.array([[0.6], [0.8]]), np.array([0.9])
    exact = relative_distance(X, (pm, pc), (mean, (w, V)))
    S = mean + rng.normal(size=(40000, 1)) * math.sqrt(0.9) @ V.T
    mc = relative_distance(X, (pm, pc), S)
    assert abs(mc.delta - exact.delta) < 3.5 * mc.stderr
    with pytest.raises(ValueError, match="positive definite"):
        relative_distance(X, (pm, np.array([[1.0, 0.0], [0.0, 0.0]])), (mean, cov))
    with pytest.raises(ValueError, match="reference mean"):
        relative_distance(X, (np.zeros(3), pc), (mean, cov))


# ----------------------------------------------------------------------------- numerical resolution
def _mp_relative_distance(train, reference, generated, *, bandwidth="halder", distance="l2", sigma, dps=40):
    """Delta from the definitions in mpmath arithmetic, the float64 inputs taken as exact.

    A Gaussian is N(mean, V diag(w) V^T) (or the symmetric part of a covariance matrix); its
    density uses the mp inverse and determinant, or a diagonal form when V is made of columns of
    the identity (cheap at d = 100)."""
    mp = mpmath.mp
    mp.dps = dps
    X = [[mp.mpf(float(v)) for v in row] for row in np.asarray(train)]
    N, d = len(X), len(X[0])
    s2 = mp.mpf(float(sigma)) ** 2

    def eps2(n):
        if bandwidth == "halder":
            return s2 * mp.mpf(n) ** (mp.mpf(-2) / d)
        if bandwidth == "collapse":
            return s2 / (mp.mpf(n) ** (mp.mpf(2) / d) - 1)
        return mp.mpf(float(bandwidth)) ** 2

    def sq(a, b):
        return mp.fsum((ai - bi) ** 2 for ai, bi in zip(a, b))

    def self_term(P):
        n = len(P)
        e2 = eps2(n)
        off = mp.fsum(mp.exp(-sq(P[i], P[j]) / (4 * e2)) for i in range(n) for j in range(n) if i != j) / n
        return (4 * mp.pi * e2) ** (-mp.mpf(d) / 2) / n * (1 + off)

    def law(g, extra):
        """(mean, log-density) of N(mean, Sigma + extra * I)."""
        mean = [mp.mpf(float(v)) for v in np.asarray(g[0])]
        cov = g[1]
        if isinstance(cov, tuple):
            w, V = np.asarray(cov[0], dtype=float), np.asarray(cov[1], dtype=float)
            if np.all((V == 0) | (V == 1)) and np.all(V.sum(axis=0) == 1) and np.all(V.sum(axis=1) <= 1):
                diag = [mp.mpf(0)] * d
                for col in range(w.size):
                    diag[int(np.argmax(V[:, col]))] = mp.mpf(float(w[col]))
                a = [x + extra for x in diag]
                logdet = mp.fsum(mp.log(x) for x in a)

                def logpdf(x):
                    return -(d * mp.log(2 * mp.pi) + logdet + mp.fsum((x[c] - mean[c]) ** 2 / a[c]
                                                                      for c in range(d))) / 2
                return mean, logpdf, a
            S = mpmath.matrix(d, d)
            for i in range(d):
                for j in range(d):
                    S[i, j] = mp.fsum(mp.mpf(float(V[i, k])) * mp.mpf(float(w[k])) * mp.mpf(float(V[j, k]))
                                      for k in range(w.size))
        else:
            C = np.asarray(cov, dtype=float)
            S = mpmath.matrix(d, d)
            for i in range(d):
                for j in range(d):
                    S[i, j] = (mp.mpf(float(C[i, j])) + mp.mpf(float(C[j, i]))) / 2
        A = S + extra * mpmath.eye(d)
        inv: list = []   # the inverse on first use (A may be singular when only its sum with another is used)

        def logpdf(x):
            if not inv:
                inv.extend([A ** -1, mp.log(mpmath.det(A))])
            r = mpmath.matrix([x[c] - mean[c] for c in range(d)])
            return -(d * mp.log(2 * mp.pi) + inv[1] + (r.T * inv[0] * r)[0]) / 2
        return mean, logpdf, A

    def kde(s, P):
        e2 = eps2(len(P))
        return mp.fsum(mp.exp(-sq(s, p) / (2 * e2)) for p in P) / len(P) * (2 * mp.pi * e2) ** (-mp.mpf(d) / 2)

    exact_law = isinstance(reference, tuple)
    Y = None if exact_law else [[mp.mpf(float(v)) for v in row] for row in np.asarray(reference)]
    if exact_law:
        _, law_logpdf, _ = law(reference, mp.mpf(0))

    def rho_O(s):
        return mp.exp(law_logpdf(s)) if exact_law else kde(s, Y)

    def self_O_value():
        if not exact_law:
            return self_term(Y)
        # ∫p^2 = (4 pi)^(-d/2) det(S)^(-1/2) = N(m; m, 2 S) = exp(logpdf of N(m, 2S) at its mean)
        m, lp2, _ = law((reference[0], (2 * np.asarray(reference[1], dtype=float)) if not isinstance(reference[1], tuple)
                         else (2 * np.asarray(reference[1][0], dtype=float), reference[1][1])), mp.mpf(0))
        return mp.exp(lp2(m))

    if isinstance(generated, tuple):
        _, lpT, _ = law(generated, eps2(N))
        CT = mp.fsum(mp.exp(lpT(x)) for x in X) / N
        if exact_law:
            # ∫p_gen p = N(mu; m, Sigma_gen + Sigma_p): the covariances added in mp
            gm = [mp.mpf(float(v)) for v in np.asarray(generated[0])]
            Sg = law(generated, mp.mpf(0))[2]
            Sp = law(reference, mp.mpf(0))[2]
            if isinstance(Sg, list) and isinstance(Sp, list):
                A = [a + b for a, b in zip(Sg, Sp)]
                m = [mp.mpf(float(v)) for v in np.asarray(reference[0])]
                CO = mp.exp(-(d * mp.log(2 * mp.pi) + mp.fsum(mp.log(x) for x in A)
                              + mp.fsum((gm[c] - m[c]) ** 2 / A[c] for c in range(d))) / 2)
            else:
                to_m = (lambda S: S if not isinstance(S, list) else mpmath.diag(S))
                A = to_m(Sg) + to_m(Sp)
                m = [mp.mpf(float(v)) for v in np.asarray(reference[0])]
                r = mpmath.matrix([gm[c] - m[c] for c in range(d)])
                CO = mp.exp(-(d * mp.log(2 * mp.pi) + mp.log(mpmath.det(A)) + (r.T * A ** -1 * r)[0]) / 2)
        else:
            _, lpO, _ = law(generated, eps2(len(Y)))
            CO = mp.fsum(mp.exp(lpO(y)) for y in Y) / len(Y)
        return self_term(X) - self_O_value() - 2 * (CT - CO)
    S = [[mp.mpf(float(v)) for v in row] for row in np.asarray(generated)]
    if distance == "kl":
        return mp.fsum(mp.log(rho_O(s)) - mp.log(kde(s, X)) for s in S) / len(S)
    return self_term(X) - self_O_value() - 2 * mp.fsum(kde(s, X) - rho_O(s) for s in S) / len(S)


def _bound_and_error(r, exact):
    """(resolution, |Delta_computed - Delta|) in mp; Delta_computed from its sign and log."""
    sgn = 1 if r.delta > 0 else -1
    got = 0 if r.log_abs_delta == -math.inf else sgn * mpmath.exp(mpmath.mpf(r.log_abs_delta))
    return mpmath.exp(mpmath.mpf(r.log_resolution)), abs(got - exact)


_H4 = 0.5 * np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], float)  # exactly orthonormal


def _resolution_case(rng, i):
    """Small inputs of every kind: bandwidths, sample / exact-law references, full / rank-deficient
    eigenpairs, covariance matrices, samples (L2 and KL), offsets that make the centring round."""
    d = (1, 2, 4, 4)[i % 4]
    shift = (0.0, 10.0, -3.0)[i % 3]
    N, M = int(rng.integers(2, 8)), int(rng.integers(2, 20))
    X, Y = shift + rng.normal(size=(N, d)), shift + rng.normal(size=(M, d))
    bandwidth = ("halder", "collapse", 0.4)[(i // 3) % 3]
    reference = Y if (i // 5) % 3 else (shift + np.zeros(d), np.diag(rng.uniform(0.5, 2.0, d)))
    V = _H4 if d == 4 else np.eye(d)
    mean, w = shift + 0.3 * rng.normal(size=d), rng.uniform(0.1, 1.5, d)
    kind = ("eigenpairs", "rank-deficient", "matrix", "samples", "kl")[(i // 2) % 5]
    if kind == "eigenpairs":
        gen = (mean, (w, V))
    elif kind == "rank-deficient":
        k = d - 1
        gen = (mean, (w[:k], V[:, :k]))
    elif kind == "matrix":
        A = rng.normal(size=(d, d))
        gen = (mean, A @ A.T / d + 0.1 * np.eye(d))
    else:
        gen = mean + 0.8 * rng.normal(size=(int(rng.integers(2, 25)), d))
    return X, reference, gen, bandwidth, "kl" if kind == "kl" else "l2"


def test_resolution_bounds_the_actual_error_against_mpmath():
    """The bound holds in every case and is not absurdly loose: median bound / error ~ 1e2."""
    rng = np.random.default_rng(90)
    ratios = []
    for i in range(120):
        X, ref, gen, bw, dist = _resolution_case(rng, i)
        r = relative_distance(X, ref, gen, bandwidth=bw, distance=dist, sigma=1.0)
        exact = _mp_relative_distance(X, ref, gen, bandwidth=bw, distance=dist, sigma=1.0)
        bound, err = _bound_and_error(r, exact)
        assert err <= bound, (i, dist, bw, float(err), float(bound))
        if r.determined:
            assert r.sign == (1 if exact > 0 else -1)
        if err > 0:
            ratios.append(float(bound / err))
    ratios = np.array(ratios)
    assert ratios.size > 100
    assert 3.0 < np.median(ratios) < 2000.0      # measured: median ~140, 5th percentile ~40
    assert np.percentile(ratios, 5) > 5.0


def test_resolution_bounds_the_actual_error_at_d100():
    """The paper's dimension: offset data, rank-deficient and full generated laws, KDE reference."""
    rng = np.random.default_rng(91)
    d = 100
    for k in (7, 100):
        X, Y = 10.0 + rng.normal(size=(6, d)), 10.0 + rng.normal(size=(9, d))
        cols = rng.permutation(d)[:k]
        V = np.zeros((d, k))
        V[cols, np.arange(k)] = 1.0
        gen = (10.0 + 0.1 * rng.normal(size=d), (rng.uniform(0.2, 0.8, k), V))
        for bw in ("halder", 0.9):
            r = relative_distance(X, Y, gen, bandwidth=bw, sigma=1.0)
            exact = _mp_relative_distance(X, Y, gen, bandwidth=bw, sigma=1.0, dps=50)
            bound, err = _bound_and_error(r, exact)
            assert err <= bound and bound < 1e4 * max(err, mpmath.mpf(2) ** -60 * abs(exact))
            assert r.sign == (1 if exact > 0 else -1)


def test_kernel_rows_within_their_bound():
    """The C++ rows against mpmath, with the per-row bound of the resolution."""
    from lindiff.memorization._criterion import _rows_error

    rng = np.random.default_rng(92)
    mpmath.mp.dps = 40
    for d, n, m, scale, shift in [(1, 5, 9, 0.7, 0.0), (3, 4, 600, 0.3, 5.0), (50, 3, 40, 0.02, 10.0)]:
        X, Y = shift + rng.normal(size=(n, d)), shift + rng.normal(size=(m, d))
        rows = _core.logsumexp_gauss(X, Y, scale, 0)
        r_Y = float(np.sqrt(np.max(np.sum(Y * Y, axis=1))))
        errs = _rows_error(X, r_Y, scale, rows, np.full(n, float(m)), 0.0)
        for i in range(n):
            exact = mpmath.log(mpmath.fsum(mpmath.exp(-mpmath.mpf(scale) * mpmath.fsum(
                (mpmath.mpf(float(a)) - mpmath.mpf(float(b))) ** 2 for a, b in zip(X[i], y))) for y in Y))
            assert abs(rows[i] - exact) <= errs[i]
            assert errs[i] < 1e-9


def _mirror(rng, d, n):
    X = rng.normal(size=(n, d))
    return X, -X


@pytest.mark.parametrize("bandwidth", BANDWIDTHS)
def test_exact_ties_are_undetermined(bandwidth):
    """Delta = 0 exactly (mirror images through the mean of a symmetric p_gen, or the same point
    set twice): the computed Delta is rounding noise, and the sign must come out undetermined."""
    rng = np.random.default_rng(93)
    for d in (1, 3, 8):
        X, Y = _mirror(rng, d, 7)
        A = rng.normal(size=(d, d))
        for gen in ((np.zeros(d), A @ A.T + 0.1 * np.eye(d)), (np.zeros(d), (np.ones(1), np.eye(d)[:, :1])),
                    np.vstack([S := 0.7 * rng.normal(size=(50, d)), -S])):
            for dist in (("l2", "kl") if not isinstance(gen, tuple) else ("l2",)):
                r = relative_distance(X, Y, gen, bandwidth=bandwidth, distance=dist, sigma=1.0)
                assert r.sign == 0 and not r.determined and not r.positive
                assert r.log_abs_delta <= r.log_resolution
        # the same points in another order, a shift that makes the centring round
        P = 5.0 + rng.normal(size=(9, d))
        for gen in ((5.0 + np.zeros(d), np.eye(d)), 5.0 + rng.normal(size=(30, d))):
            r = relative_distance(P, P[rng.permutation(9)], gen, bandwidth=bandwidth, sigma=1.0)
            assert r.sign == 0 and not r.positive
    assert "undetermined" in repr(r)


def test_large_differences_are_determined():
    rng = np.random.default_rng(94)
    d, N, M = 8, 16, 400
    X, Y = rng.normal(size=(N, d)), rng.normal(size=(M, d))
    copies = relative_distance(X, Y, X[rng.integers(0, N, 500)])
    fresh = relative_distance(X, Y, (np.zeros(d), 0.5 * np.eye(d)))
    assert copies.sign == -1 and copies.determined and not copies.positive
    assert fresh.sign == 1 and fresh.positive
    for r in (copies, fresh):
        assert r.log_abs_delta - r.log_resolution > 20.0      # ~1e-12 of the largest term
        assert r.resolution == pytest.approx(math.exp(r.log_resolution))
    # the one-step model at d = 100: the signs are determined with about 10 decades to spare
    from lindiff.memorization import OneStepModel, ReferenceSample

    model = OneStepModel(100, 2)
    ref = ReferenceSample(model.sample_data(1000, 1))
    for N in (25, 100, 400):
        fit = model.with_N(N).fit(2)
        r = relative_distance(fit.train, ref, fit.generated, sigma=1.0)
        assert r.determined and (r.log_abs_delta - r.log_resolution) / math.log(10) > 8


# ----------------------------------------------------------------------------- fuzzing (hypothesis)
try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is optional: the fuzz tests are skipped without it
    given = None

if given is not None:
    # a fixed, reproducible set of examples by default; LINDIFF_FUZZ_EXAMPLES=n for a longer random run
    _N_FUZZ = int(os.environ.get("LINDIFF_FUZZ_EXAMPLES", "0"))
    _FUZZ = settings(max_examples=_N_FUZZ or 60, deadline=None, derandomize=not _N_FUZZ, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

    @st.composite
    def _inputs(draw, same_size=False):
        """Fresh arrays per example (nothing shared between examples): points on a coarse grid (ties
        and duplicates happen), a scale over many decades, any bandwidth, any kind of p_gen."""
        d = draw(st.integers(1, 5))
        N = draw(st.integers(1, 6))
        M = N if same_size else draw(st.integers(1, 9))
        scale = 10.0 ** draw(st.integers(-30, 30))
        shift = draw(st.sampled_from([0.0, 1.0, -7.5, 1e3]))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        grid = draw(st.sampled_from([0.0, 0.25, 1.0]))     # 0: continuous; else rounded to the grid
        pts = rng.normal(size=(N + M, d))
        if grid:
            pts = np.round(pts / grid) * grid
        X, Y = scale * (shift + pts[:N]), scale * (shift + pts[N:])
        bandwidth = draw(st.sampled_from(["halder", "collapse", 0.5 * scale, 3.0 * scale]))
        kind = draw(st.sampled_from(["eigenpairs", "rank", "matrix", "zero", "samples", "kl"]))
        mean = scale * (shift + 0.5 * rng.normal(size=d))
        V = np.linalg.qr(rng.normal(size=(d, d)))[0]
        w = scale**2 * rng.uniform(0.05, 2.0, d)
        gen = {"eigenpairs": (mean, (w, V)), "rank": (mean, (w[: d - 1], V[:, : d - 1])),
               "matrix": (mean, (V * w) @ V.T), "zero": (mean, np.zeros((d, d))),
               "samples": mean + scale * rng.normal(size=(int(rng.integers(2, 12)), d)),
               "kl": mean + scale * rng.normal(size=(int(rng.integers(2, 12)), d))}[kind]
        law = draw(st.booleans())
        reference = (scale * shift + np.zeros(d), scale**2 * np.eye(d)) if law else Y
        return X, reference, gen, dict(bandwidth=bandwidth, distance="kl" if kind == "kl" else "l2", sigma=scale)

    def _call(X, reference, gen, kw):
        """relative_distance, or None for the one documented refusal of valid-looking input."""
        try:
            return relative_distance(X, reference, gen, **kw)
        except ValueError as exc:   # 'collapse' with a single point per KDE
            assert "collapse" in str(exc) and kw["bandwidth"] == "collapse"
            return None

    @_FUZZ
    @given(_inputs())
    def test_fuzz_verdict_is_consistent(case):
        X, reference, gen, kw = case
        r = _call(X, reference, gen, kw)
        if r is None:
            return
        assert r.sign in (-1, 0, 1) and r.determined == (r.sign != 0) and r.positive == (r.sign == 1)
        assert not math.isnan(r.log_resolution) and not math.isnan(r.log_abs_delta)
        if r.determined:
            assert r.log_abs_delta > r.log_resolution
            assert r.delta == 0.0 or math.isinf(r.delta) or np.sign(r.delta) == r.sign
        else:
            assert r.log_abs_delta <= r.log_resolution

    @_FUZZ
    @given(_inputs(same_size=True))
    def test_fuzz_mirror_images_are_undetermined(case):
        """Reference = -train and a p_gen symmetric about 0: Delta = 0 exactly, never a sign."""
        X, _, gen, kw = case
        if isinstance(gen, tuple):
            gen = (np.zeros_like(gen[0]), gen[1])
        else:
            gen = np.vstack([gen, -gen])
        if kw["bandwidth"] == "collapse" and X.shape[0] < 2:
            return
        r = relative_distance(X, -X, gen, **kw)
        assert r.sign == 0 and not r.positive

    @_FUZZ
    @given(_inputs(same_size=True))
    def test_fuzz_swapping_train_and_reference_never_flips_a_determined_sign(case):
        """Delta(train, reference) = -Delta(reference, train) when N = M (same bandwidth and sigma):
        the two evaluations round differently (other centring), but determined signs must agree."""
        X, reference, gen, kw = case
        if isinstance(reference, tuple) or (kw["bandwidth"] == "collapse" and X.shape[0] < 2):
            return
        a, b = relative_distance(X, reference, gen, **kw), relative_distance(reference, X, gen, **kw)
        assert a.sign * b.sign != 1

    @_FUZZ
    @given(_inputs(), st.sampled_from([2.0**-40, 1e-7, 3.0, 2.0**35]))
    def test_fuzz_rescaling_never_flips_a_determined_sign(case, lam):
        """x -> lam x with sigma, bandwidth and p_gen scaled alike multiplies Delta (L2) by lam^-d
        and leaves the KL form unchanged: a determined sign must survive (or become undetermined)."""
        X, reference, gen, kw = case
        scaled_ref = (lam * reference[0], lam**2 * reference[1]) if isinstance(reference, tuple) else lam * reference
        if isinstance(gen, tuple):
            cov = gen[1]
            scaled_gen = (lam * gen[0], (lam**2 * cov[0], cov[1]) if isinstance(cov, tuple) else lam**2 * cov)
        else:
            scaled_gen = lam * gen
        kw2 = dict(kw, sigma=lam * kw["sigma"],
                   bandwidth=kw["bandwidth"] if isinstance(kw["bandwidth"], str) else lam * kw["bandwidth"])
        a = _call(X, reference, gen, kw)
        try:
            b = _call(lam * X, scaled_ref, scaled_gen, kw2)
        except ValueError as exc:            # pushed out of the floating-point range: a clear refusal
            assert "range" in str(exc) or "overflow" in str(exc)
            return
        if a is not None and b is not None:
            assert a.sign * b.sign != -1

    _BAD = ["nan train", "inf reference", "nan mean", "shape", "1-d train", "sigma 0", "sigma inf", "sigma -1",
            "bandwidth str", "bandwidth 0", "bandwidth nan", "bandwidth bool", "asymmetric", "negative eigenvalue",
            "not orthonormal", "overflow", "huge sigma", "tiny bandwidth", "distance", "one sample", "empty train",
            "singular law"]

    @_FUZZ
    @given(_inputs(), st.sampled_from(_BAD))
    def test_fuzz_invalid_input_is_a_value_error(case, bad):
        X, reference, gen, kw = case
        X, kw = X.copy(), dict(kw)
        d = X.shape[1]
        Y = reference if not isinstance(reference, tuple) else np.random.default_rng(0).normal(size=(5, d))
        g = (np.zeros(d), np.eye(d))
        args = [X, Y, g]
        if bad == "nan train":
            X[0, 0] = np.nan
        elif bad == "inf reference":
            args[1] = np.vstack([Y, np.full((1, d), np.inf)])
        elif bad == "nan mean":
            args[2] = (np.full(d, np.nan), np.eye(d))
        elif bad == "shape":
            args[1] = np.zeros((5, d + 1))
        elif bad == "1-d train":
            args[0] = X[:, 0]
        elif bad in ("sigma 0", "sigma inf", "sigma -1"):
            kw["sigma"] = {"sigma 0": 0.0, "sigma inf": math.inf, "sigma -1": -1.0}[bad]
        elif bad in ("bandwidth str", "bandwidth 0", "bandwidth nan", "bandwidth bool"):
            kw["bandwidth"] = {"bandwidth str": "scott", "bandwidth 0": 0.0, "bandwidth nan": math.nan,
                               "bandwidth bool": True}[bad]
        elif bad == "asymmetric":
            args[2] = (np.zeros(d), np.eye(d) + np.triu(np.ones((d, d)), 1)) if d > 1 else (np.zeros(2), np.eye(2))
        elif bad == "negative eigenvalue":
            args[2] = (np.zeros(d), (-np.ones(1), np.eye(d)[:, :1]))
        elif bad == "not orthonormal":
            args[2] = (np.zeros(d), (np.ones(1), 2.0 * np.eye(d)[:, :1]))
        elif bad == "overflow":
            args[0] = X + 1e200
        elif bad == "huge sigma":       # the kernel width sigma n^(-1/d) overflows
            kw["sigma"], kw["bandwidth"] = 1e300, "halder"
        elif bad == "tiny bandwidth":
            kw["bandwidth"] = 1e-200
        elif bad == "distance":
            kw["distance"] = "hellinger"
        elif bad == "one sample":
            args[2] = np.zeros((1, d))
        elif bad == "empty train":
            args[0] = np.zeros((0, d))
        elif bad == "singular law":
            args[1] = (np.zeros(d), np.zeros((d, d)))
        with pytest.raises(ValueError):
            relative_distance(*args, **kw)
else:  # pragma: no cover
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_fuzz_relative_distance():
        pass


def test_distance_turnover_plateau_and_peak() -> None:
    """The N where the individual distance starts to fall: the end of a plateau (H^2 = 1 for N <= d),
    bracketed by the next grid N; a finite peak by a parabola in ln N, inside its neighbours."""
    import xarray as xr

    from lindiff.memorization import OneStepModel, distance_turnover, transition

    ds = transition(OneStepModel(4, 2).with_N, [2, 3, 4, 6, 12, 48], repeats=16, reference_size=400, n_bootstrap=50)
    t = distance_turnover(ds)
    assert (t.N, t.low, t.high, t.statistic) == (4.0, 4.0, 6.0, "mean") and t.note.startswith("end of a plateau")
    assert np.all(ds.hellinger2.sel(N=[2, 3, 4]).values == 1.0) and np.all(ds.hellinger2.sel(N=6).values < 1.0)
    # a synthetic peak at N = 20 (y = -(ln N - ln 20)^2 + noise): the estimate lies near it, inside the grid bracket
    N = np.array([5, 10, 20, 40, 80])
    rng = np.random.default_rng(0)
    y = -(np.log(N)[:, None] - np.log(20.0)) ** 2 + 0.01 * rng.normal(size=(5, 30))
    peak = xr.Dataset({"kl_fwd": (("N", "repeat"), y)}, coords={"N": N}, attrs={"seed": 1, "n_bootstrap": 100})
    t = distance_turnover(peak, "kl_fwd")
    assert 15 < t.N < 27 and 10 <= t.low <= t.N <= t.high <= 40 and t.note.startswith("peak")
    rising = peak.assign(kl_fwd=peak.kl_fwd.copy(data=np.log(N)[:, None] + 0 * y))
    assert math.isnan(distance_turnover(rising, "kl_fwd").N)           # still rising: not reached
    with pytest.raises(ValueError, match="distance"):
        distance_turnover(ds, "l2")
    with pytest.raises(ValueError, match="ds"):
        distance_turnover(ds.drop_vars("hellinger2"))


if given is not None:
    _turnover_values = st.floats(-1e3, 1e3) | st.sampled_from([math.nan, math.inf, 0.0, 1.0])

    @_FUZZ
    @given(st.integers(1, 7), st.integers(1, 6), st.data(), st.sampled_from(["hellinger2", "kl_fwd", "kl_rev"]))
    def test_fuzz_distance_turnover(n_N: int, repeats: int, data: st.DataObject, distance: str) -> None:
        """Any curve (NaN, inf, flat, single N): a Turnover inside the grid or NaN, never an
        exception; out-of-range confidence / n_bootstrap: ValueError naming the argument."""
        import xarray as xr

        from lindiff.memorization import distance_turnover

        N = np.cumsum(data.draw(st.lists(st.integers(1, 50), min_size=n_N, max_size=n_N))).astype(float)
        y = np.array(data.draw(st.lists(_turnover_values, min_size=n_N * repeats, max_size=n_N * repeats)))
        ds = xr.Dataset({distance: (("N", "repeat"), y.reshape(n_N, repeats))}, coords={"N": N},
                        attrs={"seed": 3, "n_bootstrap": 20})
        with np.errstate(all="ignore"):
            t = distance_turnover(ds, distance)
        assert math.isnan(t.N) or N[0] <= t.N <= N[-1]
        assert 0.0 <= t.bootstrap_missing <= 1.0
        if math.isfinite(t.low) and math.isfinite(t.high):
            assert t.low <= t.high
        bad = data.draw(st.sampled_from([("confidence", 1.5), ("confidence", 0.2), ("n_bootstrap", 0),
                                         ("n_bootstrap", 2.5), ("confidence", math.nan)]))
        with pytest.raises(ValueError, match=bad[0]):
            distance_turnover(ds, distance, **{bad[0]: bad[1]})
