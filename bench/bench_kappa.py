"""Benchmark: kappa(z) solves per second, kernel vs a vectorised NumPy Newton, same process.

    python bench/bench_kappa.py [--n 100000] [--d 1000] [--repeat 3]

Prints solves/s for the kernel on 1 and 2 threads (z in random order and sorted) and for the
NumPy baseline, and their ratios. Timings are the minimum over repeats (the machine is shared).

The NumPy baseline is the same bracketed Newton, vectorised over points with an active set:
it starts every point at the top of the bracket, z + Tr Sigma / N, from where Newton decreases
monotonically to the root (F is convex and increasing on the bracket), and iterates until the
relative step is below 1e-15. It is run on a subset of the points (solves/s is a throughput).
"""

from __future__ import annotations

import argparse

import numpy as np

import lindiff
from _timing import best_time


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
    ns_per = 1e9 / (r1["random"] * args.d * float(np.mean(lindiff.kappa(z_rand, s, N).iterations)))
    print(f"kernel cost: {ns_per:.2f} ns per eigenvalue per spectrum pass (1 thread, random z)")


if __name__ == "__main__":
    main()
