"""lindiff.Spectrum: constructors, sums, validation, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import lindiff


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 2.0])
def test_powerlaw_normalised(k: float) -> None:
    s = lindiff.Spectrum.powerlaw(1000, k)
    lam = s.eigenvalues
    assert s.d == 1000 and lam.shape == (1000,)
    assert s.trace / s.d == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(lam / lam[0], np.arange(1, 1001.0) ** (-k), rtol=1e-14)


def test_df1_df2_match_numpy_real_and_complex() -> None:
    s = lindiff.Spectrum.powerlaw(300, 1.0)
    lam = s.eigenvalues
    k = np.array([1e-6, 0.1, 3.0, 1e4])
    np.testing.assert_allclose(s.df1(k), [np.sum(lam / (lam + x)) for x in k], rtol=1e-13)
    np.testing.assert_allclose(s.df2(k), [np.sum(lam**2 / (lam + x) ** 2) for x in k], rtol=1e-13)
    kc = np.array([[0.2 + 0.3j, -0.01 + 1e-3j]])
    got = s.df1(kc)
    assert got.shape == (1, 2)
    np.testing.assert_allclose(got.ravel(), [np.sum(lam / (lam + x)) for x in kc.ravel()], rtol=1e-13)
    np.testing.assert_allclose(s.df2(kc).ravel(), [np.sum(lam**2 / (lam + x) ** 2) for x in kc.ravel()], rtol=1e-12)


def test_weights_are_multiplicities() -> None:
    w = lindiff.Spectrum.from_eigenvalues([3.0, 1.0, 0.25], weights=[2, 5, 13])
    e = lindiff.Spectrum.from_eigenvalues(w.expanded())
    assert w.d == e.d == 20 and w.trace == pytest.approx(e.trace)
    k = np.logspace(-3, 2, 7)
    np.testing.assert_allclose(w.df1(k), e.df1(k), rtol=1e-14)
    np.testing.assert_allclose(w.df2(k), e.df2(k), rtol=1e-14)
    frac = lindiff.Spectrum.from_eigenvalues([1.0], weights=[2.5])
    assert frac.d == 2.5
    with pytest.raises(ValueError, match="integer weights"):
        frac.expanded()


def test_from_data_matches_covariance(rng: np.random.Generator) -> None:
    A = rng.normal(size=(6, 6))
    X = rng.normal(size=(400, 6)) @ A + 5.0
    s = lindiff.Spectrum.from_data(X)
    ref = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1]
    np.testing.assert_allclose(s.eigenvalues, ref, rtol=1e-12)
    assert s.info["n_samples"] == 400 and s.info["centred"]
    n = lindiff.Spectrum.from_data(X, normalize=True)
    assert n.trace / n.d == pytest.approx(1.0)


def test_from_data_zero_variance(rng: np.random.Generator) -> None:
    X = np.hstack([rng.normal(size=(100, 4)), np.zeros((100, 2))])
    with pytest.raises(ValueError, match="drop_zero_variance=True"):
        lindiff.Spectrum.from_data(X)
    s = lindiff.Spectrum.from_data(X, drop_zero_variance=True)
    assert s.d == 4 and s.info["dropped_features"] == 2
    # fewer samples than features: the numerical null space is dropped too
    Y = rng.normal(size=(5, 10))
    t = lindiff.Spectrum.from_data(Y, drop_zero_variance=True)
    assert t.d == 4 and t.info["dropped_null_directions"] == 6


def test_pickle_and_equality() -> None:
    s = lindiff.Spectrum.from_eigenvalues([2.0, 1.0], weights=[3, 4], name="two")
    t = pickle.loads(pickle.dumps(s))
    assert t == s and hash(t) == hash(s) and t.name == "two" and t.d == 7
    assert s != lindiff.Spectrum.from_eigenvalues([2.0, 1.0])
    assert "d=7" in repr(s)


def test_arrays_are_read_only() -> None:
    s = lindiff.Spectrum.powerlaw(10, 1.0)
    with pytest.raises(ValueError):
        s.eigenvalues[0] = 5.0


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1.0, 0.0],), {}, "eigenvalues must be > 0"),
        (([1.0, -2.0],), {}, "eigenvalues must be > 0"),
        (([1.0, np.nan],), {}, "eigenvalues must be finite"),
        (([1.0, np.inf],), {}, "eigenvalues must be finite"),
        (([],), {}, "eigenvalues must not be empty"),
        (([[1.0, 2.0]],), {}, "eigenvalues must be 1-dimensional"),
        (([1.0 + 1j],), {}, "eigenvalues must be real"),
        (([1.0, 2.0], [1.0]), {}, "weights must have the same shape"),
        (([1.0, 2.0], [1.0, 0.0]), {}, "weights must be > 0"),
        (([1.0, 2.0], [1.0, np.nan]), {}, "weights must be finite"),
    ],
)
def test_bad_input(args, kwargs, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        lindiff.Spectrum.from_eigenvalues(*args, **kwargs)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="d must be"):
        lindiff.Spectrum.powerlaw(0, 1.0)
    with pytest.raises(ValueError, match="k must be finite"):
        lindiff.Spectrum.powerlaw(10, np.nan)
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        lindiff.Spectrum.from_data(np.ones(5))
    with pytest.raises(ValueError, match="at least 2 rows"):
        lindiff.Spectrum.from_data(np.ones((1, 5)))
    s = lindiff.Spectrum.powerlaw(10, 1.0)
    with pytest.raises(ValueError, match="kappa must be > -min"):
        s.df1(-5.0)
    with pytest.raises(ValueError, match="kappa must be finite"):
        s.df1([np.nan])
