"""Ensembles of exact finite-sample results over seeded training sets (spec §2), and their summary.

:func:`ensemble` draws ``draws`` training sets per sample size, eigendecomposes all their sample
covariances in one batched LAPACK call (OpenMP over draws, :func:`lindiff._core.eigh_batched`)
and evaluates the exact closed forms of :mod:`lindiff.exact` on each: the losses of the minimiser
or of gradient flow, and the exact KL of the sampler. :func:`summarize` turns the per-draw values
into means and standard errors, the form :func:`lindiff.validate` compares with the theory.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import __version__, _core
from .._labelled import Axis, assemble, axis, time_axis
from .._lazy import lazy_module
from .._random import draw_training_set, population_eigen
from .._validation import (
    check_memory,
    check_schedule,
    check_spectrum,
    choice,
    flag,
    positive_int,
)
from ..exact import SampleSpectrum, kl_gamma, losses
from ..schedule import Schedule
from ..spectrum import Spectrum
from ..theory.sampler import SAMPLERS, sampler_gamma, training_time
from ._common import draw_seeds

xr = lazy_module("xarray")

__all__ = ["ensemble", "summarize"]

LOSSES = ("test", "train", "data_noise", "data_ridge")
KLS = ("kl_fwd", "kl_rev")
_DESCRIPTIONS = {
    "test": "per-dimension test loss (exact, given the draw's training set)",
    "train": "per-dimension train loss (noise-averaged, no penalty)",
    "data_noise": "x_0 reconstruction loss from the noise predictor, (b²/a²) test",
    "data_ridge": "test loss of the separately trained ridge data predictor",
    "kl_fwd": "KL(gen || data) per dimension (exact)",
    "kl_rev": "KL(data || gen) per dimension (exact)",
}
# memory for one batched eigendecomposition: the matrices C (and their eigenvectors, in place)
_BATCH_BYTES = 256 * 2**20


def _check_memory(d: float, N_max: float, draws: int) -> None:
    """A draw holds its d x N data, and the batched eigendecomposition the draws' d x d covariances."""
    check_memory("ensemble", 8.0 * max(d * N_max, draws * d * d),
                 f"d = {d:g}, N = {N_max:g}, draws = {draws}: d x N data per draw and draws x d x d covariances",
                 "lower N, d or draws")


def _sample_sizes(N: ArrayLike, centred: bool) -> Axis:
    ax = axis("N", N, positive=True)
    if not np.all(ax.values == np.round(ax.values)):
        bad = ax.values[ax.values != np.round(ax.values)][0]
        raise ValueError(f"N must be integers (sample sizes; got {bad!r})")
    if centred and np.any(ax.values < 2):
        raise ValueError("N must be >= 2 with centred=True")
    return ax


def _mean_sem(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and standard error over axis 0, with the conventions of :func:`summarize`."""
    n = x.shape[0]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean = np.mean(x, axis=0)
        sem = np.std(x, axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(mean.shape, np.nan)
    if n > 1:
        has_nan = np.any(np.isnan(x), axis=0)
        same_inf = np.isinf(x[0]) & np.all(x == x[0], axis=0)     # the same infinity in every draw
        some_inf = np.any(np.isinf(x), axis=0)
        mean = np.where(same_inf, x[0], mean)
        sem = np.where(same_inf, 0.0, np.where(some_inf & ~has_nan, np.inf, sem))
    return mean, sem


def summarize(ds: xr.Dataset, dim: str = "draw") -> xr.Dataset:
    """Mean and standard error over ``dim`` of every variable that has that dimension.

    For each such variable ``v``: ``v_mean`` (the mean over ``dim``) and ``v_sem`` (the standard
    error ``std(ddof=1) / sqrt(n)``, n = the length of ``dim``). Non-finite values follow fixed
    rules instead of producing NaN or warnings: where every draw has the same infinity (e.g. KL =
    inf when N < d) the mean is that infinity and the standard error 0; where only some draws are
    infinite the mean is infinite and the standard error inf. NaN in the input propagates. With
    n = 1 the standard error is undefined and set to NaN.

    Parameters
    ----------
    ds : xarray.Dataset
        E.g. the per-draw variables of :func:`ensemble` or the ``losses`` of a
        :func:`lindiff.simulate.train` result.
    dim : str
        The dimension to summarise over.

    Returns
    -------
    xarray.Dataset
        ``<v>_mean`` and ``<v>_sem`` for every variable ``v`` with dimension ``dim``, and the
        coordinates of ``ds`` that do not depend on ``dim``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from lindiff.simulate import summarize
    >>> ds = xr.Dataset({"x": ("draw", [1.0, 2.0, 3.0]), "kl": ("draw", [np.inf] * 3)})
    >>> out = summarize(ds)
    >>> float(out.x_mean), round(float(out.x_sem), 6), float(out.kl_mean), float(out.kl_sem)
    (2.0, 0.57735, inf, 0.0)
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"ds must be an xarray.Dataset (got {type(ds).__name__})")
    if dim not in ds.dims:
        raise ValueError(f"ds has no dimension {dim!r} (dims: {tuple(ds.dims)})")
    n = int(ds.sizes[dim])
    out: dict[str, xr.Variable] = {}
    for name, da in ds.data_vars.items():
        if dim not in da.dims or not (np.issubdtype(da.dtype, np.number) or da.dtype == np.bool_):
            continue
        moved = da.transpose(dim, ...)
        rest = moved.dims[1:]
        mean, sem = _mean_sem(np.asarray(moved.values, dtype=np.float64))
        out[f"{name}_mean"] = xr.Variable(rest, mean, attrs={"description": f"mean of {name} over {n} {dim}s"})
        out[f"{name}_sem"] = xr.Variable(rest, sem, attrs={"description": f"standard error of {name}_mean"})
    coords = {k: v for k, v in ds.coords.items() if dim not in v.dims}
    return xr.Dataset(out, coords=coords, attrs={"summarized_over": dim, "n": n})


