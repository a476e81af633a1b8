"""lindiff.theory.laws: the d/(4N) law (exact digamma law, proportional limit, leading laws).

References: the digamma sum in mpmath at 40 digits (independent of the library's psi(x) - log x),
the closed forms of the Marchenko-Pastur limit in mpmath, and the large-N series derived in
``lindiff.derivations`` (module kl). The Monte Carlo check of the law itself, with exact KLs of
seeded draws, is in tests/test_exact.py.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import lindiff.theory as th
from lindiff.theory import kl_law, kl_marchenko_pastur, kl_wishart


def wishart_mp(d: int, N: int) -> tuple[float, float]:
    with mpmath.workdps(40):
        S = mpmath.fsum(mpmath.digamma(mpmath.mpf(N - i + 1) / 2) for i in range(1, d + 1)) + d * mpmath.log(mpmath.mpf(2) / N)
        fwd = -S / (2 * d)
        rev = (mpmath.mpf(N) / (N - d - 1) - 1) / 2 + S / (2 * d) if N > d + 1 else mpmath.inf
        return float(fwd), float(rev)


def mp_limit(q: float) -> tuple[float, float]:
    with mpmath.workdps(40):
        qm = mpmath.mpf(q)
        fwd = (1 + (1 - qm) / qm * mpmath.log(1 - qm)) / 2
        return float(fwd), float(qm / (1 - qm) / 2 - fwd)


def test_exports():
    for name in ("kl_law", "kl_marchenko_pastur", "kl_wishart"):
        assert name in th.__all__ and callable(getattr(th, name))


@pytest.mark.parametrize("d,N", [(1, 1), (1, 3), (2, 2), (3, 5), (10, 12), (10, 1000), (50, 60), (200, 201),
                                 (3, 10**4), (300, 10**6), (1000, 4000)])
def test_kl_wishart_against_mpmath(d, N):
    fwd, rev = kl_wishart(d, N)
    ref_fwd, ref_rev = wishart_mp(d, N)
    assert isinstance(fwd, float) and isinstance(rev, float)
    assert fwd == pytest.approx(ref_fwd, rel=1e-13)
    if N > d + 1:
        assert rev == pytest.approx(ref_rev, rel=1e-13)
    else:
        assert rev == np.inf                       # E Tr C^-1 diverges at N = d, d + 1


def test_kl_wishart_centred():
    """Centred: N - 1 degrees of freedom plus the mean's terms (checked by simulation in test_exact)."""
    d, N = 8, 30
    f0, r0 = kl_wishart(d, N - 1)
    f1, r1 = kl_wishart(d, N, centred=True)
    assert f1 == pytest.approx(f0 + 1 / (2 * N), rel=1e-14)
    assert r1 == pytest.approx(r0 + (N - 1) / (2 * N * (N - d - 2)), rel=1e-14)
    assert kl_wishart(3, 5, centred=True)[1] == np.inf  # dof = 4 = d + 1


def test_kl_wishart_broadcast():
    d = np.array([[1], [5], [20]])
    N = np.array([30, 100])
    fwd, rev = kl_wishart(d, N)
    assert fwd.shape == rev.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert (fwd[i, j], rev[i, j]) == kl_wishart(int(d[i, 0]), int(N[j]))


@pytest.mark.parametrize("d", [1, 3, 10])
def test_kl_wishart_large_N_is_d_plus_1_over_4N(d):
    """(d + 1)/(4N) + c2/N^2 + O(N^-3): the residual after the leading law matches the series term."""
    c2 = {"fwd": (2 * d**2 + 3 * d - 1) / 24, "rev": (10 * d**2 + 21 * d + 13) / 24}
    for N in (10**4, 10**5, 10**6):
        fwd, rev = kl_wishart(d, N)
        lead = kl_law(d, N)[1]
        for name, val in (("fwd", fwd), ("rev", rev)):
            assert val == pytest.approx(lead, rel=5 * d / N)
            resid = (val - lead) * N**2 / c2[name]
            assert resid == pytest.approx(1.0, abs=20 * d / N), (name, N, resid)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.8])
def test_kl_wishart_tends_to_marchenko_pastur(q):
    """At fixed q = d/N the exact law is the limit plus g(q)/N + O(1/N^2), g(q) > 0."""
    lim = np.array(kl_marchenko_pastur(q))
    Ns = np.array([1000, 2000, 4000, 8000, 16000])
    scaled = np.array([N * (np.array(kl_wishart(int(round(q * N)), int(N))) - lim) for N in Ns])
    assert np.all(scaled > 0) and np.all(scaled < 2 / (1 - q) ** 2)     # a gap of order 1/N
    steps = np.diff(scaled, axis=0)                                     # N * gap converges at O(1/N)
    np.testing.assert_allclose(steps[:-1] / steps[1:], 2.0, rtol=0.1)
    if q == 0.1:                                                        # g(q) = 1/4 + q/8 + O(q^2) (fwd)
        assert scaled[-1, 0] == pytest.approx(0.25 + q / 8, abs=0.01)


