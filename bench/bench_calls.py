"""Benchmark: one-point calls per second, lindiff vs scipy.optimize.brentq vs a raw _core call.

    python bench/bench_calls.py [--calls 1000] [--repeat 9] [--quick]

Called once per point (a user's own loop over z, or a peer solver's inner loop), a call is
dominated by fixed costs: argument handling, array conversions, an OpenMP team, the start
lattice, the result object. This measures, in one process (the machine is shared: every
number is the best of --repeat runs, and only ratios measured side by side mean anything):

1. ``lindiff.kappa(z, spec, N)`` for one real z at d = 100, 1000, 10000 (z varies from call to
   call over [1e-6, 1e2]) against
     - brentq: ``scipy.optimize.brentq`` of the same equation written in NumPy (kappa0 and the
       bracket computed once, for free; rtol = 4 eps),
     - raw _core: ``_core.solve_kappa_real(lam, None, N, array([z]))``, the stateless kernel call
       (spectrum re-validated, kappa0 and two lattice nodes solved every call),
     - handle: ``Spectrum._core_handle.kappa_real1``, the binding the fast path calls;
   on 1 thread and on the default number; "cold" rows change N at every call (kappa0 and the
   two lattice nodes are solved each time, nothing memoised).
2. ``kappa_prime``, ``kappa0``, ``Spectrum.df1``/``df2`` at one point, and a one-point
   ``theory.static_losses`` (one N, c = 0, one t), against NumPy/brentq equivalents.
3. ``solve_fixed_point`` / ``find_root``: the cost per function evaluation of a Python callable,
   a ``scipy.LowLevelCallable`` of libm's cos/sin (through ctypes) and a numba cfunc (when numba
   is installed).
4. The serial/parallel crossover of a kernel batch loop (``Spectrum.df1`` over n points: work
   n d eigenvalue terms) with 2 threads, forced parallel vs forced serial: the measurement behind
   ``_core.get_parallel_min_work()``.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import itertools
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import LowLevelCallable
from scipy.optimize import brentq

import lindiff
from lindiff import _core
from lindiff.theory import static_losses

RTOL = 4 * np.finfo(float).eps  # brentq's finest relative tolerance
fresh = itertools.count(1)  # "cold" rows: an N never used before at every call (nothing memoised)


def rates(fns: dict[str, tuple[Callable[[int], Any], int]], repeat: int) -> dict[str, float]:
    """Best calls/s of each ``fn(i)``, i = 0 .. calls-1, over ``repeat`` rounds.

    The variants are timed in turn within every round (interleaved), so that on a shared machine
    each sees the same spells of load; each keeps its best round."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeat):
        for name, (fn, calls) in fns.items():
            t0 = time.perf_counter()
            for i in range(calls):
                fn(i)
            best[name] = min(best[name], (time.perf_counter() - t0) / calls)
    return {name: 1.0 / t for name, t in best.items()}


def rate(fn: Callable[[int], Any], calls: int, repeat: int) -> float:
    """Best calls/s of ``fn(i)`` for i = 0 .. calls-1, over ``repeat`` runs."""
    return rates({"": (fn, calls)}, repeat)[""]


def per_call_us(fn: Callable[[], Any], repeat: int, inner: int = 5) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best * 1e6


def brentq_kappa(z: float, lam: np.ndarray, N: float, k0: float, trace: float) -> float:
    """The physical root of z = kappa (1 - df1(kappa)/N) by brentq (NumPy residual)."""
    def F(k: float) -> float:
        return k * (1.0 - np.sum(lam / (lam + k)) / N) - z

    return brentq(F, max(z, k0), z + trace / N, xtol=1e-300, rtol=RTOL)


def brentq_kappa0(lam: np.ndarray, N: float) -> float:
    d = lam.size
    if N >= d:
        return 0.0
    return brentq(lambda k: np.sum(lam / (lam + k)) - N, lam.min() * (d - N) / N * 0.5, lam.sum() / N,
                  xtol=1e-300, rtol=RTOL)


