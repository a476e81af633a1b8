"""Executable, checked SymPy derivations of lindiff's theory (installed as ``lindiff.derivations``).

Each topic module (``replica``, ``losses``, ``gradflow``, ``kl``, ``memorization``) derives its
results in SymPy from stated assumptions and registers every step with checks: symbolic
simplification where SymPy can, numeric equality at deterministic pseudo-random points (seeded
by hashing the symbol names) in mpmath at 50 digits, limits and series, and a few seeded Monte
Carlo cross-checks of the assumptions themselves. ``check`` holds the reusable helpers.

Command line::

    python -m lindiff.derivations --check               # run every check, exit 1 on failure
    python -m lindiff.derivations --check --fast        # the fast subset (what `lindiff selftest` runs)
    python -m lindiff.derivations --docs docs/derivations/   # one Markdown page per module
    python -m lindiff.derivations --regenerate-trusted  # rewrite trusted_values.json

Trusted values (``trusted_values.json``) hold the results of expensive numeric procedures (the
memorization thresholds, solved at 50 digits). They change only on purpose: regenerate them with
``--regenerate-trusted`` when a derivation changes, review the diff, and say why in the commit
message. The fast checks verify the committed values (residuals of their defining equations);
the full checks recompute them.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from typing import Any

from .check import CheckResult, Derivation

MODULES: tuple[str, ...] = ("replica", "losses", "gradflow", "kl", "memorization")

__all__ = ["MODULES", "CheckResult", "Derivation", "build", "build_all", "run_checks", "regenerate_trusted"]


def build(name: str) -> Derivation:
    """Build (derive) one module's :class:`Derivation` (cached)."""
    if name not in MODULES:
        raise ValueError(f"unknown derivation module {name!r}; choose one of {MODULES}")
    return importlib.import_module(f".{name}", __name__).build()


def build_all() -> list[Derivation]:
    return [build(m) for m in MODULES]


def run_checks(fast: bool = True, modules: tuple[str, ...] | None = None) -> list[CheckResult]:
    """Run the derivation checks and return their results.

    Parameters
    ----------
    fast : bool
        Only the fast subset (a few seconds; used by ``lindiff selftest``); ``False`` runs all
        checks, including quadratures, Monte Carlo cross-checks and re-solving trusted values.
    modules : tuple of str, optional
        Restrict to these modules (default: all of :data:`MODULES`).

    Returns
    -------
    list of CheckResult
        Each with ``name``, ``passed`` and ``detail``.
    """
    out: list[CheckResult] = []
    for m in modules or MODULES:
        try:
            D = build(m)
        except Exception as exc:  # a derivation that cannot be built is a failed check
            out.append(CheckResult(f"{m}: build", False, f"FAILED: derivation raised {exc!r}", "custom"))
            continue
        out.extend(D.run(fast=fast))
    return out


def regenerate_trusted(path: str | None = None) -> dict[str, Any]:
    """Recompute every trusted value and rewrite ``trusted_values.json``; returns the new content."""
    from . import memorization

    path = path or memorization.TRUSTED_FILE
    values: dict[str, Any] = {
        "_rule": "Trusted values change only on purpose: regenerate with "
                 "`python -m lindiff.derivations --regenerate-trusted`, review the diff and explain it in the commit.",
        "_generated": time.strftime("%Y-%m-%d"),
    }
    values.update(memorization.compute_trusted())
    with open(path, "w") as fh:
        json.dump(values, fh, indent=1)
        fh.write("\n")
    return values
