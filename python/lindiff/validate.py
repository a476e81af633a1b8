"""Theory vs simulation, cell by cell: deviations in standard errors, a verdict without escape hatches.

:func:`validate` compares a deterministic-equivalent (DE) Dataset from :mod:`lindiff.theory` with
a simulation that has a ``draw`` dimension (:func:`lindiff.simulate.ensemble`, or the ``losses``
of a training result): coordinates are matched by value, and each cell passes on its z-score only,
``|z| <= nsigma`` with ``z = (mean - theory) / sem``.

The DE is exact only as d -> inf; at finite d the simulation's mean differs from it by a
finite-size bias that a z-test resolves once there are enough draws. That bias is modelled, not
forgiven: given theory and simulation at three or more dimensions d (as mappings ``{d: Dataset}``,
same N/d, same spectrum family; :func:`lindiff.simulate.ensemble_over_d` makes them in one call),
:func:`validate` fits ``mean - theory = intercept + a x + b x^2`` with ``x = d^-exponent`` per cell
(weighted least squares) and tests the intercept, the deviation left at d = inf, against its
standard error.

Examples
--------
>>> import lindiff
>>> from lindiff import simulate, theory
>>> spec = lindiff.Spectrum.powerlaw(100, k=1.0)
>>> sim = simulate.ensemble(spec, N=[50, 200], t=[1, 100, 1000], draws=10)
>>> val = lindiff.validate(theory.static_losses(spec, [50, 200], t=[1, 100, 1000]), sim)
>>> val.passed, sorted(val.table.data_vars)[:3]
(True, ['data_noise_mean', 'data_noise_pass', 'data_noise_rel'])

Several d: the finite-size extrapolation.

>>> th, sims = simulate.ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(d, 1.0), [20, 40, 80],
...                                     N_over_d=[0.5, 2.0], t=[1, 100], draws=10, kl=False)
>>> val = lindiff.validate(th, sims)
>>> val.passed, val.dims, val.table.test_intercept.dims
(True, (20, 40, 80), ('N_over_d', 't'))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._display import Cell, html_table, text_table
from ._lazy import lazy_module
from ._validation import flag, positive_int, positive_scalar

xr = lazy_module("xarray")

__all__ = ["DEFAULT_VARIABLES", "Validation", "validate"]

DEFAULT_VARIABLES = ("test", "train", "data_noise", "data_ridge", "kl_fwd", "kl_rev")
_COORD_RTOL = 1e-9  # coordinates (N, N/d, c, eta_tau, t) match when equal to this relative tolerance
# per-cell entries of the table of a single-d validation, and those a finite-size fit adds
_CELL_KEYS = ("theory", "mean", "sem", "z", "rel", "pass")
_FIT_KEYS = ("dev", "a", "b", "intercept", "intercept_sem", "chi2")


@dataclass(frozen=True, eq=False)
class Validation:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    passed : bool
        Every compared cell passed: ``|z| <= nsigma`` (NaN never passes).
    table : xarray.Dataset
        Per variable v, on the cells the inputs share: ``v_theory``, ``v_mean``, ``v_sem``
        (simulation mean and its standard error), ``v_z``, ``v_rel`` and ``v_pass``. One d:
        ``v_z = (v_mean - v_theory) / v_sem``, ``v_rel = (v_mean - v_theory) / |v_theory|``.
        Several d (:attr:`dims`; N is replaced by ``N_over_d``): ``v_theory``, ``v_mean``,
        ``v_sem`` and ``v_dev = v_mean - v_theory`` have a ``d`` dimension; the fit
        ``v_dev = v_intercept + v_a x + v_b x^2`` (x = d^-exponent) gives ``v_a``, ``v_b``,
        ``v_intercept``, ``v_intercept_sem`` and ``v_chi2`` (residual chi-square, 0 when the fit
        has no degree of freedom left); ``v_z = v_intercept / v_intercept_sem`` and ``v_rel =
        v_intercept / |v_theory|`` at the largest d.
    worst : dict
        The cell with the largest |z| (NaN counts as largest): ``variable``, ``coords``, ``z``,
        ``rel``, ``passed`` and the cell's other table entries (``theory``, ``mean``, ``sem``;
        with several d these and ``dev`` are dicts keyed by d, and ``a``, ``b``, ``intercept``,
        ``intercept_sem``, ``chi2`` are added).
    worst_failed : dict or None
        The failed cell with the largest |z| (same keys), None when every cell passed.
    nsigma : float
        The threshold on |z|.
    variables : tuple of str
        The compared variables.
    draws : int
        Number of draws behind each mean (the smallest, with several d).
    dims : tuple of int
        The dimensions of the finite-size fit; empty for a single-d comparison.
    exponent : float
        The fit's variable is x = d^-exponent (meaningful with :attr:`dims`).
    order : int
        Number of powers of x in the fit (2: ``a x + b x^2``; 1: ``a x``, no ``v_b`` in the table).
    """

    passed: bool
    table: xr.Dataset = field(repr=False)
    worst: dict[str, Any]
    worst_failed: dict[str, Any] | None
    nsigma: float
    variables: tuple[str, ...]
    draws: int
    dims: tuple[int, ...] = ()
    exponent: float = 1.0
    order: int = 2
    familywise_nsigma: float | None = None

    @property
    def n_failed(self) -> int:
        """Number of cells (all variables) that failed."""
        return sum(int((~self.table[f"{v}_pass"]).sum()) for v in self.variables)

    @property
    def n_cells(self) -> int:
        """Number of compared cells (all variables)."""
        return sum(int(self.table[f"{v}_pass"].size) for v in self.variables)

    def _x_label(self) -> str:
        return "1/d" if self.exponent == 1 else f"d^-{self.exponent:g}"

    def _verdict(self) -> Cell:
        what = "extrapolated deviation (d -> inf)" if self.dims else "deviation"
        how = (f" (family-wise: the false-alarm rate of one {self.familywise_nsigma:g}-sigma test for all "
               f"{self.n_cells} cells together)" if self.familywise_nsigma is not None else "")
        if self.passed:
            return ("verdict", f"PASSED: the {what} of every cell is within {self.nsigma:.3g} s.e.{how}", True)
        return ("verdict", f"FAILED: the {what} of {self.n_failed} of {self.n_cells} cells exceeds "
                           f"{self.nsigma:.3g} s.e.{how}", False)

    def _cells(self) -> list[Cell]:
        draws = (", ".join(f"{n} at d = {d}" for d, n in zip(self.dims, self.table.attrs["draws"])) if self.dims
                 else str(self.draws))
        cells: list[Cell] = [self._verdict(), ("draws", draws, None), ("nsigma", f"{self.nsigma:g}", None)]
        if self.dims:
            powers = "a x + b x²" if self.order == 2 else "a x"
            cells.append(("model", f"mean - theory = intercept + {powers}, x = {self._x_label()}, "
                                   f"d = {', '.join(map(str, self.dims))} at fixed N/d", None))
        for v in self.variables:
            ok = self.table[f"{v}_pass"]
            text = f"{int(ok.sum())}/{ok.size} cells pass, max |z| {_max_abs(self.table[f'{v}_z'].values):.3g}"
            if self.dims:
                text += "".join(f", {c} in [{_fmt_range(self.table[f'{v}_{c}'].values)}]"
                                for c in ("a", "b")[: self.order])
            else:
                text += f", max |rel| {_max_abs(self.table[f'{v}_rel'].values):.2g}"
            cells.append((v, text, bool(ok.all())))
        for label, w in (("largest |z|", self.worst), ("worst failure", self.worst_failed)):
            if w is not None:
                cells.append((label, self._describe(w), w["passed"]))
        if not self.passed and not self.dims:
            cells.append(("note", "at one d the DE's own O(1/d) bias counts as a deviation; "
                                  "validate over 3+ d fits it out", None))
        return cells

    def _describe(self, w: dict[str, Any]) -> str:
        where = ", ".join(f"{k}={_fmt(val)}" for k, val in w["coords"].items()) or "-"
        if not self.dims:
            return (f"{w['variable']} at {where}: theory {w['theory']:.5g}, simulation {w['mean']:.5g} "
                    f"± {w['sem']:.2g}, z = {w['z']:.3g}, rel = {w['rel']:.2g}")
        b = f", b = {w['b']:.3g}" if self.order == 2 else ""
        return (f"{w['variable']} at {where}: intercept {w['intercept']:.3g} ± {w['intercept_sem']:.2g} "
                f"(z = {w['z']:.3g}, rel = {w['rel']:.2g}), a = {w['a']:.3g}{b}; mean - theory at d = "
                + ", ".join(f"{d}: {x:.3g}" for d, x in w["dev"].items()))

    def __repr__(self) -> str:
        return text_table(self._title(), self._cells(), columns=1)

    def _repr_html_(self) -> str:
        return html_table(self._title(), self._cells(), columns=1)

    def _title(self) -> str:
        return ("Validation: theory vs simulation, extrapolated to d -> inf" if self.dims
                else "Validation: theory vs simulation")

    def to_frame(self, variable: str | None = None) -> Any:
        """The table as a pandas DataFrame, one row per cell (and variable).

        Parameters
        ----------
        variable : str, optional
            One of :attr:`variables` (default: all, with a ``variable`` column).

        Returns
        -------
        pandas.DataFrame
            The cell's coordinates and its table entries; with several d, the entries that
            depend on d become one column per d (``dev[d=50]``, ``sem[d=50]``, ...).

        Examples
        --------
        >>> import numpy as np, xarray as xr, lindiff
        >>> sim = xr.Dataset({"test": (("draw", "t"), [[1.0, 2.0], [3.0, 2.0]])}, coords={"t": [1, 2]})
        >>> th = xr.Dataset({"test": ("t", [2.0, 2.5])}, coords={"t": [1, 2]})
        >>> lindiff.validate(th, sim).to_frame()[["variable", "t", "z", "pass"]]
          variable  t    z   pass
        0     test  1  0.0   True
        1     test  2 -inf  False
        """
        import pandas as pd

        names = self.variables if variable is None else (variable,)
        if variable is not None and variable not in self.variables:
            raise ValueError(f"variable must be one of {self.variables} (got {variable!r})")
        frames = []
        for v in names:
            keys = [k for k in (*_CELL_KEYS, *_FIT_KEYS) if f"{v}_{k}" in self.table]
            per_d = [k for k in keys if "d" in self.table[f"{v}_{k}"].dims]
            sub = xr.Dataset({k: self.table[f"{v}_{k}"] for k in keys if k not in per_d})
            for k in per_d:
                for d in self.dims:
                    sub[f"{k}[d={d}]"] = self.table[f"{v}_{k}"].sel(d=d, drop=True)
            sub = sub.drop_vars([c for c in sub.coords if c not in sub.dims and sub[c].ndim > 0])
            df = sub.to_dataframe().reset_index() if sub.dims else pd.DataFrame({k: [sub[k].item()] for k in sub})
            df.insert(0, "variable", v)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def plot(self, variable: str | None = None, ax: Any = None) -> Any:
        """One d: theory (lines) vs simulation mean ± s.e. (error bars) against the last dimension.
        Several d: the deviation against x = d^-exponent with the fit (:func:`lindiff.plot.deviation_vs_d`).

        Parameters
        ----------
        variable : str, optional
            One of :attr:`variables` (default: the first).
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes
        """
        v = self.variables[0] if variable is None else variable
        if v not in self.variables:
            raise ValueError(f"variable must be one of {self.variables} (got {variable!r})")
        if self.dims:
            from .plot import deviation_vs_d

            return deviation_vs_d(self, v, ax=ax)
        return _plot_single_d(self, v, ax)


