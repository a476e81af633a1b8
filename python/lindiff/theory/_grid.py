"""Shared plumbing of the theory functions: parameter grids, kappa on curves, Dataset assembly."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .. import _core
from .._results import report_convergence
from .._validation import real_array
from ..schedule import Schedule
from ..spectrum import Spectrum

__all__ = ["Axis", "axis", "check_spectrum", "check_schedule", "time_axis", "kappa_curves", "assemble"]


class Axis:
    """A labelled parameter axis: its values (1-D) and whether the user passed a scalar."""

    def __init__(self, name: str, values: NDArray[Any], scalar: bool) -> None:
        self.name, self.values, self.scalar = name, values, scalar

    def __len__(self) -> int:
        return int(self.values.size)


def axis(name: str, value: ArrayLike, *, positive: bool) -> Axis:
    """Validate a scalar or 1-D parameter (``positive``: > 0, else >= 0)."""
    arr = real_array(name, value)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or 1-dimensional (got shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = ~(arr > 0) if positive else ~(arr >= 0)
    if np.any(bad):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} (got {arr[bad].ravel()[0]!r})")
    return Axis(name, np.atleast_1d(arr).astype(np.float64), arr.ndim == 0)


def check_spectrum(spectrum: object) -> Spectrum:
    if not isinstance(spectrum, Spectrum):
        raise ValueError(f"spectrum must be a lindiff.Spectrum (got {type(spectrum).__name__})")
    return spectrum


def check_schedule(schedule: object) -> Schedule:
    if schedule is None:
        return Schedule.linear()
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a lindiff.Schedule or None (got {type(schedule).__name__})")
    return schedule


def time_axis(schedule: Schedule, t: ArrayLike | None) -> tuple[Axis, NDArray[np.int64]]:
    """Diffusion times (1-based; None = all) and their array indices."""
    if t is None:
        return Axis("t", schedule.t, False), np.arange(schedule.T)
    idx = schedule.index(t)
    tt = np.atleast_1d(np.asarray(t)).astype(np.int64)
    return Axis("t", tt, np.ndim(t) == 0), np.atleast_1d(idx)


def kappa_curves(
    spectrum: Spectrum, N: NDArray[np.float64], z: NDArray[np.float64], *, tol: float, strict: bool
) -> dict[str, NDArray[Any]]:
    """kappa and kappa' for rows z[j] (curves) with sample sizes N[j]; shape of z."""
    v, d, conv, its, res, sums = _core.solve_kappa_curves(*spectrum._core_args(), N, np.ascontiguousarray(z),
                                                          tol=tol)
    out = {k: a.reshape(z.shape) for k, a in
           (("kappa", v), ("kappa_prime", d), ("converged", conv), ("iterations", its), ("residual", res),
            ("s1", sums[:, 0]), ("df1", sums[:, 1]), ("df2", sums[:, 2]), ("e12", sums[:, 3]))}
    n_bad = int(conv.size - np.count_nonzero(conv))
    report_convergence(n_bad == 0, f"kappa: {n_bad} of {conv.size} points did not converge "
                       f"(max residual {np.nanmax(res):.3g}); see the Dataset's kappa_converged", out, strict,
                       stacklevel=4)
    return out


def assemble(variables: dict[str, tuple[tuple[str, ...], NDArray[Any], str]], axes: list[Axis],
             attrs: dict[str, Any]) -> xr.Dataset:
    """Build a Dataset; scalar axes become scalar coordinates (dims "as given").

    Scalar axes are dropped from the variables before the Dataset is built (one construction;
    squeezing a built Dataset copied every variable once per scalar axis: a one-point call spent
    ~75% of its time there)."""
    scalar = {ax.name for ax in axes if ax.scalar}
    coords = {ax.name: ((), ax.values[0]) if ax.scalar else (ax.name, ax.values) for ax in axes}
    data_vars = {}
    for name, (dims, arr, desc) in variables.items():
        if scalar and not scalar.isdisjoint(dims):
            arr = np.asarray(arr)[tuple(0 if d in scalar else slice(None) for d in dims)]
            dims = tuple(d for d in dims if d not in scalar)
        data_vars[name] = xr.Variable(dims, arr, attrs={"description": desc})
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
