"""lindiff.sweep: grid sweeps, executors, seeds, the disk cache and the `lindiff sweep` command."""

from __future__ import annotations

import os
import pathlib
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xarray as xr

import lindiff
from lindiff import simulate, theory
from lindiff.__main__ import main
from lindiff.sweep import SweepCacheWarning, load_config, run_config
from lindiff._sweep_cache import cache_key

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
SPEC = lindiff.Spectrum.powerlaw(20, k=1.0)
ENSEMBLE = dict(fn=simulate.ensemble, grid={"N": [10, 40], "c": [0.0, 0.1]},
                fixed={"spectrum": SPEC, "t": [10, 100], "draws": 3})
THEORY = dict(fn=theory.static_losses, grid={"N": [10, 40, 80], "c": [0.0, 0.1], "t": [1, 10, 100]},
              fixed={"spectrum": SPEC}, vectorized="t")


# module-level helpers: picklable by reference for process pools and dask workers

def _draw(x: float, y: int = 0, seed: np.random.SeedSequence | None = None) -> float:
    return float(np.random.default_rng(seed).random())


def _counted(x: float, log: str, scale: float = 1.0) -> dict[str, object]:
    with open(log, "a") as f:
        f.write(f"{x}\n")
    return {"y": scale * x**2, "pair": np.array([x, -x])}


def _calls(log: pathlib.Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _threads(x: float) -> dict[str, int]:
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info()]
    return {"kernel": lindiff.get_num_threads(), "blas": max(blas) if blas else -1}


def _fails(x: float) -> float:
    if x > 1:
        raise ArithmeticError("boom")
    return x


@pytest.fixture(scope="module")
def reference() -> tuple[xr.Dataset, xr.Dataset]:
    return (lindiff.sweep(**ENSEMBLE, progress=False), lindiff.sweep(**THEORY, progress=False))


# ---------------------------------------------------------------------------------- the contract

def test_result_layout_and_values(reference) -> None:  # type: ignore[no-untyped-def]
    ens, th = reference
    assert ens.test.dims == ("N", "c", "draw", "t") and ens.kl_fwd_mean.dims == ("N", "c")
    assert th.test.dims == ("N", "c", "t") and th.kappa_converged.dtype == bool
    np.testing.assert_array_equal(th.N, [10, 40, 80])
    # each point is exactly the function's own result at that point
    one = theory.static_losses(SPEC, 40, 0.1, t=[1, 10, 100])
    xr.testing.assert_identical(th.sel(N=40, c=0.1).drop_vars(["N", "c"]).test, one.test.drop_vars(["N", "c"]))
    seeded = simulate.ensemble(SPEC, 10, 0.1, t=[10, 100], draws=3, seed=np.random.SeedSequence(0, spawn_key=(0, 1)))
    np.testing.assert_array_equal(ens.test.sel(N=10, c=0.1).values, seeded.test.values)
    assert th.attrs["sweep_function"] == "lindiff.theory.static.static_losses"
    assert th.attrs["lindiff_build"] == lindiff.build_info()["build"]


