"""The DE spectral measure of C on the real axis: density, support, Stieltjes transform, the
real-axis quadrature rule, and explicit-GD theory built on it."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lindiff
from lindiff import _core, exact, theory
from lindiff.theory import de_measure, spectral_density


def _mp_law(q: float, s: np.ndarray) -> tuple[np.ndarray, float, float]:
    lo, hi = (1 - np.sqrt(q)) ** 2, (1 + np.sqrt(q)) ** 2
    return np.sqrt(np.clip((hi - s) * (s - lo), 0, None)) / (2 * np.pi * q * s), lo, hi


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.9, 1.5, 2.0, 4.0, 20.0])
def test_marchenko_pastur_density_support_and_stieltjes(ratio: float) -> None:
    d = 200
    N = ratio * d
    q = d / N
    spec = lindiff.Spectrum(np.ones(1), weights=[d])
    _, lo, hi = _mp_law(q, np.array([1.0]))
    s = lo + (hi - lo) * np.linspace(0.02, 0.98, 25)
    ds = spectral_density(spec, N, s)
    want, _, _ = _mp_law(q, s)
    np.testing.assert_allclose(ds.rho, want, rtol=1e-12)
    np.testing.assert_allclose([ds.support_lo.item(), ds.support_hi.item()], [lo, hi], rtol=1e-12)
    assert ds.attrs["atom"] == pytest.approx(max(0.0, 1 - N / d))
    # identity population: all three measures coincide
    np.testing.assert_allclose(ds.rho_sigma, ds.rho, rtol=1e-12)
    np.testing.assert_allclose(ds.rho_sinv, ds.rho, rtol=1e-12)
    # Stieltjes transform of MP (atom included): m(s) = (1 - q - s + sqrt((s - lo)(s - hi))) / (2 q s), Im > 0
    root = np.sqrt((s - lo + 0j) * (s - hi + 0j))
    m = (1 - q - s + root) / (2 * q * s)
    m = np.where(m.imag < 0, (1 - q - s - root) / (2 * q * s), m)
    np.testing.assert_allclose(ds.stieltjes, m, rtol=1e-11)
    # outside the support the density is exactly 0 and m is real
    out = spectral_density(spec, N, [0.5 * lo, 2 * hi])
    assert np.all(out.rho == 0) and np.all(out.stieltjes.imag == 0)


def _mp_density(lam: np.ndarray, N: float, s: float, kappa_start: complex) -> float:
    """rho(s) from the complex fixed point z = kappa (1 - df1/N) solved in mpmath at 40 digits."""
    with mp.workdps(40):
        L = [mp.mpf(float(x)) for x in lam]
        z = mp.mpc(-s, -mp.mpf(10) ** -30)
        f = lambda k: k * (1 - mp.fsum(x / (x + k) for x in L) / N) - z  # noqa: E731
        k = mp.findroot(f, mp.mpc(kappa_start.real, kappa_start.imag) * (1 + mp.mpf("1e-6")))
        G = k * mp.fsum(1 / (x + k) for x in L) / (z * len(L))
        return float(abs(mp.im(G)) / mp.pi)


@pytest.mark.parametrize("k, ratio", [(1.0, 0.6), (1.0, 3.0), (2.0, 0.5), (0.5, 8.0)])
def test_power_law_density_against_mpmath(k: float, ratio: float) -> None:
    spec = lindiff.Spectrum.powerlaw(60, k)
    N = ratio * 60
    sup = spectral_density(spec, N, 1.0)
    lo, hi = float(sup.support_lo[-1]), float(sup.support_hi[-1])   # the widest (lowest) interval
    pts = lo + (hi - lo) * np.array([0.1, 0.37, 0.8])
    ds = spectral_density(spec, N, pts)
    for s, rho, kap in zip(pts, ds.rho.values, ds.kappa.values):
        assert rho > 0
        assert rho == pytest.approx(_mp_density(spec.expanded(), N, float(s), complex(kap)), rel=1e-10)


# ------------------------------------------------------------------ the quadrature rule
def _moments(spec: lindiff.Spectrum, N: float) -> list[float]:
    """Exact moments (1/d) E tr C^k, k = 1..3, of the DE law (free multiplicative convolution with
    Marchenko-Pastur at ratio c = d/N): m1 = mu1, m2 = mu2 + c mu1^2, m3 = mu3 + 3 c mu2 mu1 + c^2 mu1^3."""
    lam = spec.expanded()
    c = lam.size / N
    mu1, mu2, mu3 = (float(np.mean(lam ** k)) for k in (1, 2, 3))
    return [mu1, mu2 + c * mu1 ** 2, mu3 + 3 * c * mu2 * mu1 + c ** 2 * mu1 ** 3]


@pytest.mark.parametrize("k, ratio", [(0.0, 0.5), (1.0, 0.6), (1.0, 4.0), (2.0, 0.2), (2.0, 10.0), (1.5, 100.0)])
def test_real_rule_sum_rules_and_agreement_with_contour(k: float, ratio: float) -> None:
    d = 300
    spec = lindiff.Spectrum.powerlaw(d, k)
    N = ratio * d
    mu = de_measure(spec, N, method="real")
    assert mu.converged and mu.error < 1e-11 and mu.method == "real"
    assert np.all(mu.nodes.imag == 0) and all(np.all(w.real >= 0) for w in mu.weights.values())
    for p, want in enumerate(_moments(spec, N), start=1):
        assert mu.integrate(lambda s: s ** p).real == pytest.approx(want, rel=1e-12)
    assert mu.integrate(np.ones_like, "sigma").real == pytest.approx(spec.trace / d, rel=1e-12)
    # Stieltjes transforms at real z0 > 0 against the real fixed point: (1/d) Tr (C + z0)^-1 = kappa S1 / (z0 d)
    lam = spec.expanded()
    for z0 in (1e-3, 0.3, 7.0):
        kap = float(lindiff.kappa(z0, spec, N).value)
        want = kap * np.sum(1 / (lam + kap)) / (z0 * d)
        assert mu.integrate(lambda s: 1 / (s + z0)).real == pytest.approx(want, rel=1e-12)
    # the contour rule integrates the same smooth functions; it is the less accurate of the two for
    # integrands that grow off the real axis (measured: exp(-s) at k = 2, N = 0.2 d is 4e-9 off for
    # rho and 4e-8 for sigma although its checks hold to 8e-13; the real rule matches a 20k-node rule)
    contour = de_measure(spec, N)
    for f in (lambda s: 1 / (s + 0.3), lambda s: np.exp(-s), lambda s: s ** 3):
        for name in ("rho", "sigma", "sinv"):
            assert mu.integrate(f, name).real == pytest.approx(contour.integrate(f, name).real, rel=1e-7)


def test_gapped_spectrum_separates_exactly() -> None:
    """Two clusters (lambda = 1 and 10, 50 each) at N = 20 d: two support intervals, each holding
    exactly its cluster's share of the eigenvalues (exact separation)."""
    spec = lindiff.Spectrum([1.0, 10.0], weights=[50, 50])
    mu = de_measure(spec, 2000, method="real")
    assert mu.converged and mu.intervals == 2
    ds = spectral_density(spec, 2000, 1.0)
    split = 0.5 * (float(ds.support_hi[0]) + float(ds.support_lo[1]))
    assert float(ds.support_hi[0]) < float(ds.support_lo[1])
    low = mu.integrate(lambda s: (s < split).astype(float)).real
    assert low == pytest.approx(0.5, abs=1e-12)
    assert spectral_density(spec, 2000, split).rho.item() == 0.0


