"""Entry points of the fuzz suite (tests/test_fuzz.py) and the verdict on one call.

This module is imported by the isolated worker process, so everything here is picklable by
name: the cases are plain functions of plain arguments (lists, floats, strings).

Verdicts: ``good`` (a finite result, a flagged non-convergence, a documented inf, or a
ValueError/TypeError whose message names the argument), ``weak`` (an error of another type, or
a message that names no argument), ``bad`` (NaN, or a non-finite value reported as converged,
or a closed-form oracle missed).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

# ------------------------------------------------------------------ building inputs


def _spectrum(eigs: Any, weights: Any = None):  # type: ignore[no-untyped-def]
    import lindiff

    return lindiff.Spectrum(eigs, weights=weights)


def _fp_affine(x, a=0.5, b=1.0):  # type: ignore[no-untyped-def]
    return a * np.asarray(x) + b


def _root_shift(x, a=3.0):  # type: ignore[no-untyped-def]
    return x - a


# ------------------------------------------------------------------ the cases


def case_kappa(z, eigs, N, strict=False):  # type: ignore[no-untyped-def]
    import lindiff

    return lindiff.kappa(z, _spectrum(eigs), N, strict=strict)


def case_kappa0(eigs, N):  # type: ignore[no-untyped-def]
    import lindiff

    return lindiff.kappa0(_spectrum(eigs), N)


def case_spectrum(eigs, weights):  # type: ignore[no-untyped-def]
    s = _spectrum(eigs, weights)
    return s.df1(np.array([1.0]))


def case_static_losses(eigs, N, c, t):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.static_losses(_spectrum(eigs), N, c, t=t)


def case_gradflow(eigs, N, eta_tau, gd_eta, t):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.gradflow_losses(_spectrum(eigs), N, eta_tau, t=t, gd_eta=gd_eta)


def case_optimal_stopping(eigs, N, grid_points):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.optimal_stopping(_spectrum(eigs), N, grid_points=grid_points)


def case_kl(eigs, N, c):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.kl(_spectrum(eigs), N, c)


def case_kl_wishart(d, N):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.kl_wishart(d, N)


def case_spectral_density(eigs, N, s):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.spectral_density(_spectrum(eigs), N, s)


def case_de_measure(eigs, N, method):  # type: ignore[no-untyped-def]
    from lindiff import theory

    return theory.de_measure(_spectrum(eigs), N, method=method)


def case_fixed_point(x0, a, rtol):  # type: ignore[no-untyped-def]
    import functools

    import lindiff

    return lindiff.solve_fixed_point(functools.partial(_fp_affine, a=a), x0, rtol=rtol)


def case_find_root(lo, hi, a):  # type: ignore[no-untyped-def]
    import functools

    import lindiff

    return lindiff.find_root(functools.partial(_root_shift, a=a), (lo, hi))


def case_relative_distance(n_train, n_ref, n_gen, d, scale):  # type: ignore[no-untyped-def]
    from lindiff.memorization import relative_distance

    rng = np.random.default_rng(0)
    pts = [scale * rng.standard_normal((n, d)) if isinstance(n, int) and n > 0 else n for n in (n_train, n_ref, n_gen)]
    return relative_distance(*pts)


def case_nearest(n_train, n_gen, d, scale):  # type: ignore[no-untyped-def]
    from lindiff.memorization import nearest_neighbour_ratio

    rng = np.random.default_rng(1)
    X = scale * rng.standard_normal((n_train, d)) if isinstance(n_train, int) and n_train > 0 else n_train
    U = scale * rng.standard_normal((n_gen, d)) if isinstance(n_gen, int) and n_gen > 0 else n_gen
    return nearest_neighbour_ratio(X, U)


def case_ensemble(eigs, N, draws, c):  # type: ignore[no-untyped-def]
    from lindiff import simulate

    return simulate.ensemble(_spectrum(eigs), N, c, draws=draws, t=[1, 500])


def case_set_num_threads(n):  # type: ignore[no-untyped-def]
    import lindiff

    old = lindiff.get_num_threads()
    try:
        lindiff.set_num_threads(n)
        out = lindiff.kappa(np.array([0.5, 1.0]), lindiff.Spectrum.powerlaw(20, 1.0), 10.0)
    finally:
        lindiff.set_num_threads(old)
    return out


def case_option(function, option, value):  # type: ignore[no-untyped-def]
    import fuzz_options

    return fuzz_options.call_with_option(function, option, value)


def case_compress(eigs, weights, tol):  # type: ignore[no-untyped-def]
    """Spectrum.compress, then df1/df2 of the rule against the direct sums at real kappa."""
    s = _spectrum(eigs, weights)
    c = s.compress(tol=tol)
    info = c.info["compression"]
    lo, hi = info.kappa_range
    k = np.geomspace(lo, hi, 7)
    errs = [float(np.max(np.abs(c.df1(k) / s.df1(k) - 1))), float(np.max(np.abs(c.df2(k) / s.df2(k) - 1)))]
    return CompressCheck((info.compressed, info.tol, max(errs), c.d == s.d))


def case_kappa_compress(eigs, weights, z, N, compress):  # type: ignore[no-untyped-def]
    """kappa(compress=...) against the direct equation: the backward error of its solutions in
    the equation summed over every eigenvalue (so a compressed solve is judged by the direct sums)."""
    import lindiff

    s = _spectrum(eigs, weights)
    r = lindiff.kappa(z, s, N, compress=compress)
    k, zz = np.atleast_1d(np.asarray(r.value)), np.atleast_1d(np.asarray(r.z))
    ok = np.atleast_1d(np.asarray(r.converged)) & np.isfinite(k)
    if not ok.any():
        return KappaCompressCheck((str(r.extra["spectral_sums"]), 0.0))
    k, zz, Nf, d = k[ok], zz[ok], float(N), float(s.d)
    f1 = np.asarray(s.df1(k))
    scale = np.abs(zz) + np.abs(k * (1 - d / Nf)) + np.abs(k) * np.abs(d - f1) / Nf + np.abs(k) * d / Nf * 1e-15
    res = np.abs(k * (1 - f1 / Nf) - zz) / scale
    return KappaCompressCheck((str(r.extra["spectral_sums"]), float(np.max(res))))


def case_tree_rule(eigs, N, s):  # type: ignore[no-untyped-def]
    """The real-axis rule and density with every spectral sum through the SpectralTree
    (tree_from=16) against the direct sums: the rule's masses and mean, and rho at s."""
    from lindiff import _core

    sp = _spectrum(eigs)
    lam, w = sp._core_args()
    ss = np.atleast_1d(np.asarray(s, dtype=float))
    tree, direct = (_core.de_measure_real(lam, w, float(N), tree_from=t) for t in (16, 10**9))
    dens = [_core.de_spectral_density(lam, w, float(N), ss, tree_from=t)["rho"] for t in (16, 10**9)]
    moments = [np.array([np.sum(r["w_rho"]).real, np.sum(r["w_sigma"]).real, np.sum(r["w_rho"] * r["nodes"]).real])
               for r in (tree, direct)]
    both = bool(tree["converged"] and direct["converged"])
    finite = bool(np.all(np.isfinite(tree["nodes"])) and np.all(np.isfinite(tree["w_rho"])))
    return TreeRuleCheck((both, finite or not tree["converged"], float(np.max(np.abs(moments[0] - moments[1])
                                                                            / np.abs(moments[1]))), dens[0], dens[1]))


