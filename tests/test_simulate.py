"""lindiff.simulate: GD / SGD training and the DDPM sampler against the closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import lindiff
from lindiff import _core, exact, simulate

SPEC = lindiff.Spectrum.powerlaw(16, k=1.0)
SCH = lindiff.Schedule.linear()


def _draw(seed: int, draws: int, i: int, N: int, spec: lindiff.Spectrum = SPEC, rotate: bool = False) -> exact.SampleSpectrum:
    ss = np.random.SeedSequence(seed).spawn(draws)[i]
    X, S = exact.draw_data(spec, N, ss, rotate=rotate)
    return exact.SampleSpectrum.from_data(X, S)


# ---------------------------------------------------------------------- RNG
def test_philox_known_answers():
    # Random123 known-answer vectors for philox4x32-10
    assert _core.philox4x32(np.array([0, 0], np.uint32), [0, 0, 0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    out = _core.philox4x32(np.array([0xA4093822, 0x299F31D0], np.uint32), [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344])
    assert out == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]
    ones = 0xFFFFFFFF
    assert _core.philox4x32(np.array([ones, ones], np.uint32), [ones] * 4) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]


def test_normal_stream_moments_and_prefix():
    key = np.array([7, 11], np.uint32)
    n = 400_000
    z = _core.normal_stream(key, 1, 2, 3, n)
    se = 1 / np.sqrt(n)
    assert abs(z.mean()) < 4 * se
    assert abs(z.var() - 1) < 4 * np.sqrt(2) * se
    assert abs(np.mean(z**4) - 3) < 4 * np.sqrt(96) * se
    assert abs(np.mean(z[:-1] * z[1:])) < 4 * se                        # the pair of one block is independent
    np.testing.assert_array_equal(_core.normal_stream(key, 1, 2, 3, 101), z[:101])  # a stream has no state
    from scipy import stats
    assert stats.kstest(z, "norm").pvalue > 1e-3                         # the whole distribution
    assert stats.kstest(z[0::2], "norm").pvalue > 1e-3 and stats.kstest(z[1::2], "norm").pvalue > 1e-3
    angle = np.arctan2(z[1::2], z[0::2])                                  # Box-Muller angle: uniform
    assert stats.kstest(angle, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3
    assert not np.array_equal(_core.normal_stream(key, 1, 2, 4, 8), z[:8])


# ---------------------------------------------------------------------- gradient descent
@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("N, c", [(8, 0.0), (40, 0.0), (8, 0.05)])
def test_gd_matches_closed_form(rotate, N, c):
    eta, steps = 0.02, 300
    t = [1, 20, 200, 1000]
    res = simulate.train(SPEC, N, c=c, t=t, eta=eta, steps=steps, draws=3, seed=5, record_every=30, rotate=rotate)
    ds = res.losses
    assert ds.test.dims == ("draw", "eta_tau", "t")
    np.testing.assert_array_equal(ds.step.values, np.arange(0, steps + 1, 30))
    np.testing.assert_allclose(ds.eta_tau.values, eta * ds.step.values)
    np.testing.assert_array_equal(ds.test.isel(eta_tau=0).values, 1.0)   # W = 0
    for i in range(3):
        smp = _draw(5, 3, i, N, rotate=rotate)
        ex = exact.losses(smp, SCH, c, t, eta_tau=ds.eta_tau.values[1:], gd_eta=eta)
        np.testing.assert_allclose(ds.test.isel(draw=i).values[1:], ex.test, rtol=1e-10, atol=0)
        np.testing.assert_allclose(ds.train.isel(draw=i).values[1:], ex.train, rtol=1e-10, atol=0)
        # the weights themselves: W = V diag(b (1 - (1 - 2 eta m)^n)/m) V^T
        w = exact.denoiser(smp, SCH, c, t, eta_tau=eta * steps, gd_eta=eta)[0]
        np.testing.assert_allclose(res.W[i], smp.matrix(w), rtol=0, atol=1e-12 * np.abs(w).max())


def test_gd_small_step_follows_gradient_flow():
    eta, steps = 2e-3, 2000
    t = [5, 100, 600]
    res = simulate.train(SPEC, 12, t=t, eta=eta, steps=steps, draws=2, seed=1, record_every=250)
    et = res.losses.eta_tau.values[1:]
    for i in range(2):
        smp = _draw(1, 2, i, 12)
        gf = exact.losses(smp, SCH, 0.0, t, eta_tau=et)          # gradient flow, same training set
        # GD vs flow: (1 - x)^n vs exp(-n x) differ by O(n x^2) = O(eta * eta_tau * m^2)
        m_max = smp.s.max() + 1
        tol = 2 * eta * m_max
        sim = res.losses.test.isel(draw=i).values[1:]
        np.testing.assert_allclose(sim, gf.test, rtol=tol)
        assert np.max(np.abs(sim / gf.test - 1)) > 1e-9               # it is GD, not the flow itself


def test_gd_default_eta_is_stable_and_converges():
    res = simulate.train(SPEC, 32, t=[50, 1000], steps=4000, draws=2, seed=3)
    assert 0 < res.eta
    for i in range(2):
        smp = _draw(3, 2, i, 32)
        star = exact.losses(smp, SCH, 0.0, [50, 1000]).train[0]
        train = res.losses.train.isel(draw=i)
        assert np.all(np.diff(train.values, axis=0) <= 1e-13)           # GD decreases the objective
        np.testing.assert_allclose(train.isel(eta_tau=-1).values, star, rtol=1e-6)


def test_gd_divergence_is_cut_and_warned():
    with pytest.warns(lindiff.DivergenceWarning) as rec:
        res = simulate.train(SPEC, 20, t=[1000], eta=1.0, steps=400, draws=2, record_every=10)
    messages = " ".join(str(w.message) for w in rec)
    assert "unstable" in messages and "diverged" in messages
    ds = res.losses
    assert bool(ds.diverged.any())
    assert np.all(np.isfinite(ds.test.values)) and np.all(ds.test.values <= 1e10)
    assert ds.sizes["eta_tau"] < 41


# ---------------------------------------------------------------------- SGD
def test_sgd_converges_to_the_minimiser_within_its_noise():
    spec = lindiff.Spectrum.powerlaw(10, k=1.0)
    eta0 = 0.5 / (spec.expanded().max() * 3)
    excess = []
    for eta in (0.05 * eta0, 0.0125 * eta0):
        res = simulate.train(spec, 20, t=[300], method="sgd", eta=eta, steps=40_000, draws=4, record_every=100,
                             batch_size=8)
        last = res.losses.test.isel(eta_tau=slice(200, None))
        mean, sd = last.mean("eta_tau").values, last.std("eta_tau").values
        star = np.array([exact.losses(_draw(0, 4, i, 20, spec), SCH, t=300).test[0, 0] for i in range(4)])
        mean, sd = mean[:, 0], sd[:, 0]
        np.testing.assert_array_less(np.abs(mean - star), 3 * sd)        # within the stationary noise
        excess.append(np.mean(mean - star))
    assert excess[0] > 0 and excess[1] < 0.6 * excess[0]                 # SGD's excess loss shrinks with eta


def test_sgd_minibatch_is_the_training_set_gradient_on_average():
    # with batch_size = N the expected step is the GD step: early losses agree up to the noise
    res_sgd = simulate.train(SPEC, 16, t=[400], method="sgd", eta=0.01, steps=50, draws=6, batch_size=16,
                             record_every=50)
    res_gd = simulate.train(SPEC, 16, t=[400], eta=0.01, steps=50, draws=6, record_every=50)
    diff = (res_sgd.losses.test - res_gd.losses.test).isel(eta_tau=-1).values
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / np.sqrt(diff.size) + 0.02


# ---------------------------------------------------------------------- determinism
@pytest.mark.parametrize("method", ["gd", "sgd"])
def test_training_is_bitwise_independent_of_threads(method):
    n0 = lindiff.get_num_threads()
    try:
        out = []
        for n in (1, 2):
            lindiff.set_num_threads(n)
            r = simulate.train(SPEC, 12, t=[10, 300], method=method, eta=0.01, steps=60, draws=3, seed=9,
                               record_every=20)
            out.append(r)
    finally:
        lindiff.set_num_threads(n0)
    np.testing.assert_array_equal(out[0].W, out[1].W)
    np.testing.assert_array_equal(out[0].losses.test.values, out[1].losses.test.values)


def test_sampler_is_bitwise_independent_of_threads():
    X, S = exact.draw_data(SPEC, 30, 0)
    model = simulate.LinearModel.closed_form(X, lindiff.Schedule.linear(T=100), sigma=S)
    n0 = lindiff.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            lindiff.set_num_threads(n)
            outs.append(simulate.sample(model, 1000, seed=4).samples)
    finally:
        lindiff.set_num_threads(n0)
    np.testing.assert_array_equal(outs[0], outs[1])


# ---------------------------------------------------------------------- sampler
@pytest.mark.parametrize("sampler", ["ddpm_noise_last", "beta_tilde"])
def test_sampler_covariance_matches_exact_sigma_gen(sampler):
    d, N = 8, 40
    X, S = exact.draw_data(lindiff.Spectrum.powerlaw(d, k=1.0), N, 2)
    sch = lindiff.Schedule.linear(T=200)
    model = simulate.LinearModel.closed_form(X, sch, eta_tau=50.0, sigma=S)
    smp = exact.SampleSpectrum.from_data(X, S)
    gamma = exact.sigma_gen(smp, sch, eta_tau=50.0, sampler=sampler)[0]
    G = model.sigma_gen(sampler)
    np.testing.assert_allclose(G, smp.matrix(gamma), atol=1e-12)        # dense recursion = eigenbasis map
    out = simulate.sample(model, 20_000, seed=3, sampler=sampler)
    assert out.chi2_dof == d * (d + 1) // 2
    assert out.chi2_pvalue > 1e-3                                         # chi-square: covariance is sigma_gen
    ex = exact.kl(smp, sch, eta_tau=50.0, sampler=sampler)
    assert out.kl_fwd_exact == pytest.approx(float(ex.fwd[0]), rel=1e-9)
    assert out.kl_rev_exact == pytest.approx(float(ex.rev[0]), rel=1e-9)
    # the empirical KL to Sigma_gen is the Wishart law's: about (d + 1) / (4 n)
    assert 0 < out.kl_fwd_gen < 5 * (d + 1) / (4 * 20_000)
    # the test has power: a 5 % wrong covariance is rejected
    wrong = simulate.LinearModel(model.W, sch)
    G_wrong = 1.05 * G
    stat = 2 * 20_000 * d * simulate.gaussian_kl(out.covariance, G_wrong)[0]
    from scipy.stats import chi2
    assert chi2.sf(stat, out.chi2_dof) < 1e-6
    assert wrong.sigma_gen(sampler).shape == (d, d)


def test_minimiser_samples_lie_in_span_of_the_training_set():
    d, N = 10, 4
    X, S = exact.draw_data(lindiff.Spectrum.powerlaw(d, k=1.0), N, 0)
    model = simulate.LinearModel.closed_form(X, lindiff.Schedule.linear(T=300), sigma=S)
    out = simulate.sample(model, 500, seed=0)                  # pinned ddpm: sigma_1 = 0
    Q, _ = np.linalg.qr(X)
    resid = out.samples - Q @ (Q.T @ out.samples)
    assert np.max(np.abs(resid)) < 1e-6 * np.max(np.abs(out.samples))
    assert out.kl_fwd == np.inf and out.kl_fwd_exact == np.inf
    assert np.isnan(out.chi2_pvalue)
    assert out.nearest_index.shape == (500,) and np.all(out.nearest_index < N)
    assert np.all((out.nearest_ratio > 0) & (out.nearest_ratio <= 1))


def test_nearest_neighbour_statistics():
    X = np.array([[0.0, 1.0, 5.0], [0.0, 0.0, 0.0]])
    W = np.zeros((10, 2, 2))
    out = simulate.sample(W, 50, lindiff.Schedule.linear(T=10), training_set=X, seed=1)
    D = np.linalg.norm(out.samples[:, :, None] - X[:, None, :], axis=0)
    np.testing.assert_array_equal(out.nearest_index, D.argmin(axis=1))
    np.testing.assert_allclose(out.nearest_distance, D.min(axis=1), atol=1e-12)
    np.testing.assert_allclose(out.nearest_ratio, np.sort(D, axis=1)[:, 0] / np.sort(D, axis=1)[:, 1], atol=1e-12)


def test_trained_model_samples_like_its_closed_form():
    sch = lindiff.Schedule.linear(T=60)
    res = simulate.train(SPEC, 30, schedule=sch, eta=0.02, steps=100, draws=1, seed=2)
    model = res.model(0)
    closed = simulate.LinearModel.closed_form(res.X[0], sch, eta_tau=2.0, gd_eta=0.02, sigma=SPEC)
    np.testing.assert_allclose(model.W, closed.W, atol=1e-12)
    a = simulate.sample(res, 300, seed=8)
    b = simulate.sample(closed, 300, seed=8)
    np.testing.assert_allclose(a.samples, b.samples, atol=1e-9)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps"), (dict(eta=0.0), "eta"), (dict(eta=-1.0), "eta"), (dict(eta=np.nan), "eta"),
    (dict(draws=0), "draws"), (dict(N=0), "N"), (dict(method="adam"), "method"), (dict(c=-1.0), "c"),
    (dict(t=0), "t"), (dict(t=1001), "t"), (dict(record_every=0), "record_every"),
    (dict(batch_size=4), "batch_size"), (dict(method="sgd", batch_size=0), "batch_size"),
    (dict(seed=-1), "seed"), (dict(backend="tpu"), "backend"),
])
def test_train_bad_input(kwargs, match):
    args = dict(N=8, t=[10], eta=0.01, steps=5, draws=1)
    args.update(kwargs)
    N = args.pop("N")
    with pytest.raises(ValueError, match=match):
        simulate.train(SPEC, N, **args)


def test_train_needs_a_spectrum():
    with pytest.raises(ValueError, match="spectrum"):
        simulate.train(np.ones(4), 8, t=[10], eta=0.01, steps=5)


def test_sample_bad_input():
    sch = lindiff.Schedule.linear(T=10)
    W = np.zeros((10, 3, 3))
    with pytest.raises(ValueError, match="n_samples"):
        simulate.sample(W, 0, sch)
    with pytest.raises(ValueError, match="W"):
        simulate.sample(np.zeros((9, 3, 3)), 10, sch)
    with pytest.raises(ValueError, match="W"):
        simulate.sample(np.zeros((10, 3, 2)), 10, sch)
    bad = W.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="W"):
        simulate.sample(bad, 10, sch)
    with pytest.raises(ValueError, match="sampler"):
        simulate.sample(W, 10, sch, sampler="ddim")
    with pytest.raises(ValueError, match="training_set"):
        simulate.sample(W, 10, sch, training_set=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="sigma"):
        simulate.sample(W, 10, sch, sigma=np.ones(4))
    with pytest.raises(ValueError, match="schedule"):
        simulate.sample(simulate.LinearModel(W, sch), 10, sch)           # a model carries its schedule
    res = simulate.train(SPEC, 8, t=[10], eta=0.01, steps=5, draws=1)
    with pytest.raises(ValueError, match="every t"):
        res.model(0)
    with pytest.raises(ValueError, match="draw"):
        res.population(3)


def test_gd_theory_contour_failure_is_reported_and_the_real_rule_is_exact():
    # explicit GD's (1 - 2 eta m)^n explodes off the real axis: the contour quadrature must say so
    # (quadrature="contour" asked explicitly); the default real-axis rule is exact at any n
    spec = lindiff.Spectrum.powerlaw(200, 1.0)
    with pytest.warns(lindiff.ConvergenceWarning, match="quadrature='real'"):
        lindiff.theory.gradflow_losses(spec, 400, [120 * 0.0134], t=[10], gd_eta=0.0134, quadrature="contour")
    with pytest.raises(lindiff.ConvergenceError):
        lindiff.theory.gradflow_losses(spec, 400, [120 * 0.0134], t=[10], gd_eta=0.0134, strict=True,
                                       quadrature="contour")
    ds = lindiff.theory.gradflow_losses(spec, 400, [120 * 0.0134], t=[10], gd_eta=0.0134, strict=True)
    assert ds.attrs["quadrature"] == "real" and bool(np.isfinite(ds.test).all())