def fmt(x: float) -> str:
    return f"{x:10.3g}"


def section_kappa(args: argparse.Namespace) -> list[tuple[str, ...]]:
    print("== 1. kappa for one real z per call (calls/s; z varies over [1e-6, 1e2]; N = 0.6 d) ==")
    zs = [float(v) for v in 10 ** np.random.default_rng(0).uniform(-6, 2, 257)]
    nz = len(zs)
    default_threads = lindiff.get_num_threads()
    header = ("d", "threads", "kappa", "kappa cold", "handle", "raw _core", "brentq", "batch/pt", "vs brentq",
              "vs raw")
    print(("{:>6} {:>7} " + "{:>10} " * 8).format(*header))
    rows = []
    for d in args.dims:
        s = lindiff.Spectrum.powerlaw(d, 1.0)
        lam, N, tr = s.eigenvalues, 0.6 * d, s.trace
        k0 = lindiff.kappa0(s, N)
        calls = max(50, args.calls * 100 // max(d, 100)) if d > 1000 else args.calls
        # correctness in the same run: the fast path is the batch result, brentq agrees to ~1e-14
        zarr = np.array(zs)
        batch = lindiff.kappa(zarr, s, N).value
        assert all(lindiff.kappa(z, s, N).value == batch[i] for i, z in enumerate(zs))
        bq = np.array([brentq_kappa(z, lam, N, k0, tr) for z in zs[:20]])
        agree = float(np.max(np.abs(bq / batch[:20] - 1)))
        h = s._core_handle
        for threads in sorted({1, default_threads}):
            lindiff.set_num_threads(threads)
            try:
                r = rates({
                    "kappa": (lambda i: lindiff.kappa(zs[i % nz], s, N), calls),
                    "cold": (lambda i: lindiff.kappa(zs[i % nz], s, N * (1 + 1e-12 * next(fresh))), max(20, calls // 4)),
                    "handle": (lambda i: h.kappa_real1(zs[i % nz], N, 1e-14, 100), calls),
                    "raw": (lambda i: _core.solve_kappa_real(lam, None, N, np.array([zs[i % nz]])), max(20, calls // 4)),
                    "brentq": (lambda i: brentq_kappa(zs[i % nz], lam, N, k0, tr), max(20, calls // 20)),
                    "batch": (lambda i: lindiff.kappa(zarr, s, N), max(2, calls // 250)),
                }, args.repeat)
            finally:
                lindiff.set_num_threads(default_threads)
            k_rate, cold, h_rate, raw, b_rate = r["kappa"], r["cold"], r["handle"], r["raw"], r["brentq"]
            row = (str(d), str(threads), fmt(k_rate), fmt(cold), fmt(h_rate), fmt(raw), fmt(b_rate),
                   fmt(r["batch"] * nz), f"{k_rate / b_rate:9.1f}x", f"{k_rate / raw:9.1f}x")
            rows.append(row)
            print(("{:>6} {:>7} " + "{:>10} " * 8).format(*row))
        print(f"{'':>6} brentq agrees with kappa to {agree:.1e} (relative); fast path == batch bitwise on {nz} z")
    print("  kappa: lindiff.kappa(z, spec, N) (memoised lattice nodes, same N); cold: a new N every call;\n"
          "  handle: the binding alone; raw _core: _core.solve_kappa_real(lam, None, N, array([z]));\n"
          f"  batch/pt: points/s of one lindiff.kappa call on all {nz} z (for comparison: batch vs loop).\n")
    return rows


def section_other(args: argparse.Namespace) -> None:
    print("== 2. other one-point calls (calls/s, d = 100 and 1000, N = 0.6 d) ==")
    print(f"{'call':<34} {'d':>6} {'lindiff':>10} {'peer':>10} {'ratio':>8}   peer")
    sched = lindiff.Schedule.linear()
    for d in (100, 1000):
        s = lindiff.Spectrum.powerlaw(d, 1.0)
        lam, N, tr = s.eigenvalues, 0.6 * d, s.trace
        k0 = lindiff.kappa0(s, N)
        calls = args.calls
        zs = [float(v) for v in 10 ** np.random.default_rng(1).uniform(-6, 2, 257)]

        def kp_peer(z: float) -> float:
            k = brentq_kappa(z, lam, N, k0, tr)
            return 1.0 / (1.0 - np.sum((lam / (lam + k)) ** 2) / N)

        tests: list[tuple[str, Callable[[int], Any], Callable[[int], Any], int, str]] = [
            ("kappa_prime(z)", lambda i: lindiff.kappa_prime(zs[i % 257], s, N), lambda i: kp_peer(zs[i % 257]),
             20, "brentq + NumPy df2"),
            ("kappa0(N)", lambda i: lindiff.kappa0(s, N), lambda i: brentq_kappa0(lam, N), 20, "brentq of df1 = N"),
            ("kappa0(N), new N each call", lambda i: lindiff.kappa0(s, N * (1 + 1e-12 * next(fresh))),
             lambda i: brentq_kappa0(lam, N * (1 + 1e-12 * next(fresh))), 20, "brentq of df1 = N"),
            ("Spectrum.df1(k)", lambda i: s.df1(zs[i % 257]), lambda i: np.sum(lam / (lam + zs[i % 257])), 1,
             "np.sum(lam/(lam+k))"),
            ("Spectrum.df2(k)", lambda i: s.df2(zs[i % 257]), lambda i: np.sum((lam / (lam + zs[i % 257])) ** 2), 1,
             "np.sum((lam/(lam+k))**2)"),
            ("raw _core.df12(lam, None, [k])", lambda i: _core.df12(lam, None, np.array([zs[i % 257]])),
             lambda i: np.sum(lam / (lam + zs[i % 257])), 1, "np.sum(lam/(lam+k))"),
        ]
        for name, ours, peer, slow, what in tests:
            r = rates({"a": (ours, calls), "b": (peer, max(20, calls // slow))}, args.repeat)
            a, b = r["a"], r["b"]
            print(f"{name:<34} {d:>6} {fmt(a)} {fmt(b)} {a / b:7.1f}x   {what}")
        # one-point static test loss: lindiff (an xarray Dataset of 10 variables) vs brentq + NumPy
        a2, b2 = float(sched.a2[499]), float(sched.b2[499])
        q, z = b2 / a2, b2 / a2

        def static_peer() -> float:
            k = brentq_kappa(z, lam, N, k0, tr)
            t = lam / (lam + k)
            kp = 1.0 / (1.0 - np.sum(t * t) / N)
            s1, e12, df2 = np.sum(1.0 / (lam + k)), np.sum(t / (lam + k)), np.sum(t * t)
            ratio = k / z
            g, gp = ratio * s1 / d, (e12 * kp - ratio * s1) / (z * d)
            mhp = (ratio * k * e12 + (ratio - kp) * df2) / (z * d)
            return 1.0 - 2.0 * q * g - q * q * gp + q * mhp

        ds = static_losses(s, N, 0.0, sched, t=500)
        assert abs(float(ds.test) / static_peer() - 1) < 1e-10
        n_sl = max(20, calls // 40)
        r = rates({"a": (lambda i: static_losses(s, N, 0.0, sched, t=500), n_sl), "b": (lambda i: static_peer(), n_sl),
                   "raw": (lambda i: _core.solve_kappa_curves(lam, None, np.array([N]), np.array([[z]])), calls // 4)},
                  args.repeat)
        a, b, raw = r["a"], r["b"], r["raw"]
        print(f"{'theory.static_losses(N, t)':<34} {d:>6} {fmt(a)} {fmt(b)} {a / b:7.1f}x   brentq + NumPy "
              f"formula (a float; lindiff returns an xarray Dataset; its raw kappa solve: {raw:.3g}/s)")
    print()


def _libm_fn(name: str) -> Any:
    lib = ctypes.CDLL(ctypes.util.find_library("m") or None)
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    return fn


def section_solvers(args: argparse.Namespace) -> None:
    print("== 3. solve_fixed_point / find_root: microseconds per iteration / evaluation / call ==")
    cos_c, sin_c = _libm_fn("cos"), _libm_fn("sin")
    variants: list[tuple[str, Any, Any, Any]] = [
        ("Python callable (math.cos)", lambda x: math.cos(x), lambda x: math.sin(x), lambda x: math.cos(x)),
        ("Python callable (np.cos)", np.cos, np.sin, np.cos),
        ("LowLevelCallable (libm via ctypes)", LowLevelCallable(cos_c), LowLevelCallable(sin_c),
         LowLevelCallable(cos_c)),
    ]
    vec: list[tuple[str, Any]] = [("Python callable (np.cos)", np.cos)]
    cbrt_c = _libm_fn("cbrt")
    fcbrt: dict[str, Any] = {"Python callable (math.cos)": lambda x: math.copysign(abs(x) ** (1 / 3), x),
                             "Python callable (np.cos)": np.cbrt,
                             "LowLevelCallable (libm via ctypes)": LowLevelCallable(cbrt_c)}
    try:
        import numba
        from numba import types

        @numba.cfunc("float64(float64)")
        def nb_cos(x: float) -> float:
            return math.cos(x)

        @numba.cfunc("float64(float64)")
        def nb_sin(x: float) -> float:
            return math.sin(x)

        @numba.cfunc(types.void(types.CPointer(types.float64), types.CPointer(types.float64), types.intp))
        def nb_vcos(x, out, n):  # type: ignore[no-untyped-def]
            for i in range(n):
                out[i] = math.cos(x[i])

        @numba.cfunc("float64(float64)")
        def nb_cbrt(x: float) -> float:
            return np.cbrt(x)

        variants.append(("numba cfunc", nb_cos, nb_sin, nb_cos))
        fcbrt["numba cfunc"] = nb_cbrt
        vec.append(("numba cfunc", nb_vcos))
    except ImportError:
        print("  (numba not installed: no numba rows)")
    def fp_cost(f: Any, x0: Any) -> tuple[float, float, int]:
        """(us per iteration by the slope between two tolerances, us per call, evaluations per call)."""
        def run(rtol: float) -> Any:
            return lindiff.solve_fixed_point(f, x0, method="picard", adaptive=False, rtol=rtol, max_iter=1000)
        e_lo, e_hi = run(1e-3).evaluations, run(1e-13).evaluations
        t_lo = per_call_us(lambda: run(1e-3), args.repeat)
        t_hi = per_call_us(lambda: run(1e-13), args.repeat)
        return (t_hi - t_lo) / (e_hi - e_lo), t_hi, e_hi

    def root_slope(f: Any) -> float:
        """us per evaluation in find_root: cbrt on (-1, 2) (Newton steps leave the bracket, bisection
        takes over: never converges), slope of the call time between max_iter 10 and 100."""
        def run(m: int) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", lindiff.ConvergenceWarning)
                return lindiff.find_root(f, (-1.0, 2.0), max_iter=m)
        e_lo, e_hi = run(10).evaluations, run(100).evaluations
        return (per_call_us(lambda: run(100), args.repeat) - per_call_us(lambda: run(10), args.repeat)) / (e_hi - e_lo)

    def root_cost(f: Any, fp: Any) -> tuple[float, int]:
        r = lindiff.find_root(f, (3.0, 3.5), fprime=fp)
        assert r.converged and abs(r.x - math.pi) < 1e-15
        return per_call_us(lambda: lindiff.find_root(f, (3.0, 3.5), fprime=fp), args.repeat, inner=20), r.evaluations

    print(f"{'callable':<36} {'FP us/iter':>10} {'FP us/call':>10} {'vec50 us/iter':>13} {'root us/eval':>12} "
          f"{'root us/call':>12} {'root+fprime us':>14}")
    vecs = dict(vec)
    x50 = np.linspace(0.0, 1.0, 50)
    for name, fcos, fsin, fcos2 in variants:
        per_it, per_call, evals = fp_cost(fcos, 1.0)
        key = "numba cfunc" if name.startswith("numba") else name
        v = vecs.get(key)
        vs = f"{fp_cost(v, x50)[0]:13.3f}" if v is not None else f"{'-':>13}"
        t_root, ev_root = root_cost(fsin, None)
        t_root2, ev_root2 = root_cost(fsin, fcos2)
        r_eval = root_slope(fcbrt[name])
        print(f"{name:<36} {per_it:10.3f} {per_call:10.1f} {vs} {r_eval:12.3f} {t_root:12.1f} {t_root2:14.1f}")
    print(f"  fixed point (FP): Picard on x = cos x, {evals} evaluations to rtol 1e-13; us/iter = the slope of the call\n"
          f"  time between rtol 1e-3 and 1e-13 (the per-iteration cost: the C++ iteration plus the call of f).\n"
          f"  root us/eval: find_root of cbrt on (-1, 2), slope between max_iter 10 and 100 (3 evaluations per step).\n"
          f"  root us/call: sin on (3, 3.5), {ev_root} evaluations (central differences) or {ev_root2} with fprime = cos:\n"
          f"  a whole call, mostly its fixed cost (argument checks, result object).\n")


def section_threshold(args: argparse.Namespace) -> None:
    print("== 4. serial/parallel crossover of a kernel loop (Spectrum.df1 over n points, 2 threads) ==")
    old_t, old_w = lindiff.get_num_threads(), _core.get_parallel_min_work()
    if lindiff.max_num_threads() < 2 or not _core.have_openmp:
        print("  (no OpenMP or one thread: nothing to measure)\n")
        return
    rng = np.random.default_rng(2)
    print(f"{'work (terms)':>13} {'d':>6} {'n':>6} {'serial us':>10} {'parallel us':>12} {'par/ser':>8}")
    try:
        lindiff.set_num_threads(2)
        for d, n in ((1000, 4), (1000, 16), (1000, 64), (1000, 128), (1000, 256), (1000, 512), (1000, 1024),
                     (10000, 16), (10000, 64), (10000, 256)):
            s = lindiff.Spectrum.powerlaw(d, 1.0)
            k = 10 ** rng.uniform(-3, 2, n)
            _core.set_parallel_min_work(1e300)
            ts = per_call_us(lambda: s.df1(k), args.repeat, inner=10)
            _core.set_parallel_min_work(0.0)
            tp = per_call_us(lambda: s.df1(k), args.repeat, inner=10)
            print(f"{n * d:13.3g} {d:>6} {n:>6} {ts:10.1f} {tp:12.1f} {tp / ts:8.2f}")
    finally:
        lindiff.set_num_threads(old_t)
        _core.set_parallel_min_work(old_w)
    print(f"  default threshold: _core.get_parallel_min_work() = {old_w:.3g} terms "
          "(parallel from there; the loops' results do not depend on it)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000, help="calls per timing run (fewer for slow rows)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--dims", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--quick", action="store_true", help="fewer calls and repeats (a smoke run)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["kappa", "other", "solvers", "threshold"])
    args = ap.parse_args()
    if args.quick:
        args.calls, args.repeat = 200, 2
    warnings.simplefilter("error", lindiff.ConvergenceWarning)
    print(f"lindiff {lindiff.__version__}: {lindiff.build_info()['build']}")
    print(f"threads: default {lindiff.get_num_threads()}, OpenMP {_core.have_openmp}\n")
    if "kappa" not in args.skip:
        section_kappa(args)
    if "other" not in args.skip:
        section_other(args)
    if "solvers" not in args.skip:
        section_solvers(args)
    if "threshold" not in args.skip:
        section_threshold(args)


if __name__ == "__main__":
    main()