class TreeRuleCheck(tuple):  # type: ignore[type-arg]
    """(both rules converged, converged implies finite, worst relative moment gap, rho tree, rho direct)."""


class KappaCompressCheck(tuple):  # type: ignore[type-arg]
    """(description of the sums, worst backward error of the solutions in the direct equation)."""


class CompressCheck(tuple):  # type: ignore[type-arg]
    """(compressed, tol, measured relative error of df1/df2 at real kappa, d kept)."""


class CliExit(Exception):
    """The command line's exit status (0, 1 or 2 are answers; anything else is a finding)."""


def case_cli(argv):  # type: ignore[no-untyped-def]
    import contextlib
    import io

    from lindiff.__main__ import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:   # argparse: exit 2 with a usage message
            rc = e.code if isinstance(e.code, int) else 2
    return CliExit(rc, buf.getvalue()[-300:])


CASES: dict[str, Callable[..., Any]] = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

# ------------------------------------------------------------------ oracles (closed forms)


def _oracle(case: str, kwargs: dict[str, Any], result: Any) -> str | None:
    """A message when a closed form is missed; None when it holds or does not apply."""
    eigs = kwargs.get("eigs")
    iso = isinstance(eigs, list) and len(eigs) >= 1 and all(isinstance(e, float) and e == 1.0 for e in eigs)
    if case == "kappa" and iso:
        from lindiff.reference import kappa_isotropic

        z = np.asarray(kwargs["z"])
        k = np.asarray(result.value)
        conv = np.asarray(result.converged)
        if np.isrealobj(z) and conv.any():
            want = kappa_isotropic(z.astype(float), len(eigs), kwargs["N"])   # real z: the positive root
            if np.any(np.abs(k[conv] - np.asarray(want)[conv]) > 1e-9 * np.abs(np.asarray(want)[conv]) + 1e-300):
                return "isotropic kappa (a quadratic) missed"
    if case == "kappa0" and iso:
        d, N = len(eigs), kwargs["N"]
        want = max(0.0, (d - N) / N)
        if not math.isclose(float(result), want, rel_tol=1e-12, abs_tol=1e-300):
            return f"kappa0 = (d - N)/N missed: {float(result)} vs {want}"
    return None


