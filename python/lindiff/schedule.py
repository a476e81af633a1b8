"""Diffusion noise schedules (t = 1..T, 1-based in the API)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import nonneg_scalar, positive_int, real_array

__all__ = ["Schedule"]


class Schedule:
    """A discrete forward process ``x_t = a_t x_0 + b_t eps``, t = 1..T.

    ``alpha_t = 1 - beta_t``, ``abar_t = prod_{s<=t} alpha_s``, ``a_t = sqrt(abar_t)``,
    ``b_t = sqrt(1 - abar_t)``. Array element ``[t - 1]`` belongs to diffusion time ``t``; use
    :meth:`index` to turn 1-based times into array indices with a range check.

    Parameters
    ----------
    beta : array_like, shape (T,)
        Noise increments, each in (0, 1).

    Examples
    --------
    >>> import lindiff
    >>> s = lindiff.Schedule.linear()
    >>> s.T, float(s.beta[s.index(1000)])
    (1000, 0.01)
    >>> round(float(s.abar[-1]), 4)
    0.0063
    """

    __slots__ = ("_beta", "_abar", "_one_minus_abar", "name")

    def __init__(self, beta: ArrayLike, *, name: str | None = None) -> None:
        b = real_array("beta", beta, ndim=1)
        if b.size == 0:
            raise ValueError("beta must not be empty")
        if not np.all((b > 0) & (b < 1)):
            bad = b[~((b > 0) & (b < 1))][0]
            raise ValueError(f"beta must lie in (0, 1) (got {bad!r})")
        abar = np.exp(np.cumsum(np.log1p(-b)))
        # 1 - abar_t = sum_{s<=t} abar_{s-1} beta_s: positive terms, no cancellation, and
        # exactly beta_1 at t = 1 (so the last sampler step annihilates C's null space exactly)
        one_minus = np.cumsum(np.concatenate([[1.0], abar[:-1]]) * b)
        self._beta = self._ro(b.copy())
        self._abar = self._ro(abar)
        self._one_minus_abar = self._ro(one_minus)
        self.name = name or f"Schedule(T={b.size})"

    @staticmethod
    def _ro(a: NDArray[np.float64]) -> NDArray[np.float64]:
        a.setflags(write=False)
        return a

    @classmethod
    def linear(cls, T: int = 1000, beta_min: float = 1e-4, beta_max: float = 1e-2) -> Schedule:
        """The pinned linear schedule ``beta_t = (beta_max - beta_min) t / T + beta_min``."""
        T = positive_int("T", T)
        beta_min = nonneg_scalar("beta_min", beta_min)
        beta_max = nonneg_scalar("beta_max", beta_max)
        if beta_max < beta_min:
            raise ValueError(f"beta_max must be >= beta_min (got {beta_max} < {beta_min})")
        t = np.arange(1, T + 1, dtype=np.float64)
        return cls((beta_max - beta_min) * t / T + beta_min,
                   name=f"linear(T={T}, beta_min={beta_min:g}, beta_max={beta_max:g})")

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
        """The cosine schedule of Nichol & Dhariwal: ``abar(t) ∝ cos^2(((t/T + s)/(1 + s)) pi/2)``."""
        T = positive_int("T", T)
        s = nonneg_scalar("s", s)
        max_beta = float(max_beta)
        if not 0 < max_beta < 1:
            raise ValueError(f"max_beta must lie in (0, 1) (got {max_beta})")
        t = np.arange(0, T + 1, dtype=np.float64)
        f = np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
        beta = np.clip(1 - f[1:] / f[:-1], 1e-12, max_beta)
        return cls(beta, name=f"cosine(T={T}, s={s:g})")

    # ------------------------------------------------------------------ arrays (index t - 1)
    @property
    def T(self) -> int:
        return int(self._beta.size)

    @property
    def t(self) -> NDArray[np.int64]:
        """Diffusion times 1..T."""
        return np.arange(1, self.T + 1)

    @property
    def beta(self) -> NDArray[np.float64]:
        return self._beta

    @property
    def alpha(self) -> NDArray[np.float64]:
        return 1.0 - self._beta

    @property
    def abar(self) -> NDArray[np.float64]:
        return self._abar

    @property
    def a2(self) -> NDArray[np.float64]:
        """``a_t^2 = abar_t``."""
        return self._abar

    @property
    def b2(self) -> NDArray[np.float64]:
        """``b_t^2 = 1 - abar_t``, computed without cancellation at small t."""
        return self._one_minus_abar

    @property
    def a(self) -> NDArray[np.float64]:
        """Signal scale ``sqrt(abar_t)``."""
        return np.sqrt(self._abar)

    @property
    def b(self) -> NDArray[np.float64]:
        """Noise scale ``sqrt(1 - abar_t)``."""
        return np.sqrt(self._one_minus_abar)

    @property
    def q(self) -> NDArray[np.float64]:
        """Noise-to-signal ratio ``b_t^2 / a_t^2``."""
        return self._one_minus_abar / self._abar

    @property
    def beta_tilde(self) -> NDArray[np.float64]:
        """Posterior variance ``(1 - abar_{t-1}) / (1 - abar_t) beta_t`` (0 at t = 1)."""
        prev = np.concatenate([[0.0], self._one_minus_abar[:-1]])
        return prev / self._one_minus_abar * self._beta

    def z(self, c: float = 0.0) -> NDArray[np.float64]:
        """Ridge-shifted noise level ``z_t = (b_t^2 + c) / a_t^2``."""
        c = nonneg_scalar("c", c)
        return (self._one_minus_abar + c) / self._abar

    def index(self, t: ArrayLike) -> NDArray[np.int64] | int:
        """Array indices ``t - 1`` for 1-based times ``t`` (int or integer array) in 1..T."""
        arr = np.asarray(t)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                       or (np.issubdtype(arr.dtype, np.floating)
                                           and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))):
            raise ValueError(f"t must be integer diffusion times in 1..{self.T} (got {t!r})")
        ii = arr.astype(np.int64)
        if ii.size and (ii.min() < 1 or ii.max() > self.T):
            raise ValueError(f"t must lie in 1..{self.T} (got values in {ii.min()}..{ii.max()})")
        return int(ii) - 1 if ii.ndim == 0 else ii - 1

    def __len__(self) -> int:
        return self.T

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return np.array_equal(self._beta, other._beta)

    def __hash__(self) -> int:
        return hash(self._beta.tobytes())

    def __getstate__(self) -> dict[str, object]:
        return {"beta": self._beta, "name": self.name}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["beta"], name=state["name"])  # type: ignore[misc,arg-type]

    def __repr__(self) -> str:
        return f"<{self.name}: beta in [{self._beta.min():.3g}, {self._beta.max():.3g}], abar_T={self._abar[-1]:.4g}>"
