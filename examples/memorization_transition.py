"""The memorization transition P(Delta > 0) vs N for d in {8, 32}, every variant side by side.

Prints one Markdown table (P(Delta > 0) on a grid of N/d, the crossing N_1/2 with its bootstrap
interval, N_c = 1 + d/kappa) for Halder's one-step model with the pinned criterion and with each
variant the spec lists (the author's covariance convention, the collapse bandwidth, the KL form
of the distance, the exact data law as reference), and for the Merger & Goldt linear model.

    python examples/memorization_transition.py            # full: 100 repeats, M = 10^4 (~20 min on 2 cores)
    python examples/memorization_transition.py --quick    # 16 repeats, M = 2000 (~1 min)
    python examples/memorization_transition.py --out DIR  # also writes the datasets (netCDF) and figures
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16 repeats, M = 2000")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--reference-size", type=int, default=None)
    ap.add_argument("--dims", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--out", default=None, help="folder for netCDF datasets and PNG figures")
    args = ap.parse_args(argv)
    R = args.repeats or (16 if args.quick else 100)
    M = args.reference_size or (2000 if args.quick else 10_000)
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
