"""Spectrum.compress: an r-node Gauss rule of the spectral measure in log(lambda).

The compressed spectrum must give df1, df2 and kappa(z) at real z within 1e-12 relative of the
direct path (or within twice the direct path's own rounding floor, measured by summing the same
spectrum in another order), keep d exactly and the trace to rounding, and say what it certifies.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lindiff
from lindiff import theory
from lindiff._compress import CompressionInfo, direct_sums

RTOL = 1e-12


def _kappa_grid(s: lindiff.Spectrum, n: int = 60) -> np.ndarray:
    lam = s.eigenvalues
    return np.geomspace(1e-10 * lam.min(), 1e4 * lam.max(), n)


def _rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1)))


def _check_sums(s: lindiff.Spectrum, c: lindiff.Spectrum) -> None:
    info = c.info["compression"]
    assert isinstance(info, CompressionInfo) and info.compressed
    assert len(c) == info.r < len(s)
    assert c.d == s.d and type(c.d) is type(s.d)            # d exactly
    assert abs(c.trace / s.trace - 1) <= RTOL
    assert info.trace_rel_error <= RTOL and info.d_rel_error == 0
    assert max(info.measured_df1, info.measured_df2) <= info.tol
    k = _kappa_grid(s)
    # against the kernel's direct sums (the public path) and the stable pairwise reference
    assert _rel(c.df1(k), s.df1(k)) <= RTOL
    assert _rel(c.df2(k), s.df2(k)) <= RTOL
    r1, r2 = direct_sums(s.eigenvalues, s.weights, k)
    assert _rel(c.df1(k), r1) <= RTOL and _rel(c.df2(k), r2) <= RTOL
    # outside the checked range too: kappa -> 0 (df1 -> d) and kappa -> inf (df1 -> Tr/kappa)
    far = np.array([1e-14 * s.eigenvalues.min(), 1e8 * s.eigenvalues.max()])
    assert _rel(c.df1(far), direct_sums(s.eigenvalues, s.weights, far)[0]) <= RTOL


def _check_kappa(s: lindiff.Spectrum, c: lindiff.Spectrum) -> None:
    z = np.geomspace(1e-8, 1e4, 200) * (s.trace / s.d)
    rng = np.random.default_rng(1)
    p = rng.permutation(len(s))
    shuffled = lindiff.Spectrum(s.eigenvalues[p], s.weights[p] if s.is_weighted else None)
    for N in (0.3 * s.d, 1.0 * s.d, 3.0 * s.d):
        ref = lindiff.kappa(z, s, N).value
        floor = _rel(lindiff.kappa(z, shuffled, N).value, ref)   # the direct path's own rounding
        assert _rel(lindiff.kappa(z, c, N).value, ref) <= max(RTOL, 2 * floor), N


@pytest.mark.parametrize("d", [100, 1000, 100_000])
@pytest.mark.parametrize("k", [0.5, 1.0, 2.0])
def test_powerlaw(d, k):
    s = lindiff.Spectrum.powerlaw(d, k)
    c = s.compress()
    _check_sums(s, c)
    _check_kappa(s, c)
    assert c.info["compression"].r <= 100
    assert c.info["kind"] == "powerlaw"            # the original's info is kept


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "digits"])
def test_shipped_spectra(name):
    s = lindiff.spectra.load(name)
    c = s.compress()
    _check_sums(s, c)
    _check_kappa(s, c)


def test_multiplicities():
    rng = np.random.default_rng(0)
    lam = np.arange(1, 501, dtype=float) ** -1.3
    w = rng.integers(1, 1000, lam.size).astype(float)
    s = lindiff.Spectrum(lam, w)
    c = s.compress()
    _check_sums(s, c)
    _check_kappa(s, c)
    # equal eigenvalues given separately are the same measure as one weighted value
    dup = lindiff.Spectrum(np.repeat(lam[:50], 3))
    _check_sums(dup, dup.compress())


def test_gap_two_clusters():
    rng = np.random.default_rng(2)
    lam = np.r_[rng.uniform(1e-3, 2e-3, 3000), rng.uniform(10.0, 20.0, 3000)]   # pre-pass path
    w = rng.uniform(0.5, 2.0, lam.size)
    s = lindiff.Spectrum(lam, w)
    c = s.compress()
    _check_sums(s, c)
    _check_kappa(s, c)
    # no eigenvalue falls in the gap's middle decades (Gauss nodes may sit in the gap, with small weight)
    assert c.info["compression"].n_reduced < len(s)


def test_degenerate_returns_the_spectrum():
    iso = lindiff.Spectrum.from_eigenvalues([1.0], weights=[10**6])
    c = iso.compress()
    assert c == iso and not c.info["compression"].compressed and c.d == iso.d
    few = lindiff.Spectrum([1.0, 2.0, 3.0, 4.0])
    assert few.compress() == few
    # tol below the rounding floor: uncompressed, and it says so
    big = lindiff.Spectrum.powerlaw(10**5, 2.0)
    out = big.compress(tol=1e-15)
    assert out == big and not out.info["compression"].compressed


@pytest.mark.parametrize("bad", [0.0, 1e-16, 0.1, np.nan, "1e-12", True, 1j])
def test_tol_checked(bad):
    with pytest.raises(ValueError, match="tol"):
        lindiff.Spectrum.powerlaw(100, 1.0).compress(tol=bad)


def test_angle_checked():
    with pytest.raises(ValueError, match="angle"):
        lindiff.Spectrum.powerlaw(100, 1.0).compress(angle=0.95 * np.pi)


def test_complex_kappa_region():
    s = lindiff.Spectrum.powerlaw(1000, 1.0)
    lam = s.eigenvalues
    mods = np.geomspace(1e-10 * lam.min(), 1e4 * lam.max(), 80)

    def err(c, theta):
        kz = mods * np.exp(1j * theta)
        a1, a2 = direct_sums(lam, s.weights, kz)
        b1, b2 = direct_sums(c.eigenvalues, c.weights, kz)
        return max(_rel(b1, a1), _rel(b2, a2))

    c0 = s.compress()                                   # certified for real kappa only
    i0 = c0.info["compression"]
    assert i0.theta_max < 0.25 * np.pi
    assert err(c0, 0.9 * np.pi) > 1e-3                  # the real-kappa rule is not good there
    # the a-priori bound is an upper bound of the measured error where it is finite
    kz = mods * np.exp(0.5j * np.pi)
    b = i0.bound_at(kz)
    a1, _ = direct_sums(lam, s.weights, kz)
    m1 = np.abs(np.asarray(c0.df1(kz)) / a1 - 1)
    assert np.all(m1 <= b[:, 0] + 1e-14)
    c1 = s.compress(angle=0.5 * np.pi)                  # sized for |arg kappa| <= pi/2
    i1 = c1.info["compression"]
    assert i1.r > i0.r and i1.theta_max >= 0.5 * np.pi - 1e-12
    assert err(c1, 0.5 * np.pi) <= RTOL and err(c1, 0.25 * np.pi) <= RTOL


def test_static_losses_d1e5_agree():
    """Compressed sums agree with the direct ones within the direct sums' own summation-order floor
    (speed: bench/bench_compress.py)."""
    s = lindiff.Spectrum.powerlaw(100_000, 1.0)
    c = s.compress()
    N = np.array([3e4, 1e5, 3e5])
    a = theory.static_losses(s, N, compress=False)
    b = theory.static_losses(c, N, compress=False)
    shuffled = lindiff.Spectrum(s.eigenvalues[np.random.default_rng(3).permutation(len(s))])
    f = theory.static_losses(shuffled, N, compress=False)
    auto = theory.static_losses(s, N)                    # 3e8 (eigenvalue, kappa) pairs: compressed
    assert auto.attrs["spectral_sums"].startswith(f"{c.info['compression'].r}-node Gauss rule")
    for v in ("test", "train", "data_noise", "data_ridge", "optimum", "kappa", "kappa_prime"):
        x, y = np.asarray(a[v]), np.asarray(b[v])
        floor = _rel(np.asarray(f[v]), x)
        assert _rel(y, x) <= max(5 * RTOL, 2 * floor), v
        np.testing.assert_array_equal(np.asarray(auto[v]), y)   # auto uses the memoised rule: the same sums


def test_compress_option_of_static_losses():
    """auto: direct below 4096 eigenvalues or 2e8 pairs (bitwise the direct call), and the memoised
    rule once there is one; True/False force it; anything else names the option."""
    small = lindiff.Spectrum.powerlaw(1000, 1.0)
    a = theory.static_losses(small, 600.0, t=[1, 500])
    b = theory.static_losses(small, 600.0, t=[1, 500], compress=False)
    assert "would not pay" in a.attrs["spectral_sums"] and "compress=False" in b.attrs["spectral_sums"]
    np.testing.assert_array_equal(a.test, b.test)
    forced = theory.static_losses(small, 600.0, t=[1, 500], compress=True)
    assert "Gauss rule" in forced.attrs["spectral_sums"]
    assert _rel(np.asarray(forced.test), np.asarray(b.test)) <= 5 * RTOL
    big = lindiff.Spectrum.powerlaw(20_000, 1.0)
    one = theory.static_losses(big, 1e4, t=[1, 500])     # 4e4 pairs: direct
    assert "would not pay" in one.attrs["spectral_sums"]
    assert big.compress() is big.compress()               # memoised per (tol, angle)
    again = theory.static_losses(big, 1e4, t=[1, 500])   # a rule exists now: used
    assert "Gauss rule" in again.attrs["spectral_sums"]
    for bad in ("yes", 1, None, np.bool_(True)):
        with pytest.raises(ValueError, match="compress"):
            theory.static_losses(small, 600.0, compress=bad)


def test_pickle_keeps_info():
    c = lindiff.Spectrum.powerlaw(1000, 1.0).compress()
    c2 = pickle.loads(pickle.dumps(c))
    assert c2 == c and c2.info["compression"] == c.info["compression"]


# ---------------------------------------------------------------------------- kappa(compress=...)
def _check_kappa_option(s: lindiff.Spectrum) -> None:
    """kappa(compress=True) against compress=False at real z, within 1e-12 or twice the direct
    path's own summation-order floor; df1/df2 of the result likewise; the rule is named."""
    z = np.geomspace(1e-8, 1e4, 120) * (s.trace / s.d)
    p = np.random.default_rng(5).permutation(len(s))
    shuffled = lindiff.Spectrum(s.eigenvalues[p], s.weights[p] if s.is_weighted else None)
    for N in (0.3 * s.d, 1.0 * s.d, 3.0 * s.d):
        a = lindiff.kappa(z, s, N, compress=True)
        b = lindiff.kappa(z, s, N, compress=False)
        f = lindiff.kappa(z, shuffled, N, compress=False)
        assert "Gauss rule" in a.extra["spectral_sums"] and "compress=False" in b.extra["spectral_sums"]
        assert a.all_converged and b.all_converged
        for field in ("value", "derivative", "df1", "df2"):
            floor = _rel(getattr(f, field), getattr(b, field))
            assert _rel(getattr(a, field), getattr(b, field)) <= max(RTOL, 2 * floor), (N, field)