def test_scalar_dict_and_dataarray_results(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = lindiff.sweep(lambda x, y: x * y, {"x": [1, 2, 3], "y": [10.0, 20.0]}, progress=False)
    assert ds.value.dims == ("x", "y")
    np.testing.assert_array_equal(ds.value, np.outer([1, 2, 3], [10.0, 20.0]))
    log = str(tmp_path / "log")
    ds = lindiff.sweep(_counted, {"x": [1.0, 2.0]}, fixed={"log": log}, progress=False)
    assert ds.pair.dims == ("x", "pair_dim_0") and ds.y.values.tolist() == [1.0, 4.0]
    ds = lindiff.sweep(lambda n: xr.DataArray(np.arange(n, n + 2), dims="k", name="r"), {"n": [0, 5]},
                       name="unused", progress=False)
    assert list(ds.data_vars) == ["r"] and ds.r.values.tolist() == [[0, 1], [5, 6]]
    # results of different lengths are aligned (outer join, NaN fill)
    ds = lindiff.sweep(lambda n: xr.DataArray(np.ones(n), dims="k", coords={"k": np.arange(n)}), {"n": [1, 3]},
                       progress=False)
    assert ds.value.shape == (2, 3) and int(np.isnan(ds.value).sum()) == 2


def test_vectorised_axis_matches_pointwise(reference) -> None:  # type: ignore[no-untyped-def]
    _, th = reference
    point = lindiff.sweep(**{**THEORY, "vectorized": ()}, progress=False)
    # the same numbers up to rounding (the kernel batches differently), in the same layout
    np.testing.assert_allclose(point.test.values, th.test.values, rtol=1e-13)
    assert point.test.dims == th.test.dims


def test_errors_of_fn_propagate_with_the_point() -> None:
    with pytest.raises(ArithmeticError, match="boom") as exc:
        lindiff.sweep(_fails, {"x": [0.5, 2.0]}, progress=False)
    assert any("x=2.0" in note for note in getattr(exc.value, "__notes__", ["x=2.0"]))


# ----------------------------------------------------------------------------------------- seeds

def test_seeds_come_from_grid_position() -> None:
    ds = lindiff.sweep(_draw, {"x": [0.1, 0.2, 0.3], "y": [1, 2]}, seed=7, progress=False)
    expect = [[np.random.default_rng(np.random.SeedSequence(7, spawn_key=(i, j))).random() for j in range(2)]
              for i in range(3)]
    np.testing.assert_array_equal(ds.value.values, expect)
    assert np.unique(ds.value.values).size == 6                     # every point has its own stream
    other = lindiff.sweep(_draw, {"x": [0.1, 0.2, 0.3], "y": [1, 2]}, seed=8, progress=False)
    assert not np.any(other.value.values == ds.value.values)
    # seed=None: sweep passes no seed, so a fixed one may be given (common random numbers)
    free = lindiff.sweep(_draw, {"x": [0.1, 0.2]}, seed=None, fixed={"seed": 3}, progress=False)
    assert free.value.values[0] == free.value.values[1] == np.random.default_rng(3).random()


def test_chunking_does_not_change_the_result(reference) -> None:  # type: ignore[no-untyped-def]
    ens, _ = reference
    for chunk in (1, 3, 100):
        xr.testing.assert_identical(lindiff.sweep(**ENSEMBLE, chunk=chunk, progress=False), ens)
    # a thread pool (another Executor, running out of order) gives the same bits too
    with ThreadPoolExecutor(2) as pool:
        xr.testing.assert_identical(lindiff.sweep(**ENSEMBLE, executor=pool, chunk=1, progress=False), ens)


# ------------------------------------------------------------------------------------- executors

def test_process_pool_matches_serial(reference) -> None:  # type: ignore[no-untyped-def]
    ens, th = reference
    xr.testing.assert_identical(lindiff.sweep(**ENSEMBLE, workers=2, chunk=1, progress=False), ens)
    xr.testing.assert_identical(lindiff.sweep(**THEORY, executor="process", workers=2, progress=False), th)


def test_process_pool_caps_threads() -> None:
    # the environment says 1 thread (conftest): seeing exactly `threads` proves the limits are set per task
    ds = lindiff.sweep(_threads, {"x": [1.0, 2.0, 3.0, 4.0]}, workers=2, chunk=1, threads=3, progress=False)
    assert ds.kernel.values.tolist() == [3] * 4 and set(ds.blas.values.tolist()) <= {3, -1}
    ncpu = os.cpu_count() or 1
    ds = lindiff.sweep(_threads, {"x": [1.0, 2.0]}, executor="process", workers=2, chunk=1, progress=False)
    assert ds.kernel.values.tolist() == [max(1, ncpu // 2)] * 2               # default: cores / workers
    before = lindiff.get_num_threads()
    ds = lindiff.sweep(_threads, {"x": [1.0]}, threads=before + 1, progress=False)
    assert ds.kernel.values.tolist() == [before + 1] and lindiff.get_num_threads() == before  # restored


def test_dask_distributed_matches_serial(reference) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    ens, th = reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # third-party noise at cluster start / stop
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            ex = client.get_executor()
            got_ens = lindiff.sweep(**ENSEMBLE, executor=ex, chunk=1, progress=False)
            got_th = lindiff.sweep(**THEORY, executor=ex, workers=2, progress=False)
            lam = lindiff.sweep(lambda x, seed: _draw(x, seed=seed), {"x": [0.1, 0.2]}, executor=ex, progress=False)
    xr.testing.assert_identical(got_ens, ens)
    xr.testing.assert_identical(got_th, th)
    xr.testing.assert_identical(lam, lindiff.sweep(_draw, {"x": [0.1, 0.2]}, progress=False)
                                .assign_attrs(sweep_function=lam.attrs["sweep_function"]))


# ----------------------------------------------------------------------------------------- cache

def test_cache_hit_skips_the_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log, cache = tmp_path / "calls.log", tmp_path / "cache"
    kw = dict(fixed={"log": str(log)}, cache=cache, progress=False)
    first = lindiff.sweep(_counted, {"x": [1.0, 2.0, 3.0]}, **kw)
    assert _calls(log) == 3 and len(list(cache.glob("*.ldsweep"))) == 3
    again = lindiff.sweep(_counted, {"x": [1.0, 2.0, 3.0]}, chunk=2, **kw)
    assert _calls(log) == 3
    xr.testing.assert_identical(again, first)
    # extending an axis computes the new point only; another fixed argument is another key
    lindiff.sweep(_counted, {"x": [1.0, 2.0, 3.0, 4.0]}, **kw)
    assert _calls(log) == 4
    lindiff.sweep(_counted, {"x": [1.0, 2.0]}, **{**kw, "fixed": {"log": str(log), "scale": 2.0}})
    assert _calls(log) == 6
    assert not list(cache.glob(".tmp-*"))                         # atomic writes leave no temporaries


def _damage(victim, damage: str) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import pickle

    from lindiff._sweep_cache import _MAGIC

    raw = victim.read_bytes()
    if damage == "not-a-dataset":   # a valid header and checksum around a result of the wrong kind
        entry = pickle.loads(raw[len(_MAGIC) + 32:])
        payload = pickle.dumps({**entry, "result": "not a Dataset"})
        victim.write_bytes(_MAGIC + hashlib.sha256(payload).digest() + payload)
    elif damage == "directory":     # the entry's path is a directory (with something in it)
        victim.unlink()
        victim.mkdir()
        (victim / "keep.txt").write_text("user data")
    else:
        victim.write_bytes({"truncate": raw[: len(raw) // 2], "flip": raw[:-1] + bytes([raw[-1] ^ 1]),
                            "garbage": b"not a cache file"}[damage])


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "not-a-dataset", "directory"])
def test_cache_recovers_from_a_bad_entry(tmp_path, damage) -> None:  # type: ignore[no-untyped-def]
    log, cache = tmp_path / "calls.log", tmp_path / "cache"
    kw = dict(fixed={"log": str(log)}, cache=cache, progress=False)
    first = lindiff.sweep(_counted, {"x": [1.0, 2.0]}, **kw)
    victim = sorted(cache.glob("*.ldsweep"))[0]
    _damage(victim, damage)
    with pytest.warns(SweepCacheWarning, match="recomputing|moved it"):
        again = lindiff.sweep(_counted, {"x": [1.0, 2.0]}, **kw)
    if damage == "directory":        # moved aside, not deleted
        assert [p.read_text() for p in cache.glob(".broken-*/*/keep.txt")] == ["user data"]
    assert _calls(log) == 3                                        # only the damaged point ran again
    xr.testing.assert_identical(again, first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # the entry was rewritten: a clean hit
        lindiff.sweep(_counted, {"x": [1.0, 2.0]}, **kw)
    assert _calls(log) == 3


def test_cache_key_covers_its_inputs() -> None:
    extra = {"lindiff_version": lindiff.__version__, "build": lindiff.build_info()["build"]}
    ss = np.random.SeedSequence(0, spawn_key=(1,))
    base = cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 10}, ss, extra)
    assert base == cache_key(simulate.ensemble, {"spectrum": lindiff.Spectrum.powerlaw(20, k=1.0)}, {"N": 10},
                             np.random.SeedSequence(0, spawn_key=(1,)), extra)
    changed = [
        cache_key(theory.static_losses, {"spectrum": SPEC}, {"N": 10}, ss, extra),
        cache_key(simulate.ensemble, {"spectrum": lindiff.Spectrum.powerlaw(20, k=1.5)}, {"N": 10}, ss, extra),
        cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 11}, ss, extra),
        cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 10.0}, ss, extra),
        cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 10}, np.random.SeedSequence(0, spawn_key=(2,)), extra),
        cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 10}, ss, {**extra, "lindiff_version": "9.9"}),
        cache_key(simulate.ensemble, {"spectrum": SPEC}, {"N": 10}, ss, {**extra, "build": "other"}),
    ]
    assert len({base, *changed}) == len(changed) + 1


