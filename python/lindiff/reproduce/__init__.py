"""``lindiff reproduce``: each paper's figures at its own settings, theory beside simulation, in one report folder.

:func:`run` computes one section per figure or claim and writes a folder (default
``lindiff-report/``) with a ``README.md`` (per section: what it reproduces, the lindiff functions,
the settings, a table of the key numbers, the validation verdicts, the figures with captions naming
the paper's figure and parameters, the data files and the wall time), the figures as PNG and the
data as netCDF (``engine="scipy"``) and CSV.

Merger & Goldt (``paper="merger-goldt"``): ``fig1h`` (losses vs N, d = 100, k in {0, 1, 2}),
``fig2`` (Fig. 1l and 2: KL vs N for c in {0, 1e-4, 1e-2}, as KL 4N/d and (KL - floor(c)) 4N/d),
``fig1mo`` (the shipped real-data spectra), ``fig3`` (d = 1000, N = 0.6 d; eta*tau* vs k and N/d),
``fig4`` (noise- and data-prediction loss along gradient flow), ``fig5`` (denoiser distance and
nearest training points of the linear model). Halder (``paper="halder"``): ``halder`` (the
transition at d = 100 in both Sigma conventions, H^2, KL and its lower bound, the turnover of the
individual distance against N_1/2 and N_c, the undetermined-sign counts).

Theory and simulation are compared with :func:`lindiff.validate` (``familywise=True``: each check
is one 3-sigma test); where the theory is exact only as d -> inf the check is a finite-size fit over
several d at the same N/d. Grids, seeds and draw counts are fixed (:func:`settings`), so a report is
reproducible; the grids run through :func:`lindiff.sweep` (serially, on a process pool or on dask).
``quick=True``: fewer draws and coarser grids at the same d (under 3 minutes on 2 cores).

Examples
--------
>>> from lindiff import reproduce
>>> s = reproduce.settings(quick=True)
>>> list(s) == list(reproduce.SECTIONS)
True
>>> s["fig1h"]["d"], s["fig2"]["c"], s["fig3"]["d"], s["halder"]["d"]
(100, [0.0, 0.0001, 0.01], 1000, 100)
>>> reproduce.PAPERS["halder"]
('halder',)
"""

from __future__ import annotations

import copy
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._validation import choice, flag, positive_int
from ..sweep import named_executor
from . import _common, halder, merger_goldt
from ._report import INCOMPLETE, incomplete_on_error, mark_incomplete, readme

__all__ = ["EXECUTORS", "INCOMPLETE", "PAPERS", "SECTIONS", "run", "run_cli", "settings"]

EXECUTORS = ("serial", "process", "dask")
_ALL = {s.name: s for s in merger_goldt.SECTIONS + halder.SECTIONS}
SECTIONS = tuple(_ALL)
PAPERS = {"merger-goldt": tuple(s.name for s in merger_goldt.SECTIONS),
          "halder": tuple(s.name for s in halder.SECTIONS)}
_RUNNERS = {name: s.compute for name, s in _ALL.items()}


def settings(quick: bool = False) -> dict[str, dict[str, Any]]:
    """Every grid, size, draw count and seed of the report, per section (``quick``: the small version).

    Examples
    --------
    >>> from lindiff.reproduce import settings
    >>> settings()["fig1h"]["k"], settings(quick=True)["fig3"]["N_over_d"]
    ([0.0, 1.0, 2.0], 0.6)
    """
    flag("quick", quick)
    return {name: s.settings(bool(quick)) for name, s in _ALL.items()}


def _sections(paper: str, sections: Sequence[str] | None) -> list[str]:
    choice("paper", paper, ("all", *PAPERS))
    if sections is None:
        return [n for n in SECTIONS if paper == "all" or n in PAPERS[paper]]
    if isinstance(sections, str) or not sections or not all(s in SECTIONS for s in sections):
        raise ValueError(f"sections must be a non-empty subset of {SECTIONS} (got {sections!r})")
    return [n for n in SECTIONS if n in sections]


def _one_section(name: str, s: dict[str, Any], ex: Any, workers: int | None, progress: bool,
                 outdir: Path) -> dict[str, Any]:
    sec = _ALL[name]
    t0 = time.perf_counter()
    r = _RUNNERS[name](copy.deepcopy(s), ex, workers, progress)
    r["figures"] = sec.figures(r["data"], s, outdir) + _common.figure_fits(name, r["checks"], outdir)
    r["files"] = [f for key, ds in r["data"].items() for f in _common.write_data(key, ds, outdir)]
    r["table"] = sec.table(r["data"])
    r["seconds"] = time.perf_counter() - t0
    return r


