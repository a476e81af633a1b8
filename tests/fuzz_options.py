"""Every keyword option of the public API, fed junk: the fuzz suite's option census.

``BASE`` holds one valid call per public function (cheap: small d, few times); the option
cases replace one keyword option by a junk value (wrong type, NaN, inf, negative, huge, empty)
and the verdict is that of :mod:`fuzz_cases`: a ValueError/TypeError naming the option, or a
result without a silent NaN (some options accept the value).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

JUNK: list[Any] = ["x", None, -1, 0, 0.5, 1e300, float("nan"), float("inf"), -float("inf"), [1, 2], True,
                   complex(1, 1), 10**12, {"a": 1}, ""]


def _spec(d: int = 12):  # type: ignore[no-untyped-def]
    import lindiff

    return lindiff.Spectrum.powerlaw(d, 1.0)


def _sched():  # type: ignore[no-untyped-def]
    import lindiff

    return lindiff.Schedule.linear(T=50)


def _base() -> dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    """name -> (function, positional args, keyword args): a valid, cheap call."""
    import lindiff
    from lindiff import exact, memorization, simulate, spectra, theory

    sp, sch = _spec(), _sched()
    rng = np.random.default_rng(0)
    X, Y, G = rng.standard_normal((6, 3)), rng.standard_normal((8, 3)), rng.standard_normal((5, 3))
    smp = exact.SampleSpectrum.draw(sp, N=20, seed=0)
    return {
        "kappa": (lindiff.kappa, (np.array([0.5, 1.0]), sp, 6.0), {}),
        "kappa_prime": (lindiff.kappa_prime, (np.array([0.5, 1.0]), sp, 6.0), {}),
        "solve_fixed_point": (lindiff.solve_fixed_point, (np.cos, 0.5), {}),
        "find_root": (lindiff.find_root, (np.sin, (2.0, 4.0)), {}),
        "static_losses": (theory.static_losses, (sp, 6.0), {"schedule": sch, "t": [1, 20]}),
        "gradflow_losses": (theory.gradflow_losses, (sp, 6.0, [1.0, 5.0]), {"schedule": sch, "t": [1, 20]}),
        "optimal_stopping": (theory.optimal_stopping, (sp, 6.0), {"schedule": sch, "t": [1, 20]}),
        "kl": (theory.kl, (sp, 20.0), {"c": 0.1, "schedule": sch}),
        "kl_population": (theory.kl_population, (sp,), {"schedule": sch}),
        "kl_wishart": (theory.kl_wishart, (12, 20), {}),
        "de_measure": (theory.de_measure, (sp, 6.0), {}),
        "denoiser_distance": (theory.denoiser_distance, (sp, 6.0), {"schedule": sch, "t": [1, 20]}),
        "sampler_gamma": (theory.sampler_gamma, (np.array([0.0, 0.5, 2.0]),), {"schedule": sch}),
        "ensemble": (simulate.ensemble, (sp, 6), {"schedule": sch, "draws": 2, "t": [1, 20]}),
        "train": (simulate.train, (sp, 6), {"schedule": sch, "t": [1, 20], "steps": 5, "draws": 2}),
        "exact_losses": (exact.losses, (smp,), {"schedule": sch, "t": [1, 20]}),
        "exact_kl": (exact.kl, (smp,), {"schedule": sch, "c": 0.1}),
        "draw_data": (exact.draw_data, (sp, 5, 0), {}),
        "relative_distance": (memorization.relative_distance, (X, Y, G), {}),
        "nearest_neighbour_ratio": (memorization.nearest_neighbour_ratio, (X, G), {}),
        "kde_bandwidth": (memorization.kde_bandwidth, (Y,), {}),
        "fit_powerlaw": (spectra.fit_powerlaw, (sp.eigenvalues,), {}),
        "from_array": (spectra.from_array, (rng.standard_normal((40, 6)),), {}),
        "spectrum_compress": (lindiff.Spectrum.compress, (_spec(5000),), {}),
        "onestep_fit": (memorization.OneStepModel(d=4, N=8).fit, (), {"seed": 1}),
        "validate": (lindiff.validate, (theory.static_losses(sp, 6.0, schedule=sch, t=[1, 20]),
                                        simulate.ensemble(sp, 6, schedule=sch, draws=3, t=[1, 20])), {}),
    }


_CACHE: dict[str, Any] = {}


def base_calls() -> dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    if "base" not in _CACHE:
        _CACHE["base"] = _base()
    return _CACHE["base"]


PATHS = {"kappa": "lindiff.kappa", "kappa_prime": "lindiff.kappa_prime", "solve_fixed_point": "lindiff.solve_fixed_point",
         "find_root": "lindiff.find_root", "static_losses": "lindiff.theory.static_losses",
         "gradflow_losses": "lindiff.theory.gradflow_losses", "optimal_stopping": "lindiff.theory.optimal_stopping",
         "kl": "lindiff.theory.kl", "kl_population": "lindiff.theory.kl_population",
         "kl_wishart": "lindiff.theory.kl_wishart", "de_measure": "lindiff.theory.de_measure",
         "denoiser_distance": "lindiff.theory.denoiser_distance", "sampler_gamma": "lindiff.theory.sampler_gamma",
         "ensemble": "lindiff.simulate.ensemble", "train": "lindiff.simulate.train", "exact_losses": "lindiff.exact.losses",
         "exact_kl": "lindiff.exact.kl", "draw_data": "lindiff.exact.draw_data",
         "relative_distance": "lindiff.memorization.relative_distance",
         "nearest_neighbour_ratio": "lindiff.memorization.nearest_neighbour_ratio",
         "kde_bandwidth": "lindiff.memorization.kde_bandwidth", "fit_powerlaw": "lindiff.spectra.fit_powerlaw",
         "from_array": "lindiff.spectra.from_array", "validate": "lindiff.validate",
         "spectrum_compress": "lindiff.Spectrum.compress", "onestep_fit": "lindiff.memorization.OneStepModel.fit"}


def _function(name: str) -> Callable[..., Any]:
    import importlib

    root, *attrs = PATHS[name].split(".")
    obj: Any = importlib.import_module(root)   # attributes from the package down (lindiff.kappa is the function)
    for attr in attrs:
        obj = getattr(obj, attr)
    return obj  # type: ignore[no-any-return]


def options(name: str) -> list[str]:
    """The keyword options of a function (those with a default), minus pure labels."""
    fn = _function(name)
    skip = {"ax", "label", "color", "name"}
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.default is not inspect.Parameter.empty and p.name not in skip]


def call_with_option(name: str, option: str, value: Any) -> Any:
    fn, args, kwargs = base_calls()[name]
    return fn(*args, **{**kwargs, option: value})