def test_weighted_and_expanded_spectra_agree() -> None:
    lam = np.array([3.0, 1.0, 0.2])
    w = np.array([5, 20, 15])
    a = de_measure(lindiff.Spectrum(lam, weights=w), 25, method="real")
    b = de_measure(lindiff.Spectrum(np.repeat(lam, w)), 25, method="real")
    f = lambda s: np.exp(-s) / (1 + s)  # noqa: E731
    assert a.integrate(f).real == pytest.approx(b.integrate(f).real, rel=1e-13)


def test_bad_input() -> None:
    spec = lindiff.Spectrum.powerlaw(50, 1.0)
    with pytest.raises(ValueError, match="N must differ from d"):
        de_measure(spec, 50, method="real")
    with pytest.raises(ValueError, match="method"):
        de_measure(spec, 20, method="trapezoid")
    with pytest.raises(ValueError, match="min_nodes"):
        de_measure(spec, 20, method="real", min_nodes=4)
    with pytest.raises(ValueError, match="s must be finite"):
        spectral_density(spec, 20, [1.0, np.nan])
    with pytest.raises(ValueError, match="N"):
        spectral_density(spec, -1.0, 1.0)
    with pytest.raises(ValueError, match="quadrature"):
        theory.gradflow_losses(spec, 20, 1.0, quadrature="simpson")


