"""lindiff: a symbolic-numeric theory toolkit for memorization and generalization in
(linear) diffusion models.

The public API:

- :class:`Spectrum`, :class:`Schedule`: the population spectrum and the noise schedule.
- :func:`kappa`, :func:`kappa_prime`, :func:`kappa0`: the deterministic-equivalent fixed point.
- :func:`solve_fixed_point`, :func:`find_root`: the kernel's generic solvers for Python callables.
- :mod:`lindiff.theory`: deterministic-equivalent losses, gradient flow, optimal stopping, KL.
- :mod:`lindiff.exact`: finite-sample closed forms given one training set.
- :mod:`lindiff.memorization`: the relative-distance memorization criterion and the nearest-neighbour test.
- :mod:`lindiff.spectra`: real-data spectra shipped with the package, power-law fits, spectra of your data.
- :mod:`lindiff.simulate`: exact ensembles, GD / SGD training and DDPM sampling of linear denoisers.
- :func:`validate`, :class:`Validation`: theory vs simulation, cell by cell, in standard errors.
- :func:`sweep`: any function over a labelled grid into one Dataset (seeded, cached, on any executor).
- :mod:`lindiff.plot` (figures; needs matplotlib) and :mod:`lindiff.reproduce` (the ``lindiff reproduce``
  report).
- :mod:`lindiff.jax` (``import lindiff.jax``; needs jax): κ(z) differentiable inside ``jax.jit``.
- :class:`ConvergenceWarning`, :class:`ConvergenceError`.
- :func:`set_num_threads`, :func:`get_num_threads`, :func:`build_info`,
  :func:`available_backends`, :func:`cuda_device`.
- :func:`get_include`, :func:`get_cmake_dir`: the installed C++ headers and CMake package config
  (``find_package(lindiff CONFIG)``; also ``lindiff config --includedir | --cmakedir``).

Submodules load on first use, and xarray, pandas, SciPy's statistics, SymPy and matplotlib only
when a function needs them, so ``import lindiff`` costs about what ``import numpy, scipy`` does.

Examples
--------
>>> import lindiff
>>> res = lindiff.kappa(1e-3, lindiff.Spectrum.powerlaw(1000, k=1.0), N=600)
>>> bool(res.all_converged)
True
"""

from __future__ import annotations

from . import _core
from ._paths import get_cmake_dir, get_include
from .backends import available_backends, cuda_device
from .errors import ConvergenceError, ConvergenceWarning, DivergenceWarning
from .kappa import KappaResult, kappa, kappa0, kappa_prime
from .schedule import Schedule
from .solvers import SolverResult, find_root, solve_fixed_point
from .spectrum import Spectrum

__version__: str = _core.__version__

# lindiff.validate and lindiff.sweep are both modules and functions: import the modules here, so the
# functions are bound last (importing a submodule later would not rebind the package attribute)
from .validate import Validation, validate  # noqa: E402
from .sweep import sweep  # noqa: E402  (the function; the module stays importable as lindiff.sweep)

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "DivergenceWarning",
    "KappaResult",
    "Schedule",
    "SolverResult",
    "Spectrum",
    "Validation",
    "__version__",
    "available_backends",
    "build_info",
    "cuda_device",
    "exact",
    "find_root",
    "get_cmake_dir",
    "get_include",
    "get_num_threads",
    "max_num_threads",
    "kappa",
    "kappa0",
    "kappa_prime",
    "memorization",
    "plot",
    "reproduce",
    "set_num_threads",
    "simulate",
    "solve_fixed_point",
    "spectra",
    "sweep",
    "theory",
    "validate",
]


_LAZY_SUBMODULES = ("exact", "memorization", "plot", "reproduce", "simulate", "spectra", "theory")


def __getattr__(name: str) -> object:
    # the submodules load on first use (``import lindiff`` costs about what NumPy does; lindiff.plot
    # and lindiff.reproduce draw with matplotlib; ``import lindiff.jax`` needs jax)
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lindiff' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def build_info() -> dict[str, object]:
    """How the kernel was built: version, compiler, flags, OpenMP, thread count.

    Examples
    --------
    >>> import lindiff
    >>> sorted(lindiff.build_info())
    ['build', 'num_threads', 'openmp', 'version']
    """
    return {
        "version": _core.__version__,
        "build": _core.build_info,
        "openmp": bool(_core.have_openmp),
        "num_threads": _core.get_num_threads(),
    }


def get_num_threads() -> int:
    """Number of OpenMP threads the kernel's parallel loops use."""
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads for the kernel's parallel loops (results do not depend on it).

    ``n`` must be in ``[1, max_num_threads()]`` (the OpenMP thread limit, capped at 1024);
    anything else is a ValueError.

    Examples
    --------
    >>> import lindiff
    >>> old = lindiff.get_num_threads()
    >>> lindiff.set_num_threads(1); lindiff.get_num_threads()
    1
    >>> lindiff.set_num_threads(old)
    """
    from ._validation import positive_int

    n = positive_int("n", n)
    cap = int(_core.max_num_threads())
    if n > cap:
        raise ValueError(f"n must be an integer in [1, {cap}] (the OpenMP thread limit, capped at 1024; got {n})")
    _core.set_num_threads(n)


def max_num_threads() -> int:
    """The most threads :func:`set_num_threads` accepts (the OpenMP thread limit, capped at 1024)."""
    return int(_core.max_num_threads())