@pytest.mark.parametrize("d", [100, 1000, 100_000])
@pytest.mark.parametrize("k", [0.5, 1.0, 2.0])
def test_kappa_compress_powerlaw(d, k):
    _check_kappa_option(lindiff.Spectrum.powerlaw(d, k))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "digits"])
def test_kappa_compress_shipped(name):
    _check_kappa_option(lindiff.spectra.load(name))


def test_kappa_compress_multiplicities_and_gaps():
    rng = np.random.default_rng(0)
    lam = np.arange(1, 501, dtype=float) ** -1.3
    _check_kappa_option(lindiff.Spectrum(lam, rng.integers(1, 1000, lam.size).astype(float)))
    gap = np.r_[rng.uniform(1e-3, 2e-3, 3000), rng.uniform(10.0, 20.0, 3000)]      # pre-pass path, a gap
    _check_kappa_option(lindiff.Spectrum(gap, rng.uniform(0.5, 2.0, gap.size)))


def _backward_error(s: lindiff.Spectrum, N: float, z, k) -> float:
    """Relative residual of kappa in the equation summed over every eigenvalue."""
    f1 = np.asarray(s.df1(k))
    d = float(s.d)
    scale = np.abs(z) + np.abs(k * (1 - d / N)) + np.abs(k) * np.abs(d - f1) / N
    return float(np.max(np.abs(k * (1 - f1 / N) - z) / scale))