def run(
    out: str | os.PathLike[str] = "lindiff-report",
    *,
    paper: str = "all",
    quick: bool = False,
    executor: str = "serial",
    workers: int | None = None,
    progress: bool | None = None,
    sections: Sequence[str] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Compute the report's sections and write the folder ``out``.

    Parameters
    ----------
    out : path
        Report folder (created; existing files of the same names are replaced).
    paper : "all", "merger-goldt" or "halder"
        Whose sections to run (:data:`PAPERS`).
    quick : bool
        Fewer draws and coarser grids at the papers' own d (:func:`settings`; under 3 minutes on 2 cores).
    executor : "serial", "process" or "dask"
        Where the grids run. Results do not depend on it (per-point seeds).
    workers : int, optional
        Pool size (default: the CPU count).
    progress : bool, optional
        Named progress on stderr: tqdm bars on a terminal, one line per step when piped (default:
        only when stderr is a terminal; the command line shows it unless ``--quiet``).
    sections : sequence of str, optional
        A subset of :data:`SECTIONS` instead of ``paper`` (run in the canonical order).
    command : str, optional
        The command line recorded in the README.

    Returns
    -------
    dict
        ``passed`` (every validation passed), ``seconds`` (total), ``sections`` (per section:
        ``seconds``, ``checks`` as (label, :class:`lindiff.Validation`), ``figures``, ``files``),
        ``readme`` (its path).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from lindiff import reproduce
    >>> with tempfile.TemporaryDirectory() as tmp:                      # several seconds
    ...     res = reproduce.run(tmp, quick=True, sections=["fig1mo"], progress=False)
    ...     res["passed"], sorted(p.name for p in Path(tmp).glob("*.png"))
    (True, ['fig1mo_kl_real_spectra.png'])
    """
    flag("quick", quick)
    choice("executor", executor, EXECUTORS)
    workers = None if workers is None else positive_int("workers", workers)
    todo = _sections(paper, sections)
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('lindiff reproduce draws figures with matplotlib: pip install "lindiff[plot]"') from err
    matplotlib.use("Agg")
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    cfg = settings(bool(quick))
    command = command or (f"lindiff.reproduce.run({str(outdir)!r}, paper={paper!r}, quick={bool(quick)}, "
                          f"executor={executor!r}, workers={workers!r}, sections={todo!r})")
    t_all = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    path = outdir / "README.md"
    mark_incomplete(path, command, [], todo, None)   # replaced by the report only when every section is done
    with named_executor(executor, workers) as ex, incomplete_on_error(path, command, results, todo):
        for i, name in enumerate(todo):
            if progress:
                print(f"lindiff reproduce: section {i + 1}/{len(todo)} {name} ...", file=sys.stderr, flush=True)
            results[name] = _one_section(name, cfg[name], ex, workers, progress, outdir)
            mark_incomplete(path, command, list(results), todo, None)
            if progress:
                print(f"lindiff reproduce: {name} done in {results[name]['seconds']:.1f} s", file=sys.stderr)
    total = time.perf_counter() - t_all
    path.write_text(readme(results, _ALL, cfg, command, bool(quick), executor, workers, total), encoding="utf-8")
    return {"passed": all(v.passed for r in results.values() for _, v in r["checks"]), "seconds": total,
            "sections": {k: {kk: r[kk] for kk in ("seconds", "checks", "figures", "files")}
                         for k, r in results.items()},
            "readme": path}


def run_cli(args: Any) -> int:
    """``lindiff reproduce [merger-goldt | halder]`` (see :mod:`lindiff.__main__`)."""
    paper = getattr(args, "paper", None) or "all"
    argv = ["reproduce"] + ([paper] if paper != "all" else []) + (["--quick"] if args.quick else [])
    argv += ["--out", str(args.out), "--executor", args.executor]
    argv += (["--workers", str(args.workers)] if args.workers else []) + (["--quiet"] if args.quiet else [])
    res = run(args.out, paper=paper, quick=args.quick, executor=args.executor, workers=args.workers,
              progress=not args.quiet, command=" ".join(shlex.quote(a) for a in ["lindiff", *argv]))
    for sec, r in res["sections"].items():
        checks = r["checks"]
        verdict = (f"{sum(v.passed for _, v in checks)}/{len(checks)} checks pass" if checks else "no checks")
        print(f"{sec:8s} {r['seconds']:7.1f} s  {verdict}")
    print(f"report: {res['readme']} ({res['seconds']:.1f} s); "
          f"theory vs simulation: {'PASS' if res['passed'] else 'FAIL'}")
    return 0 if res["passed"] else 1