def _plot_single_d(val: Validation, v: str, ax: Any) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("Validation.plot needs matplotlib; install it with `pip install lindiff[plot]` "
                          "(the `plot` extra) or `pip install matplotlib`") from err
    th, mean, sem = (val.table[f"{v}_{k}"] for k in ("theory", "mean", "sem"))
    if ax is None:
        _, ax = plt.subplots()
    xdim = th.dims[-1] if th.ndim else None
    others = [d for d in th.dims if d != xdim]
    stacked = [({}, th, mean, sem)] if not others else [
        (dict(zip(others, key)), th.sel(sel), mean.sel(sel), sem.sel(sel)) for key, sel in _combinations(th, others)]
    for labels, t_, m_, s_ in stacked:
        lab = ", ".join(f"{k}={_fmt(x)}" for k, x in labels.items())
        x = np.asarray(t_[xdim].values, dtype=float) if xdim else np.zeros(1)
        line = ax.plot(x, np.atleast_1d(t_.values), "-", label=f"theory {lab}".strip())[0]
        ax.errorbar(x, np.atleast_1d(m_.values), yerr=np.atleast_1d(s_.values), fmt="o", ms=3, capsize=2,
                    color=line.get_color(), label=f"simulation {lab}".strip())
    if xdim:
        ax.set_xlabel(xdim)
        ax.set_xscale("log")
    ax.set_ylabel(v)
    ax.set_title(f"{v}: theory vs simulation ({'passed' if bool(val.table[f'{v}_pass'].all()) else 'FAILED'})")
    ax.legend(fontsize="small")
    return ax


