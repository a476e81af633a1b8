"""Parameter sweeps: evaluate a function over a labelled grid into one :class:`xarray.Dataset`.

:func:`sweep` calls a lindiff function (or any function) at every point of the Cartesian product
of a grid, locally (serially or on a ``forkserver`` process pool) or on any
:class:`concurrent.futures.Executor` (``dask.distributed.Client(...).get_executor()``,
``mpi4py.futures.MPIPoolExecutor``), with per-point seeds that make the result independent of
the executor, chunking and worker count, and an optional content-hash disk cache.
:func:`run_config` runs a sweep described by a TOML file (the ``lindiff sweep`` command).

Examples
--------
>>> import lindiff
>>> from lindiff import theory
>>> spec = lindiff.Spectrum.powerlaw(100, k=1.0)
>>> ds = lindiff.sweep(theory.static_losses, {"N": [50, 200], "c": [0.0, 0.1]},
...                    fixed={"spectrum": spec, "t": [10, 100]}, progress=False)
>>> ds.test.dims
('N', 'c', 't')
>>> bool((ds.test.sel(N=200) < ds.test.sel(N=50)).all())
True
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import inspect
import math
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import __version__, _core
from ._labelled import netcdf_safe
from ._lazy import lazy_module
from ._progress import progress_bar
from ._random import seed_sequence
from ._sweep_cache import DiskCache, SweepCacheWarning, cache_key, function_identity
from ._validation import positive_int

xr = lazy_module("xarray")

__all__ = ["SweepCacheWarning", "named_executor", "process_pool", "run_config", "sweep"]

EXECUTORS = ("serial", "process")
# one task per chunk of grid points; the default aims at this many tasks per worker (load balance)
_TASKS_PER_WORKER = 4


# ----------------------------------------------------------------------------------------- checks

def _check_grid(grid: object) -> dict[str, NDArray[Any]]:
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a dict of name -> 1-D array of values (got {type(grid).__name__})")
    if not grid:
        raise ValueError("grid must not be empty (give at least one name -> values)")
    out: dict[str, NDArray[Any]] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid names must be identifiers (keyword argument names; got {name!r})")
        if name == "seed":
            raise ValueError("grid must not contain 'seed': sweep derives one seed per grid point from seed=")
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"grid[{name!r}] must be 1-D (got shape {arr.shape}; use fixed= for a fixed argument)")
        if arr.size == 0:
            raise ValueError(f"grid[{name!r}] must not be empty")
        if np.iscomplexobj(arr):
            raise ValueError(f"grid[{name!r}] must not be complex")
        keys = [_hashable(v) for v in arr.tolist()]
        if len(set(keys)) != len(keys):
            raise ValueError(f"grid[{name!r}] has repeated values (add an axis such as 'rep' for replicates)")
        out[name] = arr
    return out


def _hashable(v: Any) -> Any:
    try:
        hash(v)
        return v
    except TypeError:
        return id(v)


def _check_seed(seed: object) -> np.random.SeedSequence | None:
    return None if seed is None else seed_sequence(seed)  # type: ignore[arg-type]


def _signature_checks(fn: Callable[..., Any], names: Sequence[str], want_seed: bool) -> bool:
    """Check that fn accepts every argument name; return whether it takes a ``seed`` argument."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature (some builtins): trust the caller
        return False
    params = sig.parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in names:
        p = params.get(name)
        if (p is None and not var_kw) or (p is not None and p.kind is inspect.Parameter.POSITIONAL_ONLY):
            raise ValueError(f"fn ({function_identity(fn)}) has no keyword argument {name!r} "
                             "(named in grid or fixed)")
    p = params.get("seed")
    return bool(want_seed and p is not None and p.kind is not inspect.Parameter.POSITIONAL_ONLY)


# ---------------------------------------------------------------------------------------- workers