# ------------------------------------------------------------------ verdicts


def _floats(obj: Any) -> list[np.ndarray]:
    import xarray as xr

    if isinstance(obj, xr.Dataset):
        return [np.asarray(v.values) for v in obj.data_vars.values() if np.issubdtype(v.dtype, np.number)]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in _floats(o)]
    if isinstance(obj, (float, int, np.floating, np.integer, np.ndarray)):
        arr = np.asarray(obj)
        return [arr] if np.issubdtype(arr.dtype, np.number) else []
    return []


def _has_nan(arrays: list[np.ndarray]) -> bool:
    return any(np.any(np.isnan(a)) for a in arrays if a.size and np.issubdtype(a.dtype, np.inexact))


def _documented_nan_dropped(case: str, kwargs: dict[str, Any], result: Any) -> Any:
    """Drop the variables whose NaN is documented: an ensemble's standard errors with one draw."""
    if case == "ensemble" and kwargs.get("draws") == 1:
        return result.drop_vars([v for v in result.data_vars if str(v).endswith("_sem")])
    return result


def judge_result(case: str, kwargs: dict[str, Any], result: Any) -> tuple[str, str]:
    """good / bad for a returned result."""
    from lindiff import KappaResult, SolverResult

    if isinstance(result, KappaCompressCheck):
        how, res = result
        if not res <= 1e-11:   # tol 1e-14 of the solve + the rule's 1e-13 on df1, amplified by rounding
            return "bad", f"kappa ({how}): backward error {res:.3g} in the direct equation"
        return "good", ""
    if isinstance(result, TreeRuleCheck):
        both, finite_ok, gap, rho_tree, rho_direct = result
        if not finite_ok:
            return "bad", "tree rule: non-finite nodes or weights reported as converged"
        if both and not gap <= 1e-10:
            return "bad", f"tree rule moments off the direct rule's by {gap:.3g}"
        if _has_nan([rho_tree]) != _has_nan([rho_direct]):
            return "bad", "NaN in the tree density where the direct density has none"
        return "good", ""
    if isinstance(result, CompressCheck):
        compressed, tol, err, d_kept = result
        if not d_kept:
            return "bad", "compression changed d"
        if not err <= max(10 * tol, 1e-13):   # the rule's own check allows rounding of the direct sums
            return "bad", f"compressed df1/df2 off by {err:.3g} (tol {tol:g}, compressed={compressed})"
        return "good", ""
    if isinstance(result, CliExit):
        rc, text = result.args
        if rc not in (0, 1, 2):
            return "bad", f"exit status {rc}: {text}"
        if "Traceback" in text:
            return "weak", f"a traceback for exit {rc}: {text}"
        return "good", ""
    if isinstance(result, KappaResult):
        conv = np.asarray(result.converged)
        vals = np.asarray(result.value)
        if np.any(conv & ~np.isfinite(vals)) or np.any(conv & ~np.isfinite(np.asarray(result.derivative))):
            return "bad", "a non-finite kappa or derivative reported as converged"
        if np.any(~conv & ~np.isnan(vals)) and np.any(~conv & ~np.isfinite(vals)):
            return "bad", "an unconverged point with inf"
    elif isinstance(result, SolverResult):
        if result.converged and not np.all(np.isfinite(np.asarray(result.x))):
            return "bad", f"non-finite x reported as converged: {result.x!r}"
    elif hasattr(result, "log_abs_delta"):   # relative distance
        arrays = [np.asarray(result.log_abs_delta), np.asarray(result.sign)]
        if _has_nan(arrays):
            return "bad", "NaN in the relative distance"
    elif hasattr(result, "ratio") and hasattr(result, "index"):   # nearest neighbour
        if _has_nan([np.asarray(result.distance)]) or (result.ratio is not None and _has_nan([np.asarray(result.ratio)])):
            return "bad", "NaN in the nearest-neighbour ratio"
    elif hasattr(result, "nodes") and hasattr(result, "weights"):   # DeMeasure
        if result.converged and not (np.all(np.isfinite(result.nodes)) and
                                     all(np.all(np.isfinite(w)) for w in result.weights.values())):
            return "bad", "non-finite rule reported as converged"
    elif _has_nan(_floats(_documented_nan_dropped(case, kwargs, result))):
        return "bad", "silent NaN in the result"
    msg = _oracle(case, kwargs, result)
    return ("bad", msg) if msg else ("good", "")