def _combinations(da: xr.DataArray, dims: list[str]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    grids = np.meshgrid(*[da[d].values for d in dims], indexing="ij")
    return [(vals, dict(zip(dims, vals))) for vals in zip(*[g.ravel() for g in grids])]


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (float, int, np.floating, np.integer)) else str(x)


def _max_abs(x: np.ndarray) -> float:
    """Largest |x|, NaN if any entry is NaN (NaN is the worst)."""
    x = np.abs(np.asarray(x, dtype=float))
    return math.nan if x.size == 0 or np.any(np.isnan(x)) else float(np.max(x))


def _fmt_range(x: np.ndarray) -> str:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return f"{x.min():.3g}, {x.max():.3g}" if x.size else "-"


def _scalar(x: Any) -> Any:
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


# ------------------------------------------------------------------------------ matching the inputs

def _same(a: Any, b: Any) -> bool:
    """Coordinate values equal: numbers to a relative tolerance (inf == inf), others exactly."""
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return bool(a == b)
    return fa == fb or math.isclose(fa, fb, rel_tol=_COORD_RTOL, abs_tol=0.0)


def _matches(a: np.ndarray, b: np.ndarray) -> tuple[list[int], list[int]]:
    ia, ib = [], []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            if _same(x, y):
                ia.append(i)
                ib.append(j)
                break
    return ia, ib


def _drop_aux(da: xr.DataArray) -> xr.DataArray:
    """Keep index coordinates and scalar coordinates only."""
    drop = [k for k, c in da.coords.items() if k not in da.dims and c.ndim > 0]
    return da.drop_vars(drop)


