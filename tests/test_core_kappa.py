"""Raw bindings of lindiff._core: dtypes, shapes, errors (no Python-layer help)."""

from __future__ import annotations

import numpy as np
import pytest

from lindiff import _core


def test_module_metadata() -> None:
    assert isinstance(_core.__version__, str) and "lindiff" in _core.build_info
    assert isinstance(_core.have_openmp, bool) and _core.get_num_threads() >= 1


def test_solve_kappa_real_raw() -> None:
    lam = np.array([2.0, 1.0, 0.5])
    z = np.array([0.1, 1.0, 10.0])
    val, der, conv, its, res, sums = _core.solve_kappa_real(lam, None, 2.0, z)
    s1, df1, df2, e12 = sums.T
    assert val.dtype == np.float64 and conv.dtype == np.bool_ and its.dtype == np.int32
    assert val.shape == der.shape == conv.shape == its.shape == res.shape == df1.shape == (3,)
    np.testing.assert_allclose(df1, [np.sum(lam / (lam + k)) for k in val], rtol=1e-14)
    np.testing.assert_allclose(df2, [np.sum(lam**2 / (lam + k) ** 2) for k in val], rtol=1e-14)
    np.testing.assert_allclose(s1, [np.sum(1 / (lam + k)) for k in val], rtol=1e-14)
    np.testing.assert_allclose(e12, [np.sum(lam / (lam + k) ** 2) for k in val], rtol=1e-14)
    assert conv.all() and np.all(res <= 1e-14)
    # the equation holds
    np.testing.assert_allclose(val * (1 - df1 / 2.0), z, rtol=1e-13)
    assert _core.kappa0(lam, None, 2.0) > 0 and _core.kappa0(lam, None, 3.0) == 0.0


def test_solve_kappa_path_raw() -> None:
    lam = np.array([2.0, 1.0, 0.5])
    z = np.array([1.0 + 0.1j, -0.3 + 0.1j])
    val, der, conv, its, res = _core.solve_kappa_path(lam, None, 2.0, z)
    assert val.dtype == np.complex128 and der.dtype == np.complex128
    df1 = np.array([np.sum(lam / (lam + k)) for k in val])
    np.testing.assert_allclose(val * (1 - df1 / 2.0), z, rtol=1e-13)


def test_df12_raw() -> None:
    lam = np.array([3.0, 1.0])
    w = np.array([2.0, 5.0])
    f1, f2 = _core.df12(lam, w, np.array([0.5]))
    assert f1[0] == pytest.approx(2 * 3 / 3.5 + 5 * 1 / 1.5)
    assert f2[0] == pytest.approx(2 * (3 / 3.5) ** 2 + 5 * (1 / 1.5) ** 2)
    g1, _ = _core.df12_complex(lam, w, np.array([0.5 + 0j]))
    assert g1[0] == pytest.approx(f1[0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: _core.solve_kappa_real(np.array([1.0, -1.0]), None, 2.0, np.array([1.0])), "eigenvalues must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([1.0, np.nan]), None, 2.0, np.array([1.0])), "eigenvalues must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), np.array([0.0]), 2.0, np.array([1.0])), "weights must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), np.array([1.0, 2.0]), 2.0, np.array([1.0])), "same length"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), None, 0.0, np.array([1.0])), "N must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), None, 2.0, np.array([0.0])), "z must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), None, 2.0, np.array([np.nan])), "z must be finite and > 0"),
        (lambda: _core.solve_kappa_real(np.array([]), None, 2.0, np.array([1.0])), "must not be empty"),
        (lambda: _core.solve_kappa_path(np.array([1.0]), None, 2.0, np.array([0j])), "z must be finite and non-zero"),
        (lambda: _core.solve_kappa_real(np.ones((2, 2)), None, 2.0, np.array([1.0])), "one-dimensional"),
        (lambda: _core.solve_kappa_real(np.array([1.0]), None, 2.0, np.array([1.0]), tol=0.0), "tol must be > 0"),
    ],
)
def test_raw_errors_are_value_errors(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()
