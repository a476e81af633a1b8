"""The deterministic-equivalent fixed point kappa(z): ``z = kappa (1 - df1(kappa) / N)``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._compress import certified, for_complex_kappa, for_real_kappa
from ._display import Cell
from ._results import DiagnosticsMixin, report_convergence
from ._validation import positive_int, positive_scalar
from .backends import cuda_module, resolve_backend
from .spectrum import Spectrum

__all__ = ["KappaResult", "kappa", "kappa_prime", "kappa0"]

DEFAULT_TOL = 1e-14
_INF = math.inf
#: ``extra["spectral_sums"]`` of the lean one-point path (no rule memoised, or compress=False)
_DIRECT_ONE = "direct sums over every eigenvalue (one point; no memoised Gauss rule)"


@dataclass(repr=False)
class KappaResult(DiagnosticsMixin):
    """Solution of ``z = kappa (1 - df1(kappa)/N)`` at every z, with per-point diagnostics.

    A scalar z (a Python or NumPy scalar, or a 0-d array) gives Python scalars in the per-point
    fields: ``value``, ``derivative``, ``residual``, ``df1``, ``df2`` and ``z`` are ``float``
    (``complex`` for complex z), ``converged`` is ``bool`` and ``iterations`` is ``int``.
    Array z gives arrays of z's shape.

    Attributes
    ----------
    value : ndarray or float
        kappa(z), same shape as z (complex for complex z).
    derivative : ndarray
        kappa'(z) = 1 / (1 - df2(kappa)/N) at the returned kappa.
    converged : ndarray of bool
        Per point: the relative residual reached ``tol`` (or the rounding floor) and, for complex
        z, the continuation stayed on the physical branch.
    iterations : ndarray of int
        Newton iterations (function evaluations) per point, continuation sub-steps included.
    residual : ndarray
        Relative residual of the undamped equation at the returned kappa,
        ``|F| / (|z| + |kappa (1 - d/N)| + kappa^2 |S1| / N)`` with F = kappa (1 - df1/N) - z
        (a backward error); where the last Newton step was certified without evaluating F at the
        returned kappa, a rigorous Taylor upper bound on it.
    df1, df2 : ndarray
        df1(kappa), df2(kappa) at the solution, as direct spectral sums (accurate also where
        N (1 - z/kappa) would cancel, e.g. N >> d).
    kappa0 : float
        0 for N >= d, else the root of df1(kappa0) = N (the lower end of the physical branch).
    z, N, d, tol : the problem and the tolerance.
    extra : dict
        ``backend`` (``"cpu"`` or ``"cuda"``) and ``spectral_sums``: whether the sums were direct
        or over a certified Gauss rule (:meth:`Spectrum.compress`; nodes, bound, measured error,
        and for complex z how many points were certified).
    """

    value: NDArray[Any]
    derivative: NDArray[Any]
    converged: NDArray[np.bool_]
    iterations: NDArray[np.int32]
    residual: NDArray[np.float64]
    df1: NDArray[Any]
    df2: NDArray[Any]
    kappa0: float
    z: NDArray[Any]
    N: float
    d: float
    tol: float
    spectrum_name: str | None = None
    method: str = "real"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))

    @property
    def n_failed(self) -> int:
        return int(np.size(self.converged) - np.count_nonzero(self.converged))

    @property
    def max_residual(self) -> float:
        r = np.asarray(self.residual)
        r = r[np.isfinite(r)]
        return float(r.max()) if r.size else float("nan")

    def _title(self) -> str:
        name = self.spectrum_name or "spectrum"
        return f"kappa(z) [{self.method}]: {np.size(self.z)} points, N = {self.N:g}, d = {self.d:g}, {name}"

    def _cells(self) -> list[Cell]:
        n = int(np.size(self.converged))
        it = self.iterations
        return [
            ("converged", f"{n - self.n_failed}/{n}", self.all_converged),
            ("max residual", f"{self.max_residual:.3g} (tol {self.tol:.0e})", self.max_residual <= 1e3 * self.tol),
            ("iterations", f"mean {float(np.mean(it)) if n else 0:.2f}, max {int(np.max(it)) if n else 0}", None),
            ("kappa0", f"{self.kappa0:.6g}", None),
            ("branch", "kappa >= max(z, kappa0)" if self.method == "real"
             else "kappa ~ z at inf, sign Im kappa = sign Im z", None),
            ("N/d", f"{self.N / self.d:.4g}", None),
            ("spectral sums", str(self.extra.get("spectral_sums", "direct")).split(" (")[0], None),
        ]

    def __repr__(self) -> str:
        return str(self)


def _spectrum_and_N(spectrum: Spectrum, N: object) -> tuple[Spectrum, float]:
    if not isinstance(spectrum, Spectrum):
        raise ValueError(f"spectrum must be a lindiff.Spectrum (got {type(spectrum).__name__})")
    if type(N) is float and 0.0 < N < math.inf:  # the common case, without the generic checks
        return spectrum, N
    return spectrum, positive_scalar("N", N)


def _real_scalar(z: object) -> float | None:
    """z as a float when it is one real number (Python or NumPy scalar, 0-d real array), else None.

    Only the type is looked at; the value is checked by the caller."""
    t = type(z)
    if t is float or t is np.float64:
        return float(z)  # type: ignore[arg-type]
    if t is int:
        try:
            return float(z)  # type: ignore[arg-type]
        except OverflowError:
            return math.inf  # reported as "z must be finite"
    if t is bool or t is np.bool_:
        return None  # not numeric: the general path says so
    if isinstance(z, (np.floating, np.integer)) or (
        t is np.ndarray and z.ndim == 0 and (z.dtype.kind in "fiu")  # type: ignore[attr-defined]
    ):
        return float(z)  # type: ignore[arg-type]
    return None


def _checked_options(tol: object, max_iter: object) -> tuple[float, int]:
    if not (type(tol) is float and 0.0 < tol < math.inf):
        tol = positive_scalar("tol", tol)
    if not (type(max_iter) is int and 1 <= max_iter < 2**31):
        max_iter = positive_int("max_iter", max_iter)
    return tol, max_iter  # type: ignore[return-value]


def _kappa_real1(zf: float, spectrum: Spectrum, N: float, tol: float, max_iter: int) -> tuple[Any, ...]:
    """One real z: the kernel's one-point solve (no OpenMP team, no lattice table; the start
    comes from the same memoised lattice nodes as a batch, so the result is the batch's)."""
    if not math.isfinite(zf):
        raise ValueError("z must be finite (contains NaN or inf)")
    if not zf > 0:
        raise ValueError(f"z must be > 0 for real solves (got {zf!r}); pass complex z for the analytic continuation")
    return spectrum._core_handle.kappa_real1(zf, N, tol, max_iter)  # type: ignore[no-any-return]


