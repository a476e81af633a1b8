"""lindiff.validate: theory vs simulation, cell by cell."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import theory
from lindiff.simulate import ensemble

D = 200
SPEC = lindiff.Spectrum.powerlaw(D, 1.0)
NS = [D // 2, 2 * D]
TIMES = [1, 10, 50, 100, 200, 500, 1000]


@pytest.fixture(scope="module")
def sim() -> xr.Dataset:
    return ensemble(SPEC, NS, t=TIMES, draws=20, seed=0)


def test_static_theory_passes_and_wrong_N_fails(sim: xr.Dataset) -> None:
    """The acceptance check at d = 200, k = 1, N/d in {0.5, 2} (default nsigma = 3, rtol = 2/d)."""
    val = lindiff.validate(theory.static_losses(SPEC, NS, t=TIMES), sim)
    assert val.passed, val
    assert val.rtol == pytest.approx(2 / D) and val.nsigma == 3.0 and val.draws == 20
    assert val.variables == ("test", "train", "data_noise", "data_ridge")
    assert val.table.test_z.dims == ("N", "t") and val.worst_failed is None
    for factor in (1.5, 1 / 1.5):
        wrong = theory.static_losses(SPEC, [round(n * factor) for n in NS], t=TIMES).assign_coords(N=NS)
        bad = lindiff.validate(wrong, sim)
        assert not bad.passed
        assert bad.worst_failed is not None and abs(bad.worst_failed["rel"]) > 0.1
    # a theory at other sample sizes shares no cell with the simulation
    with pytest.raises(ValueError, match="share no value of N"):
        lindiff.validate(theory.static_losses(SPEC, [150, 600], t=TIMES), sim)


def test_pure_z_test_resolves_the_de_finite_d_bias(sim: xr.Dataset) -> None:
    """rtol = 0: the DE's O(1/d) bias shows up in the train loss at N < d, where the ensemble's
    standard error is tiny; the cells fail on z alone while |rel| stays far below 1/d."""
    val = lindiff.validate(theory.static_losses(SPEC, NS, t=TIMES), sim, rtol=0.0)
    z = val.table.train_z.sel(N=D // 2, t=[1, 10])
    rel = val.table.train_rel.sel(N=D // 2, t=[1, 10])
    assert float(np.abs(z).min()) > 2.0 and float(np.abs(rel).max()) < 0.1 / D
    assert bool((z < 0).all())                                             # the DE sits above the mean


def test_gradflow_against_training_result_like_object() -> None:
    spec = lindiff.Spectrum.powerlaw(100, 1.0)
    ets = [0.5, 5.0, 50.0]
    ens = ensemble(spec, 150, draws=20, seed=2, eta_tau=ets, t=[10, 300, 1000])
    # the layout of lindiff.simulate.train(...).losses: dims (draw, eta_tau, t), N and c scalars
    result = SimpleNamespace(losses=ens[["test", "train"]].drop_vars("c").assign_coords(c=0.0))
    th = theory.gradflow_losses(spec, 150.0, eta_tau=[0.5, 5.0, 50.0, 500.0], t=[10, 300, 1000])
    val = lindiff.validate(th, result)
    assert val.passed, val
    assert val.variables == ("test", "train") and val.table.test_z.dims == ("eta_tau", "t")
    assert val.table.eta_tau.values.tolist() == ets                      # inner join on eta_tau


def test_kl_theory_matches_on_scalar_coords() -> None:
    spec = lindiff.Spectrum.powerlaw(60, 1.0)
    ens = ensemble(spec, 240, gamma=lambda s: s, draws=30, seed=1, t=1000)
    th = theory.kl(spec, 240, gamma=lambda s: s, finite_d=True)            # has a scalar eta_tau = inf
    val = lindiff.validate(th, ens, variables=["kl_fwd"], rtol=0.0)
    assert val.passed and val.variables == ("kl_fwd",)
    assert val.table.kl_fwd_z.dims == ()


def _synthetic(mean_draws: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"test": (("draw", "t"), mean_draws)}, coords={"t": [1, 2, 3, 4, 5], "N": 10})


def test_z_and_rel_on_a_synthetic_dataset() -> None:
    draws = np.array([[1.0, 2.0, 5.0, np.inf, 4.0],
                      [3.0, 2.0, 5.0, np.inf, 4.0]])                       # means 2, 2, 5, inf, 4; sem 1, 0, 0, 0, 0
    sim = _synthetic(draws)
    th = xr.Dataset({"test": ("t", [1.5, 2.0, 4.0, np.inf, 8.0])}, coords={"t": [1, 2, 3, 4, 5], "N": 10.0})
    val = lindiff.validate(th, sim, nsigma=3.0, rtol=0.2)
    tab = val.table
    np.testing.assert_allclose(tab.test_mean, [2.0, 2.0, 5.0, np.inf, 4.0])
    np.testing.assert_allclose(tab.test_sem, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(tab.test_z, [0.5, 0.0, np.inf, 0.0, -np.inf])
    np.testing.assert_allclose(tab.test_rel, [1 / 3, 0.0, 0.25, 0.0, -0.5])
    np.testing.assert_array_equal(tab.test_pass, [True, True, False, True, False])
    assert not val.passed
    assert val.worst["variable"] == "test" and val.worst["coords"]["t"] == 3 and val.worst["z"] == np.inf
    assert val.worst["coords"]["N"] == 10.0
    assert lindiff.validate(th, sim, rtol=0.6).passed                      # |rel| <= rtol rescues the last two
    text = repr(val)
    assert "FAILED" in text and "test: 3/5 cells pass" in text
    assert "FAILED" in val._repr_html_()


def test_nan_never_passes() -> None:
    sim = _synthetic(np.array([[1.0] * 5, [3.0] * 5]))
    th = xr.Dataset({"test": ("t", [2.0, np.nan, 2.0, 2.0, 2.0])}, coords={"t": [1, 2, 3, 4, 5]})
    val = lindiff.validate(th, sim)
    assert not val.passed and val.table.test_pass.values.tolist() == [True, False, True, True, True]
    assert val.worst["coords"]["t"] == 2 and np.isnan(val.worst["z"])


def test_bad_input(sim: xr.Dataset) -> None:
    th = theory.static_losses(SPEC, NS, t=TIMES)
    with pytest.raises(ValueError, match="theory"):
        lindiff.validate(th.test, sim)
    with pytest.raises(ValueError, match="simulation"):
        lindiff.validate(th, 3.0)
    with pytest.raises(ValueError, match="draw"):
        lindiff.validate(th, sim.isel(draw=0))
    with pytest.raises(ValueError, match="2 draws"):
        lindiff.validate(th, sim.isel(draw=[0]))
    with pytest.raises(ValueError, match="nsigma"):
        lindiff.validate(th, sim, nsigma=0.0)
    with pytest.raises(ValueError, match="rtol"):
        lindiff.validate(th, sim, rtol=-1.0)
    with pytest.raises(ValueError, match="variables"):
        lindiff.validate(th, sim, variables=["kl_fwd"])
    with pytest.raises(ValueError, match="share none"):
        lindiff.validate(th[["kappa"]], sim)
    gf = theory.gradflow_losses(SPEC, NS, eta_tau=[1.0, 10.0], t=TIMES)
    with pytest.raises(ValueError, match="dimension eta_tau"):
        lindiff.validate(gf, sim)


def test_plot(sim: xr.Dataset) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    val = lindiff.validate(theory.static_losses(SPEC, NS, t=TIMES), sim)
    ax = val.plot("test")
    assert ax.get_xlabel() == "t" and len(ax.lines) >= 2
    with pytest.raises(ValueError, match="variable"):
        val.plot("kl_fwd")
    plt.close("all")
