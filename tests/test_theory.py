"""lindiff.theory: the deterministic-equivalent losses, gradient flow, optimal stopping and KL,
checked against sum rules, closed forms, each other, limits, and seeded finite-sample draws."""

from __future__ import annotations

import numpy as np
import pytest

import lindiff
from lindiff import exact
from lindiff.reference import kappa_isotropic
from lindiff.theory import (
    de_measure,
    gradflow_losses,
    kl,
    kl_marchenko_pastur,
    kl_population,
    optimal_stopping,
    sampler_gamma,
    sampler_sigma2,
    static_losses,
)

DS, KS, CS, RATIOS = [50, 200], [0.0, 1.0, 2.0], [0.0, 1e-4, 1e-2], [0.25, 0.6, 2.0, 8.0]
SCHED = lindiff.Schedule.linear()


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("d", DS)
def test_measure_sum_rules(d: int, k: float, ratio: float) -> None:
    s = lindiff.Spectrum.powerlaw(d, k)
    mu = de_measure(s, ratio * d)
    assert mu.converged
    lam = s.eigenvalues
    rules = {
        "mass": (mu.integrate(np.ones_like, "rho"), 1.0),
        "mean": (mu.integrate(lambda x: x, "rho"), s.trace / d),
        "sigma mass": (mu.integrate(np.ones_like, "sigma"), s.trace / d),
        "sigma^-1 mass": (mu.integrate(np.ones_like, "sinv"), float(np.mean(1 / lam))),
        # second moment of C's spectrum: (1/d) E Tr C^2 = (Tr S^2 + (Tr S)^2 / N) / d ... as N d-> DE
        "second moment": (mu.integrate(lambda x: x * x, "rho"),
                          float(np.sum(lam**2) / d + (s.trace / d) ** 2 * d / (ratio * d))),
    }
    for name, (got, want) in rules.items():
        assert abs(got - want) <= 1e-10 * abs(want), name
    assert (mu.atoms["rho"] > 0) == (ratio < 1)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("c", CS)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("d", DS)
def test_gradflow_at_infinity_is_static(d: int, k: float, c: float, ratio: float) -> None:
    s = lindiff.Spectrum.powerlaw(d, k)
    g = gradflow_losses(s, ratio * d, np.inf, c)
    st = static_losses(s, ratio * d, c)
    np.testing.assert_allclose(g.test, st.test, rtol=1e-8)
    np.testing.assert_allclose(g.train, st.train, rtol=1e-8)
    assert float(g.imag_residual) < 1e-10


@pytest.mark.parametrize("k", KS)
def test_train_loss_identity_at_c0(k: float) -> None:
    s = lindiff.Spectrum.powerlaw(200, k)
    for N in (50.0, 120.0, 400.0, 1600.0):
        st = static_losses(s, N, 0.0)
        kq = lindiff.kappa(SCHED.q, s, N).value
        np.testing.assert_allclose(st.train, s.df1(kq) / s.d, rtol=1e-11)


def _mp_integral(f, d: int, N: float, n: int = 4000) -> float:  # type: ignore[no-untyped-def]
    """int f dmu_MP for Sigma = I (C = X X^T / N), continuous part by a cosine substitution
    (spectrally accurate for the square-root edges) plus the atom at 0 for N < d."""
    q = d / N
    lo, hi = (1 - np.sqrt(q)) ** 2, (1 + np.sqrt(q)) ** 2
    th = (np.arange(n) + 0.5) * np.pi / n
    s = (lo + hi) / 2 - (hi - lo) / 2 * np.cos(th)
    dens = np.sqrt((hi - s) * (s - lo)) / (2 * np.pi * q * s)
    jac = (hi - lo) / 2 * np.sin(th) * np.pi / n
    cont = float(np.sum(f(s) * dens * jac))
    atom = max(0.0, 1 - N / d)
    return cont + (atom * float(f(np.zeros(1))[0]) if atom else 0.0)