@contextlib.contextmanager
def _thread_limits(threads: int | None) -> Iterator[None]:
    """Cap BLAS/OpenMP threads (threadpoolctl) and the kernel's OpenMP threads while running."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    old = _core.get_num_threads()
    _core.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        _core.set_num_threads(old)


def _as_dataset(out: Any, name: str, grid: dict[str, NDArray[Any]], vectorized: tuple[str, ...],
                where: str) -> xr.Dataset:
    """Normalise one call's result to a Dataset without the point's own grid dimensions."""
    if isinstance(out, xr.Dataset):
        ds = out.copy()
    elif isinstance(out, xr.DataArray):
        ds = out.to_dataset(name=out.name if isinstance(out.name, str) and out.name else name)
    elif isinstance(out, Mapping):
        items: dict[str, Any] = {}
        for k, v in out.items():
            if not isinstance(k, str):
                raise ValueError(f"fn returned a dict with a non-string key {k!r} {where}")
            if isinstance(v, (xr.DataArray, xr.Variable, tuple)):
                items[k] = v
            else:
                arr = _numeric(v, f"fn's result[{k!r}] {where}")
                items[k] = (tuple(f"{k}_dim_{i}" for i in range(arr.ndim)), arr)
        try:
            ds = xr.Dataset(items)
        except (ValueError, TypeError) as e:
            raise ValueError(f"fn returned a dict that is not a valid xarray.Dataset {where}: {e}") from None
    else:
        arr = _numeric(out, f"fn's result {where}")
        ds = xr.Dataset({name: (tuple(f"{name}_dim_{i}" for i in range(arr.ndim)), arr)})
    for g, values in grid.items():
        if g in vectorized:
            if ds.sizes.get(g) != values.size:
                raise ValueError(f"fn must return an xarray result with dimension {g!r} of length {values.size} "
                                 f"for the vectorised axis {g!r} (got dims {dict(ds.sizes)}) {where}")
            ds = ds.assign_coords({g: values})
            continue
        if g in ds.data_vars:
            raise ValueError(f"fn returned a variable named {g!r}, which is a grid dimension {where}")
        if g in ds.dims:
            if ds.sizes[g] != 1:
                raise ValueError(f"fn returned a dimension {g!r} of length {ds.sizes[g]}, which is a grid "
                                 f"dimension (mark it vectorized, or return it as a scalar) {where}")
            ds = ds.isel({g: 0}, drop=True)
        if g in ds.coords:
            ds = ds.drop_vars(g)
    return ds


def _numeric(v: Any, what: str) -> NDArray[Any]:
    arr = np.asarray(v)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_ or arr.dtype.kind in "SUMm"):
        raise ValueError(f"{what} must be a number, a numeric array, a dict of them or an xarray object "
                         f"(got {type(v).__name__})")
    return arr


def _run_chunk(fn: Callable[..., Any], fixed: dict[str, Any], points: list[tuple[int, dict[str, Any], Any]],
               threads: int | None, name: str, grid: dict[str, NDArray[Any]], vectorized: tuple[str, ...]
               ) -> list[tuple[int, xr.Dataset]]:
    """One task: call fn at each point of a chunk (on a worker, or in the calling process)."""
    out = []
    with _thread_limits(threads):
        for flat, params, ss in points:
            kwargs = dict(fixed)
            kwargs.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in params.items()})
            if ss is not None:
                kwargs["seed"] = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)
            where = f"at grid point {_describe(params, vectorized)}"
            try:
                res = fn(**kwargs)
            except Exception as e:
                if hasattr(e, "add_note"):
                    e.add_note(f"lindiff.sweep: raised by {function_identity(fn)} {where}")
                raise
            out.append((flat, _as_dataset(res, name, grid, vectorized, where)))
    return out


def _describe(params: dict[str, Any], vectorized: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"{k}={'<vectorised>' if k in vectorized else repr(v)}" for k, v in params.items()) + "}"


# --------------------------------------------------------------------------------------- assembly

def _equal(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return bool(np.array_equal(a, b, equal_nan=np.asarray(a).dtype.kind in "fc"))
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _common_attrs(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    first = dicts[0]
    return {k: v for k, v in first.items() if all(k in d and _equal(d[k], v) for d in dicts[1:])}


def _same_layout(results: list[xr.Dataset]) -> bool:
    ref = results[0]
    names = (set(ref.data_vars), set(ref.coords))
    for r in results[1:]:
        if (set(r.data_vars), set(r.coords)) != names:
            return False
        for k, v in ref.variables.items():
            w = r.variables[k]
            if w.dims != v.dims or w.shape != v.shape:
                return False
        for k in ref.indexes:
            if not _equal(ref[k].values, r[k].values):
                return False
    return True


def _check_joinable(results: list[xr.Dataset], grid: dict[str, NDArray[Any]], point_names: tuple[str, ...]) -> None:
    """An outer join needs unique, comparable index values in every result: say which point breaks it."""
    shape = tuple(grid[g].size for g in point_names)
    for r, idx in zip(results, np.ndindex(*shape), strict=True):
        for name, index in r.indexes.items():
            if not index.is_unique:
                where = ", ".join(f"{g}={grid[g][j]}" for g, j in zip(point_names, idx, strict=True))
                raise ValueError(f"fn's results differ in layout, so sweep outer-joins them, but the result at "
                                 f"({where}) has duplicate values in its index {name!r}: an outer join is "
                                 "undefined; return unique coordinate values")


def _assemble(results: list[xr.Dataset], grid: dict[str, NDArray[Any]], point_names: tuple[str, ...],
              attrs: dict[str, Any]) -> xr.Dataset:
    shape = tuple(grid[g].size for g in point_names)
    if _same_layout(results):
        ref = results[0]
        coords: dict[str, Any] = {g: grid[g] for g in point_names}
        data_vars: dict[str, Any] = {}
        for k, v in ref.variables.items():
            vals = [r.variables[k].values for r in results]
            var_attrs = _common_attrs([r.variables[k].attrs for r in results])
            is_coord = k in ref.coords
            if k in ref.indexes or (is_coord and all(_equal(x, vals[0]) for x in vals[1:])):
                coords[k] = xr.Variable(v.dims, vals[0], var_attrs)
                continue
            stacked = xr.Variable(point_names + v.dims, np.stack(vals).reshape(shape + v.shape), var_attrs)
            (coords if is_coord else data_vars)[k] = stacked
        ds = xr.Dataset(data_vars, coords=coords)
    else:  # layouts differ (e.g. results of different lengths): xarray aligns them, outer join
        _check_joinable(results, grid, point_names)
        items = [r.expand_dims({g: [grid[g][j]] for g, j in zip(point_names, idx, strict=True)})
                 for r, idx in zip(results, np.ndindex(*shape), strict=True)]
        nested = np.empty(shape, dtype=object)
        for idx, item in zip(np.ndindex(*shape), items, strict=True):
            nested[idx] = item
        try:
            ds = xr.combine_nested(nested.tolist() if shape else items[0], concat_dim=list(point_names),
                                   data_vars="all", coords="different", compat="no_conflicts", join="outer",
                                   combine_attrs="drop_conflicts")
        except (ValueError, TypeError) as e:   # xarray's alignment and merge errors
            raise ValueError(f"fn's results differ in layout and cannot be outer-joined: {e}") from e
    ds.attrs = {**_common_attrs([r.attrs for r in results]), **attrs}
    return ds.transpose(*grid, ...)


# ------------------------------------------------------------------------------------------ sweep

def sweep(
    fn: Callable[..., Any],
    grid: Mapping[str, Any],
    *,
    fixed: Mapping[str, Any] | None = None,
    executor: str | cf.Executor | None = None,
    workers: int | None = None,
    chunk: int | None = None,
    cache: str | os.PathLike[str] | None = None,
    progress: bool | str = True,
    seed: int | np.random.SeedSequence | None = 0,
    vectorized: str | Sequence[str] = (),
    threads: int | None = None,
    name: str = "value",
) -> xr.Dataset:
    """Evaluate ``fn`` at every point of a labelled grid and collect the results in one Dataset.

    The grid is the Cartesian product of its axes: at each point ``fn(**fixed, **point)`` is
    called with ``point = {name: value}`` (one value per grid axis, as a Python scalar where the
    axis is numeric), plus ``seed=`` when ``fn`` has a ``seed`` parameter.

    **What fn may return** (the same kind at every point):

    - a scalar or an array: variable ``name`` (an array's dims are ``<name>_dim_0, ...``);
    - a dict ``{variable: value}``: values are scalars, arrays (dims ``<variable>_dim_i``),
      ``(dims, data)`` tuples or DataArrays, as for :class:`xarray.Dataset`;
    - an :class:`xarray.Dataset` or :class:`xarray.DataArray` (e.g. every function of
      :mod:`lindiff.theory` and :func:`lindiff.simulate.ensemble`). A scalar coordinate (or a
      length-1 dimension) named like a grid axis is replaced by the grid's dimension.

    The result has the grid axes as leading dimensions (in the grid's order) and coordinates,
    followed by the dimensions of fn's result. Coordinates and attributes equal at every point are
    kept once; coordinates that vary become variables over the grid; attributes that vary are
    dropped. When the points' results differ in layout (shapes, coordinates), xarray aligns them
    (outer join, NaN fill); each result's index values must then be unique (a ValueError names
    the grid point whose are not).

    **Vectorised axes.** For an axis named in ``vectorized``, fn receives the whole 1-D array of
    its values in one call and must return an xarray object with that dimension (lindiff's
    functions do, for arguments such as ``N``, ``c``, ``t``, ``eta_tau``). Chunks and seeds then
    run over the other axes only.

    **Seeds.** With ``seed`` not None and a ``seed`` parameter in fn, the point with index
    ``(i, j, ...)`` on the non-vectorised axes receives
    ``numpy.random.SeedSequence(seed, spawn_key=(i, j, ...))`` (a fresh object per call; appended
    to the spawn key of a SeedSequence passed as ``seed``). It depends on the grid position
    only, so results are bitwise identical for every executor, chunk size and worker count, and
    differ between points. ``seed=None`` passes no seed (then ``fixed`` may hold one).

    **Execution.** Points are split into chunks of ``chunk`` points; each chunk is one task, run
    whole by one worker. Results and cache writes are handled in the calling process, so workers
    need no shared file system.

    Parameters
    ----------
    fn : callable
        Called with keyword arguments. Must be picklable for a process pool (a module-level
        function; executors such as dask's also ship lambdas). With the ``forkserver`` / ``spawn``
        start methods a script's entry point needs an ``if __name__ == "__main__":`` guard.
    grid : dict of str -> 1-D array
        Axis name (a keyword argument of fn) -> distinct values, not empty.
    fixed : dict, optional
        Keyword arguments passed unchanged at every point.
    executor : None, "serial", "process" or concurrent.futures.Executor
        None: serial, or a local process pool when ``workers`` > 1. ``"process"``: a local
        :class:`concurrent.futures.ProcessPoolExecutor` with ``workers`` processes (default: the
        CPU count), started with ``forkserver`` (``spawn`` where that is unavailable; never
        ``fork``, which deadlocks with OpenMP). Any Executor object (anything with ``submit``),
        e.g. ``dask.distributed.Client(...).get_executor()`` or
        ``mpi4py.futures.MPIPoolExecutor()``; it is not shut down.
    workers : int, optional
        Local pool size; with an Executor object, its worker count (a hint for the default chunk).
    chunk : int, optional
        Points per task (>= 1). Default: 1 when serial, else about 4 tasks per worker.
    cache : path, optional
        Directory of a content-hash cache, one file per grid point. The key hashes fn's module,
        qualified name and byte code, ``fixed``, the point's arguments and seed, ``name``, the
        lindiff version and the kernel's build id (changes inside functions that fn calls are not
        detected: clear the directory, or bump the version). A hit skips the call; a corrupted or
        truncated entry issues a :class:`SweepCacheWarning` and is recomputed. Entries are
        written atomically; they are pickles, so use only cache directories you trust.
    progress : bool or str
        Show progress on stderr when there are several tasks: a ``tqdm`` bar on a terminal, one
        line per tenth of the work when piped (points done / total, time so far and left). A
        string is the label (default ``lindiff.sweep <function>``).
    seed : int >= 0, numpy.random.SeedSequence or None
        Root seed of the per-point seeds.
    vectorized : str or sequence of str
        Grid axes passed to fn whole (see above).
    threads : int, optional
        BLAS / OpenMP threads per task (``threadpoolctl`` and :func:`lindiff.set_num_threads`).
        Default: unchanged when serial, ``cpu_count // workers`` on a local pool, 1 on an
        Executor object (one worker per core).
    name : str
        Variable name for scalar or array results.

    Returns
    -------
    xarray.Dataset
        Dims ``(*grid, *fn's dims)``; attributes ``sweep_function``, ``sweep_seed``,
        ``lindiff_version``, ``lindiff_build`` and those of fn's results that agree at every point.

    Raises
    ------
    ValueError
        Bad arguments (naming them), or results of an unsupported kind.

    Examples
    --------
    A theory function over N and c (``t`` vectorised: one call per (N, c)):

    >>> import numpy as np
    >>> import lindiff
    >>> spec = lindiff.Spectrum.powerlaw(200, k=1.0)
    >>> ds = lindiff.sweep(lindiff.theory.static_losses, {"N": [100, 400], "c": [0.0, 0.01], "t": [10, 100]},
    ...                    fixed={"spectrum": spec}, vectorized="t", progress=False)
    >>> ds.test.dims, ds.test.shape
    (('N', 'c', 't'), (2, 2, 2))

    A user's stochastic function: every point gets its own seed, from its grid position:

    >>> def noisy(mu, sigma, seed):
    ...     x = np.random.default_rng(seed).normal(mu, sigma, 1000)
    ...     return {"avg": x.mean(), "spread": x.std()}
    >>> out = lindiff.sweep(noisy, {"mu": [0.0, 1.0], "sigma": [1.0, 2.0]}, seed=7, progress=False)
    >>> out.avg.dims
    ('mu', 'sigma')
    >>> bool(abs(out.avg.sel(mu=1.0, sigma=1.0) - 1.0) < 0.1)
    True
    >>> again = lindiff.sweep(noisy, {"mu": [0.0, 1.0], "sigma": [1.0, 2.0]}, seed=7, chunk=3, progress=False)
    >>> out.identical(again)
    True
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable (got {type(fn).__name__})")
    g = _check_grid(grid)
    if fixed is None:
        fixed = {}
    if not isinstance(fixed, Mapping) or not all(isinstance(k, str) for k in fixed):
        raise ValueError(f"fixed must be a dict of keyword arguments (got {type(fixed).__name__})")
    fixed = dict(fixed)
    clash = sorted(set(fixed) & set(g))
    if clash:
        raise ValueError(f"fixed and grid both set {clash}")
    vec = (vectorized,) if isinstance(vectorized, str) else tuple(vectorized)
    for v in vec:
        if v not in g:
            raise ValueError(f"vectorized names {v!r}, which is not a grid axis (axes: {list(g)})")
    vec = tuple(k for k in g if k in vec)
    root = _check_seed(seed)
    if root is not None and "seed" in fixed:
        raise ValueError("fixed must not contain 'seed' while seed= is set (pass seed=None to use a fixed seed)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string (got {name!r})")
    if not isinstance(progress, (bool, np.bool_, str)):
        raise ValueError(f"progress must be a bool or a label (got {progress!r})")
    pass_seed = _signature_checks(fn, [*g, *fixed], root is not None)
    workers = None if workers is None else positive_int("workers", workers)
    chunk = None if chunk is None else positive_int("chunk", chunk)
    threads = None if threads is None else positive_int("threads", threads)

    # executor
    if executor is None:
        mode = "process" if workers is not None and workers > 1 else "serial"
    elif isinstance(executor, str):
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be None, one of {EXECUTORS} or a concurrent.futures.Executor "
                             f"(got {executor!r})")
        mode = executor
    elif callable(getattr(executor, "submit", None)):
        mode = "external"
    else:
        raise ValueError(f"executor must be None, one of {EXECUTORS} or a concurrent.futures.Executor "
                         f"(got {type(executor).__name__})")
    ncpu = os.cpu_count() or 1
    if mode == "process":
        workers = workers or ncpu
        if threads is None:
            threads = max(1, ncpu // workers)
        try:
            pickle.dumps(fn)
            pickle.dumps(fixed)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"fn and fixed must be picklable for a process pool (a module-level function, "
                             f"not a lambda or a local function): {e}") from None
    elif mode == "external" and threads is None:
        threads = 1

    # points (non-vectorised axes), their seeds and cache keys
    point_names = tuple(k for k in g if k not in vec)
    shape = tuple(g[k].size for k in point_names)
    extra = {"lindiff_version": __version__, "build": _core.build_info, "name": name,
             "vectorized": vec}
    store = DiskCache(cache) if cache is not None else None
    todo: list[tuple[int, dict[str, Any], Any]] = []
    keys: dict[int, str] = {}
    results: list[xr.Dataset | None] = [None] * math.prod(shape)
    vec_values = {k: g[k] for k in vec}
    for flat, idx in enumerate(np.ndindex(*shape)):
        params: dict[str, Any] = {k: _python(g[k][i]) for k, i in zip(point_names, idx, strict=True)}
        params.update(vec_values)
        ss = (np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(idx),
                                     pool_size=root.pool_size) if pass_seed and root is not None else None)
        if store is not None:
            keys[flat] = key = cache_key(fn, fixed, params, ss, extra)
            hit, value = store.load(key, xr.Dataset)
            if hit:
                results[flat] = value
                continue
        todo.append((flat, params, ss))

    if todo:
        nworkers = 1 if mode == "serial" else (workers or ncpu)
        if chunk is None:
            chunk = 1 if mode == "serial" else max(1, math.ceil(len(todo) / (_TASKS_PER_WORKER * nworkers)))
        tasks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
        args = (threads, name, g, vec)
        label = progress if isinstance(progress, str) else f"lindiff.sweep {function_identity(fn)}"
        bar = progress_bar(len(results), label, bool(progress) and len(tasks) > 1, initial=len(results) - len(todo))

        def collect(done: list[tuple[int, xr.Dataset]]) -> None:
            for flat, ds in done:
                results[flat] = ds
                if store is not None:
                    store.store(keys[flat], ds, {"function": function_identity(fn), "flat_index": flat})
            bar.update(len(done))

        try:
            if mode == "serial":
                for task in tasks:
                    collect(_run_chunk(fn, fixed, task, *args))
            elif mode == "process":
                with process_pool(min(workers or ncpu, len(tasks))) as pool:
                    _run_all(pool, fn, fixed, tasks, args, collect)
            else:
                _run_all(executor, fn, fixed, tasks, args, collect)  # type: ignore[arg-type]
        finally:
            bar.close()

    attrs = {"sweep_function": function_identity(fn),
             "sweep_seed": "none" if root is None else (int(seed) if not isinstance(seed, np.random.SeedSequence)
                                                          else repr(seed)),
             "lindiff_version": __version__, "lindiff_build": _core.build_info}
    return _assemble([r for r in results if r is not None], g, point_names, attrs)