def test_cache_key_depends_on_the_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "c"
    a = lindiff.sweep(_draw, {"x": [0.1]}, seed=1, cache=cache, progress=False)
    b = lindiff.sweep(_draw, {"x": [0.1]}, seed=2, cache=cache, progress=False)
    assert len(list(cache.glob("*.ldsweep"))) == 2 and a.value.values[0] != b.value.values[0]


# ------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("kwargs", "match"), [
    ({"grid": {}}, "grid must not be empty"),
    ({"grid": [1, 2]}, "grid must be a dict"),
    ({"grid": {"x": [[1.0, 2.0]]}}, r"grid\['x'\] must be 1-D"),
    ({"grid": {"x": 1.0}}, r"grid\['x'\] must be 1-D"),
    ({"grid": {"x": []}}, r"grid\['x'\] must not be empty"),
    ({"grid": {"x": [1.0, 1.0]}}, "repeated values"),
    ({"grid": {"seed": [1, 2]}}, "grid must not contain 'seed'"),
    ({"grid": {"z": [1.0]}}, "no keyword argument 'z'"),
    ({"executor": "threads"}, "executor must be"),
    ({"executor": object()}, "executor must be"),
    ({"chunk": 0}, "chunk must be an integer >= 1"),
    ({"workers": 0}, "workers must be"),
    ({"threads": -1}, "threads must be"),
    ({"fixed": {"x": 1.0}}, "fixed and grid both set"),
    ({"fixed": {"seed": 1}}, "fixed must not contain 'seed'"),
    ({"vectorized": "y"}, "vectorized names 'y'"),
    ({"seed": -1}, "seed must be"),
    ({"fn": 3}, "fn must be callable"),
    ({"fn": lambda x, seed=None: x, "workers": 2}, "picklable"),
])
def test_bad_input(kwargs, match) -> None:  # type: ignore[no-untyped-def]
    args = {"fn": _draw, "grid": {"x": [1.0, 2.0]}, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        lindiff.sweep(args.pop("fn"), args.pop("grid"), **args)


def test_bad_results_and_cache_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="must be a number"):
        lindiff.sweep(lambda x: object(), {"x": [1]}, progress=False)
    with pytest.raises(ValueError, match="vectorised axis 'x'"):
        lindiff.sweep(lambda x: float(np.sum(x)), {"x": [1, 2]}, vectorized="x", progress=False)
    with pytest.raises(ValueError, match="which is a grid dimension"):
        lindiff.sweep(lambda x: {"x": x}, {"x": [1, 2]}, progress=False)
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError, match="cache must be a directory"):
        lindiff.sweep(_draw, {"x": [1.0]}, cache=f, progress=False)


