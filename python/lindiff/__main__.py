"""Command line: ``lindiff`` / ``python -m lindiff``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConvergenceError, DivergenceWarning

if TYPE_CHECKING:
    import xarray as xr


def _spectrum_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .spectrum import Spectrum

    if args.eigenvalues:
        lam = np.load(args.eigenvalues) if args.eigenvalues.endswith(".npy") else np.loadtxt(args.eigenvalues)
        return Spectrum.from_eigenvalues(np.ravel(lam), name=args.eigenvalues)
    return Spectrum.powerlaw(args.d, args.k)


def _cmd_kappa(args: argparse.Namespace) -> int:
    from .kappa import kappa

    spec = _spectrum_from_args(args)
    z = np.asarray(args.z if args.z else np.logspace(-8, 4, 13), dtype=float)
    res = kappa(z, spec, args.N, strict=args.strict)
    print(f"{'z':>12} {'kappa':>22} {'kappa_prime':>14} {'iters':>5} {'residual':>10}")
    for zi, ki, dk, it, r in zip(z, res.value, res.derivative, res.iterations, res.residual):
        print(f"{zi:12.4e} {ki:22.15e} {dk:14.6e} {it:5d} {r:10.2e}")
    print(res)
    return 0 if res.all_converged else 1


def _cmd_theory(args: argparse.Namespace) -> int:
    import math

    from .schedule import Schedule
    from .theory import kl, kl_law, optimal_stopping, static_losses

    spec = _spectrum_from_args(args)
    sched = Schedule.linear(T=args.T)
    Ns = np.asarray(args.N_values, dtype=float)
    st = static_losses(spec, Ns, args.c, sched, strict=args.strict)
    d = float(spec.d)
    print(f"{spec.name}, d = {d:g}, c = {args.c:g}, {sched.name}; losses per dimension, t-averaged")
    print(f"{'N':>8} {'N/d':>7} {'test':>11} {'train':>11} {'eta_tau*':>10} {'test(tau*)':>11} "
          f"{'KL_fwd':>10} {'KL_rev':>10} {'d/(4N)':>9}")
    test, train = st.test.mean("t").values, st.train.mean("t").values
    for i, N in enumerate(Ns):
        op = optimal_stopping(spec, N, args.c, sched, strict=args.strict)
        if abs(N - d) > 1e-9 * d:
            kd = kl(spec, N, args.c, sched, strict=args.strict)
            kf, kr = float(kd.kl_fwd), float(kd.kl_rev)
        else:
            kf = kr = math.nan  # the contour method needs N != d
        print(f"{N:8g} {N / d:7.3g} {test[i]:11.5g} {train[i]:11.5g} {float(op.eta_tau):10.4g} "
              f"{float(op.test_min):11.5g} {kf:10.4g} {kr:10.4g} {kl_law(d, N)[0]:9.3g}")
    print(f"population optimum (N = inf): {float(st.optimum.mean('t')):.5g}; "
          "KL = inf where N < d with c = 0 (samples lie in span(X))")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .schedule import Schedule
    from .simulate import train
    from .theory import gradflow_losses
    from .validate import validate

    spec = _spectrum_from_args(args)
    sched = Schedule.linear(T=args.T)
    eta, steps = args.eta, args.steps
    if args.method == "sgd":
        # SGD's stationary noise adds an excess loss proportional to eta: to follow gradient flow it
        # needs a step well below GD's (one GD step on the same draws gives GD's default step)
        if eta is None:
            eta = train(spec, int(args.N), args.c, sched, t=args.t, steps=1, draws=args.draws, seed=args.seed).eta / 20
        steps = 4000 if steps is None else steps
    steps = 400 if steps is None else steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        res = train(spec, int(args.N), args.c, sched, t=args.t, method=args.method, eta=eta, steps=steps,
                    draws=args.draws, seed=args.seed, record_every=max(1, steps // 10))
    for w in caught:   # show the other warnings as they would have been shown
        if not issubclass(w.category, DivergenceWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    ds = res.losses
    n_div = int(ds.diverged.sum())
    if n_div:   # a too-large --eta is the user's choice: say why, no traceback, no comparison of cut runs
        why = "; ".join(str(w.message) for w in caught if issubclass(w.category, DivergenceWarning))
        raise ValueError(f"--eta {res.eta:.4g}: {n_div} of {ds.diverged.size} (draw, t) trainings diverged, so "
                         f"there is nothing to compare ({why}); choose a smaller --eta or leave it unset")
    et = ds.eta_tau.values[1:]
    if args.method == "gd":   # explicit GD has its own theory: n = eta_tau / eta steps of (1 - 2 eta m)^n
        th = gradflow_losses(spec, args.N, et, args.c, sched, t=args.t, gd_eta=res.eta, strict=args.strict)
        model = (f"GD against the GD theory (lindiff.theory.gradflow_losses with gd_eta = {res.eta:.4g}, "
                 f"n = eta_tau / eta steps)")
    else:                     # no SGD theory: gradient flow, which SGD follows up to O(eta)
        th = gradflow_losses(spec, args.N, et, args.c, sched, t=args.t, strict=args.strict)
        model = (f"SGD against gradient flow (lindiff.theory.gradflow_losses, gd_eta=None) at its small step "
                 f"eta = {res.eta:.4g}: SGD's noise adds an O(eta) excess loss, which enough draws resolve")
    print(f"{spec.name}, d = {spec.d}, N = {args.N:g}, c = {args.c:g}, {sched.name}: {args.method} with "
          f"eta = {res.eta:.4g}, {steps} steps, {args.draws} draws; per-dimension losses, simulation mean ± s.e. "
          "vs theory")
    print(f"comparison: {model}")
    _print_loss_table(ds, th, et, args.t, args.draws)
    v = validate(th, res)
    print(v)
    print(f"simulate: {'PASSED' if v.passed else 'FAILED'} ({v.n_failed} of {v.n_cells} cells beyond "
          f"{v.nsigma:g} standard errors; largest |z| = {abs(v.worst['z']):.3g})")
    return 0 if v.passed else 1


def _print_loss_table(ds: xr.Dataset, th: xr.Dataset, et: np.ndarray, times: Sequence[int], draws: int) -> None:
    """A few rows of simulation mean ± s.e. against the theory, per diffusion time."""
    print(f"{'t':>5} {'eta_tau':>9} {'test (sim)':>21} {'test (theory)':>13} {'train (sim)':>21} "
          f"{'train (theory)':>14}")
    mean, sem = ds.mean("draw"), ds.std("draw", ddof=1) / np.sqrt(draws)
    for t in times:
        for e in et[:: max(1, et.size // 5)][:5].tolist() + [et[-1]]:
            m, s, h = mean.sel(t=t, eta_tau=e), sem.sel(t=t, eta_tau=e), th.sel(t=t, eta_tau=e)
            print(f"{t:5d} {e:9.4g} {float(m.test):10.5g} ± {float(s.test):8.2g} {float(h.test):13.5g} "
                  f"{float(m.train):10.5g} ± {float(s.train):8.2g} {float(h.train):14.5g}")


def _cmd_sweep(args: argparse.Namespace) -> int:
    import importlib

    return int(importlib.import_module("lindiff.sweep").run_cli(args))


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import run_cli

    return int(run_cli(args))


def _cmd_selftest(args: argparse.Namespace) -> int:
    from .selftest import run_selftest

    return 0 if run_selftest(verbose=True) else 1


def _cmd_info(args: argparse.Namespace) -> int:
    from . import build_info

    for k, v in build_info().items():
        print(f"{k}: {v}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    """Where the C++ headers and the CMake package config are (as ``pybind11 --cmakedir``)."""
    from . import __version__
    from ._paths import get_cmake_dir, get_include

    if not (args.includedir or args.cmakedir or args.version):
        print(f"version: {__version__}\nincludedir: {get_include()}\ncmakedir: {get_cmake_dir()}")
        return 0
    if args.version:
        print(__version__)
    if args.includedir:
        print(get_include())
    if args.cmakedir:
        print(get_cmake_dir())
    return 0


def _cmd_spectrum(args: argparse.Namespace) -> int:
    from . import spectra

    if args.top < 0:
        raise ValueError(f"--top must be >= 0 (got {args.top})")
    if args.list:
        for name in spectra.available():
            i = spectra.info(name)
            print(f"{name:14s} d = {i['d']:4d}, n = {i['n_images']:6d}, k = {i['powerlaw_fit']['k']:.3f}: {i['title']}")
        return 0
    if args.name is not None:
        spec = spectra.load(args.name, normalize=not args.raw)
        i = spectra.info(args.name)
        print(f"{args.name}: {i['title']}")
        for key in ("source", "licence", "n_images", "image_shape", "estimator", "normalisation", "sha256"):
            print(f"  {key}: {i[key]}")
        for key, val in i["preprocessing"].items():
            print(f"  preprocessing/{key}: {val}")
    else:
        path = args.from_npy
        if not path.endswith(".npy"):
            raise ValueError(f"--from-npy must name a .npy file (got {path!r})")
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, EOFError) as e:
            raise ValueError(f"--from-npy: cannot read {path!r}: {e}") from None
        spec = spectra.from_array(data, scale=args.scale, normalize=not args.raw, name=path)
        info = spec.info
        print(f"{path}: {info['n_samples']} samples of shape {tuple(info['input_shape'][1:])}, scaled by 1/{args.scale:g}; "
              f"dropped {info['dropped_features']} constant feature(s) and {info['dropped_null_directions']} "
              f"null direction(s)")
    lam = spec.eigenvalues
    fit_range = tuple(args.fit_range) if args.fit_range else None
    fit = spectra.fit_powerlaw(lam, fit_range=fit_range) if lam.size >= 2 else None
    units = "raw" if args.raw else "normalised to Tr/d = 1"
    print(f"d = {spec.d}, trace = {spec.trace:.6g} ({units}), Tr/d = {spec.trace / spec.d:.6g}")
    print(f"power-law fit: {fit}" if fit else "power-law fit: needs d >= 2")
    top = lam[: args.top]
    print(f"top {top.size} eigenvalues: " + " ".join(f"{v:.6g}" for v in top))
    if args.out:
        header = (f"lindiff spectrum: eigenvalues of {spec.name} ({units}), d = {spec.d}, sorted descending; "
                  "use with --eigenvalues FILE")
        np.savetxt(args.out, lam, fmt="%.17g", header=header)
        print(f"wrote {lam.size} eigenvalues to {args.out}")
    return 0


def _spectrum_options(p: argparse.ArgumentParser, d: int) -> None:
    """--d, --k, --eigenvalues and --strict: the spectrum (and solver strictness) every model command takes."""
    p.add_argument("--d", type=int, default=d, help=f"dimension of the power-law spectrum (default {d})")
    p.add_argument("--k", type=float, default=1.0, help="power-law exponent, lambda ∝ nu^-k (default 1)")
    p.add_argument("--eigenvalues", metavar="FILE", help="eigenvalues from a .npy or text file instead of a power law")
    p.add_argument("--strict", action="store_true", help="fail on non-convergence instead of warning")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="lindiff",
        description="Theory toolkit for generalization and memorization in linear diffusion models.",
    )
    p.add_argument("--version", action="version", version=f"lindiff {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pk = sub.add_parser("kappa", help="solve the deterministic-equivalent fixed point kappa(z)",
                        description="Solve z = kappa (1 - df1(kappa)/N) for a power-law or given spectrum.")
    pk.add_argument("--N", type=float, default=600, help="number of samples (default 600)")
    pk.add_argument("--z", type=float, nargs="+", help="values of z > 0 (default: 13 values from 1e-8 to 1e4)")
    _spectrum_options(pk, 1000)
    pk.set_defaults(func=_cmd_kappa)

    pt = sub.add_parser("theory", help="DE losses, optimal stopping and KL vs N (Merger & Goldt)",
                        description="Deterministic-equivalent t-averaged test/train loss of the minimiser, the "
                                    "optimal gradient-flow stopping time and the KL of the sampler, for several N.")
    pt.add_argument("--N", dest="N_values", type=float, nargs="+", default=[300, 600, 2000, 8000],
                    help="sample sizes (default 300 600 2000 8000)")
    pt.add_argument("--c", type=float, default=0.0, help="ridge penalty (default 0)")
    pt.add_argument("--T", type=int, default=1000, help="diffusion steps of the linear schedule (default 1000)")
    _spectrum_options(pt, 1000)
    pt.set_defaults(func=_cmd_theory)

    pm = sub.add_parser("simulate", help="train linear denoisers by GD/SGD and validate against the theory",
                        description="Train the per-time linear denoisers on seeded training sets (C++ kernel), "
                                    "and compare the test/train loss trajectories with the deterministic-"
                                    "equivalent theory (lindiff.validate, z-scores only): GD with the GD theory "
                                    "(gd_eta), SGD with gradient flow at its small step. Exit status 1 when the "
                                    "comparison fails.")
    pm.add_argument("--N", type=int, default=400, help="number of samples (default 400)")
    pm.add_argument("--c", type=float, default=0.0, help="ridge penalty (default 0)")
    pm.add_argument("--T", type=int, default=1000, help="diffusion steps of the linear schedule (default 1000)")
    pm.add_argument("--t", type=int, nargs="+", default=[10, 100, 500], help="diffusion times (default 10 100 500)")
    pm.add_argument("--method", choices=["gd", "sgd"], default="gd", help="training method (default gd)")
    pm.add_argument("--eta", type=float, default=None,
                    help="learning rate (default: half the largest stable GD step; a twentieth of that for SGD)")
    pm.add_argument("--steps", type=int, default=None, help="training steps (default 400 for GD, 4000 for SGD)")
    pm.add_argument("--draws", type=int, default=10, help="training sets (default 10)")
    pm.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    _spectrum_options(pm, 200)
    pm.set_defaults(func=_cmd_simulate)

    pr = sub.add_parser("spectrum", help="real-data spectra: shipped ones, or the covariance of your own data",
                        description="Print the provenance and summary (d, trace, fitted power-law exponent, top "
                                    "eigenvalues) of a spectrum shipped with lindiff (--name), or compute one from "
                                    "your own data array (--from-npy: n x d samples, or n x h x w [x c] images, "
                                    "flattened) with lindiff.spectra.from_array; --out writes the eigenvalues for "
                                    "the other commands' --eigenvalues FILE.")
    src = pr.add_mutually_exclusive_group(required=True)
    src.add_argument("--name", help="a shipped spectrum (see --list)")
    src.add_argument("--from-npy", metavar="FILE", help="data array in a .npy file, samples along the first axis")
    src.add_argument("--list", action="store_true", help="list the shipped spectra")
    pr.add_argument("--scale", type=float, default=1.0,
                    help="divide the data by this first, e.g. 255 for 8-bit images (default 1)")
    pr.add_argument("--raw", action="store_true",
                    help="keep the covariance's own units (default: rescale to Tr Sigma / d = 1)")
    pr.add_argument("--fit-range", type=int, nargs=2, metavar=("LO", "HI"),
                    help="1-based index range nu = LO..HI of the power-law fit (default: 10..d/2)")
    pr.add_argument("--top", type=int, default=10, help="how many leading eigenvalues to print (default 10)")
    pr.add_argument("--out", metavar="FILE", help="write the eigenvalues to this text file")
    pr.set_defaults(func=_cmd_spectrum)
    pw = sub.add_parser("sweep", help="evaluate a lindiff function over a grid (TOML config) into one Dataset",
                        description="Run the sweep a TOML file describes (function, [args], [grid]; see "
                                    "lindiff.sweep.run_config), serially, on a process pool or on dask.")
    pw.add_argument("config", metavar="CONFIG.toml", help="the sweep description")
    pw.add_argument("--executor", choices=["serial", "process", "dask"], default=None,
                    help="where to run (default: serial, or process with --workers > 1)")
    pw.add_argument("--workers", type=int, default=None, help="worker processes (process pool or local dask cluster)")
    pw.add_argument("--scheduler", metavar="ADDRESS", default=None,
                    help="a running dask scheduler, e.g. tcp://10.0.0.1:8786 (implies --executor dask)")
    pw.add_argument("--out", metavar="FILE.nc", default=None, help="write the Dataset to a netCDF file")
    pw.add_argument("--cache", metavar="DIR", default=None, help="content-hash cache directory")
    pw.add_argument("--quiet", action="store_true", help="no progress bar")
    pw.set_defaults(func=_cmd_sweep)

    pp = sub.add_parser("reproduce", help="each paper's figures at its own settings, theory vs simulation, "
                                          "into a report folder",
                        description="One section per figure or claim at the paper's own parameters (Merger & Goldt "
                                    "Fig. 1h, 1l-o, 2, 3, 4, 5a-b; Halder at d = 100): figures (PNG), data (netCDF, "
                                    "CSV) and a README.md with the validation verdicts and each section's wall time "
                                    "(lindiff.reproduce). Without a paper: both.")
    pp.add_argument("paper", nargs="?", choices=["merger-goldt", "halder"], default=None,
                    help="only this paper's sections (default: both)")
    pp.add_argument("--quick", action="store_true", help="fewer draws, coarser grids (under 3 min on 2 cores)")
    pp.add_argument("--out", metavar="DIR", default="lindiff-report", help="report folder (default lindiff-report)")
    pp.add_argument("--executor", choices=["serial", "process", "dask"], default="serial",
                    help="where the grids run (default serial)")
    pp.add_argument("--workers", type=int, default=None, help="worker processes (process pool or local dask cluster)")
    pp.add_argument("--quiet", action="store_true", help="no progress bars")
    pp.set_defaults(func=_cmd_reproduce)

    ps = sub.add_parser("selftest", help="check the installed build against mpmath references")
    ps.set_defaults(func=_cmd_selftest)

    pi = sub.add_parser("info", help="print how the kernel was built")
    pi.set_defaults(func=_cmd_info)

    pc = sub.add_parser("config", help="where the C++ headers and the CMake package config are installed",
                        description="Print the C++ include directory and the CMake package directory of this "
                                    "lindiff (unquoted, one per line, in the order version, includedir, cmakedir), "
                                    "e.g. cmake -Dlindiff_DIR=\"$(lindiff config --cmakedir)\". Without options: "
                                    "all of them, labelled.")
    pc.add_argument("--includedir", action="store_true", help="the directory holding lindiff/*.hpp (for -I)")
    pc.add_argument("--cmakedir", action="store_true",
                    help="the directory holding lindiffConfig.cmake (for -Dlindiff_DIR)")
    pc.add_argument("--version", action="store_true", help="the lindiff version")
    pc.set_defaults(func=_cmd_config)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except ConvergenceError as e:  # --strict: the solver said so; not a traceback
        print(f"lindiff: not converged: {e}", file=sys.stderr)
        return 1
    except (ValueError, ImportError) as e:   # bad input, or an optional dependency missing (matplotlib, dask)
        print(f"lindiff: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a missing file, a directory where a file was expected, no permission
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"lindiff: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
