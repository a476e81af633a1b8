"""Benchmark: Spectrum.compress — compression time, nodes r, certified bound and measured error,
and kappa solves / static_losses on the compressed vs the direct spectrum, same process.

    python bench/bench_compress.py [--d 1000 10000 100000 196608 1000000] [--k 1.0] [--tol 1e-13]
                                   [--nz 1000] [--nN 100] [--repeat 3]

Per d: the compression wall time (minimum over repeats), r, the a-priori bound (real kappa in
[1e-10 lambda_min, 1e4 lambda_max]) and the measured max relative error of df1/df2 (30 kappa);
kappa(z) at ``--nz`` real z (N = d/2) on both spectra, the max relative difference and the ratio
of throughputs; ``theory.static_losses`` on ``--nN`` values of N x the 1000 diffusion times of
the linear schedule (the direct path gets fewer N when d is large: rates are per (N, t) point,
so the ratio is a ratio of rates), and the max relative difference of the test loss and kappa.
No wall-clock thresholds: ratios in the same run.

``--threads``: the two-thread speed-up of the batched paths (kappa at 1e5 real z, static_losses
at 100 N x 1000 t; direct at d = 1000, compressed at d = 1e5), minimum over repeats, with the
load average before and after (the target, >= 1.8x, needs a quiet machine).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import lindiff
from lindiff import theory
from _timing import timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, nargs="+", default=[1000, 10_000, 100_000, 196_608, 1_000_000])
    ap.add_argument("--k", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-13)
    ap.add_argument("--nz", type=int, default=1000, help="z values for the kappa solves")
    ap.add_argument("--nN", type=int, default=100, help="values of N for static_losses")
    ap.add_argument("--direct-budget", type=float, default=2e9,
                    help="max d x (N, t) points for the direct static_losses (fewer N beyond)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", action="store_true", help="only the 1-vs-2-thread table")
    args = ap.parse_args()
    if args.threads:
        thread_table(args.repeat)
        return

    print(f"lindiff {lindiff.__version__}: {lindiff.build_info()['build']}")
    print(f"power law k = {args.k}, tol = {args.tol:g}; kappa: {args.nz} z in [1e-8, 1e4], N = d/2; "
          f"static_losses: N in [0.1 d, 10 d] x 1000 t\n")
    hdr = (f"{'d':>8} {'r':>4} {'compress s':>10} {'bound':>8} {'measured':>8} {'trace err':>9} "
           f"{'kappa x':>8} {'kappa diff':>10} {'static x':>8} {'static diff':>11}")
    print(hdr)
    print("-" * len(hdr))
    rng = np.random.default_rng(0)
    for d in args.d:
        s = lindiff.Spectrum.powerlaw(d, args.k)
        # a fresh Spectrum each time: compress() is memoised on the spectrum
        t_comp, _ = timed(lambda: lindiff.Spectrum(s.eigenvalues).compress(args.tol), args.repeat)
        c = s.compress(args.tol)
        info = c.info["compression"]
        # kappa solves
        z = np.sort(10 ** rng.uniform(-8, 4, args.nz))
        N = d / 2
        t_dir, kd = timed(lambda: lindiff.kappa(z, s, N, compress=False).value, max(1, args.repeat - 1))
        t_cmp, kc = timed(lambda: lindiff.kappa(z, c, N, compress=False).value, args.repeat)
        kdiff = float(np.max(np.abs(kc / kd - 1)))
        # static losses: rates per (N, t) point
        Ns = np.geomspace(0.1 * d, 10 * d, args.nN)
        n_dir = int(max(1, min(args.nN, args.direct_budget // (d * 1000))))
        Nd = Ns[np.linspace(0, args.nN - 1, n_dir).round().astype(int)]
        t_sd, sd = timed(lambda: theory.static_losses(s, Nd, compress=False), 1)
        t_sc, sc = timed(lambda: theory.static_losses(c, Ns, compress=False), args.repeat)
        idx = np.searchsorted(Ns, Nd)
        diff = max(float(np.nanmax(np.abs(np.asarray(sc[v])[idx] / np.asarray(sd[v]) - 1)))
                   for v in ("test", "kappa"))
        speed_static = (Ns.size / t_sc) / (Nd.size / t_sd)
        print(f"{d:>8} {info.r:>4} {t_comp:>10.3f} {info.bound:>8.1e} {info.measured:>8.1e} "
              f"{info.trace_rel_error:>9.1e} {t_dir / t_cmp:>8.0f} {kdiff:>10.1e} {speed_static:>8.0f} "
              f"{diff:>11.1e}")
    print("\nkappa x, static x: throughput of the compressed over the direct spectrum (same run).")
    print("bound: a-priori (Bernstein ellipse) relative bound, real kappa; measured: df1/df2 vs direct sums.")


def thread_table(repeat: int) -> None:
    """1 vs 2 threads on the batched paths, direct (d = 1000) and compressed (d = 1e5)."""
    rng = np.random.default_rng(0)
    z = 10 ** rng.uniform(-8, 4, 100_000)
    small, big = lindiff.Spectrum.powerlaw(1000, 1.0), lindiff.Spectrum.powerlaw(100_000, 1.0)
    big.compress()
    Ns = np.geomspace(100, 1e4, 100)
    cases = {
        "kappa, 1e5 z, d = 1e3 direct": lambda: lindiff.kappa(z, small, 600.0, compress=False),
        "kappa, 1e5 z, d = 1e5 compressed": lambda: lindiff.kappa(z, big, 5e4, compress=True),
        "static_losses 100 N x 1000 t, d = 1e3 direct": lambda: theory.static_losses(small, Ns, compress=False),
        "static_losses 100 N x 1000 t, d = 1e5 compressed": lambda: theory.static_losses(big, Ns * 100, compress=True),
    }
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'path':<50} {'1 thread s':>10} {'2 threads s':>11} {'speed-up':>9}")
    old = lindiff.get_num_threads()
    try:
        for label, fn in cases.items():
            t = {}
            for n in (1, 2):
                lindiff.set_num_threads(n)
                fn()
                t[n] = timed(fn, repeat + 2)[0]
            print(f"{label:<50} {t[1]:>10.4f} {t[2]:>11.4f} {t[1] / t[2]:>8.2f}x")
    finally:
        lindiff.set_num_threads(old)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
