"""lindiff.memorization: the relative-distance criterion (spec memorization.md §1) and the
nearest-neighbour test, checked against brute force, quadrature and high-precision arithmetic."""

from __future__ import annotations

import math

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
    from lindiff.simulate import _sample

    assert not hasattr(_sample, "_nearest")
    rng = np.random.default_rng(71)
    X, U = rng.normal(size=(3, 12)), rng.normal(size=(3, 40))  # columns as points, as in the sampler
    idx, dist, ratio = _sample._nearest_rows(X.T, U.T)
    nn = nearest_neighbour_ratio(X.T, U.T)
    assert np.array_equal(idx, nn.index) and np.array_equal(ratio, nn.ratio) and np.array_equal(dist, nn.distance)


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
