"""Compiled callables in solve_fixed_point / find_root: the C++ loop calls a C function pointer.

The libm tests need neither numba nor a compiler: ``cos``/``sin`` from the C library through
ctypes, wrapped in a scipy.LowLevelCallable, are interpreter-free. The Python-callable
reference calls the very same C functions (through ctypes), so both paths see identical
function values and must give identical iterates.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np
import pytest
from scipy import LowLevelCallable

import lindiff


def _libm() -> ctypes.CDLL:
    name = ctypes.util.find_library("m")
    return ctypes.CDLL(name) if name else ctypes.CDLL(None)


def _c_function(name: str) -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    fn = getattr(_libm(), name)
    fn.restype = ctypes.c_double
    fn.argtypes = [ctypes.c_double]
    return fn


COS, SIN = _c_function("cos"), _c_function("sin")


def _same_solve(a: lindiff.SolverResult, b: lindiff.SolverResult) -> None:
    assert a.converged and b.converged
    assert np.array_equal(a.x, b.x) and np.array_equal(a.fx, b.fx)
    assert (a.iterations, a.evaluations) == (b.iterations, b.evaluations)
    assert a.residual == b.residual and a.residual_history == b.residual_history


@pytest.mark.parametrize("method", ["anderson", "picard", "newton"])
def test_fixed_point_of_libm_cos_as_lowlevelcallable(method: str) -> None:
    compiled = lindiff.solve_fixed_point(LowLevelCallable(COS), 1.0, method=method)
    python = lindiff.solve_fixed_point(lambda x: COS(x), 1.0, method=method)
    _same_solve(compiled, python)
    assert compiled.x == pytest.approx(0.7390851332151607, rel=1e-12)
    assert "compiled" in compiled.extra["callable"]
    # a bare ctypes pointer with restype/argtypes set is accepted as well
    _same_solve(lindiff.solve_fixed_point(COS, 1.0, method=method), python)


def test_find_root_with_libm_sin_and_cos() -> None:
    for fprime in (None, COS):
        c = lindiff.find_root(LowLevelCallable(SIN), (3.0, 3.5),
                              fprime=None if fprime is None else LowLevelCallable(fprime))
        p = lindiff.find_root(lambda x: SIN(x), (3.0, 3.5), fprime=None if fprime is None else (lambda x: COS(x)))
        assert c.converged and abs(c.x - math.pi) < 1e-15
        assert (c.x, c.fx, c.iterations, c.evaluations) == (p.x, p.fx, p.iterations, p.evaluations)
        assert c.extra["callable"] == "compiled"
    # mixed: compiled f, Python fprime (the GIL is kept for the Python one)
    m = lindiff.find_root(LowLevelCallable(SIN), (3.0, 3.5), fprime=lambda x: COS(x))
    assert m.converged and abs(m.x - math.pi) < 1e-15


def test_vector_signature_through_ctypes() -> None:
    # a ctypes callback runs Python (not interpreter-free), but exercises the vector plumbing:
    # the signature check, the pointer call with the GIL released, the output buffer
    proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t)

    def g(x, out, n):  # type: ignore[no-untyped-def]
        out[0] = math.cos(x[1])
        out[1] = 0.5 * math.sin(x[0])

    cb = proto(g)
    for method in ("anderson", "newton"):
        c = lindiff.solve_fixed_point(LowLevelCallable(cb), [0.0, 0.0], method=method)
        p = lindiff.solve_fixed_point(lambda x: np.array([math.cos(x[1]), 0.5 * math.sin(x[0])]), [0.0, 0.0],
                                      method=method)
        _same_solve(c, p)
        assert np.array_equal(c.x, p.x) and isinstance(c.x, np.ndarray)
    # a Python Jacobian next to a compiled f
    jac = lambda x: np.array([[0.0, -math.sin(x[1])], [0.5 * math.cos(x[0]), 0.0]])  # noqa: E731
    r = lindiff.solve_fixed_point(LowLevelCallable(cb), [0.0, 0.0], method="newton", jac=jac)
    assert r.converged


def test_compiled_nan_is_a_reported_failure() -> None:
    log = _c_function("log")  # log(x) = x has no real fixed point; log of a negative is NaN
    with pytest.warns(lindiff.ConvergenceWarning):
        r = lindiff.solve_fixed_point(LowLevelCallable(log), 0.5, method="picard", max_iter=50)
    assert not r.converged


def test_bad_signatures_are_value_errors_naming_the_argument() -> None:
    ldexp = _libm().ldexp
    ldexp.restype, ldexp.argtypes = ctypes.c_double, [ctypes.c_double, ctypes.c_int]
    with pytest.raises(ValueError, match=r"f: a compiled callable must have the C signature .*double \(double, int\)"):
        lindiff.find_root(LowLevelCallable(ldexp), (0.0, 1.0))
    with pytest.raises(ValueError, match="fprime: a compiled callable must have"):
        lindiff.find_root(LowLevelCallable(SIN), (3.0, 3.5), fprime=LowLevelCallable(ldexp))
    # a scalar function for a vector problem
    with pytest.raises(ValueError, match=r"f: a compiled callable must have the C signature 'void \(double \*"):
        lindiff.solve_fixed_point(LowLevelCallable(COS), [1.0, 2.0])
    # a ctypes pointer without argtypes
    bare = _libm().cos
    with pytest.raises(ValueError, match="f: a ctypes function pointer needs its argtypes"):
        lindiff.solve_fixed_point(bare, 1.0)
    # a vector function for find_root
    proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t)
    cb = proto(lambda x, out, n: None)
    with pytest.raises(ValueError, match="f: a compiled callable must have the C signature 'double"):
        lindiff.find_root(LowLevelCallable(cb), (0.0, 1.0))


def test_numba_cfuncs() -> None:
    numba = pytest.importorskip("numba")
    from numba import types

    @numba.cfunc("float64(float64)")
    def nb_cos(x):  # type: ignore[no-untyped-def]
        return math.cos(x)

    @numba.cfunc("float64(float64, voidptr)")
    def nb_shifted(x, data):  # type: ignore[no-untyped-def]
        return math.sin(x) - numba.carray(data, 1, dtype=np.float64)[0]  # type: ignore[attr-defined]

    @numba.cfunc(types.void(types.CPointer(types.float64), types.CPointer(types.float64), types.intp))
    def nb_vec(x, out, n):  # type: ignore[no-untyped-def]
        out[0] = math.cos(x[1])
        out[1] = 0.5 * math.sin(x[0])

    r = lindiff.solve_fixed_point(nb_cos, 1.0)
    p = lindiff.solve_fixed_point(lambda x: math.cos(x), 1.0)
    assert r.converged and r.x == pytest.approx(p.x, rel=1e-14, abs=0)
    shift = np.array([0.5])
    llc = LowLevelCallable(nb_shifted.ctypes, user_data=shift.ctypes.data_as(ctypes.c_void_p))
    root = lindiff.find_root(llc, (0.0, 1.0))
    assert root.converged and root.x == pytest.approx(math.asin(0.5), rel=1e-15)
    v = lindiff.solve_fixed_point(nb_vec, [0.0, 0.0])
    w = lindiff.solve_fixed_point(lambda x: np.array([math.cos(x[1]), 0.5 * math.sin(x[0])]), [0.0, 0.0])
    assert v.converged and np.allclose(v.x, w.x, rtol=1e-14, atol=0)