def _covariances(lam: NDArray[np.float64], P: NDArray[np.float64] | None, N: int,
                 seeds: list[np.random.SeedSequence], rotate: bool, centred: bool
                 ) -> tuple[NDArray[np.float64], list[NDArray[np.float64] | None], list[NDArray[np.float64] | None]]:
    """C for each draw, Sigma's eigenvectors in X's basis and the sample means (centred only).

    C = X X^T / N (or the centred form) as in :meth:`SampleSpectrum.from_data`, without its
    symmetrisation: LAPACK reads one triangle only. With more than one kernel thread the draws
    are formed on a thread pool (NumPy's generator and BLAS release the GIL); every draw is
    computed by the same operations, so the result does not depend on the thread count.
    """
    d = lam.size
    C = np.empty((len(seeds), d, d))
    bases: list[NDArray[np.float64] | None] = [None] * len(seeds)
    means: list[NDArray[np.float64] | None] = [None] * len(seeds)

    def one(i: int) -> None:
        X, O = draw_training_set(lam, P, N, seeds[i], rotate)
        if centred:
            xbar = X.mean(axis=1)
            Xc = X - xbar[:, None]
            np.matmul(Xc, Xc.T, out=C[i])
            C[i] /= N - 1
            means[i] = xbar
        else:
            np.matmul(X, X.T, out=C[i])
            C[i] /= N
        bases[i] = P if O is None else (O if P is None else O @ P)

    workers = min(_core.get_num_threads(), len(seeds))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(len(seeds))))
    else:
        for i in range(len(seeds)):
            one(i)
    return C, bases, means