def _align_shared(name: str, k: Any, th: xr.DataArray, sim: list[xr.DataArray]
                  ) -> tuple[xr.DataArray, list[xr.DataArray]]:
    """Coordinate k on both sides: matched by value (inner join; a scalar selects from a dimension)."""
    ref = sim[0]
    tv, sv = np.atleast_1d(th[k].values), np.atleast_1d(ref[k].values)
    it, js = _matches(tv, sv)
    if not it:
        raise ValueError(f"{name}: theory and simulation share no value of {k} "
                         f"(theory {k} = {tv.tolist()}, simulation {k} = {sv.tolist()}); nothing to compare")
    t_dim, s_dim = k in th.dims, k in ref.dims
    if t_dim and s_dim:
        th = th.isel({k: it})
        return th, [s.isel({k: js}).assign_coords({k: th[k].values}) for s in sim]
    if t_dim:
        return th.isel({k: it[0]}), [s.drop_vars(k) for s in sim]
    if s_dim:
        return th, [s.isel({k: js[0]}).drop_vars(k) for s in sim]
    return th, [s.drop_vars(k) for s in sim]


def _align(name: str, th: xr.DataArray, sim: list[xr.DataArray]) -> tuple[xr.DataArray, list[xr.DataArray]]:
    """Match th's coordinates with those of the simulation arrays (which share their coordinates).

    A coordinate on both sides is matched by value (inner join; a scalar selects from a
    dimension); a dimension on one side only must have length 1; a scalar coordinate on the
    simulation side only is dropped (metadata). The result carries the theory's labels.
    """
    th = _drop_aux(th)
    sim = [_drop_aux(s) for s in sim]
    for k in sorted(set(th.coords) | set(th.dims) | set(sim[0].coords) | set(sim[0].dims), key=str):
        ref = sim[0]
        t_dim, s_dim = k in th.dims, k in ref.dims
        if k in th.coords and k in ref.coords:
            th, sim = _align_shared(name, k, th, sim)
        elif t_dim and s_dim:  # a dimension without labels on at least one side: positional
            if th.sizes[k] != ref.sizes[k]:
                raise ValueError(f"{name}: dimension {k} has no coordinate to match and different lengths "
                                 f"({th.sizes[k]} in theory, {ref.sizes[k]} in simulation)")
            if k in th.coords:
                sim = [s.assign_coords({k: th[k].values}) for s in sim]
            elif k in ref.coords:
                th = th.assign_coords({k: ref[k].values})
        elif t_dim or s_dim:
            side, arr = ("theory", th) if t_dim else ("simulation", ref)
            if arr.sizes[k] != 1:
                raise ValueError(f"{name}: the {side} has a dimension {k} (length {arr.sizes[k]}) that the other "
                                 f"lacks; select one value of {k} first")
            if t_dim:
                th = th.squeeze(k)
            else:
                sim = [s.squeeze(k, drop=True) for s in sim]
        elif k in ref.coords:  # a scalar coordinate of the simulation only: metadata, not compared
            sim = [s.drop_vars(k) for s in sim]
    return th, sim


def _simulation_dataset(simulation: object, what: str = "simulation") -> xr.Dataset:
    """The simulation as a Dataset: per-draw values (a ``draw`` dimension) or their summary."""
    if isinstance(simulation, xr.Dataset):
        ds = simulation
    elif isinstance(getattr(simulation, "losses", None), xr.Dataset):
        ds = simulation.losses  # type: ignore[attr-defined]
    else:
        raise ValueError(f"{what} must be an xarray.Dataset with a 'draw' dimension (lindiff.simulate.ensemble) "
                         f"or an object with such a Dataset as .losses (got {type(simulation).__name__})")
    if "draw" not in ds.dims:
        summary = any(str(v).endswith("_mean") for v in ds.data_vars) and "n" in ds.attrs
        if not summary:
            raise ValueError(f"{what} has no 'draw' dimension (dims: {tuple(ds.dims)}) and is not a summary "
                             "(<v>_mean, <v>_sem and attrs['n'], as lindiff.simulate.summarize makes)")
    if _draws(ds) < 2:
        raise ValueError(f"{what} needs at least 2 draws for a standard error (got {_draws(ds)})")
    return ds


def _draws(ds: xr.Dataset) -> int:
    return int(ds.sizes["draw"]) if "draw" in ds.dims else int(ds.attrs["n"])


def _summary(ds: xr.Dataset, names: Sequence[str]) -> xr.Dataset:
    """``<v>_mean`` and ``<v>_sem`` of every compared variable: summarised over draws, or as given."""
    per_draw = [v for v in names if v in ds.data_vars and "draw" in ds[v].dims]
    from .simulate import summarize  # the simulator loads on first use

    out = summarize(ds[per_draw], "draw") if per_draw else xr.Dataset()
    given = [f"{v}_{k}" for v in names if v not in per_draw for k in ("mean", "sem")]
    return out.merge(ds[given], compat="override") if given else out


def _theory_dataset(theory: object, what: str = "theory") -> xr.Dataset:
    if not isinstance(theory, xr.Dataset):
        raise ValueError(f"{what} must be an xarray.Dataset from lindiff.theory (got {type(theory).__name__})")
    return theory


