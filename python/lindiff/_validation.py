"""Argument checks shared by the Python API: every bad input becomes a ValueError naming it."""

from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from .schedule import Schedule
    from .spectrum import Spectrum

__all__ = ["positive_scalar", "real_scalar", "real_array", "positive_array", "nonneg_scalar", "positive_int",
           "flag", "choice", "optional_callable", "positive_interval", "physical_memory", "check_memory",
           "check_spectrum", "check_schedule"]

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


def real_scalar(name: str, value: object, *, minimum: float = -np.inf, maximum: float = np.inf,
                allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it is a real number (not a bool, a string or a
    complex) in ``[minimum, maximum]``, finite unless ``allow_inf``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        arr = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray(None)
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name} must be a real number in [{minimum:g}, {maximum:g}] (got {value!r})")
        value = arr.item()
    try:
        x = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond the float range
        x = math.inf if value > 0 else -math.inf  # type: ignore[operator]
    if np.isnan(x) or (not allow_inf and not np.isfinite(x)) or not minimum <= x <= maximum:
        raise ValueError(f"{name} must be a {'' if allow_inf else 'finite '}real number in [{minimum:g}, "
                         f"{maximum:g}] (got {value!r})")
    return x


def nonneg_scalar(name: str, value: object) -> float:
    """Return ``value`` as a float after checking it is a finite real number >= 0."""
    return real_scalar(name, value, minimum=0.0)


def flag(name: str, value: object) -> bool:
    """Return ``value`` as a bool after checking it is one (True/False, numpy bools; not 0/1 or a string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False (got {value!r})")
    return bool(value)


def choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of the strings ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed} (got {value!r})")
    return value


def optional_callable(name: str, value: object) -> object:
    """Return ``value`` after checking it is callable or None."""
    if value is not None and not callable(value):
        raise ValueError(f"{name} must be callable or None (got {type(value).__name__})")
    return value


def positive_interval(name: str, value: object) -> tuple[float, float]:
    """A pair (lo, hi) of reals with 0 < lo < hi < inf."""
    try:
        lo, hi = (real_scalar(name, v, minimum=0.0) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) with 0 < lo < hi < inf (got {value!r})") from None
    if not 0 < lo < hi:
        raise ValueError(f"{name} must be a pair (lo, hi) with 0 < lo < hi < inf (got {value!r})")
    return lo, hi


def positive_int(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[minimum, maximum]``."""
    if type(value) is int and minimum <= value and (maximum is None or value <= maximum):  # the common case
        return value
    span = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer {span} (got {value!r})")
    v = int(value)  # type: ignore[arg-type]
    if v < minimum or (maximum is not None and v > maximum):
        raise ValueError(f"{name} must be an integer {span} (got {v})")
    return v


def physical_memory() -> float:
    """This machine's physical memory in bytes (inf where the OS does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: no stated limit
        return float("inf")


def check_memory(what: str, nbytes: float, detail: str, hint: str) -> None:
    """A ValueError that states the size, instead of a MemoryError (or a swap storm) deep inside
    NumPy, when ``what`` would need more than the machine's physical memory."""
    have = physical_memory()
    if nbytes > have:
        raise ValueError(f"{what} needs about {nbytes / 2**30:.3g} GiB ({detail}), more than this machine's "
                         f"{have / 2**30:.3g} GiB; {hint}")


def real_array(name: str, value: ArrayLike, *, ndim: int | None = None, allow_inf: bool = False
               ) -> NDArray[np.float64]:
    """Convert to a float64 array, rejecting complex, non-numeric, NaN and (unless ``allow_inf``)
    infinite entries."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):   # ragged nesting
        raise ValueError(f"{name} must be a numeric array (got {type(value).__name__})") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real (got a complex array)")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array (got dtype {arr.dtype})")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional (got shape {arr.shape})")
    if allow_inf:
        if np.any(np.isnan(arr)):
            raise ValueError(f"{name} must not contain NaN")
    elif not np.all(np.isfinite(arr)):
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
