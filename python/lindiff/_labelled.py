"""Labelled results: parameter axes, Dataset assembly and NetCDF-safe attributes.

Shared by :mod:`lindiff.theory`, :mod:`lindiff.simulate`, :mod:`lindiff.sweep` and
:mod:`lindiff.reproduce`, so a theory Dataset and a simulated one carry the same coordinates.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._lazy import lazy_module
from ._validation import real_array
from .schedule import Schedule

xr = lazy_module("xarray")

__all__ = ["Axis", "axis", "sample_size_axis", "time_axis", "assemble", "netcdf_safe", "N_OVER_D_RANGE"]

N_OVER_D_RANGE = (1e-10, 1e10)   # the theory's sample sizes per dimension (the kernel's DE measures check the same)


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


def sample_size_axis(N: ArrayLike, d: float) -> Axis:
    """The sample sizes N of a theory function: > 0 with ``1e-10 <= N/d <= 1e10`` (outside, the DE's
    scales over- or underflow double precision; no data set lies there)."""
    ax = axis("N", N, positive=True)
    lo, hi = N_OVER_D_RANGE
    ratio = ax.values / float(d)
    bad = ~((ratio >= lo) & (ratio <= hi))
    if np.any(bad):
        raise ValueError(f"N must satisfy {lo:g} <= N/d <= {hi:g} (got N = {ax.values[bad][0]:.6g}, d = {d:.6g})")
    return ax


def time_axis(schedule: Schedule, t: ArrayLike | None) -> tuple[Axis, NDArray[np.int64]]:
    """Diffusion times (1-based; None = all) and their array indices."""
    if t is None:
        return Axis("t", schedule.t, False), np.arange(schedule.T)
    idx = schedule.index(t)
    tt = np.atleast_1d(np.asarray(t)).astype(np.int64)
    return Axis("t", tt, np.ndim(t) == 0), np.atleast_1d(idx)


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


def netcdf_safe(ds: xr.Dataset) -> xr.Dataset:
    """Attributes netCDF can store: bools -> int, other non-numbers -> str; object coords -> str."""
    def clean(attrs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in attrs.items():
            if isinstance(v, (bool, np.bool_)):
                out[k] = int(v)
            elif isinstance(v, (str, numbers.Number, np.number)):
                out[k] = v
            else:
                out[k] = str(v)
        return out

    ds = ds.copy()
    ds.attrs = clean(ds.attrs)
    for k in ds.variables:
        ds[k].attrs = clean(ds[k].attrs)
        if ds[k].dtype == object:
            ds[k] = ds[k].astype(str)
    return ds