def _variables(pairs: Sequence[tuple[xr.Dataset, xr.Dataset]], variables: Sequence[str] | str | None) -> list[str]:
    """The compared variables: given, or those of DEFAULT_VARIABLES in every (theory, simulation) pair."""
    def usable(v: str) -> bool:
        return all(v in th.data_vars and ((v in ds.data_vars and "draw" in ds[v].dims)
                                          or (f"{v}_mean" in ds.data_vars and f"{v}_sem" in ds.data_vars))
                   for th, ds in pairs)

    if variables is None:
        names = [v for v in DEFAULT_VARIABLES if usable(v)]
        if not names:
            th, ds = pairs[0]
            raise ValueError(f"theory and simulation share none of {DEFAULT_VARIABLES} (theory: "
                             f"{sorted(th.data_vars)}, simulation: {sorted(ds.data_vars)}); pass variables=")
        return names
    try:
        names = [variables] if isinstance(variables, str) else list(variables)
    except TypeError:
        names = [variables]   # type: ignore[list-item]
    if not names or not all(isinstance(v, str) for v in names):
        raise ValueError(f"variables must be a variable name or a non-empty sequence of names (got {variables!r})")
    missing = [v for v in names if not usable(v)]
    if missing:
        raise ValueError(f"variables {missing} are not in both theory and simulation (per draw, or as <v>_mean "
                         "and <v>_sem)")
    return names


