"""lindiff.kappa: agreement with independent mpmath solves, closed forms, limits, branches,
determinism, diagnostics and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lindiff
from lindiff.reference import kappa0_mp, kappa_isotropic, kappa_mp

KS = [0.0, 0.5, 1.0, 2.0]
DS = [10, 100, 1000]
RATIOS = [0.25, 0.6, 1.5, 8.0]
Z_REAL = np.logspace(-8, 4, 7)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("d", DS)
@pytest.mark.parametrize("k", KS)
def test_real_matches_mpmath(k: float, d: int, ratio: float) -> None:
    s = lindiff.Spectrum.powerlaw(d, k)
    N = ratio * d
    res = lindiff.kappa(Z_REAL, s, N)
    assert res.all_converged
    ref = np.array([float(kappa_mp(z, s.eigenvalues, N, dps=30)) for z in Z_REAL])
    np.testing.assert_allclose(res.value, ref, rtol=1e-12, atol=0)
    assert res.kappa0 == pytest.approx(float(kappa0_mp(s.eigenvalues, N, dps=30)), rel=1e-12, abs=0)
    assert np.all(res.residual <= 1e-13)


@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("d", DS)
@pytest.mark.parametrize("k", KS)
def test_complex_near_real_axis_matches_mpmath(k: float, d: int, ratio: float) -> None:
    s = lindiff.Spectrum.powerlaw(d, k)
    N = ratio * d
    # above the negative real axis (inside and outside the support) and above the positive axis
    z = np.array([0.3 + 1e-3j, -0.05 + 1e-3j, -2.0 + 1e-2j])
    res = lindiff.kappa(z, s, N)
    assert res.all_converged
    ref = np.array([complex(kappa_mp(zi, s.eigenvalues, N, dps=30)) for zi in z])
    np.testing.assert_allclose(res.value, ref, rtol=1e-12, atol=0)
    assert np.all(res.value.imag > 0)


def test_isotropic_quadratic_real_and_complex() -> None:
    d = 200
    s = lindiff.Spectrum.from_eigenvalues(np.ones(d))
    z = np.logspace(-8, 4, 60)
    for N in (50.0, 120.0, 200.0, 300.0, 5000.0):
        np.testing.assert_allclose(lindiff.kappa(z, s, N).value, kappa_isotropic(z, d, N), rtol=1e-13)
    zc = np.linspace(-3, 2, 41) + 0.02j
    for N in (50.0, 300.0):
        np.testing.assert_allclose(lindiff.kappa(zc, s, N).value, kappa_isotropic(zc, d, N), rtol=1e-12)


def test_weighted_spectrum_is_cheap_and_exact() -> None:
    d = 10**7
    s = lindiff.Spectrum.from_eigenvalues([1.0], weights=[d])
    z = np.logspace(-6, 3, 20)
    np.testing.assert_allclose(lindiff.kappa(z, s, 0.3 * d).value, kappa_isotropic(z, d, 0.3 * d), rtol=1e-13)
    # two distinct values with multiplicities == the expanded spectrum
    w = lindiff.Spectrum.from_eigenvalues([2.0, 0.5], weights=[30, 70])
    e = lindiff.Spectrum.from_eigenvalues(w.expanded())
    np.testing.assert_allclose(lindiff.kappa(z, w, 40).value, lindiff.kappa(z, e, 40).value, rtol=1e-14)


@pytest.mark.parametrize("k", KS)
def test_physical_branch_and_monotone_for_N_below_d(k: float) -> None:
    s = lindiff.Spectrum.powerlaw(500, k)
    N = 0.3 * 500
    z = np.logspace(-12, 5, 400)
    res = lindiff.kappa(z, s, N)
    assert res.kappa0 > 0
    assert np.all(res.value >= res.kappa0) and np.all(res.value >= z)
    assert np.all(np.diff(res.value) > 0)
    # z -> 0: kappa -> kappa0 linearly with slope kappa'(0)
    assert res.value[0] == pytest.approx(res.kappa0, rel=1e-9)


def test_limits_large_N_and_large_z() -> None:
    s = lindiff.Spectrum.powerlaw(300, 1.0)
    z = np.logspace(-6, 2, 9)
    res = lindiff.kappa(z, s, 1e13)
    np.testing.assert_allclose(res.value, z, rtol=1e-10)  # N -> inf: kappa -> z
    zbig = np.array([1e6, 1e9, 1e12])
    res = lindiff.kappa(zbig, s, 200)
    # kappa = z + kappa df1 / N -> z + Tr Sigma / N as z -> inf (at z = 1e12 the difference is below
    # the solver's relative tolerance 1e-14 x |z|: compare kappa itself there)
    np.testing.assert_allclose(res.value[:2] - zbig[:2], s.trace / 200, rtol=1e-3)
    assert res.value[2] == pytest.approx(zbig[2] + s.trace / 200, rel=3e-14)
    np.testing.assert_allclose(res.derivative, 1.0, rtol=1e-5)


def test_derivative_matches_finite_differences() -> None:
    s = lindiff.Spectrum.powerlaw(400, 1.0)
    for N in (100.0, 1000.0):
        z = np.logspace(-5, 2, 8)
        h = np.minimum(0.5 * z, 1e-6 * np.maximum(z, 1.0))  # kappa varies on the scale max(z, kappa0)
        fd = (lindiff.kappa(z + h, s, N).value - lindiff.kappa(z - h, s, N).value) / (2 * h)
        np.testing.assert_allclose(lindiff.kappa_prime(z, s, N), fd, rtol=1e-7)
    zc = np.array([-0.1 + 0.05j])
    hc = 1e-6
    fd = (lindiff.kappa(zc + hc, s, 100.0).value - lindiff.kappa(zc - hc, s, 100.0).value) / (2 * hc)
    np.testing.assert_allclose(lindiff.kappa(zc, s, 100.0).derivative, fd, rtol=1e-7)


def test_results_independent_of_threads_order_and_batch(rng: np.random.Generator) -> None:
    s = lindiff.Spectrum.powerlaw(1000, 1.0)
    z = 10 ** rng.uniform(-8, 4, 5000)
    old = lindiff.get_num_threads()
    try:
        lindiff.set_num_threads(1)
        one = lindiff.kappa(z, s, 600).value
        lindiff.set_num_threads(2)
        two = lindiff.kappa(z, s, 600).value
    finally:
        lindiff.set_num_threads(old)
    assert np.array_equal(one, two)  # the same computation on another thread count: bitwise
    # another order or batch (other start lattice, other iterates): equal to a few ulps
    perm = rng.permutation(z.size)
    np.testing.assert_array_max_ulp(lindiff.kappa(z[perm], s, 600).value, one[perm], maxulp=4)
    alone = np.array([float(lindiff.kappa(zi, s, 600).value) for zi in z[:20]])
    np.testing.assert_array_max_ulp(alone, one[:20], maxulp=4)


def test_shape_preserved() -> None:
    s = lindiff.Spectrum.powerlaw(50, 1.0)
    z = np.logspace(-3, 1, 12).reshape(3, 4)
    res = lindiff.kappa(z, s, 20)
    for a in (res.value, res.derivative, res.converged, res.iterations, res.residual):
        assert a.shape == (3, 4)
    # a scalar z gives Python scalars (documented in KappaResult), real or complex, 0-d array or not
    for z0 in (0.5, np.float64(0.5), np.array(0.5), 1, np.int32(2)):
        r = lindiff.kappa(z0, s, 20)
        assert type(r.value) is float and type(r.derivative) is float and type(r.residual) is float
        assert type(r.df1) is float and type(r.df2) is float and type(r.z) is float
        assert type(r.converged) is bool and type(r.iterations) is int
        assert r.all_converged and r.n_failed == 0 and r.max_residual <= 1e-14 and "1/1" in str(r)
    rc = lindiff.kappa(0.5 + 0.1j, s, 20)
    assert type(rc.value) is complex and type(rc.converged) is bool and type(rc.iterations) is int
    assert type(lindiff.kappa_prime(0.5, s, 20)) is np.float64


def test_complex_branch_symmetry_and_real_axis() -> None:
    s = lindiff.Spectrum.powerlaw(200, 1.0)
    z = np.linspace(-4, 3, 50) + 0.05j
    up = lindiff.kappa(z, s, 100).value
    down = lindiff.kappa(np.conj(z), s, 100).value
    np.testing.assert_allclose(down, np.conj(up), rtol=1e-12)
    assert np.all(up.imag > 0) and np.all(down.imag < 0)
    zr = np.array([0.01, 0.5, 7.0])
    np.testing.assert_allclose(lindiff.kappa(zr.astype(complex), s, 100).value,
                               lindiff.kappa(zr, s, 100).value, rtol=1e-13)
    # a closed contour around the whole support, excluding 0 (N > d: a gap), follows the
    # physical branch all the way round: isotropic case, Marchenko-Pastur edges known exactly
    d, N = 200, 300.0
    q = d / N
    lo_edge, hi_edge = (1 - np.sqrt(q)) ** 2, (1 + np.sqrt(q)) ** 2
    left, right = -1.2 * hi_edge, -0.5 * lo_edge
    th = (np.arange(401) + 0.5) / 400 * 2 * np.pi  # off the real axis; last point = first
    contour = (left + right) / 2 + (right - left) / 2 * np.exp(1j * th)
    iso = lindiff.Spectrum.from_eigenvalues([1.0], weights=[d])
    res = lindiff.kappa(contour, iso, N)
    assert res.all_converged
    np.testing.assert_allclose(res.value, kappa_isotropic(contour, d, N), rtol=1e-12)
    assert res.value[-1] == pytest.approx(res.value[0], rel=1e-12)


def test_path_across_the_cut_restarts_on_the_physical_sheet() -> None:
    """A segment crossing the cut (the negative real axis in the support) cannot be continued on
    the physical sheet; the point is started afresh from the real axis along its own arc, so it
    gets the physical value (sign Im kappa = sign Im z), the same as when solved alone."""
    s = lindiff.Spectrum.powerlaw(100, 1.0)
    path = np.array([-0.5 + 0.01j, -0.5 - 0.01j])
    res = lindiff.kappa(path, s, 50)
    assert res.all_converged
    assert res.value[0].imag > 0 > res.value[1].imag
    alone = lindiff.kappa(path[1:], s, 50).value[0]
    assert res.value[1] == pytest.approx(alone, rel=1e-13)
    assert res.value[1] == pytest.approx(np.conj(res.value[0]), rel=1e-13)
    # a point in the support whose Im z is below the resolution of Im kappa is flagged, never guessed
    with pytest.warns(lindiff.ConvergenceWarning, match="did not converge"):
        assert not lindiff.kappa(np.array([-0.5 + 1e-18j]), s, 50).converged[0]
    with pytest.raises(lindiff.ConvergenceError) as exc:
        lindiff.kappa(np.array([-0.5 + 1e-18j]), s, 50, strict=True)
    assert isinstance(exc.value.result, lindiff.KappaResult)


def test_iteration_limit_is_reported() -> None:
    s = lindiff.Spectrum.powerlaw(300, 2.0)
    z = np.array([1.2345e-3, 0.0456, 3.21])
    # one evaluation usually suffices (certified Newton step) ...
    assert lindiff.kappa(z, s, 100, max_iter=1).all_converged
    # ... but not for an unreachable tolerance: the limit is reported, never hidden
    with pytest.warns(lindiff.ConvergenceWarning):
        res = lindiff.kappa(z, s, 100, max_iter=1, tol=1e-300)
    assert not res.all_converged
    assert np.all(res.iterations <= 1)
    assert np.all(res.residual > 0) and np.all(np.isfinite(res.residual))
    assert np.all(res.value >= np.maximum(z, res.kappa0))  # still inside the bracket


def test_repr_text_and_html() -> None:
    res = lindiff.kappa(np.logspace(-3, 1, 5), lindiff.Spectrum.powerlaw(100, 1.0), 60)
    text = str(res)
    assert "converged: 5/5" in text and "kappa0" in text and "(!)" not in text
    assert "<table" in res._repr_html_() and "#92CCA6" in res._repr_html_()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: lindiff.kappa(1.0, s, 0), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, -3), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, float("nan")), "N must be"),
        (lambda s: lindiff.kappa(0.0, s, 10), "z must be > 0"),
        (lambda s: lindiff.kappa([1.0, -1.0], s, 10), "z must be > 0"),
        (lambda s: lindiff.kappa([1.0, np.nan], s, 10), "z must be finite"),
        (lambda s: lindiff.kappa([1.0, np.inf], s, 10), "z must be finite"),
        (lambda s: lindiff.kappa(np.array([0j]), s, 10), "z must be non-zero"),
        (lambda s: lindiff.kappa(np.array([np.nan + 1j]), s, 10), "z must be finite"),
        (lambda s: lindiff.kappa("abc", s, 10), "z must be numeric"),
        (lambda s: lindiff.kappa(1.0, [1.0, 2.0], 10), "spectrum must be"),
        (lambda s: lindiff.kappa(1.0, s, 10, tol=0), "tol must be"),
        (lambda s: lindiff.kappa(1.0, s, 10, max_iter=0), "max_iter must be"),
        (lambda s: lindiff.kappa0(s, 0), "N must be"),
    ],
)
def test_bad_input(call, match: str) -> None:  # type: ignore[no-untyped-def]
    s = lindiff.Spectrum.powerlaw(20, 1.0)
    with pytest.raises(ValueError, match=match):
        call(s)


def test_no_warning_when_converged() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lindiff.kappa(np.logspace(-8, 4, 100), lindiff.Spectrum.powerlaw(100, 2.0), 25)