# ------------------------------------------------------------------ explicit GD theory
def _gd_setup(d: int, N: int) -> tuple[lindiff.Spectrum, lindiff.Schedule, list[int], float]:
    spec = lindiff.Spectrum.powerlaw(d, 1.0)
    sched = lindiff.Schedule.linear()
    t = [10, 100, 500]
    idx = sched.index(t)
    s_hi = de_measure(spec, N, method="real").s_hi
    eta = float(0.45 / np.max(sched.a2[idx] * 1.3 * s_hi + sched.b2[idx]))  # 2 eta m <= 0.9
    return spec, sched, t, eta


def test_gd_theory_at_ten_thousand_steps_matches_exact_gd() -> None:
    """The mean test loss of exact GD over 16 seeded draws at d = 400 lies within 3 s.e. of the
    theory at 10, 100, 10^3 and 10^4 steps (the contour rule broke after tens of steps). The
    train loss is not compared here: it carries the static DE's own finite-d bias (measured at
    d = 400: z = -3 to -6 with 16 draws, the same at n = 10^9 steps, i.e. the minimiser), which
    lindiff.validate models by extrapolation in d."""
    d, N, draws = 400, 240, 16
    spec, sched, t, eta = _gd_setup(d, N)
    et = eta * np.array([10, 100, 1000, 10000])
    th = theory.gradflow_losses(spec, N, et, schedule=sched, t=t, gd_eta=eta)
    assert th.attrs["quadrature"] == "real" and np.all(np.isfinite(th.test)) and np.all(np.isfinite(th.train))
    runs = []
    for ss in np.random.SeedSequence(0).spawn(draws):
        smp = exact.SampleSpectrum.draw(spec, N, seed=ss)
        runs.append(exact.losses(smp, sched, t=t, eta_tau=et, gd_eta=eta).test)
    v = np.array(runs)
    z = (v.mean(0) - th.test.values) / (v.std(0, ddof=1) / np.sqrt(draws))
    assert np.max(np.abs(z)) < 3, z
    # a wrong theory (N x 1.1) is far outside
    wrong = theory.gradflow_losses(spec, 1.1 * N, et, schedule=sched, t=t, gd_eta=eta)
    assert np.max(np.abs((v.mean(0) - wrong.test.values) / (v.std(0, ddof=1) / np.sqrt(draws)))) > 10


