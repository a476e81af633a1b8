"""lindiff.validate: theory vs simulation, cell by cell, on z-scores only; the finite-size fit over d."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import exact, simulate, theory
from lindiff.simulate import ensemble, ensemble_over_d

D = 200
SPEC = lindiff.Spectrum.powerlaw(D, 1.0)
NS = [D // 2, 2 * D]
TIMES = [1, 10, 50, 100, 200, 500, 1000]


@pytest.fixture(scope="module")
def sim() -> xr.Dataset:
    return ensemble(SPEC, NS, t=TIMES, draws=20, seed=0)


def test_one_d_reports_z_and_rel_and_wrong_N_fails(sim: xr.Dataset) -> None:
    """d = 200, k = 1: the table holds z and rel per cell, the verdict follows |z| <= nsigma alone."""
    val = lindiff.validate(theory.static_losses(SPEC, NS, t=TIMES), sim)
    assert val.nsigma == 3.0 and val.draws == 20 and val.dims == ()
    assert val.variables == ("test", "train", "data_noise", "data_ridge")
    tab = val.table
    assert tab.test_z.dims == ("N", "t")
    for v in val.variables:
        np.testing.assert_array_equal(tab[f"{v}_pass"], np.abs(tab[f"{v}_z"]) <= 3.0)
        np.testing.assert_allclose(tab[f"{v}_z"], (tab[f"{v}_mean"] - tab[f"{v}_theory"]) / tab[f"{v}_sem"])
    assert val.passed == all(bool(tab[f"{v}_pass"].all()) for v in val.variables)
    assert float(np.abs(tab.test_rel).max()) < 1.0 / D                  # the correct DE: within 1/d in rel
    for factor in (1.1, 1 / 1.1):
        wrong = theory.static_losses(SPEC, [n * factor for n in NS], t=TIMES).assign_coords(N=NS)
        bad = lindiff.validate(wrong, sim)
        assert not bad.passed and bad.worst_failed is not None and abs(bad.worst_failed["z"]) > 30
    with pytest.raises(ValueError, match="share no value of N"):
        lindiff.validate(theory.static_losses(SPEC, [150, 600], t=TIMES), sim)


def test_no_relative_escape_hatch() -> None:
    """A cell 10 standard errors off fails however small its relative deviation; rtol is gone."""
    sim = xr.Dataset({"test": (("draw", "t"), [[1.0, 1.0 - 1e-7], [1.0, 1.0 + 1e-7]])}, coords={"t": [1, 2]})
    th = xr.Dataset({"test": ("t", [1.0 + 1e-6, 1.0])}, coords={"t": [1, 2]})   # cell t=1: sem 0, rel 1e-6
    val = lindiff.validate(th, sim)
    assert not val.passed and val.table.test_pass.values.tolist() == [False, True]
    assert abs(float(val.table.test_rel.sel(t=1))) < 1e-5
    with pytest.raises(TypeError, match="rtol"):
        lindiff.validate(th, sim, rtol=0.1)  # type: ignore[call-arg]


def test_one_d_resolves_the_de_bias_that_a_fit_over_d_removes() -> None:
    """k = 0, N = d/2, t = 10: with 100 draws at d = 200 the DE's own O(1/d) bias of the test loss is
    many standard errors at one d (its relative size is 1e-7); the fit over d = 50, 100, 200 (the
    same standard error at every d) measures it and the deviation left at d = inf is within 3 s.e."""
    th, sims = ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(d, 0.0), [50, 100, 200], [0.5], t=[10],
                               draws={50: 1600, 100: 400, 200: 100}, seed=3, kl=False)
    one = lindiff.validate(th[200], sims[200], variables=["test"])
    assert not one.passed and abs(one.worst["z"]) > 4 and abs(one.worst["rel"]) < 1e-6
    assert "FAILED" in repr(one) and "bias counts as a deviation" in repr(one)
    fit = lindiff.validate(th, sims, variables=["test"])
    assert fit.passed and fit.dims == (50, 100, 200), fit
    tab = fit.table.squeeze()
    assert bool((tab.test_dev > 0).all()) and tab.test_a.item() > 0     # the simulation sits above the DE


def _synthetic_over_d(dims: list[int], a: float, b: float, intercept: float, sem: dict[int, float]
                      ) -> tuple[dict[int, xr.Dataset], dict[int, xr.Dataset]]:
    """Two draws per d with mean = theory + intercept + a/d + b/d^2 and standard error sem[d] exactly."""
    ths, sims = {}, {}
    for d in dims:
        N = [d // 2, 2 * d]
        theory_ = np.array([1.0, 2.0])
        mean = theory_ + intercept + a / d + b / d**2
        ths[d] = xr.Dataset({"test": ("N", theory_)}, coords={"N": np.array(N, dtype=float)}, attrs={"d": float(d)})
        sims[d] = xr.Dataset({"test": (("draw", "N"), np.stack([mean - sem[d], mean + sem[d]]))},
                             coords={"N": N})
    return ths, sims


def test_fit_over_d_recovers_the_bias_and_its_error() -> None:
    dims = [50, 100, 200, 400]
    sem = {50: 4e-3, 100: 2e-3, 200: 1e-3, 400: 5e-4}
    ths, sims = _synthetic_over_d(dims, a=0.3, b=-2.0, intercept=0.0, sem=sem)
    val = lindiff.validate(ths, sims)
    tab = val.table
    assert val.passed and val.dims == tuple(dims) and val.order == 2 and val.exponent == 1.0
    assert tab.test_a.dims == ("N_over_d",) and tab.N_over_d.values.tolist() == [0.5, 2.0]
    np.testing.assert_allclose(tab.test_a, 0.3, rtol=1e-9)
    np.testing.assert_allclose(tab.test_b, -2.0, rtol=1e-8)
    np.testing.assert_allclose(tab.test_intercept, 0.0, atol=1e-12)
    np.testing.assert_allclose(tab.test_chi2, 0.0, atol=1e-12)
    x = 1.0 / np.array(dims, dtype=float)
    _, cov = np.polyfit(x, 0.3 * x - 2.0 * x**2, 2, w=1.0 / np.array([sem[d] for d in dims]), cov="unscaled")
    np.testing.assert_allclose(tab.test_intercept_sem, np.sqrt(cov[2, 2]), rtol=1e-9)
    np.testing.assert_allclose(tab.test_dev.sel(N_over_d=0.5), 0.3 * x - 2.0 * x**2, rtol=1e-9)
    # a deviation that does not vanish as d -> inf is what fails: 5 standard errors of the intercept
    shift = 5 * float(tab.test_intercept_sem[0])
    bad = lindiff.validate(*_synthetic_over_d(dims, a=0.3, b=-2.0, intercept=shift, sem=sem))
    assert not bad.passed
    np.testing.assert_allclose(bad.table.test_z, 5.0, rtol=1e-6)
    np.testing.assert_allclose(bad.table.test_rel, [shift / 1.0, shift / 2.0], rtol=1e-9)
    w = bad.worst_failed
    assert w is not None and set(w["dev"]) == set(dims) and w["a"] == pytest.approx(0.3, rel=1e-6)
    text = repr(bad)
    assert "FAILED" in text and "extrapolated" in text and "a x + b x²" in text and "d = 50, 100, 200, 400" in text
    assert "FAILED" in bad._repr_html_()


def test_fit_order_and_exponent() -> None:
    dims = [64, 256, 1024]
    sem = {d: 1e-3 for d in dims}
    ths, sims = _synthetic_over_d([64, 256, 1024], a=0.0, b=0.0, intercept=0.0, sem=sem)
    for d in dims:                                   # a deviation 0.5 d^-1/2, a k = 2 like bias
        sims[d]["test"] = sims[d]["test"] + 0.5 / np.sqrt(d)
    assert not lindiff.validate(ths, sims).passed    # in 1/d it does not extrapolate to 0
    val = lindiff.validate(ths, sims, exponent=0.5, order=1)
    assert val.passed and "test_b" not in val.table
    np.testing.assert_allclose(val.table.test_a, 0.5, rtol=1e-9)
    assert "d^-0.5" in repr(val)


def test_over_d_bad_input() -> None:
    ths, sims = _synthetic_over_d([50, 100, 200], 0.1, 0.0, 0.0, {50: 1e-3, 100: 1e-3, 200: 1e-3})
    with pytest.raises(ValueError, match="same dimensions d"):
        lindiff.validate(ths, {50: sims[50], 100: sims[100]})
    with pytest.raises(ValueError, match="must both be Datasets"):
        lindiff.validate(ths, sims[50])
    with pytest.raises(ValueError, match="at least 3 dimensions d"):
        lindiff.validate({d: ths[d] for d in (50, 100)}, {d: sims[d] for d in (50, 100)})
    with pytest.raises(ValueError, match="order"):
        lindiff.validate(ths, sims, order=3)
    with pytest.raises(ValueError, match="exponent"):
        lindiff.validate(ths, sims, exponent=0.0)
    with pytest.raises(ValueError, match="is for d = 50"):
        lindiff.validate({**ths, 100: ths[50]}, sims)
    far = {d: x.assign_coords(N=x.N * 3) for d, x in ths.items()}
    with pytest.raises(ValueError, match="share no value of N"):
        lindiff.validate(far, sims)


def test_summary_input_and_to_frame() -> None:
    """A simulation may be given as its summary (<v>_mean, <v>_sem, attrs n), e.g. at another d."""
    ths, sims = _synthetic_over_d([50, 100, 200], 0.1, 0.0, 0.0, {50: 4e-3, 100: 2e-3, 200: 1e-3})
    summaries = {d: simulate.summarize(s) for d, s in sims.items()}
    a, b = lindiff.validate(ths, sims), lindiff.validate(ths, summaries)
    xr.testing.assert_allclose(a.table, b.table)
    assert b.draws == 2
    one = lindiff.validate(ths[50], summaries[50])
    assert one.draws == 2 and one.passed
    with pytest.raises(ValueError, match="summary"):
        lindiff.validate(ths[50], summaries[50].assign_attrs(n=None).drop_attrs())
    df = a.to_frame()
    assert len(df) == 2 and {"variable", "N_over_d", "a", "b", "intercept", "z", "pass", "dev[d=100]"} <= set(df)
    assert df["dev[d=200]"].tolist() == pytest.approx([0.1 / 200] * 2)
    with pytest.raises(ValueError, match="variable"):
        a.to_frame("kl_fwd")


def test_ensemble_over_d_makes_reproducible_inputs() -> None:
    family = lambda d: lindiff.Spectrum.powerlaw(d, 2.0)  # noqa: E731
    th, sims = ensemble_over_d(family, [20, 40, 80], [0.5, 2.0], c=1e-3, t=[10, 500], draws={20: 16, 40: 8, 80: 4},
                               seed=5)
    assert sorted(th) == [20, 40, 80] and sims[20].sizes["draw"] == 16 and sims[80].sizes["draw"] == 4
    assert th[40].N.values.tolist() == [20.0, 80.0] and {"kl_fwd", "kl_rev", "test"} <= set(th[40].data_vars)
    ref = ensemble(family(40), [20, 80], 1e-3, draws=8, seed=np.random.SeedSequence(5, spawn_key=(40,)), t=[10, 500])
    xr.testing.assert_identical(sims[40], ref)
    np.testing.assert_array_equal(th[80].test.values, theory.static_losses(family(80), [40.0, 160.0], 1e-3,
                                                                           t=[10, 500]).test.values)
    val = lindiff.validate(th, sims)
    assert val.variables == ("test", "train", "data_noise", "data_ridge", "kl_fwd", "kl_rev")
    with pytest.raises(ValueError, match="N_over_d"):
        ensemble_over_d(family, [20, 30, 40], [0.25])
    with pytest.raises(ValueError, match="spectrum"):
        ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(10, 1.0), [20, 40, 80], [0.5])
    with pytest.raises(ValueError, match="draws"):
        ensemble_over_d(family, [20, 40, 80], [0.5], draws={20: 4})
    with pytest.raises(ValueError, match="kl"):
        ensemble_over_d(family, [20, 40, 80], [0.5], eta_tau=[0.1], gd_eta=0.05, kl=True)
    with pytest.raises(ValueError, match="dims"):
        ensemble_over_d(family, [20, 20, 40], [0.5])


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
    fwd, rev = theory.kl_wishart(60, 240)                                  # the exact finite-d expectation
    th = xr.Dataset({"kl_fwd": fwd, "kl_rev": rev}, coords={"N": 240.0})
    val = lindiff.validate(th, ens)
    assert val.passed and val.variables == ("kl_fwd", "kl_rev")
    assert val.table.kl_fwd_z.dims == ()


def _synthetic(mean_draws: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"test": (("draw", "t"), mean_draws)}, coords={"t": [1, 2, 3, 4, 5], "N": 10})


def test_z_and_rel_on_a_synthetic_dataset() -> None:
    draws = np.array([[1.0, 2.0, 5.0, np.inf, 4.0],
                      [3.0, 2.0, 5.0, np.inf, 4.0]])                       # means 2, 2, 5, inf, 4; sem 1, 0, 0, 0, 0
    sim = _synthetic(draws)
    th = xr.Dataset({"test": ("t", [1.5, 2.0, 4.0, np.inf, 8.0])}, coords={"t": [1, 2, 3, 4, 5], "N": 10.0})
    val = lindiff.validate(th, sim, nsigma=3.0)
    tab = val.table
    np.testing.assert_allclose(tab.test_mean, [2.0, 2.0, 5.0, np.inf, 4.0])
    np.testing.assert_allclose(tab.test_sem, [1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(tab.test_z, [0.5, 0.0, np.inf, 0.0, -np.inf])
    np.testing.assert_allclose(tab.test_rel, [1 / 3, 0.0, 0.25, 0.0, -0.5])
    np.testing.assert_array_equal(tab.test_pass, [True, True, False, True, False])
    assert not val.passed and val.n_failed == 2 and val.n_cells == 5
    assert val.worst["variable"] == "test" and val.worst["coords"]["t"] == 3 and val.worst["z"] == np.inf
    assert val.worst["coords"]["N"] == 10.0
    text = repr(val)
    assert "FAILED: the deviation of 2 of 5 cells exceeds 3 s.e." in text and "test: 3/5 cells pass" in text
    assert "FAILED" in val._repr_html_()
    assert "PASSED" in repr(lindiff.validate(th.isel(t=[0, 1, 3]), sim))


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
        lindiff.validate(th, sim[["test", "train"]].isel(draw=0))
    with pytest.raises(ValueError, match="2 draws"):
        lindiff.validate(th, sim.isel(draw=[0]))
    with pytest.raises(ValueError, match="nsigma"):
        lindiff.validate(th, sim, nsigma=0.0)
    with pytest.raises(ValueError, match="variables"):
        lindiff.validate(th, sim, variables=["kl_fwd"])
    with pytest.raises(ValueError, match="share none"):
        lindiff.validate(th[["kappa"]], sim)
    gf = theory.gradflow_losses(SPEC, NS, eta_tau=[1.0, 10.0], t=TIMES)
    with pytest.raises(ValueError, match="dimension eta_tau"):
        lindiff.validate(gf, sim)


def test_plots() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sim = ensemble(SPEC, NS, t=TIMES, draws=4, seed=1)
    val = lindiff.validate(theory.static_losses(SPEC, NS, t=TIMES), sim)
    ax = val.plot("test")
    assert ax.get_xlabel() == "t" and len(ax.lines) >= 2
    with pytest.raises(ValueError, match="variable"):
        val.plot("kl_fwd")
    with pytest.raises(ValueError, match="several d"):
        lindiff.plot.deviation_vs_d(val)
    fit = lindiff.validate(*_synthetic_over_d([50, 100, 200], 0.3, 0.0, 0.0, {50: 4e-3, 100: 2e-3, 200: 1e-3}))
    ax = fit.plot()
    assert ax.get_xlabel() == "x = 1/d" and len(ax.containers) == 4      # 2 cells: points and the d = inf value
    ax = lindiff.plot.deviation_vs_d(fit, "test", cells=1, relative=False)
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), fit.table.test_dev.isel(N_over_d=0))
    with pytest.raises(ValueError, match="cells"):
        lindiff.plot.deviation_vs_d(fit, cells=0)
    plt.close("all")


# ------------------------------------------------------------------------- acceptance: right vs wrong theory

DIMS = [50, 100, 200]
DRAWS = {50: 320, 100: 80, 200: 20}          # 20 draws at d = 200, the same standard error at every d
C = 1e-3
T_ACC = [1, 10, 100, 500]


def _theory(kind: str, spec: lindiff.Spectrum, N: list[float], c: float, et: list[float] | None,
            gd: float | None) -> xr.Dataset:
    if kind == "static":
        return theory.static_losses(spec, N, c, t=T_ACC)[["test", "train"]]
    if kind == "kl":
        return theory.kl(spec, N, c)[["kl_fwd", "kl_rev"]]
    return theory.gradflow_losses(spec, N, et, c, t=T_ACC, gd_eta=gd)[["test", "train"]]


def _gd_step(family, ratios: list[float], frac: float) -> float:  # type: ignore[no-untyped-def]
    """frac / m_max, m_max >= the largest a_t^2 s + b_t^2 + c over t, s up to the DE support's upper
    edge at every d (the theory's own largest eigenvalue of C) and a few draws at the largest d."""
    d = max(DIMS)
    s = max(exact.SampleSpectrum.draw(family(d), int(r * d), seed=i).s.max() for r in ratios for i in range(3))
    s_de = max(theory.de_measure(family(dd), r * dd, method="real").s_hi for r in ratios for dd in DIMS)
    return frac / (max(s, s_de, 1.0) + C)


@pytest.mark.parametrize("k", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("kind", ["static", "kl", "gradflow", "gd"])
def test_acceptance_right_theory_passes_wrong_theories_fail(kind: str, k: float) -> None:
    """d = 50, 100, 200 at fixed N/d, 20 draws at d = 200, power law k: the correct theory passes the
    finite-size fit; the theory at N x 1.1, at c x 10 and (training) at eta x 1.1 fails it.

    GD: the GD theory (gd_eta, real-axis rule) at eta = 0.6 / m_max and up to 10^4 steps, m_max from the DE
    edge (at 0.9 / m_max the largest sample eigenvalue of some d = 50 draws passes the stability limit
    2 eta m < 2 and those draws diverge: a property of GD at finite d, not of the theory)."""
    family = lambda d: lindiff.Spectrum.powerlaw(d, k)  # noqa: E731
    ratios = [2.0, 4.0] if kind == "kl" else [0.5, 2.0]
    et = gd = None
    if kind == "gradflow":
        et = [0.5, 5.0, 50.0]
    elif kind == "gd":
        gd = _gd_step(family, ratios, 0.6)
        n = np.unique(np.append(np.round(np.array([0.5, 5.0]) / gd), 10_000)).clip(1)
        et = (n * gd).tolist()
    th, sims = ensemble_over_d(family, DIMS, ratios, C, draws=DRAWS, seed=0, eta_tau=et, t=T_ACC, gd_eta=gd,
                               kl=kind == "kl")
    wrong: dict[str, dict[int, xr.Dataset]] = {"N x 1.1": {}, "c x 10": {}, "eta x 1.1": {}}
    correct = {}
    for d in DIMS:
        spec, N = family(d), [r * d for r in ratios]
        correct[d] = _theory(kind, spec, N, C, et, gd)
        wrong["N x 1.1"][d] = _theory(kind, spec, [1.1 * x for x in N], C, et, gd).assign_coords(N=N)
        wrong["c x 10"][d] = _theory(kind, spec, N, 10 * C, et, gd).assign_coords(c=C)
        if et is not None:
            wrong["eta x 1.1"][d] = _theory(kind, spec, N, C, [1.1 * e for e in et], gd and 1.1 * gd
                                            ).assign_coords(eta_tau=et)
    val = lindiff.validate(correct, sims)
    assert val.passed, f"{kind}, k = {k}: the correct theory fails\n{val}"
    for name, ths in wrong.items():
        if ths:
            bad = lindiff.validate(ths, sims)
            assert not bad.passed, f"{kind}, k = {k}: the theory at {name} passes\n{bad}"


def test_over_d_equal_infinities_agree() -> None:
    """KL at N < d with c = 0 is +inf in theory and in every draw: the fit treats the cell as an
    exact agreement (it was NaN, a failed cell)."""
    import lindiff
    from lindiff import simulate

    th, sims = simulate.ensemble_over_d(lambda d: lindiff.Spectrum.powerlaw(d, 1.0), [20, 40, 80],
                                        N_over_d=[0.5, 2.0], t=[1, 100], draws=6)
    assert np.isinf(float(th[40].kl_fwd.sel(N=20.0)))
    val = lindiff.validate(th, sims, variables=["kl_fwd", "kl_rev"])
    assert bool(val.table.kl_fwd_pass.sel(N_over_d=0.5)) and float(val.table.kl_fwd_z.sel(N_over_d=0.5)) == 0.0


def test_familywise_threshold_is_sidak_and_keeps_the_z_scores() -> None:
    """familywise=True holds all n cells to the Šidák threshold of a 3-sigma test of the whole
    comparison; the z-scores are unchanged, only the threshold moves."""
    from scipy.stats import norm

    import lindiff
    from lindiff import simulate, theory

    spec = lindiff.Spectrum.powerlaw(60, k=1.0)
    sim = simulate.ensemble(spec, N=[30, 120], t=[1, 10, 100, 1000], draws=8)
    th = theory.static_losses(spec, [30, 120], t=[1, 10, 100, 1000])
    per_cell, fw = lindiff.validate(th, sim), lindiff.validate(th, sim, familywise=True)
    n = fw.n_cells
    p = 2 * norm.sf(3.0)
    assert fw.nsigma == pytest.approx(norm.isf((1 - (1 - p) ** (1 / n)) / 2), rel=1e-10)
    assert fw.nsigma > 3.0 and fw.familywise_nsigma == 3.0 and "family-wise" in str(fw)
    np.testing.assert_array_equal(fw.table.test_z, per_cell.table.test_z)
    wrong = theory.static_losses(spec, [33, 132], t=[1, 10, 100, 1000]).assign_coords(N=[30, 120])
    assert not lindiff.validate(wrong, sim, familywise=True).passed
    with pytest.raises(ValueError, match="familywise"):
        lindiff.validate(th, sim, familywise="yes")


def test_fuzz_familywise_nsigma() -> None:
    """familywise over valid, edge and invalid nsigma: the threshold is >= nsigma, grows with it, the
    z-scores never change, bad input is a ValueError naming the argument."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    import lindiff
    from lindiff import simulate, theory

    spec = lindiff.Spectrum.powerlaw(30, k=1.0)
    sim = simulate.ensemble(spec, N=[15, 60], t=[1, 100], draws=4)
    th = theory.static_losses(spec, [15, 60], t=[1, 100])
    base = lindiff.validate(th, sim)

    @settings(max_examples=25, deadline=None, derandomize=True, database=None)
    @given(st.one_of(st.floats(0.1, 8.0), st.sampled_from([0.0, -1.0, float("nan"), float("inf"), "x", None])))
    def check(ns):  # type: ignore[no-untyped-def]
        ok = isinstance(ns, float) and np.isfinite(ns) and ns > 0
        if not ok:
            with pytest.raises(ValueError, match="nsigma"):
                lindiff.validate(th, sim, nsigma=ns, familywise=True)
            return
        fw = lindiff.validate(th, sim, nsigma=ns, familywise=True)
        assert fw.nsigma >= ns and np.isfinite(fw.nsigma)
        np.testing.assert_array_equal(fw.table.test_z, base.table.test_z)
        assert fw.passed == all(bool(np.all(np.abs(fw.table[f"{v}_z"]) <= fw.nsigma)) for v in fw.variables)

    check()
