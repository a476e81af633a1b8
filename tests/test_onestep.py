"""lindiff.memorization.OneStepModel: Halder's one-step linear denoiser and its theory (spec §2).

References: the SymPy derivation (``lindiff.derivations``, module memorization) evaluated at 30
digits, mpmath quadrature, numpy's least squares, and seeded simulation of the model itself with
tolerances from the standard error.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from lindiff.derivations import memorization as dm
from lindiff.derivations.symbols import N as N_, T as T_, d as d_, ell, gam, kappa as k_, sigma as s_
from lindiff.memorization import OneStepModel, free_log_det, relative_distance
from lindiff.memorization._onestep import _mean_log_chi2


@pytest.fixture(scope="module")
def derivation():
    return dm.build().results


def test_kappa_matches_derivation(derivation):
    for T, l, sig in ((2.0, math.exp(-4), 1.0), (0.5, 0.3, 2.0), (3.0, 1e-3, 0.7)):
        m = OneStepModel(4, 10, T=T, l=l, sigma=sig)
        ref = float(sp.N(derivation["kappa"].subs({T_: sp.Float(T, 30), ell: sp.Float(l, 30), s_: sp.Float(sig, 30)}), 30))
        assert m.kappa == pytest.approx(ref, rel=1e-14)
        assert m.a ** 2 * sig ** 2 / (m.a ** 2 * sig ** 2 + m.b ** 2) == pytest.approx(ref, rel=1e-13)
    assert round(OneStepModel(8, 16).kappa, 4) == 0.5046


@pytest.mark.parametrize("g,k", [(0.7, 0.3), (0.95, 0.1), (0.51, 0.5), (0.3, 0.29)])
def test_free_log_det_matches_derivation(derivation, g, k):
    ref = float(sp.N(dm.J_closed().subs({gam: sp.Float(g, 30), k_: sp.Float(k, 30)}), 30))
    assert free_log_det(g, k) == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert free_log_det(k * 0.99, k) == 0.0


@pytest.mark.parametrize("d,N,k", [(8, 12, 0.5046), (8, 128, 0.3), (32, 48, 0.8), (1, 5, 0.5), (8, 3, 0.5046),
                                   (32, 20, 0.3)])
def test_theory_matches_derivation(derivation, d, N, k):
    """Exact trace (pinned c), mean error, large-N series and floors at 30 digits."""
    l = (1 / k - 1) / math.expm1(4.0)                      # T = 2, sigma = 1 -> this kappa
    th = OneStepModel(d, N, l=l).theory()
    kk = OneStepModel(d, N, l=l).kappa
    sub = {d_: d, N_: N, k_: sp.Float(kk, 30)}
    key = "exact_trace" if N - 1 > d + 1 else "exact_trace_min_norm"
    assert th["trace_mean"] == pytest.approx(float(sp.N(derivation[key].rhs.subs(sub), 30)), rel=1e-12)
    key = "mean_error" if N - 1 > d + 1 else "mean_error_min_norm"
    assert th["mean_sq"] == pytest.approx(float(sp.N(derivation[key].subs(sub), 30)), rel=1e-12)
    assert th["kl_large_n"] == pytest.approx(float(sp.N(derivation["kl_large_N"].subs(sub), 30)), rel=1e-12)
    assert th["kl_fwd_floor"] == pytest.approx(float(sp.N(derivation["floor_kl_fwd"].subs(sub), 30)), rel=1e-12)
    assert th["kl_rev_floor"] == pytest.approx(float(sp.N(derivation["floor_kl_rev"].subs(sub), 30)), rel=1e-12)
    h2 = derivation["floor_hellinger"].subs({sp.Symbol("d", positive=True): d, k_: sp.Float(kk, 30)})
    assert th["h2_floor"] == pytest.approx(float(sp.N(h2, 30)), rel=1e-12)
    assert th["n_c"] == pytest.approx(1 + d / kk, rel=1e-15)
    assert th["kl_lower_bound"] <= th["kl_de"]            # (inf <= inf for N <= d)


@pytest.mark.parametrize("k_dof,kap", [(7, 0.5), (96, 0.5046), (10_000, 0.2), (2, 0.9)])
def test_mean_log_chi2_against_mpmath(k_dof, kap):
    with mpmath.workdps(30):
        a = mpmath.mpf(k_dof) / 2
        dens = lambda u: mpmath.exp(a * mpmath.log(a) - mpmath.loggamma(a) + (a - 1) * mpmath.log(u) - a * u)
        sd = mpmath.sqrt(mpmath.mpf(2) / k_dof)
        lo = max(mpmath.mpf(0), 1 - 40 * sd)
        ref = mpmath.quad(lambda u: mpmath.log(1 - kap + kap * u) * dens(u), [lo, 1 - sd, 1, 1 + sd, 1 + 40 * sd])
    assert _mean_log_chi2(k_dof, kap) == pytest.approx(float(ref), rel=1e-9, abs=1e-14)
    assert _mean_log_chi2(k_dof, kap) == pytest.approx(-kap**2 / k_dof, rel=0.5)   # leading term


def test_theory_divergent_and_degenerate_ranges():
    for N in (9, 10):                                    # N - 1 in {d, d + 1}: E tr G^-1 diverges
        th = OneStepModel(8, N).theory()
        assert th["trace_mean"] == math.inf and th["kl_de"] == math.inf
    th = OneStepModel(8, 5).theory()                     # N <= d: finite moments, KL infinite
    assert math.isfinite(th["trace_mean"]) and math.isfinite(th["mean_sq"])
    assert th["kl_de"] == th["kl_de1"] == th["kl_lower_bound"] == math.inf


# ---------------------------------------------------------------- one fit
@pytest.mark.parametrize("d,N", [(6, 20), (6, 7), (6, 4), (10, 2)])
def test_fit_is_least_squares(d, N):
    model = OneStepModel(d, N)
    fit = model.fit(seed=3)
    rng = np.random.default_rng(np.random.SeedSequence(3))
    X = model.m + model.sigma * rng.standard_normal((N, d))
    Y = model.a * X + model.b * rng.standard_normal((N, d))
    np.testing.assert_array_equal(fit.train, X)
    Yi = np.hstack([np.ones((N, 1)), Y])
    coef = np.linalg.lstsq(Yi - np.r_[0.0, Y.mean(0)], X, rcond=None)[0]   # centred design: same minimiser
    B1 = np.linalg.pinv(Y - Y.mean(0), rcond=1e-10) @ (X - X.mean(0))
    np.testing.assert_allclose(fit.beta1, B1.T, atol=1e-9 * max(1.0, np.abs(B1).max()))
    if N - 1 >= d:
        np.testing.assert_allclose(fit.beta1, coef[1:].T, atol=1e-8)
    np.testing.assert_allclose(fit.beta0, X.mean(0) - fit.beta1 @ Y.mean(0), atol=1e-9)
    c = model.a**2 * np.mean(np.var(X, axis=0, ddof=1)) + model.b**2
    assert fit.c == pytest.approx(c, rel=1e-14)
    np.testing.assert_allclose(fit.cov, c * fit.beta1 @ fit.beta1.T, atol=1e-10 * max(1.0, np.abs(fit.cov).max()))
    np.testing.assert_allclose(fit.mean, fit.beta0 + model.a * fit.beta1 @ X.mean(0), atol=1e-9)


@pytest.mark.parametrize("d,N", [(8, 3), (8, 8), (8, 9), (8, 30), (32, 20), (32, 33), (32, 64)])
def test_rank_and_affine_hull(d, N):
    fit = OneStepModel(d, N).fit(seed=11)
    assert fit.rank == min(N - 1, d)
    if N <= d:
        X = fit.train
        Q, _ = np.linalg.qr((X - X.mean(0)).T)           # orthonormal basis of the centred training span
        V = fit.eigenvectors
        assert np.max(np.abs(V - Q @ (Q.T @ V))) < 1e-10
        r = fit.mean - X.mean(0)
        assert np.max(np.abs(r - Q @ (Q.T @ r))) < 1e-10 * max(1.0, np.abs(r).max())
        assert fit.kl_fwd == fit.kl_rev == math.inf and fit.hellinger2 == 1.0
    else:
        assert math.isfinite(fit.kl_fwd) and math.isfinite(fit.kl_rev) and fit.hellinger2 < 1.0


def test_ldm_convention_same_trace_and_det_other_support():
    d = 8
    for N in (5, 40):
        a = OneStepModel(d, N).fit(seed=2)
        b = OneStepModel(d, N, sigma_convention="ldm").fit(seed=2)
        np.testing.assert_array_equal(a.train, b.train)
        np.testing.assert_allclose(np.sort(a.eigenvalues), np.sort(b.eigenvalues), rtol=1e-10)
        np.testing.assert_allclose(b.cov, b.c * b.beta1.T @ b.beta1, atol=1e-10 * np.abs(b.cov).max())
        if N > d:
            assert b.kl_fwd == pytest.approx(a.kl_fwd, rel=1e-10)      # trace and determinant agree
            assert b.kl_rev != pytest.approx(a.kl_rev, rel=1e-6)
        else:
            Q, _ = np.linalg.qr((a.train - a.train.mean(0)).T)
            V = b.eigenvectors
            assert np.max(np.abs(V - Q @ (Q.T @ V))) > 1e-3         # not on the training span


def test_fit_distances_against_closed_forms():
    model = OneStepModel(5, 60, m=2.0, sigma=1.5)
    fit = model.fit(seed=4)
    S, mu, s2 = fit.cov, fit.mean, model.sigma**2
    d = 5
    kl_f = 0.5 * (np.trace(S) / s2 - d - np.linalg.slogdet(S / s2)[1] + np.sum((mu - model.m) ** 2) / s2) / d
    Si = np.linalg.inv(S)
    kl_r = 0.5 * (s2 * np.trace(Si) - d + np.linalg.slogdet(S / s2)[1] + (mu - model.m) @ Si @ (mu - model.m)) / d
    A = 0.5 * (S + s2 * np.eye(d))
    dm_ = mu - model.m
    bc = (np.linalg.det(S) ** 0.25 * s2 ** (d / 4) / np.sqrt(np.linalg.det(A))) * np.exp(-dm_ @ np.linalg.solve(A, dm_) / 8)
    assert fit.kl_fwd == pytest.approx(kl_f, rel=1e-11)
    assert fit.kl_rev == pytest.approx(kl_r, rel=1e-11)
    assert fit.hellinger2 == pytest.approx(1 - bc, rel=1e-11)
    xs = fit.sample(20000, seed=1)
    assert np.abs(xs.mean(0) - mu).max() < 5 * np.sqrt(np.diag(S).max() / 20000)


def test_bad_input():
    for kw, match in (({"d": 0, "N": 5}, "d"), ({"d": 3, "N": 1}, "N"), ({"d": 3, "N": 5, "T": -1}, "T"),
                      ({"d": 3, "N": 5, "l": 0}, "l"), ({"d": 3, "N": 5, "sigma": float("nan")}, "sigma"),
                      ({"d": 3, "N": 5, "m": float("inf")}, "m"), ({"d": 3, "N": 5, "sigma_convention": "x"}, "sigma_convention"),
                      ({"d": 3, "N": 5, "rcond": 2.0}, "rcond")):
        with pytest.raises(ValueError, match=match):
            OneStepModel(**kw)
    with pytest.raises(ValueError, match="seed"):
        OneStepModel(3, 5).fit(seed=-1)
    with pytest.raises(ValueError, match="gamma"):
        free_log_det(1.5, 0.5)


# ---------------------------------------------------------------- theory vs simulation
def _simulate(d: int, N: int, reps: int):
    model = OneStepModel(d, N)
    tr, m2, kl, h2 = (np.empty(reps) for _ in range(4))
    for r in range(reps):
        f = model.fit(seed=np.random.SeedSequence(2024, spawn_key=(d, N, r)))
        tr[r], m2[r], kl[r], h2[r] = f.eigenvalues.sum(), np.sum((f.mean - model.m) ** 2), f.kl_fwd, f.hellinger2
    return model.theory(), tr, m2, kl, h2


def _z(x: np.ndarray, ref: float) -> float:
    return abs(x.mean() - ref) / (x.std(ddof=1) / math.sqrt(x.size))


@pytest.mark.parametrize("d", [8, 32])
@pytest.mark.parametrize("ratio", [1.5, 4, 16])
def test_moments_bound_and_de_against_simulation(d, ratio):
    N = int(ratio * d)
    th, tr, m2, kl, _ = _simulate(d, N, 2000 if d == 8 else 600)
    assert _z(tr, th["trace_mean"]) < 3.0
    assert _z(m2, th["mean_sq"]) < 3.0
    se = kl.std(ddof=1) / math.sqrt(kl.size)
    assert kl.mean() > th["kl_lower_bound"] - 3 * se                # the Jensen bound holds
    assert kl.mean() > th["kl_fwd_floor"]
    if d == 32:
        assert th["kl_de"] == pytest.approx(kl.mean(), rel=0.05)     # the deterministic equivalent
    assert th["kl_de1"] == pytest.approx(kl.mean(), rel=0.03)        # with its finite-size correction


@pytest.mark.parametrize("N", [3, 5])
def test_minimum_norm_moments_against_simulation(N):
    """N - 1 < d - 1: E tr Sigma and E|mu - m|^2 of the minimum-norm fit (H = Y_c Y_c^T Wishart with d dof)."""
    th, tr, m2, kl, h2 = _simulate(8, N, 3000)
    assert math.isfinite(th["trace_mean"]) and _z(tr, th["trace_mean"]) < 3.0
    assert _z(m2, th["mean_sq"]) < 3.0
    assert np.all(np.isinf(kl)) and np.all(h2 == 1.0)


def test_floors_and_large_n_series_against_simulation():
    """At N = 256 d the large-N series holds within 3 s.e.; H^2 approaches its floor."""
    d = 8
    N = 256 * d
    th, _, _, kl, h2 = _simulate(d, N, 800)
    assert _z(kl, th["kl_large_n"]) < 3.0
    assert _z(kl - (th["kl_large_n"] - th["kl_fwd_floor"]), th["kl_fwd_floor"]) < 3.0
    assert h2.mean() == pytest.approx(th["h2_floor"], rel=0.05)
    assert h2.mean() > th["h2_floor"]


def test_criterion_transition_between_memorization_and_generalization():
    """N <= d: p_gen sits on the training points' affine hull (Delta < 0); N >> d: Delta > 0."""
    d = 8
    model = OneStepModel(d, 4)
    ref = model.sample_data(4000, seed=99)
    assert not relative_distance(model.fit(1).train, ref, model.fit(1).generated, sigma=1.0).positive
    big = model.with_N(256)
    assert relative_distance(big.fit(1).train, ref, big.fit(1).generated, sigma=1.0).positive


def test_fit_takes_a_users_training_set() -> None:
    """fit(train=X): the given points, the seed's own forward noise; bad shapes name train."""
    import numpy as np
    import pytest

    from lindiff.memorization import OneStepModel

    model = OneStepModel(d=6, N=20)
    own = model.fit(seed=3)
    again = model.fit(seed=3, train=own.train)
    assert np.array_equal(again.beta1, own.beta1) and np.array_equal(again.mean, own.mean)
    assert again.kl_fwd == own.kl_fwd
    mine = 10.0 + 0.5 * np.random.default_rng(9).standard_normal((20, 6))
    fit = model.fit(seed=3, train=mine)
    assert np.array_equal(fit.train, mine) and not np.array_equal(fit.beta1, own.beta1)
    for bad in (mine[:, :5], mine[:19], [[1.0, float("nan")] * 3] * 20, "x"):
        with pytest.raises(ValueError, match="train"):
            model.fit(seed=3, train=bad)
