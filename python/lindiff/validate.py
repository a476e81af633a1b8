"""Theory vs simulation, cell by cell: deviations in standard errors and relative terms, a verdict.

:func:`validate` takes a deterministic-equivalent Dataset from :mod:`lindiff.theory` and a
simulation with a ``draw`` dimension (:func:`lindiff.simulate.ensemble`, or the ``losses`` of a
training result), matches their coordinates by value, and compares the simulation's mean over
draws with the theory in units of its standard error.

Examples
--------
>>> import lindiff
>>> from lindiff import simulate, theory
>>> spec = lindiff.Spectrum.powerlaw(100, k=1.0)
>>> sim = simulate.ensemble(spec, N=[50, 200], t=[1, 100, 1000], draws=10)
>>> val = lindiff.validate(theory.static_losses(spec, [50, 200], t=[1, 100, 1000]), sim)
>>> val.passed, sorted(val.table.data_vars)[:3]
(True, ['data_noise_mean', 'data_noise_pass', 'data_noise_rel'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ._display import Cell, html_table, text_table
from ._validation import nonneg_scalar
from .simulate import summarize

__all__ = ["DEFAULT_VARIABLES", "Validation", "validate"]

DEFAULT_VARIABLES = ("test", "train", "data_noise", "data_ridge", "kl_fwd", "kl_rev")
_COORD_RTOL = 1e-9  # coordinates (N, c, eta_tau, t) match when equal to this relative tolerance


@dataclass(frozen=True, eq=False)
class Validation:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    passed : bool
        Every compared cell passed: ``|z| <= nsigma`` or ``|rel| <= rtol``.
    table : xarray.Dataset
        Per variable v: ``v_theory``, ``v_mean``, ``v_sem`` (simulation mean and its standard
        error), ``v_z = (v_mean - v_theory) / v_sem``, ``v_rel = (v_mean - v_theory) / |v_theory|``
        and ``v_pass``, on the coordinates the two inputs share.
    worst : dict
        The cell with the largest |z| (NaN counts as largest): ``variable``, ``coords``, ``z``,
        ``rel``, ``theory``, ``mean``, ``sem``, ``passed``.
    worst_failed : dict or None
        The failed cell with the largest |z| (same keys), None when every cell passed.
    nsigma, rtol : float
        The thresholds used.
    variables : tuple of str
        The compared variables.
    draws : int
        Number of draws behind each mean.
    """

    passed: bool
    table: xr.Dataset = field(repr=False)
    worst: dict[str, Any]
    worst_failed: dict[str, Any] | None
    nsigma: float
    rtol: float
    variables: tuple[str, ...]
    draws: int

    def _cells(self) -> list[Cell]:
        cells: list[Cell] = [("verdict", "PASSED" if self.passed else "FAILED", self.passed),
                             ("draws", str(self.draws), None),
                             ("nsigma", f"{self.nsigma:g}", None), ("rtol", f"{self.rtol:g}", None)]
        for v in self.variables:
            ok = self.table[f"{v}_pass"]
            z = np.abs(self.table[f"{v}_z"].values)
            zmax = float(np.nanmax(z)) if np.any(~np.isnan(z)) else math.nan
            if np.any(np.isnan(z)):
                zmax = math.nan
            rel = np.abs(self.table[f"{v}_rel"].values)
            relmax = float(np.max(rel)) if not np.any(np.isnan(rel)) else math.nan
            cells.append((v, f"{int(ok.sum())}/{ok.size} cells pass, max |z| {zmax:.3g}, max |rel| {relmax:.2g}",
                          bool(ok.all())))
        for label, w in (("largest |z|", self.worst), ("worst failure", self.worst_failed)):
            if w is not None:
                where = ", ".join(f"{k}={_fmt(val)}" for k, val in w["coords"].items())
                cells.append((label, f"{w['variable']} at {where or '-'}: z = {w['z']:.3g}, rel = {w['rel']:.2g}",
                              w["passed"]))
        return cells

    def __repr__(self) -> str:
        return text_table("Validation: theory vs simulation", self._cells(), columns=1)

    def _repr_html_(self) -> str:
        return html_table("Validation: theory vs simulation", self._cells(), columns=1)

    def plot(self, variable: str | None = None, ax: Any = None) -> Any:
        """Theory (lines) vs simulation mean ± standard error (error bars) against the last dimension.

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
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("Validation.plot needs matplotlib; install it with `pip install lindiff[plot]` "
                              "(the `plot` extra) or `pip install matplotlib`") from err
        v = self.variables[0] if variable is None else variable
        if v not in self.variables:
            raise ValueError(f"variable must be one of {self.variables} (got {variable!r})")
        th, mean, sem = (self.table[f"{v}_{k}"] for k in ("theory", "mean", "sem"))
        if ax is None:
            _, ax = plt.subplots()
        xdim = th.dims[-1] if th.ndim else None
        others = [d for d in th.dims if d != xdim]
        stacked = [({}, th, mean, sem)] if not others else [
            (dict(zip(others, key if isinstance(key, tuple) else (key,))), th.sel(sel), mean.sel(sel), sem.sel(sel))
            for key, sel in _combinations(th, others)]
        for labels, t_, m_, s_ in stacked:
            lab = ", ".join(f"{k}={_fmt(val)}" for k, val in labels.items())
            x = np.asarray(t_[xdim].values, dtype=float) if xdim else np.zeros(1)
            line = ax.plot(x, np.atleast_1d(t_.values), "-", label=f"theory {lab}".strip())[0]
            ax.errorbar(x, np.atleast_1d(m_.values), yerr=np.atleast_1d(s_.values), fmt="o", ms=3, capsize=2,
                        color=line.get_color(), label=f"simulation {lab}".strip())
        if xdim:
            ax.set_xlabel(xdim)
            ax.set_xscale("log")
        ax.set_ylabel(v)
        ax.set_title(f"{v}: theory vs simulation ({'passed' if bool(self.table[f'{v}_pass'].all()) else 'FAILED'})")
        ax.legend(fontsize="small")
        return ax


def _combinations(da: xr.DataArray, dims: list[str]) -> list[tuple[Any, dict[str, Any]]]:
    grids = np.meshgrid(*[da[d].values for d in dims], indexing="ij")
    out = []
    for vals in zip(*[g.ravel() for g in grids]):
        out.append((vals, dict(zip(dims, vals))))
    return out


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (float, int, np.floating, np.integer)) else str(x)


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
        in_t, in_s = k in th.coords, k in ref.coords
        t_dim, s_dim = k in th.dims, k in ref.dims
        if in_t and in_s:
            tv, sv = np.atleast_1d(th[k].values), np.atleast_1d(ref[k].values)
            it, js = _matches(tv, sv)
            if not it:
                raise ValueError(f"{name}: theory and simulation share no value of {k} "
                                 f"(theory {k} = {tv.tolist()}, simulation {k} = {sv.tolist()}); nothing to compare")
            if t_dim and s_dim:
                th = th.isel({k: it})
                sim = [s.isel({k: js}).assign_coords({k: th[k].values}) for s in sim]
            elif t_dim:
                th = th.isel({k: it[0]})
                sim = [s.drop_vars(k) for s in sim]
            elif s_dim:
                sim = [s.isel({k: js[0]}).drop_vars(k) for s in sim]
            else:
                sim = [s.drop_vars(k) for s in sim]
        elif t_dim and s_dim:  # a dimension without labels on at least one side: positional
            if th.sizes[k] != ref.sizes[k]:
                raise ValueError(f"{name}: dimension {k} has no coordinate to match and different lengths "
                                 f"({th.sizes[k]} in theory, {ref.sizes[k]} in simulation)")
            if in_t:
                sim = [s.assign_coords({k: th[k].values}) for s in sim]
            elif in_s:
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
        elif in_s:  # a scalar coordinate of the simulation only: metadata, not compared
            sim = [s.drop_vars(k) for s in sim]
    return th, sim


def _simulation_dataset(simulation: object) -> xr.Dataset:
    if isinstance(simulation, xr.Dataset):
        ds = simulation
    elif isinstance(getattr(simulation, "losses", None), xr.Dataset):
        ds = simulation.losses  # type: ignore[attr-defined]
    else:
        raise ValueError("simulation must be an xarray.Dataset with a 'draw' dimension (lindiff.simulate.ensemble) "
                         f"or an object with such a Dataset as .losses (got {type(simulation).__name__})")
    if "draw" not in ds.dims:
        raise ValueError(f"simulation has no 'draw' dimension (dims: {tuple(ds.dims)})")
    if ds.sizes["draw"] < 2:
        raise ValueError(f"simulation needs at least 2 draws for a standard error (got {ds.sizes['draw']})")
    return ds


def validate(
    theory: xr.Dataset,
    simulation: object,
    *,
    nsigma: float = 3.0,
    rtol: float | None = None,
    variables: list[str] | tuple[str, ...] | None = None,
) -> Validation:
    """Compare a theory Dataset with a simulation ensemble, cell by cell.

    For every variable present in both (default: among ``test, train, data_noise, data_ridge,
    kl_fwd, kl_rev``) and every coordinate cell the two share (N, c, eta_tau, t matched by value;
    an integer N matches a float one), the simulation's mean over draws and its standard error
    (:func:`lindiff.simulate.summarize`) give

    - ``z = (mean - theory) / sem`` (sem = 0: z = 0 if mean == theory, else ±inf; both infinite
      and equal: z = 0),
    - ``rel = (mean - theory) / |theory|``,

    and the cell passes if ``|z| <= nsigma`` or ``|rel| <= rtol``; NaN never passes.

    **Why a relative tolerance.** The deterministic equivalent (DE) is exact only as d, N -> inf.
    At finite d the ensemble mean differs from it by a bias of relative size O(1/d), while the
    standard error of a mean over n draws is O(1/(d sqrt(n))): with enough draws the z-test
    resolves the DE's own finite-d error, and a pure z-test (``rtol=0``) fails for a correct
    theory. Measured for the static losses at k = 1, N/d in {0.5, 2}, d = 100, 200, 400 (300 to
    1200 draws): ``|mean - DE| / DE`` is at most about 0.5/d (test loss at N = d/2: +0.4/d;
    train loss: -0.3/d; the same coefficients at every d), e.g. the inverse moment behind the
    train loss at N < d is exactly N/(d - N - 1) for Wishart matrices against the DE's
    N/(d - N). With 20 draws that bias alone gives z of -2.5 on the train loss at small t, so
    rtol = 0 fails in about 3 of 4 seeds at d = 200. The default ``rtol = 2/d`` (d from the
    theory's ``d`` attribute) accepts four times the measured DE bias, while a theory evaluated
    at a wrong N (x1.5) is off by ~30% and still fails. Near the hard edge N ≈ d the DE's
    corrections grow like 1/|N - d|: pass a larger ``rtol`` there. For the KL compare with
    :func:`lindiff.theory.kl` with ``finite_d=True`` (the plain DE sits 1/(4N) low).

    Parameters
    ----------
    theory : xarray.Dataset
        From :mod:`lindiff.theory` (``static_losses``, ``gradflow_losses``, ``kl``, ...).
    simulation : xarray.Dataset or object with ``.losses``
        A Dataset with a ``draw`` dimension (:func:`lindiff.simulate.ensemble`), or a training
        result whose ``.losses`` is one. At least 2 draws.
    nsigma : float
        Pass threshold on |z| (> 0).
    rtol : float, optional
        Pass threshold on |rel| (>= 0), an alternative to the z-test. Default ``2/d`` with d the
        theory's (or else the simulation's) ``d`` attribute, 0 when neither has one.
    variables : list of str, optional
        Variables to compare (all must be in both inputs).

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
    >>> wrong = theory.static_losses(spec, 100, t=[10, 1000]).assign_coords(N=200)   # theory at the wrong N
    >>> lindiff.validate(wrong, sim).passed
    False
    """
    if not isinstance(theory, xr.Dataset):
        raise ValueError(f"theory must be an xarray.Dataset from lindiff.theory (got {type(theory).__name__})")
    ds = _simulation_dataset(simulation)
    nsigma = nonneg_scalar("nsigma", nsigma)
    if nsigma <= 0:
        raise ValueError(f"nsigma must be > 0 (got {nsigma!r})")
    if rtol is None:
        d = theory.attrs.get("d", ds.attrs.get("d"))
        rtol = 2.0 / float(d) if d is not None and float(d) > 0 else 0.0
    rtol = nonneg_scalar("rtol", rtol)
    if variables is None:
        names = [v for v in DEFAULT_VARIABLES if v in theory.data_vars and v in ds.data_vars and "draw" in ds[v].dims]
        if not names:
            raise ValueError(f"theory and simulation share none of {DEFAULT_VARIABLES} (theory: "
                             f"{sorted(theory.data_vars)}, simulation: {sorted(ds.data_vars)}); pass variables=")
    else:
        if isinstance(variables, str):
            variables = [variables]
        names = list(variables)
        if not names:
            raise ValueError("variables must not be empty")
        missing = [v for v in names if v not in theory.data_vars or v not in ds.data_vars or "draw" not in ds[v].dims]
        if missing:
            raise ValueError(f"variables {missing} are not in both theory and simulation (with a 'draw' dimension)")
    summary = summarize(ds[names], "draw")
    table: dict[str, xr.DataArray] = {}
    worst: dict[str, Any] | None = None
    worst_failed: dict[str, Any] | None = None
    for v in names:
        th, (mean, sem) = _align(v, theory[v], [summary[f"{v}_mean"], summary[f"{v}_sem"]])
        th, mean, sem = xr.broadcast(th, mean, sem)
        tv, mv, sv = (np.asarray(a.values, dtype=np.float64) for a in (th, mean, sem))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            diff = mv - tv
            equal = mv == tv
            z = np.where(equal, 0.0, np.where(sv > 0, diff / sv, np.sign(diff) * np.inf))
            rel = np.where(equal, 0.0, np.where(np.isfinite(tv) & (tv != 0), diff / np.abs(tv),
                                                np.sign(diff) * np.inf))
        # NaN anywhere (a failed theory point, NaN in the simulation) gives NaN, which never passes
        bad = np.isnan(tv) | np.isnan(mv) | np.isnan(sv)
        z, rel = np.where(bad, np.nan, z), np.where(bad, np.nan, rel)
        ok = (np.abs(z) <= nsigma) | (np.abs(rel) <= rtol)
        coords = th.coords
        table[f"{v}_theory"] = th.copy(data=tv)
        table[f"{v}_mean"] = th.copy(data=mv)
        table[f"{v}_sem"] = th.copy(data=sv)
        table[f"{v}_z"] = th.copy(data=z)
        table[f"{v}_rel"] = th.copy(data=rel)
        table[f"{v}_pass"] = th.copy(data=ok)
        score = np.where(np.isnan(z), np.inf, np.abs(z))
        for which, mask in (("all", np.ones(score.shape, dtype=bool)), ("failed", ~ok)):
            if not np.any(mask):
                continue
            masked = np.where(mask, score, -1.0)
            k = int(np.argmax(masked))
            best = worst if which == "all" else worst_failed
            if best is not None and masked.ravel()[k] <= best["_score"]:
                continue
            idx = np.unravel_index(k, score.shape) if score.ndim else ()
            where = {dim: _scalar(coords[dim].values[i]) for dim, i in zip(th.dims, idx)}
            where.update({c: _scalar(coords[c].values) for c in coords if c not in th.dims})
            cell = {"variable": v, "coords": where, "z": float(z.ravel()[k]), "rel": float(rel.ravel()[k]),
                    "theory": float(tv.ravel()[k]), "mean": float(mv.ravel()[k]), "sem": float(sv.ravel()[k]),
                    "passed": bool(ok.ravel()[k]), "_score": float(masked.ravel()[k])}
            if which == "all":
                worst = cell
            else:
                worst_failed = cell
        for key in ("theory", "mean", "sem", "z", "rel", "pass"):
            table[f"{v}_{key}"].attrs = {}
            table[f"{v}_{key}"].name = f"{v}_{key}"
    assert worst is not None
    worst.pop("_score")
    if worst_failed is not None:
        worst_failed.pop("_score")
    out = xr.Dataset(table, attrs={"nsigma": nsigma, "rtol": rtol, "draws": int(ds.sizes["draw"])})
    passed = all(bool(out[f"{v}_pass"].all()) for v in names)
    return Validation(passed=passed, table=out, worst=worst, worst_failed=worst_failed, nsigma=nsigma, rtol=rtol, variables=tuple(names),
                      draws=int(ds.sizes["draw"]))


def _scalar(x: Any) -> Any:
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x