# ------------------------------------------------------------------------------- config and CLI

def test_cli_runs_the_example_and_writes_netcdf(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "theory.nc"
    assert main(["sweep", str(EXAMPLES / "sweep_theory.toml"), "--out", str(out), "--quiet",
                 "--cache", str(tmp_path / "cache")]) == 0
    assert "written to" in capsys.readouterr().out
    cfg = load_config(EXAMPLES / "sweep_theory.toml")
    direct = lindiff.sweep(**cfg, progress=False)
    with xr.open_dataset(out, engine="scipy") as back:
        np.testing.assert_array_equal(back.test.values, direct.test.values)
        assert back.test.dims == ("N", "c", "t") and back.attrs["sweep_function"] == direct.attrs["sweep_function"]
        np.testing.assert_array_equal(back.kappa_converged.values, direct.kappa_converged.values)


def test_cli_process_pool_on_the_ensemble_example(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "ens.nc"
    ds = run_config(EXAMPLES / "sweep_ensemble.toml", executor="process", workers=2, out=out, progress=False)
    xr.testing.assert_identical(ds, lindiff.sweep(**load_config(EXAMPLES / "sweep_ensemble.toml"), progress=False))
    with xr.open_dataset(out, engine="scipy") as back:
        np.testing.assert_array_equal(back.kl_fwd.values, ds.kl_fwd.values)


def test_cli_bad_config(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    cases = {
        'function = "os.system"\n[grid]\nx = [1]\n': "public lindiff function",
        'function = "lindiff._core.kappa"\n[grid]\nx = [1]\n': "public lindiff function",
        'function = "lindiff.theory.nothing"\n[grid]\nN = [1]\n': "is not a lindiff function",
        'function = "lindiff.theory.kl_law"\n': "non-empty \\[grid\\]",
        'function = "lindiff.theory.kl_law"\ntypo = 1\n[grid]\nN = [1]\n': "unknown keys",
        'function = "lindiff.theory.kl_law"\n[args]\nd = { call = "builtins.eval" }\n[grid]\nN = [1]\n':
            "args.d.call",
        "function = ": "not valid TOML",
    }
    for i, (text, match) in enumerate(cases.items()):
        cfg = tmp_path / f"c{i}.toml"
        cfg.write_text(text)
        with pytest.raises(ValueError, match=match):
            run_config(cfg, progress=False)
    assert main(["sweep", str(tmp_path / "c0.toml")]) == 2
    assert "public lindiff function" in capsys.readouterr().err
    with pytest.raises(ValueError, match="out must be"):
        run_config(EXAMPLES / "sweep_theory.toml", out=str(tmp_path / "x.csv"))
    assert os.path.exists(EXAMPLES / "sweep_theory.toml")


def test_named_executor() -> None:
    """Command-line executor names: serial -> None, process -> a forkserver/spawn pool; bad names fail."""
    import concurrent.futures as cf

    from lindiff.sweep import named_executor

    with named_executor("serial") as ex:
        assert ex is None
    with named_executor("process", 1) as ex:
        assert isinstance(ex, cf.ProcessPoolExecutor)
        assert ex.submit(abs, -3).result() == 3
    with pytest.raises(ValueError, match="executor"):
        with named_executor("threads"):
            pass
    with pytest.raises(ValueError, match="workers"):
        with named_executor("process", 0):
            pass


def _dup_index(x: float) -> xr.Dataset:
    k = [x, x] if x > 1 else [0.0, 1.0, 2.0]
    return xr.Dataset({"v": ("k", np.ones(len(k)))}, coords={"k": k})


def test_differing_layouts_need_unique_index_values() -> None:
    """Different layouts are outer-joined; a duplicated index value (undefined join) is a ValueError
    that names the grid point, not xarray's AlignmentError."""
    with pytest.raises(ValueError, match=r"result at \(x=2.0\) has duplicate values in its index 'k'"):
        lindiff.sweep(_dup_index, {"x": [1.0, 2.0]}, progress=False)


def test_named_progress_prints_lines_when_piped(capsys) -> None:  # type: ignore[no-untyped-def]
    """stderr is not a terminal here: one line per tenth of the work, named, with time left."""
    lindiff.sweep(lambda x: 2 * x, {"x": np.arange(20.0)}, progress="my scan")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("my scan: 0/20 points (0 %)") and lines[-1].startswith("my scan: 20/20 points (100 %)")
    assert 5 <= len(lines) <= 12 and any("s left" in ln for ln in lines[1:-1])
    lindiff.sweep(lambda x: 2 * x, {"x": [1.0, 2.0]}, progress=True)
    assert capsys.readouterr().err.startswith("lindiff.sweep ")
    with pytest.raises(ValueError, match="progress"):
        lindiff.sweep(lambda x: x, {"x": [1.0]}, progress=1)
