"""Halder, *From memorization to generalization* / *A solvable generative model with a linear, one-step
denoiser*: the transition of the one-step model at the paper's d = 100, in both Σ conventions.

P(Delta > 0) has no theory to validate (the report says so); the model's individual distances
(H^2, KL) are shown with the exact theory (deterministic equivalent, Jensen lower bound, floors) on a
fine N grid, and the N where the individual distance starts to fall
(:func:`lindiff.memorization.distance_turnover`) is set against N_1/2 and N_c = 1 + d/kappa.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._lazy import lazy_module
from .._progress import progress_bar
from . import _common as cm
from ._common import Section

xr = lazy_module("xarray")

PAPER = "halder"
CONVENTIONS = {"correct": "Σ = cβ₁β₁ᵀ (pinned)", "ldm": "Σ = cβ₁ᵀβ₁ (the author's LDM.py)"}
_PAPER_N = [25, 50, 75, 100]          # the training-set sizes of the author's d = 100 script (LDM.py)


def _settings_halder(quick: bool) -> dict[str, Any]:
    return dict(d=100, conventions=list(CONVENTIONS),
                N=_PAPER_N + ([150, 200, 400, 800] if quick else [125, 150, 200, 300, 400, 800, 1600, 2500]),
                repeats=8 if quick else 40, reference_size=2000 if quick else 10_000,
                n_bootstrap=200 if quick else 1000, theory_points=60, seed=0)


def _theory_curve(d: int, N_max: float, points: int) -> Any:
    """OneStepModel(d, N).theory() on a fine N grid from d + 3 (where E KL is finite) to N_max."""
    from ..memorization import OneStepModel

    N = np.unique(np.round(np.geomspace(d + 3, N_max, int(points)))).astype(int)
    th = [OneStepModel(d, int(n)).theory() for n in N]
    return xr.Dataset({k: ("N", np.array([t[k] for t in th], dtype=float)) for k in th[0]}, coords={"N": N},
                      attrs={"d": d})


def _compute_halder(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool
                    ) -> dict[str, Any]:
    import functools

    from ..memorization import OneStepModel, transition

    d = int(s["d"])
    out: dict[str, Any] = {}
    bar = progress_bar(len(s["conventions"]), "lindiff reproduce halder: transition scans (d = 100)", progress)
    for conv in s["conventions"]:
        factory = functools.partial(OneStepModel, d, sigma_convention=conv)
        out[f"halder_transition_{conv}"] = transition(
            factory, s["N"], repeats=int(s["repeats"]), reference_size=int(s["reference_size"]), seed=int(s["seed"]),
            executor=ex, n_bootstrap=int(s["n_bootstrap"]))
        bar.update(1)
    bar.close()
    out["halder_theory"] = _theory_curve(d, float(max(s["N"])), int(s["theory_points"]))
    return {"data": out, "checks": []}


def _vline(ax: Any, x: float, **kw: Any) -> None:
    if math.isfinite(x):
        ax.axvline(x, **kw)


def _panel(ax: Any, ds: Any, th: Any, conv: str) -> Any:
    """P(Δ > 0), mean H² (left axis) and KL/d with its theory and lower bound (right, log) vs N."""
    from ..memorization import distance_turnover

    N = ds.N.values
    ax.fill_between(N, ds.p_low.values, ds.p_high.values, color="C0", alpha=0.2, lw=0)
    ax.plot(N, ds.p_positive.values, "o-", color="C0", label="P(Δ > 0), 95 % Clopper-Pearson band")
    ax.plot(N, ds.hellinger2_mean.values, "D-", color="C2", ms=4, label="mean H²(p_gen, p)")
    ax.axhline(float(th.h2_floor[0]), color="C2", lw=0.8, ls=(0, (1, 3)), label="H² floor (N = ∞)")
    ax.set_ylim(-0.02, 1.05)
    cm.log_axes(ax, y=False)
    ax.set_xlabel("N  (training-set size; d = 100)")
    ax.set_ylabel("probability / squared Hellinger distance")
    ax2 = ax.twinx()
    kl = ds.kl_fwd_median.values
    ok = np.isfinite(kl)
    ax2.plot(N[ok], kl[ok], "s", color="C3", ms=5, label="median KL(p_gen ‖ p)/d (simulation)")
    ax2.plot(th.N.values, th.kl_de1.values, "-", color="C3", lw=1.6, label="E KL/d: deterministic equivalent")
    ax2.plot(th.N.values, th.kl_lower_bound.values, "--", color="C1", lw=1.6, label="E KL/d: Jensen lower bound")
    ax2.axhline(float(th.kl_fwd_floor[0]), color="C3", lw=0.8, ls=(0, (1, 3)), label="KL floor (N = ∞)")
    ax2.set_yscale("log")
    ax2.set_ylabel("KL(p_gen ‖ p) / d", color="C3")
    n_c, n_half = float(th.n_c[0]), float(ds.attrs["n_half"])
    turn = distance_turnover(ds, "hellinger2")
    _vline(ax, n_c, color="0.3", ls="--", lw=1, label=f"N_c = 1 + d/κ = {n_c:.0f}")
    _vline(ax, n_half, color="C0", ls=":", lw=1.5, label="N_1/2")
    _vline(ax, turn.N, color="C2", ls="-.", lw=1.2, label="H² turnover")
    und = int(ds.n_undetermined.sum())
    ax.set_title(f"{CONVENTIONS[conv]}: N_1/2 = {cm.interval(n_half, ds.attrs['n_half_low'], ds.attrs['n_half_high'])}; "
                 f"{und} undetermined signs", fontsize="small")
    return ax2


def _figures_halder(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    th = data["halder_theory"]
    convs = [c for c in s["conventions"]]
    fig, axes = plt.subplots(1, len(convs), figsize=(7.2 * len(convs), 5.4), squeeze=False)
    twins = [_panel(ax, data[f"halder_transition_{c}"], th, c) for ax, c in zip(axes[0], convs)]
    cm.legend_outside(fig, [axes[0, 0], twins[0]], ncol=4)
    one = data[f"halder_transition_{convs[0]}"]
    cap = (f"Halder, claims (ii)-(iv) at the paper's d = 100 (m = 10, σ = 1, T = 2, l = e^-4, κ = 0.5046): "
           f"P(Δ > 0) over {one.attrs['repeats']} training sets per N (L2 distance, Halder bandwidth, KDE reference "
           f"of M = {one.attrs['reference_size']} points), individual distances H² and KL with the exact theory, "
           f"and where H² starts to fall, against N_1/2 and N_c; N = 25, 50, 75, 100 are the author's script's sizes")
    return [cm.save(fig, out, "halder_transition_d100.png", cap, legend_rows=3)]


def _table_halder(data: dict[str, Any]) -> str:
    from ..memorization import distance_turnover

    th = data["halder_theory"]
    blocks = []
    summary = []
    for key, ds in data.items():
        if not key.startswith("halder_transition_"):
            continue
        conv = key.rsplit("_", 1)[1]
        rows = [[str(int(n)), f"{n / ds.attrs['d']:g}",
                 f"{float(p.p_positive):.2f} [{float(p.p_low):.2f}, {float(p.p_high):.2f}]", str(int(p.n_undetermined)),
                 f"{float(p.hellinger2_mean):.4f}", cm.g(float(p.kl_fwd_median), 3)]
                for n, p in ((n, ds.sel(N=n)) for n in ds.N.values)]
        blocks.append(f"{CONVENTIONS[conv]}:\n\n" + cm.md_table(
            ["N", "N/d", "P(Δ > 0) [95% CI]", "undetermined signs", "mean H²", "median KL/d"], rows))
        t_h, t_k = distance_turnover(ds, "hellinger2"), distance_turnover(ds, "kl_fwd")
        summary.append([CONVENTIONS[conv], cm.interval(ds.attrs["n_half"], ds.attrs["n_half_low"], ds.attrs["n_half_high"]),
                        cm.interval(ds.attrs["n_threshold"], ds.attrs["n_threshold_low"], ds.attrs["n_threshold_high"]),
                        f"{float(th.n_c[0]):.1f}", cm.interval(t_h.N, t_h.low, t_h.high),
                        cm.interval(t_k.N, t_k.low, t_k.high), str(int(ds.attrs["n_undetermined_total"]))])
    head = ["convention", "N_1/2 [95% CI]", "N_0.95 [95% CI]", "N_c = 1 + d/κ", "H² turnover [CI]", "KL turnover [CI]",
            "undetermined signs (all N)"]
    return ("No theory for P(Δ > 0) itself: nothing to validate. Turnover: `lindiff.memorization.distance_turnover` "
            "(the last N at the maximum of the individual distance; plateau ends are bracketed by the next grid N). "
            "\"not reached on the grid\": P(Δ > 0) never stays above the level inside the grid.\n\n"
            + cm.md_table(head, summary) + "\n\n" + "\n\n".join(blocks))


HALDER = Section(
    "halder", PAPER, "Halder: the memorization transition of the one-step model at d = 100, both Σ conventions",
    "`lindiff.memorization.transition(functools.partial(OneStepModel, 100, sigma_convention=...), N, ...)` (pinned "
    "criterion: L2 distance, Halder bandwidth, KDE reference); theory `OneStepModel(100, N).theory()` (`kl_de1`, "
    "`kl_lower_bound`, floors, `n_c`); turnover `lindiff.memorization.distance_turnover`. The sign of Δ is stated "
    "only above its rounding-error bound (undetermined counts per N in the table).",
    _settings_halder, _compute_halder, _figures_halder, _table_halder)

SECTIONS = (HALDER,)
