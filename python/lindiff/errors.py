"""Warning and exception classes of lindiff."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "ConvergenceError", "DivergenceWarning"]


class ConvergenceWarning(UserWarning):
    """A solver did not converge everywhere; the result object says where and by how much."""


class ConvergenceError(RuntimeError):
    """Raised instead of :class:`ConvergenceWarning` when a solver is called with ``strict=True``.

    The partial result is attached as ``.result``.
    """

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class DivergenceWarning(RuntimeWarning):
    """A simulation diverged (e.g. gradient descent with too large a step); the result says where."""
