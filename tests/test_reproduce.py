"""`lindiff reproduce --quick`: one run of the installed CLI (both papers), then its report is checked
against direct calls of the lindiff functions it is built from."""

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
from lindiff.memorization import OneStepModel, distance_turnover, transition

pytest.importorskip("matplotlib")

QUICK = reproduce.settings(quick=True)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["fig1h_losses_vs_N.png", "fig1h_finite_size.png", "fig2_kl_vs_N.png", "fig2_finite_size.png",
           "fig1mo_kl_real_spectra.png", "fig3a-d_test_vs_eta_tau.png", "fig3e-f_ridge.png",
           "fig3g-h_optimal_stopping.png", "fig3_validation.png", "fig3_finite_size.png", "fig4_loss_vs_eta_tau.png",
           "fig4_validation.png", "fig4_finite_size.png", "fig5_denoiser_distance_nearest.png", "fig5_finite_size.png",
           "halder_transition_d100.png"]
DATASETS = ["fig1h_theory", "fig1h_simulation", "fig2_theory", "fig2_simulation", "fig1mo_real_spectra", "fig3_by_k",
            "fig3_by_c", "fig3_optimal_stopping", "fig3_validation", "fig4_theory", "fig4_validation", "fig5a_theory",
            "fig5a_simulation", "fig5b_nearest", "halder_transition_correct", "halder_transition_ldm", "halder_theory"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report") / "quick"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lindiff", "reproduce", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    return {"out": out, "proc": proc, "seconds": time.perf_counter() - t0}


def _nc(report: dict[str, object], name: str) -> xr.Dataset:
    with xr.open_dataset(Path(report["out"]) / f"{name}.nc", engine="scipy") as ds:  # type: ignore[arg-type]
        return ds.load()


def _readme(report: dict[str, object]) -> str:
    return (Path(report["out"]) / "README.md").read_text(encoding="utf-8")  # type: ignore[arg-type]


def test_cli_succeeds_quickly_with_piped_progress(report: dict[str, object]) -> None:
    proc = report["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "theory vs simulation: PASS" in proc.stdout  # type: ignore[attr-defined]
    assert report["seconds"] < 180, f"quick run took {report['seconds']:.0f} s (budget 180 s)"
    err = proc.stderr  # type: ignore[attr-defined]
    # stderr is a pipe here: named progress as plain lines, one per section and per step
    assert "lindiff reproduce: section 1/7 fig1h" in err and "lindiff reproduce halder" in err
    assert re.search(r"lindiff reproduce fig2 simulation: \d+/\d+ points", err)


def test_figures_are_png(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(FIGURES)
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000, name


def test_data_files_hold_numbers(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    for name in DATASETS:
        assert _nc(report, name).data_vars, name
        csvs = sorted(out.glob(f"{name}.csv")) + sorted(out.glob(f"{name}__*.csv"))
        assert csvs, f"no CSV for {name}"
        for path in csvs:
            with path.open() as f:
                rows = list(csv.DictReader(f))
            assert rows, path.name
    for name in ("fig1h_simulation", "fig2_simulation", "fig3_validation", "fig4_validation", "fig5a_simulation",
                 "fig3_optimal_stopping"):
        ds = _nc(report, name)
        for v in ds.data_vars:
            assert np.all(np.isfinite(ds[v].values)), f"{name}.{v}"


def test_fig1h_agrees_with_direct_calls(report: dict[str, object]) -> None:
    s = QUICK["fig1h"]
    cur, fit = _nc(report, "fig1h_theory"), _nc(report, "fig1h_simulation")
    N = float(cur.N.values[5])
    ref = theory.static_losses(lindiff.Spectrum.powerlaw(100, 2.0), N).mean("t")
    np.testing.assert_allclose(float(cur.test.sel(k=2.0, N=N)), float(ref.test), rtol=1e-12)
    assert cur.N.values.min() == pytest.approx(0.1 * s["d"]) and cur.N.values.max() == pytest.approx(10 * s["d"])
    # the simulation at grid position (k = 1, d = 100) uses SeedSequence(seed, spawn_key=(1, 2)) (lindiff.sweep)
    ss = np.random.SeedSequence(s["seed"], spawn_key=(1, 2))
    sim = simulate.ensemble(lindiff.Spectrum.powerlaw(100, 1.0), [50], draws=s["draws"], seed=ss)
    np.testing.assert_allclose(float(fit.sim_test_mean.sel(k=1.0, d=100, N_over_d=0.5)),
                               float(sim.test.mean("t").mean("draw").squeeze()), rtol=1e-10)


def test_fig2_shows_the_floor_subtracted_law(report: dict[str, object]) -> None:
    cur, fit = _nc(report, "fig2_theory"), _nc(report, "fig2_simulation")
    spec = lindiff.Spectrum.powerlaw(100, 1.0)
    pop = theory.kl_population(spec, c=[0.0, 1e-4, 1e-2])
    np.testing.assert_allclose(cur.floor_fwd.sel(k=1.0).values, pop.kl_fwd.values, rtol=1e-12)
    r = float(cur.N_over_d.max())
    ref = theory.kl(spec, r * 100, 1e-4, finite_d=True)
    np.testing.assert_allclose(float(cur.kl_fwd.sel(k=1.0, c=1e-4, N_over_d=r)), float(ref.kl_fwd), rtol=1e-10)
    # the law the section is about: (KL - floor) 4N/d -> 1 at N = 100 d for c = 0 and 1e-4 (theory and simulation)
    for c in (0.0, 1e-4):
        scaled = (cur.kl_fwd - cur.floor_fwd).sel(c=c, N_over_d=r) * 4 * r
        assert np.all(np.abs(scaled.values - 1) < 0.03), scaled.values
        sim = (fit.sim_kl_fwd_mean.sel(c=c, d=100, N_over_d=100.0) - cur.floor_fwd.sel(c=c)) * 400
        assert np.all(np.abs(sim.values - 1) < 0.05), sim.values
    assert "(KL − floor)·4N/d" in _readme(report)


def test_fig3_optimal_stopping_agrees_with_direct_call(report: dict[str, object]) -> None:
    st = _nc(report, "fig3_optimal_stopping")
    ref = theory.optimal_stopping(lindiff.Spectrum.powerlaw(1000, 1.5), 600.0)
    np.testing.assert_allclose(float(st.eta_tau.sel(k=1.5, N=600.0)), float(ref.eta_tau), rtol=1e-10)
    assert np.all(np.diff(st.eta_tau.sel(N=600.0).values) > 0)       # later stopping for steeper spectra
    row = next(r for r in _readme(report).splitlines() if r.startswith("| 1 | ") and "(" in r)
    assert f"| {float(st.eta_tau.sel(k=1.0, N=600.0)):.4g} (" in row


def test_fig4_has_the_data_losses(report: dict[str, object]) -> None:
    cur = _nc(report, "fig4_theory")
    sched = lindiff.Schedule.linear()
    q = xr.DataArray(sched.b2 / sched.a2, dims="t", coords={"t": np.arange(1, sched.T + 1)}).sel(t=cur.t)
    np.testing.assert_allclose(cur.data_noise.values, (cur.test * q).transpose(*cur.data_noise.dims).values,
                               rtol=1e-10)
    assert np.all(np.isfinite(cur.data_ridge_avg.values))


def test_halder_at_the_papers_settings(report: dict[str, object]) -> None:
    s = QUICK["halder"]
    ds = _nc(report, "halder_transition_correct")
    assert ds.attrs["d"] == 100 and [25, 50, 75, 100] == ds.N.values[:4].tolist()
    N = int(ds.N.values[5])
    ref = transition(OneStepModel(100, 2).with_N, [N], repeats=s["repeats"], reference_size=s["reference_size"],
                     seed=s["seed"], n_bootstrap=10)
    assert float(ds.p_positive.sel(N=N)) == float(ref.p_positive[0])
    turn = distance_turnover(ds, "hellinger2")
    assert turn.N == 100 and turn.high == ds.N.values[4]      # H^2 = 1 up to N = d, falls after
    text = _readme(report)
    assert "H² turnover [CI]" in text and "undetermined signs" in text and "N_c = 1 + d/κ" in text
    assert "| 100 [100, 150] |" in text


def test_readme_names_each_figure_and_never_nan(report: dict[str, object]) -> None:
    out = Path(report["out"])  # type: ignore[arg-type]
    text = _readme(report)
    for name in reproduce.SECTIONS:
        title = reproduce._ALL[name].title
        assert f"## {title}" in text
    for fig in ("Fig. 1h", "Fig. 1l", "Fig. 2", "Fig. 1m-o", "Fig. 3", "Fig. 4", "Fig. 5a", "Halder"):
        assert fig in text
    assert "nan" not in text.lower().replace("nanmax", "")
    assert "QUICK run" in text and "lindiff reproduce --quick --out" in text and lindiff.build_info()["build"] in text
    assert "all checks PASS" in text and "| FAIL |" not in text
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(embedded) == sorted(FIGURES)
    linked = set(re.findall(r"\[`([^`]+)`\]", text))
    assert {f"{n}.nc" for n in DATASETS} <= linked and all((out / f).exists() for f in linked)
    for name in reproduce.SECTIONS:       # a wall time per section in the summary table
        t = re.search(rf"^\| {re.escape(reproduce._ALL[name].title)} \| (\d+\.\d) \| ", text, flags=re.M)
        assert t and float(t.group(1)) > 0, name
    assert "CelebA" in text and "CIFAR-10" in text and "spectra.from_array" in text


def test_run_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="executor"):
        reproduce.run(tmp_path, executor="gpu")
    with pytest.raises(ValueError, match="sections"):
        reproduce.run(tmp_path, sections=["nope"])
    with pytest.raises(ValueError, match="paper"):
        reproduce.run(tmp_path, paper="smith")
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


def test_cli_runs_one_paper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lindiff.__main__ import main

    assert main(["reproduce", "halder", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["halder_transition_d100.png"]
    text = (tmp_path / "README.md").read_text()
    assert "lindiff reproduce halder --quick" in text and "Merger & Goldt" not in text


def test_process_executor_gives_the_same_numbers(tmp_path: Path) -> None:
    """--executor process: per-point seeds make the simulation bitwise equal to the serial run."""
    a = reproduce.run(tmp_path / "a", quick=True, sections=["fig1mo"], executor="process", workers=2, progress=False)
    b = reproduce.run(tmp_path / "b", quick=True, sections=["fig1mo"], progress=False)
    assert a["passed"] and b["passed"]
    x, y = (xr.open_dataset(p / "fig1mo_real_spectra.nc", engine="scipy").load() for p in (tmp_path / "a", tmp_path / "b"))
    np.testing.assert_array_equal(x.sim_kl_fwd.values, y.sim_kl_fwd.values)
    assert math.isfinite(a["seconds"])


def test_an_interrupted_run_marks_the_report_incomplete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older report's README ("all checks PASS") must not survive beside a new run's files."""
    (tmp_path / "README.md").write_text("# old report\n\nall checks PASS\n")

    def interrupted(*args: object) -> dict[str, object]:
        raise KeyboardInterrupt("stopped by the user")

    monkeypatch.setitem(reproduce._RUNNERS, "fig1mo", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce.run(tmp_path, quick=True, sections=["fig1mo"], progress=False, command="lindiff reproduce")
    text = (tmp_path / "README.md").read_text()
    assert text.startswith(reproduce.INCOMPLETE) and "PASS" not in text
    assert "KeyboardInterrupt: stopped by the user" in text and "sections not finished: fig1mo" in text