def test_gd_theory_limits() -> None:
    spec, sched, t, eta = _gd_setup(200, 150)
    # n -> infinity: the static minimiser
    far = theory.gradflow_losses(spec, 150, eta * 1e9, schedule=sched, t=t, gd_eta=eta)
    st_ = theory.static_losses(spec, 150, schedule=sched, t=t)
    np.testing.assert_allclose(far.test, st_.test, rtol=1e-11)
    np.testing.assert_allclose(far.train, st_.train, rtol=1e-11)
    # small steps: GD tends to gradient flow at the same eta * tau (error O(eta))
    et = 2.0
    gf = theory.gradflow_losses(spec, 150, et, schedule=sched, t=t)
    for e, bound in ((2e-3, 3e-3), (2e-4, 3e-4)):
        gd = theory.gradflow_losses(spec, 150, et, schedule=sched, t=t, gd_eta=e)
        assert np.max(np.abs(gd.test - gf.test) / gf.test) < bound
    # gradient flow: the real rule agrees with a refined contour rule to 1e-11; the default contour
    # rule (128 nodes, checks at 1e-11) is 8e-10 off at eta*tau = 20 (measured)
    real = theory.gradflow_losses(spec, 150, [0.5, 20.0], schedule=sched, t=t, quadrature="real")
    cont = theory.gradflow_losses(spec, 150, [0.5, 20.0], schedule=sched, t=t, quadrature="contour")
    mu = de_measure(spec, 150, min_nodes=2048)
    fine_test = _core.de_losses(mu.nodes, mu.weights["rho"], mu.weights["sigma"], mu.atoms["rho"],
                                      mu.atoms["sigma"], sched.a2, sched.b2, 0.0, np.array([0.5, 20.0]), 0.0,
                                      np.asarray(sched.index(t), dtype=np.int64))[0]
    np.testing.assert_allclose(real.test, fine_test, rtol=1e-11)
    np.testing.assert_allclose(cont.test, fine_test, rtol=1e-8)


# ------------------------------------------------------------------ fuzz
spectra = st.lists(st.tuples(st.floats(-3, 3), st.integers(1, 40)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spectra, st.floats(0.05, 30.0))
def test_fuzz_real_rule(pairs: list[tuple[float, int]], ratio: float) -> None:
    lam = 10.0 ** np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs], dtype=float)
    spec = lindiff.Spectrum(lam, weights=w)
    N = ratio * spec.d
    if abs(N - spec.d) < 1e-3 * spec.d:
        with pytest.raises(ValueError):
            de_measure(spec, spec.d, method="real")
        return
    with np.errstate(all="raise"):
        mu = de_measure(spec, N, method="real", tol=1e-9, strict=False) if abs(N / spec.d - 1) > 0.05 else None
    if mu is not None and mu.converged:
        assert mu.integrate(lambda s: s).real == pytest.approx(float(np.sum(lam * w) / spec.d), rel=1e-8)
    s = np.linspace(-1.0, 2.0 * lam.max() * (1 + np.sqrt(spec.d / N)) ** 2, 7)
    ds = spectral_density(spec, N, s)
    for v in ("rho", "rho_sigma", "rho_sinv"):
        vals = ds[v].values
        assert np.all(np.isfinite(vals)) and np.all(vals >= 0)


@pytest.mark.parametrize("ratio, check", [(0.999, 1e-10), (1.0015, 5e-10)])
def test_real_rule_near_the_hard_edge(ratio: float, check: float) -> None:
    """N -> d: the panels' x-rounding discount hides real error near the hard edge (masses 2e-11
    off, checks 1.8e-8 at N = 0.999d); the rule is rebuilt without it when its checks miss tol.
    The checks still miss 1e-11 there, and the result says so."""
    spec = lindiff.Spectrum.powerlaw(1000, 1.0)
    with pytest.warns(lindiff.ConvergenceWarning):
        mu = de_measure(spec, ratio * 1000, method="real")
    assert not mu.converged and mu.message == "checks above tol"
    assert mu.error < check
    mass = mu.integrate(lambda s: np.ones_like(s)).real
    assert abs(mass - 1) < 1e-12
    sigma = mu.integrate(lambda s: np.ones_like(s), "sigma").real
    assert abs(sigma - spec.eigenvalues.mean()) < 1e-12 * spec.eigenvalues.mean()
