"""The memorization transition P(Delta > 0) vs N for d in {8, 32}, every variant side by side.

Prints one Markdown table (P(Delta > 0) on a grid of N/d, the crossing N_1/2 with its bootstrap
interval, N_c = 1 + d/kappa) for Halder's one-step model with the pinned criterion and with each
variant the spec lists (the author's covariance convention, the collapse bandwidth, the KL form
of the distance, the exact data law as reference), and for the Merger & Goldt linear model.

    python examples/memorization_transition.py            # full: 100 repeats, M = 10^4 (~20 min on 2 cores)
    python examples/memorization_transition.py --quick    # 16 repeats, M = 2000 (~1 min)
    python examples/memorization_transition.py --out DIR  # also writes the datasets (netCDF) and figures
    python examples/memorization_transition.py --paper    # d = 100, the paper's setting (see below)

``--paper`` scans Halder's one-step model at the paper's d = 100 (N from d/4 to 16 d) in the pinned
reading and in the author's covariance convention, and prints per N: P(Delta > 0) over the
determined signs, the number of undetermined signs (|Delta| below relative_distance's rounding
bound), the median |Delta| / K and resolution / K (K = (4 pi sigma^2)^(-d/2)), the smallest
|Delta| / resolution over the repeats, and the fixed offset that the author's float32 arithmetic
(LDM.py: eps_n = (1/n)^(1/d) rounded to float32, then (2 eps_n^2)^(d/2)) adds to Delta / K, with the
P(Delta > 0) that this offset would produce (a numpy float32 emulation of the script's self term).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lindiff
from lindiff.memorization import LinearDiffusionModel, OneStepModel, transition

RATIOS = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0])


def variants(d: int) -> list[tuple[str, object, dict]]:
    one = OneStepModel(d, 2)
    return [
        ("one-step, pinned (L2, halder, KDE ref)", one.with_N, {}),
        ("one-step, sigma_convention='ldm'", OneStepModel(d, 2, sigma_convention="ldm").with_N, {}),
        ("one-step, bandwidth='collapse'", one.with_N, {"bandwidth": "collapse"}),
        ("one-step, distance='kl'", one.with_N, {"distance": "kl", "n_samples": 1024}),
        ("one-step, reference=exact law", one.with_N, {"reference": "exact"}),
        ("Merger-Goldt linear, power law k=1", LinearDiffusionModel(lindiff.Spectrum.powerlaw(d, k=1.0), 2).with_N, {}),
    ]


PAPER_N = [25, 50, 75, 100, 125, 150, 200, 300, 400, 800, 1600]


def float32_self_offset(n: int, d: int) -> float:
    """Relative error of LDM.py's KDE self term for n points in float32: eps = (1/n)^(1/d) rounded
    to float32, then 1 / (sqrt(2 pi) (2 eps^2)^(d/2) n^2) * n (its pair sum is n exactly in float32:
    the off-diagonal terms are below its resolution).  The exact value is 1/(sqrt(2 pi) 2^(d/2))."""
    f = np.float32
    eps = f(f(1) * f((1.0 / n) ** (1.0 / d)))
    root = np.sqrt(f(2) * f(np.pi))
    power = (f(2) * eps ** f(2)) ** f(d / 2)
    value = (f(1) / f(f(root * power) * f(n * n))) * f(n)
    return float(value) / ((2.0 * np.pi) ** -0.5 * 2.0 ** (-d / 2)) - 1.0


def paper(R: int, M: int, out: str | None) -> int:
    """The d = 100 scan (see the module docstring)."""
    d = 100
    log10 = np.log(10.0)
    print(f"d = {d}, {R} training sets per N, reference M = {M}, seed 0 (lindiff {lindiff.__version__})\n")
    for conv in ("correct", "ldm"):
        model = OneStepModel(d, 2, sigma_convention=conv)
        t0 = time.perf_counter()
        ds = transition(model.with_N, PAPER_N, repeats=R, reference_size=M, seed=0)
        dt = time.perf_counter() - t0
        logK = -0.5 * d * np.log(4.0 * np.pi * model.sigma ** 2)
        rel = (ds.log_abs_delta - logK) / log10
        res = (ds.log_resolution - logK) / log10
        margin = ((ds.log_abs_delta - ds.log_resolution) / log10).min("repeat")
        print(f"sigma_convention={conv!r}: N_1/2 = {ds.attrs['n_half']:.4g} [{ds.attrs['n_half_low']:.4g}, "
              f"{ds.attrs['n_half_high']:.4g}], N_0.95 = {ds.attrs['n_threshold']:.4g}, "
              f"N_c = {float(ds.theory_n_c[0]):.1f}, undetermined signs: {ds.attrs['n_undetermined_total']} "
              f"of {R * len(PAPER_N)} ({dt:.0f} s)\n")
        print("| N | N/d | P(Δ > 0) [95% CI] | undetermined | median log10 abs(Δ)/K | median log10 res/K "
              "| min log10 abs(Δ)/res | float32 offset / K | P(Δ > 0) with the offset |")
        print("|---|---|---|---|---|---|---|---|---|")
        for i, N in enumerate(PAPER_N):
            off = float32_self_offset(N, d) - float32_self_offset(M, d)
            sign = ds.sign.values[i]
            delta_k = np.where(sign != 0, np.sign(sign), np.nan) * 10.0 ** rel.values[i]
            p_off = float(np.mean(delta_k + off > 0))
            print(f"| {N} | {N / d:g} | {float(ds.p_positive[i]):.2f} [{float(ds.p_low[i]):.2f}, "
                  f"{float(ds.p_high[i]):.2f}] | {int(ds.n_undetermined[i])} | {float(rel[i].median()):.1f} | "
                  f"{float(res[i].median()):.1f} | {float(margin[i]):.1f} | {off:+.2e} | {p_off:.2f} |", flush=True)
        print()
        if out:
            os.makedirs(out, exist_ok=True)
            ds.to_netcdf(os.path.join(out, f"d100_{conv}.nc"), engine="scipy")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 repeats, M = 2000")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--reference-size", type=int, default=None)
    ap.add_argument("--dims", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--out", default=None, help="folder for netCDF datasets and PNG figures")
    ap.add_argument("--paper", action="store_true", help="d = 100, N = d/4 .. 16 d, both covariance conventions")
    args = ap.parse_args(argv)
    R = args.repeats or (16 if args.quick else 100)
    M = args.reference_size or (2000 if args.quick else 10_000)
    if args.paper:
        return paper(R, M, args.out)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    head = "| d | model / variant | " + " | ".join(f"N/d={r:g}" for r in RATIOS) + " | N_1/2 [95% CI] | N_0.95 | N_c |"
    print(f"P(Delta > 0) over {R} training sets per N, reference M = {M}, seed 0 (lindiff {lindiff.__version__})\n")
    print(head)
    print("|" + "---|" * (len(RATIOS) + 5))
    for d in args.dims:
        N_values = np.unique(np.maximum(2, np.round(RATIOS * d).astype(int)))
        for name, factory, kw in variants(d):
            t0 = time.perf_counter()
            ds = transition(factory, N_values, repeats=R, reference_size=M, seed=0, **kw)
            dt = time.perf_counter() - t0
            p = " | ".join(f"{v:.2f}" for v in ds.p_positive.values)
            nh, lo, hi = ds.attrs["n_half"], ds.attrs["n_half_low"], ds.attrs["n_half_high"]
            nc = f"{float(ds.theory_n_c[0]):.1f}" if "theory_n_c" in ds else "-"
            print(f"| {d} | {name} | {p} | {nh:.3g} [{lo:.3g}, {hi:.3g}] | {ds.attrs['n_threshold']:.3g} | {nc} |"
                  f"  <!-- {dt:.1f} s -->", flush=True)
            if args.out:
                tag = f"d{d}_" + "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
                ds.to_netcdf(os.path.join(args.out, tag + ".nc"), engine="scipy")
                try:
                    import matplotlib
                    matplotlib.use("Agg")
                    from lindiff.memorization import plot_transition
                    ax, _ = plot_transition(ds)
                    ax.figure.savefig(os.path.join(args.out, tag + ".png"), dpi=120, bbox_inches="tight")
                    matplotlib.pyplot.close(ax.figure)
                except ImportError:
                    pass
    print("\nNaN: P(Delta > 0) does not cross the level inside the grid.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
