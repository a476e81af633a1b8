"""The kernel's generic solver toolbox for Python callables.

``solve_fixed_point`` (vector x = f(x): damped Picard, Anderson, Newton) and ``find_root``
(scalar, safeguarded bracketed Newton) run the same C++ code the theory uses and return a
:class:`SolverResult` with the same diagnostics as the kernel structs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._display import Cell
from ._results import DiagnosticsMixin, report_convergence
from ._validation import flag, nonneg_scalar, positive_int, real_array, real_scalar

__all__ = ["SolverResult", "solve_fixed_point", "find_root", "FIXED_POINT_METHODS"]

FIXED_POINT_METHODS = ("picard", "anderson", "newton")


@dataclass(repr=False)
class SolverResult(DiagnosticsMixin):
    """Outcome of a fixed-point or root solve.

    Attributes
    ----------
    x : ndarray or float
        The solution (the last point at which f was evaluated).
    fx : ndarray or float
        f(x): the undamped map for fixed points, the function value for roots.
    converged : bool
    iterations : int
        Outer iterations (fixed point) or Newton iterations (root).
    evaluations : int
        Calls of f, finite differences included.
    residual : float
        ``||f(x) - x||_2`` (fixed point; the undamped map, not the damped step) or ``|f(x)|`` (root).
    rel_residual : float
        ``residual / ||x||`` (fixed point) or ``residual`` (root).
    method, message : str
    residual_history, damping_history : list of float
        Per iteration; damping is the Picard/Anderson mixing or Newton's line-search step.
    """

    x: Any
    fx: Any
    converged: bool
    iterations: int
    evaluations: int
    residual: float
    rel_residual: float
    method: str
    message: str
    residual_history: list[float] = field(default_factory=list)
    damping_history: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def _title(self) -> str:
        return f"{self.method}: {self.message}"

    def _cells(self) -> list[Cell]:
        cells: list[Cell] = [
            ("converged", str(self.converged), self.converged),
            ("residual", f"{self.residual:.3g} (rel {self.rel_residual:.3g})", self.converged),
            ("iterations", str(self.iterations), None),
            ("evaluations", str(self.evaluations), None),
        ]
        if self.damping_history:
            cells.append(("damping", f"last {self.damping_history[-1]:.3g}, min {min(self.damping_history):.3g}", None))
        for k, v in self.extra.items():
            cells.append((k, str(v), None))
        return cells

    def __repr__(self) -> str:
        return str(self)


def solve_fixed_point(
    f: Callable[[NDArray[np.float64]], ArrayLike],
    x0: ArrayLike,
    *,
    method: str = "anderson",
    jac: Callable[[NDArray[np.float64]], ArrayLike] | None = None,
    rtol: float = 1e-12,
    atol: float = 0.0,
    max_iter: int = 500,
    damping: float = 1.0,
    adaptive: bool = True,
    memory: int = 5,
    strict: bool = False,
) -> SolverResult:
    """Solve ``x = f(x)`` with the kernel's damped Picard, Anderson or Newton iteration.

    Converged means ``||f(x) - x|| <= atol + rtol ||x||`` for the *undamped* map at the returned x.

    Parameters
    ----------
    f : callable
        ``f(x) -> array`` of the same length as x (a scalar x0 gives a scalar problem).
    x0 : array_like
        Start.
    method : {"anderson", "picard", "newton"}
    jac : callable, optional
        Jacobian of f (not of f - id) for ``method="newton"``; finite differences otherwise.
    rtol, atol : float
        Tolerances on the undamped residual.
    max_iter : int
    damping : float
        Initial mixing in (0, 1] for Picard/Anderson.
    adaptive : bool
        Adapt the mixing from the residual history.
    memory : int
        Anderson memory.
    strict : bool
        Raise :class:`lindiff.ConvergenceError` instead of warning on failure.

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> r = lindiff.solve_fixed_point(np.cos, 1.0)
    >>> bool(r.converged), round(r.x, 10)
    (True, 0.7390851332)
    >>> r = lindiff.solve_fixed_point(lambda x: np.array([np.cos(x[1]), 0.5 * np.sin(x[0])]),
    ...                               [0.0, 0.0], method="newton")
    >>> bool(r.converged)
    True
    """
    if method not in FIXED_POINT_METHODS:
        raise ValueError(f"method must be one of {FIXED_POINT_METHODS} (got {method!r})")
    if not callable(f):
        raise ValueError("f must be callable")
    if jac is not None and not callable(jac):
        raise ValueError("jac must be callable or None")
    x0a = real_array("x0", x0)
    scalar = x0a.ndim == 0
    if x0a.ndim > 1:
        raise ValueError(f"x0 must be a scalar or 1-dimensional (got shape {x0a.shape})")
    x0v = np.atleast_1d(x0a).astype(np.float64)
    max_iter = positive_int("max_iter", max_iter)
    memory = positive_int("memory", memory)

    def call(x: NDArray[np.float64]) -> NDArray[np.float64]:
        y = f(x[0] if scalar else x)
        ya = np.asarray(y, dtype=np.float64)
        if ya.ndim > 1 or np.atleast_1d(ya).shape != x.shape:
            raise ValueError(f"f must return an array of shape {x.shape} (got {np.shape(y)})")
        return np.atleast_1d(ya)

    jcall = None
    if jac is not None:
        def jcall(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.atleast_2d(np.asarray(jac(x[0] if scalar else x), dtype=np.float64))

    rtol, atol = nonneg_scalar("rtol", rtol), nonneg_scalar("atol", atol)
    if rtol == atol == 0:
        raise ValueError("rtol and atol must not both be 0 (the iteration could never stop)")
    damping = real_scalar("damping", damping, minimum=0.0, maximum=1.0)
    if damping == 0:
        raise ValueError("damping must be in (0, 1] (got 0: the iteration would not move)")
    d = _core.solve_fixed_point(call, x0v, method=method, rtol=rtol, atol=atol,
                                max_iter=max_iter, damping=damping, adaptive=flag("adaptive", adaptive),
                                memory=memory, jac=jcall)
    x = d["x"]
    fx = d["fx"]
    extra = {"jacobian evaluations": d["jacobian_evaluations"]} if method == "newton" else {}
    res = SolverResult(
        x=float(x[0]) if scalar else np.asarray(x),
        fx=float(fx[0]) if scalar else np.asarray(fx),
        converged=bool(d["converged"]),
        iterations=int(d["iterations"]),
        evaluations=int(d["evaluations"]),
        residual=float(d["residual"]),
        rel_residual=float(d["rel_residual"]),
        method=f"fixed point ({method})",
        message=str(d["message"]),
        residual_history=list(d["residual_history"]),
        damping_history=list(d["damping_history"]),
        extra=extra,
    )
    report_convergence(res.converged, f"solve_fixed_point ({method}) did not converge: {res.message}, "
                       f"residual {res.residual:.3g}", res, strict)
    return res


def find_root(
    f: Callable[[float], float],
    bracket: tuple[float, float],
    *,
    fprime: Callable[[float], float] | None = None,
    x0: float | None = None,
    ftol: float = 0.0,
    xtol: float = 4 * np.finfo(float).eps,
    max_iter: int = 100,
    strict: bool = False,
) -> SolverResult:
    """Root of a scalar function in ``bracket`` by safeguarded Newton (bisection fallback).

    ``f(lo)`` and ``f(hi)`` must differ in sign. Without ``fprime`` the derivative comes from
    central differences. Converged: ``|f(x)| <= ftol`` or a Newton step below ``xtol * |x|``.

    Examples
    --------
    >>> import math, lindiff
    >>> r = lindiff.find_root(lambda x: x * x - 2, (0.0, 2.0), fprime=lambda x: 2 * x)
    >>> bool(r.converged), abs(r.x - math.sqrt(2)) < 1e-15
    (True, True)
    """
    if not callable(f) or (fprime is not None and not callable(fprime)):
        raise ValueError("f (and fprime, if given) must be callable")
    try:
        lo, hi = (float(v) for v in bracket)
    except (TypeError, ValueError):
        raise ValueError(f"bracket must be a pair (lo, hi) of reals (got {bracket!r})") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"bracket must satisfy lo < hi, both finite (got {bracket!r})")
    start = float("nan") if x0 is None else real_scalar("x0", x0)
    d = _core.find_root(f, fprime, lo, hi, start, ftol=nonneg_scalar("ftol", ftol), xtol=nonneg_scalar("xtol", xtol),
                        max_iter=positive_int("max_iter", max_iter))
    if d["message"] == "invalid bracket":
        raise ValueError(f"bracket {bracket!r} does not enclose a sign change of f")
    res = SolverResult(
        x=float(d["x"]), fx=float(d["f"]), converged=bool(d["converged"]),
        iterations=int(d["iterations"]), evaluations=int(d["evaluations"]),
        residual=float(d["residual"]), rel_residual=float(d["residual"]),
        method="root (bracketed Newton)", message=str(d["message"]),
        extra={"bisections": int(d["bisections"]), "f'(x)": f"{d['fprime']:.6g}"},
    )
    report_convergence(res.converged, f"find_root did not converge: {res.message}", res, strict)
    return res
