"""Benchmark: gradient-descent training of the linear denoisers, kernel vs NumPy, same process.

    python bench/bench_simulate.py [--draws 20] [--times 10] [--steps 200] [--repeat 3]

For d in {50, 200}: full-batch GD of draws x times matrices W_t (d x d) for `steps` steps,
through ``lindiff.simulate.train`` (C++ kernel, 1 and 2 threads; the losses recorded only at the
first and last step) and through a straightforward NumPy implementation of the same update
(batched ``W @ C`` with ``np.matmul``, then the elementwise update). Prints the time, the GFLOP/s
of the GEMM work (2 d^3 per matrix per step) and the fraction of NumPy's DGEMM rate, measured in
the same run on a 2000 x 2000 product with the same number of BLAS threads. Timings are the
minimum over repeats (the machine is shared).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import lindiff
from lindiff import simulate
from _timing import best_time


def numpy_gd(C: np.ndarray, a2: np.ndarray, b2: np.ndarray, eta: float, steps: int) -> np.ndarray:
    """W <- W - 2 eta (a^2 W C + b^2 W - b I) for all (draw, t), batched with np.matmul."""
    draws, d = C.shape[0], C.shape[1]
    W = np.zeros((draws, a2.size, d, d))
    A = (2 * eta * a2)[None, :, None, None]
    B = (1 - 2 * eta * b2)[None, :, None, None]
    eye = 2 * eta * np.sqrt(b2)[None, :, None, None] * np.eye(d)
    Cb = C[:, None]
    for _ in range(steps):
        W = B * W - A * (W @ Cb) + eye
    return W


def dgemm_rate(repeat: int, n: int = 2000) -> float:
    a = np.random.default_rng(0).standard_normal((n, n))
    b = np.random.default_rng(1).standard_normal((n, n))
    return 2 * n**3 / best_time(lambda: a @ b, repeat) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dims", type=int, nargs="+", default=[50, 200])
    args = ap.parse_args()
    sch = lindiff.Schedule.linear()
    t = np.linspace(1, sch.T, args.times).round().astype(int)
    a2, b2 = sch.a2[t - 1], sch.b2[t - 1]
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    peak = dgemm_rate(args.repeat)
    print(f"NumPy DGEMM (2000^2, OPENBLAS_NUM_THREADS={blas}): {peak:.1f} GFLOP/s")
    print(f"{'d':>5} {'impl':>12} {'time s':>9} {'GFLOP/s':>9} {'of DGEMM':>9} {'vs NumPy':>9}")
    n0 = lindiff.get_num_threads()
    for d in args.dims:
        spec = lindiff.Spectrum.powerlaw(d, k=1.0)
        N = 2 * d
        eta = 0.01
        flops = 2.0 * d**3 * args.draws * args.times * args.steps
        probe = simulate.train(spec, N, t=t, eta=eta, steps=1, draws=args.draws)
        C = probe.X @ np.swapaxes(probe.X, 1, 2) / N
        t_np = best_time(lambda: numpy_gd(C, a2, b2, eta, args.steps), args.repeat)
        W_np = numpy_gd(C, a2, b2, eta, args.steps)
        print(f"{d:>5} {'numpy':>12} {t_np:>9.3f} {flops / t_np / 1e9:>9.1f} {flops / t_np / 1e9 / peak:>9.1%} {1.0:>9.2f}")
        for threads in (1, 2):
            lindiff.set_num_threads(threads)
            run = lambda: simulate.train(spec, N, t=t, eta=eta, steps=args.steps, draws=args.draws,  # noqa: E731
                                         record_every=args.steps)
            t_k = best_time(run, args.repeat)
            err = float(np.max(np.abs(run().W - W_np)))
            print(f"{d:>5} {f'kernel x{threads}':>12} {t_k:>9.3f} {flops / t_k / 1e9:>9.1f} "
                  f"{flops / t_k / 1e9 / peak:>9.1%} {t_np / t_k:>9.2f}   (max |W - W_numpy| = {err:.1e})")
        lindiff.set_num_threads(n0)


if __name__ == "__main__":
    main()
