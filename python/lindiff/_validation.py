"""Argument checks shared by the Python API: every bad input becomes a ValueError naming it."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from .schedule import Schedule
    from .spectrum import Spectrum

__all__ = ["positive_scalar", "real_array", "positive_array", "nonneg_scalar", "positive_int", "check_spectrum",
           "check_schedule"]


def positive_scalar(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        arr = np.asarray(value)
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must be a real scalar > 0 (got {value!r})")
        value = arr.item()
    x = float(value)  # type: ignore[arg-type]
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be finite and > 0 (got {value!r})")
    return x


def nonneg_scalar(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number >= 0."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real scalar >= 0 (got {value!r})") from None
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be finite and >= 0 (got {value!r})")
    return x


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum} (got {value!r})")
    v = int(value)  # type: ignore[arg-type]
    if v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} (got {v})")
    return v


def real_array(name: str, value: ArrayLike, *, ndim: int | None = None) -> NDArray[np.float64]:
    """Convert to a float64 array, rejecting complex, non-numeric and non-finite entries."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real (got a complex array)")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array (got dtype {arr.dtype})")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional (got shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (contains NaN or inf)")
    return arr


def positive_array(name: str, value: ArrayLike, *, ndim: int | None = None) -> NDArray[np.float64]:
    """Like :func:`real_array`, and every entry must be > 0."""
    arr = real_array(name, value, ndim=ndim)
    if arr.size and not np.all(arr > 0):
        bad = arr[~(arr > 0)].ravel()[0]
        raise ValueError(f"{name} must be > 0 everywhere (got {bad!r})")
    return arr


def check_spectrum(spectrum: object, name: str = "spectrum") -> Spectrum:
    """``spectrum`` itself after checking it is a :class:`lindiff.Spectrum`."""
    from .spectrum import Spectrum

    if not isinstance(spectrum, Spectrum):
        raise ValueError(f"{name} must be a lindiff.Spectrum (got {type(spectrum).__name__})")
    return spectrum


def check_schedule(schedule: object, name: str = "schedule") -> Schedule:
    """``schedule`` itself after checking it is a :class:`lindiff.Schedule`; None is the default
    linear schedule."""
    from .schedule import Schedule

    if schedule is None:
        return Schedule.linear()
    if not isinstance(schedule, Schedule):
        raise ValueError(f"{name} must be a lindiff.Schedule or None (got {type(schedule).__name__})")
    return schedule
