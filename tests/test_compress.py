"""Spectrum.compress: an r-node Gauss rule of the spectral measure in log(lambda).

The compressed spectrum must give df1, df2 and kappa(z) at real z within 1e-12 relative of the
direct path (or within twice the direct path's own rounding floor, measured by summing the same
spectrum in another order), keep d exactly and the trace to rounding, and say what it certifies.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

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
