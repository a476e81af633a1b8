"""Differentiable kappa(z) for JAX (``pip install "lindiff[jax]"``).

:func:`kappa` solves the deterministic-equivalent fixed point

    z = kappa (1 - df1(kappa) / N),   df1(kappa) = sum_nu w_nu lambda_nu / (lambda_nu + kappa),

with lindiff's C++ solver (the same values as :func:`lindiff.kappa`) and differentiates it by the
implicit function theorem, so it composes with ``jax.jit``, ``jax.grad``, ``jax.vmap``,
``jax.jacfwd``/``jacrev`` and higher derivatives. Derivatives are exact to rounding at the
returned root (no unrolled iterations, no finite differences). Importing :mod:`lindiff` does not
import JAX; this module does, and raises an ImportError naming the extra when JAX is missing.

Examples
--------
>>> import jax
>>> jax.config.update("jax_enable_x64", True)
>>> import jax.numpy as jnp, lindiff, lindiff.jax
>>> lam = lindiff.Spectrum.powerlaw(100, k=1.0).eigenvalues
>>> k = lindiff.jax.kappa(0.5, lam, 50.0)
>>> bool(abs(float(k) - float(lindiff.kappa(0.5, lindiff.Spectrum(lam), 50.0).value)) < 1e-15)
True
>>> float(jax.grad(lindiff.jax.kappa, argnums=2)(0.5, lam, 50.0)) < 0     # more samples, smaller kappa
True
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by tests/test_jax.py
    raise ImportError(
        "lindiff.jax needs JAX, which is not installed: pip install 'lindiff[jax]' "
        "(or pip install 'jax[cpu]')"
    ) from exc

from .errors import ConvergenceError
from .kappa import kappa as _lindiff_kappa
from .spectrum import Spectrum

__all__ = ["kappa"]

#: pure_callback's batching argument: ``vmap_method="expand_dims"`` (jax >= 0.4.34: one host call
#: per batch, unbatched arguments with size-1 batch axes), else the old sequential default.
_CALLBACK_KW: dict[str, Any] = (
    {"vmap_method": "expand_dims"} if "vmap_method" in inspect.signature(jax.pure_callback).parameters else {}
)


def _x64_enabled() -> bool:
    return bool(jax.dtypes.canonicalize_dtype(np.float64) == np.dtype(np.float64))


def _concrete(x: Any) -> NDArray[Any] | None:
    """The value of ``x`` as a NumPy array, or None when it is traced (inside jit, grad, vmap)."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


# ----------------------------------------------------------------------------- host side


def _solve_one(z: NDArray[Any], lam: NDArray[np.float64], w: NDArray[np.float64], N: float,
               weighted: bool, dtype: np.dtype[Any]) -> NDArray[Any]:
    """kappa at every z for one spectrum; NaN where an input is invalid or a point did not converge."""
    out = np.full(z.shape, np.nan, dtype=dtype)
    if not (np.isfinite(N) and N > 0) or not np.all(np.isfinite(lam) & (lam > 0)):
        return out
    if weighted and not np.all(np.isfinite(w) & (w > 0)):
        return out
    if np.iscomplexobj(z):
        ok = np.isfinite(z) & (z != 0)
    else:
        ok = np.isfinite(z) & (z > 0)
    if not ok.any():
        return out
    try:
        spec = Spectrum(lam, w if weighted else None)
        try:
            res = _lindiff_kappa(z[ok], spec, float(N), strict=True)
        except ConvergenceError as err:  # the partial result: keep the converged points
            res = err.result  # type: ignore[assignment]
    except (ValueError, RuntimeError):  # e.g. d/N or Tr/N overflows: no solution to report
        return out
    out[ok] = np.where(res.converged, res.value, np.nan)
    return out


def _host_kappa(z: Any, lam: Any, w: Any, N: Any, *, weighted: bool, dtype: np.dtype[Any]) -> NDArray[Any]:
    """pure_callback target. Arguments carry ``b`` leading batch axes (``b = N.ndim``; vmap with
    ``expand_dims`` gives unbatched arguments size-1 axes there); the spectra are looped over,
    the z of one spectrum go to the solver in one call."""
    z, lam, w, N = (np.asarray(a) for a in (z, lam, w, N))
    b = N.ndim
    batch = np.broadcast_shapes(z.shape[:b], lam.shape[:b], w.shape[:b], N.shape)
    zs = np.broadcast_to(z, batch + z.shape[b:])
    lams = np.broadcast_to(lam, batch + lam.shape[b:])
    ws = np.broadcast_to(w, batch + w.shape[b:])
    Ns = np.broadcast_to(N, batch)
    spec_batch = np.broadcast_shapes(lam.shape[:b], w.shape[:b], N.shape)
    if int(np.prod(spec_batch)) == 1:  # one spectrum and N: all z in one solver call
        i0 = (0,) * b
        return _solve_one(zs, lams[i0], ws[i0], float(Ns[i0]), weighted, dtype)
    out = np.empty(batch + z.shape[b:], dtype=dtype)
    for idx in np.ndindex(*batch):
        out[idx] = _solve_one(zs[idx], lams[idx], ws[idx], float(Ns[idx]), weighted, dtype)
    return out