def _scalar_result(out: tuple[Any, ...], zf: float, spectrum: Spectrum, N: float, tol: float,
                   strict: bool, how: str = _DIRECT_ONE) -> KappaResult:
    val, der, conv, its, res, df1, df2, k0 = out
    result = KappaResult(val, der, conv, its, res, df1, df2, k0, zf, N, float(spectrum.d), tol,
                         spectrum.name, "real", {"backend": "cpu", "spectral_sums": how})
    if not conv:
        report_convergence(False, f"kappa: 1 of 1 points did not converge (max residual {result.max_residual:.3g}); "
                           "see the result's converged/residual arrays", result, strict, stacklevel=4)
    return result


def _kappa_complex(z: NDArray[np.complex128], spectrum: Spectrum, N: float, tol: float, max_iter: int,
                   compress: object) -> tuple[Any, ...]:
    """The complex path (flat z): over the rule where :func:`lindiff._compress.certified` holds at
    the solution, the other points again by direct sums (continued in their order); df1, df2 at
    the solutions from the same sums. Returns the kernel's five arrays, df1, df2 and the
    description of the sums."""
    use, how = for_complex_kappa(spectrum, compress, float(z.size) * 10)
    val, der, conv, its, res = _core.solve_kappa_path(*use._core_args(), N, z, tol=tol, max_iter=max_iter)
    good = np.zeros(z.shape, dtype=bool)
    if use is not spectrum:
        good = conv.astype(bool) & certified(use.info["compression"], val)
        how += f"; complex z: {int(good.sum())} of {z.size} points certified (bound_at <= tol), the rest direct"
        rest = np.flatnonzero(~good)
        if rest.size:
            sub = _core.solve_kappa_path(*spectrum._core_args(), N, z[rest], tol=tol, max_iter=max_iter)
            for a, b in zip((val, der, conv, its, res), sub):
                a[rest] = b
    ok = np.isfinite(val)
    df1 = np.full(val.shape, np.nan + 0j)
    df2 = df1.copy()
    for sel, sp in ((ok & good, use), (ok & ~good, spectrum)):
        if sel.any():
            df1[sel], df2[sel] = sp._df12(val[sel])
    return val, der, conv, its, res, df1, df2, how


