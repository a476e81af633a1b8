"""``lindiff reproduce``: the papers' main results, theory against simulation, in one report folder.

:func:`run` computes four sections and writes a folder (default ``lindiff-report/``) with a
``README.md`` summary (Markdown tables of the key numbers, every figure, the settings and the
command, the lindiff version and build, the wall time of each section), the figures as PNG and
the underlying data as netCDF (``engine="scipy"``, no netCDF4 needed) and CSV:

1. ``losses``: per-dimension test and train loss of the minimiser vs N/d (t-averaged and at
   t in {1, 100, 500}) for power laws k in {0, 1, 2} and ridge c in {0, 1e-4, 1e-2}: the
   deterministic equivalent (:func:`lindiff.theory.static_losses`) as curves, exact ensembles over
   seeded training sets (:func:`lindiff.simulate.ensemble`) as points with standard errors;
2. ``gradflow``: the t-averaged test loss vs eta*tau (:func:`lindiff.theory.gradflow_losses`) and
   the optimal stopping time eta*tau* vs k (:func:`lindiff.theory.optimal_stopping`) at
   N/d in {0.2, 0.4, 0.6, 0.8}, d = 1000; the gradient-flow theory is validated against exact
   gradient-flow ensembles at a small d;
3. ``kl``: the KL per dimension of the DDPM sampler vs d/N (:func:`lindiff.theory.kl` with the
   finite-d correction) and of a sampler that reproduces N(0, C) exactly, with the d/(4N) law
   (:func:`lindiff.theory.kl_law`) and the exact Wishart value (:func:`lindiff.theory.kl_wishart`),
   for power laws and the shipped real-data spectra (:func:`lindiff.spectra.load`);
4. ``memorization``: P(Delta > 0) vs N/d with the individual distance on the same axes
   (:func:`lindiff.memorization.transition`, :func:`lindiff.memorization.plot_transition`) for
   d in {8, 32}, for Halder's one-step model and the Merger & Goldt linear model.

Sections 1-3 compare theory and simulation with :func:`lindiff.validate` and report the verdict:
a cell passes on its z-score only, and each check is one 3-sigma test (``familywise=True``: its n
cells share the Šidák threshold, so a correct theory fails a check with probability 0.27 %). The deterministic equivalent is exact only as d -> inf, so the
power-law checks run at several d with the same N/d (``fit_dims``) and test the deviation that is
left at d = inf after fitting its finite-size bias ``a/d + b/d^2``; the report shows, per check,
z, the bias coefficients and that extrapolated deviation. Checks against a theory that is exact at
finite d (the Wishart expectation of the N(0, C) sampler), or for a real-data spectrum (one d, no
family), are one-d z-tests. The extra data are written as ``losses_finite_size``,
``kl_finite_size`` and the ``d`` dimension of ``gradflow_validation``. Grids, seeds and draw
counts are fixed (:func:`settings`), so a report is reproducible; the grids are evaluated with
:func:`lindiff.sweep` (and the transition's own executor argument), so the work runs serially, on
a local process pool or on dask. ``quick=True`` uses small d, few draws and coarse grids (about 1
minute on 2 cores; the README says which).

Examples
--------
>>> from lindiff import reproduce
>>> s = reproduce.settings(quick=True)
>>> sorted(s)
['gradflow', 'kl', 'losses', 'memorization']
>>> s["losses"]["k"], s["losses"]["c"]
([0.0, 1.0, 2.0], [0.0, 0.0001, 0.01])
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import __version__, build_info
from ._labelled import netcdf_safe
from ._lazy import lazy_module
from ._progress import progress_bar
from ._validation import choice, flag, positive_int
from .sweep import named_executor

xr = lazy_module("xarray")

__all__ = ["EXECUTORS", "SECTIONS", "run", "settings"]

EXECUTORS = ("serial", "process", "dask")
SECTIONS = ("losses", "gradflow", "kl", "memorization")
T_SELECTED = [1, 100, 500]
_STOPPING_RATIOS = [0.2, 0.4, 0.6, 0.8]


def settings(quick: bool = False) -> dict[str, dict[str, Any]]:
    """Every grid, size, draw count and seed of the report (``quick``: the small CI version).

    Returns
    -------
    dict
        One dict per section (``losses``, ``gradflow``, ``kl``, ``memorization``); they are written
        into the report's README.

    Examples
    --------
    >>> from lindiff.reproduce import settings
    >>> settings(quick=True)["gradflow"]["d"], settings()["memorization"]["dims"]
    (1000, [8, 32])
    """
    flag("quick", quick)
    if quick:
        return {
            "losses": dict(d=40, k=[0.0, 1.0, 2.0], c=[0.0, 1e-4, 1e-2], ratios_sim=[0.25, 0.5, 0.75, 2.0, 4.0],
                           theory_points=24, t=T_SELECTED, draws=12, fit_dims=[20, 40, 80], seed=1),
            "gradflow": dict(d=1000, N_over_d=_STOPPING_RATIOS, k=[0.0, 0.5, 1.0, 1.5, 2.0], k_curves=[1.0],
                             eta_tau_points=25, eta_tau_range=[1e-2, 1e5], d_sim=40, k_sim=[1.0], draws=12,
                             fit_dims=[20, 40, 80], seed=2),
            "kl": dict(d_powerlaw=40, k=[0.0, 1.0, 2.0], real=["digits", "fashion_mnist", "mnist"],
                       d_over_N=[0.05, 0.1, 0.2, 0.4, 0.6], sim_max_d=80, draws=40, fit_dims=[20, 40, 80], seed=3),
            "memorization": dict(dims=[8, 32], ratios=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0], repeats=12,
                                 reference_size=1000, n_bootstrap=200, seed=4),
        }
    return {
        "losses": dict(d=200, k=[0.0, 1.0, 2.0], c=[0.0, 1e-4, 1e-2],
                       ratios_sim=[0.2, 0.4, 0.6, 0.8, 1.5, 2.0, 4.0, 8.0], theory_points=60, t=T_SELECTED,
                       draws=40, fit_dims=[50, 100, 200], seed=1),
        "gradflow": dict(d=1000, N_over_d=_STOPPING_RATIOS, k=[0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
                         k_curves=[0.0, 1.0, 2.0], eta_tau_points=50, eta_tau_range=[1e-2, 1e5], d_sim=200,
                         k_sim=[0.0, 1.0, 2.0], draws=40, fit_dims=[50, 100, 200], seed=2),
        "kl": dict(d_powerlaw=200, k=[0.0, 1.0, 2.0], real=["digits", "fashion_mnist", "mnist"],
                   d_over_N=[0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8], sim_max_d=200, draws=40,
                   fit_dims=[50, 100, 200], seed=3),
        "memorization": dict(dims=[8, 32], ratios=[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0], repeats=100,
                             reference_size=10_000, n_bootstrap=1000, seed=4),
    }


# ------------------------------------------------------------------------- grid points (picklable)

def _identity(s: np.ndarray) -> np.ndarray:
    """gamma(s) = s: a sampler that reproduces N(0, C) exactly (the d/(4N) law)."""
    return s


def _losses_point(k: float, d: int, N_theory: list[float], N_sim: list[int], c: list[float], t: list[int],
                  draws: int, seed: np.random.SeedSequence) -> xr.Dataset:
    """Section 1 at one k: DE losses on a dense N grid, ensembles at the simulated N (all t)."""
    from .simulate import ensemble
    from .spectrum import Spectrum
    from .theory import static_losses

    spec = Spectrum.powerlaw(d, k)
    th = static_losses(spec, N_theory, c)
    sim = ensemble(spec, N_sim, c, draws=draws, seed=seed)
    out = xr.Dataset({
        "test": th.test.sel(t=t), "train": th.train.sel(t=t),
        "test_avg": th.test.mean("t"), "train_avg": th.train.mean("t"),
    }).rename(N="N_theory")
    sim_vars = {"sim_test": sim.test.sel(t=t), "sim_train": sim.train.sel(t=t),
                "sim_test_avg": sim.test.mean("t"), "sim_train_avg": sim.train.mean("t")}
    out = out.merge(xr.Dataset(sim_vars).rename(N="N_sim"), compat="override")
    return out.drop_vars([v for v in out.coords if v not in ("N_theory", "N_sim", "c", "t", "draw")])


def _gradflow_point(k: float, d: int, N: list[float], eta_tau: list[float], t: list[int]) -> xr.Dataset:
    """Section 2: DE gradient-flow losses at d (t-averaged and at the selected t)."""
    from .spectrum import Spectrum
    from .theory import gradflow_losses

    gf = gradflow_losses(Spectrum.powerlaw(d, k), N, eta_tau)
    return xr.Dataset({"test": gf.test.sel(t=t), "train": gf.train.sel(t=t),
                       "test_avg": gf.test.mean("t"), "train_avg": gf.train.mean("t")})


def _stopping_point(k: float, d: int, N: list[float]) -> xr.Dataset:
    """Section 2: the t-averaged optimal stopping time at d (the default search range 1e-3..1e7)."""
    from .spectrum import Spectrum
    from .theory import optimal_stopping

    st = optimal_stopping(Spectrum.powerlaw(d, k), N)
    return st[["eta_tau", "test_min", "train_at_min", "test_inf"]]


def _fit_draws(draws: int, d_main: int, d: int) -> int:
    """Draws at a dimension d of a finite-size fit: the main run's ``draws`` at d >= d_main and
    ``draws (d_main / d)^2`` below, so that every d has about the same standard error."""
    return int(draws) * max(1, round((d_main / d) ** 2))


def _sample_sizes(ratios: Sequence[float], d: int) -> list[int]:
    N = [r * d for r in ratios]
    if any(abs(n - round(n)) > 1e-9 * n for n in N):
        raise ValueError(f"N/d = {list(ratios)} does not give whole sample sizes at d = {d}: change fit_dims")
    return [int(round(n)) for n in N]


def _by_ratio(ds: xr.Dataset, d: int, dim: str = "N") -> xr.Dataset:
    """Label the sample-size dimension by N/d (the cells a fit over d compares)."""
    return ds.assign_coords({dim: np.asarray(ds[dim].values, dtype=float) / d}).rename({dim: "N_over_d"})


def _summary(sim: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """``<v>_mean``, ``<v>_sem`` over draws of the per-draw variables ``names``."""
    from .simulate import summarize

    return summarize(sim[list(names)])[[f"{v}_{k}" for v in names for k in ("mean", "sem")]]


def _losses_fit_point(k: float, d: int, d_main: int, ratios: list[float], c: list[float], t: list[int], draws: int,
                      seed: np.random.SeedSequence) -> xr.Dataset:
    """Section 1's finite-size fit at one extra d: DE losses and ensemble summaries (t-averaged and at t)."""
    from .simulate import ensemble
    from .spectrum import Spectrum
    from .theory import static_losses

    spec = Spectrum.powerlaw(d, k)
    N = _sample_sizes(ratios, d)
    n = _fit_draws(draws, d_main, d)
    th = static_losses(spec, [float(x) for x in N], c)
    parts = []
    for one in N:                       # one N at a time: draws x c x all t per variable stays small
        sim = ensemble(spec, [one], c, draws=n, seed=seed)
        red = xr.Dataset({"test": sim.test.sel(t=t), "train": sim.train.sel(t=t),
                          "test_avg": sim.test.mean("t"), "train_avg": sim.train.mean("t")})
        parts.append(_summary(red, ["test", "train", "test_avg", "train_avg"]))
    sims = xr.concat(parts, "N")
    sims = sims.rename({v: f"sim_{v}" for v in sims.data_vars})
    out = xr.Dataset({"th_test": th.test.sel(t=t), "th_train": th.train.sel(t=t), "th_test_avg": th.test.mean("t"),
                      "th_train_avg": th.train.mean("t")}).assign_coords(N=sims.N.values).merge(sims)
    out = _by_ratio(out, d)
    out["draws"] = n
    return out.drop_vars([v for v in out.coords if v not in ("N_over_d", "c", "t")])