@pytest.mark.parametrize("d", [1000, 100_000])
def test_kappa_compress_complex(d):
    """Complex z: the points whose kappa the rule certifies (bound_at <= 1e-13) come from the rule,
    the others from the direct sums; every solution holds in the direct equation to 1e-12."""
    s = lindiff.Spectrum.powerlaw(d, 1.0)
    N = 0.5 * d
    rng = np.random.default_rng(3)
    z = 10 ** rng.uniform(-4, 2, 60) * np.exp(1j * rng.uniform(-3.0, 3.0, 60))
    a = lindiff.kappa(z, s, N, compress=True)
    b = lindiff.kappa(z, s, N, compress=False)
    assert a.all_converged and b.all_converged
    how = a.extra["spectral_sums"]
    n_cert = int(how.split("complex z: ")[1].split(" of ")[0])
    assert 0 < n_cert < z.size                       # some certified, some not (near the negative axis)
    assert _backward_error(s, N, z, a.value) <= 1e-12
    assert _backward_error(s, N, z, b.value) <= 1e-12
    assert _rel(a.value, b.value) <= 1e-10
    assert _rel(a.df1, b.df1) <= 1e-10


def test_certified_region():
    from lindiff._compress import certified, prepass_bound

    s = lindiff.Spectrum.powerlaw(100_000, 1.0)
    info = s.compress().info["compression"]
    lo, hi = info.kappa_range
    assert certified(info, [1.0, lo, hi]).all()
    assert not certified(info, [0.5 * lo, 2 * hi, -1.0, np.nan]).any()     # outside the range / the axis
    kz = np.geomspace(1e-3, 1e2, 40) * np.exp(1j * np.linspace(0.05, 3.1, 40))
    ok = certified(info, kz)
    bound = info.bound_at(kz).max(axis=-1)
    assert np.all(bound[ok] <= info.tol)                                    # certified: the bound holds ...
    a1, a2 = direct_sums(s.eigenvalues, s.weights, kz[ok])
    c = s.compress()
    assert _rel(c.df1(kz[ok]), a1) <= 2 * info.tol and _rel(c.df2(kz[ok]), a2) <= 2 * info.tol
    assert np.abs(np.angle(kz[ok])).max() < np.pi / 4                      # ... and the pre-pass term is finite
    assert prepass_bound(theta=np.pi / 4) == np.inf and prepass_bound(theta=0.0) == prepass_bound()