def kappa0(spectrum: Spectrum, N: float) -> float:
    """``kappa0``: 0 for N >= d, else the root of ``df1(kappa0) = N``.

    Examples
    --------
    >>> import lindiff
    >>> s = lindiff.Spectrum.from_eigenvalues([1.0], weights=[100])
    >>> round(lindiff.kappa0(s, 25), 12)   # isotropic: (d - N) / N
    3.0
    """
    spectrum, N = _spectrum_and_N(spectrum, N)
    return spectrum._core_handle.kappa0(N)  # type: ignore[no-any-return]


def kappa(
    z: ArrayLike,
    spectrum: Spectrum,
    N: float,
    *,
    tol: float = DEFAULT_TOL,
    max_iter: int = 100,
    strict: bool = False,
    backend: str = "cpu",
    compress: bool | str = "auto",
) -> KappaResult:
    """Solve ``z = kappa (1 - df1(kappa)/N)`` for the physical kappa at every z.

    Real z (> 0): the unique root ``kappa >= max(z, kappa0)``, solved point by point (OpenMP,
    GIL released) by bracketed Newton from an accurate interpolated start; the value at a z
    does not depend on the other points or on the number of threads.

    Complex z: the branch with ``kappa ~ z`` as ``|z| -> inf`` and ``sign Im kappa = sign Im z``,
    continued along the points *in the order given* (flattened, C order) with adaptive
    sub-steps. Every accepted point passes a strict branch rule: ``Im kappa / Im z >= 1/2``
    (on the physical sheet it is >= 1; the spurious roots next to the real axis have it < 0).
    A point its predecessor's segment cannot reach (the segment crosses the branch cut, the
    negative real axis inside the support, or grazes a support edge) is started afresh from the
    real axis along its own arc. Where ``|Im z| < 8 eps |kappa|`` the sign of Im kappa cannot be
    resolved: such z count as real (accepted outside the support, on the physical real branch)
    and inside the support are reported as not converged, never guessed.

    Parameters
    ----------
    z : array_like
        Real > 0, or complex (non-zero), any shape.
    spectrum : Spectrum
    N : float
        Number of samples (> 0; need not be an integer).
    tol : float
        Target relative residual (backward error) of the equation.
    max_iter : int
        Newton iterations per point (per continuation sub-step for complex z).
    strict : bool
        Raise :class:`lindiff.ConvergenceError` instead of warning when a point fails.
    backend : {"cpu", "cuda", "auto"}
        Real z only: ``"cuda"`` runs the same per-point algorithm on the GPU (values agree
        with the CPU to rounding, not bitwise); ``"auto"`` takes the GPU for large batches
        when one is available. Complex z always run on the CPU (the path is sequential).
    compress : {"auto", True, False}
        Solve over the certified Gauss rule of :meth:`Spectrum.compress` (tol 1e-13: r nodes,
        tens even for d = 10^6) instead of every eigenvalue; values agree with ``compress=False``
        to about 1e-12 relative (``docs/compression.md``). ``"auto"``: real z when the spectrum
        has at least 4096 distinct eigenvalues and the call at least 2e8 (eigenvalue, z) pairs,
        or a rule is memoised on the spectrum (``spectrum.compress()`` was called, by you or an
        earlier call); complex z only from 4096 distinct eigenvalues. ``True``: always. Complex z:
        a point is kept only where the rule's a-priori bound at its kappa is below 1e-13
        (``CompressionInfo.bound_at``; near the negative real axis it is not), the others are
        solved again by direct sums. ``extra["spectral_sums"]`` says which.

    Returns
    -------
    KappaResult
        Arrays of z's shape; Python scalars for a scalar z.

    Notes
    -----
    A real scalar z (the common call inside a user's own loop) takes a lean path: the same
    per-point solve from the same start as in a batch (the result is the batch's for that z),
    but without array conversions, OpenMP team or lattice table; the lattice nodes and kappa0
    are memoised on the spectrum per (N, tol, max_iter). Batches run serially while their work
    is too small to pay for an OpenMP team (see ``docs/embedding.md``).

    Examples
    --------
    >>> import numpy as np, lindiff
    >>> s = lindiff.Spectrum.powerlaw(1000, k=1.0)
    >>> res = lindiff.kappa(np.logspace(-8, 4, 5), s, N=600)
    >>> bool(res.all_converged), bool(np.all(res.value >= res.kappa0))
    (True, True)
    >>> iso = lindiff.Spectrum.from_eigenvalues([1.0], weights=[100])
    >>> round(float(lindiff.kappa(1.0, iso, N=200).value), 12)   # quadratic closed form
    1.280776406404

    A spectrum compressed once (the rule is memoised on it) is solved over r nodes from then on:

    >>> big = lindiff.Spectrum.powerlaw(100_000, k=1.0)
    >>> r = lindiff.kappa(np.logspace(-4, 2, 7), big, N=5e4, compress=True)
    >>> r.extra["spectral_sums"].split(" in ")[0]
    '43-node Gauss rule'
    >>> d = lindiff.kappa(np.logspace(-4, 2, 7), big, N=5e4, compress=False)
    >>> bool(np.max(np.abs(r.value / d.value - 1)) < 1e-12)
    True
    """
    tz = type(z)
    if ((tz is float or tz is np.float64) and 0.0 < z < _INF and type(spectrum) is Spectrum  # type: ignore[operator]
            and type(N) is float and 0.0 < N < _INF and type(tol) is float and 0.0 < tol < _INF
            and type(max_iter) is int and 0 < max_iter < 2**31 and backend == "cpu"
            and (compress is False or (compress.__class__ is str and compress == "auto" and not spectrum._compressed))):
        # the hot path of a loop over z: every argument is already known valid (no helper calls)
        out = spectrum._core_handle.kappa_real1(z, N, tol, max_iter)
        if out[2]:
            return KappaResult(*out, float(z), N, float(spectrum._d), tol, spectrum.name, "real",  # type: ignore[arg-type]
                               {"backend": "cpu", "spectral_sums": _DIRECT_ONE})
        return _scalar_result(out, float(z), spectrum, N, tol, bool(strict))  # type: ignore[arg-type]
    spectrum, N = _spectrum_and_N(spectrum, N)
    tol, max_iter = _checked_options(tol, max_iter)
    if backend == "cpu" or (backend == "auto" and len(spectrum) < 1e8):  # as resolve_backend decides
        zf = _real_scalar(z)
        if zf is not None:
            use, how = for_real_kappa(spectrum, compress, 1.0)
            return _scalar_result(_kappa_real1(zf, use, N, tol, max_iter), zf, spectrum, N, tol, bool(strict), how)
    zarr = np.asarray(z)
    if zarr.dtype == object or not np.issubdtype(zarr.dtype, np.number):
        raise ValueError(f"z must be numeric (got dtype {zarr.dtype})")
    complex_mode = bool(np.iscomplexobj(zarr))
    if complex_mode:
        zc = zarr.astype(np.complex128)
        if not np.all(np.isfinite(zc)):
            raise ValueError("z must be finite (contains NaN or inf)")
        if np.any(zc == 0):
            raise ValueError("z must be non-zero")
        val, der, conv, its, res, df1, df2, how = _kappa_complex(zc.ravel(), spectrum, N, tol, max_iter, compress)
        zout = zc
        k0 = None
        resolve_backend(backend)  # validates the name; the continuation is sequential: CPU
        which = "cpu"
    else:
        zr = np.asarray(zarr, dtype=np.float64)
        if not np.all(np.isfinite(zr)):
            raise ValueError("z must be finite (contains NaN or inf)")
        if np.any(zr <= 0):
            raise ValueError(
                f"z must be > 0 for real solves (got {zr[zr <= 0].ravel()[0]!r}); "
                "pass complex z for the analytic continuation"
            )
        use, how = for_real_kappa(spectrum, compress, float(zr.size))
        which = resolve_backend(backend, work=float(zr.size) * len(use))
        if which == "cpu":  # memoised kappa0 and lattice nodes (bitwise the stateless solve)
            val, der, conv, its, res, sums, k0 = use._core_handle.solve_kappa_real(N, zr.ravel(), tol, max_iter)
        else:
            val, der, conv, its, res, sums = cuda_module().solve_kappa_real(  # type: ignore[union-attr]
                *use._core_args(), N, zr.ravel(), tol=tol, max_iter=max_iter)
            k0 = use._core_handle.kappa0(N)
        df1, df2 = sums[:, 1], sums[:, 2]   # views of the kernel's (n, 4) sums: no copy per call
        zout = zr
    shape = zarr.shape
    if k0 is None:
        k0 = spectrum._core_handle.kappa0(N)
    fields: dict[str, Any] = dict(
        value=val.reshape(shape),
        derivative=der.reshape(shape),
        converged=conv.reshape(shape),
        iterations=its.reshape(shape),
        residual=res.reshape(shape),
        df1=df1.reshape(shape),
        df2=df2.reshape(shape),
        z=zout,
    )
    if zarr.ndim == 0:  # a scalar z: Python scalars, as on the lean real path
        fields = {k: v.item() for k, v in fields.items()}
    result = KappaResult(
        **fields,
        kappa0=float(k0),
        N=N,
        d=float(spectrum.d),
        tol=tol,
        spectrum_name=spectrum.name,
        method="complex path" if complex_mode else "real",
        extra={"backend": which, "spectral_sums": how},
    )
    if not result.all_converged:   # the message (a pass over the residuals) only when it is needed
        report_convergence(
            False,
            f"kappa: {result.n_failed} of {np.size(result.converged)} points did not converge "
            f"(max residual {result.max_residual:.3g}); see the result's converged/residual arrays",
            result,
            strict,
        )
    return result


