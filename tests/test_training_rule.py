"""The training-time Gauss rule (quadrature="gauss") of gradflow_losses / optimal_stopping, the
vectorised expm1 of the kernel's real path, and the ridge data-predictor loss along training."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lindiff
from lindiff import _core, exact, theory
from lindiff.theory import de_measure

SCHED = lindiff.Schedule.linear()
WIDE_ETA_TAU = np.append(np.geomspace(1e-5, 1e9, 29), np.inf)   # beyond the rule's check grid


def _numpy_losses(mu: theory.DeMeasure, c: float, eta_tau: np.ndarray, tidx: np.ndarray) -> np.ndarray:
    """test, train and ridge-data losses of a real rule with NumPy's expm1 (the stable forms)."""
    s, w, v = mu.nodes.real, mu.weights["rho"].real, mu.weights["sigma"].real
    a2, b2 = SCHED.a2[tidx, None], SCHED.b2[tidx, None]
    out = np.empty((3, eta_tau.size, tidx.size))
    for e, et in enumerate(eta_tau):
        m = a2 * s + b2 + c
        E = np.zeros_like(m) if np.isinf(et) else np.exp(-2 * et * m)
        phi = 1 / m if np.isinf(et) else -np.expm1(-2 * et * m) / m
        one, q = (a2 * s + c + b2 * E) / m, (b2 + c + a2 * s * E) / m
        f1, f2 = one**2, a2 * b2 * phi**2
        phi0 = 1 / (b2[:, 0] + c) if np.isinf(et) else -np.expm1(-2 * et * (b2[:, 0] + c)) / (b2[:, 0] + c)
        one0 = 1 - b2[:, 0] * phi0
        at_r, at_s = mu.atoms["rho"], mu.atoms["sigma"]
        out[0, e] = f1 @ w + f2 @ v + at_r * one0**2 + at_s * a2[:, 0] * b2[:, 0] * phi0**2
        out[1, e] = (f1 + s * f2) @ w + at_r * one0**2
        out[2, e] = q**2 @ v + (s * s * f2) @ w + at_s
    return out


@pytest.mark.parametrize("N", [300.0, 1500.0])
def test_vectorised_real_path_matches_numpy(N: float) -> None:
    mu = de_measure(lindiff.Spectrum.powerlaw(500, 1.0), N, method="real")
    tidx = np.array([0, 9, 99, 499, 999])
    for c in (0.0, 1e-2):
        got = np.stack(_core.de_losses(mu.nodes, mu.weights["rho"], mu.weights["sigma"], mu.atoms["rho"],
                                       mu.atoms["sigma"], SCHED.a2, SCHED.b2, c, WIDE_ETA_TAU, 0.0, tidx)[:3])
        np.testing.assert_allclose(got, _numpy_losses(mu, c, WIDE_ETA_TAU, tidx), rtol=1e-13, atol=0)


