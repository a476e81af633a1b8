"""lindiff.memorization.transition and the models it scans (one-step, Merger & Goldt, any generator)."""

from __future__ import annotations

import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import exact
from lindiff.memorization import (GeneratedFit, GeneratorModel, LinearDiffusionModel, OneStepModel, crossing,
                                  relative_distance, transition)

GRID = [4, 8, 16, 32, 128]


def _small(**kw) -> xr.Dataset:
    args = dict(repeats=12, reference_size=2000, n_bootstrap=100)
    args.update(kw)
    return transition(OneStepModel(8, 2).with_N, GRID, **args)


def test_transition_dataset_schema_and_intervals():
    ds = _small()
    assert ds.positive.dims == ("N", "repeat") and ds.positive.shape == (len(GRID), 12)
    np.testing.assert_array_equal(ds.N.values, GRID)
    np.testing.assert_allclose(ds.N_over_d.values, np.array(GRID) / 8)
    p = ds.p_positive.values
    np.testing.assert_allclose(p, ds.positive.values.mean(axis=1))
    assert np.all(ds.p_low.values <= p) and np.all(p <= ds.p_high.values)
    assert np.all((ds.p_low.values >= 0) & (ds.p_high.values <= 1))
    for k in ("theory_kl_de", "theory_n_c", "theory_kl_fwd_floor"):
        assert k in ds
    assert ds.attrs["d"] == 8 and ds.attrs["reference"] == "kde" and ds.attrs["lindiff_version"] == lindiff.__version__
    # N <= d: degenerate p_gen, infinite KL, H^2 = 1 exactly
    assert np.all(np.isinf(ds.kl_fwd.sel(N=4).values)) and np.all(ds.hellinger2.sel(N=4).values == 1.0)
    assert np.all(np.isfinite(ds.kl_fwd.sel(N=128).values))
    # the memorization side at N <= d, the generalization side at N = 16 d
    assert p[0] <= 0.25 and p[-1] >= 0.75
    assert GRID[0] <= ds.attrs["n_half"] <= GRID[-1]
    lo, hi = ds.attrs["n_half_low"], ds.attrs["n_half_high"]
    assert lo <= ds.attrs["n_half"] <= hi


def test_transition_reproducible_and_independent_of_executor_and_chunks():
    a = _small()
    b = _small()
    xr.testing.assert_identical(a, b)
    ctx = mp.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        c = _small(executor=ex, chunk=5)
    xr.testing.assert_identical(a, c)
    d = _small(seed=1)
    assert not np.array_equal(a.log_abs_delta.values, d.log_abs_delta.values)


def test_exact_reference_and_kl_distance_variants():
    e = _small(reference="exact")
    assert e.attrs["reference"] == "exact"
    k = _small(distance="kl", n_samples=256)
    assert k.attrs["distance"] == "kl"
    for ds in (e, k):
        assert ds.p_positive.values[-1] >= 0.75


class _Independent:
    """A data-independent generator N(m, kappa sigma^2 I): the criterion must call it non-memorizing."""

    def __init__(self, N: int, d: int = 8) -> None:
        self.inner = OneStepModel(d, N)
        self.N, self.d, self.sigma, self.data_law = N, d, 1.0, self.inner.data_law

    def sample_data(self, n, seed):
        return self.inner.sample_data(n, seed)

    def fit(self, seed):
        k = self.inner.kappa
        return GeneratedFit(train=self.inner.fit(seed).train,
                            generated=(np.full(self.d, self.inner.m), k * np.eye(self.d)))


def test_criterion_is_calibrated():
    ds = transition(_Independent, [16], repeats=40, reference_size=2000, n_bootstrap=20)
    assert float(ds.p_positive[0]) >= 0.9


def _copier(train, n, rng):
    return train[rng.integers(0, len(train), n)] + 1e-3 * rng.standard_normal((n, train.shape[1]))


def _gauss_data(n, rng):
    return rng.standard_normal((n, 8))


def _fresh(train, n, rng):
    """Ignores the training set: N(0, I/2), the calibration case in samples."""
    return math.sqrt(0.5) * rng.standard_normal((n, train.shape[1]))


