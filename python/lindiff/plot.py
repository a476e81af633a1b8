"""Figures from the Datasets lindiff produces (matplotlib, optional: ``pip install "lindiff[plot]"``).

matplotlib is imported only when a function here is called, so ``import lindiff`` never imports it.

- :func:`theory_vs_simulation`: theory as lines, simulation means with standard-error bars
  (``<v>_mean`` / ``<v>_sem``, e.g. from :func:`lindiff.simulate.ensemble`), against one dimension;
- :func:`loss_curves`: gradient-flow losses vs eta*tau (:func:`lindiff.theory.gradflow_losses`),
  with the optimal stopping times of :func:`lindiff.theory.optimal_stopping` marked;
- :func:`kl_vs_ratio`: KL per dimension vs d/N (:func:`lindiff.theory.kl`) with the d/(4N) law
  (:func:`lindiff.theory.kl_law`) and the exact Wishart value (:func:`lindiff.theory.kl_wishart`);
- :func:`transition`: the memorization transition, :func:`lindiff.memorization.plot_transition`;
- :func:`deviation_vs_d`: a finite-size validation (:func:`lindiff.validate` over several d): the
  deviation simulation - theory against x = 1/d (or d^-exponent) with the fitted bias and the
  extrapolated deviation at d = inf.

Every function takes ``ax=`` (default: a new figure) and returns what it drew on.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import lindiff
>>> from lindiff import plot, theory
>>> ds = theory.static_losses(lindiff.Spectrum.powerlaw(100, 1.0), N=[50, 100, 200], t=[10, 100])
>>> ax = plot.theory_vs_simulation(ds.mean("t"), variable="test", x="N")
>>> len(ax.lines)
1
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ._lazy import lazy_module
from .memorization import (
    plot_transition,  # re-exported: the one implementation of the transition figure
)

xr = lazy_module("xarray")

__all__ = ["deviation_vs_d", "kl_vs_ratio", "loss_curves", "plot_transition", "theory_vs_simulation", "transition"]


def _pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('lindiff.plot needs matplotlib: install it with `pip install "lindiff[plot]"` '
                          "(or `pip install matplotlib`)") from err
    return plt


def _axes(ax: Any) -> Any:
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 3.8))
    return ax


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (float, int, np.floating, np.integer)) else str(v)


def _as_array(data: xr.Dataset | xr.DataArray, variable: str, what: str) -> xr.DataArray:
    if isinstance(data, xr.DataArray):
        return data
    if not isinstance(data, xr.Dataset):
        raise ValueError(f"{what} must be an xarray.Dataset or DataArray (got {type(data).__name__})")
    if variable not in data:
        raise ValueError(f"{what} has no variable {variable!r} (variables: {sorted(map(str, data.data_vars))})")
    return data[variable]


def _squeeze_to(da: xr.DataArray, keep: Sequence[Hashable], what: str) -> xr.DataArray:
    """Drop length-1 dimensions outside ``keep``; anything else left over is an error naming ``what``."""
    extra = [d for d in da.dims if d not in keep]
    big = [d for d in extra if da.sizes[d] > 1]
    if big:
        raise ValueError(f"{what} has dimensions {big} besides x and hue: select one value with .sel() first")
    return da.isel({d: 0 for d in extra}) if extra else da


def _hue_values(da: xr.DataArray, hue: str | None) -> list[Any]:
    if hue is None:
        return [None]
    if hue not in da.dims:
        raise ValueError(f"hue must be a dimension of the data (got {hue!r}; dims: {da.dims})")
    return list(da[hue].values)


def theory_vs_simulation(
    theory: xr.Dataset | xr.DataArray,
    simulation: xr.Dataset | None = None,
    variable: str = "test",
    x: str = "N",
    *,
    hue: str | None = None,
    x_scale: float = 1.0,
    ax: Any = None,
    label: str | None = None,
    logx: bool = True,
    logy: bool = False,
    color: str | None = None,
) -> Any:
    """Theory (lines) and simulation mean ± standard error (points with error bars) against ``x``.

    Parameters
    ----------
    theory : xarray.Dataset or DataArray
        E.g. :func:`lindiff.theory.static_losses` (``.mean("t")`` for the t-average). Dimensions
        other than ``x`` and ``hue`` must have length 1.
    simulation : xarray.Dataset, optional
        Holds ``<variable>_mean`` and ``<variable>_sem`` over the same ``x`` (and ``hue``), e.g.
        :func:`lindiff.simulate.ensemble` or :func:`lindiff.simulate.summarize`; a per-draw
        ``variable`` with a ``draw`` dimension is summarised first.
    variable : str
        The variable to draw.
    x : str
        The dimension on the horizontal axis.
    hue : str, optional
        A dimension drawn as one colour per value.
    x_scale : float
        Divide x by this (e.g. d, to plot against N/d).
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Prefix of the legend labels.
    logx, logy : bool
        Logarithmic axes.
    color : str, optional
        One colour for everything (only without ``hue``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lindiff
    >>> from lindiff import plot, simulate, theory
    >>> spec = lindiff.Spectrum.powerlaw(40, 1.0)
    >>> th = theory.static_losses(spec, N=[20, 40, 80], c=[0.0, 0.01], t=[100])
    >>> sim = simulate.ensemble(spec, N=[20, 80], c=[0.0, 0.01], t=[100], draws=4)
    >>> ax = plot.theory_vs_simulation(th, sim, "test", x="N", hue="c", x_scale=40)
    >>> len(ax.lines) >= 2, len(ax.containers)        # two theory lines, two error-bar sets
    (True, 2)
    """
    if not (isinstance(x_scale, (int, float, np.number)) and math.isfinite(x_scale) and x_scale > 0):
        raise ValueError(f"x_scale must be finite and > 0 (got {x_scale!r})")
    if hue is not None and color is not None:
        raise ValueError("color must be None when hue is given (one colour per hue value)")
    th = _as_array(theory, variable, "theory")
    if x not in th.dims:
        raise ValueError(f"x must be a dimension of theory[{variable!r}] (got {x!r}; dims: {th.dims})")
    keep = [x] + ([hue] if hue else [])
    th = _squeeze_to(th, keep, "theory")
    mean = sem = None
    if simulation is not None:
        if not isinstance(simulation, xr.Dataset):
            raise ValueError(f"simulation must be an xarray.Dataset (got {type(simulation).__name__})")
        sim = simulation
        if f"{variable}_mean" not in sim and variable in sim and "draw" in sim[variable].dims:
            from .simulate import summarize
            sim = summarize(sim[[variable]])
        if f"{variable}_mean" not in sim or f"{variable}_sem" not in sim:
            raise ValueError(f"simulation must hold {variable}_mean and {variable}_sem")
        mean = _squeeze_to(sim[f"{variable}_mean"], keep, "simulation")
        sem = _squeeze_to(sim[f"{variable}_sem"], keep, "simulation")
        for dim in keep:
            if dim not in mean.dims:
                raise ValueError(f"simulation[{variable}_mean] has no dimension {dim!r} (dims: {mean.dims})")
    ax = _axes(ax)
    prefix = f"{label} " if label else ""
    for h in _hue_values(th, hue):
        tag = "" if h is None else f"{hue}={_fmt(h)}"
        t_ = th if h is None else th.sel({hue: h})
        xs = np.asarray(t_[x].values, dtype=float) / x_scale
        order = np.argsort(xs)
        line = ax.plot(xs[order], np.asarray(t_.values, dtype=float)[order], "-", color=color,
                       label=f"{prefix}theory {tag}".strip())[0]
        if mean is not None and sem is not None:
            if h is not None and h not in mean[hue].values:
                continue                    # no simulation at this hue value
            m_, s_ = (mean, sem) if h is None else (mean.sel({hue: h}), sem.sel({hue: h}))
            xm = np.asarray(m_[x].values, dtype=float) / x_scale
            ax.errorbar(xm, np.asarray(m_.values, dtype=float), yerr=np.asarray(s_.values, dtype=float), fmt="o",
                        ms=3.5, capsize=2, color=line.get_color(), label=f"{prefix}simulation {tag}".strip())
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x if x_scale == 1 else f"{x} / {x_scale:g}")
    ax.set_ylabel(variable)
    return ax


def loss_curves(
    gradflow: xr.Dataset,
    variable: str = "test",
    *,
    hue: str | None = "N",
    t: int | str = "avg",
    stopping: xr.Dataset | None = None,
    ax: Any = None,
    label: str | None = None,
) -> Any:
    """Gradient-flow loss vs eta*tau, one line per ``hue`` value, optimal stopping times marked.

    Parameters
    ----------
    gradflow : xarray.Dataset
        From :func:`lindiff.theory.gradflow_losses` (dims ``eta_tau`` and ``t``, optionally ``N``...);
        ``eta_tau = inf`` (the minimiser) is drawn as a dotted horizontal line.
    variable : "test" or "train"
    hue : str, optional
        Dimension with one line per value (default ``N``; ignored when absent).
    t : "avg" or int
        The t-average, or one diffusion time.
    stopping : xarray.Dataset, optional
        From :func:`lindiff.theory.optimal_stopping` on the same ``hue`` values: (eta_tau, test_min)
        is marked on each line.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Prefix of the legend labels.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, lindiff
    >>> from lindiff import plot, theory
    >>> spec = lindiff.Spectrum.powerlaw(100, 1.0)
    >>> gf = theory.gradflow_losses(spec, N=[40, 80], eta_tau=np.append(np.geomspace(0.1, 1e4, 20), np.inf),
    ...                             t=[10, 100, 500])
    >>> ax = plot.loss_curves(gf, stopping=theory.optimal_stopping(spec, N=[40, 80], t=100), t=100)
    >>> ax.get_xscale(), len(ax.lines)                 # 2 curves, 2 tau = inf levels, 2 optima
    ('log', 6)
    """
    da = _as_array(gradflow, variable, "gradflow")
    if "eta_tau" not in da.dims:
        raise ValueError(f"gradflow[{variable!r}] needs an eta_tau dimension (dims: {da.dims})")
    if "t" in da.dims:
        if isinstance(t, str):
            if t != "avg":
                raise ValueError(f"t must be 'avg' or a diffusion time (got {t!r})")
            da = da.mean("t")
        else:
            if t not in da.t.values:
                raise ValueError(f"t = {t!r} is not among the dataset's times")
            da = da.sel(t=t)
    hue = hue if hue is not None and hue in da.dims else None
    da = _squeeze_to(da, ["eta_tau"] + ([hue] if hue else []), "gradflow")
    ax = _axes(ax)
    prefix = f"{label} " if label else ""
    for h in _hue_values(da, hue):
        tag = "" if h is None else f"{hue}={_fmt(h)}"
        cur = da if h is None else da.sel({hue: h})
        et = np.asarray(cur.eta_tau.values, dtype=float)
        fin = np.isfinite(et)
        line = ax.plot(et[fin], cur.values[fin], "-", label=f"{prefix}{variable} {tag}".strip())[0]
        if np.any(~fin):
            ax.axhline(float(cur.values[~fin][0]), color=line.get_color(), ls=":", lw=1)
        if stopping is not None:
            if h is not None and (hue not in stopping.dims or h not in stopping[hue].values):
                raise ValueError(f"stopping has no {hue} = {_fmt(h)} (it must cover the curves' {hue} values)")
            st = (stopping if h is None else stopping.sel({hue: h})).squeeze(drop=True)
            e, v = float(st.eta_tau), float(st.test_min if variable == "test" else st.train_at_min)
            if math.isfinite(e):
                ax.plot([e], [v], "*", ms=9, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("η τ")
    ax.set_ylabel(f"{variable} loss per dimension" + (" (t-averaged)" if t == "avg" else f" at t = {t}"))
    return ax


def kl_vs_ratio(
    theory: xr.Dataset,
    *,
    simulation: xr.Dataset | None = None,
    variable: str = "kl_fwd",
    law: bool = True,
    wishart: bool = True,
    ax: Any = None,
    label: str | None = None,
    color: str | None = None,
) -> Any:
    """KL per dimension vs d/N, with the d/(4N) law and the exact Wishart value.

    Parameters
    ----------
    theory : xarray.Dataset
        From :func:`lindiff.theory.kl` with an ``N`` dimension and a ``d`` attribute (other
        dimensions of length 1).
    simulation : xarray.Dataset, optional
        ``<variable>_mean`` / ``<variable>_sem`` over N (:func:`lindiff.simulate.ensemble`).
    variable : "kl_fwd" or "kl_rev"
    law : bool
        Draw d/(4N) (:func:`lindiff.theory.kl_law`; black dashed, once per Axes).
    wishart : bool
        Draw the exact Wishart value of this d (:func:`lindiff.theory.kl_wishart`, dotted), at the
        integer N >= d of the grid: the KL of a sampler that reproduces N(0, C) exactly.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Legend label of the theory line (default: the spectrum attribute).
    color : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lindiff
    >>> from lindiff import plot, theory
    >>> ds = theory.kl(lindiff.Spectrum.powerlaw(100, 1.0), N=[200, 400, 1000], gamma=lambda s: s, finite_d=True)
    >>> ax = plot.kl_vs_ratio(ds, label="N(0, C)")
    >>> [line.get_label() for line in ax.lines]
    ['N(0, C)', 'd/(4N)', 'Wishart, d = 100']
    """
    from .theory import kl_law, kl_wishart

    da = _as_array(theory, variable, "theory")
    if "N" not in da.dims:
        raise ValueError(f"theory[{variable!r}] needs an N dimension (dims: {da.dims})")
    if "d" not in theory.attrs:
        raise ValueError("theory needs a 'd' attribute (as lindiff.theory.kl sets)")
    d = float(theory.attrs["d"])
    da = _squeeze_to(da, ["N"], "theory")
    N = np.asarray(da.N.values, dtype=float)
    order = np.argsort(d / N)
    ax = _axes(ax)
    line = ax.plot((d / N)[order], np.asarray(da.values)[order], "-", color=color,
                   label=label or str(theory.attrs.get("spectrum", "theory")))[0]
    col = line.get_color()
    if simulation is not None:
        if f"{variable}_mean" not in simulation or f"{variable}_sem" not in simulation:
            raise ValueError(f"simulation must hold {variable}_mean and {variable}_sem")
        m = _squeeze_to(simulation[f"{variable}_mean"], ["N"], "simulation")
        s = _squeeze_to(simulation[f"{variable}_sem"], ["N"], "simulation")
        Ns = np.asarray(m.N.values, dtype=float)
        ax.errorbar(d / Ns, m.values, yerr=s.values, fmt="o", ms=3.5, capsize=2, color=col,
                    label=f"{line.get_label()} (simulation)")
    if law and not any(getattr(ln, "get_label", lambda: "")() == "d/(4N)" for ln in ax.lines):
        r = np.geomspace(np.min(d / N), np.max(d / N), 50)
        ax.plot(r, kl_law(1.0, 1.0 / r)[0], "k--", lw=1, label="d/(4N)")
    if wishart:
        ok = (N >= d) & (N == np.round(N)) & (d == round(d))
        if np.any(ok):
            Nw = np.sort(N[ok])[::-1]
            fwd, rev = kl_wishart(int(d), Nw.astype(np.int64))
            w = np.asarray(fwd if variable == "kl_fwd" else rev, dtype=float)
            fin = np.isfinite(w)
            ax.plot(d / Nw[fin], w[fin], ":", color=col, lw=1.5, label=f"Wishart, d = {d:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("d / N")
    ax.set_ylabel(("KL(gen ‖ data)" if variable == "kl_fwd" else "KL(data ‖ gen)") + " / d")
    return ax


def transition(ds: xr.Dataset, *, distance: str = "auto", ax: Any = None) -> Any:
    """The memorization transition: :func:`lindiff.memorization.plot_transition` (P(Delta > 0) with
    its intervals and an individual distance on a second axis, vs N/d).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`lindiff.memorization.transition`.
    distance, ax
        As in :func:`lindiff.memorization.plot_transition`.

    Returns
    -------
    (ax, ax_right)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lindiff import plot
    >>> from lindiff.memorization import OneStepModel, transition
    >>> ds = transition(OneStepModel(4, 2).with_N, [3, 12], repeats=4, reference_size=200, n_bootstrap=20)
    >>> ax, ax2 = plot.transition(ds)
    >>> ax.get_xlabel()
    'N / d'
    """
    _pyplot()
    return plot_transition(ds, distance=distance, ax=ax)



def deviation_vs_d(validation: Any, variable: str | None = None, *, cells: int = 4, relative: bool = True,
                   ax: Any = None) -> Any:
    """Deviation simulation - theory against x = d^-exponent for a validation over several d.

    For the ``cells`` cells of ``variable`` with the largest |z|: the measured deviation at each d
    (points, ± one standard error), the fitted bias ``intercept + a x + b x^2`` (line, down to
    x = 0, i.e. d = inf) and the extrapolated deviation with its standard error at x = 0
    (diamond). A correct theory's line ends within ``nsigma`` standard errors of 0.

    Parameters
    ----------
    validation : lindiff.Validation
        From :func:`lindiff.validate` with mappings ``{d: Dataset}`` (its ``dims`` not empty).
    variable : str, optional
        One of ``validation.variables`` (default: the first).
    cells : int
        How many cells to draw (>= 1), the largest |z| first.
    relative : bool
        Divide by |theory| at the largest d (the deviation in relative terms).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import lindiff
    >>> from lindiff import plot, simulate
    >>> th, sims = simulate.ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(d, 1.0), [20, 40, 80],
    ...                                     N_over_d=[0.5], t=[1, 100], draws=6, kl=False)
    >>> ax = plot.deviation_vs_d(lindiff.validate(th, sims), "train", cells=2)
    >>> len(ax.containers), ax.get_xlabel()              # points and the d = inf value, per cell
    (4, 'x = 1/d')
    """
    dims = tuple(getattr(validation, "dims", ()) or ())
    if not dims:
        raise ValueError("validation must come from lindiff.validate over several d (mappings {d: Dataset}); "
                         "a single-d validation has no deviation against d: use Validation.plot")
    v = validation.variables[0] if variable is None else variable
    if v not in validation.variables:
        raise ValueError(f"variable must be one of {validation.variables} (got {variable!r})")
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 1:
        raise ValueError(f"cells must be an integer >= 1 (got {cells!r})")
    tab = validation.table
    z = tab[f"{v}_z"]
    score = np.ravel(np.where(np.isnan(z.values), np.inf, np.abs(z.values)))
    x = np.asarray(dims, dtype=float) ** -validation.exponent
    xs = np.linspace(0.0, x.max() * 1.05, 100)
    ax = _axes(ax)
    for rank, flat in enumerate(np.argsort(-score, kind="stable")[: int(cells)]):
        idx = dict(zip(z.dims, np.unravel_index(int(flat), z.shape))) if z.ndim else {}
        one = {k: tab[f"{v}_{k}"].isel(idx) for k in ("dev", "sem", "theory", "a", "intercept", "intercept_sem",
                                                      "z", "pass")}
        b = float(tab[f"{v}_b"].isel(idx)) if f"{v}_b" in tab else 0.0
        scale = abs(float(one["theory"].isel(d=-1))) if relative else 1.0
        scale = scale if scale > 0 and math.isfinite(scale) else 1.0
        where = ", ".join(f"{k}={_fmt(z[k].values[i])}" for k, i in idx.items())
        col = f"C{rank}"
        ax.errorbar(x, one["dev"].values / scale, yerr=one["sem"].values / scale, fmt="o", ms=4, capsize=2,
                    color=col, label=f"{where or v}: z = {float(one['z']):.2g}"
                                     + ("" if bool(one["pass"]) else " FAILED"))
        fit = float(one["intercept"]) + float(one["a"]) * xs + b * xs**2
        ax.plot(xs, fit / scale, "-", color=col, lw=1)
        ax.errorbar([0.0], [float(one["intercept"]) / scale], yerr=[float(one["intercept_sem"]) / scale], fmt="D",
                    ms=5, capsize=3, color=col, mfc="white")
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("x = 1/d" if validation.exponent == 1 else f"x = d^-{validation.exponent:g}")
    ax.set_ylabel(f"({v} simulation - theory)" + (" / |theory|" if relative else ""))
    ax.set_title(f"{v}: deviation vs d = {', '.join(map(str, dims))} "
                 f"({'passed' if bool(tab[f'{v}_pass'].all()) else 'FAILED'})", fontsize="medium")
    ax.legend(fontsize="x-small")
    return ax