def judge_error(kwargs: dict[str, Any], err: BaseException, argnames: tuple[str, ...]) -> tuple[str, str]:
    import lindiff

    if isinstance(err, lindiff.ConvergenceError):
        return "good", "flagged (strict)"
    text = str(err)
    if isinstance(err, (ValueError, TypeError)):
        names = set(kwargs) | set(argnames)
        aliases = {"eigs": ("eigenvalues", "weights"), "weights": ("weights",), "lo": ("bracket",), "hi": ("bracket",),
                   "n_train": ("train",), "n_ref": ("reference",), "n_gen": ("generated", "samples"),
                   "scale": ("train", "reference", "generated", "samples", "distances"),
                   "d": ("d",), "x0": ("x0",), "a": ("f", "x0", "bracket")}
        words = {n for k in names for n in (k, *aliases.get(k, ()))}
        if any(w in text for w in words):
            return "good", ""
        return "weak", f"{type(err).__name__} names no argument: {text[:200]}"
    return "weak", f"{type(err).__name__}: {text[:200]}"


def run_case(case: str, kwargs: dict[str, Any]) -> tuple[str, str]:
    """Run one case in this (worker) process and judge it."""
    import lindiff

    fn = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                out = fn(**kwargs)
            except lindiff.ConvergenceError as e:
                return judge_error(kwargs, e, ())
            except (ValueError, TypeError) as e:
                if case == "option":   # the message must name the option itself
                    return judge_error({kwargs["option"]: kwargs["value"]}, e, ())
                return judge_error(kwargs, e, tuple(fn.__code__.co_varnames[:fn.__code__.co_argcount]))
            except Exception as e:  # noqa: BLE001 - every other exception type is a finding
                if case == "cli":   # the command line lets an exception escape: a traceback for the user
                    return "weak", f"traceback: {type(e).__name__}: {str(e)[:200]}"
                return "weak", f"{type(e).__name__}: {str(e)[:200]}"
    return judge_result(case, kwargs, out)
