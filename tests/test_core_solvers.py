"""Raw bindings of the solver toolbox: dict results and errors."""

from __future__ import annotations

import numpy as np
import pytest

from lindiff import _core


def test_fixed_point_raw_dict() -> None:
    d = _core.solve_fixed_point(lambda x: 0.5 * x + 1.0, np.zeros(3), method="anderson")
    assert d["converged"] and d["message"] == "converged"
    np.testing.assert_allclose(d["x"], 2.0, rtol=1e-12)
    assert set(d) >= {"x", "fx", "iterations", "evaluations", "residual", "rel_residual",
                      "residual_history", "damping_history", "jacobian_evaluations"}


def test_find_root_raw_dict() -> None:
    d = _core.find_root(lambda x: x - 0.25, None, 0.0, 1.0, float("nan"))
    assert d["converged"] and d["x"] == pytest.approx(0.25) and d["fprime"] == pytest.approx(1.0)


def test_raw_solver_errors() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        _core.solve_fixed_point(lambda x: x, np.zeros(2), method="x")
    with pytest.raises(ValueError, match="same length as x0"):
        _core.solve_fixed_point(lambda x: np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="x0 must not be empty"):
        _core.solve_fixed_point(lambda x: x, np.zeros(0))
    # exceptions raised inside the callable propagate unchanged
    def boom(x):  # type: ignore[no-untyped-def]
        raise KeyError("inside")
    with pytest.raises(KeyError, match="inside"):
        _core.solve_fixed_point(boom, np.zeros(2))