@pytest.mark.parametrize("ratio", RATIOS)
def test_isotropic_against_marchenko_pastur_density(ratio: float) -> None:
    d = 200
    s = lindiff.Spectrum.from_eigenvalues([1.0], weights=[d])
    N = ratio * d
    ts = np.array([5, 50, 300, 1000])
    st = static_losses(s, N, 0.0, t=ts)
    for i, t in enumerate(ts):
        a2, b2 = SCHED.a2[t - 1], SCHED.b2[t - 1]
        q = b2 / a2
        # Sigma = I: overlaps are 1, so rho_Sigma = rho
        test = _mp_integral(lambda x: (1 - q / (x + q)) ** 2 + q / (x + q) ** 2, d, N)
        train = _mp_integral(lambda x: (1 - q / (x + q)) ** 2 + q * x / (x + q) ** 2, d, N)
        assert float(st.test[i]) == pytest.approx(test, rel=1e-9)
        assert float(st.train[i]) == pytest.approx(train, rel=1e-9)
    np.testing.assert_allclose(st.kappa, kappa_isotropic(SCHED.q[ts - 1], d, N), rtol=1e-12)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("ratio", [2.0, 8.0])
def test_kl_with_exact_covariance_sampler_is_marchenko_pastur(k: float, ratio: float) -> None:
    d = 200
    ds = kl(lindiff.Spectrum.powerlaw(d, k), ratio * d, gamma=lambda x: x)
    fwd, rev = kl_marchenko_pastur(1 / ratio)
    assert float(ds.kl_fwd) == pytest.approx(fwd, rel=1e-9)
    assert float(ds.kl_rev) == pytest.approx(rev, rel=1e-9)


@pytest.mark.parametrize(("ratio", "c"), [(0.6, 0.0), (0.6, 1e-2), (2.0, 0.0), (2.0, 1e-4)])
def test_de_matches_mean_of_exact_draws(ratio: float, c: float) -> None:
    d, draws = 400, 20
    s = lindiff.Spectrum.powerlaw(d, 1.0)
    N = int(ratio * d)
    ts = np.array([1, 10, 100, 500, 1000])
    et = np.array([3.0, np.inf])
    de = gradflow_losses(s, N, et, c, t=ts)
    tests, trains, kls = [], [], []
    for seed in range(draws):
        smp = exact.SampleSpectrum.draw(s, N, seed, keep_vectors=False)
        L = exact.losses(smp, SCHED, c, t=ts, eta_tau=et)
        tests.append(L.test)
        trains.append(L.train)
        if N > d + 1:
            kls.append(exact.kl(smp, SCHED, c).fwd[0])
    for sim, th in ((np.array(tests), de.test.values), (np.array(trains), de.train.values)):
        np.testing.assert_allclose(th, sim.mean(axis=0), rtol=0.01)
    if kls:
        kls = np.array(kls)
        th = float(kl(s, N, c, finite_d=True).kl_fwd)
        se = kls.std(ddof=1) / np.sqrt(draws)
        assert abs(th - kls.mean()) <= 3 * se + 1e-12, (th, kls.mean(), se)


def test_large_N_and_large_t_limits() -> None:
    s = lindiff.Spectrum.powerlaw(100, 1.0)
    st = static_losses(s, 1e9)
    np.testing.assert_allclose(st.test, st.optimum, rtol=1e-6)
    np.testing.assert_allclose(st.train, st.optimum, rtol=1e-6)
    kinf = kl_population(s)
    big = kl(s, 1e12)
    assert float(big.kl_fwd) == pytest.approx(float(kinf.kl_fwd), rel=1e-4)
    assert float(big.kl_rev) == pytest.approx(float(kinf.kl_rev), rel=1e-4)
    # the approach is the d/(4N) law (the DE has no finite-d correction)
    for N in (1e7, 1e8):
        gap = float(kl(s, N).kl_fwd) - float(kinf.kl_fwd)
        assert gap == pytest.approx(100 / (4 * N), rel=0.05)
    # t -> T with a strongly noising schedule: every loss tends to the population optimum
    sched = lindiff.Schedule.linear(T=200, beta_min=1e-4, beta_max=0.3)
    st = static_losses(s, 150.0, schedule=sched, t=200)
    assert float(st.test) == pytest.approx(float(st.optimum), rel=1e-3)
    assert float(st.train) == pytest.approx(float(st.optimum), rel=1e-3)


def test_optimal_stopping_is_a_minimum() -> None:
    s = lindiff.Spectrum.powerlaw(300, 1.0)
    ds = optimal_stopping(s, [180.0, 3000.0])
    et = ds.eta_tau.values
    assert np.isfinite(et[0]) and float(ds.test_min[0]) < float(ds.test_inf[0])
    around = gradflow_losses(s, 180.0, [et[0] * 0.9, et[0], et[0] * 1.1]).test.mean("t").values
    assert around[1] <= around[0] and around[1] <= around[2]
    assert float(ds.test_min[0]) == pytest.approx(around[1], rel=1e-12)
    assert float(ds.test_min[1]) <= float(ds.test_inf[1]) + 1e-15
    one_t = optimal_stopping(s, 180.0, t=100)
    assert float(one_t.test_min) <= float(one_t.test_inf)


