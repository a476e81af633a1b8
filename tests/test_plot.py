"""lindiff.plot: figures from lindiff's Datasets, on small inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import simulate, theory

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lindiff import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


SPEC = lindiff.Spectrum.powerlaw(30, 1.0)


def test_import_lindiff_does_not_import_matplotlib() -> None:
    code = ("import sys, lindiff; assert 'matplotlib' not in sys.modules; "
            "import lindiff.reproduce; assert 'matplotlib' not in sys.modules; "
            "p = lindiff.plot; assert 'matplotlib.pyplot' not in sys.modules; print(p.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "lindiff.plot"


def test_theory_vs_simulation_draws_theory_and_error_bars() -> None:
    th = theory.static_losses(SPEC, N=[15, 30, 60], c=[0.0, 0.01], t=[50])
    sim = simulate.ensemble(SPEC, N=[15, 60], c=[0.0, 0.01], t=[50], draws=5, seed=3)
    ax = plot.theory_vs_simulation(th, sim, "train", x="N", hue="c", x_scale=30)
    assert len(ax.lines) >= 2 and len(ax.containers) == 2
    # the first line is the theory at c = 0 against N/d; the first error bars are the simulation's mean ± sem
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(x, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(y, th.train.sel(c=0.0).squeeze().values)
    bars = ax.containers[0]
    np.testing.assert_allclose(bars.lines[0].get_ydata(), sim.train_mean.sel(c=0.0).squeeze().values)
    seg = bars.lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in seg], 2 * sim.train_sem.sel(c=0.0).squeeze().values)
    assert ax.get_xlabel() == "N / 30"


def test_theory_vs_simulation_summarises_per_draw_input() -> None:
    th = theory.static_losses(SPEC, N=[15, 60], t=[50])
    sim = simulate.ensemble(SPEC, N=[15, 60], t=[50], draws=4, seed=1)[["test"]]      # per-draw only
    ax = plot.theory_vs_simulation(th, sim, "test", x="N")
    assert len(ax.containers) == 1
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), sim.test.mean("draw").squeeze().values)


def test_theory_vs_simulation_errors() -> None:
    th = theory.static_losses(SPEC, N=[15, 60], t=[10, 50])
    with pytest.raises(ValueError, match="theory has dimensions"):
        plot.theory_vs_simulation(th, None, "test", x="N")
    with pytest.raises(ValueError, match="no variable 'nope'"):
        plot.theory_vs_simulation(th, None, "nope", x="N")
    with pytest.raises(ValueError, match="x must be a dimension"):
        plot.theory_vs_simulation(th.mean("t"), None, "test", x="c")
    with pytest.raises(ValueError, match="x_scale"):
        plot.theory_vs_simulation(th.mean("t"), None, "test", x="N", x_scale=0)
    with pytest.raises(ValueError, match="simulation must hold"):
        plot.theory_vs_simulation(th.mean("t"), th.mean("t"), "test", x="N")


def test_loss_curves_marks_optimum() -> None:
    et = np.append(np.geomspace(0.1, 1e4, 15), np.inf)
    gf = theory.gradflow_losses(SPEC, N=[12, 24], eta_tau=et, t=[10, 100])
    st = theory.optimal_stopping(SPEC, N=[12, 24], t=100)
    ax = plot.loss_curves(gf, t=100, stopping=st)
    stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert len(stars) == 2
    for star, n in zip(stars, [12, 24]):
        assert star.get_xdata()[0] == pytest.approx(float(st.eta_tau.sel(N=n)))
        assert star.get_ydata()[0] == pytest.approx(float(st.test_min.sel(N=n)))
    with pytest.raises(ValueError, match="t must be"):
        plot.loss_curves(gf, t="max")
    with pytest.raises(ValueError, match="eta_tau dimension"):
        plot.loss_curves(theory.static_losses(SPEC, N=[12, 24], t=[10]))


def test_kl_vs_ratio_law_and_wishart() -> None:
    N = [60, 120, 300]
    ds = theory.kl(SPEC, N=N, gamma=lambda s: s, finite_d=True)
    ax = plot.kl_vs_ratio(ds, label="emp")
    plot.kl_vs_ratio(ds, ax=ax, label="again")                       # the law is drawn once per Axes
    labels = [ln.get_label() for ln in ax.lines]
    assert labels.count("d/(4N)") == 1
    law = ax.lines[labels.index("d/(4N)")]
    np.testing.assert_allclose(law.get_ydata(), law.get_xdata() / 4)
    wish = ax.lines[labels.index("Wishart, d = 30")]
    np.testing.assert_allclose(wish.get_ydata(), theory.kl_wishart(30, np.array(N[::-1]))[0])
    # finite_d=True gives the DE of the N(0, C) sampler the exact Wishart value up to O(1/d^2)
    np.testing.assert_allclose(sorted(ax.lines[0].get_ydata()), sorted(wish.get_ydata()), rtol=1e-3)
    with pytest.raises(ValueError, match="'d' attribute"):
        plot.kl_vs_ratio(xr.Dataset({"kl_fwd": ds.kl_fwd}))


def test_transition_is_the_memorization_plot() -> None:
    from lindiff.memorization import OneStepModel, plot_transition, transition

    assert plot.plot_transition is plot_transition
    ds = transition(OneStepModel(4, 2).with_N, [3, 8], repeats=4, reference_size=100, n_bootstrap=20)
    ax, ax2 = plot.transition(ds)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ds.p_positive.values)
    assert ax2 is not ax


def test_missing_matplotlib_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    th = theory.static_losses(SPEC, N=[15, 60], t=[50]).mean("t")
    with pytest.raises(ImportError, match=r'pip install "lindiff\[plot\]"'):
        plot.theory_vs_simulation(th, None, "test", x="N")


def test_simulation_must_share_x_and_hue() -> None:
    th = theory.static_losses(SPEC, N=[15, 60], c=[0.0, 0.1], t=[50])
    sim = simulate.ensemble(SPEC, N=[15, 60], t=[50], draws=3)          # no c dimension
    with pytest.raises(ValueError, match="no dimension 'c'"):
        plot.theory_vs_simulation(th, sim, "test", x="N", hue="c")
    # a hue value without simulation draws only the theory there
    sim2 = simulate.ensemble(SPEC, N=[15, 60], c=[0.0, 0.05], t=[50], draws=3)
    ax = plot.theory_vs_simulation(th, sim2, "test", x="N", hue="c")
    assert len(ax.containers) == 1


def test_loss_curves_needs_matching_stopping() -> None:
    gf = theory.gradflow_losses(SPEC, N=[12, 24], eta_tau=[1.0, 10.0], t=[10])
    with pytest.raises(ValueError, match="stopping has no N = 24"):
        plot.loss_curves(gf, t=10, stopping=theory.optimal_stopping(SPEC, N=[12, 18], t=10))