def _gradflow_sim_point(k: float, d: int, d_main: int, ratios: list[float], eta_tau: list[float], t: list[int],
                        draws: int, seed: np.random.SeedSequence) -> xr.Dataset:
    """Section 2's validation at one d of the fit: DE gradient flow and exact gradient-flow ensembles."""
    from .simulate import ensemble
    from .spectrum import Spectrum
    from .theory import gradflow_losses

    spec = Spectrum.powerlaw(d, k)
    N = _sample_sizes(ratios, d)
    n = _fit_draws(draws, d_main, d)
    th = gradflow_losses(spec, [float(x) for x in N], eta_tau, t=t)
    sim = ensemble(spec, N, eta_tau=eta_tau, t=t, draws=n, seed=seed)
    summary = _summary(sim, ["test", "train"])
    out = xr.Dataset({"test": th.test, "train": th.train}).assign_coords(N=sim.N.values).merge(
        summary.rename({v: f"sim_{v}" for v in summary.data_vars}), compat="override")
    out = _by_ratio(out, d)
    out["draws"] = n
    return out.drop_vars([v for v in out.coords if v not in ("N_over_d", "eta_tau", "t")])


def _spectrum(name: str, d_powerlaw: int) -> Any:
    from . import spectra
    from .spectrum import Spectrum

    if name.startswith("powerlaw_k="):
        return Spectrum.powerlaw(d_powerlaw, float(name.split("=", 1)[1]))
    return spectra.load(name)


def _kl_sample_sizes(d: int, d_over_N: list[float]) -> NDArray[np.int64]:
    """N = round(d / (d/N)) (at least d + 2: the exact reverse KL needs N > d + 1), largest first."""
    N = np.unique(np.maximum(d + 2, np.round(d / np.asarray(d_over_N)))).astype(np.int64)[::-1]
    if N.size != len(d_over_N):
        raise ValueError(f"d_over_N gives repeated N at d = {d}: use fewer or more distinct ratios")
    return N


