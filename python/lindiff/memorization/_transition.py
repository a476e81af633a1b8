"""The memorization transition: P(Delta > 0) over training-set draws as a function of N."""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._lazy import lazy_module
from .._validation import choice, positive_int
from ._criterion import ReferenceSample, relative_distance

xr = lazy_module("xarray")
stats = lazy_module("scipy.stats")

__all__ = ["Turnover", "crossing", "distance_turnover", "plot_transition", "transition"]

_REFERENCE = ("kde", "exact")
_P_DEFINITION = ("P(Delta > 0) = (repeats with Delta > 0) / (repeats whose sign is determined); a sign is "
                 "undetermined when |Delta| is not above relative_distance's rounding-error bound "
                 "(n_undetermined per N, excluded; p_positive_min/max count them as negative/positive)")
_TAG_FIT, _TAG_REF, _TAG_MC, _TAG_BOOT, _TAG_TURN = 1, 2, 3, 4, 5   # spawn_key tags of the seed streams


def _child(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))


def _one_repeat(model_factory: Callable[[int], Any], N_values: Sequence[int], r: int, seed: int,
                settings: dict[str, Any]) -> dict[str, NDArray[np.float64]]:
    """Every N for repeat r: one reference set (its self-overlap cached), one training set per N."""
    nN = len(N_values)
    out = {k: np.full(nN, np.nan) for k in ("sign", "log_abs_delta", "log_resolution", "log_stderr", "kl_fwd",
                                            "kl_rev", "hellinger2")}
    reference: Any = None
    for i, N in enumerate(N_values):
        model = model_factory(int(N))
        if reference is None:
            if settings["reference"] == "exact":
                if getattr(model, "data_law", None) is None:
                    raise ValueError("reference='exact' needs a model with a Gaussian data_law")
                reference = model.data_law
            else:
                reference = ReferenceSample(model.sample_data(settings["reference_size"], _child(seed, _TAG_REF, r)))
        fit = model.fit(_child(seed, _TAG_FIT, N, r))
        res = relative_distance(fit.train, reference, fit.generated, bandwidth=settings["bandwidth"],
                                distance=settings["distance"], sigma=model.sigma,
                                n_samples=settings["n_samples"], seed=_child(seed, _TAG_MC, N, r))
        out["sign"][i] = float(res.sign)
        out["log_abs_delta"][i] = res.log_abs_delta
        out["log_resolution"][i] = res.log_resolution
        out["log_stderr"][i] = res.log_stderr
        for k in ("kl_fwd", "kl_rev", "hellinger2"):
            out[k][i] = float(getattr(fit, k, math.nan))
    return out


def _many_repeats(model_factory: Callable[[int], Any], N_values: Sequence[int], repeats: Sequence[int],
                  seed: int, settings: dict[str, Any]) -> list[dict[str, NDArray[np.float64]]]:
    return [_one_repeat(model_factory, N_values, r, seed, settings) for r in repeats]


def crossing(x: ArrayLike, p: ArrayLike, level: float) -> float:
    """The x above which p stays at or above ``level``: the last upward crossing, interpolated in ln x.

    With j the first index from which every ``p[j:] >= level``, the crossing lies between x[j-1]
    and x[j] (linear interpolation of p in ln x).  NaN when p ends below the level (no crossing in
    the grid) or when p is at or above it everywhere (the crossing lies below the grid).  Taking the
    last crossing makes the answer robust to an early excursion above the level (e.g. at N << d
    for some readings of the criterion) followed by a dip.

    Examples
    --------
    >>> from lindiff.memorization import crossing
    >>> round(crossing([10, 20, 40], [0.0, 0.25, 0.75], 0.5), 4)      # geometric midpoint of 20 and 40
    28.2843
    >>> round(crossing([10, 20, 40, 80], [0.9, 0.1, 0.3, 0.7], 0.5), 4)   # the early excursion is ignored
    56.5685
    """
    xa, pa = np.asarray(x, dtype=np.float64), np.asarray(p, dtype=np.float64)
    below = np.nonzero(~(pa >= level))[0]
    if below.size == 0 or below[-1] == pa.size - 1:
        return math.nan
    j = int(below[-1]) + 1
    p0, p1 = pa[j - 1], pa[j]
    w = (level - p0) / (p1 - p0)
    return float(math.exp((1.0 - w) * math.log(xa[j - 1]) + w * math.log(xa[j])))


