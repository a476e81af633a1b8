"""``lindiff selftest``: a quick check of an installed build against independent references."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import reference
from .kappa import kappa
from .spectrum import Spectrum

__all__ = ["Check", "run_selftest"]


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def _kernel_vs_mpmath() -> list[Check]:
    out = []
    for d, k in [(10, 0.0), (40, 1.0), (100, 2.0)]:
        s = Spectrum.powerlaw(d, k)
        for ratio in (0.5, 2.0):
            N = ratio * d
            z = np.array([1e-7, 1e-3, 0.3, 50.0])
            got = kappa(z, s, N).value
            ref = np.array([float(reference.kappa_mp(zi, s.eigenvalues, N, dps=30)) for zi in z])
            err = float(np.max(np.abs(got - ref) / ref))
            out.append(Check(f"kappa real, d={d}, k={k:g}, N/d={ratio:g}", err <= 1e-12, f"max rel err {err:.2e}"))
    s = Spectrum.powerlaw(30, 1.0)
    zc = np.array([0.5 + 0.01j, -0.2 + 0.05j, -3.0 + 0.01j])
    got_c = kappa(zc, s, 15.0).value
    ref_c = np.array([complex(reference.kappa_mp(zi, s.eigenvalues, 15.0, dps=30)) for zi in zc])
    err = float(np.max(np.abs(got_c - ref_c) / np.abs(ref_c)))
    out.append(Check("kappa complex path, d=30, k=1, N/d=0.5", err <= 1e-12, f"max rel err {err:.2e}"))
    iso = Spectrum.from_eigenvalues([1.0], weights=[10**6])
    z = np.logspace(-8, 4, 25)
    for N in (2.5e5, 4e6):
        e = float(np.max(np.abs(kappa(z, iso, N).value / reference.kappa_isotropic(z, 1e6, N) - 1)))
        out.append(Check(f"isotropic closed form, d=1e6 (weighted), N/d={N / 1e6:g}", e <= 1e-12, f"max rel err {e:.2e}"))
    return out


def _derivations() -> list[Check]:
    from . import derivations

    return [Check(f"derivation: {c.name}", bool(c.passed), str(c.detail)) for c in derivations.run_checks(fast=True)]


def run_selftest(verbose: bool = True) -> bool:
    """Run the checks, print a table, return True when all pass.

    Examples
    --------
    >>> import lindiff.selftest
    >>> lindiff.selftest.run_selftest(verbose=False)
    True
    """
    t0 = time.perf_counter()
    checks = _kernel_vs_mpmath() + _derivations()
    ok = all(c.passed for c in checks)
    if verbose:
        w = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{'PASS' if c.passed else 'FAIL'}  {c.name.ljust(w)}  {c.detail}")
        n_pass = sum(c.passed for c in checks)
        print(f"selftest: {n_pass} passed, {len(checks) - n_pass} failed in {time.perf_counter() - t0:.1f} s")
    return ok