def test_kappa_compress_auto_and_option():
    """auto: direct for small spectra or calls (bitwise the direct call), the memoised rule once
    there is one, for scalar z too (then bitwise the batch on the rule); bad values name the option."""
    small = lindiff.Spectrum.powerlaw(1000, 1.0)
    z = np.geomspace(1e-6, 1e3, 50)
    a = lindiff.kappa(z, small, 600.0)
    b = lindiff.kappa(z, small, 600.0, compress=False)
    assert "would not pay" in a.extra["spectral_sums"]
    np.testing.assert_array_equal(a.value, b.value)
    big = lindiff.Spectrum.powerlaw(20_000, 1.0)
    assert "would not pay" in lindiff.kappa(z, big, 1e4).extra["spectral_sums"]     # 1e6 pairs: direct
    assert "one point" in lindiff.kappa(1.0, big, 1e4).extra["spectral_sums"]
    big.compress()
    batch = lindiff.kappa(z, big, 1e4)
    assert "Gauss rule" in batch.extra["spectral_sums"]
    for i in (0, 17, 49):
        one = lindiff.kappa(float(z[i]), big, 1e4)
        assert "Gauss rule" in one.extra["spectral_sums"] and one.value == batch.value[i]
        assert lindiff.kappa_prime(float(z[i]), big, 1e4) == batch.derivative[i]
    direct = lindiff.kappa(z, big, 1e4, compress=False)
    assert _rel(batch.value, direct.value) <= RTOL
    assert _rel(lindiff.kappa_prime(z, big, 1e4), lindiff.kappa_prime(z, big, 1e4, compress=False)) <= RTOL
    for bad in ("yes", 1, None, np.bool_(True)):
        with pytest.raises(ValueError, match="compress"):
            lindiff.kappa(z, small, 600.0, compress=bad)
        with pytest.raises(ValueError, match="compress"):
            lindiff.kappa(1.0, small, 600.0, compress=bad)