def _aligned(v: str, theory: xr.Dataset, summary: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Theory, simulation mean and standard error of v on the cells they share, as float arrays."""
    th, (mean, sem) = _align(v, theory[v], [summary[f"{v}_mean"], summary[f"{v}_sem"]])
    th, mean, sem = xr.broadcast(th, mean, sem)
    mean, sem = (a.transpose(*th.dims).assign_coords(th.coords) for a in (mean, sem))  # the theory's labels
    out = tuple(a.copy(data=np.asarray(a.values, dtype=np.float64)) for a in (th, mean, sem))
    return out  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- verdicts

def _z_rel(tv: np.ndarray, mv: np.ndarray, sv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z = (mean - theory)/sem and rel = (mean - theory)/|theory|, with the documented conventions."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        diff = mv - tv
        equal = mv == tv
        z = np.where(equal, 0.0, np.where(sv > 0, diff / sv, np.sign(diff) * np.inf))
        rel = np.where(equal, 0.0, np.where(np.isfinite(tv) & (tv != 0), diff / np.abs(tv), np.sign(diff) * np.inf))
    bad = np.isnan(tv) | np.isnan(mv) | np.isnan(sv)  # NaN anywhere gives NaN, which never passes
    return np.where(bad, np.nan, z), np.where(bad, np.nan, rel)


def _cell(table: xr.Dataset, v: str, flat: int, dims: tuple[int, ...]) -> dict[str, Any]:
    """Everything the table says about one cell of v (flat index over its non-d dimensions)."""
    z = table[f"{v}_z"]
    idx = dict(zip(z.dims, np.unravel_index(flat, z.shape))) if z.ndim else {}
    coords = {str(k): _scalar(z[k].values[i]) for k, i in idx.items()}
    coords.update({str(c): _scalar(z[c].values) for c in z.coords if c not in z.dims and z[c].ndim == 0})
    out: dict[str, Any] = {"variable": v, "coords": coords}
    for key in (*_CELL_KEYS, *_FIT_KEYS):
        if f"{v}_{key}" not in table:
            continue
        da = table[f"{v}_{key}"].isel(idx)
        out["passed" if key == "pass" else key] = ({d: float(da.sel(d=d)) for d in dims} if "d" in da.dims
                                                   else (bool(da) if key == "pass" else float(da)))
    return out


def _worst(table: xr.Dataset, names: Sequence[str], dims: tuple[int, ...]
           ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The cell with the largest |z| (NaN: largest), and the failed one with the largest |z|."""
    best: dict[str, tuple[float, str, int]] = {}
    for v in names:
        score = np.ravel(np.where(np.isnan(table[f"{v}_z"].values), np.inf, np.abs(table[f"{v}_z"].values)))
        ok = np.ravel(table[f"{v}_pass"].values)
        for which, mask in (("all", np.ones(score.shape, dtype=bool)), ("failed", ~ok)):
            if np.any(mask):
                k = int(np.argmax(np.where(mask, score, -1.0)))
                if which not in best or score[k] > best[which][0]:
                    best[which] = (float(score[k]), v, k)
    worst = _cell(table, best["all"][1], best["all"][2], dims)
    failed = _cell(table, best["failed"][1], best["failed"][2], dims) if "failed" in best else None
    return worst, failed


def validate(
    theory: xr.Dataset | Mapping[int, xr.Dataset],
    simulation: object,
    *,
    nsigma: float = 3.0,
    variables: Sequence[str] | str | None = None,
    exponent: float = 1.0,
    order: int = 2,
    familywise: bool = False,
) -> Validation:
    """Compare theory with simulation, cell by cell, on z-scores only; over several d, extrapolated.

    **One d** (``theory`` a Dataset). For every variable present in both (default: among
    ``test, train, data_noise, data_ridge, kl_fwd, kl_rev``) and every coordinate cell the two
    share (N, c, eta_tau, t matched by value; an integer N matches a float one), the simulation's
    mean over draws and its standard error (:func:`lindiff.simulate.summarize`) give

    - ``z = (mean - theory) / sem`` (sem = 0: z = 0 if mean == theory, else ±inf; both infinite
      and equal: z = 0),
    - ``rel = (mean - theory) / |theory|`` (reported, not part of the verdict),

    and the cell passes if and only if ``|z| <= nsigma``; NaN never passes. The deterministic
    equivalent (DE) is exact only as d -> inf: at finite d the ensemble mean differs from it by a
    bias of relative size O(1/d) (O(d^-1/k) for power laws with k > 1), while the standard error
    of a mean over n draws is O(1/(d sqrt(n))), so with enough draws a single-d comparison
    resolves the DE's own finite-size bias and fails. That is a true statement about the DE at
    this d; to test the theory itself, give several d.

    **Several d** (``theory`` and ``simulation`` mappings ``{d: Dataset}`` with the same three or
    more keys, same N/d and the same spectrum family at every d, e.g. from
    :func:`lindiff.simulate.ensemble_over_d`). N is compared as N/d (coordinate ``N_over_d``;
    inputs without an N coordinate are matched on their other coordinates as labelled); each
    cell's deviation ``mean - theory`` at the dimensions d_i is fitted by weighted least squares
    (weights 1/sem²) with ``intercept + a x + b x^2``, x = d^-exponent; the intercept is
    the deviation left at d = inf, and the cell passes if and only if
    ``|intercept| <= nsigma * s.e.(intercept)``. The table reports a, b (the finite-size bias
    coefficients), the intercept, its standard error and z. ``exponent = 1`` (the default) is the
    1/d expansion of a spectrum whose number of relevant directions grows like d (k <= 1); a
    power law with k > 1 has about d^(1/k) eigenvalues above any fixed level and its bias falls
    like d^-1/k: use ``exponent = 1/k`` there (measured in the docs, ``docs/validation.md``).

    Parameters
    ----------
    theory : xarray.Dataset or mapping of int to xarray.Dataset
        From :mod:`lindiff.theory` (``static_losses``, ``gradflow_losses``, ``kl``, ...), or one
        per dimension d.
    simulation : xarray.Dataset, object with ``.losses``, or mapping of int to those
        A Dataset with a ``draw`` dimension (:func:`lindiff.simulate.ensemble`), a training
        result whose ``.losses`` is one, or a summary of one (``<v>_mean``, ``<v>_sem`` and the
        number of draws in ``attrs["n"]``, as :func:`lindiff.simulate.summarize` makes); at
        least 2 draws. A mapping with the keys of ``theory`` when ``theory`` is one.
    nsigma : float
        Pass threshold on |z| (> 0).
    variables : list of str, optional
        Variables to compare (all must be in both inputs, at every d).
    exponent : float
        Several d: the fit's variable is x = d^-exponent (> 0).
    order : {1, 2}
        Several d: the number of powers of x in the fit (2: ``a x + b x^2``, 1: ``a x``); needs
        at least ``order + 1`` dimensions.
    familywise : bool
        ``nsigma`` is the false-alarm rate of the whole comparison, not of each cell: with n cells
        every cell is held to the Šidák threshold ``z_n`` with ``(1 - p_n)^n = 1 - p``, ``p`` the
        two-sided tail of ``nsigma`` (3 sigma, 8 cells: 3.59; 50 cells: 4.02). A correct theory then
        fails the comparison with probability 0.27 %, whatever the number of cells (per cell it
        fails 1 - 0.9973^n of the time: 2 % for 8 cells, 13 % for 50). ``Validation.nsigma``
        holds the threshold used; the z-scores are the same.

    Returns
    -------
    Validation

    Examples
    --------
    >>> import lindiff
    >>> from lindiff import simulate, theory
    >>> spec = lindiff.Spectrum.powerlaw(100, k=1.0)
    >>> sim = simulate.ensemble(spec, N=200, t=[10, 1000], draws=10)
    >>> lindiff.validate(theory.static_losses(spec, 200, t=[10, 1000]), sim).passed
    True
    >>> wrong = theory.static_losses(spec, 220, t=[10, 1000]).assign_coords(N=200)   # theory at N x 1.1
    >>> lindiff.validate(wrong, sim).passed
    False
    """
    nsigma = positive_scalar("nsigma", nsigma)
    flag("familywise", familywise)
    val = _validate_cells(theory, simulation, nsigma, variables, exponent, order)
    return _familywise(val, nsigma) if familywise else val


def _familywise(val: Validation, nsigma: float) -> Validation:
    """The same comparison held to the Šidák threshold of all its cells (see ``familywise``)."""
    from scipy.special import erfc, erfcinv

    n = max(val.n_cells, 1)
    p_cell = -np.expm1(np.log1p(-float(erfc(nsigma / np.sqrt(2.0)))) / n)   # 1 - (1 - p)^(1/n)
    threshold = float(np.sqrt(2.0) * erfcinv(p_cell))
    table = val.table.copy()
    for v in val.variables:
        table[f"{v}_pass"] = np.abs(table[f"{v}_z"]) <= threshold
    table.attrs = {**table.attrs, "nsigma": threshold, "familywise_nsigma": nsigma}
    worst, worst_failed = _worst(table, list(val.variables), val.dims)
    return replace(val, passed=worst_failed is None, table=table, worst=worst, worst_failed=worst_failed,
                   nsigma=threshold, familywise_nsigma=nsigma)


def _validate_cells(theory: object, simulation: object, nsigma: float, variables: Sequence[str] | str | None,
                    exponent: float, order: int) -> Validation:
    """validate's comparison at a per-cell threshold."""
    if _is_mapping(theory) or _is_mapping(simulation):
        return _validate_over_d(theory, simulation, nsigma, variables, exponent, order)
    theory = _theory_dataset(theory)
    ds = _simulation_dataset(simulation)
    names = _variables([(theory, ds)], variables)
    summary = _summary(ds, names)
    table: dict[str, xr.DataArray] = {}
    for v in names:
        th, mean, sem = _aligned(v, theory, summary)
        z, rel = _z_rel(th.values, mean.values, sem.values)
        values = {"theory": th.values, "mean": mean.values, "sem": sem.values, "z": z, "rel": rel,
                  "pass": np.abs(z) <= nsigma}
        for key, x in values.items():
            table[f"{v}_{key}"] = th.copy(data=x).rename(f"{v}_{key}")
            table[f"{v}_{key}"].attrs = {}
    draws = _draws(ds)
    out = xr.Dataset(table, attrs={"nsigma": nsigma, "draws": draws})
    worst, worst_failed = _worst(out, names, ())
    return Validation(passed=worst_failed is None, table=out, worst=worst, worst_failed=worst_failed,
                      nsigma=nsigma, variables=tuple(names), draws=draws)


# ---------------------------------------------------------------------------- finite-size extrapolation

def _is_mapping(x: object) -> bool:
    """A mapping {d: ...} of the several-d form (an xarray.Dataset is a Mapping too, but not this)."""
    return isinstance(x, Mapping) and not isinstance(x, xr.Dataset)


def _over_d_inputs(theory: Any, simulation: Any, order: int
                   ) -> tuple[tuple[int, ...], list[tuple[xr.Dataset, xr.Dataset]]]:
    """The dimensions (sorted) and the (theory, simulation) Dataset pair at each."""
    if not _is_mapping(theory) or not _is_mapping(simulation):
        raise ValueError("theory and simulation must both be Datasets (one d) or both mappings {d: Dataset} "
                         f"(several d); got {type(theory).__name__} and {type(simulation).__name__}")
    if set(theory) != set(simulation):
        raise ValueError(f"theory and simulation must have the same dimensions d as keys (theory: {sorted(theory)}, "
                         f"simulation: {sorted(simulation)})")
    dims = tuple(sorted(positive_int("d (a key of theory)", d) for d in theory))
    if len(dims) < order + 1:
        raise ValueError(f"the finite-size fit with order = {order} needs at least {order + 1} dimensions d "
                         f"(got {list(dims)})")
    pairs = []
    for d in dims:
        th = _theory_dataset(theory[d], f"theory[{d}]")
        ds = _simulation_dataset(simulation[d], f"simulation[{d}]")
        for what, x in (("theory", th), ("simulation", ds)):
            if "d" in x.attrs and not _same(x.attrs["d"], d):
                raise ValueError(f"{what}[{d}] is for d = {x.attrs['d']:g}, not {d}")
        pairs.append((th, ds))
    return dims, pairs


def _per_n_over_d(da: xr.DataArray, d: int) -> xr.DataArray:
    """Replace the sample size N (a dimension or scalar coordinate) by N/d."""
    ratio = np.asarray(da["N"].values, dtype=np.float64) / d
    if "N" in da.dims:
        return da.assign_coords(N=ratio).rename(N="N_over_d")
    return da.drop_vars("N").assign_coords(N_over_d=float(ratio))


def _snap(arrays: list[xr.DataArray], v: str) -> list[xr.DataArray]:
    """Give equal N/d values (to _COORD_RTOL) the first array's label, so that an inner join matches them."""
    has = ["N_over_d" in a.coords for a in arrays]
    if not any(has):
        return arrays
    if not all(has):
        raise ValueError(f"{v}: N is a coordinate at some dimensions d and not at others")
    ref = np.atleast_1d(arrays[0]["N_over_d"].values)
    out = []
    for a in arrays:
        vals = np.atleast_1d(a["N_over_d"].values).astype(np.float64)
        i_ref, i_a = _matches(ref, vals)
        if not i_a:
            raise ValueError(f"{v}: the dimensions d share no value of N/d (first: {ref.tolist()}, "
                             f"another: {vals.tolist()})")
        vals[i_a] = ref[i_ref]
        out.append(a.assign_coords(N_over_d=vals if "N_over_d" in a.dims else vals[0]))
    return out


def _stacked(v: str, dims: tuple[int, ...], pairs: list[tuple[xr.Dataset, xr.Dataset]]
             ) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Theory, mean and sem of v over d, on the cells (N/d, c, eta_tau, t) shared by every d."""
    parts = []
    for d, (th, ds) in zip(dims, pairs):
        arrays = _aligned(v, th, _summary(ds, [v]))
        parts.append([_per_n_over_d(a, d) if "N" in a.coords else a for a in arrays])
    flat = _snap([a for p in parts for a in p], v)
    # a scalar coordinate labels the cells only where every d has it with one value (the key d replaces "d")
    scalars = {str(c) for a in flat for c in a.coords if c not in a.dims}
    keep = {c for c in scalars if c != "d" and all(c in a.coords and _same(a[c].values, flat[0][c].values)
                                                   for a in flat)}
    flat = [a.drop_vars([c for c in a.coords if c not in a.dims and c not in keep]) for a in flat]
    joined = xr.align(*flat, join="inner")
    if any(a.size == 0 for a in joined):
        raise ValueError(f"{v}: the dimensions d share no cell (N/d, c, eta_tau, t); nothing to compare")
    index = xr.DataArray(list(dims), dims="d", name="d")
    return tuple(xr.concat(joined[j::3], dim=index, coords="minimal", compat="override")  # type: ignore[return-value]
                 for j in range(3))


def _fit(dev: np.ndarray, sem: np.ndarray, x: np.ndarray, order: int) -> dict[str, np.ndarray]:
    """Weighted least squares of dev (d first) on 1, x, ..., x^order, per cell.

    Returns the coefficients (``coef``, intercept first, shape (order + 1, cells...)), the
    intercept's standard error and the residual chi-square. Cells where dev is exactly 0 at
    every d (e.g. equal infinities) get zeros; cells with a non-finite value or sem <= 0, or
    whose weights leave the fit undetermined (condition number > 1e12), get NaN.
    """
    shape = dev.shape[1:]
    y, s = dev.reshape(len(x), -1), sem.reshape(len(x), -1)
    exact = np.all(y == 0, axis=0)
    good = np.all(np.isfinite(y) & np.isfinite(s) & (s > 0), axis=0) & ~exact
    X = np.vander(x / x.max(), order + 1, increasing=True)             # conditioning: columns of order 1
    coef = np.where(exact, 0.0, np.nan) * np.ones((order + 1, 1))
    se, chi2 = np.where(exact, 0.0, np.nan), np.where(exact, 0.0, np.nan)
    if np.any(good):
        w = 1.0 / s[:, good] ** 2
        wmax = w.max(axis=0)
        w_rel = w / wmax                                               # the estimate does not depend on the scale
        A = np.einsum("ic,ij,ik->cjk", w_rel, X, X)
        ok = np.linalg.cond(A) < 1e12
        cov = np.full(A.shape, np.nan)
        cov[ok] = np.linalg.inv(A[ok])
        beta = np.einsum("cjk,ic,ik,ic->jc", cov, w_rel, X, y[:, good])
        cols = np.flatnonzero(good)
        coef[:, cols] = beta
        se[cols] = np.sqrt(cov[:, 0, 0] / wmax)
        chi2[cols] = np.sum(w * (y[:, good] - X @ beta) ** 2, axis=0)
    coef /= (x.max() ** np.arange(order + 1))[:, None]                 # back to powers of x itself
    return {"coef": coef.reshape((order + 1, *shape)), "se": se.reshape(shape), "chi2": chi2.reshape(shape)}


def _validate_over_d(theory: object, simulation: object, nsigma: float, variables: Sequence[str] | str | None,
                     exponent: float, order: int) -> Validation:
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 (a x) or 2 (a x + b x^2) (got {order!r})")
    exponent = positive_scalar("exponent", exponent)
    dims, pairs = _over_d_inputs(theory, simulation, order)
    names = _variables(pairs, variables)
    x = np.asarray(dims, dtype=np.float64) ** -exponent
    table: dict[str, xr.DataArray] = {}
    for v in names:
        th, mean, sem = _stacked(v, dims, pairs)
        with np.errstate(invalid="ignore"):
            dev = xr.where(mean == th, 0.0, mean - th)   # the same infinity (e.g. KL at N < d, c = 0) agrees
        fit = _fit(dev.values, sem.values, x, order)
        cell = th.isel(d=0, drop=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            intercept, se = fit["coef"][0], fit["se"]
            z = np.where(intercept == 0, 0.0, intercept / se)
            th_last = th.isel(d=-1).values
            rel = np.where(intercept == 0, 0.0, intercept / np.abs(th_last))
        per_cell = {"a": fit["coef"][1], **({"b": fit["coef"][2]} if order == 2 else {}),
                    "intercept": intercept, "intercept_sem": se, "chi2": fit["chi2"], "z": z, "rel": rel,
                    "pass": np.abs(z) <= nsigma}
        for key, da in (("theory", th), ("mean", mean), ("sem", sem), ("dev", dev)):
            table[f"{v}_{key}"] = da.rename(f"{v}_{key}")
        for key, val in per_cell.items():
            table[f"{v}_{key}"] = cell.copy(data=val).rename(f"{v}_{key}")
        for key in (*_CELL_KEYS, *_FIT_KEYS):
            if f"{v}_{key}" in table:
                table[f"{v}_{key}"].attrs = {}
    draws = [_draws(ds) for _, ds in pairs]
    out = xr.Dataset(table, attrs={"nsigma": nsigma, "dims": list(dims), "draws": draws, "exponent": exponent,
                                   "order": order})
    worst, worst_failed = _worst(out, names, dims)
    return Validation(passed=worst_failed is None, table=out, worst=worst, worst_failed=worst_failed,
                      nsigma=nsigma, variables=tuple(names), draws=min(draws), dims=dims, exponent=exponent,
                      order=order)
