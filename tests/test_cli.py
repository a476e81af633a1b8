"""The command line: python -m lindiff / lindiff."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lindiff
from lindiff.__main__ import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lindiff", *args], capture_output=True, text=True, timeout=300)


def test_help_and_version() -> None:
    r = _run("--help")
    assert r.returncode == 0 and "kappa" in r.stdout and "selftest" in r.stdout
    r = _run("--version")
    assert r.returncode == 0 and lindiff.__version__ in r.stdout


def test_kappa_command_matches_api(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["kappa", "--d", "100", "--k", "1", "--N", "60", "--z", "1e-3", "0.5"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("1.0000e-03", "5.0000e-01"))]
    got = np.array([float(r[1]) for r in rows])
    ref = lindiff.kappa(np.array([1e-3, 0.5]), lindiff.Spectrum.powerlaw(100, 1.0), 60).value
    np.testing.assert_allclose(got, ref, rtol=1e-14)
    assert "converged: 2/2" in out


def test_kappa_command_bad_input(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["kappa", "--N", "-1"]) == 2
    assert "N must be" in capsys.readouterr().err
    f = tmp_path / "lam.npy"
    np.save(f, np.array([1.0, 0.5, 0.25]))
    assert main(["kappa", "--eigenvalues", str(f), "--N", "2", "--z", "0.1"]) == 0


def test_info_and_selftest() -> None:
    r = _run("info")
    assert r.returncode == 0 and "openmp" in r.stdout
    r = _run("selftest")
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout


def test_theory_command(capsys) -> None:  # type: ignore[no-untyped-def]
    from lindiff.theory import static_losses

    assert main(["theory", "--d", "100", "--k", "1", "--N", "60", "400"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("60 ", "400 "))]
    assert len(rows) == 2
    ref = static_losses(lindiff.Spectrum.powerlaw(100, 1.0), [60.0, 400.0]).test.mean("t").values
    np.testing.assert_allclose([float(r[2]) for r in rows], ref, rtol=1e-4)
    assert rows[0][6] == "inf" and float(rows[1][6]) > 0  # KL: inf for N < d at c = 0


def test_simulate_command(capsys) -> None:  # type: ignore[no-untyped-def]
    """GD is compared with the GD theory (gd_eta); a step small enough for the contour method today."""
    from lindiff.theory import gradflow_losses

    assert main(["simulate", "--d", "60", "--N", "120", "--t", "50", "500", "--steps", "100", "--draws", "4",
                 "--eta", "0.005"]) == 0
    out = capsys.readouterr().out
    assert "comparison: GD against the GD theory" in out and "gd_eta = 0.005" in out
    assert "verdict: PASSED" in out and "simulate: PASSED" in out
    row = next(line.split() for line in out.splitlines() if line.split()[:2] == ["500", "0.5"])
    spec = lindiff.Spectrum.powerlaw(60, 1.0)
    gd = float(gradflow_losses(spec, 120, 0.5, t=500, gd_eta=0.005).test)
    flow = float(gradflow_losses(spec, 120, 0.5, t=500).test)
    assert float(row[5]) == pytest.approx(gd, rel=1e-4) and abs(gd - flow) > 1e-3   # GD's theory, not flow's
    assert main(["simulate", "--d", "20", "--N", "0"]) == 2
    assert main(["simulate", "--d", "20", "--N", "40", "--t", "0"]) == 2


def test_simulate_command_fails_loudly(capsys) -> None:  # type: ignore[no-untyped-def]
    """SGD is compared with gradient flow (said so); at a large step its O(eta) excess loss is many
    standard errors: FAILED and exit status 1."""
    assert main(["simulate", "--method", "sgd", "--d", "30", "--N", "60", "--t", "100", "500", "--steps", "1000",
                 "--draws", "3", "--eta", "0.05"]) == 1
    out = capsys.readouterr().out
    assert "comparison: SGD against gradient flow" in out and "at its small step eta = 0.05" in out
    assert "verdict: FAILED" in out and out.rstrip().splitlines()[-1].startswith("simulate: FAILED")


def test_missing_optional_dependency_is_a_clean_error(capsys, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without matplotlib, `lindiff reproduce` says what to install (exit 2), no traceback."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # import matplotlib -> ImportError
    assert main(["reproduce", "--quick", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lindiff: error:") and 'pip install "lindiff[plot]"' in err


def test_simulate_with_a_diverging_step_is_a_message(capsys) -> None:  # type: ignore[no-untyped-def]
    """--eta far above the stable step: every training diverges; a message and exit 2, no traceback."""
    rc = main(["simulate", "--d", "12", "--N", "20", "--T", "50", "--t", "1", "20", "--eta", "1e10",
               "--steps", "20", "--draws", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "--eta 1e+10" in err and "diverged" in err and "it needs eta <" in err


@pytest.mark.parametrize("argv", [["spectrum", "--name", ""], ["spectrum", "--from-npy", ""]])
def test_spectrum_empty_names_are_messages(capsys, argv) -> None:  # type: ignore[no-untyped-def]
    assert main(argv) == 2 and "lindiff: error:" in capsys.readouterr().err
