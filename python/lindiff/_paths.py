"""Where the C++ kernel's headers and CMake package config are installed.

A wheel installs them inside the package::

    <site-packages>/lindiff/include/lindiff/*.hpp
    <site-packages>/lindiff/share/cmake/lindiff/lindiffConfig.cmake   (+ lindiffConfigVersion.cmake)

In a source checkout (``PYTHONPATH=python``, or an editable install, where ``lindiff.__file__`` is
``<repo>/python/lindiff/__init__.py``) the functions fall back to ``<repo>/cpp/include`` and
``<repo>/cpp/share/cmake/lindiff``, laid out the same way.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["get_cmake_dir", "get_include"]

_PKG = Path(__file__).resolve().parent
# (include dir, CMake dir): installed wheel first, then a source checkout (<repo>/python/lindiff)
_CANDIDATES = [
    (_PKG / "include", _PKG / "share" / "cmake" / "lindiff"),
    (_PKG.parent.parent / "cpp" / "include", _PKG.parent.parent / "cpp" / "share" / "cmake" / "lindiff"),
]
_HINT = (
    "the lindiff C++ headers and CMake config are installed by `pip install lindiff` (a wheel or `pip "
    "install .` from the source tree); this lindiff at {pkg} has neither them nor a source checkout's cpp/ next "
    "to it (looked in: {where})"
)


def _find(index: int, marker: str) -> str:
    for cand in _CANDIDATES:
        if (cand[index] / marker).is_file():
            return str(cand[index])
    where = ", ".join(str(c[index]) for c in _CANDIDATES)
    raise FileNotFoundError(_HINT.format(pkg=_PKG, where=where))


def get_include() -> str:
    """The directory to add to the C++ include path: it holds ``lindiff/api.hpp``, ``lindiff/kappa.hpp``, ...

    The kernel is header-only, C++20. ``lindiff/api.hpp`` (the one-call API) and the solvers it
    builds on need only the standard library; ``lindiff/api_eigen.hpp`` and the umbrella
    ``lindiff/lindiff.hpp`` also need Eigen 3.4. With CMake, prefer the package config
    (:func:`get_cmake_dir`, target ``lindiff::lindiff``).

    Returns
    -------
    str
        ``<site-packages>/lindiff/include`` for an installed wheel, ``<repo>/cpp/include`` when
        lindiff runs from a source checkout.

    Raises
    ------
    FileNotFoundError
        When neither is there (a copy of the Python sources without the C++ tree).

    Examples
    --------
    >>> import os, lindiff
    >>> os.path.isfile(os.path.join(lindiff.get_include(), "lindiff", "api.hpp"))
    True

    Without CMake: ``g++ -std=c++20 -I"$(lindiff config --includedir)" main.cpp``.
    """
    return _find(0, "lindiff/api.hpp")


def get_cmake_dir() -> str:
    """The directory of lindiff's CMake package config, for ``-Dlindiff_DIR=...``.

    ``find_package(lindiff CONFIG REQUIRED)`` then defines ``lindiff::lindiff`` (the header-only
    kernel, no dependencies) and, when Eigen 3.4 is found (the PyPI package ``cmeel-eigen`` next
    to lindiff, or a system Eigen), ``lindiff::eigen``; ``COMPONENTS eigen`` makes a missing Eigen
    a configure error. The config is relocatable and also works from a source checkout.

    Returns
    -------
    str
        ``<site-packages>/lindiff/share/cmake/lindiff`` for an installed wheel,
        ``<repo>/cpp/share/cmake/lindiff`` when lindiff runs from a source checkout.

    Raises
    ------
    FileNotFoundError
        When neither holds ``lindiffConfig.cmake``.

    Examples
    --------
    >>> import os, lindiff
    >>> os.path.isfile(os.path.join(lindiff.get_cmake_dir(), "lindiffConfig.cmake"))
    True

    In a shell: ``cmake -S . -B build -Dlindiff_DIR="$(lindiff config --cmakedir)"``.
    """
    return _find(1, "lindiffConfig.cmake")
