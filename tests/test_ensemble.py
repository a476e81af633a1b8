"""lindiff._core.eigh_batched and lindiff.simulate.ensemble / summarize.

The ensemble is checked draw by draw against lindiff.exact on the training set a user rebuilds
from the documented seeds, for its dims, thread-count independence and bad input, and its KL of
N(0, C) against the exact Wishart law and the deterministic equivalent.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import _core, exact, theory
from lindiff.simulate import ensemble, summarize

TIMES = [1, 10, 200, 1000]


# ------------------------------------------------------------------ eigh_batched
def test_eigh_batched_matches_numpy(rng: np.random.Generator) -> None:
    B, d = 6, 30
    A = rng.standard_normal((B, d, 2 * d))
    C = A @ A.transpose(0, 2, 1) / (2 * d) + 0.1 * np.eye(d)
    s, V, info = _core.eigh_batched(C)
    assert s.shape == (B, d) and V.shape == (B, d, d) and info.shape == (B,)
    assert np.all(info == 0)
    sn, Vn = np.linalg.eigh(C)
    sn, Vn = sn[:, ::-1], Vn[:, :, ::-1]
    assert np.all(np.diff(s, axis=1) <= 0)                                  # decreasing
    np.testing.assert_allclose(s, sn, rtol=1e-12, atol=0)
    for b in range(B):
        # columns are eigenvectors: equal to numpy's up to sign
        np.testing.assert_allclose(np.abs(V[b].T @ Vn[b]), np.eye(d), atol=1e-10)
        np.testing.assert_allclose(C[b] @ V[b], V[b] * s[b], atol=1e-12 * s[b, 0])
    np.testing.assert_array_equal(C, A @ A.transpose(0, 2, 1) / (2 * d) + 0.1 * np.eye(d))  # input untouched


def test_eigh_batched_reads_the_lower_triangle_and_edge_sizes(rng: np.random.Generator) -> None:
    A = rng.standard_normal((2, 8, 8))
    C = A @ A.transpose(0, 2, 1)
    s_full, _, _ = _core.eigh_batched(C)
    s_low, _, _ = _core.eigh_batched(np.tril(C))                           # like numpy.linalg.eigh
    np.testing.assert_array_equal(s_full, s_low)
    s, V, info = _core.eigh_batched(np.full((3, 1, 1), 2.5))
    assert s.tolist() == [[2.5]] * 3 and V.tolist() == [[[1.0]]] * 3 and info.tolist() == [0, 0, 0]
    s, V, info = _core.eigh_batched(np.zeros((0, 4, 4)))
    assert s.shape == (0, 4) and V.shape == (0, 4, 4) and info.shape == (0,)


@pytest.mark.parametrize(("C", "match"), [
    (np.eye(3), "shape"),
    (np.ones((2, 3, 4)), "shape"),
    (np.array([[[1.0, np.nan], [np.nan, 1.0]]]), "finite"),
    (np.array([[[np.inf]]]), "finite"),
])
def test_eigh_batched_bad_input(C: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _core.eigh_batched(C)


# ------------------------------------------------------------------ ensemble vs lindiff.exact
def _reference(spec: lindiff.Spectrum, N: int, seed: object, i: int, draws: int, *, rotate: bool = False,
               centred: bool = False, c: float = 0.0, eta_tau: object = np.inf) -> tuple[object, object]:
    ss = (seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)).spawn(draws)[i]
    smp = exact.SampleSpectrum.draw(spec, N, seed=ss, rotate=rotate, centred=centred)
    return exact.losses(smp, t=TIMES, c=c, eta_tau=eta_tau), exact.kl(smp, c=c, eta_tau=eta_tau)


@pytest.mark.parametrize(("rotate", "centred"), [(False, False), (True, False), (False, True)])
def test_each_draw_is_exact_on_its_training_set(rotate: bool, centred: bool) -> None:
    spec = lindiff.Spectrum.powerlaw(24, k=1.0)
    Ns, cs, ets, draws = [10, 60], [0.0, 0.05], [2.0, np.inf], 3
    ds = ensemble(spec, Ns, c=cs, draws=draws, seed=11, eta_tau=ets, t=TIMES, rotate=rotate, centred=centred)
    assert ds.test.dims == ("draw", "N", "c", "eta_tau", "t")
    assert ds.kl_fwd.dims == ("draw", "N", "c", "eta_tau")
    for i in range(draws):
        for N in Ns:
            for c in cs:
                ref, kl = _reference(spec, N, 11, i, draws, rotate=rotate, centred=centred, c=c, eta_tau=ets)
                cell = ds.isel(draw=i).sel(N=N, c=c)
                for name in ("test", "train", "data_noise", "data_ridge"):
                    np.testing.assert_allclose(cell[name].values, getattr(ref, name), rtol=1e-12, atol=1e-14)
                for name, val in (("kl_fwd", kl.fwd), ("kl_rev", kl.rev)):
                    np.testing.assert_allclose(cell[name].values, val, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ds.optimum.values, ref.optimum, rtol=1e-15)
    # N = 10 < d = 24 at eta*tau = inf, c = 0: samples in span(X), KL = inf in every draw
    assert np.all(np.isinf(ds.kl_fwd.sel(N=10, c=0.0, eta_tau=np.inf)))


def test_minimiser_schema_and_seed_sequence() -> None:
    spec = lindiff.Spectrum.powerlaw(16, k=2.0)
    ds = ensemble(spec, 40, draws=4, seed=np.random.SeedSequence(5), t=TIMES)
    assert ds.test.dims == ("draw", "t") and ds.kl_fwd.dims == ("draw",)
    assert "eta_tau" not in ds.coords and float(ds.N) == 40.0 and float(ds.c) == 0.0
    assert ds.test_mean.dims == ("t",) and ds.kl_rev_sem.dims == ()
    assert ds.draw.values.tolist() == [0, 1, 2, 3] and ds.optimum.dims == ("t",)
    assert ds.attrs["draws"] == 4 and ds.attrs["d"] == 16.0 and ds.attrs["sampler"] == "ddpm"
    xr.testing.assert_identical(ds, ensemble(spec, 40, draws=4, seed=5, t=TIMES).assign_attrs(seed=ds.attrs["seed"]))
    ss = np.random.SeedSequence(5)
    ensemble(spec, 40, draws=2, seed=ss, t=1)
    assert ss.n_children_spawned == 0                                      # not advanced
    ref, _ = _reference(spec, 40, 5, 3, 4)
    np.testing.assert_allclose(ds.test.isel(draw=3), ref.test[0], rtol=1e-12)


def test_scalar_and_array_dims() -> None:
    spec = lindiff.Spectrum.powerlaw(12, k=1.0)
    ds = ensemble(spec, [6, 30], c=0.1, draws=2, eta_tau=5.0, t=100)
    assert ds.test.dims == ("draw", "N") and ds.kl_fwd.dims == ("draw", "N")
    assert float(ds.eta_tau) == 5.0 and int(ds.t) == 100
    ds = ensemble(spec, 30, c=[0.0, 0.1], draws=2, eta_tau=[1.0, 5.0])
    assert ds.test.dims == ("draw", "c", "eta_tau", "t") and ds.sizes["t"] == 1000
    assert ds.test_sem.dims == ("c", "eta_tau", "t")


def test_thread_count_does_not_change_results() -> None:
    if not lindiff.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    spec = lindiff.Spectrum.powerlaw(40, k=1.0)
    old = lindiff.get_num_threads()
    try:
        lindiff.set_num_threads(1)
        one = ensemble(spec, [20, 80], draws=5, t=TIMES, eta_tau=[3.0, np.inf], rotate=True)
        lindiff.set_num_threads(2)
        two = ensemble(spec, [20, 80], draws=5, t=TIMES, eta_tau=[3.0, np.inf], rotate=True)
    finally:
        lindiff.set_num_threads(old)
    xr.testing.assert_identical(one, two)                                  # bitwise
    assert lindiff.get_num_threads() == old


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"draws": 0}, "draws"),
    ({"draws": -3}, "draws"),
    ({"draws": 2.5}, "draws"),
    ({"N": 0}, "N"),
    ({"N": [10, -1]}, "N"),
    ({"N": 10.5}, "N"),
    ({"c": -0.1}, "c"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"t": 0}, "t"),
    ({"eta_tau": 0.0}, "eta_tau"),
    ({"sampler": "nope"}, "sampler"),
    ({"gamma": 3.0}, "gamma"),
    ({"gamma": lambda s: s[:-1]}, "gamma"),
    ({"gamma": lambda s: np.stack([s, s])}, "gamma"),
    ({"gamma": lambda s: -s}, "gamma"),
    ({"rotate": "yes"}, "rotate"),
    ({"centred": 1}, "centred"),
    ({"spectrum": np.ones(4)}, "spectrum"),
    ({"spectrum": lindiff.Spectrum.from_eigenvalues([1.0], [2.5])}, "spectrum"),
    ({"schedule": "linear"}, "schedule"),
])
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"spectrum": lindiff.Spectrum.powerlaw(8, k=1.0), "N": 10, "draws": 2, "t": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ensemble(**args)


def test_nan_spectrum_is_rejected_by_spectrum() -> None:
    with pytest.raises(ValueError, match="eigenvalues"):
        lindiff.Spectrum.from_eigenvalues([1.0, np.nan])


# ------------------------------------------------------------------ summarize
def test_summarize_rules() -> None:
    x = np.array([[1.0, np.inf, np.inf, 2.0], [3.0, np.inf, 5.0, 2.0], [5.0, np.inf, 7.0, 2.0]])
    ds = xr.Dataset({"v": (("draw", "k"), x), "other": ("k", np.zeros(4))}, coords={"k": [0, 1, 2, 3]})
    out = summarize(ds)                                                     # no RuntimeWarning (error filter)
    assert sorted(out.data_vars) == ["v_mean", "v_sem"] and out.v_mean.dims == ("k",)
    np.testing.assert_array_equal(out.v_mean.values, [3.0, np.inf, np.inf, 2.0])
    np.testing.assert_array_equal(out.v_sem.values, [2.0 / np.sqrt(3), 0.0, np.inf, 0.0])
    with pytest.raises(ValueError, match="dimension"):
        summarize(ds, dim="N")
    with pytest.raises(ValueError, match="Dataset"):
        summarize(ds.v)
    one = summarize(ds.isel(draw=slice(0, 1)))
    assert np.all(np.isnan(one.v_sem))                                      # undefined with one draw


# ------------------------------------------------------------------ KL of N(0, C): the d/(4N) law
@pytest.mark.parametrize("ratio", [2, 8])
def test_kl_of_sample_covariance_isotropic_is_wishart(ratio: int) -> None:
    d = 60
    N = ratio * d
    ds = ensemble(lindiff.Spectrum.powerlaw(d, 0.0), N, gamma=lambda s: s, draws=40, seed=3, t=1000)
    fwd, rev = theory.kl_wishart(d, N)
    assert abs(float(ds.kl_fwd_mean) - fwd) < 3 * float(ds.kl_fwd_sem)
    assert abs(float(ds.kl_rev_mean) - rev) < 3 * float(ds.kl_rev_sem)
    assert ds.attrs["sampler"] == "user gamma"


@pytest.mark.parametrize("k", [1.0, 2.0])
@pytest.mark.parametrize("ratio", [2, 8])
def test_kl_of_sample_covariance_power_law(k: float, ratio: int) -> None:
    d = 60
    N = ratio * d
    spec = lindiff.Spectrum.powerlaw(d, k)
    ds = ensemble(spec, N, gamma=lambda s: s, draws=40, seed=4, t=1000)
    de = theory.kl(spec, N, gamma=lambda s: s, finite_d=True)
    assert abs(float(ds.kl_fwd_mean) - float(de.kl_fwd)) < 3 * float(ds.kl_fwd_sem)
    # Sigma^-1/2 C Sigma^-1/2 is Wishart whatever Sigma: the exact law holds in both directions
    fwd, rev = theory.kl_wishart(d, N)
    assert abs(float(ds.kl_fwd_mean) - fwd) < 3 * float(ds.kl_fwd_sem)
    assert abs(float(ds.kl_rev_mean) - rev) < 3 * float(ds.kl_rev_sem)


def test_ensemble_too_large_for_memory_is_a_value_error_stating_the_size() -> None:
    """N = 1e12 (a d x N draw) and d = 1e5 weighted (draws x d x d covariances) used to end in a
    MemoryError deep in NumPy (7.3 TiB, 74.5 GiB)."""
    with pytest.raises(ValueError, match=r"ensemble needs about .* GiB \(d = 1, N = 1e\+12"):
        ensemble(lindiff.Spectrum([1.0]), 10**12, draws=2, t=[1])
    with pytest.raises(ValueError, match=r"d = 100000"):
        ensemble(lindiff.Spectrum([1.0, 2.0], weights=[5e4, 5e4]), 10, draws=2, t=[1])