# ----------------------------------------------------------------------------- traced side


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _kappa(z: jax.Array, lam: jax.Array, w: jax.Array, N: jax.Array, weighted: bool) -> jax.Array:
    dtype = np.dtype(np.complex128 if jnp.iscomplexobj(z) else np.float64)
    shape = jax.ShapeDtypeStruct(jnp.shape(z), dtype)
    cb = functools.partial(_host_kappa, weighted=weighted, dtype=dtype)
    return jax.pure_callback(cb, shape, z, lam, w, N, **_CALLBACK_KW)


@_kappa.defjvp
def _kappa_jvp(weighted: bool, primals: tuple[jax.Array, ...], tangents: tuple[jax.Array, ...]
               ) -> tuple[jax.Array, jax.Array]:
    """Implicit function theorem for F = kappa (1 - df1(kappa)/N) - z = 0:

        dkappa = [dz + (1/N) sum_i (w_i q_i^2 dlambda_i + kappa r_i dw_i) - (kappa df1 / N^2) dN] / F',

    r_i = lambda_i / (lambda_i + kappa), q_i = kappa / (lambda_i + kappa) = 1 - r_i,
    F' = dF/dkappa = 1 - df2/N. F' is formed as ``1 - df2/N`` or as the equal
    ``(1 - d/N) + (1/N) sum_i w_i q_i (1 + r_i)``, whichever has the smaller terms (the second
    has no cancellation at N ~ d, small kappa; the first none at N << d). The rule calls
    :func:`_kappa` itself, so differentiating it again gives higher derivatives.
    """
    z, lam, w, N = primals
    dz, dlam, dw, dN = tangents
    k = _kappa(z, lam, w, N, weighted)
    kk = k[..., None]
    den = lam + kk
    r = lam / den
    q = kk / den
    df1 = jnp.sum(w * r, axis=-1)
    df2 = jnp.sum(w * r * r, axis=-1)
    d = jnp.sum(w, axis=-1)
    t = jnp.sum(w * q * (1 + r), axis=-1)
    fa = 1 - df2 / N
    fb = (1 - d / N) + t / N
    mag_a = 1 + jnp.abs(df2) / N
    mag_b = jnp.abs(1 - d / N) + jnp.abs(t) / N
    fprime = jnp.where(mag_b < mag_a, fb, fa)
    num = dz + jnp.sum(w * q * q * dlam + kk * r * dw, axis=-1) / N - k * df1 * dN / (N * N)
    return k, (num / fprime).astype(k.dtype)


def _as_float(name: str, x: Any, *, ndim: int | None = None) -> jax.Array:
    arr = jnp.asarray(x)
    if jnp.iscomplexobj(arr):
        raise ValueError(f"{name} must be real (got dtype {arr.dtype})")
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise ValueError(f"{name} must be a real numeric array (got dtype {arr.dtype})")
    if ndim is not None and arr.ndim != ndim:
        what = "a scalar" if ndim == 0 else f"{ndim}-dimensional"
        raise ValueError(f"{name} must be {what} (got shape {arr.shape})")
    return arr.astype(jnp.float64)


