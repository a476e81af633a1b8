"""Heavy dependencies loaded on first use, so ``import lindiff`` costs about what NumPy costs.

``xr = lazy_module("xarray")`` at the top of a module binds a stand-in; the first attribute access
(``xr.Dataset``, also inside ``isinstance``) imports xarray and the stand-in takes over its
namespace. Nothing is put into :data:`sys.modules` under the real name, so other libraries see
xarray only once it is really imported.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__all__ = ["lazy_module"]


class _LazyModule(types.ModuleType):
    """A module whose content is imported on the first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lindiff_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        target = self.__dict__["_lindiff_lazy_target"]
        module = importlib.import_module(target)
        self.__dict__.update(module.__dict__)   # later lookups are plain attribute reads
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lindiff_lazy_target']!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for the module ``name`` that imports it on first attribute access.

    Examples
    --------
    >>> from lindiff._lazy import lazy_module
    >>> fractions = lazy_module("fractions")
    >>> fractions.Fraction(1, 3) + fractions.Fraction(1, 6)
    Fraction(1, 2)
    """
    return _LazyModule(name)