def _p_over_determined(sign: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fraction of the determined signs (+1 or -1) that are +1, along the last axis (NaN if none)."""
    k_pos = np.sum(sign > 0, axis=-1)
    n_det = np.sum(sign != 0, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_det > 0, k_pos / np.maximum(n_det, 1), np.nan)


def _crossing_defined(N: NDArray[np.float64], p: NDArray[np.float64], level: float) -> float:
    """:func:`crossing` over the N where p is defined (some sign determined there)."""
    ok = np.isfinite(p)
    return crossing(N[ok], p[ok], level) if np.any(ok) else math.nan


def _bootstrap_crossings(N: NDArray[np.float64], sign: NDArray[np.float64], levels: Sequence[float],
                         n_boot: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """(n_boot, len(levels)) crossings of P(Delta > 0) (over the determined signs) with the repeats
    resampled within each N."""
    nN, R = sign.shape
    idx = rng.integers(0, R, size=(n_boot, nN, R))
    p = _p_over_determined(np.take_along_axis(np.broadcast_to(sign, (n_boot, nN, R)), idx, axis=2))
    return np.array([[_crossing_defined(N, p[b], lv) for lv in levels] for b in range(n_boot)])


def transition(
    model_factory: Callable[[int], Any],
    N_values: ArrayLike,
    *,
    repeats: int,
    reference_size: int = 10_000,
    seed: int = 0,
    executor: Executor | None = None,
    bandwidth: str | float = "halder",
    distance: str = "l2",
    reference: str = "kde",
    n_samples: int = 4096,
    threshold: float = 0.95,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    chunk: int | None = None,
) -> xr.Dataset:
    r"""P(Delta > 0) vs N: the relative-distance criterion over repeated training-set draws.

    Each draw's sign comes from :func:`relative_distance` with its floating-point resolution: a
    draw whose |Delta| is not above the rounding-error bound has an undetermined sign, is counted
    in ``n_undetermined`` and left out of ``p_positive`` (see Returns).

    Parameters
    ----------
    model_factory : callable N -> model
        Builds the memorization model for N training points, e.g. ``OneStepModel(8, 2).with_N`` or
        ``functools.partial(OneStepModel, 8)``, ``LinearDiffusionModel(spec, 2).with_N``, or a
        :class:`GeneratorModel`'s ``with_N`` for your own sampler (see ``lindiff.memorization._models``
        for what a model provides).  Must be picklable to run on a process executor.
    N_values : array of int
        Increasing training-set sizes (the spec keeps N <= reference_size / 4).
    repeats : int
        Training sets per N.
    reference_size : int
        M, the size of the reference set (default 10^4).  Reference set r is shared by every N of
        repeat r (common random numbers: smoother curves), and its KDE self-overlap is computed once.
    seed : int
        Everything is drawn from ``SeedSequence(seed, spawn_key=...)`` keyed by (N, repeat): results
        do not depend on the executor or the chunking.
    executor : concurrent.futures.Executor, optional
        Runs chunks of repeats (``executor.map``); None runs serially.
    bandwidth, distance, n_samples
        As in :func:`relative_distance` (``n_samples`` for ``distance="kl"`` with a Gaussian p_gen).
    reference : "kde" or "exact"
        The reference KDE of M fresh samples (pinned), or the exact data law (``model.data_law``).
    threshold : float
        The "almost surely" level: the dataset reports the crossings of 1/2 and of ``threshold``.
    confidence : float
        Level of the Clopper-Pearson intervals of P(Delta > 0) and the bootstrap intervals of the
        crossings.
    n_bootstrap : int
        Bootstrap resamples (repeats resampled within each N) for the crossing intervals.
    chunk : int, optional
        Repeats per task (default: spread over the executor in about 4 tasks per worker).

    Returns
    -------
    xarray.Dataset
        dims ``N`` and ``repeat``: ``sign`` (N, repeat; +1, -1, or 0 when |Delta| is not above the
        rounding-error bound of :func:`relative_distance`, i.e. the sign is *undetermined*),
        ``positive`` (``sign == +1``), ``determined`` (``sign != 0``), ``log_abs_delta``,
        ``log_resolution`` (ln of the bound), ``log_stderr``, ``kl_fwd``, ``kl_rev``, ``hellinger2``
        (the individual distances to the data law per draw, NaN for generators without them); per N:
        ``n_determined``, ``n_undetermined``, ``p_positive`` = (repeats with Delta > 0) /
        ``n_determined`` (the undetermined repeats are left out; NaN when none is determined),
        ``p_low``, ``p_high`` (its Clopper-Pearson interval over the ``n_determined`` repeats),
        ``p_positive_min`` / ``p_positive_max`` (over all repeats, the undetermined counted as
        negative / as positive: the range any reading of them allows), the medians
        ``kl_fwd_median``, ``kl_rev_median`` and the mean ``hellinger2_mean``, and, for models with a
        ``theory()``, ``theory_<key>``.  Coordinate ``N_over_d``.  Attributes: ``n_half``,
        ``n_half_low``, ``n_half_high``, ``n_threshold``, ``n_threshold_low``, ``n_threshold_high``
        (see :func:`crossing`, applied to ``p_positive`` over the N where it is defined: the N above
        which P stays at or above the level; NaN when that does not happen inside the grid; the
        bootstrap resamples the repeats, undetermined ones included, within each N),
        ``bootstrap_missing_half`` / ``_threshold`` (fraction of resamples without a crossing),
        ``n_undetermined_total``, ``p_positive_definition`` (the sentence above), and the settings.

    Examples
    --------
    >>> from lindiff.memorization import OneStepModel, transition
    >>> ds = transition(OneStepModel(4, 2).with_N, [3, 6, 12, 48], repeats=20, reference_size=500,
    ...                 n_bootstrap=200)
    >>> ds.p_positive.dims, bool(ds.p_positive[-1] >= ds.p_positive[0])
    (('N',), True)
    """
    if not callable(model_factory):
        raise ValueError("model_factory must be a callable N -> model")
    Nv = np.asarray(N_values)
    if Nv.ndim != 1 or Nv.size == 0 or not np.issubdtype(Nv.dtype, np.number) or not np.all(np.isfinite(Nv)):
        raise ValueError(f"N_values must be a non-empty 1-d array of integers (got {N_values!r})")
    if np.any(Nv != np.round(Nv)) or np.any(Nv < 1):
        raise ValueError("N_values must hold integers >= 1")
    Nv = Nv.astype(np.int64)
    if np.any(np.diff(Nv) <= 0):
        raise ValueError("N_values must be strictly increasing")
    R = positive_int("repeats", repeats)
    M = positive_int("reference_size", reference_size, 2)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (got {seed!r})")
    choice("reference", reference, _REFERENCE)
    for name, val in (("threshold", threshold), ("confidence", confidence)):
        if not 0.5 < float(val) < 1.0:
            raise ValueError(f"{name} must lie in (0.5, 1) (got {val!r})")
    B = positive_int("n_bootstrap", n_bootstrap, 10)
    settings = dict(reference_size=M, bandwidth=bandwidth, distance=distance, reference=reference,
                    n_samples=positive_int("n_samples", n_samples, 2))
    N_list = [int(n) for n in Nv]

    # one probe model for d and the theory (and early errors on bad settings)
    probe = model_factory(N_list[0])
    d = int(probe.d)
    if executor is None:
        chunks = [list(range(R))]
        results = [_many_repeats(model_factory, N_list, chunks[0], int(seed), settings)]
    else:
        workers = int(getattr(executor, "_max_workers", 0) or 4)
        size = positive_int("chunk", chunk) if chunk is not None else max(1, -(-R // (4 * workers)))
        chunks = [list(range(lo, min(R, lo + size))) for lo in range(0, R, size)]
        n = len(chunks)
        results = list(executor.map(_many_repeats, [model_factory] * n, [N_list] * n, chunks, [int(seed)] * n,
                                    [settings] * n))
    rows = [row for part in results for row in part]
    arr = {k: np.stack([row[k] for row in rows], axis=1) for k in rows[0]}   # (N, repeat)

    sign = arr["sign"]
    k_pos = np.sum(sign > 0, axis=1)
    n_det = np.sum(sign != 0, axis=1)
    n_und = R - n_det
    p_pos = _p_over_determined(sign)
    alpha = 1.0 - float(confidence)
    with np.errstate(invalid="ignore"):
        p_low = np.where(n_det == 0, np.nan, np.where(k_pos > 0, stats.beta.ppf(alpha / 2, k_pos, n_det - k_pos + 1), 0.0))
        p_high = np.where(n_det == 0, np.nan,
                          np.where(k_pos < n_det, stats.beta.ppf(1 - alpha / 2, k_pos + 1, n_det - k_pos), 1.0))
    levels = (0.5, float(threshold))
    boot = _bootstrap_crossings(Nv.astype(np.float64), sign, levels, B, np.random.default_rng(_child(int(seed), _TAG_BOOT)))
    ds = xr.Dataset(
        {
            "positive": (("N", "repeat"), sign > 0),
            "sign": (("N", "repeat"), sign.astype(np.int8)),
            "determined": (("N", "repeat"), sign != 0),
            "log_abs_delta": (("N", "repeat"), arr["log_abs_delta"]),
            "log_resolution": (("N", "repeat"), arr["log_resolution"]),
            "log_stderr": (("N", "repeat"), arr["log_stderr"]),
            "kl_fwd": (("N", "repeat"), arr["kl_fwd"]),
            "kl_rev": (("N", "repeat"), arr["kl_rev"]),
            "hellinger2": (("N", "repeat"), arr["hellinger2"]),
            "p_positive": ("N", p_pos),
            "p_low": ("N", p_low),
            "p_high": ("N", p_high),
            "n_determined": ("N", n_det.astype(np.int64)),
            "n_undetermined": ("N", n_und.astype(np.int64)),
            "p_positive_min": ("N", k_pos / R),
            "p_positive_max": ("N", (k_pos + n_und) / R),
            "kl_fwd_median": ("N", np.median(arr["kl_fwd"], axis=1)),
            "kl_rev_median": ("N", np.median(arr["kl_rev"], axis=1)),
            "hellinger2_mean": ("N", np.mean(arr["hellinger2"], axis=1)),
        },
        coords={"N": Nv, "repeat": np.arange(R), "N_over_d": ("N", Nv / d)},
    )
    if callable(getattr(probe, "theory", None)):
        th = [model_factory(n).theory() for n in N_list]
        for key in th[0]:
            ds[f"theory_{key}"] = ("N", np.array([t[key] for t in th], dtype=np.float64))
    names = ("half", "threshold")
    for j, (name, lv) in enumerate(zip(names, levels)):
        col = boot[:, j]
        finite = col[np.isfinite(col)]
        ds.attrs[f"n_{name}"] = _crossing_defined(Nv.astype(np.float64), p_pos, lv)
        lo, hi = (np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if finite.size
                  else (math.nan, math.nan))
        ds.attrs[f"n_{name}_low"], ds.attrs[f"n_{name}_high"] = float(lo), float(hi)
        ds.attrs[f"bootstrap_missing_{name}"] = float(1.0 - finite.size / B)
    ds.attrs["n_undetermined_total"] = int(n_und.sum())
    ds.attrs["p_positive_definition"] = _P_DEFINITION
    ds.attrs.update(d=d, repeats=R, reference_size=M, seed=int(seed), bandwidth=str(bandwidth),
                    distance=distance, reference=reference, threshold=float(threshold),
                    confidence=float(confidence), n_bootstrap=B, model=repr(probe))
    from .. import __version__
    ds.attrs["lindiff_version"] = __version__
    return ds


_TURNOVER_STAT = {"hellinger2": ("mean", np.mean), "kl_fwd": ("median", np.median), "kl_rev": ("median", np.median)}


@dataclass(frozen=True)
class Turnover:
    """Where an individual distance starts to fall with N (:func:`distance_turnover`).

    Attributes
    ----------
    N : float
        The estimate (NaN: no turnover inside the grid, see ``note``).
    low, high : float
        Its interval: the bootstrap percentile interval, widened to the grid bracket where the
        fall starts between two grid points (a plateau, e.g. H^2 = 1 up to N = d).
    distance, statistic : str
        The distance (``hellinger2``, ``kl_fwd``, ``kl_rev``) and its statistic over repeats.
    confidence, n_bootstrap, bootstrap_missing : float, int, float
    note : str
        How the estimate was found, or why there is none.
    """

    N: float
    low: float
    high: float
    distance: str
    statistic: str
    confidence: float
    n_bootstrap: int
    bootstrap_missing: float
    note: str


def _turnover_point(N: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float, float, str]:
    """(estimate, bracket_low, bracket_high, note) of the N where the curve y(N) starts to fall."""
    ok = ~np.isnan(y)
    N, y = N[ok], y[ok]
    if y.size < 2:
        return math.nan, math.nan, math.nan, "fewer than two N with a value"
    top = np.max(y)
    j = int(np.nonzero(y == top)[0][-1])
    if j == y.size - 1:
        return math.nan, math.nan, math.nan, "not reached: the distance does not fall inside the grid"
    if j == 0 and (y.size < 2 or y[0] > y[1]) and math.isfinite(top):
        return math.nan, math.nan, math.nan, "below the grid: the distance falls from the first N on"
    if not math.isfinite(top) or y[j - 1] == top:
        return float(N[j]), float(N[j]), float(N[j + 1]), "end of a plateau: the fall starts between two grid N"
    lx = np.log(N[j - 1:j + 2])
    a = np.polyfit(lx, y[j - 1:j + 2], 2)[0]
    v = -np.polyfit(lx, y[j - 1:j + 2], 2)[1] / (2 * a) if a < 0 else lx[1]
    return float(np.exp(np.clip(v, lx[0], lx[2]))), float(N[j - 1]), float(N[j + 1]), "peak (parabola in ln N)"


def distance_turnover(ds: xr.Dataset, distance: str = "hellinger2", *, confidence: float | None = None,
                      n_bootstrap: int | None = None) -> Turnover:
    """The N where the individual distance between p_gen and the data law starts to fall (Halder's claim iv).

    The distance per N is the statistic over the dataset's repeats (mean of ``hellinger2``, median of
    ``kl_fwd`` / ``kl_rev``, as :func:`transition` reports them); the turnover is the last N at its
    maximum (a plateau such as H^2 = 1 or KL = inf for N <= d ends there; the fall starts before the
    next grid N), or, for a finite peak, the vertex of a parabola in ln N through the peak and its
    neighbours.  The interval resamples the repeats within each N (bootstrap, seeded from the
    dataset's seed) and is widened to the grid bracket of a plateau's end.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`transition`.
    distance : "hellinger2", "kl_fwd" or "kl_rev"
    confidence, n_bootstrap : optional
        Default: the dataset's (``ds.attrs``).

    Returns
    -------
    Turnover

    Examples
    --------
    >>> from lindiff.memorization import OneStepModel, distance_turnover, transition
    >>> ds = transition(OneStepModel(4, 2).with_N, [2, 4, 6, 12, 48], repeats=20, reference_size=400,
    ...                 n_bootstrap=100)
    >>> t = distance_turnover(ds)                    # H^2 = 1 while N <= d = 4, then it falls
    >>> t.N, (t.low, t.high), t.statistic
    (4.0, (4.0, 6.0), 'mean')
    """
    choice("distance", distance, tuple(_TURNOVER_STAT))
    if not isinstance(ds, xr.Dataset) or distance not in ds or "repeat" not in ds[distance].dims:
        raise ValueError(f"ds must be a lindiff.memorization.transition dataset with a per-repeat {distance!r}")
    conf = float(ds.attrs.get("confidence", 0.95) if confidence is None else confidence)
    if not 0.5 < conf < 1.0:
        raise ValueError(f"confidence must lie in (0.5, 1) (got {confidence!r})")
    B = positive_int("n_bootstrap", ds.attrs.get("n_bootstrap", 1000) if n_bootstrap is None else n_bootstrap, 10)
    name, stat = _TURNOVER_STAT[distance]
    N = ds.N.values.astype(np.float64)
    vals = ds[distance].transpose("N", "repeat").values
    est, lo_b, hi_b, note = _turnover_point(N, stat(vals, axis=1))
    rng = np.random.default_rng(_child(int(ds.attrs.get("seed", 0)), _TAG_TURN))
    idx = rng.integers(0, vals.shape[1], size=(B, *vals.shape))
    boot = np.array([_turnover_point(N, stat(np.take_along_axis(vals, idx[b], axis=1), axis=1))[0] for b in range(B)])
    fin = boot[np.isfinite(boot)]
    alpha = 1.0 - conf
    lo, hi = np.percentile(fin, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if fin.size else (math.nan, math.nan)
    if math.isfinite(est):
        lo, hi = min(lo, lo_b) if note.startswith("end") else lo, max(hi, hi_b) if note.startswith("end") else hi
    else:
        lo = hi = math.nan
    return Turnover(est, float(lo), float(hi), distance, name, conf, B, float(1.0 - fin.size / B), note)


def plot_transition(ds: xr.Dataset, *, distance: str = "auto", ax: Any = None) -> Any:
    """P(Delta > 0) with its intervals and an individual distance vs N/d on one figure.

    P(Delta > 0) is over the repeats whose sign is determined (see :func:`transition`).  Where some
    signs are undetermined, a grey bar spans ``p_positive_min`` to ``p_positive_max`` (the
    undetermined counted as negative / positive), the count is written next to the point, and the
    legend and title say how many there are in all.

    Parameters
    ----------
    ds : xarray.Dataset
        The output of :func:`transition`.
    distance : "auto", "kl_fwd", "kl_rev" or "hellinger2"
        The individual distance on the right axis: the median KL(p_gen || p)/d (with the theory's
        deterministic equivalent and floor when present), the median KL(p || p_gen)/d or the mean H^2.
        "auto": kl_fwd when finite somewhere, else hellinger2.
    ax : matplotlib Axes, optional

    Returns
    -------
    (ax, ax_right)
        The two axes (needs matplotlib: ``pip install "lindiff[plot]"``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    x = ds.N_over_d.values
    p = ds.p_positive.values
    und = ds["n_undetermined"].values if "n_undetermined" in ds else np.zeros(x.size, dtype=np.int64)
    n_und = int(np.sum(und))
    ax.fill_between(x, ds.p_low.values, ds.p_high.values, color="C0", alpha=0.2, lw=0)
    ax.plot(x, p, "o-", color="C0",
            label="P(Δ > 0)" if n_und == 0 else f"P(Δ > 0), determined signs ({n_und} undetermined)")
    if n_und:
        some = und > 0
        ax.vlines(x[some], ds.p_positive_min.values[some], ds.p_positive_max.values[some], color="0.4", lw=2,
                  alpha=0.6, label="range with the undetermined")
        for xi, yi, k in zip(x[some], np.nan_to_num(p[some], nan=0.5), und[some]):
            ax.annotate(f"{int(k)}?", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize="x-small",
                        color="0.3")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("N / d")
    ax.set_ylabel("P(Δ > 0)", color="C0")
    d = ds.attrs.get("d", 1)
    n_half = ds.attrs.get("n_half", math.nan)
    if math.isfinite(n_half):
        ax.axvline(n_half / d, color="C0", ls=":", lw=1)
    if "theory_n_c" in ds:
        ax.axvline(float(ds.theory_n_c[0]) / d, color="0.5", ls="--", lw=1, label="N_c = 1 + d/κ")
    if distance == "auto":
        distance = "kl_fwd" if np.any(np.isfinite(ds.kl_fwd_median.values)) else "hellinger2"
    col = {"kl_fwd": "kl_fwd_median", "kl_rev": "kl_rev_median", "hellinger2": "hellinger2_mean"}
    if distance not in col:
        raise ValueError(f"distance must be 'auto', 'kl_fwd', 'kl_rev' or 'hellinger2' (got {distance!r})")
    ax2 = ax.twinx()
    y = ds[col[distance]].values
    label = {"kl_fwd": "median KL(p_gen‖p)/d", "kl_rev": "median KL(p‖p_gen)/d", "hellinger2": "mean H²"}[distance]
    ok = np.isfinite(y)
    ax2.plot(x[ok], y[ok], "s-", color="C3", label=label)
    if distance == "kl_fwd" and "theory_kl_de1" in ds:
        t = ds.theory_kl_de1.values
        ok_t = np.isfinite(t)
        ax2.plot(x[ok_t], t[ok_t], "-", color="C3", alpha=0.5, label="deterministic equivalent")
        ax2.axhline(float(ds.theory_kl_fwd_floor[0]), color="C3", ls=":", lw=1, label="floor (N = ∞)")
    if distance in ("kl_fwd", "kl_rev"):
        ax2.set_yscale("log")
    ax2.set_ylabel(label, color="C3")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper center", bbox_to_anchor=(0.5, -0.15),
              ncol=2, fontsize="small", frameon=False)
    half = (f"N_1/2 = {n_half:.3g} [{ds.attrs.get('n_half_low', math.nan):.3g}, "
            f"{ds.attrs.get('n_half_high', math.nan):.3g}]" if math.isfinite(n_half)
            else "N_1/2 not reached on the grid")
    ax.set_title(f"d = {d}: {half}"
                 + (f"; {n_und} of {und.size * ds.sizes.get('repeat', 0)} signs undetermined" if n_und else
                    "; every sign determined"), fontsize="medium")
    return ax, ax2
