"""Shared behaviour of solver result objects: text/HTML reprs and the warn-or-raise policy."""

from __future__ import annotations

import warnings

from ._display import Cell, html_table, text_table
from .errors import ConvergenceError, ConvergenceWarning

__all__ = ["DiagnosticsMixin", "report_convergence"]


class DiagnosticsMixin:
    """Subclasses implement ``_title()`` and ``_cells()``; this gives ``__str__``, ``_repr_html_``."""

    def _title(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cells(self) -> list[Cell]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __str__(self) -> str:
        return text_table(self._title(), self._cells())

    def _repr_html_(self) -> str:
        return html_table(self._title(), self._cells())

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(str(self))  # type: ignore[attr-defined]


def report_convergence(ok: bool, message: str, result: object, strict: bool, stacklevel: int = 3) -> None:
    """Warn (``ConvergenceWarning``) or, with ``strict``, raise ``ConvergenceError`` unless ``ok``."""
    if ok:
        return
    if strict:
        raise ConvergenceError(message, result)
    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)