@pytest.mark.parametrize("k", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("d, ratio", [(100, 0.3), (1000, 0.6), (1000, 3.0)])
def test_gauss_rule_matches_the_real_axis_rule(k: float, d: int, ratio: float) -> None:
    spec = lindiff.Spectrum.powerlaw(d, k)
    kw = dict(c=[0.0, 1e-2], t=[1, 10, 100, 500, 1000])
    g = theory.gradflow_losses(spec, ratio * d, WIDE_ETA_TAU, quadrature="gauss", **kw)
    r = theory.gradflow_losses(spec, ratio * d, WIDE_ETA_TAU, quadrature="real", **kw)
    assert g.attrs["quadrature"] == "gauss" and "Gauss rule" in g.attrs["quadrature_rule"]
    assert int(g.measure_nodes) < int(r.measure_nodes)
    for v in ("test", "train", "data_ridge", "data_noise"):
        np.testing.assert_allclose(g[v], r[v], rtol=2e-12, atol=0, err_msg=v)


@pytest.mark.parametrize("name", ["gap", "multiplicities", "mnist"])
def test_gauss_rule_on_other_spectra(name: str) -> None:
    if name == "gap":       # two clusters four decades apart: a gap in the support of C
        spec = lindiff.Spectrum(np.concatenate([np.linspace(1, 2, 150), np.linspace(1e-4, 2e-4, 150)]))
    elif name == "multiplicities":
        spec = lindiff.Spectrum([3.0, 1.0, 0.2, 0.01], weights=[10, 40, 100, 50])
    else:
        spec = lindiff.spectra.load("mnist")
    N = 0.7 * spec.d
    g = theory.gradflow_losses(spec, N, WIDE_ETA_TAU, quadrature="gauss", t=[1, 50, 500])
    r = theory.gradflow_losses(spec, N, WIDE_ETA_TAU, quadrature="real", t=[1, 50, 500])
    for v in ("test", "train", "data_ridge"):
        np.testing.assert_allclose(g[v], r[v], rtol=2e-12, atol=0, err_msg=v)


@pytest.mark.parametrize("ratio", [0.4, 2.5])
def test_ridge_data_loss_at_infinite_time_is_the_static_one(ratio: float) -> None:
    spec = lindiff.Spectrum.powerlaw(400, 1.0)
    g = theory.gradflow_losses(spec, ratio * 400, np.inf, c=[0.0, 1e-3])
    st_ = theory.static_losses(spec, ratio * 400, c=[0.0, 1e-3])
    for v in ("test", "train", "data_noise", "data_ridge"):
        np.testing.assert_allclose(g[v], st_[v], rtol=1e-11, err_msg=v)
    np.testing.assert_allclose(g.data_noise, g.test * (SCHED.b2 / SCHED.a2), rtol=1e-15)


def test_ridge_data_loss_matches_exact_gradient_flow() -> None:
    """The mean ridge data loss of exact gradient flow over 16 seeded draws at d = 400 lies within
    3 s.e. of the theory; a wrong theory (N x 1.1) is far outside."""
    d, N, draws = 400, 240, 16
    spec = lindiff.Spectrum.powerlaw(d, 1.0)
    t, et = [10, 100, 500], np.array([0.3, 3.0, 30.0])
    th = theory.gradflow_losses(spec, N, et, t=t).data_ridge.values
    runs = [exact.losses(exact.SampleSpectrum.draw(spec, N, seed=ss), SCHED, t=t, eta_tau=et).data_ridge
            for ss in np.random.SeedSequence(5).spawn(draws)]
    v = np.array(runs)
    se = v.std(0, ddof=1) / np.sqrt(draws)
    assert np.max(np.abs((v.mean(0) - th) / se)) < 3
    wrong = theory.gradflow_losses(spec, 1.1 * N, et, t=t).data_ridge.values
    assert np.max(np.abs((v.mean(0) - wrong) / se)) > 10


def test_optimal_stopping_gauss_matches_real() -> None:
    for k in (0.0, 2.0):
        spec = lindiff.Spectrum.powerlaw(500, k)
        g = theory.optimal_stopping(spec, [200.0, 350.0], quadrature="gauss", rtol=1e-9)
        r = theory.optimal_stopping(spec, [200.0, 350.0], quadrature="real", rtol=1e-9)
        np.testing.assert_allclose(g.test_min, r.test_min, rtol=1e-12)
        np.testing.assert_allclose(g.eta_tau, r.eta_tau, rtol=1e-6)
        assert g.attrs["quadrature"] == "gauss"


def test_quadrature_choice() -> None:
    spec = lindiff.Spectrum.powerlaw(100, 1.0)
    assert theory.gradflow_losses(spec, 60, 1.0).attrs["quadrature"] == "gauss"
    assert theory.gradflow_losses(spec, 60, 1.0, gd_eta=0.01).attrs["quadrature"] == "real"
    with pytest.raises(ValueError, match="gd_eta"):
        theory.gradflow_losses(spec, 60, 1.0, gd_eta=0.01, quadrature="gauss")
    with pytest.raises(ValueError, match="quadrature"):
        theory.gradflow_losses(spec, 60, 1.0, quadrature="gaus")
    with pytest.raises(ValueError, match="quadrature"):
        theory.optimal_stopping(spec, 60, quadrature=None)  # type: ignore[arg-type]


spectra = st.lists(st.tuples(st.floats(-3, 3), st.integers(1, 40)), min_size=2, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spectra, st.floats(0.1, 20.0), st.floats(-4, 6))
def test_fuzz_gauss_rule(pairs: list[tuple[float, int]], ratio: float, log_et: float) -> None:
    lam = 10.0 ** np.array([p[0] for p in pairs])
    spec = lindiff.Spectrum(lam, weights=np.array([p[1] for p in pairs], dtype=float))
    N = ratio * spec.d
    if abs(N / spec.d - 1) < 0.05:
        return
    et = np.array([10.0**log_et, np.inf])
    with np.errstate(all="raise"):
        g = theory.gradflow_losses(spec, N, et, t=[1, 100, 1000], quadrature="gauss")
        r = theory.gradflow_losses(spec, N, et, t=[1, 100, 1000], quadrature="real")
    for v in ("test", "train", "data_ridge"):
        assert np.all(np.isfinite(g[v])) and np.all(g[v] >= 0)
        np.testing.assert_allclose(g[v], r[v], rtol=1e-11, atol=0, err_msg=v)
