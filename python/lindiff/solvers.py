"""The kernel's generic solver toolbox for Python callables.

``solve_fixed_point`` (vector x = f(x): damped Picard, Anderson, Newton) and ``find_root``
(scalar, safeguarded bracketed Newton) run the same C++ code the theory uses and return a
:class:`SolverResult` with the same diagnostics as the kernel structs.

Both take a Python callable or a *compiled* one, which the C++ loop calls directly, without
the interpreter and with the GIL released (see ``docs/embedding.md``): a ``scipy.LowLevelCallable``,
a numba ``cfunc`` (``pip install lindiff[numba]``) or a ctypes function pointer with its
``restype`` and ``argtypes`` set. Accepted C signatures:

- ``double f(double x)`` or ``double f(double x, void *user_data)``: ``find_root`` (``f`` and
  ``fprime``) and ``solve_fixed_point`` with a scalar ``x0``;
- ``void f(const double *x, double *out, intptr_t n)`` or the same with a trailing
  ``void *user_data``: ``solve_fixed_point`` with a vector ``x0`` (``out`` receives f(x)).
  ``intptr_t`` may be spelled ``long`` or ``ssize_t`` where those are 64-bit.

A compiled callable cannot raise: a NaN or inf it returns is reported as a failed solve.
"""

from __future__ import annotations

import ctypes
import math
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._display import Cell
from ._results import DiagnosticsMixin, report_convergence
from ._validation import (
    choice,
    flag,
    nonneg_scalar,
    positive_int,
    real_array,
    real_scalar,
)

__all__ = ["SolverResult", "solve_fixed_point", "find_root", "FIXED_POINT_METHODS"]

FIXED_POINT_METHODS = ("picard", "anderson", "newton")

# integer types of pointer size, as scipy names them from ctypes (c_long -> "long", ...)
_INTPTR = {"intptr_t", "ssize_t", "Py_ssize_t"} | {
    name for name, ct in (("long", ctypes.c_long), ("longlong", ctypes.c_longlong), ("long long", ctypes.c_longlong),
                          ("int64_t", ctypes.c_int64), ("int64", ctypes.c_int64))
    if ctypes.sizeof(ct) == ctypes.sizeof(ctypes.c_void_p)
}
_SCALAR_SIGNATURES = {"double (double)": "scalar", "double (double, void *)": "scalar_data"}
_VECTOR_SIGNATURES = {f"void (double *, double *, {t}{extra})": kind
                      for t in _INTPTR for extra, kind in (("", "vector"), (", void *", "vector_data"))}
SCALAR_SIGNATURE_HELP = "'double (double)' or 'double (double, void *)'"
VECTOR_SIGNATURE_HELP = "'void (double *, double *, intptr_t)' or 'void (double *, double *, intptr_t, void *)'"


def _normalized_signature(sig: str) -> str:
    sig = re.sub(r"\bconst\b", " ", sig)
    sig = re.sub(r"\s*\*", " *", sig)           # "double*" -> "double *"
    sig = re.sub(r"\s*,\s*", ", ", sig)
    sig = re.sub(r"\s*\(\s*", " (", sig)
    sig = re.sub(r"\s*\)", ")", sig)
    return re.sub(r"\s+", " ", sig).strip()


