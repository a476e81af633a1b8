"""Benchmark: lindiff.simulate.ensemble vs numpy.linalg.eigh on the same sample covariances.

    python bench/bench_ensemble.py [--d 400] [--N 800 200] [--draws 20] [--repeat 3]

For each N: the draws' covariances C are formed once (outside the timing) exactly as ensemble
forms them; the baseline is ``numpy.linalg.eigh`` on each of them, one after the other (what a
NumPy loop over draws costs for the eigendecompositions alone). ``ensemble`` does everything:
drawing the training sets, forming C, the batched eigendecomposition (OpenMP over draws), the
exact losses and KL. Its time is reported on 1 and 2 OpenMP threads (``lindiff.set_num_threads``)
with a breakdown (data + C, eigh_batched, the rest). Timings are the minimum over repeats.
The target: ensemble within 1.3x of the NumPy eigh time.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import lindiff
from lindiff import _core
from lindiff._random import population_eigen
from lindiff.simulate import ensemble
from lindiff.simulate._common import draw_seeds
from lindiff.simulate._ensemble import _covariances
from _timing import best_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=400)
    ap.add_argument("--N", type=int, nargs="+", default=[800, 200])
    ap.add_argument("--k", type=float, default=1.0)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--t", type=int, nargs="+", default=[1, 10, 100, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    spec = lindiff.Spectrum.powerlaw(args.d, args.k)
    lam, P = population_eigen(spec)
    seeds = draw_seeds(0, args.draws)
    print(f"lindiff {lindiff.__version__}: {lindiff.build_info()['build']}")
    print(f"d = {args.d}, k = {args.k}, {args.draws} draws, t = {args.t}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    print(f"{'N':>6} {'threads':>7} {'numpy eigh':>11} {'ensemble':>10} {'ratio':>7}   "
          f"{'data+C':>8} {'eigh_batched':>12} {'rest':>8}")
    old = lindiff.get_num_threads()
    summary = []
    try:
        for N in args.N:
            C, _, _ = _covariances(lam, P, N, seeds, False, False)
            base = best_time(lambda C=C: [np.linalg.eigh(c) for c in C], args.repeat)
            for threads in (1, 2):
                lindiff.set_num_threads(threads)
                ens = best_time(lambda N=N: ensemble(spec, N, draws=args.draws, t=args.t), args.repeat)
                gen = best_time(lambda N=N: _covariances(lam, P, N, seeds, False, False), args.repeat)
                eig = best_time(lambda C=C: _core.eigh_batched(C), args.repeat)
                ratio = ens / base
                summary.append((N, threads, ratio))
                print(f"{N:>6} {threads:>7} {base:>10.3f}s {ens:>9.3f}s {ratio:>6.2f}x   "
                      f"{gen:>7.3f}s {eig:>11.3f}s {max(ens - gen - eig, 0.0):>7.3f}s")
    finally:
        lindiff.set_num_threads(old)
    print("\nensemble / numpy eigh (target <= 1.3x): " +
          ", ".join(f"N={n} {th} thread(s) {r:.2f}x" for n, th, r in summary))


if __name__ == "__main__":
    main()