def _python(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _run_all(pool: cf.Executor, fn: Callable[..., Any], fixed: dict[str, Any], tasks: list[Any],
             args: tuple[Any, ...], collect: Callable[[list[tuple[int, xr.Dataset]]], None]) -> None:
    futures = [pool.submit(_run_chunk, fn, fixed, task, *args) for task in tasks]
    try:
        for fut in cf.as_completed(futures):
            collect(fut.result())
    except BaseException:
        for f in futures:
            f.cancel()
        raise


# ------------------------------------------------------------------------------------ TOML config

_CONFIG_KEYS = {"function", "args", "grid", "seed", "chunk", "vectorized", "threads", "name"}


def _resolve(path: object, what: str) -> Callable[..., Any]:
    """A public ``lindiff.`` callable from its dotted path (nothing outside lindiff, nothing private)."""
    if not isinstance(path, str) or not path.startswith("lindiff.") or not all(
            p.isidentifier() and not p.startswith("_") for p in path.split(".")):
        raise ValueError(f"{what} must be the dotted path of a public lindiff function, e.g. "
                         f"'lindiff.theory.static_losses' (got {path!r})")
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except AttributeError:
            break
        if callable(obj) and not inspect.ismodule(obj):
            return obj  # type: ignore[no-any-return]
        break
    raise ValueError(f"{what} {path!r} is not a lindiff function")


def _build(value: Any, where: str) -> Any:
    """TOML value -> Python: tables with a ``call`` key become calls of a lindiff callable."""
    if isinstance(value, dict):
        if "call" in value:
            kwargs = {k: _build(v, f"{where}.{k}") for k, v in value.items() if k != "call"}
            try:
                return _resolve(value["call"], f"{where}.call")(**kwargs)
            except TypeError as e:
                raise ValueError(f"{where}: {e}") from None
        return {k: _build(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sweep TOML file: ``function``, ``[args]``, ``[grid]`` and sweep options.

    Returns the keyword arguments of :func:`sweep` (``fn``, ``grid``, ``fixed``, and ``seed``,
    ``chunk``, ``vectorized``, ``threads``, ``name`` where given). See :func:`run_config`.
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"config {str(path)!r} cannot be read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config {str(path)!r} is not valid TOML ({e})") from None
    unknown = sorted(set(cfg) - _CONFIG_KEYS)
    if unknown:
        raise ValueError(f"config has unknown keys {unknown} (allowed: {sorted(_CONFIG_KEYS)})")
    if "function" not in cfg:
        raise ValueError("config must name a function, e.g. function = \"lindiff.theory.static_losses\"")
    if not isinstance(cfg.get("grid"), dict) or not cfg["grid"]:
        raise ValueError("config must have a non-empty [grid] table (name = [values, ...])")
    if not isinstance(cfg.get("args", {}), dict):
        raise ValueError("config's args must be a table of fixed keyword arguments")
    out: dict[str, Any] = {"fn": _resolve(cfg["function"], "function"),
                           "fixed": _build(cfg.get("args", {}), "args"),
                           "grid": {k: _build(v, f"grid.{k}") for k, v in cfg["grid"].items()}}
    out.update({k: cfg[k] for k in ("seed", "chunk", "vectorized", "threads", "name") if k in cfg})
    return out



def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A local process pool started with ``forkserver`` (``spawn`` where unavailable; never ``fork``:
    forking a process that has started OpenMP or BLAS threads can deadlock)."""
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    return cf.ProcessPoolExecutor(max_workers=positive_int("workers", workers), mp_context=ctx)


@contextlib.contextmanager
def named_executor(kind: str, workers: int | None = None, *, scheduler: str | None = None
                   ) -> Iterator[cf.Executor | None]:
    """The executor a command-line name stands for, shut down on exit.

    ``"serial"``: None (run in this process); ``"process"``: :func:`process_pool` with ``workers``
    (default: the CPU count); ``"dask"``: the executor of a ``dask.distributed.Client`` connected to
    ``scheduler``, or to a ``LocalCluster`` of ``workers`` single-threaded processes without one
    (needs ``lindiff[distributed]``).  The executor's ``_max_workers`` is set to the worker count
    (the chunking hint :func:`lindiff.memorization.transition` reads).

    Examples
    --------
    >>> from lindiff.sweep import named_executor
    >>> with named_executor("serial") as ex:
    ...     ex is None
    True
    """
    if kind not in ("serial", "process", "dask"):
        raise ValueError(f"executor must be one of ('serial', 'process', 'dask') (got {kind!r})")
    n = positive_int("workers", workers) if workers is not None else (os.cpu_count() or 1)
    if kind == "serial":
        yield None
    elif kind == "process":
        with process_pool(n) as pool:
            yield pool
    else:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise ImportError('executor "dask" needs dask.distributed: pip install "lindiff[distributed]"') from err
        with contextlib.ExitStack() as stack:
            if scheduler is not None:
                client = stack.enter_context(Client(scheduler))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                           dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            ex = client.get_executor()
            ex._max_workers = n
            yield ex


def run_config(path: str | os.PathLike[str], *, executor: str = "serial", workers: int | None = None,
               scheduler: str | None = None, out: str | os.PathLike[str] | None = None,
               cache: str | os.PathLike[str] | None = None, progress: bool = True) -> xr.Dataset:
    """Run the sweep described by a TOML file (the ``lindiff sweep`` command).

    The file names a public lindiff function by its dotted path, its fixed keyword arguments and
    the grid; a table with a ``call`` key is replaced by the result of calling that lindiff
    callable with the table's other keys::

        function = "lindiff.theory.static_losses"
        seed = 0                  # optional: seed, chunk, vectorized, threads, name
        vectorized = ["t"]
        [args]
        spectrum = { call = "lindiff.Spectrum.powerlaw", d = 200, k = 1.0 }
        [grid]
        N = [100, 200, 400]
        c = [0.0, 0.1]
        t = [1, 10, 100, 1000]

    Parameters
    ----------
    path : path
        The TOML file.
    executor : {"serial", "process", "dask"}
        ``"dask"`` connects a ``dask.distributed.Client`` to ``scheduler`` or, without one, starts
        a ``LocalCluster`` of ``workers`` single-threaded processes (needs ``lindiff[distributed]``).
    workers : int, optional
        Worker processes (process pool or local dask cluster).
    scheduler : str, optional
        Address of a running dask scheduler, e.g. ``tcp://10.0.0.1:8786`` (implies ``"dask"``).
    out : path, optional
        Write the result to this netCDF file (``.nc``; netCDF4 if installed, else netCDF3).
    cache : path, optional
        Cache directory (see :func:`sweep`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from lindiff.sweep import run_config
    >>> cfg = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = cfg.write_text('''
    ... function = "lindiff.theory.static_losses"
    ... [args]
    ... spectrum = { call = "lindiff.Spectrum.powerlaw", d = 50, k = 1.0 }
    ... t = [10, 100]
    ... [grid]
    ... N = [25, 100]
    ... c = [0.0, 0.1]
    ... ''')
    >>> ds = run_config(cfg, progress=False)
    >>> ds.test.dims, ds.attrs["sweep_function"]
    (('N', 'c', 't'), 'lindiff.theory.static.static_losses')
    """
    if scheduler is not None:
        executor = "dask"
    if executor not in ("serial", "process", "dask"):
        raise ValueError(f"executor must be one of ('serial', 'process', 'dask') (got {executor!r})")
    if out is not None and not str(out).endswith(".nc"):
        raise ValueError(f"out must be a netCDF file name ending in .nc (got {str(out)!r})")
    kwargs = load_config(path)
    kwargs.update(cache=cache, progress=progress, workers=workers)
    if executor == "dask":
        with named_executor("dask", workers, scheduler=scheduler) as ex:
            ds = sweep(executor=ex, **kwargs)
    else:
        ds = sweep(executor=executor, **kwargs)
    if out is not None:
        try:
            import netCDF4  # noqa: F401
            engine = "netcdf4"
        except ImportError:
            engine = "scipy"
        netcdf_safe(ds).to_netcdf(out, engine=engine)
    return ds


def run_cli(args: Any) -> int:
    """``lindiff sweep`` (see :mod:`lindiff.__main__`)."""
    ds = run_config(args.config, executor=args.executor or ("process" if (args.workers or 1) > 1 else "serial"),
                    workers=args.workers, scheduler=args.scheduler, out=args.out, cache=args.cache,
                    progress=not args.quiet)
    print(ds)
    if args.out:
        print(f"written to {args.out}")
    return 0