def test_generator_model_memorizer_and_generalizer():
    mem = transition(GeneratorModel(_gauss_data, _copier, 2, n_samples=500, sigma=1.0).with_N, [16, 64],
                     repeats=10, reference_size=2000, n_bootstrap=20)
    gen = transition(GeneratorModel(_gauss_data, _fresh, 2, n_samples=500, sigma=1.0).with_N, [16, 64],
                     repeats=10, reference_size=2000, n_bootstrap=20)
    assert np.all(mem.p_positive.values == 0.0)
    assert np.all(gen.p_positive.values >= 0.8)
    assert np.all(np.isnan(mem.kl_fwd.values))                   # samples carry no individual distance
    fit = GeneratorModel(_gauss_data, _fresh, 5, n_samples=7).fit(seed=3)
    assert fit.train.shape == (5, 8) and fit.generated.shape == (7, 8)
    np.testing.assert_array_equal(fit.train, GeneratorModel(_gauss_data, _fresh, 5, n_samples=7).fit(seed=3).train)


def test_linear_diffusion_model_matches_exact():
    spec = lindiff.Spectrum.powerlaw(6, k=1.0)
    for N in (4, 20):
        fit = LinearDiffusionModel(spec, N).fit(seed=5)
        X, _ = exact.draw_data(spec, N, np.random.SeedSequence(5))
        np.testing.assert_array_equal(fit.train, X.T)
        smp = exact.SampleSpectrum.from_data(X, spec)
        out = exact.kl(smp, lindiff.Schedule.linear(T=1000))
        fwd, rev = out.fwd, out.rev
        gamma = exact.sigma_gen(smp)[0]
        evals = fit.generated[1][0]
        assert evals.size == min(N, 6)
        np.testing.assert_allclose(np.sort(evals), np.sort(gamma[gamma > 0]), rtol=1e-12)
        if N > 6:
            assert fit.kl_fwd == pytest.approx(float(np.ravel(fwd)[0]), rel=1e-9)
            assert fit.kl_rev == pytest.approx(float(np.ravel(rev)[0]), rel=1e-9)
            assert 0 < fit.hellinger2 < 1
        else:
            assert fit.kl_fwd == math.inf and fit.hellinger2 == 1.0
    ds = transition(LinearDiffusionModel(spec, 2).with_N, [4, 24], repeats=6, reference_size=500, n_bootstrap=20)
    assert ds.positive.shape == (2, 6)


def test_crossing():
    assert crossing([1, 2, 4], [0.0, 0.5, 1.0], 0.5) == pytest.approx(2.0)
    assert crossing([1, 2, 4], [0.6, 0.7, 1.0], 0.5) != crossing([1, 2, 4], [0.6, 0.7, 1.0], 0.5)   # NaN: below grid
    assert math.isnan(crossing([1, 2, 4], [0.0, 0.1, 0.2], 0.5))
    assert crossing([10, 100], [0.0, 1.0], 0.5) == pytest.approx(math.sqrt(1000))
    assert crossing([1, 2, 4, 8], [0.9, 0.1, 0.3, 0.7], 0.5) == pytest.approx(math.exp(0.5 * math.log(32)))
    assert math.isnan(crossing([1, 2, 4], [0.0, 0.9, 0.2], 0.5))     # ends below the level


def test_transition_bad_input():
    f = OneStepModel(4, 2).with_N
    for kw, match in (({"N_values": [5, 3]}, "increasing"), ({"N_values": []}, "N_values"),
                      ({"N_values": [2.5]}, "integers"), ({"repeats": 0}, "repeats"),
                      ({"reference": "p"}, "reference"), ({"threshold": 1.5}, "threshold"),
                      ({"seed": -1}, "seed"), ({"reference_size": 1}, "reference_size")):
        args = dict(N_values=[3, 6], repeats=2)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            transition(f, **args)
    with pytest.raises(ValueError, match="model_factory"):
        transition(3, [3], repeats=2)
    g = GeneratorModel(_gauss_data, _fresh, 4, sigma=1.0).with_N
    with pytest.raises(ValueError, match="data_law"):
        transition(g, [4], repeats=2, reference="exact")


def test_plot_transition(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    from lindiff.memorization import plot_transition

    ax, ax2 = plot_transition(_small())
    path = tmp_path / "t.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 5000
    assert len(ax.lines) >= 1 and len(ax2.lines) >= 1
    with pytest.raises(ValueError, match="distance"):
        plot_transition(_small(), distance="x")