def _eigen_samples(lam: NDArray[np.float64], P: NDArray[np.float64] | None, N: int,
                   seeds: list[np.random.SeedSequence], rotate: bool, centred: bool) -> list[SampleSpectrum]:
    """The SampleSpectrum of every draw; the C's of a chunk of draws go through one eigh_batched call."""
    d = lam.size
    chunk = max(1, min(len(seeds), _BATCH_BYTES // (8 * d * d)))
    out: list[SampleSpectrum] = []
    for start in range(0, len(seeds), chunk):
        part = seeds[start : start + chunk]
        C, bases, means = _covariances(lam, P, N, part, rotate, centred)
        s, V, info = _core.eigh_batched(C)
        if np.any(info != 0):
            i = int(np.flatnonzero(info)[0])
            raise np.linalg.LinAlgError(f"LAPACK dsyevd failed (info = {int(info[i])}) for draw {start + i}, N = {N}")
        out.extend(SampleSpectrum._from_eigh(s[i], V[i], lam, bases[i], N, centred=centred, xbar=means[i],
                                             rtol=None, keep_vectors=False) for i in range(len(part)))
    return out


def _gamma_values(gamma: Callable[[NDArray[np.float64]], ArrayLike], s: NDArray[np.float64]) -> NDArray[np.float64]:
    g = np.asarray(gamma(s.copy()))
    if g.shape != s.shape:
        raise ValueError(f"gamma must map the eigenvalues s (shape {s.shape}) to an array of the same shape "
                         f"(got shape {g.shape})")
    if np.iscomplexobj(g) and np.any(g.imag != 0):
        raise ValueError("gamma must be real on real eigenvalues s >= 0")
    return np.real(g).astype(np.float64)


def ensemble(
    spectrum: Spectrum,
    N: ArrayLike,
    c: ArrayLike = 0.0,
    schedule: Schedule | None = None,
    draws: int = 20,
    seed: int | np.random.SeedSequence = 0,
    eta_tau: ArrayLike | None = None,
    t: ArrayLike | None = None,
    rotate: bool = False,
    *,
    sampler: str = "ddpm",
    gamma: Callable[[NDArray[np.float64]], ArrayLike] | None = None,
    centred: bool = False,
    gd_eta: float | None = None,
) -> xr.Dataset:
    """Exact losses and KL of ``draws`` seeded training sets per sample size, with mean and error.

    For draw i = 0..draws-1 the training set is exactly
    ``lindiff.exact.draw_data(spectrum, N_j, seed=ss_i, rotate=rotate)`` with
    ``ss_i = numpy.random.SeedSequence(seed).spawn(draws)[i]`` (the same ss_i for every N_j), so
    ``lindiff.exact.SampleSpectrum.draw(spectrum, N_j, seed=ss_i, rotate=rotate)`` reproduces it.
    The sample covariances of all draws of one N are eigendecomposed in one batched LAPACK call
    (OpenMP over draws; the results do not depend on the thread count), then
    :func:`lindiff.exact.losses` and :func:`lindiff.exact.kl` (or :func:`lindiff.exact.kl_gamma`
    with ``gamma``) give the exact per-draw values.

    Parameters
    ----------
    spectrum : Spectrum
        The population spectrum (integer multiplicities: it is expanded to a d x d Sigma).
    N : int or 1-d array of int
        Sample sizes (> 0); an array becomes a dimension.
    c : float or 1-d array
        Ridge penalties (>= 0).
    schedule : Schedule, optional
        Default ``Schedule.linear()``.
    draws : int
        Number of training sets per N (>= 1; the standard errors need >= 2).
    seed : int >= 0 or numpy.random.SeedSequence
        Root seed (a SeedSequence passed in is not advanced).
    eta_tau : float or 1-d array, optional
        None: the minimiser only (the schema of :func:`lindiff.theory.static_losses`); otherwise
        gradient-flow training times > 0, inf allowed (the schema of
        :func:`lindiff.theory.gradflow_losses`).
    t : int or 1-d array of int, optional
        Diffusion times in 1..T (default: all).
    rotate : bool
        Turn the population into a Haar-random basis per draw (see :func:`lindiff.exact.draw_data`).
    sampler : {"ddpm", "ddpm_noise_last", "beta_tilde", "deterministic"}
        The sampler whose exact KL is reported.
    gamma : callable, optional
        Replace the sampler by a variance map: ``Sigma_gen = sum_i gamma(s_i) v_i v_i^T``, a
        vectorised function of the eigenvalues s of C (as in :func:`lindiff.theory.kl`);
        ``lambda s: s`` is the KL of N(0, C) itself (the d/(4N) law, :func:`lindiff.theory.kl_wishart`).
        The KL then does not depend on c or eta_tau.
    centred : bool
        Centred C with N - 1 degrees of freedom and a learned mean (spec §1 alternative).
    gd_eta : float, optional
        Explicit gradient descent with this step instead of gradient flow (needs ``eta_tau``,
        whole multiples of ``gd_eta``: n = eta_tau / gd_eta steps; the schema of
        :func:`lindiff.theory.gradflow_losses` with ``gd_eta``).

    Returns
    -------
    xarray.Dataset
        Per draw: ``test, train, data_noise, data_ridge`` with dims ``(draw, N, c, [eta_tau], t)``
        and ``kl_fwd, kl_rev`` with dims ``(draw, N, c, [eta_tau])`` (scalar arguments become
        scalar coordinates, as in :mod:`lindiff.theory`); ``optimum`` (dim t); for each per-draw
        variable ``<name>_mean`` and ``<name>_sem`` from :func:`summarize`.

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.simulate import ensemble
    >>> spec = lindiff.Spectrum.powerlaw(50, k=1.0)
    >>> ds = ensemble(spec, N=[25, 100], t=[10, 500], draws=4, seed=1)
    >>> ds.test.dims, ds.test_mean.dims, ds.kl_fwd.dims
    (('draw', 'N', 't'), ('N', 't'), ('draw', 'N'))
    >>> float(ds.kl_fwd_mean.sel(N=25)), float(ds.kl_fwd_sem.sel(N=25))   # N < d: samples in span(X)
    (inf, 0.0)

    Draw i is reproducible with :mod:`lindiff.exact`:

    >>> import numpy as np
    >>> from lindiff import exact
    >>> ss = np.random.SeedSequence(1).spawn(4)[2]
    >>> smp = exact.SampleSpectrum.draw(spec, 100, seed=ss)
    >>> ref = exact.losses(smp, t=[10, 500]).test[0]
    >>> bool(np.allclose(ds.test.sel(N=100).isel(draw=2), ref, rtol=1e-12))
    True
    """
    spectrum = check_spectrum(spectrum)
    schedule = check_schedule(schedule)
    draws = positive_int("draws", draws)
    rotate, centred = flag("rotate", rotate), flag("centred", centred)
    Nax = _sample_sizes(N, centred)
    _check_memory(float(spectrum.d), float(np.max(Nax.values)), draws)
    cax = axis("c", c, positive=False)
    if eta_tau is None:
        if gd_eta is not None:
            raise ValueError("gd_eta needs eta_tau (the GD training times, whole multiples of gd_eta)")
        et, eta = np.array([np.inf]), 0.0
        eax = None
    else:
        et, eta = training_time(eta_tau, gd_eta)
        eax = Axis("eta_tau", et, np.ndim(eta_tau) == 0)
    tax, tidx = time_axis(schedule, t)
    if gamma is None:
        choice("sampler", sampler, SAMPLERS)
    elif not callable(gamma):
        raise ValueError(f"gamma must be a callable of the eigenvalues s, or None (got {type(gamma).__name__})")
    seeds = draw_seeds(seed, draws)
    lam, P = population_eigen(spectrum, "spectrum")

    nN, nc, ne, nt = len(Nax), len(cax), et.size, len(tax)
    res = {k: np.empty((draws, nN, nc, ne, nt)) for k in LOSSES}
    res.update({k: np.empty((draws, nN, nc, ne)) for k in KLS})
    optimum = np.empty(nt)
    for j, n in enumerate(Nax.values):
        samples = _eigen_samples(lam, P, int(n), seeds, rotate, centred)
        s_all = np.stack([smp.s for smp in samples])                              # (draws, d)
        if gamma is not None:
            for i, smp in enumerate(samples):
                fwd, rev = kl_gamma(smp, _gamma_values(gamma, smp.s))
                res["kl_fwd"][i, j], res["kl_rev"][i, j] = fwd, rev
        for k, cc in enumerate(cax.values):
            if gamma is None:
                # exact.kl = kl_gamma(sample, sigma_gen(sample)); gamma evaluated for all draws at once
                g_all = np.asarray(sampler_gamma(s_all, schedule, float(cc), et, sampler, gd_eta=eta or None)
                                   ).reshape(ne, draws, -1)
            for i, smp in enumerate(samples):
                ex = losses(smp, schedule, float(cc), tax.values, et, gd_eta=eta or None)
                for name in LOSSES:
                    res[name][i, j, k] = getattr(ex, name)
                if gamma is None:
                    res["kl_fwd"][i, j, k], res["kl_rev"][i, j, k] = kl_gamma(smp, g_all[:, i])
        optimum = ex.optimum

    axes = [Axis("draw", np.arange(draws), False), Nax, cax] + ([eax] if eax is not None else []) + [tax]
    ldims = ("draw", "N", "c", "eta_tau", "t") if eax is not None else ("draw", "N", "c", "t")
    kdims = ldims[:-1]
    squeeze = (slice(None),) * 3 + ((slice(None),) if eax is not None else (0,))
    variables: dict[str, tuple[tuple[str, ...], NDArray[Any], str]] = {
        name: (ldims, res[name][squeeze], _DESCRIPTIONS[name]) for name in LOSSES}
    variables.update({name: (kdims, res[name][squeeze], _DESCRIPTIONS[name]) for name in KLS})
    variables["optimum"] = (("t",), optimum, "population optimum (N = inf, c = 0)")
    attrs = {"quantity": "ensemble of exact finite-sample losses and KL", "spectrum": spectrum.name or "spectrum",
             "d": float(lam.size), "schedule": schedule.name, "T": schedule.T,
             "seed": seed if isinstance(seed, (int, np.integer)) else repr(seed), "draws": draws,
             "rotate": int(rotate), "centred": int(centred),
             "training": "minimiser" if eax is None else ("gradient descent" if eta else "gradient flow"),
             "gd_eta": eta,
             "sampler": sampler if gamma is None else "user gamma",
             "lindiff_version": __version__}
    ds = assemble(variables, axes, attrs)
    return ds.merge(summarize(ds[[*LOSSES, *KLS]]), combine_attrs="override")
