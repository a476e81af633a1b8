"""Benchmark: the relative distance (Gaussian p_gen, closed form), kernel vs NumPy/SciPy, same process.

    python bench/bench_memorization.py [--M 10000] [--N 256] [--d 128] [--repeat 3] [--threads 1]

Data N(10 * 1, I_d): a training set of N points, a reference set of M points, p_gen = N(10 * 1, I/2).
Times ``lindiff.memorization.relative_distance`` (pairwise log-sum-exp in the C++ kernel: chunked
GEMM + streaming log-sum-exp over the upper triangle) against two NumPy/SciPy implementations of
the same closed form in the same process, both chunked (1024 rows) so they fit in memory:

- ``numpy full``: every row's log-sum-exp over all other points (``scipy.special.logsumexp``
  of a chunk of the distance matrix), the straightforward implementation;
- ``numpy triangle``: only the blocks on and above the diagonal (the kernel's flop count).

A last row times a repeated call against a :class:`ReferenceSample` (the reference self-overlap
cached, as :func:`lindiff.memorization.transition` does for every training set of a scan); its
ratio is against ``numpy full``.

BLAS and the kernel run on ``--threads`` threads (default 1: the issue's target is for one
core; set before NumPy is imported).  Also prints the DGEMM rate of the machine measured in the
same run, since the O(M^2 d) Gram products dominate both sides.  Timings are the minimum over
repeats (the machine is shared).
"""

from __future__ import annotations

import argparse
import math
import os
import sys


def _threads_from_argv() -> str:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = _threads_from_argv()

import numpy as np  # noqa: E402
from scipy.linalg import cholesky, solve_triangular  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import lindiff  # noqa: E402
from lindiff.memorization import ReferenceSample, relative_distance  # noqa: E402
from _timing import timed  # noqa: E402


def _log_off_numpy(P: np.ndarray, eps2: float, triangle: bool, chunk: int = 1024) -> float:
    n = P.shape[0]
    p2 = np.sum(P * P, axis=1)
    parts = []
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        c0 = lo if triangle else 0
        D = np.maximum(p2[lo:hi, None] + p2[None, c0:] - 2.0 * (P[lo:hi] @ P[c0:].T), 0.0)
        L = -D / (4.0 * eps2)
        rows = np.arange(hi - lo)
        if triangle:
            L[np.tril(np.ones((hi - lo, hi - lo), bool))[:, : L.shape[1]].nonzero()] = -np.inf
        else:
            L[rows, rows + lo] = -np.inf
        parts.append(logsumexp(L, axis=1))
    total = float(logsumexp(np.concatenate(parts)))
    return (math.log(2.0) if triangle else 0.0) + total - math.log(n)


def _log_C_numpy(P: np.ndarray, mean: np.ndarray, cov: np.ndarray, eps2: float) -> float:
    n, d = P.shape
    Lc = cholesky(cov + eps2 * np.eye(d), lower=True)
    Z = solve_triangular(Lc, (P - mean).T, lower=True)
    logN = -0.5 * d * math.log(2 * math.pi) - np.sum(np.log(np.diag(Lc))) - 0.5 * np.sum(Z * Z, axis=0)
    return float(logsumexp(logN)) - math.log(n)


def numpy_delta(X, Y, mean, cov, triangle: bool):  # type: ignore[no-untyped-def]
    """(positive, log|Delta|) of the pinned closed form, pure NumPy/SciPy."""
    N, d = X.shape
    M = Y.shape[0]
    sigma = math.sqrt(float(np.mean(np.var(Y, axis=0, ddof=1))))
    c = Y.mean(axis=0)
    X, Y, mean = X - c, Y - c, mean - c
    eT, eO = sigma**2 * N ** (-2 / d), sigma**2 * M ** (-2 / d)
    logK = -0.5 * d * math.log(4 * math.pi * sigma**2)
    pos = [logK + _log_off_numpy(X, eT, triangle), math.log(2) + _log_C_numpy(Y, mean, cov, eO)]
    neg = [logK + _log_off_numpy(Y, eO, triangle), math.log(2) + _log_C_numpy(X, mean, cov, eT)]
    lp, ln = float(logsumexp(pos)), float(logsumexp(neg))
    hi, lo = max(lp, ln), min(lp, ln)
    return lp > ln, hi + math.log1p(-math.exp(lo - hi))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--M", type=int, default=10_000)
    ap.add_argument("--N", type=int, default=256)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    lindiff.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    d = args.d
    X = 10.0 + rng.standard_normal((args.N, d))
    Y = 10.0 + rng.standard_normal((args.M, d))
    mean, cov = np.full(d, 10.0), 0.5 * np.eye(d)

    a = rng.standard_normal((2000, 2000))
    t_gemm, _ = timed(lambda: a @ a, args.repeat)
    print(f"lindiff {lindiff.__version__}; {lindiff.build_info()['build']}")
    print(f"threads: {args.threads}; NumPy DGEMM 2000^3: {2 * 2000**3 / t_gemm / 1e9:.1f} GFLOP/s")
    print(f"M = {args.M}, N = {args.N}, d = {d}")

    t_k, res = timed(lambda: relative_distance(X, Y, (mean, cov)), args.repeat)
    t_t, (pos_t, la_t) = timed(lambda: numpy_delta(X, Y, mean, cov, True), args.repeat)
    t_f, (pos_f, la_f) = timed(lambda: numpy_delta(X, Y, mean, cov, False), args.repeat)
    for name, p, la in (("numpy triangle", pos_t, la_t), ("numpy full", pos_f, la_f)):
        if p != res.positive or abs(la - res.log_abs_delta) > 1e-9 * abs(res.log_abs_delta):
            raise SystemExit(f"MISMATCH {name}: {p} {la!r} vs kernel {res.positive} {res.log_abs_delta!r}")
    gflop = 2.0 * (args.M**2 + args.N**2) / 2 * d / 1e9  # upper-triangle Gram products
    print(f"Delta > 0: {res.positive}, ln|Delta| = {res.log_abs_delta:.12g} (all three agree to 1e-9)")
    print(f"{'implementation':<22}{'time [s]':>10}{'ratio':>8}{'GFLOP/s (triangle)':>20}")
    print(f"{'lindiff (C++ kernel)':<22}{t_k:>10.3f}{1.0:>8.2f}{gflop / t_k:>20.1f}")
    print(f"{'numpy triangle':<22}{t_t:>10.3f}{t_t / t_k:>8.2f}{gflop / t_t:>20.1f}")
    print(f"{'numpy full':<22}{t_f:>10.3f}{t_f / t_k:>8.2f}{2 * gflop / t_f:>20.1f}")
    # what transition() does: one ReferenceSample per reference set, its off_O computed once
    ref = ReferenceSample(Y)
    relative_distance(X, ref, (mean, cov))
    t_c, res_c = timed(lambda: relative_distance(X, ref, (mean, cov)), args.repeat)
    if res_c.positive != res.positive or abs(res_c.log_abs_delta - res.log_abs_delta) > 1e-12 * abs(res.log_abs_delta):
        raise SystemExit("MISMATCH cached reference")
    print(f"{'lindiff, cached ref':<22}{t_c:>10.3f}{t_f / t_c:>8.2f}   (ReferenceSample: off_O reused, as in transition)")


if __name__ == "__main__":
    main()
