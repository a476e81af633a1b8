"""Complex kappa next to the real axis: the strict branch rule (Im kappa / Im z >= 1/2 on the
physical sheet), fresh starts for points a segment cannot reach, and huge / tiny |z|."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

import lindiff
from lindiff import spectra
from lindiff.theory import spectral_density


def _mp_root(lam: np.ndarray, N: float, z: complex, start: complex) -> complex:
    """The root of z = kappa (1 - df1(kappa)/N) next to `start`, at 40 digits."""
    with mp.workdps(40):
        L = [mp.mpf(float(x)) for x in lam]
        zz = mp.mpc(z.real, z.imag)
        f = lambda k: k * (1 - mp.fsum(x / (x + k) for x in L) / N) - zz  # noqa: E731
        return complex(mp.findroot(f, mp.mpc(start.real, start.imag)))


CASES = [(lindiff.Spectrum.powerlaw(200, 1.0), 0.5), (lindiff.Spectrum.powerlaw(200, 1.0), 2.0),
         (lindiff.Spectrum.powerlaw(200, 2.0), 0.5), (lindiff.Spectrum.powerlaw(200, 2.0), 2.0),
         ("digits", 0.5), ("digits", 2.0)]


@pytest.mark.parametrize("spec, ratio", CASES)
@pytest.mark.parametrize("eps", [1e-10, 1e-12, -1e-12])
def test_path_next_to_the_real_axis_is_right_wherever_converged(spec, ratio: float, eps: float) -> None:  # type: ignore[no-untyped-def]
    """A 120-point path at Im z = eps across the whole support (gaps included): every converged
    point is the physical root (checked against mpmath at 40 digits started from the real-axis
    parametrisation, which has no branch to lose), with sign(Im kappa) = sign(Im z)."""
    spec = spectra.load(spec) if isinstance(spec, str) else spec
    N = ratio * spec.d
    sd = spectral_density(spec, N, 1.0)
    s = np.linspace(0.5 * float(sd.support_lo.min()), 1.2 * float(sd.support_hi.max()), 120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lindiff.ConvergenceWarning)
        res = lindiff.kappa(-s + 1j * eps, spec, N)
    conv = np.asarray(res.converged)
    assert conv.mean() > 0.95
    k = np.asarray(res.value)[conv]
    assert np.all(np.sign(k.imag) == np.sign(eps))
    ref = spectral_density(spec, N, s[conv]).kappa.values                 # x + i y, y >= 0: Im z -> 0
    start = ref.real + 1j * np.sign(eps) * np.maximum(ref.imag, abs(eps))
    lam = spec.expanded()
    for i in np.linspace(0, k.size - 1, 12).astype(int):
        want = _mp_root(lam, N, complex(-s[conv][i], eps), complex(start[i]))
        assert abs(k[i] - want) <= 1e-9 * abs(want), (s[conv][i], k[i], want)


def test_below_resolution_is_flagged_not_wrong() -> None:
    spec = lindiff.Spectrum.powerlaw(200, 1.0)
    s = np.linspace(0.1, 5.0, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lindiff.ConvergenceWarning)
        res = lindiff.kappa(-s + 1e-17j, spec, 100)
    conv = np.asarray(res.converged)
    assert not conv.any()   # |Im z| < 8 eps |kappa|: the sign of Im kappa cannot be resolved
    assert np.all(np.isnan(np.asarray(res.value)[~conv]))


@pytest.mark.parametrize("z", [1e100, 1e155, 1e200, 1e300])
@pytest.mark.parametrize("d, N", [(1, 0.5), (100, 50), (100, 400)])
def test_huge_real_z_has_finite_derivative_and_residual(z: float, d: int, N: float) -> None:
    r = lindiff.kappa(z, lindiff.Spectrum.powerlaw(d, 1.0), N, strict=True)
    assert r.converged and np.isfinite(r.residual) and r.residual <= 1e-14
    assert float(r.value) == pytest.approx(z, rel=1e-12)
    assert float(r.derivative) == pytest.approx(1.0, rel=1e-12)


def test_tiny_real_z() -> None:
    spec = lindiff.Spectrum(np.ones(4))
    r = lindiff.kappa(np.array([1e-300, 1e-200]), spec, 8.0, strict=True)   # kappa = z / (1 - d/N) for Sigma = I
    np.testing.assert_allclose(r.value, np.array([1e-300, 1e-200]) / (1 - 4 / 8), rtol=1e-13)


def test_set_num_threads_is_bounded() -> None:
    old = lindiff.get_num_threads()
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, "):
        lindiff.set_num_threads(100000)
    with pytest.raises(ValueError, match="n must be an integer"):
        lindiff.set_num_threads(0)
    assert lindiff.get_num_threads() == old
    assert 1 <= lindiff.max_num_threads() <= 1024