@pytest.mark.parametrize("q", [0.0, 1e-9, 1e-6, 1e-3, 0.05, 0.0999999, 0.1, 0.3, 0.5, 0.9, 0.999])
def test_kl_marchenko_pastur_against_mpmath(q):
    fwd, rev = kl_marchenko_pastur(q)
    if q == 0:
        assert (fwd, rev) == (0.0, 0.0)
        return
    ref = mp_limit(q)
    assert fwd == pytest.approx(ref[0], rel=1e-13)
    assert rev == pytest.approx(ref[1], rel=1e-13)


def test_kl_marchenko_pastur_series_and_arrays():
    q = np.array([[1e-4, 1e-3], [0.01, 0.02]])
    fwd, rev = kl_marchenko_pastur(q)
    assert fwd.shape == rev.shape == (2, 2)
    # fwd = (1/2) sum_k q^k/(k(k+1)), rev = (1/2) sum_k q^k (1 - 1/(k(k+1))), to fourth order
    np.testing.assert_allclose(fwd, q / 4 + q**2 / 12 + q**3 / 24 + q**4 / 40, rtol=q.max() ** 4)
    np.testing.assert_allclose(rev, q / 4 + 5 * q**2 / 12 + 11 * q**3 / 24 + 19 * q**4 / 40, rtol=2 * q.max() ** 4)
    assert kl_marchenko_pastur([0.5])[0].shape == (1,)


def test_kl_law():
    assert kl_law(100, 1000) == (0.025, 0.02525)
    lead, shifted = kl_law(np.array([10, 20]), np.array([[100], [1000]]))
    assert lead.shape == (2, 2)
    np.testing.assert_allclose(shifted - lead, 1 / (4 * np.array([[100], [1000]])) * np.ones((2, 2)))


def test_bad_input():
    cases = [
        (lambda: kl_wishart(0, 5), "d"),
        (lambda: kl_wishart(2.5, 10), "d"),
        (lambda: kl_wishart(True, 10), "d"),
        (lambda: kl_wishart("3", 10), "d"),
        (lambda: kl_wishart(5, 4), "N >= d"),
        (lambda: kl_wishart(5, 5, centred=True), "N >= d \\+ 1"),
        (lambda: kl_wishart(5, np.nan), "N"),
        (lambda: kl_wishart([1, 2], [3, 4, 5]), "broadcast"),
        (lambda: kl_wishart(3, 10, centred="yes"), "centred"),
        (lambda: kl_marchenko_pastur(1.0), "q"),
        (lambda: kl_marchenko_pastur(-0.1), "q"),
        (lambda: kl_marchenko_pastur([0.2, np.nan]), "q"),
        (lambda: kl_marchenko_pastur(0.2 + 0j), "q"),
        (lambda: kl_marchenko_pastur("0.2"), "q"),
        (lambda: kl_law(0, 10), "d"),
        (lambda: kl_law(10, -1), "N"),
        (lambda: kl_law(10, np.inf), "N"),
        (lambda: kl_law([1, 2], [3, 4, 5]), "broadcast"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()


def test_kl_wishart_closed_form_runs_match_the_direct_sum() -> None:
    """Beyond 2^20 terms the digamma sum is taken in closed form (O(1) memory); it agrees with
    the term-by-term sum where both run, and kl_wishart(1e12, 1e12) needs no memory."""
    from lindiff.theory import laws

    for d, N in [(70000, 140000), (100000, 100000), (100000, 100002), (65537, 70000)]:
        i = np.arange(1, d + 1, dtype=np.float64)
        direct = float(np.sum(laws._digamma_minus_log((N - i + 1) / 2) + np.log1p(-(i - 1) / N))) / d
        old = laws._DIRECT_SUM_MAX
        try:
            laws._DIRECT_SUM_MAX = 1000
            assert laws._wishart_mean_term(d, N) == pytest.approx(direct, rel=1e-13)
        finally:
            laws._DIRECT_SUM_MAX = old
    fwd, rev = laws.kl_wishart(10**12, 4 * 10**12)
    mp_fwd, mp_rev = laws.kl_marchenko_pastur(0.25)
    assert fwd == pytest.approx(mp_fwd, rel=1e-9) and rev == pytest.approx(mp_rev, rel=1e-9)
