"""Command line: ``lindiff`` / ``python -m lindiff``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np


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


def _cmd_selftest(args: argparse.Namespace) -> int:
    from .selftest import run_selftest

    return 0 if run_selftest(verbose=True) else 1


def _cmd_info(args: argparse.Namespace) -> int:
    from . import build_info

    for k, v in build_info().items():
        print(f"{k}: {v}")
    return 0


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
    pk.add_argument("--d", type=int, default=1000, help="dimension of the power-law spectrum (default 1000)")
    pk.add_argument("--k", type=float, default=1.0, help="power-law exponent, lambda ∝ nu^-k (default 1)")
    pk.add_argument("--N", type=float, default=600, help="number of samples (default 600)")
    pk.add_argument("--z", type=float, nargs="+", help="values of z > 0 (default: 13 values from 1e-8 to 1e4)")
    pk.add_argument("--eigenvalues", metavar="FILE", help="eigenvalues from a .npy or text file instead of a power law")
    pk.add_argument("--strict", action="store_true", help="fail on non-convergence instead of warning")
    pk.set_defaults(func=_cmd_kappa)

    ps = sub.add_parser("selftest", help="check the installed build against mpmath references")
    ps.set_defaults(func=_cmd_selftest)

    pi = sub.add_parser("info", help="print how the kernel was built")
    pi.set_defaults(func=_cmd_info)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except ValueError as e:
        print(f"lindiff: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
