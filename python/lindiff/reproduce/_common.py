"""Machinery shared by the report's sections: sweeps, validation over d, data files, tables, figure style."""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._labelled import netcdf_safe
from .._lazy import lazy_module

xr = lazy_module("xarray")

T_SELECTED = [1, 100, 500]


@dataclass(frozen=True)
class Section:
    """One section of the report: a figure or claim of one paper.

    ``compute(settings, executor, workers, progress)`` returns ``{"data": {name: Dataset},
    "checks": [(label, Validation)]}``; ``figures(data, settings, out)`` the ``(file, caption)``
    pairs; ``table(data)`` Markdown; ``note`` says which lindiff functions produce it.
    """

    name: str
    paper: str
    title: str
    note: str
    settings: Callable[[bool], dict[str, Any]]
    compute: Callable[..., dict[str, Any]]
    figures: Callable[..., list[tuple[str, str]]]
    table: Callable[[dict[str, Any]], str]
    extras: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- sweeps and validation

def sweep_grid(fn: Callable[..., Any], grid: dict[str, Any], fixed: dict[str, Any], executor: cf.Executor | None,
               workers: int | None, progress: bool, seed: int | None, label: str) -> Any:
    """:func:`lindiff.sweep` of ``fn`` over ``grid``, one point per task, named progress ``label``."""
    from ..sweep import sweep

    return sweep(fn, grid, fixed=fixed, executor=executor if executor is not None else "serial",
                 workers=workers if executor is not None else None,
                 progress=f"lindiff reproduce {label}" if progress else False, seed=seed, chunk=1)


def with_summary(ds: Any) -> Any:
    """Add ``<v>_mean`` and ``<v>_sem`` over draws (:func:`lindiff.simulate.summarize`) of every per-draw variable."""
    from ..simulate import summarize

    per_draw = [v for v in ds.data_vars if "draw" in ds[v].dims]
    return ds.merge(summarize(ds[per_draw]), combine_attrs="override") if per_draw else ds


def summary(sim: Any, names: Sequence[str]) -> Any:
    """``<v>_mean``, ``<v>_sem`` over draws of the per-draw variables ``names``."""
    from ..simulate import summarize

    return summarize(sim[list(names)])[[f"{v}_{k}" for v in names for k in ("mean", "sem")]]


def validate(theory: Any, sim: Any, **kw: Any) -> Any:
    """Each check is one 3-sigma test: its cells share the Šidák threshold (``familywise=True``)."""
    from ..validate import validate as _v

    return _v(theory, sim, familywise=True, **kw)


def fit_draws(draws: int, d_main: int, d: int) -> int:
    """Draws at a dimension d of a finite-size fit: the main run's ``draws`` at d >= d_main and
    ``draws (d_main / d)^2`` below, so that every d has about the same standard error."""
    return int(draws) * max(1, round((d_main / d) ** 2))


def sample_sizes(ratios: Sequence[float], d: int) -> list[int]:
    """N = (N/d) d, which must be whole numbers at this d."""
    N = [r * d for r in ratios]
    if any(abs(n - round(n)) > 1e-9 * n for n in N):
        raise ValueError(f"N/d = {list(ratios)} does not give whole sample sizes at d = {d}: change fit_dims")
    return [int(round(n)) for n in N]


def by_ratio(ds: Any, d: int, dim: str = "N") -> Any:
    """Label the sample-size dimension by N/d (the cells a fit over d compares)."""
    return ds.assign_coords({dim: np.asarray(ds[dim].values, dtype=float) / d}).rename({dim: "N_over_d"})


def check_fit_dims(fit_dims: Sequence[int], d: int) -> list[int]:
    """The dimensions of a finite-size fit (the main d among at least three distinct ones), sorted."""
    dims = sorted({int(x) for x in fit_dims})
    if d not in dims or len(dims) < 3:
        raise ValueError(f"fit_dims must hold the main d = {d} and at least three distinct dimensions "
                         f"(got {list(fit_dims)})")
    return dims


def fitted(fit: Any, sel: dict[str, Any], d: int, variables: dict[str, str]) -> tuple[Any, Any]:
    """One d of a fit sweep as (theory, simulation summary) for lindiff.validate.

    ``fit`` holds ``th_<src>`` and ``sim_<src>_mean/_sem`` and ``draws``; ``variables`` maps the
    validated name to ``src``."""
    one = fit.sel(**sel, d=d, drop=True)
    th = xr.Dataset({v: one[f"th_{src}"] for v, src in variables.items()})
    sm = xr.Dataset({f"{v}_{x}": one[f"sim_{src}_{x}"] for v, src in variables.items() for x in ("mean", "sem")},
                    attrs={"n": int(one["draws"])})
    return th, sm


def validate_over_d(fit: Any, sel: dict[str, Any], variables: dict[str, str]) -> Any:
    """The finite-size check of one cell group: theory and simulation at every d of ``fit``."""
    ths, sims = {}, {}
    for d in fit.d.values.tolist():
        ths[int(d)], sims[int(d)] = fitted(fit, sel, int(d), variables)
    return validate(ths, sims, variables=list(variables))


def theory_and_summary(th: Any, sim: Any, variables: Sequence[str], d: int, draws: int) -> Any:
    """One d of a fit: ``th_<v>`` and ``sim_<v>_mean/_sem`` labelled by N/d, with ``draws``."""
    sm = summary(sim, variables)
    out = xr.Dataset({f"th_{v}": th[v] for v in variables}).assign_coords(N=sim.N.values)
    out = out.merge(sm.rename({k: f"sim_{k}" for k in sm.data_vars}), compat="override")
    out = by_ratio(out, d)
    out["draws"] = int(draws)
    return out


