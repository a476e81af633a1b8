"""`lindiff reproduce --quick`: one run of the installed CLI, then its report is checked against
direct calls of the lindiff functions it is built from."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import reproduce, simulate, theory
from lindiff.memorization import LinearDiffusionModel, OneStepModel, transition

pytest.importorskip("matplotlib")

QUICK = reproduce.settings(quick=True)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["losses_t_averaged.png", "losses_test_per_t.png", "losses_train_per_t.png", "losses_finite_size.png",
           "gradflow_test_vs_eta_tau.png", "optimal_stopping_vs_k.png", "gradflow_validation.png",
           "gradflow_finite_size.png", "kl_vs_d_over_N.png", "kl_finite_size.png", "transition_onestep_d8.png",
           "transition_linear_d8.png", "transition_onestep_d32.png", "transition_linear_d32.png"]
DATASETS = ["losses", "losses_finite_size", "gradflow_curves", "optimal_stopping", "gradflow_validation", "kl",
            "kl_finite_size", "transition_onestep_d8", "transition_linear_d8", "transition_onestep_d32",
            "transition_linear_d32"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report") / "quick"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lindiff", "reproduce", "--quick", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    return {"out": out, "proc": proc, "seconds": time.perf_counter() - t0}


def _nc(report: dict[str, object], name: str) -> xr.Dataset:
    path = Path(report["out"]) / f"{name}.nc"  # type: ignore[arg-type]
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


def test_cli_succeeds_quickly(report: dict[str, object]) -> None:
    proc = report["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "theory vs simulation: PASS" in proc.stdout  # type: ignore[attr-defined]
    assert report["seconds"] < 180, f"quick run took {report['seconds']:.0f} s (budget 180 s)"


def test_figures_are_png(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(FIGURES)
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC, name
        assert len(data) > 20_000, f"{name} is only {len(data)} bytes"


def test_data_files_hold_finite_numbers(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    for name in DATASETS:
        ds = _nc(report, name)
        assert ds.data_vars, name
        csvs = sorted(out.glob(f"{name}.csv")) + sorted(out.glob(f"{name}__*.csv"))
        assert csvs, f"no CSV for {name}"
        for path in csvs:
            with path.open() as f:
                rows = list(csv.DictReader(f))
            assert rows, path.name
            for col in rows[0]:
                if col in ("spectrum",):
                    continue
                vals = np.array([float(r[col]) if r[col] != "" else math.nan for r in rows])
                # infinities are legitimate in a few places (eta_tau = inf is the minimiser; the KL of the
                # linear model's sampler at N < d; the one-step model's exact moments at small N); NaN (an empty cell) only marks "not simulated"
                if name == "kl" and col.startswith("sim_"):
                    big = np.array([r["spectrum"] in ("fashion_mnist", "mnist") for r in rows])
                    np.testing.assert_array_equal(np.isnan(vals), big, err_msg=f"{path.name}: {col}")
                    vals = vals[~big]
                assert not np.any(np.isnan(vals)), f"{path.name}: NaN in {col}"
                if col not in ("eta_tau", "kl_fwd_median", "kl_rev_median") and not col.startswith("theory_"):
                    assert np.all(np.isfinite(vals)), f"{path.name}: non-finite {col}"
    for name in ("losses", "losses_finite_size", "gradflow_curves", "optimal_stopping", "gradflow_validation",
                 "kl_finite_size"):
        ds = _nc(report, name)
        for v in ds.data_vars:
            assert np.all(np.isfinite(ds[v].values)), f"{name}.{v}"
    kl = _nc(report, "kl")
    simulated = [str(s) for s in kl.spectrum.values if int(kl.d.sel(spectrum=s)) <= QUICK["kl"]["sim_max_d"]]
    assert len(simulated) == 4            # the three power laws and digits
    assert np.all(np.isfinite(kl.sim_kl_fwd.sel(spectrum=simulated).values))
    for name in DATASETS[-4:]:
        ds = _nc(report, name)
        assert np.all((ds.p_positive >= 0) & (ds.p_positive <= 1))
        assert np.all(ds.p_low <= ds.p_positive) and np.all(ds.p_positive <= ds.p_high)


def test_losses_agree_with_direct_calls(report: dict[str, object]) -> None:
    s = QUICK["losses"]
    ds = _nc(report, "losses")
    d, k, c, N = s["d"], 1.0, 1e-2, int(round(0.5 * s["d"]))
    spec = lindiff.Spectrum.powerlaw(d, k)
    th = theory.static_losses(spec, float(N), c)
    np.testing.assert_allclose(ds.test_avg.sel(k=k, c=c, N_theory=float(N)), float(th.test.mean("t")), rtol=1e-12)
    np.testing.assert_allclose(ds.train.sel(k=k, c=c, N_theory=float(N), t=100), float(th.train.sel(t=100)),
                               rtol=1e-12)
    # the simulation at grid position k = 1 uses SeedSequence(seed, spawn_key=(1,)) (lindiff.sweep)
    ss = np.random.SeedSequence(s["seed"], spawn_key=(s["k"].index(k),))
    sim = simulate.ensemble(spec, [N], [c], draws=s["draws"], seed=ss, t=[1, 100, 500])
    np.testing.assert_allclose(ds.sim_test.sel(k=k, c=c, N_sim=N).transpose("draw", "t"),
                               sim.test.isel(N=0, c=0).transpose("draw", "t"), rtol=1e-10)
    np.testing.assert_allclose(ds.sim_test_mean.sel(k=k, c=c, N_sim=N, t=500),
                               float(sim.test_mean.sel(N=N, c=c, t=500)), rtol=1e-10)


def test_finite_size_data_agree_with_direct_calls(report: dict[str, object]) -> None:
    """The extra dimensions of the fits: the same theory and seeded ensembles as direct calls."""
    s = QUICK["losses"]
    fit = _nc(report, "losses_finite_size")
    k, d, c = 1.0, 20, 1e-2
    assert fit.d.values.tolist() == [x for x in s["fit_dims"] if x != s["d"]]
    assert int(fit.draws.sel(k=k, d=d)) == s["draws"] * (s["d"] // d) ** 2      # the same s.e. as at d = 40
    spec = lindiff.Spectrum.powerlaw(d, k)
    N = int(0.5 * d)
    ref = theory.static_losses(spec, float(N), c, t=100)
    np.testing.assert_allclose(fit.th_train.sel(k=k, d=d, c=c, N_over_d=0.5, t=100), float(ref.train), rtol=1e-12)
    ss = np.random.SeedSequence(s["seed"], spawn_key=(s["k"].index(k), 0))    # grid position (k, d)
    sim = simulate.ensemble(spec, [N], [c], draws=int(fit.draws.sel(k=k, d=d)), seed=ss)
    np.testing.assert_allclose(fit.sim_test_avg_mean.sel(k=k, d=d, c=c, N_over_d=0.5),
                               float(sim.test.mean("t").mean("draw").squeeze()), rtol=1e-10)
    val = _nc(report, "gradflow_validation")
    assert val.d.values.tolist() == QUICK["gradflow"]["fit_dims"] and "sim_test_sem" in val


def test_every_check_reports_z_bias_and_extrapolation(report: dict[str, object]) -> None:
    """Each check row names its method; a fit over d shows z, a, b and the deviation at d = inf."""
    text = (Path(report["out"]) / "README.md").read_text(encoding="utf-8")  # type: ignore[arg-type]
    rows = [r for r in text.splitlines() if r.startswith("| ") and ("| fit over d" in r or "| one d |" in r)]
    fits = [r for r in rows if "| fit over d = 20, 40, 80 |" in r]
    assert len(rows) == 6 + 1 + 8 and len(fits) == 6 + 1 + 3
    for r in fits:
        assert re.search(r"z = -?\d+\.\d\d; sim - theory at d = ∞: ", r) and "bias a = " in r and ", b = " in r
    for r in rows:
        assert "| PASS |" in r and "rtol" not in r
    assert "a cell passes if and only if |z| <= z_n, the Šidák threshold" in text and "rtol" not in text


def test_gradflow_and_stopping_agree_with_direct_calls(report: dict[str, object]) -> None:
    s = QUICK["gradflow"]
    st = _nc(report, "optimal_stopping")
    k, N = 1.5, 0.6 * s["d"]
    ref = theory.optimal_stopping(lindiff.Spectrum.powerlaw(s["d"], k), N)
    np.testing.assert_allclose(st.eta_tau.sel(k=k, N=N), float(ref.eta_tau), rtol=1e-10)
    np.testing.assert_allclose(st.test_min.sel(k=k, N=N), float(ref.test_min), rtol=1e-10)
    # the optimum depends on k as the papers say: later stopping for steeper spectra
    assert np.all(np.diff(st.eta_tau.sel(N=N).values) > 0)
    gf = _nc(report, "gradflow_curves")
    et = float(gf.eta_tau.values[10])
    ref = theory.gradflow_losses(lindiff.Spectrum.powerlaw(s["d"], 1.0), 0.2 * s["d"], et)
    np.testing.assert_allclose(gf.test_avg.sel(k=1.0, N=0.2 * s["d"], eta_tau=et), float(ref.test.mean("t")),
                               rtol=1e-10)


def test_kl_agrees_with_direct_calls(report: dict[str, object]) -> None:
    kl = _nc(report, "kl")
    one = kl.sel(spectrum="mnist", ratio=0.2)
    d, N = int(one.d), int(one.N)
    assert d == lindiff.spectra.load("mnist").d and N == round(d / 0.2)
    ref = theory.kl(lindiff.spectra.load("mnist"), float(N), finite_d=True)
    np.testing.assert_allclose(float(one.kl_fwd), float(ref.kl_fwd), rtol=1e-10)
    np.testing.assert_allclose(float(one.kl_fwd_wishart), theory.kl_wishart(d, N)[0], rtol=1e-12)
    np.testing.assert_allclose(float(one.kl_law), theory.kl_law(d, N)[0], rtol=1e-12)


@pytest.mark.parametrize("name", ["transition_onestep_d8", "transition_linear_d8"])
def test_transition_probability_agrees_with_direct_call(report: dict[str, object], name: str) -> None:
    s = QUICK["memorization"]
    ds = _nc(report, name)
    factory = (OneStepModel(8, 2) if "onestep" in name else LinearDiffusionModel(lindiff.Spectrum.powerlaw(8, k=1.0), 2)
               ).with_N
    N = int(ds.N.values[2])
    # seeds are keyed by (N, repeat): one N alone reproduces its P(Delta > 0)
    ref = transition(factory, [N], repeats=s["repeats"], reference_size=s["reference_size"], seed=s["seed"],
                     n_bootstrap=10)
    assert float(ds.p_positive.sel(N=N)) == float(ref.p_positive[0])
    np.testing.assert_array_equal(ds.positive.sel(N=N).values.astype(bool), ref.positive.values[0])


def test_summary_mentions_every_section(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    text = (out / "README.md").read_text(encoding="utf-8")
    for title in ("1. Test and train loss vs N/d", "2. Gradient flow", "3. KL per dimension vs d/N",
                  "4. The memorization transition"):
        assert f"## {title}" in text
    assert "QUICK run" in text and f"lindiff {lindiff.__version__}" in text
    assert "lindiff reproduce --quick --out" in text
    assert lindiff.build_info()["build"] in text
    assert "all checks PASS" in text and "| FAIL |" not in text
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(embedded) == sorted(FIGURES)
    linked = set(re.findall(r"\[`([^`]+)`\]", text))
    assert {f"{n}.nc" for n in DATASETS} <= linked and all((out / f).exists() for f in linked)
    # a wall time for every section, and key numbers that are the data's
    times = re.findall(r"\| (\d\. [^|]+) \| (\d+\.\d) \|", text)
    assert len(times) == 4 and all(float(t) > 0 for _, t in times)
    st = _nc(report, "optimal_stopping")
    assert f"| 1 | {float(st.eta_tau.sel(k=1.0, N=200.0)):.4g} (" in text


def test_run_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="executor"):
        reproduce.run(tmp_path, executor="gpu")
    with pytest.raises(ValueError, match="sections"):
        reproduce.run(tmp_path, sections=["nope"])
    with pytest.raises(ValueError, match="workers"):
        reproduce.run(tmp_path, workers=0)
    with pytest.raises(ValueError, match="quick"):
        reproduce.settings(quick="yes")  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_cli_reports_bad_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lindiff.__main__ import main

    assert main(["reproduce", "--quick", "--workers", "0", "--out", str(tmp_path / "r")]) == 2
    assert "workers" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_process_executor_gives_the_same_numbers(tmp_path: Path) -> None:
    """--executor process: per-point seeds make the simulation bitwise equal to the serial run."""
    import matplotlib
    matplotlib.use("Agg")
    res = reproduce.run(tmp_path, quick=True, sections=["kl"], executor="process", workers=2, progress=False)
    assert res["passed"]
    kl = xr.open_dataset(tmp_path / "kl.nc", engine="scipy").load()
    s = QUICK["kl"]
    ss = np.random.SeedSequence(s["seed"], spawn_key=(0,))           # grid position of powerlaw_k=0
    spec = lindiff.Spectrum.powerlaw(s["d_powerlaw"], 0.0)
    N = kl.N.sel(spectrum="powerlaw_k=0").values
    sim = simulate.ensemble(spec, N, t=[1], draws=s["draws"], seed=ss)
    np.testing.assert_array_equal(kl.sim_kl_fwd.sel(spectrum="powerlaw_k=0").transpose("draw", "ratio").values,
                                  sim.kl_fwd.values)
    assert math.isfinite(res["seconds"])


def test_dask_executor_matches_the_serial_cli_run(report: dict[str, object], tmp_path: Path) -> None:
    """--executor dask (a local cluster): the same numbers as the serial CLI run of the fixture."""
    pytest.importorskip("dask.distributed")
    import matplotlib
    matplotlib.use("Agg")
    res = reproduce.run(tmp_path, quick=True, sections=["kl"], executor="dask", workers=2, progress=False)
    assert res["passed"]
    a = xr.open_dataset(tmp_path / "kl.nc", engine="scipy").load()
    b = _nc(report, "kl")
    np.testing.assert_array_equal(a.sim_kl_fwd.values, b.sim_kl_fwd.values)
    np.testing.assert_array_equal(a.kl_fwd.values, b.kl_fwd.values)


def test_an_interrupted_run_marks_the_report_incomplete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older report's README ("all checks PASS") must not survive beside a new run's files."""
    from lindiff import reproduce

    (tmp_path / "README.md").write_text("# old report\n\nall checks PASS\n")

    def interrupted(*args: object) -> dict[str, object]:
        raise KeyboardInterrupt("stopped by the user")

    monkeypatch.setitem(reproduce._RUNNERS, "kl", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(tmp_path, quick=True, sections=["kl"], progress=False, command="lindiff reproduce")
    text = (tmp_path / "README.md").read_text()
    assert text.startswith(reproduce.INCOMPLETE) and "PASS" not in text
    assert "KeyboardInterrupt: stopped by the user" in text and "sections not finished: kl" in text
