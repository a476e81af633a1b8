"""Benchmark: kappa(z) solves per second, kernel vs a vectorised NumPy Newton, same process.

    python bench/bench_kappa.py [--n 100000] [--d 1000] [--repeat 3] [--sizes 1000 10000 ...]

Prints solves/s for the kernel on 1 and 2 threads (z in random order and sorted) and for the
NumPy baseline, and their ratios; then the same on the compressed spectrum (``compress=True``:
the certified r-node Gauss rule of Spectrum.compress), memoised (the rule exists) and first call
(a fresh spectrum: the compression is included in the time); then one row per d in ``--sizes``
(nodes r, certified bound, compression time, compressed and direct kappa, NumPy baseline at that
d on fewer points). Timings are the minimum over repeats (the machine is shared); the machine
load (``os.getloadavg``) is printed with them.

The NumPy baseline is the same bracketed Newton, vectorised over points with an active set:
it starts every point at the top of the bracket, z + Tr Sigma / N, from where Newton decreases
monotonically to the root (F is convex and increasing on the bracket), and iterates until the
relative step is below 1e-15. It is run on a subset of the points (solves/s is a throughput).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lindiff
from _timing import best_time, timed


def numpy_newton(z: np.ndarray, lam: np.ndarray, N: float, chunk: int = 4000,
                 max_iter: int = 200) -> tuple[np.ndarray, float]:
    """Vectorised Newton for z = kappa (1 - df1/N); returns (kappa, mean iterations)."""
    d = lam.size
    c = 1 - d / N
    out = np.empty_like(z)
    total_iters = 0
    for s in range(0, z.size, chunk):
        zz = z[s : s + chunk]
        k = zz + lam.sum() / N
        active = np.arange(zz.size)
        iters = 0
        while active.size:
            ka = k[active]
            u = 1.0 / (lam[None, :] + ka[:, None])
            s1 = u.sum(axis=1)
            s2 = (u * u).sum(axis=1)
            F = ka * c + ka * ka * s1 / N - zz[active]
            dF = c + (2 * ka * s1 - ka * ka * s2) / N
            step = F / dF
            k[active] = ka - step
            total_iters += active.size
            iters += 1
            # stop at the rounding floor (a few ulps) or after max_iter sweeps
            active = active[np.abs(step) > 4e-16 * np.abs(ka) * (1 + iters // 20)]
            if iters >= max_iter:
                break
        out[s : s + chunk] = k
    return out, total_iters / z.size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="number of z values (default 1e5)")
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--k", type=float, default=1.0)
    ap.add_argument("--ratio", type=float, default=0.6, help="N/d")
    ap.add_argument("--baseline-n", type=int, default=8000, help="points given to the NumPy baseline")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10_000, 100_000, 196_608, 1_000_000],
                    help="d of the per-size table (empty: skip it)")
    args = ap.parse_args()

    s = lindiff.Spectrum.powerlaw(args.d, args.k)
    N = args.ratio * args.d
    rng = np.random.default_rng(0)
    z_rand = 10 ** rng.uniform(-8, 4, args.n)
    z_sort = np.sort(z_rand)
    print(f"lindiff {lindiff.__version__}: {lindiff.build_info()['build']}")
    print(f"d = {args.d}, k = {args.k}, N = {N:g}, {args.n} values of z in [1e-8, 1e4]\n")

    zb = z_rand[: args.baseline_n]
    base_t = best_time(lambda: numpy_newton(zb, s.eigenvalues, N), max(1, args.repeat - 1))
    kb, base_iters = numpy_newton(zb, s.eigenvalues, N)
    base_rate = zb.size / base_t
    ref = lindiff.kappa(zb, s, N).value
    agree = float(np.max(np.abs(kb / ref - 1)))
    print(f"{'NumPy Newton baseline':<34} {base_rate:12.4g} solves/s   (mean {base_iters:.2f} spectrum passes, "
          f"max rel. diff to kernel {agree:.1e})")

    old = lindiff.get_num_threads()
    rows = []
    try:
        for threads in (1, 2):
            lindiff.set_num_threads(threads)
            for label, z in (("random", z_rand), ("sorted", z_sort)):
                t = best_time(lambda z=z: lindiff.kappa(z, s, N), args.repeat)
                res = lindiff.kappa(z, s, N)
                rate = z.size / t
                rows.append((threads, label, rate))
                print(f"{'kernel, ' + str(threads) + ' thread(s), z ' + label:<34} {rate:12.4g} solves/s   "
                      f"(mean {res.iterations.mean():.2f} spectrum passes, ratio vs NumPy {rate / base_rate:7.1f}x)")
    finally:
        lindiff.set_num_threads(old)
    r1 = {lab: rate for th, lab, rate in rows if th == 1}
    r2 = {lab: rate for th, lab, rate in rows if th == 2}
    print(f"\n1 thread:  random {r1['random'] / base_rate:.1f}x (target >= 60x), "
          f"sorted {r1['sorted'] / base_rate:.1f}x (target >= 100x) the NumPy baseline")
    print(f"2 threads: speed-up over 1 thread {r2['random'] / r1['random']:.2f}x (random), "
          f"{r2['sorted'] / r1['sorted']:.2f}x (sorted)")
    if "cuda" in lindiff.available_backends():
        print(f"\nGPU: {lindiff.cuda_device()}")
        cpu_best = max(r1["random"], r2["random"])
        for n in (args.n, 10 * args.n):
            zg = 10 ** rng.uniform(-8, 4, n)
            lindiff.kappa(zg[:1000], s, N, backend="cuda")  # warm-up (context, module load)
            t = best_time(lambda zg=zg: lindiff.kappa(zg, s, N, backend="cuda"), args.repeat)
            g = lindiff.kappa(zg, s, N, backend="cuda")
            c = lindiff.kappa(zg, s, N, backend="cpu")
            diff = float(np.max(np.abs(g.value / c.value - 1)))
            print(f"{'kernel, CUDA, ' + str(n) + ' z':<34} {n / t:12.4g} solves/s   (ratio vs best CPU "
                  f"{n / t / cpu_best:6.1f}x, vs NumPy {n / t / base_rate:8.1f}x; max rel. diff to CPU {diff:.1e})")
    else:
        print(f"\nGPU: not available ({lindiff.cuda_device()})")
    ns_per = 1e9 / (r1["random"] * args.d * float(np.mean(lindiff.kappa(z_rand, s, N, compress=False).iterations)))
    print(f"kernel cost: {ns_per:.2f} ns per eigenvalue per spectrum pass (1 thread, random z)")
    compressed_rows(args, s, N, z_rand, zb)
    if args.sizes:
        size_table(args, rng)


def compressed_rows(args: argparse.Namespace, s: lindiff.Spectrum, N: float, z: np.ndarray, zb: np.ndarray) -> None:
    """kappa on the compressed spectrum: memoised and first-call rates, 1 and 2 threads, each
    timed in rounds alternating with the NumPy baseline (the minimum of each over the rounds: a
    burst of load on the shared machine then hits both sides alike)."""
    def first_call() -> None:   # a fresh spectrum: compression + solve
        lindiff.kappa(z, lindiff.Spectrum.powerlaw(args.d, args.k), N, compress=True)

    info = s.compress().info["compression"]
    direct = lindiff.kappa(z, s, N, compress=False).value
    diff = float(np.max(np.abs(lindiff.kappa(z, s, N, compress=True).value / direct - 1)))
    print(f"\ncompressed: r = {info.r} nodes, certified bound {info.bound:.1e}, measured {info.measured:.1e}, "
          f"max rel. diff of kappa to the direct solve {diff:.1e}; load {os.getloadavg()[0]:.2f}")
    old = lindiff.get_num_threads()
    tb, tk = [], {1: [], 2: [], "first": []}
    try:
        for _ in range(args.repeat + 3):
            tb.append(best_time(lambda: numpy_newton(zb, s.eigenvalues, N), 1))
            for threads in (1, 2):
                lindiff.set_num_threads(threads)
                tk[threads].append(best_time(lambda: lindiff.kappa(z, s, N, compress=True), 2))
            lindiff.set_num_threads(1)
            tk["first"].append(best_time(first_call, 1))
        t_comp = best_time(lambda: lindiff.Spectrum.powerlaw(args.d, args.k).compress(), args.repeat)
    finally:
        lindiff.set_num_threads(old)
    base_rate = zb.size / min(tb)
    rate = {th: z.size / min(tk[th]) for th in (1, 2)}
    t_first = min(tk["first"])
    print(f"{'NumPy baseline (rounds alternating)':<34} {base_rate:12.4g} solves/s")
    for threads in (1, 2):
        print(f"{'compressed, memoised, ' + str(threads) + ' thread(s)':<34} {rate[threads]:12.4g} solves/s   "
              f"(ratio vs NumPy {rate[threads] / base_rate:7.1f}x)")
    print(f"{'compressed, first call, 1 thread':<34} {z.size / t_first:12.4g} solves/s   (ratio vs NumPy "
          f"{z.size / t_first / base_rate:7.1f}x; compression alone {t_comp:.3f} s)")
    print(f"\n1 thread, compressed: memoised {rate[1] / base_rate:.0f}x (target >= 500x), first call "
          f"{z.size / t_first / base_rate:.0f}x the NumPy baseline; 2 threads: {rate[2] / rate[1]:.2f}x over 1 "
          f"(load {os.getloadavg()[0]:.2f})")


def size_table(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Per d: nodes, certified bound, compression time, kappa rates (compressed, direct, NumPy)."""
    print(f"\nper d (power law k = {args.k}, N = {args.ratio} d, 1 thread; NumPy on fewer points):")
    hdr = (f"{'d':>8} {'r':>4} {'bound':>8} {'measured':>8} {'compress s':>10} {'compr. /s':>10} "
           f"{'direct /s':>10} {'NumPy /s':>10} {'vs NumPy':>9} {'vs direct':>9} {'diff':>8}")
    print(hdr + "\n" + "-" * len(hdr))
    old = lindiff.get_num_threads()
    lindiff.set_num_threads(1)
    try:
        for d in args.sizes:
            s = lindiff.Spectrum.powerlaw(d, args.k)
            N = args.ratio * d
            t0 = time.perf_counter()
            info = s.compress().info["compression"]
            t_comp = time.perf_counter() - t0
            z = 10 ** rng.uniform(-8, 4, args.n)
            t_c = best_time(lambda: lindiff.kappa(z, s, N, compress=True), args.repeat)
            nd = int(max(100, min(args.n, 2e9 // d)))
            t_d, kd = timed(lambda: lindiff.kappa(z[:nd], s, N, compress=False).value, max(1, args.repeat - 1))
            nb = int(max(10, min(args.baseline_n, 4e7 // d)))
            t_b = best_time(lambda: numpy_newton(z[:nb], s.eigenvalues, N), 1)
            diff = float(np.max(np.abs(lindiff.kappa(z[:nd], s, N, compress=True).value / kd - 1)))
            rc, rd, rb = args.n / t_c, nd / t_d, nb / t_b
            print(f"{d:>8} {info.r:>4} {info.bound:>8.1e} {info.measured:>8.1e} {t_comp:>10.3f} {rc:>10.3g} "
                  f"{rd:>10.3g} {rb:>10.3g} {rc / rb:>8.0f}x {rc / rd:>8.0f}x {diff:>8.1e}")
    finally:
        lindiff.set_num_threads(old)
    print(f"(load {os.getloadavg()[0]:.2f}; diff: max relative difference of kappa, compressed vs direct)")


if __name__ == "__main__":
    main()