# ------------------------------------------------------------------------------------- data files

def write_data(name: str, ds: Any, out: Path) -> list[str]:
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


# ------------------------------------------------------------------------------------------ text

def g(x: float, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits, ``inf``, or "not reached" for NaN."""
    if math.isfinite(x):
        return f"{x:.{digits}g}"
    return "inf" if x == math.inf else ("-inf" if x == -math.inf else "not reached")


def interval(x: float, lo: float, hi: float, digits: int = 3) -> str:
    """``x [lo, hi]``; "not reached" when x is NaN (no crossing or turnover inside the grid)."""
    if not math.isfinite(x):
        return "not reached on the grid"
    return f"{g(x, digits)} [{g(lo, digits)}, {g(hi, digits)}]"


def md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _coords_text(coords: dict[str, Any]) -> str:
    return ", ".join(f"{k}={g(float(x)) if isinstance(x, (int, float, np.number)) else x}" for k, x in coords.items())


def check_line(label: str, v: Any) -> str:
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
        b = f", b = {g(w['b'], 3)}" if "b" in w else ""
        dev = ", ".join(f"{g(x, 3)}" for x in w["dev"].values())
        cell = (f"{where}: z = {w['z']:.2f}; sim - theory at d = ∞: {g(w['intercept'], 3)} ± "
                f"{g(w['intercept_sem'], 2)} (rel {w['rel']:+.2%}); bias a = {g(w['a'], 3)}{b} "
                f"(sim - theory at d = {', '.join(map(str, v.dims))}: {dev})")
    else:
        method, draws = "one d", str(v.draws)
        cell = (f"{where}: z = {w['z']:.2f}; theory {g(w['theory'])}, simulation {g(w['mean'])} ± "
                f"{g(w['sem'], 2)} (rel {w['rel']:+.2%})")
    return f"| {label} | {'PASS' if v.passed else 'FAIL'} | {method} | {'; '.join(parts)} | {draws} | {cell} |"


# ---------------------------------------------------------------------------------------- figures

C_STYLES = {0.0: dict(ls="-", lw=2.4, marker="o"), 1e-4: dict(ls="--", lw=1.6, marker="s"),
            1e-2: dict(ls=":", lw=2.0, marker="^")}


def c_style(c: float) -> dict[str, Any]:
    """Line style of a ridge c: c = 0 thick solid, 1e-4 dashed, 1e-2 dotted (so no curve hides another)."""
    return dict(C_STYLES.get(float(c), dict(ls="-.", lw=1.4, marker="D")))


def legend_outside(fig: Any, axes: Sequence[Any], ncol: int | None = None, **kw: Any) -> None:
    """One legend for the figure, below the panels (off the data), from the labelled artists of ``axes``."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_") and lab not in seen:
                seen[lab] = h
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=ncol or min(len(seen), 4),
                   fontsize="small", frameon=False, **kw)


def _finish(fig: Any, caption: str, n_legend_rows: int = 1) -> None:
    """Caption as suptitle on top, room for the legend below, no overlapping ticks (tight layout)."""
    import textwrap

    lines = textwrap.wrap(caption, int(12 * fig.get_figwidth()))
    height = fig.get_figheight()
    fig.suptitle("\n".join(lines), fontsize="medium", y=1.0 - 0.08 / height, va="top")
    top = 1.0 - (0.2 * len(lines) + 0.15) / height
    bottom = (0.22 * n_legend_rows + 0.1) / height if n_legend_rows else 0.0
    fig.tight_layout(rect=(0, bottom, 1, top))


def log_axes(ax: Any, x: bool = True, y: bool = True) -> None:
    """Log axes with at most a few major labels (no overlapping tick labels)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    for on, axis, scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if on:
            scale("log")
            axis.set_major_locator(LogLocator(base=10, numticks=6))
            axis.set_minor_formatter(NullFormatter())


def save(fig: Any, out: Path, name: str, caption: str, legend_rows: int = 1, title: str | None = None
         ) -> tuple[str, str]:
    """Lay the figure out (``title``, default the caption, on top; room for ``legend_rows`` of
    legend below), write ``out/name`` and close it; returns (name, caption) for the report."""
    import matplotlib.pyplot as plt

    _finish(fig, caption if title is None else title, legend_rows)
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name, caption


def figure_fits(name: str, checks: list[tuple[str, Any]], out: Path) -> list[tuple[str, str]]:
    """One panel per finite-size check: the deviation against 1/d of its cells with the largest |z|
    (:func:`lindiff.plot.deviation_vs_d`); none when the section has no such check."""
    import matplotlib.pyplot as plt

    from .. import plot

    fits = [(label, v) for label, v in checks if v.dims]
    if not fits:
        return []
    cols = min(3, len(fits))
    rows = -(-len(fits) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    for ax, (label, v) in zip(axes.ravel(), fits):
        plot.deviation_vs_d(v, v.worst["variable"], cells=3, ax=ax)
        ax.set_title(f"{label}: {v.worst['variable']} ({'passed' if v.passed else 'FAILED'})", fontsize="small")
    for ax in axes.ravel()[len(fits):]:
        ax.set_visible(False)
    return [save(fig, out, f"{name}_finite_size.png", "finite-size fits: deviation against 1/d, the 3 cells "
                 "with the largest |z| per check", legend_rows=0,
                 title="Finite-size validation: (simulation - theory) / |theory| against 1/d, points ± s.e., fit "
                       "intercept + a/d + b/d², ◇ the deviation extrapolated to d = ∞")]