def test_kl_compress_option():
    """kl: the DE measure's kappa on the contour nears the negative real axis, outside a real-kappa
    rule's certified region: compress=True checks that and uses the direct sums (bitwise the
    compress=False result), saying so; auto does not try below 4096 eigenvalues."""
    s = lindiff.Spectrum.powerlaw(5000, 1.0)
    a = theory.kl(s, [2500.0, 1e4], compress=True)
    b = theory.kl(s, [2500.0, 1e4], compress=False)
    assert a.attrs["spectral_sums"].startswith("0 of 2 N over the")
    assert "compress=False" in b.attrs["spectral_sums"]
    np.testing.assert_array_equal(a.kl_fwd, b.kl_fwd)
    np.testing.assert_array_equal(a.kl_rev, b.kl_rev)
    small = theory.kl(lindiff.Spectrum.powerlaw(500, 1.0), 1000.0)
    assert "would not pay" in small.attrs["spectral_sums"]
    with pytest.raises(ValueError, match="compress"):
        theory.kl(s, 2500.0, compress="yes")


def test_bound_tables_against_numpy() -> None:
    """The kernel's ellipse tables (compress_bound.hpp) against the same formulas in NumPy: the
    ellipse through the nearer pole u = log kappa +- i pi, rho_j = rho_pole^t_j, and max |f| on
    each ellipse, real and complex kappa, far and near the spectrum's range."""
    from lindiff import _core

    center, half = -3.0, 7.0
    for kappa in (np.geomspace(1e-9, 1e5, 17).astype(np.complex128), np.geomspace(1e-6, 1e3, 9) * np.exp(0.7j)):
        rho, M = _core.ellipse_tables(kappa, center, half, 32, 256)
        lk = np.log(kappa)
        poles = np.stack([(lk + 1j * np.pi - center) / half, (lk - 1j * np.pi - center) / half], axis=-1)
        root = np.sqrt(poles * poles - 1 + 0j)
        rho_pole = np.min(np.maximum(np.abs(poles + root), np.abs(poles - root)), axis=-1)
        want_rho = rho_pole[:, None] ** np.linspace(0.02, 0.985, 32)[None, :]
        np.testing.assert_allclose(rho, want_rho, rtol=1e-13)
        phi = np.linspace(0, np.pi, 129) if np.all(kappa.imag == 0) else np.linspace(0, 2 * np.pi, 256, endpoint=False)
        ea, eb = (rho + 1 / rho) / 2, (rho - 1 / rho) / 2
        u = center + half * (ea[..., None] * np.cos(phi) + 1j * eb[..., None] * np.sin(phi))
        f = np.abs(1 / (1 + kappa[:, None, None] * np.exp(-u)))
        np.testing.assert_allclose(M, f.max(axis=-1), rtol=1e-10)


def test_pairwise_reference_sums_against_fsum() -> None:
    """direct_sums (the compression's reference, kernel df12_pairwise) to a few ulps of exact sums."""
    import math

    rng = np.random.default_rng(3)
    lam = 10 ** rng.uniform(-6, 2, 30_001)
    for w in (np.ones_like(lam), rng.uniform(0.5, 2.0, lam.size)):
        for kappa in (np.array([1e-9, 1e-3, 1.0, 1e4]), np.array([1e-3, 1.0]) * np.exp(2.5j)):
            f1, f2 = direct_sums(lam, w, kappa)
            assert f1.shape == kappa.shape and np.iscomplexobj(f1) == np.iscomplexobj(kappa)
            for i, kk in enumerate(kappa):
                f = lam / (lam + kk)
                for got, terms in ((f1[i], w * f), (f2[i], w * f * f)):
                    exact = complex(math.fsum(terms.real), math.fsum(np.imag(terms)))
                    assert abs(got - exact) <= 8e-16 * np.sum(np.abs(terms)), (kk, got, exact)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**31), st.lists(st.integers(1, 80), min_size=1, max_size=6), st.booleans())
def test_gauss_rules_are_the_per_size_rules(n: int, seed: int, sizes: list[int], repeated: bool) -> None:
    """GaussRules (one resumable Lanczos run) gives bitwise the rule gauss_rule computes for each
    size, in any order of sizes, including measures with fewer points than asked (breakdown)."""
    from lindiff._compress import GaussRules, gauss_rule

    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, n))
    if repeated:
        x = np.round(x, 1)            # few distinct points: Lanczos breaks down early
    w = rng.uniform(0.1, 1.0, n)
    rules = GaussRules(x, w)
    for r in sizes:
        got, want = rules.rule(r), gauss_rule(x, w, r)
        assert got[0].size == want[0].size <= r
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert abs(got[1].sum() - w.sum()) <= 1e-13 * w.sum()