def kappa_prime(
    z: ArrayLike, spectrum: Spectrum, N: float, *, tol: float = DEFAULT_TOL, max_iter: int = 100,
    strict: bool = False, compress: bool | str = "auto",
) -> NDArray[Any]:
    """``kappa'(z) = 1 / (1 - df2(kappa(z))/N)``, same shape as z (``compress`` as in :func:`kappa`).

    Examples
    --------
    >>> import lindiff
    >>> s = lindiff.Spectrum.powerlaw(100, k=0.5)
    >>> float(lindiff.kappa_prime(1e6, s, N=50)) > 1   # -> 1 as z -> inf
    True
    """
    tz = type(z)
    if ((tz is float or tz is np.float64) and 0.0 < z < _INF and type(spectrum) is Spectrum  # type: ignore[operator]
            and type(N) is float and 0.0 < N < _INF and type(tol) is float and 0.0 < tol < _INF
            and type(max_iter) is int and 0 < max_iter < 2**31
            and (compress is False or (compress.__class__ is str and compress == "auto" and not spectrum._compressed))):
        out = spectrum._core_handle.kappa_real1(z, N, tol, max_iter)  # arguments known valid (see kappa)
        if not out[2]:
            _scalar_result(out, float(z), spectrum, N, tol, bool(strict))  # type: ignore[arg-type]  # warns or raises
        return np.float64(out[1])  # type: ignore[return-value]
    zf = _real_scalar(z)
    if zf is not None:  # the lean one-point path (see kappa)
        spectrum, N = _spectrum_and_N(spectrum, N)
        tol, max_iter = _checked_options(tol, max_iter)
        out = _kappa_real1(zf, for_real_kappa(spectrum, compress, 1.0)[0], N, tol, max_iter)
        if not out[2]:
            _scalar_result(out, zf, spectrum, N, tol, bool(strict))  # warns or raises
        return np.float64(out[1])  # type: ignore[return-value]
    r = kappa(z, spectrum, N, tol=tol, max_iter=max_iter, strict=strict, compress=compress)
    d = np.asarray(r.derivative)
    return d[()] if d.ndim == 0 else d