def _is_compiled(f: object) -> bool:
    """A LowLevelCallable, a numba cfunc or a ctypes function pointer (no interpreter per call)."""
    if isinstance(f, tuple):
        return type(f).__name__ == "LowLevelCallable" or any(c.__name__ == "LowLevelCallable" for c in type(f).__mro__)
    if isinstance(f, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return True
    return hasattr(f, "address") and hasattr(f, "ctypes") and hasattr(f, "native_name")  # numba CFunc


_LLC: list[type] = []  # scipy.LowLevelCallable, imported on first use (scipy is imported lazily)


def _low_level_callable() -> type:
    if not _LLC:
        from scipy import LowLevelCallable

        _LLC.append(LowLevelCallable)
    return _LLC[0]


_NUMBA_LLC: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # numba cfunc -> LowLevelCallable
_NORMALIZED: dict[str, str] = {}  # signature as given -> normalised (a few distinct strings per program)


def _compiled(name: str, f: object, allowed: dict[str, str], expected: str) -> tuple[object, str]:
    """(capsule, kind) of a compiled callable, or (f, "python") for anything else.

    Raises a ValueError naming ``name`` for a compiled callable of another signature."""
    if not _is_compiled(f):
        return f, "python"
    LowLevelCallable = _low_level_callable()
    if isinstance(f, LowLevelCallable):
        llc = f
    elif not isinstance(f, ctypes._CFuncPtr) and f in _NUMBA_LLC:  # type: ignore[attr-defined]
        llc = _NUMBA_LLC[f]
    else:
        source = f.ctypes if not isinstance(f, ctypes._CFuncPtr) else f  # type: ignore[attr-defined]
        if getattr(source, "argtypes", None) is None:
            raise ValueError(f"{name}: a ctypes function pointer needs its argtypes and restype set "
                             f"(signature {expected})")
        try:
            llc = LowLevelCallable(source)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: not a usable compiled callable ({exc})") from None
        if source is not f:  # a numba cfunc (immutable): its LowLevelCallable is built once
            try:
                _NUMBA_LLC[f] = llc
            except TypeError:  # not weak-referenceable
                pass
    raw = llc.signature
    sig = _NORMALIZED.get(raw)
    if sig is None:
        sig = _NORMALIZED.setdefault(raw, _normalized_signature(raw)) if len(_NORMALIZED) < 256 else \
            _normalized_signature(raw)
    kind = allowed.get(sig)
    if kind is None:
        raise ValueError(f"{name}: a compiled callable must have the C signature {expected} (got {llc.signature!r})")
    return tuple.__getitem__(llc, 0), kind


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
    f : callable or compiled callable
        ``f(x) -> array`` of the same length as x (a scalar x0 gives a scalar problem); or a
        compiled callable (``scipy.LowLevelCallable``, numba ``cfunc``, ctypes pointer) with the
        C signature ``void (double *x, double *out, intptr_t n)`` (``double (double)`` for a
        scalar x0), called from C++ without the interpreter.
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
    choice("method", method, FIXED_POINT_METHODS)
    if not callable(f) and not _is_compiled(f):
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
    allowed = {**_VECTOR_SIGNATURES, **(_SCALAR_SIGNATURES if x0v.size == 1 else {})}
    expected = VECTOR_SIGNATURE_HELP + (f", or {SCALAR_SIGNATURE_HELP} for a scalar x0" if x0v.size == 1 else "")
    fc, kind = _compiled("f", f, allowed, expected)
    if kind == "python":
        shape = x0v.shape

        def call(x: NDArray[np.float64]) -> NDArray[np.float64]:
            y = f(x[0] if scalar else x)
            if type(y) is np.ndarray and y.shape == shape and y.dtype == np.float64:
                return y  # the common case, without conversions
            ya = np.asarray(y, dtype=np.float64)
            if ya.ndim > 1 or np.atleast_1d(ya).shape != x.shape:
                raise ValueError(f"f must return an array of shape {x.shape} (got {np.shape(y)})")
            return np.atleast_1d(ya)

        fc = call

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
    d = _core.solve_fixed_point(fc, x0v, method=method, rtol=rtol, atol=atol,
                                max_iter=max_iter, damping=damping, adaptive=flag("adaptive", adaptive),
                                memory=memory, jac=jcall, kind=kind)
    x = d["x"]
    fx = d["fx"]
    extra: dict[str, Any] = {"jacobian evaluations": d["jacobian_evaluations"]} if method == "newton" else {}
    if kind != "python":
        extra["callable"] = f"compiled ({kind})"
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

    ``f`` and ``fprime`` may be Python callables or compiled callables with the C signature
    ``double (double)`` or ``double (double, void *)`` (a ``scipy.LowLevelCallable``, a numba
    ``cfunc``, a ctypes pointer): the C++ loop then calls them without the interpreter (GIL
    released when both are compiled).

    Examples
    --------
    >>> import math, lindiff
    >>> r = lindiff.find_root(lambda x: x * x - 2, (0.0, 2.0), fprime=lambda x: 2 * x)
    >>> bool(r.converged), abs(r.x - math.sqrt(2)) < 1e-15
    (True, True)
    """
    if not (callable(f) or _is_compiled(f)) or (fprime is not None and not (callable(fprime) or _is_compiled(fprime))):
        raise ValueError("f (and fprime, if given) must be callable")
    try:
        lo, hi = (float(v) for v in bracket)
    except (TypeError, ValueError):
        raise ValueError(f"bracket must be a pair (lo, hi) of reals (got {bracket!r})") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bracket must satisfy lo < hi, both finite (got {bracket!r})")
    start = float("nan") if x0 is None else real_scalar("x0", x0)
    fc, kind = _compiled("f", f, _SCALAR_SIGNATURES, SCALAR_SIGNATURE_HELP)
    fpc, fp_kind = (None, "python") if fprime is None else _compiled("fprime", fprime, _SCALAR_SIGNATURES,
                                                                     SCALAR_SIGNATURE_HELP)
    d = _core.find_root(fc, fpc, lo, hi, start, ftol=nonneg_scalar("ftol", ftol), xtol=nonneg_scalar("xtol", xtol),
                        max_iter=positive_int("max_iter", max_iter), kind=kind, fprime_kind=fp_kind)
    if d["message"] == "invalid bracket":
        raise ValueError(f"bracket {bracket!r} does not enclose a sign change of f")
    res = SolverResult(
        x=float(d["x"]), fx=float(d["f"]), converged=bool(d["converged"]),
        iterations=int(d["iterations"]), evaluations=int(d["evaluations"]),
        residual=float(d["residual"]), rel_residual=float(d["residual"]),
        method="root (bracketed Newton)", message=str(d["message"]),
        extra={"bisections": int(d["bisections"]), "f'(x)": f"{d['fprime']:.6g}",
               **({"callable": "compiled"} if kind != "python" else {})},
    )
    report_convergence(res.converged, f"find_root did not converge: {res.message}", res, strict)
    return res
