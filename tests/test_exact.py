"""lindiff.exact: the finite-sample closed forms against brute force in the original basis.

Every reference here is computed densely in the basis of X, without C's eigenbasis: W_t from
scipy.linalg.expm (gradient flow), np.linalg.solve (minimiser) or explicit GD iterations, losses
as traces (or as literal averages over the training columns), Sigma_gen from the matrix recursion
of the sampler, the KL from slogdet, and a seeded Monte Carlo of the sampler itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import lindiff
from lindiff import exact
from lindiff.theory import kl_wishart

SCHED = lindiff.Schedule.linear()                                    # pinned, T = 1000
SHORT = lindiff.Schedule.linear(T=100, beta_min=1e-3, beta_max=0.1)  # abar_T ~ 0.006, cheap to iterate
TIMES = [1, 2, 37, 500, 1000]
ETA_TAU = [0.3, 5.0, 200.0, np.inf]


def random_spd(d: int, rng: np.random.Generator) -> np.ndarray:
    A = rng.standard_normal((d, d))
    return A @ A.T / d + 0.2 * np.eye(d)


# ------------------------------------------------------------------ dense brute force
def dense_M(C: np.ndarray, a2: float, b2: float, c: float) -> np.ndarray:
    return a2 * C + (b2 + c) * np.eye(C.shape[0])


def dense_flow(M: np.ndarray, et: float) -> np.ndarray:
    """M^-1 (I - expm(-2 eta tau M)), the gradient-flow matrix function (the minimiser at inf)."""
    d = M.shape[0]
    rhs = np.eye(d) if np.isinf(et) else np.eye(d) - scipy.linalg.expm(-2.0 * et * M)
    return np.linalg.solve(M, rhs)


def dense_gd(C: np.ndarray, a2: float, b2: float, c: float, eta: float, n: int) -> np.ndarray:
    """n explicit GD steps on L(W) = ||I - bW||^2 + a^2 Tr W C W^T + c ||W||^2 from W = 0."""
    b = np.sqrt(b2)
    d = C.shape[0]
    W = np.zeros((d, d))
    for _ in range(n):
        grad = -2 * b * (np.eye(d) - b * W) + 2 * a2 * W @ C + 2 * c * W
        W = W - eta * grad
    return W


def estimator_error(K: np.ndarray, k0: np.ndarray, P: np.ndarray, Q: np.ndarray, Sx: np.ndarray,
                    a: float, b: float) -> float:
    """E ||P x0 + Q eps - (K x_t + k0)||^2 / d for x_t = a x0 + b eps, x0 ~ (0, Sx), eps ~ N(0, I)."""
    d = K.shape[0]
    R0, R1 = P - a * K, Q - b * K
    return float((np.trace(R0 @ Sx @ R0.T) + np.trace(R1 @ R1.T) + k0 @ k0) / d)


def brute_losses(X: np.ndarray, Sigma: np.ndarray, centred: bool, sched: lindiff.Schedule, c: float,
                 times: list[int], eta_tau: list[float], gd: tuple[float, list[int]] | None = None) -> dict:
    d, N = X.shape
    I, Z = np.eye(d), np.zeros((d, d))
    xbar = X.mean(axis=1) if centred else np.zeros(d)
    Xc = X - xbar[:, None]
    C = Xc @ Xc.T / (N - 1) if centred else X @ X.T / N
    out = {k: np.zeros((len(eta_tau), len(times))) for k in ("test", "train", "data_noise", "data_ridge")}
    out["optimum"] = np.zeros(len(times))
    for j, t in enumerate(times):
        a2, b2 = sched.a2[t - 1], sched.b2[t - 1]
        a, b = np.sqrt(a2), np.sqrt(b2)
        M = dense_M(C, a2, b2, c)
        for i, et in enumerate(eta_tau):
            if gd is None:
                F = dense_flow(M, et)
                W, U = b * F, a * C @ F
            else:
                eta, steps = gd
                W = dense_gd(C, a2, b2, c, eta, steps[i])
                U = np.full((d, d), np.nan)  # not checked for GD
            # noise predictor eps_hat = W (x_t - a xbar) = W x_t - a W xbar
            out["test"][i, j] = estimator_error(W, -a * W @ xbar, Z, I, Sigma, a, b)
            noise = np.trace((I - b * W) @ (I - b * W).T)
            # noise averaged over the training columns; a learned mean normalises by N - 1
            data_part = sum(np.sum((W @ (x - xbar)) ** 2) for x in X.T) / (N - 1 if centred else N)
            out["train"][i, j] = (noise + a2 * data_part) / d
            # x0 from the noise predictor: x0_hat = (x_t - b eps_hat)/a = K x_t + b W xbar
            out["data_noise"][i, j] = estimator_error((I - b * W) / a, b * W @ xbar, I, Z, Sigma, a, b)
            # ridge data predictor x0_hat = U (x_t - a xbar) + xbar
            out["data_ridge"][i, j] = estimator_error(U, (I - a * U) @ xbar, I, Z, Sigma, a, b)
        Wref = b * np.linalg.inv(a2 * Sigma + b2 * I)
        out["optimum"][j] = estimator_error(Wref, np.zeros(d), Z, I, Sigma, a, b)
    return out


def make_case(d: int, N: int, rotate: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if rotate:
        return exact.draw_data(lindiff.Spectrum.powerlaw(d, k=1.5), N, seed, rotate=True)
    Sigma = random_spd(d, np.random.default_rng(seed))
    return exact.draw_data(Sigma, N, seed)


CASES = [  # d, N, c, centred, rotate
    (8, 5, 0.0, False, True),
    (8, 5, 0.01, False, False),
    (6, 20, 0.0, False, True),
    (6, 20, 0.05, True, True),
    (7, 4, 0.0, True, False),   # centred: rank N - 1 = 3
]


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("d,N,c,centred,rotate", CASES)
def test_losses_match_dense_brute_force(d, N, c, centred, rotate):
    X, Sigma = make_case(d, N, rotate, seed=d * 100 + N)
    smp = exact.SampleSpectrum.from_data(X, Sigma, centred=centred)
    assert smp.rank == min(d, N - 1 if centred else N)
    res = exact.losses(smp, SCHED, c, t=TIMES, eta_tau=ETA_TAU)
    ref = brute_losses(X, Sigma, centred, SCHED, c, TIMES, ETA_TAU)
    for key in ("test", "train", "data_noise", "data_ridge", "optimum"):
        got = getattr(res, key)
        assert got.shape == ref[key].shape
        np.testing.assert_allclose(got, ref[key], rtol=1e-9, atol=1e-13, err_msg=key)
    # the data-noise identity, exactly as stated in the spec
    np.testing.assert_allclose(res.data_noise, SCHED.q[np.array(TIMES) - 1] * res.test, rtol=1e-15)
    # test = optimum + the distance of W_t from the population reference (uncentred model)
    if not centred:
        for j, t in enumerate(TIMES):
            a2, b2 = SCHED.a2[t - 1], SCHED.b2[t - 1]
            W = np.sqrt(b2) * dense_flow(dense_M(X @ X.T / N, a2, b2, c), np.inf)
            dist = exact.denoiser_distance(W, Sigma, np.sqrt(a2), np.sqrt(b2))
            np.testing.assert_allclose(res.test[-1, j] - res.optimum[j], dist, rtol=1e-7, atol=1e-13)


def test_losses_default_times_and_shapes():
    smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(10, k=1.0), N=7, seed=1)
    sched = lindiff.Schedule.linear(T=50)
    res = exact.losses(smp, sched, eta_tau=[1.0, 2.0, np.inf])
    assert res.t.tolist() == list(range(1, 51))
    assert res.test.shape == res.train.shape == res.data_ridge.shape == (3, 50)
    assert res.optimum.shape == (50,)
    one = exact.losses(smp, sched, t=17, eta_tau=2.0)
    np.testing.assert_array_max_ulp(one.test[0, 0], res.test[1, 16], maxulp=4)  # one t vs the batch
    w = exact.denoiser(smp, sched, t=[3, 17], eta_tau=[2.0, np.inf])
    assert w.shape == (2, 2, 10)
    np.testing.assert_allclose(w[1, :, -1], 1 / sched.b[[2, 16]], rtol=1e-15)  # null space: w = 1/b


def test_small_t_no_cancellation():
    """At t = 1 (b^2 = 1e-4) with N < d: the null space is memorised (no loss there), the test loss blows up."""
    X, Sigma = make_case(8, 5, False, seed=11)
    smp = exact.SampleSpectrum.from_data(X, Sigma)
    res = exact.losses(smp, SCHED, t=[1], eta_tau=[1e6, np.inf])
    ref = brute_losses(X, Sigma, False, SCHED, 0.0, [1], [1e6, np.inf])
    np.testing.assert_allclose(res.train, ref["train"], rtol=1e-8)
    assert np.all(np.abs(res.train - 5 / 8) < 1e-3)   # only the N = 5 span directions cost anything
    assert np.all(res.test > 100.0)                      # (N/d) kappa0-like term ~ o_i / b^2


def test_gradient_descent_matches_dense_iteration():
    X, Sigma = make_case(7, 5, True, seed=5)
    smp = exact.SampleSpectrum.from_data(X, Sigma)
    eta, steps = 0.05, [1, 7, 40]
    res = exact.losses(smp, SCHED, 0.02, t=[1, 300, 1000], eta_tau=[eta * n for n in steps], gd_eta=eta)
    ref = brute_losses(X, Sigma, False, SCHED, 0.02, [1, 300, 1000], [eta * n for n in steps], gd=(eta, steps))
    for key in ("test", "train"):
        np.testing.assert_allclose(getattr(res, key), ref[key], rtol=1e-10, err_msg=key)
    assert res.gd_eta == eta


def test_gradient_descent_converges_to_gradient_flow():
    """GD with step eta -> 0 at fixed eta*tau approaches gradient flow with an O(eta) error."""
    smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(12, k=1.0), N=9, seed=2)
    flow = exact.losses(smp, SCHED, t=[5, 400], eta_tau=2.0).test
    errs = []
    for n in (100, 200, 400):
        gd = exact.losses(smp, SCHED, t=[5, 400], eta_tau=2.0, gd_eta=2.0 / n).test
        errs.append(np.max(np.abs(gd - flow)))
    assert errs[0] > 1e-6                                  # GD really differs from the flow ...
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2   # ... by O(eta)
    kl_gd = exact.kl(smp, SHORT, eta_tau=2.0, gd_eta=2.0 / 400).fwd
    kl_flow = exact.kl(smp, SHORT, eta_tau=2.0).fwd
    np.testing.assert_allclose(kl_gd, kl_flow, rtol=5e-3)


@pytest.mark.parametrize("N", [3, 9])
def test_divergent_gd_gives_inf_not_nan(N):
    """GD with 2 eta m > 2 diverges: huge or inf losses and KL, never NaN, no warnings (filterwarnings=error)."""
    smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(5, k=1.0), N=N, seed=2)
    for n in (2001, 2000, 10):                      # odd, even (overflow to +-inf), finite
        res = exact.losses(smp, SCHED, t=[1, 1000], eta_tau=2.0 * n, gd_eta=2.0)
        for key in ("test", "train", "data_noise", "data_ridge"):
            val = getattr(res, key)
            assert not np.any(np.isnan(val)) and np.all(val > 1.0), (key, n, val)
    out = exact.kl(smp, SHORT, eta_tau=2000.0, gd_eta=2.0)
    assert out.fwd[0] == np.inf and out.rev[0] == np.inf


# ------------------------------------------------------------------ sampler
def dense_sigma_gen(C: np.ndarray, sched: lindiff.Schedule, c: float, et: float, sampler: str) -> np.ndarray:
    """Sigma_{t-1} = A Sigma_t A^T + sigma_t^2 I from Sigma_T = I, A = (I - beta/b W)/sqrt(alpha)."""
    d = C.shape[0]
    beta, abar = sched.beta, sched.abar
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    S = np.eye(d)
    for t in range(sched.T, 0, -1):
        k = t - 1
        b2 = sched.b2[k]
        W = np.sqrt(b2) * dense_flow(dense_M(C, sched.a2[k], b2, c), et)
        A = (np.eye(d) - beta[k] / np.sqrt(b2) * W) / np.sqrt(1 - beta[k])
        s2 = {"ddpm": beta[k] if t >= 2 else 0.0,
              "ddpm_noise_last": beta[k],
              "beta_tilde": (1 - abar_prev[k]) / (1 - abar[k]) * beta[k],
              "deterministic": 0.0}[sampler]
        S = A @ S @ A.T + s2 * np.eye(d)
    return 0.5 * (S + S.T)


def dense_kl(A: np.ndarray, B: np.ndarray, mA: np.ndarray, mB: np.ndarray) -> float:
    """KL(N(mA, A) || N(mB, B)) / d."""
    d = A.shape[0]
    _, ldA = np.linalg.slogdet(A)
    _, ldB = np.linalg.slogdet(B)
    dm = mA - mB
    return float((np.trace(np.linalg.solve(B, A)) + dm @ np.linalg.solve(B, dm) - d + ldB - ldA) / (2 * d))


@pytest.mark.parametrize("sampler", ["ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"])
@pytest.mark.parametrize("d,N,c,centred", [(6, 4, 0.0, False), (6, 4, 0.01, False), (5, 15, 0.0, True)])
def test_sigma_gen_and_kl_match_dense_recursion(sampler, d, N, c, centred):
    X, Sigma = make_case(d, N, True, seed=3 * d + N)
    smp = exact.SampleSpectrum.from_data(X, Sigma, centred=centred)
    xbar = X.mean(axis=1) if centred else np.zeros(d)
    C = smp.matrix(smp.s)
    Cref = (X - xbar[:, None]) @ (X - xbar[:, None]).T / (N - 1) if centred else X @ X.T / N
    np.testing.assert_allclose(C, Cref, atol=1e-13)
    ets = [3.0, np.inf]
    out = exact.kl(smp, SHORT, c, eta_tau=ets, sampler=sampler)
    assert out.gamma.shape == (2, d) and out.fwd.shape == out.rev.shape == (2,)
    for i, et in enumerate(ets):
        Sg = dense_sigma_gen(Cref, SHORT, c, et, sampler)
        np.testing.assert_allclose(smp.matrix(out.gamma[i]), Sg, rtol=0, atol=1e-12 * np.abs(Sg).max())
        # sigma_1 = 0 (ddpm, beta_tilde, deterministic) + the minimiser at c = 0 annihilate C's null space
        singular = sampler != "ddpm_noise_last" and np.isinf(et) and c == 0 and N < d
        if singular:
            assert out.fwd[i] == np.inf and out.rev[i] == np.inf
            assert np.linalg.eigvalsh(Sg)[0] < 1e-12      # the dense Sigma_gen is singular too
        else:
            assert np.isfinite(out.fwd[i]) and np.isfinite(out.rev[i])
            np.testing.assert_allclose(out.fwd[i], dense_kl(Sg, Sigma, xbar, np.zeros(d)), rtol=1e-9)
            np.testing.assert_allclose(out.rev[i], dense_kl(Sigma, Sg, np.zeros(d), xbar), rtol=1e-9)


def run_sampler(C: np.ndarray, sched: lindiff.Schedule, c: float, et: float, sampler: str, n: int,
                seed: int) -> np.ndarray:
    """The linear DDPM sampler itself, on n independent chains (columns)."""
    d = C.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    u = rng.standard_normal((d, n))
    for t in range(sched.T, 0, -1):
        k = t - 1
        b = np.sqrt(sched.b2[k])
        W = b * dense_flow(dense_M(C, sched.a2[k], sched.b2[k], c), et)
        u = (u - sched.beta[k] / b * (W @ u)) / np.sqrt(sched.alpha[k])
        s2 = sched.beta[k] if (sampler == "ddpm_noise_last" or t >= 2) else 0.0
        if s2 > 0:
            u += np.sqrt(s2) * rng.standard_normal((d, n))
    return u


@pytest.mark.parametrize("d,N,c,et,sampler", [(5, 3, 0.0, np.inf, "ddpm"), (5, 12, 0.02, 4.0, "ddpm_noise_last")])
def test_sampler_monte_carlo(d, N, c, et, sampler):
    X, Sigma = make_case(d, N, True, seed=40 + N)
    smp = exact.SampleSpectrum.from_data(X, Sigma)
    gamma = exact.sigma_gen(smp, SHORT, c, et, sampler)[0]
    n = 40_000
    u = run_sampler(X @ X.T / N, SHORT, c, et, sampler, n, seed=7 + N)
    proj = smp.vectors.T @ u                      # coordinates in C's eigenbasis
    emp = proj @ proj.T / n                        # mean is 0 by construction
    g = np.sqrt(np.maximum(gamma, 0))
    se = np.sqrt((np.outer(gamma, gamma) + np.diag(gamma**2)) / n)   # sd of a sample (co)variance
    live = gamma > 0
    z = np.abs(emp - np.diag(gamma))[np.ix_(live, live)] / se[np.ix_(live, live)]
    assert z.max() < 4.0, z
    if not live.all():                             # samples lie in span(X): no spread off it
        assert np.abs(proj[~live]).max() < 1e-10 * g.max()
    assert live.sum() == (N if N < d else d)


# ------------------------------------------------------------------ the d/(4N) law
@pytest.mark.parametrize("d,N,centred,rotate", [(10, 40, False, True), (8, 30, True, False)])
def test_kl_of_empirical_gaussian_is_the_wishart_law(d, N, centred, rotate):
    """Sigma_gen = C: the mean exact KL over seeded draws equals kl_wishart whatever Sigma is."""
    spec = lindiff.Spectrum.powerlaw(d, k=1.0)
    seeds = np.random.SeedSequence(2026 + d).spawn(1500)
    vals = np.array([exact.kl_gamma(s := exact.SampleSpectrum.draw(spec, N, ss, rotate=rotate, centred=centred,
                                                                  keep_vectors=False), s.s) for ss in seeds])
    mean, se = vals.mean(axis=0), vals.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    law = np.array(kl_wishart(d, N, centred=centred))
    assert np.all(np.abs(mean - law) < 3 * se), (mean, law, se)
    # the test resolves the finite-N corrections: the bare d/(4N) law is rejected
    assert np.all(np.abs(mean - d / (4 * N)) > 3 * se)


def test_kl_gamma_batch_and_singular():
    smp = exact.SampleSpectrum.draw(lindiff.Spectrum.powerlaw(6, k=1.0), N=20, seed=4, rotate=True)
    g = np.stack([smp.s, 2 * smp.s, np.r_[smp.s[:-1], 0.0]])
    fwd, rev = exact.kl_gamma(smp, g[None])
    assert fwd.shape == rev.shape == (1, 3)
    assert fwd[0, 2] == np.inf and rev[0, 2] == np.inf
    for i in range(2):
        f, r = exact.kl_gamma(smp, g[i])
        # batched vs single evaluation: another evaluation order, equal to a few ulps (not bitwise)
        np.testing.assert_array_max_ulp(fwd[0, i], f, maxulp=4)
        np.testing.assert_array_max_ulp(rev[0, i], r, maxulp=4)
    # gamma = population-matched: KL between N(0, Sigma) and itself is 0 only in Sigma's basis,
    # so use an isotropic population and Sigma_gen = I
    iso = exact.SampleSpectrum.draw(np.ones(6), N=20, seed=4)
    f0, r0 = exact.kl_gamma(iso, np.ones(6))
    assert isinstance(f0, float) and abs(f0) < 1e-15 and abs(r0) < 1e-15


# ------------------------------------------------------------------ denoiser distance
@pytest.mark.parametrize("pop", ["spectrum", "matrix"])
def test_denoiser_distance_is_excess_test_loss(pop, rng):
    d, a, b = 7, 0.7, np.sqrt(1 - 0.49)
    spec = lindiff.Spectrum.powerlaw(d, k=1.0)
    Sigma = np.diag(spec.expanded()) if pop == "spectrum" else random_spd(d, rng)
    sig_arg = spec if pop == "spectrum" else Sigma
    Ws = rng.standard_normal((3, d, d)) / np.sqrt(d)
    I, Z = np.eye(d), np.zeros((d, d))
    Wref = b * np.linalg.inv(a * a * Sigma + b * b * I)
    dist = exact.denoiser_distance(Ws, sig_arg, a, b)
    assert dist.shape == (3,)
    for W, dv in zip(Ws, dist):
        excess = (estimator_error(W, np.zeros(d), Z, I, Sigma, a, b)
                  - estimator_error(Wref, np.zeros(d), Z, I, Sigma, a, b))
        np.testing.assert_allclose(dv, excess, rtol=1e-11)
        np.testing.assert_allclose(exact.dense_test_loss(W, sig_arg, a, b),
                                   estimator_error(W, np.zeros(d), Z, I, Sigma, a, b), rtol=1e-12)
        assert dv > 0
    assert abs(exact.denoiser_distance(Wref, sig_arg, a, b)) < 1e-14


# ------------------------------------------------------------------ construction
def test_draw_reproducible_and_consistent():
    spec = lindiff.Spectrum.powerlaw(9, k=1.0)
    X1, S1 = exact.draw_data(spec, 6, 123)
    X2, S2 = exact.draw_data(spec, 6, 123, rotate=True)
    np.testing.assert_array_equal(X1, exact.draw_data(spec, 6, 123)[0])
    assert not np.allclose(X1, X2)
    # the same Z under both: X2 = O X1 with O orthogonal (equal Gram matrices), Sigma rotated alike
    np.testing.assert_allclose(X1.T @ X1, X2.T @ X2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(S2)[::-1], spec.expanded(), rtol=1e-12)
    a = exact.SampleSpectrum.draw(spec, 6, 123, rotate=True)
    b = exact.SampleSpectrum.from_data(X2, S2)
    for key in ("s", "o", "o_inv", "population"):
        np.testing.assert_allclose(getattr(a, key), getattr(b, key), rtol=1e-10, atol=1e-14)
    # overlaps: sum_i o_i = Tr Sigma, sum_i õ_i = Tr Sigma^-1, log det
    np.testing.assert_allclose(a.o.sum(), np.trace(S2), rtol=1e-12)
    np.testing.assert_allclose(a.o_inv.sum(), np.trace(np.linalg.inv(S2)), rtol=1e-12)
    np.testing.assert_allclose(a.logdet, np.linalg.slogdet(S2)[1], rtol=1e-12)
    assert (a.d, a.N, a.dof, a.rank) == (9, 6, 6, 6)
    c = exact.SampleSpectrum.draw(spec, 6, 123, centred=True)
    assert (c.dof, c.rank) == (5, 5) and c.mean_quad_inv > 0
    d = exact.SampleSpectrum.draw(spec, 6, np.random.SeedSequence(123))
    np.testing.assert_array_equal(d.s, exact.SampleSpectrum.draw(spec, 6, 123).s)


def test_direct_construction_matches_from_data():
    X, S = make_case(5, 8, True, seed=9)
    a = exact.SampleSpectrum.from_data(X, S, keep_vectors=False)
    b = exact.SampleSpectrum(s=a.s, o=a.o, o_inv=a.o_inv, population=a.population[::-1], N=8)
    np.testing.assert_array_equal(exact.losses(a, SHORT).test, exact.losses(b, SHORT).test)
    assert a.vectors is None
    with pytest.raises(ValueError, match="vectors"):
        a.matrix(a.s)
    with pytest.raises(AttributeError):
        a.N = 3  # frozen
    assert not a.s.flags.writeable


# ------------------------------------------------------------------ bad input
def test_bad_input():
    spec = lindiff.Spectrum.powerlaw(4, k=1.0)
    smp = exact.SampleSpectrum.draw(spec, 6, 0)
    good = dict(s=smp.s, o=smp.o, o_inv=smp.o_inv, population=smp.population, N=6)
    bad_fields = [("s", -smp.s), ("s", smp.s[:3]), ("o", 0 * smp.o), ("o_inv", np.r_[smp.o_inv[:3], np.nan]),
                  ("population", -smp.population), ("N", 0), ("N", 2.5), ("centred", "yes"),
                  ("mean_coords", np.ones(4)), ("vectors", np.eye(3))]
    for name, value in bad_fields:
        with pytest.raises(ValueError, match=name):
            exact.SampleSpectrum(**{**good, name: value})
    X = np.ones((4, 3))
    cases = [
        (lambda: exact.SampleSpectrum.from_data(X.T, spec), "X"),
        (lambda: exact.SampleSpectrum.from_data(np.ones(4), spec), "X"),
        (lambda: exact.SampleSpectrum.from_data(X, np.ones((4, 4)) - 2 * np.eye(4)), "positive definite"),
        (lambda: exact.SampleSpectrum.from_data(X, np.triu(np.ones((4, 4))) + np.eye(4)), "symmetric"),
        (lambda: exact.SampleSpectrum.from_data(X, np.ones((4, 3))), "population"),
        (lambda: exact.SampleSpectrum.from_data(X[:, :1], spec, centred=True), "2 columns"),
        (lambda: exact.SampleSpectrum.from_data(X, lindiff.Spectrum.from_eigenvalues([1.0], [2.5])), "integer"),
        (lambda: exact.SampleSpectrum.from_data(X, spec, rtol=-1), "rtol"),
        (lambda: exact.draw_data(spec, 0, 1), "N"),
        (lambda: exact.draw_data(spec, 3, -1), "seed"),
        (lambda: exact.draw_data(spec, 3, 1.5), "seed"),
        (lambda: exact.draw_data(spec, 3, 1, rotate="yes"), "rotate"),
        (lambda: exact.losses(smp, SCHED, t=0), "t"),
        (lambda: exact.losses(smp, SCHED, t=1001), "t"),
        (lambda: exact.losses(smp, SCHED, t=[[1, 2]]), "t"),
        (lambda: exact.losses(smp, SCHED, eta_tau=0.0), "eta_tau"),
        (lambda: exact.losses(smp, SCHED, eta_tau=[1.0, np.nan]), "eta_tau"),
        (lambda: exact.losses(smp, SCHED, eta_tau=1.0, gd_eta=0.3), "gd_eta"),
        (lambda: exact.losses(smp, SCHED, eta_tau=1.0, gd_eta=-0.1), "gd_eta"),
        (lambda: exact.losses(smp, SCHED, c=-1.0), "c"),
        (lambda: exact.losses(smp, "linear"), "schedule"),
        (lambda: exact.losses(X, SCHED), "sample"),
        (lambda: exact.sigma_gen(smp, SCHED, sampler="foo"), "sampler"),
        (lambda: exact.kl(smp, SCHED, c=np.nan), "c"),
        (lambda: exact.kl_gamma(smp, np.ones(3)), "gamma"),
        (lambda: exact.kl_gamma(smp, -np.ones(4)), "gamma"),
        (lambda: exact.kl_gamma(smp, np.r_[1, 1, 1, np.nan]), "gamma"),
        (lambda: exact.kl_gamma(smp, np.ones(4) * 1j), "gamma"),
        (lambda: exact.denoiser_distance(np.eye(3), spec, 0.5, 0.5), "W"),
        (lambda: exact.denoiser_distance(np.eye(4), spec, 0.5, 0.0), "b"),
        (lambda: exact.denoiser_distance(np.eye(4), spec, -0.5, 0.5), "a"),
        (lambda: exact.dense_test_loss(np.eye(4), "sigma", 0.5, 0.5), "sigma"),
        (lambda: smp.matrix(np.ones(3)), "values"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