def _kl_fit_point(k: float, d: int, d_main: int, d_over_N: list[float], draws: int,
                  seed: np.random.SeedSequence) -> xr.Dataset:
    """Section 3's finite-size fit at one extra d: the plain DE KL (DDPM sampler) and ensemble summaries,
    labelled by the nominal d/N (N is rounded to an integer at each d; theory and simulation share it)."""
    from .simulate import ensemble
    from .spectrum import Spectrum
    from .theory import kl

    spec = Spectrum.powerlaw(d, k)
    N = _kl_sample_sizes(d, d_over_N)
    n = _fit_draws(draws, d_main, d)
    de = kl(spec, N.astype(float))
    sim = _summary(ensemble(spec, N, t=[1], draws=n, seed=seed), ["kl_fwd", "kl_rev"])
    out = xr.Dataset({"th_kl_fwd": ("ratio", de.kl_fwd.values), "th_kl_rev": ("ratio", de.kl_rev.values),
                      **{f"sim_{v}": ("ratio", sim[v].values) for v in sim.data_vars}, "N": ("ratio", N),
                      "draws": n}, coords={"ratio": np.asarray(d_over_N, dtype=float)})
    return out


def _kl_point(spectrum: str, d_powerlaw: int, d_over_N: list[float], sim_max_d: int, draws: int,
              seed: np.random.SeedSequence) -> xr.Dataset:
    """Section 3 for one spectrum: DE KLs, the laws, and (d <= sim_max_d) exact ensembles."""
    from .simulate import ensemble
    from .theory import kl, kl_law, kl_wishart

    spec = _spectrum(spectrum, d_powerlaw)
    d = int(spec.d)
    N = _kl_sample_sizes(d, d_over_N)
    ddpm = kl(spec, N.astype(float), finite_d=True)
    de = kl(spec, N.astype(float))
    emp = kl(spec, N.astype(float), gamma=_identity, finite_d=True)
    wf, wr = kl_wishart(d, N)
    law = kl_law(d, N)[0]
    dims = ("ratio",)
    out = {
        "N": (dims, N), "d_over_N": (dims, d / N),
        "kl_fwd": (dims, ddpm.kl_fwd.values), "kl_rev": (dims, ddpm.kl_rev.values),
        "kl_fwd_de": (dims, de.kl_fwd.values), "kl_rev_de": (dims, de.kl_rev.values),
        "kl_fwd_empirical": (dims, emp.kl_fwd.values),
        "kl_fwd_wishart": (dims, np.asarray(wf, dtype=float)), "kl_rev_wishart": (dims, np.asarray(wr, dtype=float)),
        "kl_law": (dims, np.asarray(law, dtype=float)),
    }
    per_draw = {v: np.full((draws, N.size), np.nan) for v in ("sim_kl_fwd", "sim_kl_rev", "sim_kl_fwd_empirical",
                                                                "sim_kl_rev_empirical")}
    if d <= sim_max_d:
        sim = ensemble(spec, N, t=[1], draws=draws, seed=seed)
        sim_e = ensemble(spec, N, t=[1], draws=draws, seed=seed, gamma=_identity)
        per_draw = {"sim_kl_fwd": sim.kl_fwd.values, "sim_kl_rev": sim.kl_rev.values,
                    "sim_kl_fwd_empirical": sim_e.kl_fwd.values, "sim_kl_rev_empirical": sim_e.kl_rev.values}
    out.update({v: (("draw",) + dims, x) for v, x in per_draw.items()})
    return xr.Dataset(out, coords={"ratio": np.asarray(d_over_N, dtype=float), "draw": np.arange(draws)},
                      attrs={"d": d})


# ------------------------------------------------------------------------------------ the sections

def _sweep(fn: Callable[..., Any], grid: dict[str, Any], fixed: dict[str, Any], executor: cf.Executor | None,
           workers: int | None, progress: bool, seed: int | None) -> xr.Dataset:
    from .sweep import sweep

    label = f"lindiff reproduce: {fn.__name__.strip('_').replace('_', ' ')}" if progress else False
    return sweep(fn, grid, fixed=fixed, executor=executor if executor is not None else "serial",
                 workers=workers if executor is not None else None, progress=label, seed=seed, chunk=1)


def _with_summary(ds: xr.Dataset) -> xr.Dataset:
    """Add ``<v>_mean`` and ``<v>_sem`` over draws (:func:`lindiff.simulate.summarize`) of every per-draw variable."""
    from .simulate import summarize

    per_draw = [v for v in ds.data_vars if "draw" in ds[v].dims]
    return ds.merge(summarize(ds[per_draw]), combine_attrs="override") if per_draw else ds


def _validate(theory: Any, sim: Any, **kw: Any) -> Any:
    """Each check is one 3-sigma test: its cells share the Šidák threshold (``familywise=True``)."""
    from .validate import validate

    return validate(theory, sim, familywise=True, **kw)


def _extra_dims(s: dict[str, Any], d: int) -> list[int]:
    """The dimensions of the finite-size fit besides the main one (which must be among them)."""
    dims = [int(x) for x in s["fit_dims"]]
    if d not in dims or len(set(dims)) < 3:
        raise ValueError(f"fit_dims must hold the main d = {d} and at least three distinct dimensions "
                         f"(got {s['fit_dims']})")
    return [x for x in dims if x != d]


def _fitted(fit: xr.Dataset, k: float, d: int, theory: dict[str, str], sim: dict[str, str]
            ) -> tuple[xr.Dataset, xr.Dataset]:
    """One d of a fit sweep as (theory, simulation summary) for lindiff.validate; names map variable -> source."""
    one = fit.sel(k=k, d=d, drop=True)
    th = xr.Dataset({v: one[src] for v, src in theory.items()})
    sm = xr.Dataset({f"{v}_{x}": one[f"{src}_{x}"] for v, src in sim.items() for x in ("mean", "sem")},
                    attrs={"n": int(one["draws"])})
    return th, sm