def test_sampler_gamma_against_direct_recursion() -> None:
    sched = lindiff.Schedule.linear(T=50, beta_max=0.05)
    s = np.array([0.0, 0.3, 2.0, 0.5 + 0.2j])
    for sampler in ("ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"):
        sig2 = sampler_sigma2(sched, sampler)
        for et in (np.inf, 2.5):
            for c in (0.0, 0.01):
                g = np.ones_like(s, dtype=complex)
                for k in range(sched.T - 1, -1, -1):
                    m = sched.a2[k] * s + sched.b2[k] + c
                    phi = 1 / m if np.isinf(et) else (1 - np.exp(-2 * et * m)) / m
                    A = (1 - sched.beta[k] * phi) / np.sqrt(1 - sched.beta[k])
                    g = A * A * g + sig2[k]
                got = sampler_gamma(s, sched, c, et, sampler)
                np.testing.assert_allclose(got, g, rtol=1e-12, atol=1e-300)
    assert sampler_gamma(0.0, sched) == 0.0  # sigma_1 = 0 annihilates the null space exactly
    # GD with a small step approaches gradient flow
    gd = sampler_gamma(np.array([0.5]), sched, 0.0, 2.0, gd_eta=1e-4)
    gf = sampler_gamma(np.array([0.5]), sched, 0.0, 2.0)
    np.testing.assert_allclose(gd, gf, rtol=1e-3)


def test_dataset_layout_and_t_average() -> None:
    s = lindiff.Spectrum.powerlaw(100, 1.0)
    ds = static_losses(s, [50.0, 200.0], [0.0, 0.01], t=[1, 100, 1000])
    assert ds.test.dims == ("N", "c", "t") and ds.test.shape == (2, 2, 3)
    one = static_losses(s, 50.0, 0.0, t=100)
    assert one.test.dims == ()
    # the same point reached along another curve: equal to rounding (continuation start differs)
    assert float(one.test) == pytest.approx(float(ds.test.sel(N=50.0, c=0.0, t=100)), rel=1e-13)
    full = static_losses(s, 50.0)
    assert float(full.test.mean("t")) == pytest.approx(float(np.mean(full.test.values)))
    np.testing.assert_allclose(ds.data_noise, ds.test * (SCHED.q[[0, 99, 999]]), rtol=1e-14)
    # c = 0: the ridge data predictor is the noise predictor's reconstruction
    np.testing.assert_allclose(ds.data_ridge.sel(c=0.0), ds.data_noise.sel(c=0.0), rtol=1e-9)
    g = gradflow_losses(s, [50.0, 200.0], [1.0, 10.0], c=0.01, t=[1, 500])
    assert g.test.dims == ("N", "eta_tau", "t")


def test_N_equal_d_and_bad_input() -> None:
    s = lindiff.Spectrum.powerlaw(100, 1.0)
    with pytest.raises(ValueError, match="N must differ from d"):
        gradflow_losses(s, 100, 1.0)
    with pytest.raises(ValueError, match="N must differ from d"):
        kl(s, 100)
    st = static_losses(s, 100.0)  # the static theory has no contour: N = d is fine
    assert bool(st.kappa_converged.all()) and np.all(np.isfinite(st.test))
    bad = [
        (lambda: static_losses(s, 0), "N must be > 0"),
        (lambda: static_losses(s, [10.0, np.nan]), "N must be finite"),
        (lambda: static_losses(s, 10, -1.0), "c must be >= 0"),
        (lambda: static_losses(s, 10, t=0), "t must lie in"),
        (lambda: static_losses(s, 10, t=1001), "t must lie in"),
        (lambda: static_losses([1.0], 10), "spectrum must be"),
        (lambda: static_losses(s, 10, schedule="linear"), "schedule must be"),
        (lambda: gradflow_losses(s, 50, 0.0), "eta_tau must be > 0"),
        (lambda: gradflow_losses(s, 50, 1.5, gd_eta=1.0), "whole multiples"),
        (lambda: kl(s, 50, sampler="euler"), "sampler must be one of"),
        (lambda: kl(s, 101, finite_d=True), "finite_d=True needs N > d \\+ 1"),
        (lambda: sampler_gamma(np.array([-1.0])), "real s must be >= 0"),
        (lambda: optimal_stopping(s, 50, t="mean"), "t must be 'avg'"),
    ]
    for call, match in bad:
        with pytest.raises(ValueError, match=match):
            call()


