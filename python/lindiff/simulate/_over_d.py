"""Theory and exact ensembles over several dimensions d at fixed N/d: the inputs of a finite-size fit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._lazy import lazy_module
from .._random import seed_sequence
from .._validation import positive_int, real_array
from ..schedule import Schedule
from ..spectrum import Spectrum
from ._ensemble import ensemble

xr = lazy_module("xarray")

__all__ = ["ensemble_over_d"]


def _dims(dims: Sequence[int]) -> list[int]:
    if isinstance(dims, (int, np.integer)) or len(dims) == 0:
        raise ValueError(f"dims must be a non-empty sequence of dimensions d (got {dims!r})")
    out = [positive_int("dims", d, minimum=2) for d in dims]
    if len(set(out)) != len(out):
        raise ValueError(f"dims must be distinct (got {list(dims)})")
    return sorted(out)


def _sample_sizes(N_over_d: ArrayLike, d: int) -> NDArray[np.int64]:
    """N = (N/d) d, which must be a whole number at every d."""
    r = real_array("N_over_d", N_over_d)
    if r.ndim > 1 or r.size == 0 or np.any(r <= 0):
        raise ValueError(f"N_over_d must be a non-empty scalar or 1-d array of ratios > 0 (got {N_over_d!r})")
    r = np.atleast_1d(r)
    if np.unique(r).size != r.size:
        raise ValueError(f"N_over_d must be distinct (got {r.tolist()})")
    N = r * d
    if np.any(np.abs(N - np.round(N)) > 1e-9 * N):
        bad = r[np.abs(N - np.round(N)) > 1e-9 * N][0]
        raise ValueError(f"N_over_d = {bad:g} gives a sample size N = {bad * d:g} that is not a whole number at "
                         f"d = {d}: choose ratios and dims with integer N = (N/d) d")
    return np.round(N).astype(np.int64)


def _theory(spec: Spectrum, N: NDArray[np.int64], c: ArrayLike, schedule: Schedule | None,
            eta_tau: ArrayLike | None, t: ArrayLike | None, gd_eta: float | None, kl: bool, strict: bool
            ) -> xr.Dataset:
    """The deterministic equivalent at one d: losses (minimiser, gradient flow or GD) and the KL."""
    from .. import theory

    Nf = N.astype(np.float64) if N.size > 1 else float(N[0])
    if eta_tau is None:
        ds = theory.static_losses(spec, Nf, c, schedule, t, strict=strict)
    else:
        ds = theory.gradflow_losses(spec, Nf, eta_tau, c, schedule, t, gd_eta=gd_eta, strict=strict)
    ds = ds[["test", "train"] + [v for v in ("data_noise", "data_ridge") if v in ds.data_vars]]
    if kl:
        k = theory.kl(spec, Nf, c, schedule, np.inf if eta_tau is None else eta_tau, strict=strict)
        ds = ds.merge(k[["kl_fwd", "kl_rev"]], compat="override", combine_attrs="drop_conflicts")
    return ds.assign_attrs(d=float(spec.d))


def ensemble_over_d(
    spectrum: Callable[[int], Spectrum],
    dims: Sequence[int],
    N_over_d: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    draws: int | Mapping[int, int] = 20,
    seed: int | np.random.SeedSequence = 0,
    eta_tau: ArrayLike | None = None,
    t: ArrayLike | None = None,
    *,
    gd_eta: float | None = None,
    kl: bool | None = None,
    strict: bool = False,
) -> tuple[dict[int, xr.Dataset], dict[int, xr.Dataset]]:
    """Deterministic equivalent and exact ensembles at several dimensions d, at the same N/d, in one call.

    For every d in ``dims``: the spectrum ``spectrum(d)`` (one family, e.g.
    ``lambda d: Spectrum.powerlaw(d, 2.0)``), the sample sizes ``N = (N/d) d``, the theory
    (:func:`lindiff.theory.static_losses`, or :func:`lindiff.theory.gradflow_losses` with
    ``eta_tau``, and :func:`lindiff.theory.kl`) and :func:`ensemble` with the seed
    ``numpy.random.SeedSequence(seed, spawn_key=(d,))`` (the ensemble at one d does not depend
    on the other dims). The result goes straight into :func:`lindiff.validate`, which then fits
    the finite-size bias of the theory and tests what is left at d = inf.

    Parameters
    ----------
    spectrum : callable
        ``spectrum(d)`` returns the population :class:`lindiff.Spectrum` of dimension d.
    dims : sequence of int
        Distinct dimensions d >= 2 (three or more for :func:`lindiff.validate`).
    N_over_d : float or 1-d array
        Ratios N/d > 0; N = (N/d) d must be a whole number at every d.
    c, schedule, eta_tau, t
        As in :func:`ensemble` and the theory functions.
    draws : int or mapping of int to int
        Training sets per N, the same at every d or ``{d: draws}`` (>= 2).
    seed : int >= 0 or numpy.random.SeedSequence
        Root seed (not advanced).
    gd_eta : float, optional
        Explicit gradient descent with this step (needs ``eta_tau``): GD theory and exact GD ensembles.
    kl : bool, optional
        Include the KL theory (``kl_fwd``, ``kl_rev``; needs N != d). Default: yes, except with
        ``gd_eta`` (the KL theory has no GD).
    strict : bool
        Passed to the theory functions (fail on non-convergence instead of warning).

    Returns
    -------
    theory, simulation : dict of int to xarray.Dataset
        Keyed by d: the theory Dataset (attribute ``d``) and the :func:`ensemble` Dataset.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff import simulate
    >>> th, sims = simulate.ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(d, 1.0), [20, 40, 80],
    ...                                     N_over_d=[0.5, 2.0], t=[1, 100], draws=8)
    >>> sorted(th), th[40].N.values.tolist(), sims[40].test.dims
    ([20, 40, 80], [20.0, 80.0], ('draw', 'N', 't'))
    >>> lindiff.validate(th, sims).dims
    (20, 40, 80)
    """
    if not callable(spectrum):
        raise ValueError(f"spectrum must be a callable d -> Spectrum, e.g. lambda d: Spectrum.powerlaw(d, 1.0) "
                         f"(got {type(spectrum).__name__})")
    ds_ = _dims(dims)
    if kl is None:
        kl = gd_eta is None
    elif not isinstance(kl, (bool, np.bool_)):
        raise ValueError(f"kl must be a bool or None (got {kl!r})")
    if kl and gd_eta is not None:
        raise ValueError("kl=True with gd_eta: lindiff.theory.kl has no gradient-descent version; pass kl=False")
    per_d = dict(draws) if isinstance(draws, Mapping) else {d: draws for d in ds_}
    if sorted(per_d) != ds_:
        raise ValueError(f"draws must be an int or a mapping with the keys {ds_} (got keys {sorted(per_d)})")
    root = seed_sequence(seed)
    theories, sims = {}, {}
    for d in ds_:
        spec = spectrum(d)
        if not isinstance(spec, Spectrum) or spec.d != d:
            raise ValueError(f"spectrum({d}) must return a lindiff.Spectrum of dimension {d} (got "
                             f"{getattr(spec, 'd', type(spec).__name__)!r})")
        N = _sample_sizes(N_over_d, d)
        if kl and np.any(N == d):
            raise ValueError("N_over_d = 1 has no KL theory (the contour method needs N != d); pass kl=False")
        ss = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (d,), pool_size=root.pool_size)
        n = positive_int("draws", per_d[d], minimum=2)
        Nsim = N if N.size > 1 else int(N[0])
        sims[d] = ensemble(spec, Nsim, c, schedule, n, ss, eta_tau, t, gd_eta=gd_eta)
        theories[d] = _theory(spec, N, c, schedule, eta_tau, t, gd_eta, bool(kl), strict)
    return theories, sims