def _section_losses(s: dict[str, Any], executor: cf.Executor | None, workers: int | None,
                    progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    N_sim = sorted({int(round(r * d)) for r in s["ratios_sim"]})
    dense = np.geomspace(0.1 * d, 10.0 * d, int(s["theory_points"]))
    N_theory = sorted(set(np.round(dense, 6).tolist()) | {float(n) for n in N_sim})
    ds = _sweep(_losses_point, {"k": s["k"]},
                dict(d=d, N_theory=N_theory, N_sim=N_sim, c=s["c"], t=s["t"], draws=int(s["draws"])),
                executor, workers, progress, s["seed"])
    ds = _with_summary(ds)
    ds.attrs.update(d=d, draws=int(s["draws"]), seed=int(s["seed"]))
    extra = _extra_dims(s, d)
    ratios = [n / d for n in N_sim]
    fit = _sweep(_losses_fit_point, {"k": s["k"], "d": extra},
                 dict(d_main=d, ratios=ratios, c=s["c"], t=s["t"], draws=int(s["draws"])),
                 executor, workers, progress, s["seed"])
    fit.attrs.update(d_main=d, draws_main=int(s["draws"]), seed=int(s["seed"]))
    checks = []
    for k in s["k"]:
        one = ds.sel(k=k)
        for tag, suf in (("t-averaged", "_avg"), ("t in {1, 100, 500}", "")):
            th = xr.Dataset({"test": one[f"test{suf}"], "train": one[f"train{suf}"]}).sel(
                N_theory=[float(n) for n in N_sim]).rename(N_theory="N")
            sim = xr.Dataset({"test": one[f"sim_test{suf}"], "train": one[f"sim_train{suf}"]}).rename(N_sim="N")
            ths, sims = {d: _by_ratio(th.assign_coords(N=sim.N.values), d)}, {d: _by_ratio(sim, d)}
            for dd in extra:
                ths[dd], sims[dd] = _fitted(fit, k, dd, {v: f"th_{v}{suf}" for v in ("test", "train")},
                                            {v: f"sim_{v}{suf}" for v in ("test", "train")})
            checks.append((f"k = {k:g}, {tag}", _validate(ths, sims)))
    return {"data": {"losses": ds, "losses_finite_size": fit}, "checks": checks}


def _section_gradflow(s: dict[str, Any], executor: cf.Executor | None, workers: int | None,
                      progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    N = [float(round(r * d)) for r in s["N_over_d"]]
    et = np.append(np.geomspace(*s["eta_tau_range"], int(s["eta_tau_points"])), np.inf).tolist()
    curves = _sweep(_gradflow_point, {"k": s["k_curves"]}, dict(d=d, N=N, eta_tau=et, t=T_SELECTED),
                    executor, workers, progress, None)
    stop = _sweep(_stopping_point, {"k": s["k"]}, dict(d=d, N=N),
                  executor, workers, progress, None)
    d_sim = int(s["d_sim"])
    _extra_dims(s, d_sim)
    et_sim = np.geomspace(1e-1, 1e4, 6).tolist()
    val = _sweep(_gradflow_sim_point, {"k": s["k_sim"], "d": [int(x) for x in s["fit_dims"]]},
                 dict(d_main=d_sim, ratios=s["N_over_d"], eta_tau=et_sim, t=T_SELECTED, draws=int(s["draws"])),
                 executor, workers, progress, s["seed"])
    for x in (curves, stop, val):
        x.attrs.update(d=d, d_sim=d_sim, seed=int(s["seed"]), draws=int(s["draws"]))
    checks = []
    for k in s["k_sim"]:
        ths, sims = {}, {}
        for dd in val.d.values.tolist():
            ths[dd], sims[dd] = _fitted(val, k, dd, {"test": "test", "train": "train"},
                                        {"test": "sim_test", "train": "sim_train"})
        checks.append((f"k = {k:g}, gradient flow", _validate(ths, sims)))
    return {"data": {"gradflow_curves": curves, "optimal_stopping": stop, "gradflow_validation": val},
            "checks": checks}


def _section_kl(s: dict[str, Any], executor: cf.Executor | None, workers: int | None,
                progress: bool) -> dict[str, Any]:
    names = [f"powerlaw_k={k:g}" for k in s["k"]] + list(s["real"])
    d_pl = int(s["d_powerlaw"])
    ds = _sweep(_kl_point, {"spectrum": names},
                dict(d_powerlaw=d_pl, d_over_N=s["d_over_N"], sim_max_d=int(s["sim_max_d"]),
                     draws=int(s["draws"])), executor, workers, progress, s["seed"])
    ds = _with_summary(ds)
    ds["d"] = ("spectrum", np.array([int(_spectrum(n, d_pl).d) for n in names]))
    ds.attrs.update(seed=int(s["seed"]), draws=int(s["draws"]))
    extra = _extra_dims(s, d_pl)
    fit = _sweep(_kl_fit_point, {"k": s["k"], "d": extra},
                 dict(d_main=d_pl, d_over_N=s["d_over_N"], draws=int(s["draws"])), executor, workers, progress,
                 s["seed"])
    fit.attrs.update(d_main=d_pl, draws_main=int(s["draws"]), seed=int(s["seed"]))
    checks = []
    for name in names:
        one = ds.sel(spectrum=name)
        if not np.all(np.isfinite(one.sim_kl_fwd.values)):
            continue
        dd = int(one.d)
        sim = xr.Dataset({"kl_fwd": one.sim_kl_fwd, "kl_rev": one.sim_kl_rev})
        if name.startswith("powerlaw_k="):
            k = float(name.split("=", 1)[1])
            ths = {dd: xr.Dataset({"kl_fwd": one.kl_fwd_de, "kl_rev": one.kl_rev_de})}
            sims = {dd: sim}
            for x in extra:
                ths[x], sims[x] = _fitted(fit, k, x, {v: f"th_{v}" for v in ("kl_fwd", "kl_rev")},
                                          {v: f"sim_{v}" for v in ("kl_fwd", "kl_rev")})
            checks.append((f"{name}, DDPM sampler, DE", _validate(ths, sims)))
        else:   # one d, no spectrum family to extrapolate in: the DE with its finite-d correction, z only
            th = xr.Dataset({"kl_fwd": one.kl_fwd}, attrs={"d": float(dd)})
            checks.append((f"{name} (d = {dd}), DDPM sampler, DE + finite-d correction",
                           _validate(th, sim[["kl_fwd"]])))
        exact = xr.Dataset({"kl_fwd": one.kl_fwd_wishart, "kl_rev": one.kl_rev_wishart}, attrs={"d": float(dd)})
        emp = xr.Dataset({"kl_fwd": one.sim_kl_fwd_empirical, "kl_rev": one.sim_kl_rev_empirical})
        checks.append((f"{name} (d = {dd}), N(0, C) sampler, exact Wishart expectation", _validate(exact, emp)))
    return {"data": {"kl": ds, "kl_finite_size": fit}, "checks": checks}


def _by_N(one: xr.Dataset, var: str) -> xr.DataArray:
    """``one[var]`` (one spectrum of section 3) with the sample size N as its dimension instead of d/N."""
    return one[var].assign_coords(N=("ratio", one.N.values)).swap_dims(ratio="N").drop_vars("ratio")


def _section_memorization(s: dict[str, Any], executor: cf.Executor | None, workers: int | None,
                          progress: bool) -> dict[str, Any]:
    from .memorization import LinearDiffusionModel, OneStepModel, transition
    from .spectrum import Spectrum

    out: dict[str, xr.Dataset] = {}
    jobs = []
    for d in s["dims"]:
        N_values = np.unique(np.maximum(2, np.round(np.asarray(s["ratios"]) * d).astype(int)))
        jobs.append((f"transition_onestep_d{d}", OneStepModel(d, 2).with_N, N_values))
        jobs.append((f"transition_linear_d{d}", LinearDiffusionModel(Spectrum.powerlaw(d, k=1.0), 2).with_N, N_values))
    bar = progress_bar(len(jobs), "lindiff reproduce memorization: transition scans", progress)
    for name, factory, N_values in jobs:
        out[name] = transition(factory, N_values, repeats=int(s["repeats"]), reference_size=int(s["reference_size"]),
                               seed=int(s["seed"]), executor=executor, n_bootstrap=int(s["n_bootstrap"]))
        bar.update(1)
    bar.close()
    return {"data": out, "checks": []}


_RUNNERS = {"losses": _section_losses, "gradflow": _section_gradflow, "kl": _section_kl,
            "memorization": _section_memorization}


# --------------------------------------------------------------------------------------- figures

def _figures_losses(data: dict[str, xr.Dataset], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    from . import plot

    ds = data["losses"]
    d = float(ds.attrs["d"])
    figs = []
    ks, cs = list(ds.k.values), list(ds.c.values)
    fig, axes = plt.subplots(len(ks), len(cs), figsize=(4.0 * len(cs), 3.2 * len(ks)), squeeze=False)
    for i, k in enumerate(ks):
        for j, c in enumerate(cs):
            one = ds.sel(k=k, c=c)
            ax = axes[i, j]
            for var, col in (("test", "C0"), ("train", "C1")):
                th = one[f"{var}_avg"].rename(N_theory="N")
                sim = xr.Dataset({f"{var}": one[f"sim_{var}_avg"].rename(N_sim="N")})
                plot.theory_vs_simulation(th, sim, var, x="N", x_scale=d, ax=ax, label=var, color=col)
            ax.set_title(f"k = {k:g}, c = {c:g}", fontsize="medium")
            ax.set_xlabel("N / d")
            ax.set_ylabel("loss / d (t-averaged)")
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize="x-small")
    fig.suptitle(f"t-averaged test and train loss vs N/d (d = {d:g}): theory lines, simulation points ± s.e.")
    fig.tight_layout()
    figs.append(_save(fig, out, "losses_t_averaged.png", "t-averaged test and train loss vs N/d"))
    ts = list(ds.t.values)
    for var in ("test", "train"):
        fig, axes = plt.subplots(len(ks), len(ts), figsize=(4.0 * len(ts), 3.2 * len(ks)), squeeze=False)
        for i, k in enumerate(ks):
            for j, t in enumerate(ts):
                one = ds.sel(k=k, t=t)
                ax = axes[i, j]
                th = one[var].rename(N_theory="N")
                sim = xr.Dataset({var: one[f"sim_{var}"].rename(N_sim="N")})
                plot.theory_vs_simulation(th, sim, var, x="N", hue="c", x_scale=d, ax=ax, logy=True)
                ax.set_title(f"k = {k:g}, t = {t}", fontsize="medium")
                ax.set_xlabel("N / d")
        axes[0, 0].legend(fontsize="xx-small")
        fig.suptitle(f"{var} loss per dimension vs N/d at t = 1, 100, 500 (d = {d:g}), one colour per c")
        fig.tight_layout()
        figs.append(_save(fig, out, f"losses_{var}_per_t.png", f"{var} loss vs N/d at t in {{1, 100, 500}}"))
    return figs


def _figures_gradflow(data: dict[str, xr.Dataset], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    from . import plot

    curves, stop, val = data["gradflow_curves"], data["optimal_stopping"], data["gradflow_validation"]
    d = float(curves.attrs["d"])
    figs = []
    kc = list(curves.k.values)
    fig, axes = plt.subplots(1, len(kc), figsize=(4.6 * len(kc), 3.6), squeeze=False)
    for j, k in enumerate(kc):
        gf = xr.Dataset({"test": curves.test_avg.sel(k=k)})
        st = stop.sel(k=k) if k in stop.k.values else None
        plot.loss_curves(gf, "test", hue="N", stopping=st, ax=axes[0, j])
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(f"d = {d:g}, k = {k:g} (★ eta*tau*, dotted tau = inf)", fontsize="medium")
        axes[0, j].legend(fontsize="x-small")
    fig.tight_layout()
    figs.append(_save(fig, out, "gradflow_test_vs_eta_tau.png", "t-averaged test loss vs eta*tau (gradient flow)"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    plot.theory_vs_simulation(stop, None, "eta_tau", x="k", hue="N", ax=axes[0], logx=False, logy=True)
    axes[0].set_ylabel("η τ* (t-averaged test loss)")
    axes[0].legend(fontsize="x-small")
    plot.theory_vs_simulation(stop, None, "test_min", x="k", hue="N", ax=axes[1], logx=False)
    axes[1].set_ylabel("test loss at η τ*")
    fig.suptitle(f"optimal stopping vs k, d = {d:g}")
    fig.tight_layout()
    figs.append(_save(fig, out, "optimal_stopping_vs_k.png", "optimal stopping time eta*tau* vs k"))
    ksim = list(val.k.values)
    fig, axes = plt.subplots(1, len(ksim), figsize=(4.6 * len(ksim), 3.6), squeeze=False)
    for j, k in enumerate(ksim):
        one = val.sel(k=k, t=100, d=val.attrs["d_sim"])
        sim = xr.Dataset({"test_mean": one.sim_test_mean, "test_sem": one.sim_test_sem})
        plot.theory_vs_simulation(one.test, sim, "test", x="eta_tau", hue="N_over_d", ax=axes[0, j])
        axes[0, j].set_title(f"d = {val.attrs['d_sim']}, k = {k:g}, t = 100", fontsize="medium")
        axes[0, j].legend(fontsize="xx-small")
    fig.tight_layout()
    figs.append(_save(fig, out, "gradflow_validation.png", "gradient-flow theory vs exact ensembles (small d)"))
    return figs


def _figures_kl(data: dict[str, xr.Dataset], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    from . import plot

    ds = data["kl"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, name in enumerate(ds.spectrum.values):
        one = ds.sel(spectrum=name)
        dd = int(one.d)
        col = f"C{i}"
        for ax, tv, sv in ((axes[0], "kl_fwd", "sim_kl_fwd"), (axes[1], "kl_fwd_empirical", "sim_kl_fwd_empirical")):
            th = xr.Dataset({"kl_fwd": _by_N(one, tv)}, attrs={"d": float(dd)})
            sim = None
            if np.all(np.isfinite(one[sv].values)):
                from .simulate import summarize
                sim = summarize(xr.Dataset({"kl_fwd": _by_N(one, sv)}))
            plot.kl_vs_ratio(th, simulation=sim, ax=ax, label=f"{name} (d = {dd})", color=col,
                             wishart=(tv == "kl_fwd_empirical"))
    axes[0].set_title("DDPM sampler (DE + finite-d correction)", fontsize="medium")
    axes[1].set_title("sampler reproducing N(0, C): DE, exact Wishart", fontsize="medium")
    for ax in axes:
        ax.legend(fontsize="xx-small")
    fig.tight_layout()
    return [_save(fig, out, "kl_vs_d_over_N.png", "KL per dimension vs d/N")]


def _figures_memorization(data: dict[str, xr.Dataset], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    from . import plot

    figs = []
    for name, ds in data.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        plot.transition(ds, ax=ax)
        ax.set_title(f"{'one-step (Halder)' if 'onestep' in name else 'linear (Merger-Goldt, k = 1)'}: "
                     + ax.get_title(), fontsize="medium")
        fig.tight_layout()
        figs.append(_save(fig, out, f"{name}.png", name.replace("_", " ")))
    return figs


_FIGURES = {"losses": _figures_losses, "gradflow": _figures_gradflow, "kl": _figures_kl,
            "memorization": _figures_memorization}


def _figure_fits(sec: str, checks: list[tuple[str, Any]], out: Path) -> list[tuple[str, str]]:
    """One panel per finite-size check: the deviation against 1/d of its cells with the largest |z|
    (:func:`lindiff.plot.deviation_vs_d`); none when the section has no such check."""
    import matplotlib.pyplot as plt

    from . import plot

    fits = [(label, v) for label, v in checks if v.dims]
    if not fits:
        return []
    cols = min(3, len(fits))
    rows = -(-len(fits) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.8 * rows), squeeze=False)
    for ax, (label, v) in zip(axes.ravel(), fits):
        plot.deviation_vs_d(v, v.worst["variable"], cells=3, ax=ax)
        ax.set_title(f"{label}: {v.worst['variable']} ({'passed' if v.passed else 'FAILED'})", fontsize="small")
    for ax in axes.ravel()[len(fits):]:
        ax.set_visible(False)
    fig.suptitle("(simulation - theory) / |theory| against 1/d: points ± s.e., fit intercept + a/d + b/d², "
                 "◇ the deviation extrapolated to d = ∞", fontsize="medium")
    fig.tight_layout()
    return [_save(fig, out, f"{sec}_finite_size.png", "finite-size fits: deviation against 1/d, the 3 cells with "
                  "the largest |z| per check")]


def _save(fig: Any, out: Path, name: str, caption: str) -> tuple[str, str]:
    import matplotlib.pyplot as plt

    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name, caption


# ------------------------------------------------------------------------------------ data files

def _write_data(name: str, ds: xr.Dataset, out: Path) -> list[str]:
    """``name.nc`` (everything, per-draw values included) and CSV files of the summary variables
    (those without a draw / repeat dimension; one file per set of dimensions)."""
    files = [f"{name}.nc"]
    netcdf_safe(ds).to_netcdf(out / files[0], engine="scipy")
    groups: dict[tuple[str, ...], list[str]] = {}
    for v, da in ds.data_vars.items():
        if "draw" in da.dims or "repeat" in da.dims or not np.issubdtype(da.dtype, np.number):
            continue
        groups.setdefault(tuple(map(str, da.dims)), []).append(str(v))
    for dims, names in groups.items():
        fname = f"{name}.csv" if len(groups) == 1 else f"{name}__{'_'.join(dims) or 'scalar'}.csv"
        sub = ds[names].drop_vars([c for c in ds[names].coords if c not in dims])
        if dims:
            sub.to_dataframe().reset_index().to_csv(out / fname, index=False)
        else:
            import pandas as pd
            pd.DataFrame({k: [float(sub[k])] for k in names}).to_csv(out / fname, index=False)
        files.append(fname)
    return files


# ----------------------------------------------------------------------------------------- README

def _g(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if math.isfinite(x) else ("inf" if x == math.inf else str(x))


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _coords_text(coords: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_g(float(x)) if isinstance(x, (int, float, np.number)) else x}" for k, x in coords.items())


def _check_line(label: str, v: Any) -> str:
    """One row of a section's validation table: verdict, method, cells, draws and the largest-|z| cell
    (with a fit over d: its z, bias coefficients and the deviation extrapolated to d = inf)."""
    parts = []
    for var in v.variables:
        ok = v.table[f"{var}_pass"]
        z = np.abs(v.table[f"{var}_z"].values)
        parts.append(f"{var}: {int(ok.sum())}/{ok.size} cells, max abs z {np.nanmax(z):.2f}")
    w = v.worst
    where = f"{w['variable']} at {_coords_text(w['coords'])}"
    if v.dims:
        method = f"fit over d = {', '.join(map(str, v.dims))}"
        draws = "/".join(str(n) for n in v.table.attrs["draws"])
        b = f", b = {_g(w['b'], 3)}" if "b" in w else ""
        dev = ", ".join(f"{_g(x, 3)}" for x in w["dev"].values())
        cell = (f"{where}: z = {w['z']:.2f}; sim - theory at d = ∞: {_g(w['intercept'], 3)} ± "
                f"{_g(w['intercept_sem'], 2)} (rel {w['rel']:+.2%}); bias a = {_g(w['a'], 3)}{b} "
                f"(sim - theory at d = {', '.join(map(str, v.dims))}: {dev})")
    else:
        method, draws = "one d", str(v.draws)
        cell = (f"{where}: z = {w['z']:.2f}; theory {_g(w['theory'])}, simulation {_g(w['mean'])} ± "
                f"{_g(w['sem'], 2)} (rel {w['rel']:+.2%})")
    return f"| {label} | {'PASS' if v.passed else 'FAIL'} | {method} | {'; '.join(parts)} | {draws} | {cell} |"


def _tables_losses(data: dict[str, xr.Dataset]) -> str:
    ds = data["losses"]
    d = float(ds.attrs["d"])
    from .simulate import summarize
    N_sim = ds.N_sim.values
    head = ["k", "c", "quantity"] + [f"N/d = {n / d:g}" for n in N_sim]
    rows = []
    for k in ds.k.values:
        for c in ds.c.values:
            one = ds.sel(k=k, c=c)
            for var in ("test", "train"):
                sm = summarize(xr.Dataset({"x": one[f"sim_{var}_avg"]}))
                cells = []
                for n in N_sim:
                    th = float(one[f"{var}_avg"].sel(N_theory=float(n)))
                    m, e = float(sm.x_mean.sel(N_sim=n)), float(sm.x_sem.sel(N_sim=n))
                    cells.append(f"{_g(th)} / {_g(m)} ± {_g(e, 2)}")
                rows.append([f"{k:g}", f"{c:g}", var] + cells)
    return ("t-averaged loss per dimension, theory / simulation mean ± s.e. "
            f"(d = {d:g}, {ds.attrs['draws']} draws):\n\n" + _md_table(head, rows))


def _tables_gradflow(data: dict[str, xr.Dataset]) -> str:
    st = data["optimal_stopping"]
    d = float(st.attrs["d"])
    head = ["k"] + [f"N/d = {n / d:g}: η τ* (test at τ*, at τ = ∞)" for n in st.N.values]
    rows = []
    for k in st.k.values:
        one = st.sel(k=k)
        rows.append([f"{k:g}"] + [f"{_g(float(one.eta_tau.sel(N=n)))} ({_g(float(one.test_min.sel(N=n)))}, "
                                  f"{_g(float(one.test_inf.sel(N=n)))})" for n in st.N.values])
    return (f"Optimal stopping time of gradient flow for the t-averaged test loss, d = {d:g}:\n\n"
            + _md_table(head, rows))


def _tables_kl(data: dict[str, xr.Dataset]) -> str:
    from .simulate import summarize
    ds = data["kl"]
    head = ["spectrum", "d", "d/N", "N", "KL_fwd DDPM (DE + finite d)", "simulation", "KL_fwd N(0,C) (DE + finite d)",
            "simulation", "exact Wishart", "d/(4N)"]
    rows = []
    for name in ds.spectrum.values:
        one = ds.sel(spectrum=name)
        has_sim = bool(np.all(np.isfinite(one.sim_kl_fwd.values)))
        s1 = summarize(xr.Dataset({"a": one.sim_kl_fwd, "b": one.sim_kl_fwd_empirical})) if has_sim else None
        for r in one.ratio.values:
            p = one.sel(ratio=r)

            def sim(v: str) -> str:
                if s1 is None:
                    return "–"
                return f"{_g(float(s1[f'{v}_mean'].sel(ratio=r)))} ± {_g(float(s1[f'{v}_sem'].sel(ratio=r)), 2)}"
            rows.append([str(name), f"{int(one.d)}", f"{float(p.d_over_N):.4g}", f"{int(p.N)}", _g(float(p.kl_fwd)),
                         sim("a"), _g(float(p.kl_fwd_empirical)), sim("b"), _g(float(p.kl_fwd_wishart)),
                         _g(float(p.kl_law))])
    return "KL(gen ‖ data) per dimension:\n\n" + _md_table(head, rows)


def _tables_memorization(data: dict[str, xr.Dataset]) -> str:
    rows = []
    ratios: list[float] = []
    for ds in data.values():
        ratios = sorted(set(ratios) | set(np.round(ds.N_over_d.values, 4).tolist()))
    head = ["model", "d"] + [f"N/d = {r:g}" for r in ratios] + ["N_1/2 [95% CI]", "N_c = 1 + d/κ"]
    for name, ds in data.items():
        p = dict(zip(np.round(ds.N_over_d.values, 4).tolist(), ds.p_positive.values.tolist()))
        nc = f"{float(ds.theory_n_c[0]):.1f}" if "theory_n_c" in ds else "–"
        rows.append([name.split("_")[1], str(ds.attrs["d"])] + [f"{p[r]:.2f}" if r in p else "–" for r in ratios]
                    + [f"{_g(ds.attrs['n_half'], 3)} [{_g(ds.attrs['n_half_low'], 3)}, "
                       f"{_g(ds.attrs['n_half_high'], 3)}]", nc])
    any_ds = next(iter(data.values()))
    return (f"P(Δ > 0) over {any_ds.attrs['repeats']} training sets per N (reference M = "
            f"{any_ds.attrs['reference_size']}, L2 distance, Halder bandwidth, seed {any_ds.attrs['seed']}):\n\n"
            + _md_table(head, rows)
            + "\n\nN_1/2 = nan: P(Δ > 0) does not rise through 1/2 inside the grid (e.g. it is >= 1/2 at the "
              "smallest N); the interval is the bootstrap's over the resamples that do cross.")


_VALIDATION_NOTE = (
    "Validation (`lindiff.validate`, `familywise=True`): each check is one 3-sigma test, so a correct theory "
    "fails a check with probability 0.27 %: a cell passes if and only if |z| <= z_n, the Šidák threshold of "
    "the check's n cells ((1 - p_n)^n = 0.9973: 3.59 for 8 cells, 4.02 for 50), nothing else; with |z| <= 3 "
    "per cell a correct theory would fail a 50-cell check 13 % of the time. \"fit over d\": at "
    "each d of fit_dims (same N/d; draws ∝ 1/d² below the main d, so every d has about the same standard error) "
    "the deviation simulation - theory is fitted with intercept + a/d + b/d² (weighted least squares), and z is "
    "the intercept, the deviation left at d = ∞, over its standard error: the deterministic equivalent's own "
    "finite-size bias (a, b) is measured, not forgiven. \"one d\": z = (mean - theory) / s.e. against a theory "
    "that is exact at that d (the Wishart expectation) or that has no spectrum family to extrapolate in.")
_TABLES = {"losses": _tables_losses, "gradflow": _tables_gradflow, "kl": _tables_kl,
           "memorization": _tables_memorization}
_TITLES = {"losses": "1. Test and train loss vs N/d",
           "gradflow": "2. Gradient flow: loss vs η τ and the optimal stopping time",
           "kl": "3. KL per dimension vs d/N",
           "memorization": "4. The memorization transition P(Δ > 0)"}
_NOTES = {
    "losses": "Theory: `lindiff.theory.static_losses` (deterministic equivalent, the minimiser W*). Simulation: "
              "`lindiff.simulate.ensemble` (exact finite-sample losses of seeded training sets). Validation: "
              "`lindiff.validate` over d in fit_dims at the same N/d (finite-size fit, see below).",
    "gradflow": "Curves and η τ*: `lindiff.theory.gradflow_losses`, `lindiff.theory.optimal_stopping` (t-averaged) "
                "at d = 1000. Validation: the same theory against exact gradient-flow ensembles "
                "(`lindiff.simulate.ensemble(eta_tau=...)`) at the small d of fit_dims, t in {1, 100, 500}, "
                "finite-size fit over d.",
    "kl": "DDPM sampler: `lindiff.theory.kl(finite_d=True)` in the figure and table (the default sampler, T = 1000); "
          "the power-law checks compare the plain deterministic equivalent `lindiff.theory.kl` with ensembles at "
          "every d of fit_dims (finite-size fit, N = d / (d/N) rounded at each d); a real-data spectrum has one d and "
          "no family to extrapolate in, so its check is one-d against the finite-d-corrected value. Sampler "
          "reproducing N(0, C): `lindiff.theory.kl(gamma=s, finite_d=True)`, `lindiff.theory.kl_wishart` (the exact "
          "finite-d expectation, which its checks use) and `lindiff.theory.kl_law` (d/(4N)). Simulations "
          "(`lindiff.simulate.ensemble`) only for spectra with d ≤ sim_max_d.",
    "memorization": "`lindiff.memorization.transition` with `OneStepModel(d, 2).with_N` and "
                    "`LinearDiffusionModel(Spectrum.powerlaw(d, 1), 2).with_N`; figure: "
                    "`lindiff.memorization.plot_transition` (P(Δ > 0) with Clopper-Pearson band; median KL/d or "
                    "H² on the right axis). No theory for P(Δ > 0) itself: nothing to validate; N_c = 1 + d/κ is "
                    "the one-step model's analytic scale.",
}


def _readme(results: dict[str, dict[str, Any]], cfg: dict[str, dict[str, Any]], command: str, quick: bool,
            executor: str, workers: int | None, total: float) -> str:
    info = build_info()
    passed = all(v.passed for r in results.values() for _, v in r["checks"])
    lines = [
        "# lindiff reproduce", "",
        f"Generated by lindiff {__version__} ({'QUICK run: small d, few draws, coarse grids' if quick else 'full run'}).",
        "", f"- command: `{command}`",
        f"- executor: {executor}" + (f", {workers} workers" if workers else ""),
        f"- build: {info['build']}; OpenMP: {info['openmp']}; kernel threads: {info['num_threads']}",
        f"- total wall time: {total:.1f} s",
        f"- theory vs simulation: **{'all checks PASS' if passed else 'some checks FAIL'}** "
        f"({sum(v.passed for r in results.values() for _, v in r['checks'])}/"
        f"{sum(len(r['checks']) for r in results.values())} checks pass)", "",
        "| section | wall time (s) | checks passed |", "|---|---|---|",
    ]
    for sec, r in results.items():
        n = len(r["checks"])
        lines.append(f"| {_TITLES[sec]} | {r['seconds']:.1f} | "
                     + (f"{sum(v.passed for _, v in r['checks'])}/{n}" if n else "– (no theory to compare)") + " |")
    for sec, r in results.items():
        lines += ["", f"## {_TITLES[sec]}", "", _NOTES[sec], "",
                  f"Settings: `{cfg[sec]}`; wall time {r['seconds']:.1f} s.", "", r["table"], ""]
        if r["checks"]:
            lines += [_VALIDATION_NOTE, "",
                      "| check | verdict | method | cells | draws | largest-abs-z cell |", "|---|---|---|---|---|---|"]
            lines += [_check_line(label, v) for label, v in r["checks"]]
            lines.append("")
        for fname, caption in r["figures"]:
            lines += [f"![{caption}]({fname})", ""]
        lines += ["Data: " + ", ".join(f"[`{f}`]({f})" for f in r["files"]), ""]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- run

def run(
    out: str | os.PathLike[str] = "lindiff-report",
    *,
    quick: bool = False,
    executor: str = "serial",
    workers: int | None = None,
    progress: bool | None = None,
    sections: Sequence[str] = SECTIONS,
    command: str | None = None,
) -> dict[str, Any]:
    """Compute the report's sections and write the folder ``out``.

    Parameters
    ----------
    out : path
        Report folder (created; existing files of the same names are replaced).
    quick : bool
        Small d, few draws, coarse grids (:func:`settings`; about 1 minute on 2 cores).
    executor : "serial", "process" or "dask"
        Where the grids run: here, on a local process pool (forkserver) or on a local dask cluster
        (``pip install "lindiff[distributed]"``). Results do not depend on it (per-point seeds).
    workers : int, optional
        Pool size (default: the CPU count).
    progress : bool, optional
        Named progress on stderr: tqdm bars on a terminal, one line per step when piped (default:
        only when stderr is a terminal; the command line shows it unless ``--quiet``).
    sections : sequence of str
        A subset of :data:`SECTIONS` (in any order; run in the canonical order).
    command : str, optional
        The command line recorded in the README (default: ``sys.argv``).

    Returns
    -------
    dict
        ``passed`` (every validation passed), ``seconds`` (total), ``sections`` (per section:
        ``seconds``, ``checks`` as (label, :class:`lindiff.Validation`), ``figures``, ``files``),
        ``readme`` (its path).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import tempfile
    >>> from pathlib import Path
    >>> from lindiff import reproduce
    >>> with tempfile.TemporaryDirectory() as tmp:                      # several seconds
    ...     res = reproduce.run(tmp, quick=True, sections=["kl"], progress=False)
    ...     res["passed"], sorted(p.name for p in Path(tmp).glob("*.png")), (Path(tmp) / "README.md").exists()
    (True, ['kl_finite_size.png', 'kl_vs_d_over_N.png'], True)
    """
    flag("quick", quick)
    choice("executor", executor, EXECUTORS)
    workers = None if workers is None else positive_int("workers", workers)
    if isinstance(sections, str) or not all(s in SECTIONS for s in sections) or not sections:
        raise ValueError(f"sections must be a non-empty subset of {SECTIONS} (got {sections!r})")
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('lindiff reproduce draws figures with matplotlib: pip install "lindiff[plot]"') from err
    matplotlib.use("Agg")
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    cfg = settings(bool(quick))
    if command is None:
        command = (f"lindiff.reproduce.run({str(outdir)!r}, quick={bool(quick)}, executor={executor!r}, "
                   f"workers={workers!r}, sections={list(sections)!r})")
    t_all = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    todo = [s for s in SECTIONS if s in sections]
    readme = outdir / "README.md"
    _mark_incomplete(readme, command, [], todo, None)   # replaced by the report only when every section is done
    with named_executor(executor, workers) as ex, _incomplete_on_error(readme, command, results, todo):
        for sec in todo:
            t0 = time.perf_counter()
            r = _RUNNERS[sec](copy.deepcopy(cfg[sec]), ex, workers, bool(progress))
            r["figures"] = _FIGURES[sec](r["data"], cfg[sec], outdir) + _figure_fits(sec, r["checks"], outdir)
            r["files"] = [f for name, ds in r["data"].items() for f in _write_data(name, ds, outdir)]
            r["table"] = _TABLES[sec](r["data"])
            r["seconds"] = time.perf_counter() - t0
            results[sec] = r
            _mark_incomplete(readme, command, list(results), todo, None)
            if progress:
                print(f"lindiff reproduce: {sec} done in {r['seconds']:.1f} s", file=sys.stderr)
    total = time.perf_counter() - t_all
    readme.write_text(_readme(results, cfg, command, bool(quick), executor, workers, total), encoding="utf-8")
    return {"passed": all(v.passed for r in results.values() for _, v in r["checks"]), "seconds": total,
            "sections": {k: {kk: r[kk] for kk in ("seconds", "checks", "figures", "files")}
                         for k, r in results.items()},
            "readme": readme}


INCOMPLETE = "# lindiff reproduce: INCOMPLETE REPORT"


def _mark_incomplete(readme: Path, command: str, done: list[str], todo: list[str], error: str | None) -> None:
    """A README that says the report is not (yet) complete: interrupted, failed or still running.

    Written before the first section and after each one, so a folder never shows an earlier run's
    verdicts beside this run's files."""
    pending = [s for s in todo if s not in done]
    lines = [INCOMPLETE, "",
             f"This report is incomplete: `{command}` "
             + (f"stopped with an error: {error}." if error else "was interrupted or is still running."),
             "", f"- sections finished: {', '.join(done) if done else 'none'}",
             f"- sections not finished: {', '.join(pending) if pending else 'none'}", "",
             "Files in this folder may come from an earlier run; no verdict here is valid. Run the command "
             "again to completion for the report.", ""]
    readme.write_text("\n".join(lines), encoding="utf-8")


@contextlib.contextmanager
def _incomplete_on_error(readme: Path, command: str, results: dict[str, Any], todo: list[str]) -> Iterator[None]:
    try:
        yield
    except BaseException as e:   # KeyboardInterrupt included: say so in the folder, then re-raise
        _mark_incomplete(readme, command, list(results), todo, f"{type(e).__name__}: {e}"[:300])
        raise


def run_cli(args: Any) -> int:
    """``lindiff reproduce`` (see :mod:`lindiff.__main__`)."""
    argv = ["reproduce"] + (["--quick"] if args.quick else []) + ["--out", str(args.out), "--executor", args.executor]
    argv += (["--workers", str(args.workers)] if args.workers else []) + (["--quiet"] if args.quiet else [])
    res = run(args.out, quick=args.quick, executor=args.executor, workers=args.workers,
              progress=not args.quiet, command=" ".join(shlex.quote(a) for a in ["lindiff", *argv]))
    for sec, r in res["sections"].items():
        checks = r["checks"]
        verdict = (f"{sum(v.passed for _, v in checks)}/{len(checks)} checks pass" if checks else "no checks")
        print(f"{sec:13s} {r['seconds']:7.1f} s  {verdict}")
    print(f"report: {res['readme']} ({res['seconds']:.1f} s); "
          f"theory vs simulation: {'PASS' if res['passed'] else 'FAIL'}")
    return 0 if res["passed"] else 1
