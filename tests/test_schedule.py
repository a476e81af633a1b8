"""lindiff.Schedule: the pinned linear schedule, derived arrays, 1-based times, validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import lindiff


def test_linear_schedule_pinned_formula() -> None:
    s = lindiff.Schedule.linear()
    t = np.arange(1, 1001)
    np.testing.assert_allclose(s.beta, (1e-2 - 1e-4) * t / 1000 + 1e-4, rtol=1e-15)
    assert s.T == 1000 and np.array_equal(s.t, t)
    np.testing.assert_allclose(s.abar, np.cumprod(1 - s.beta), rtol=1e-12)
    np.testing.assert_allclose(s.a**2 + s.b**2, 1.0, rtol=1e-15)
    assert s.abar[-1] == pytest.approx(0.0063, abs=1e-4)  # x_T is not exactly N(0, I)
    np.testing.assert_allclose(s.q, s.b**2 / s.a**2, rtol=1e-13)
    np.testing.assert_allclose(s.z(0.01), (s.b**2 + 0.01) / s.a**2, rtol=1e-13)
    # 1 - abar_1 = beta_1 exactly (no cancellation)
    assert s.b[0] ** 2 == pytest.approx(s.beta[0], rel=1e-14)


def test_beta_tilde_and_cosine() -> None:
    s = lindiff.Schedule.linear(T=50)
    bt = s.beta_tilde
    assert bt[0] == 0.0
    np.testing.assert_allclose(bt[1:], (1 - s.abar[:-1]) / (1 - s.abar[1:]) * s.beta[1:], rtol=1e-12)
    c = lindiff.Schedule.cosine(T=100)
    assert np.all((c.beta > 0) & (c.beta < 1)) and c.abar[-1] < 1e-3


def test_index_is_one_based_and_checked() -> None:
    s = lindiff.Schedule.linear(T=10)
    assert s.index(1) == 0 and s.index(10) == 9
    np.testing.assert_array_equal(s.index([1, 5, 10]), [0, 4, 9])
    for bad in (0, 11, -1, [1, 11], 2.5, "3"):
        with pytest.raises(ValueError, match="t must"):
            s.index(bad)


def test_custom_beta_and_validation() -> None:
    s = lindiff.Schedule([0.1, 0.2, 0.3])
    np.testing.assert_allclose(s.abar, [0.9, 0.72, 0.504])
    for bad, match in [([0.1, 1.0], "beta must lie in"), ([0.0], "beta must lie in"),
                       ([0.1, np.nan], "beta must be finite"), ([], "beta must not be empty"),
                       ([[0.1]], "beta must be 1-dimensional")]:
        with pytest.raises(ValueError, match=match):
            lindiff.Schedule(bad)
    with pytest.raises(ValueError, match="T must be"):
        lindiff.Schedule.linear(T=0)
    with pytest.raises(ValueError, match="beta_max must be >= beta_min"):
        lindiff.Schedule.linear(beta_min=0.1, beta_max=0.01)
    with pytest.raises(ValueError, match="c must be"):
        s.z(-1.0)


def test_pickle() -> None:
    s = lindiff.Schedule.linear(T=20)
    t = pickle.loads(pickle.dumps(s))
    assert t == s and t.name == s.name
