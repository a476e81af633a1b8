"""Argument checks shared by the Python API: every bad input becomes a ValueError naming it."""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["positive_scalar", "real_array", "positive_array", "nonneg_scalar", "positive_int"]

_HUGE = float.fromhex("0x1.fffffffffffffp+1023")  # the largest finite double


def positive_scalar(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number > 0."""
    t = type(value)
    if (t is float or t is int) and 0 < value < _HUGE:  # type: ignore[operator]  # the common case, cheaply
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        arr = np.asarray(value)
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must be a real scalar > 0 (got {value!r})")
        value = arr.item()
    try:
        x = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond the float range
        x = math.inf
    if not math.isfinite(x) or x <= 0:
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
    if type(value) is int and value >= minimum:  # the common case, cheaply
        return value
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