def kappa(z: ArrayLike | jax.Array, eigenvalues: ArrayLike | jax.Array, N: ArrayLike | jax.Array, *,
          weights: ArrayLike | jax.Array | None = None) -> jax.Array:
    """kappa(z) of lindiff, differentiable in z, the eigenvalues, the weights and N.

    Solves ``z = kappa (1 - df1(kappa)/N)``, ``df1(kappa) = sum_nu w_nu lambda_nu / (lambda_nu +
    kappa)``, on the physical branch, with the values of :func:`lindiff.kappa` (the C++ solver,
    called through ``jax.pure_callback``; one host call per spectrum, all z at once). Derivatives
    come from the implicit function theorem in ``jax.numpy`` (a ``jax.custom_jvp``), so forward
    and reverse mode, ``jit``, ``vmap`` (over any argument) and higher derivatives work.

    Parameters
    ----------
    z : array_like, any shape
        Real z > 0 (the root kappa >= max(z, kappa0)), or complex non-zero z (the branch with
        kappa ~ z at infinity and sign Im kappa = sign Im z; derivatives are complex derivatives,
        kappa being holomorphic in z off the real support).
    eigenvalues : array_like, shape (n,)
        Eigenvalues lambda_nu > 0 of Sigma.
    N : scalar
        Number of samples, > 0 (any real; need not be an integer).
    weights : array_like, shape (n,), optional
        Multiplicities w_nu > 0 (default: all 1); ``d = sum(weights)``. Differentiable too.

    Returns
    -------
    jax.Array
        kappa, shape of z, float64 for real z, complex128 for complex z.

    Raises
    ------
    ValueError
        Wrong shapes or dtypes (at trace time), and, for arguments that are not traced, values
        out of range: N <= 0, eigenvalues or weights <= 0 or not finite, real z <= 0, z = 0.
    RuntimeError
        64-bit JAX is off (see Notes).

    Notes
    -----
    *Precision.* kappa is solved in float64 to a relative backward error of 1e-14, and the
    derivative rule contains ``1 - df2(kappa)/N``, which cancels near the edge of the spectrum
    (N ~ d, small z); float32 would lose most digits there. So this function needs
    ``jax.config.update("jax_enable_x64", True)`` (or the ``JAX_ENABLE_X64=1`` environment
    variable) and raises a RuntimeError otherwise rather than silently returning float32. Inputs
    of any real dtype are converted to float64.

    *Failures are NaN.* Inside ``jit`` (or under ``grad``/``vmap``) values are not known when the
    function is traced and an exception cannot be raised from the compiled code, so where a traced
    input is out of range (N <= 0, an eigenvalue or weight <= 0, real z <= 0) or the solver does
    not converge (for complex z: a point on the real support, where the branch is undecidable),
    kappa and its derivatives are NaN, like ``jnp.log(-1.0)``. Test with ``jnp.isnan`` or run
    with ``jax.config.update("jax_debug_nans", True)`` to stop at the first NaN. For the solver's
    diagnostics call :func:`lindiff.kappa` on the same numbers.

    *Higher derivatives* differentiate the derivative rule, which calls this function again, so
    every order costs one solve per evaluation of kappa.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> jax.config.update("jax_enable_x64", True)
    >>> import lindiff, lindiff.jax
    >>> lam = jnp.asarray(lindiff.Spectrum.powerlaw(100, k=1.0).eigenvalues)
    >>> z = jnp.logspace(-3, 1, 5)
    >>> k = jax.jit(lindiff.jax.kappa)(z, lam, 50.0)
    >>> bool(jnp.allclose(k, lindiff.kappa(z, lindiff.Spectrum(lam), 50.0).value, rtol=1e-15))
    True
    >>> dk_dz = jax.vmap(jax.grad(lindiff.jax.kappa), (0, None, None))(z, lam, 50.0)
    >>> bool(jnp.allclose(dk_dz, lindiff.kappa_prime(z, lindiff.Spectrum(lam), 50.0), rtol=1e-12))
    True
    >>> g = jax.grad(lambda lam: lindiff.jax.kappa(0.1, lam, 50.0))(lam)   # d kappa / d lambda_nu
    >>> g.shape, bool(jnp.all(g > 0))
    ((100,), True)
    """
    if not _x64_enabled():
        raise RuntimeError(
            "lindiff.jax.kappa needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) "
            "at start-up (or set JAX_ENABLE_X64=1); kappa and its derivatives are computed in float64"
        )
    zarr = jnp.asarray(z)
    if zarr.dtype == jnp.bool_ or not (jnp.issubdtype(zarr.dtype, jnp.number)):
        raise ValueError(f"z must be a real or complex numeric array (got dtype {zarr.dtype})")
    zarr = zarr.astype(jnp.complex128 if jnp.iscomplexobj(zarr) else jnp.float64)
    lam = _as_float("eigenvalues", eigenvalues, ndim=1)
    if lam.shape[0] == 0:
        raise ValueError("eigenvalues must not be empty")
    Narr = _as_float("N", N, ndim=0)
    weighted = weights is not None
    if weighted:
        w = _as_float("weights", weights, ndim=1)
        if w.shape != lam.shape:
            raise ValueError(f"weights must have the shape of eigenvalues (got {w.shape} and {lam.shape})")
    else:
        w = jnp.ones_like(lam)
    _check_values(zarr, z, eigenvalues, N, weights)
    return _kappa(zarr, lam, w, Narr, weighted)


def _check_values(zarr: jax.Array, z: Any, eigenvalues: Any, N: Any, weights: Any) -> None:
    """ValueErrors for out-of-range values of the arguments that are not traced."""
    n = _concrete(N)
    if n is not None and not (np.isfinite(n) and n > 0):
        raise ValueError(f"N must be finite and > 0 (got {float(n)!r})")
    for name, x in (("eigenvalues", eigenvalues), ("weights", weights)):
        v = None if x is None else _concrete(x)
        if v is not None and not np.all(np.isfinite(v) & (v > 0)):
            bad = v[~(np.isfinite(v) & (v > 0))].ravel()[0]
            raise ValueError(f"{name} must be finite and > 0 (got {float(bad)!r})")
    zv = _concrete(z)
    if zv is None:
        return
    zv = np.asarray(zarr)
    if not np.all(np.isfinite(zv)):
        raise ValueError("z must be finite (contains NaN or inf)")
    if np.iscomplexobj(zv):
        if np.any(zv == 0):
            raise ValueError("z must be non-zero")
    elif np.any(zv <= 0):
        raise ValueError(
            f"z must be > 0 for real z (got {float(zv[zv <= 0].ravel()[0])!r}); "
            "pass complex z for the analytic continuation"
        )