def test_denoiser_distance_de_against_dense_draws() -> None:
    from lindiff.theory import denoiser_distance

    d, N, draws = 200, 400, 12
    s = lindiff.Spectrum.powerlaw(d, 1.0)
    ts, et = np.array([20, 300]), np.array([5.0, np.inf])
    de = denoiser_distance(s, N, et, 0.0, t=ts)
    assert de.dims == ("eta_tau", "t") and bool((de > 0).all())
    sims = []
    for seed in range(draws):
        smp = exact.SampleSpectrum.draw(s, N, seed)
        w = exact.denoiser(smp, SCHED, 0.0, t=ts, eta_tau=et)  # (eta, t, d)
        W = np.einsum("ij,etj,kj->etik", smp.vectors, w, smp.vectors)
        sims.append([[exact.denoiser_distance(W[e, k], s, SCHED.a[t - 1], SCHED.b[t - 1])
                      for k, t in enumerate(ts)] for e in range(et.size)])
    sims = np.array(sims)
    mean, se = sims.mean(axis=0), sims.std(axis=0, ddof=1) / np.sqrt(draws)
    # an excess loss is a small difference: allow 3 standard errors plus an O(1/d) finite-d bias
    assert np.all(np.abs(de.values - mean) <= 3 * se + 0.02 * mean), (de.values, mean, se)


def test_user_spectrum_from_data() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 60)) @ np.diag(np.linspace(0.2, 3.0, 60)) @ rng.normal(size=(60, 60)) / 8
    spec = lindiff.Spectrum.from_data(X, normalize=True)
    st = static_losses(spec, [30.0, 240.0], t=[10, 400])
    gf = gradflow_losses(spec, [30.0, 240.0], np.inf, t=[10, 400])
    np.testing.assert_allclose(gf.test, st.test, rtol=1e-8)
    assert bool(st.kappa_converged.all())
    assert np.isfinite(float(kl(spec, 240.0).kl_fwd)) and float(kl(spec, 30.0).kl_fwd) == np.inf


def test_optimal_stopping_coarse_grids_and_bad_grid_points() -> None:
    """A coarse scan whose first point is lowest still finds the interior minimum (grid_points=1
    used to return inf where the default grid finds a finite eta*tau*)."""
    from lindiff.theory import optimal_stopping

    sp = lindiff.Spectrum.powerlaw(100, 1.0)
    ref = float(optimal_stopping(sp, 60).eta_tau)
    assert np.isfinite(ref)
    for g in (3, 5):
        assert float(optimal_stopping(sp, 60, grid_points=g).eta_tau) == pytest.approx(ref, rel=1e-5)
    for bad in (1, 2, 2.5, "x"):
        with pytest.raises(ValueError, match="grid_points"):
            optimal_stopping(sp, 60, grid_points=bad)
    with pytest.raises(ValueError, match="below eta_tau_range"):
        optimal_stopping(sp, 60, eta_tau_range=(10.0, 1e7))


def test_kl_with_vanishing_or_underflowing_gamma_is_inf_never_nan() -> None:
    """gamma = 0 (Sigma_gen singular) gives +inf both ways; a gamma so small that 1/gamma
    overflows (deterministic sampler, abar_T underflows) gives a finite forward KL and +inf
    reverse, the same in kl and kl_population; a non-finite gamma is a ValueError."""
    from lindiff.theory import kl, kl_population

    sp = lindiff.Spectrum.powerlaw(100, 1.0)
    zero = kl(sp, [200, 400], c=[0.0, 1e-4], gamma=lambda s: 0 * s)
    assert np.all(np.isinf(zero.kl_fwd)) and np.all(np.isinf(zero.kl_rev))
    sch = lindiff.Schedule.linear(T=5000, beta_max=0.5)
    assert np.prod(1 - sch.beta) == 0.0
    a = kl(sp, 200, schedule=sch, sampler="deterministic")
    b = kl_population(sp, schedule=sch, sampler="deterministic")
    assert np.isfinite(a.kl_fwd) and np.isinf(a.kl_rev) and np.isinf(b.kl_rev)
    assert float(b.kl_fwd) == pytest.approx(float(a.kl_fwd), rel=1e-3)
    with pytest.raises(ValueError, match="gamma must be finite"):
        kl(sp, 200, gamma=lambda s: s * np.nan)
