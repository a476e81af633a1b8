"""Benchmark: the theory functions vs vectorised NumPy implementations of the same formulas.

    python bench/bench_theory.py [--repeat 3]

(a) t-averaged static test/train loss, T = 1000, d = 1000, 100 values of N;
(b) gradflow_losses at d = 1000, N = 600, T = 1000, 50 values of eta*tau;
(c) optimal_stopping (t-averaged) for 5 values of k (d = 1000, N = 600);
then the static losses (100 N x 1000 t) against d up to 10^6 (compress="auto"), and the
training-time losses against d: the real-axis rule with its spectral sums through the tree
against the same rule with direct O(d) sums (same process), and gradflow_losses (Gauss rule)
against the real-axis rule's losses.
Each is timed (minimum over repeats, 1 kernel thread) against a NumPy implementation of the
same formulas in the same run: kappa by the vectorised bracketed Newton of bench_kappa.py, the
static losses from direct spectral sums, the gradient-flow losses from the same contour nodes
with kappa continued by NumPy Newton and the integrals by broadcasting; the optimal stopping by
the same scan + Brent search on the NumPy loss. Accuracy is against the real-axis rule
(quadrature="real": exact for any integrand), not against the NumPy contour baseline, whose own
error reaches ~1e-8 at eta*tau of order 1-100.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, timed  # noqa: E402
from bench_kappa import numpy_newton  # noqa: E402

import lindiff  # noqa: E402
from lindiff import _core  # noqa: E402
from lindiff.theory import de_measure, gradflow_losses, optimal_stopping, static_losses  # noqa: E402
from lindiff.theory.gradflow import _minimise_log  # noqa: E402  (the same optimiser for both)

SCHED = lindiff.Schedule.linear()


# ---------------------------------------------------------------- NumPy implementations
def np_static(lam: np.ndarray, Ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = lam.size
    q = SCHED.q
    test, train = np.empty((Ns.size, q.size)), np.empty((Ns.size, q.size))
    for i, N in enumerate(Ns):
        kap, _ = numpy_newton(q, lam, N)
        u = 1.0 / (lam[None, :] + kap[:, None])
        t = lam[None, :] * u
        s1, s2 = u.sum(1), (u * u).sum(1)
        df2, e12 = (t * t).sum(1), (t * u).sum(1)
        dF = (1 - d / N) + (2 * kap * s1 - kap * kap * s2) / N
        kp = 1 / dF
        ratio = kap / q
        g = ratio * s1 / d
        gp = (e12 * kp - ratio * s1) / (q * d)
        mhp = (ratio * kap * e12 + (ratio - kp) * df2) / (q * d)
        common = 1 - 2 * q * g - q * q * gp
        test[i], train[i] = common + q * mhp, common + q * (g + q * gp)
    return test, train


def np_contour_kappa(lam: np.ndarray, N: float, nodes: np.ndarray) -> np.ndarray:
    """kappa at z = -nodes by NumPy Newton continuation: from the real root at |z0| along the
    arc to z0, then along the nodes in order."""
    z = -nodes
    k = complex(numpy_newton(np.array([abs(z[0])]), lam, N)[0][0])
    arc = abs(z[0]) * np.exp(1j * np.linspace(0, np.angle(z[0]), 64))
    path = np.concatenate([arc, z])
    out = np.empty(path.size, dtype=complex)
    c = 1 - d_over(lam, N)
    for j, zz in enumerate(path):
        for _ in range(50):
            u = 1 / (lam + k)
            s1 = u.sum()
            step = (k * c + k * k * s1 / N - zz) / (c + (2 * k * s1 - k * k * (u * u).sum()) / N)
            k -= step
            if abs(step) <= 1e-15 * abs(k):
                break
        out[j] = k
    return out[arc.size:]


def d_over(lam: np.ndarray, N: float) -> float:
    return lam.size / N


def np_gradflow(lam: np.ndarray, N: float, mu, eta_tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    d = lam.size
    nodes = mu.nodes
    kap = np_contour_kappa(lam, N, nodes)
    z = -nodes
    u = 1 / (lam[None, :] + kap[:, None])
    S1 = u.sum(1)
    df1 = (lam[None, :] * u).sum(1)
    M = nodes.size
    # dw/dtheta from the nodes' geometry (same ellipse as the kernel): finite-free via FFT
    logw = np.log(nodes)
    coef = np.fft.fft(logw) / M
    freq = np.fft.fftfreq(M, d=1.0 / M)
    du = np.fft.ifft(coef * 1j * freq) * M
    fac = 1j / M * nodes * du
    w_rho = fac * kap * S1 / (z * d)
    w_sig = fac * kap * df1 / (z * d)
    a2, b2 = SCHED.a2[:, None], SCHED.b2[:, None]
    test = np.empty((eta_tau.size, SCHED.T))
    train = np.empty_like(test)
    for e, et in enumerate(eta_tau):
        m = a2 * nodes[None, :] + b2
        phi = 1 / m if np.isinf(et) else -np.expm1(-2 * et * m) / m
        one = 1 - b2 * phi
        F1, F2 = one * one, a2 * b2 * phi * phi
        phi0 = 1 / SCHED.b2 if np.isinf(et) else -np.expm1(-2 * et * SCHED.b2) / SCHED.b2
        one0 = 1 - SCHED.b2 * phi0
        atom = mu.atoms["rho"] * one0**2 + mu.atoms["sigma"] * SCHED.a2 * SCHED.b2 * phi0**2
        test[e] = (F1 @ w_rho + F2 @ w_sig).real + atom
        train[e] = ((F1 + nodes[None, :] * F2) @ w_rho).real + mu.atoms["rho"] * one0**2
    return test, train


def np_optimal(lam: np.ndarray, N: float) -> float:
    mu = de_measure(lindiff.Spectrum.from_eigenvalues(lam), N)
    grid = np.geomspace(1e-3, 1e7, 21)
    te, _ = np_gradflow(lam, N, mu, grid)
    curve = te.mean(1)
    k = int(np.argmin(curve))
    f = lambda x: float(np_gradflow(lam, N, mu, np.array([x]))[0].mean())  # noqa: E731
    return _minimise_log(f, grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)], tol=1e-6)[0]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1)))


def bench_baselines(repeat: int) -> None:
    """(a)-(c): lindiff against the NumPy implementations, d = 1000, one thread."""
    spec = lindiff.Spectrum.powerlaw(1000, 1.0)
    lam = spec.eigenvalues
    rows = []

    Ns = np.linspace(100, 3000, 100)
    tk = best_time(lambda: static_losses(spec, Ns)[["test", "train"]].mean("t"), repeat)
    tn = best_time(lambda: np_static(lam, Ns), 1)
    ds = static_losses(spec, Ns)
    te, tr = np_static(lam, Ns)
    rows.append(("(a) static losses, 100 N x 1000 t", tk, tn, 0.25, 50, max(_rel(ds.test, te), _rel(ds.train, tr)),
                 "NumPy direct sums"))

    et = np.geomspace(0.1, 1e4, 50)
    tk = best_time(lambda: gradflow_losses(spec, 600, et), repeat)
    mu = de_measure(spec, 600)
    tn = best_time(lambda: np_gradflow(lam, 600, mu, et), 1)
    g = gradflow_losses(spec, 600, et)
    fine = gradflow_losses(spec, 600, et, quadrature="real")
    te, _ = np_gradflow(lam, 600, mu, et)
    acc = max(_rel(g[v], fine[v]) for v in ("test", "train", "data_ridge"))
    rows.append(("(b) gradflow_losses, 50 eta*tau", tk, tn, 0.5, 10, acc, "real-axis rule"))
    print(f"(b) quadrature: {g.attrs['quadrature_rule']}")
    print(f"    the NumPy baseline (128-node contour) differs from the real-axis rule by {_rel(te, fine.test):.1e}")

    ks = [0.0, 0.5, 1.0, 1.5, 2.0]
    specs = [lindiff.Spectrum.powerlaw(1000, k) for k in ks]
    tk = best_time(lambda: [optimal_stopping(s, 600) for s in specs], max(1, repeat - 1))
    tn = best_time(lambda: [np_optimal(s.eigenvalues, 600) for s in specs], 1)
    ours = [optimal_stopping(s, 600) for s in specs]
    fine_os = [optimal_stopping(s, 600, quadrature="real") for s in specs]
    acc = max(_rel(o.test_min, f.test_min) for o, f in zip(ours, fine_os))
    rows.append(("(c) optimal_stopping, 5 values of k", tk, tn, 2.0, 10, acc, "real-axis rule (test_min)"))

    print(f"\n{'task':<38}{'lindiff':>10}{'NumPy':>10}{'ratio':>9}  {'target':<24}{'max rel. diff':>14}  vs")
    for name, a, b, tmax, rmin, agree, ref in rows:
        ok = "ok" if (a <= tmax and b / a >= rmin) else "MISSED"
        print(f"{name:<38}{a:9.3f}s{b:9.3f}s{b / a:8.1f}x  <{tmax:g} s, >={rmin}x: {ok:<6}{agree:14.1e}  {ref}")
    print("\noptimal eta*tau* vs k:", {k: round(float(o.eta_tau), 4) for k, o in zip(ks, ours)})


def bench_scaling(dims: list[int], repeat: int) -> None:
    """The static losses (100 N x 1000 t) against d: compress='auto' on the first call (the
    compression included) and memoised, against the direct sums (timed up to d = 196608; the
    accuracy check at 5 N beyond)."""
    Ns_ratio = np.linspace(0.1, 3.0, 100)
    print(f"\n{'d':>8}{'nodes':>7}{'bound':>9}{'first call':>12}{'memoised':>10}{'direct':>9}"
          f"{'memo/d=1e3':>12}{'max rel. diff':>15}")
    base = None
    for d in dims:
        spec = lindiff.Spectrum.powerlaw(d, 1.0)
        Ns = Ns_ratio * d
        first, ds = timed(lambda: static_losses(spec, Ns), 1)
        memo = best_time(lambda: static_losses(spec, Ns), repeat)
        base = memo if base is None else base
        direct = best_time(lambda: static_losses(spec, Ns, compress=False), 1) if d <= 196608 else float("nan")
        few = Ns[:: 25]
        ref = static_losses(spec, few, compress=False)
        got = ds.sel(N=few)
        diff = max(_rel(got[v], ref[v]) for v in ("test", "train", "data_ridge"))
        info = spec.compress().info["compression"] if "Gauss" in ds.attrs["spectral_sums"] else None
        nodes = f"{info.r}" if info else "-"
        bound = f"{info.bound:.1e}" if info else "-"
        print(f"{d:>8}{nodes:>7}{bound:>9}{first:11.3f}s{memo:9.3f}s{direct:8.2f}s{memo / base:11.1f}x{diff:15.1e}")


def bench_training_scaling(dims: list[int], direct_max: int, repeat: int) -> None:
    """The training-time path against d (N = 0.6 d, k = 1 and 2): the real-axis rule built with
    tree sums vs direct sums (timed up to d = direct_max), then gradflow_losses (50 eta*tau x
    1000 t, quadrature="auto" = the Gauss rule, first call: rule + sizing + losses) and its
    largest relative difference from the same losses on the real-axis rule."""
    et = np.geomspace(0.1, 1e4, 50)
    print(f"\n{'d':>8}{'k':>4}{'fine nodes':>11}{'intervals':>10}{'tree':>9}{'direct':>9}{'ratio':>8}"
          f"{'gauss r':>9}{'gradflow':>10}{'vs real':>10}")
    for d in dims:
        for k in (1.0, 2.0):
            spec = lindiff.Spectrum.powerlaw(d, k)
            lam, w = spec._core_args()
            t_tree, r = timed(lambda: _core.de_measure_real(lam, w, 0.6 * d, m_min=16), repeat)
            t_dir = best_time(lambda: _core.de_measure_real(lam, w, 0.6 * d, m_min=16, tree_from=10**9), 1) \
                if d <= direct_max else float("nan")
            t_g, g = timed(lambda: gradflow_losses(spec, 0.6 * d, et), 1)
            fine = gradflow_losses(spec, 0.6 * d, et, quadrature="real")
            acc = max(_rel(g[v], fine[v]) for v in ("test", "train", "data_ridge"))
            rule = g.attrs["quadrature_rule"].split(":")[1].split("(")[0].strip() if "Gauss" in g.attrs["quadrature_rule"] else "fine"
            ok = "" if r["converged"] else " (not converged)"
            direct = f"{t_dir:8.2f}s{t_dir / t_tree:7.0f}x" if t_dir == t_dir else f"{'-':>9}{'-':>8}"
            print(f"{d:>8}{k:>4g}{r['nodes'].size:>11}{r['intervals']:>10}{t_tree:8.3f}s{direct}"
                  f"{rule:>14}{t_g:9.2f}s{acc:10.1e}{ok}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scaling", type=int, nargs="*", default=[1000, 10_000, 100_000, 196_608, 1_000_000],
                    help="dimensions of the static-losses scaling table (none: skip it)")
    ap.add_argument("--training", type=int, nargs="*", default=[1000, 10_000, 100_000, 196_608, 1_000_000],
                    help="dimensions of the training-time scaling table (none: skip it)")
    ap.add_argument("--direct-max", type=int, default=30_000,
                    help="largest d at which the real-axis rule is also timed with direct sums")
    args = ap.parse_args()
    lindiff.set_num_threads(1)
    print(f"lindiff {lindiff.__version__}: {lindiff.build_info()['build']}; 1 kernel thread; load {os.getloadavg()}")
    bench_baselines(args.repeat)
    if args.scaling:
        bench_scaling(args.scaling, args.repeat)
    if args.training:
        bench_training_scaling(args.training, args.direct_max, args.repeat)


if __name__ == "__main__":
    main()
