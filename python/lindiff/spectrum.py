"""Population spectra: eigenvalues of Sigma with multiplicities."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._validation import positive_array, positive_int, real_array, real_scalar

__all__ = ["Spectrum"]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


_TINY = float(np.finfo(np.float64).tiny)


class Spectrum:
    """Eigenvalues ``lambda_nu`` of a population covariance Sigma, with multiplicities.

    A spectrum with few distinct values and a huge dimension is cheap: ``weights`` are
    multiplicities, and every sum over nu is a weighted sum over the distinct values.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Distinct (or not) eigenvalues, finite and > 0.
    weights : array_like, shape (n,), optional
        Multiplicities, finite and > 0 (default: all 1). ``d = sum(weights)``.
    name : str, optional
        A label used in reprs and result metadata.
    info : dict, optional
        Provenance (source, preprocessing, ...).

    Examples
    --------
    >>> import lindiff
    >>> s = lindiff.Spectrum.powerlaw(1000, k=1.0)
    >>> s.d, round(s.trace / s.d, 12)
    (1000, 1.0)
    >>> iso = lindiff.Spectrum.from_eigenvalues([1.0], weights=[10**6])
    >>> iso.d
    1000000
    >>> float(iso.df1(1.0))
    500000.0
    """

    __slots__ = ("_lam", "_w", "_d", "_trace", "_core_handle", "_compressed", "name", "info")

    def __init__(
        self,
        eigenvalues: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        name: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        lam = real_array("eigenvalues", eigenvalues, ndim=1)
        if lam.size == 0:
            raise ValueError("eigenvalues must not be empty")
        if not np.all(lam > 0):
            bad = lam[~(lam > 0)][0]
            raise ValueError(f"eigenvalues must be > 0 (got {bad!r}); drop or regularise the null space")
        if np.min(lam) < _TINY:   # subnormal: fewer than 53 significant bits, and 1/lambda overflows
            raise ValueError(f"eigenvalues must be >= {_TINY:.4g} (the smallest normal double; got "
                             f"{np.min(lam)!r}); rescale Sigma (the theory is scale-covariant) or drop them")
        w = None
        if weights is not None:
            w = positive_array("weights", weights, ndim=1)
            if w.shape != lam.shape:
                raise ValueError(
                    f"weights must have the same shape as eigenvalues (got {w.shape} and {lam.shape})"
                )
        self._lam = _readonly(lam)
        self._w = None if w is None else _readonly(w)
        # validated once; one-point calls go through it (memoised kappa0 and start-lattice nodes)
        self._core_handle = _core.SpectrumCore(self._lam, self._w)
        d = self._core_handle.d
        self._d: int | float = int(round(d)) if float(d).is_integer() else float(d)
        self._trace = float(self._core_handle.trace)
        self.name = name
        self.info = dict(info or {})
        self._compressed: dict[tuple[float, float], Spectrum] = {}   # compress() memo, per (tol, angle)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def powerlaw(cls, d: int, k: float, *, normalize: bool = True) -> Spectrum:
        """Power law ``lambda_nu ∝ nu^-k``, nu = 1..d, normalised to ``Tr Sigma / d = 1``.

        Examples
        --------
        >>> import lindiff
        >>> s = lindiff.Spectrum.powerlaw(4, k=2.0)
        >>> s.eigenvalues.round(4)
        array([2.8098, 0.7024, 0.3122, 0.1756])
        """
        d = positive_int("d", d)
        k = float(real_array("k", k, ndim=0))
        lam = np.arange(1, d + 1, dtype=np.float64) ** (-k)
        if normalize:
            lam = lam * (d / lam.sum())
        return cls(lam, name=f"powerlaw(d={d}, k={k:g})", info={"kind": "powerlaw", "d": d, "k": k})

    @classmethod
    def from_eigenvalues(
        cls, eigenvalues: ArrayLike, weights: ArrayLike | None = None, *, name: str | None = None
    ) -> Spectrum:
        """A spectrum from eigenvalues and optional multiplicities ``weights``.

        Examples
        --------
        >>> import lindiff
        >>> lindiff.Spectrum.from_eigenvalues([2.0, 0.5], weights=[100, 300]).d
        400
        """
        return cls(eigenvalues, weights, name=name, info={"kind": "eigenvalues"})

    @classmethod
    def from_data(
        cls,
        X: ArrayLike,
        *,
        drop_zero_variance: bool = False,
        rtol: float = 1e-10,
        normalize: bool = False,
        name: str | None = None,
    ) -> Spectrum:
        """The spectrum of the centred sample covariance of a data matrix.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Rows are samples.
        drop_zero_variance : bool
            Drop constant features (e.g. always-black pixels) and the numerical null space
            (eigenvalues <= ``rtol * max``, e.g. when n_samples <= n_features). Without it such
            directions raise a ValueError: the theory needs Sigma > 0.
        rtol : float
            Relative threshold below which an eigenvalue counts as zero.
        normalize : bool
            Rescale to ``Tr Sigma / d = 1`` (the convention of the power-law spectra).

        Examples
        --------
        >>> import numpy as np, lindiff
        >>> X = np.random.default_rng(0).normal(size=(500, 3)) * [3.0, 1.0, 0.0]
        >>> s = lindiff.Spectrum.from_data(X, drop_zero_variance=True)
        >>> s.d, s.info["dropped_features"]
        (2, 1)
        """
        X = real_array("X", X, ndim=2)
        n, p = X.shape
        if n < 2:
            raise ValueError(f"X must have at least 2 rows (samples); got {n}")
        if p < 1:
            raise ValueError("X must have at least one column (feature)")
        var = X.var(axis=0)
        keep = var > 0
        dropped_features = int((~keep).sum())
        if drop_zero_variance:
            if not keep.any():
                raise ValueError("X has no feature with non-zero variance")
            X = X[:, keep]
        Xc = X - X.mean(axis=0)
        cov = Xc.T @ Xc / (n - 1)
        lam = np.linalg.eigvalsh(cov)[::-1]
        thresh = rtol * lam[0] if lam[0] > 0 else 0.0
        small = lam <= thresh
        if small.any():
            if not drop_zero_variance:
                raise ValueError(
                    f"X has {int(small.sum())} zero-variance direction(s) (eigenvalues <= rtol * max; "
                    f"{n} samples, {p} features); pass drop_zero_variance=True to drop them"
                )
            lam = lam[~small]
        info = {
            "kind": "data",
            "n_samples": n,
            "n_features": p,
            "dropped_features": dropped_features if drop_zero_variance else 0,
            "dropped_null_directions": int(small.sum()) if drop_zero_variance else 0,
            "centred": True,
            "normalized": normalize,
        }
        if normalize:
            lam = lam * (lam.size / lam.sum())
        return cls(lam, name=name or f"data({n}x{p})", info=info)

    # ------------------------------------------------------------------ properties
    @property
    def eigenvalues(self) -> NDArray[np.float64]:
        """The (distinct) eigenvalues, read-only."""
        return self._lam

    @property
    def weights(self) -> NDArray[np.float64]:
        """Multiplicities of :attr:`eigenvalues` (all 1 when none were given), read-only."""
        if self._w is None:
            w = np.ones_like(self._lam)
            w.setflags(write=False)
            return w
        return self._w

    @property
    def d(self) -> int | float:
        """Dimension: the sum of the multiplicities."""
        return self._d

    @property
    def trace(self) -> float:
        """Tr Sigma = sum of weight * eigenvalue."""
        return self._trace

    @property
    def is_weighted(self) -> bool:
        return self._w is not None

    def _core_args(self) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        return self._lam, self._w

    # ------------------------------------------------------------------ sums
    def _df12(self, kappa: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
        k = np.asarray(kappa)
        if k.dtype == object or not np.issubdtype(k.dtype, np.number):
            raise ValueError(f"kappa must be numeric (got dtype {k.dtype})")
        if np.iscomplexobj(k):
            kk = k.astype(np.complex128).ravel()
            bad = (kk.imag == 0) & (kk.real <= -self._lam.min())
            if np.any(bad):
                raise ValueError("kappa must not lie on the pole set (-inf, -lambda_min]")
            f1, f2 = _core.df12_complex(self._lam, self._w, kk)
        else:
            kk = real_array("kappa", k).ravel()
            if np.any(kk <= -self._lam.min()):
                raise ValueError("real kappa must be > -min(eigenvalues)")
            f1, f2 = _core.df12(self._lam, self._w, kk)
        return f1.reshape(k.shape), f2.reshape(k.shape)

    def _df12_scalar(self, kappa: object) -> tuple[float, float] | None:
        """(df1, df2) at one real kappa given as a Python or NumPy real scalar; None otherwise.

        The lean path of a one-point call: no array conversions, no OpenMP team."""
        t = type(kappa)
        if t is float or t is int or t is np.float64 or (t is not bool and isinstance(kappa, (np.floating, np.integer))):
            k = float(kappa)  # type: ignore[arg-type]
            if not math.isfinite(k):
                raise ValueError("kappa must be finite (contains NaN or inf)")
            if not k > -self._core_handle.lambda_min:
                raise ValueError("real kappa must be > -min(eigenvalues)")
            return self._core_handle.df12_1(k)  # type: ignore[no-any-return]
        return None

    def df1(self, kappa: ArrayLike) -> NDArray[Any]:
        """``df1(kappa) = sum_nu lambda_nu / (lambda_nu + kappa)`` (real or complex kappa).

        Same shape as kappa; a real scalar kappa gives a ``numpy.float64`` (a Python float)."""
        one = self._df12_scalar(kappa)
        if one is not None:
            return np.float64(one[0])  # type: ignore[return-value]
        return self._df12(kappa)[0]

    def df2(self, kappa: ArrayLike) -> NDArray[Any]:
        """``df2(kappa) = sum_nu lambda_nu^2 / (lambda_nu + kappa)^2`` (real or complex kappa).

        Same shape as kappa; a real scalar kappa gives a ``numpy.float64`` (a Python float)."""
        one = self._df12_scalar(kappa)
        if one is not None:
            return np.float64(one[1])  # type: ignore[return-value]
        return self._df12(kappa)[1]

    def expanded(self) -> NDArray[np.float64]:
        """All d eigenvalues, repeated by multiplicity (integer weights only)."""
        if self._w is None:
            return self._lam.copy()
        if not np.all(self._w == np.round(self._w)):
            raise ValueError("expanded() needs integer weights")
        return np.repeat(self._lam, self._w.astype(np.int64))

    def normalized(self) -> Spectrum:
        """A copy rescaled to ``Tr Sigma / d = 1``."""
        return Spectrum(self._lam * (self._d / self._trace), self._w, name=self.name,
                        info={**self.info, "normalized": True})

    def compress(self, tol: float = 1e-13, *, angle: float = 0.0) -> Spectrum:
        """A spectrum of r weighted nodes whose spectral sums match this one's to ``tol``.

        The nodes and weights are the r-node Gauss rule of the spectral measure in
        ``u = log(lambda)`` (Lanczos + Golub-Welsch; an O(d) pre-pass for large d). Every
        ``lambda/(lambda + kappa)`` is analytic in the strip ``|Im u| < pi - |arg kappa|``, so r is
        set by pi and the spread of log(lambda), not by d (tens of nodes for d = 10^6). The result
        is an ordinary :class:`Spectrum` (every kernel takes it); d is preserved exactly and the
        trace to rounding. ``info["compression"]`` is a :class:`lindiff._compress.CompressionInfo`:
        the a-priori bound (Bernstein ellipse), the measured errors against the direct sums at 30
        real kappa in ``[1e-10 lambda_min, 1e4 lambda_max]``, the trace error and ``theta_max``,
        the certified ``|arg kappa|``. See ``docs/compression.md``.

        Parameters
        ----------
        tol : float
            Relative accuracy of df1 and df2 for real kappa > 0 (1e-15 .. 1e-2). Below the
            rounding floor (about 1e-14 at d = 10^6) the spectrum comes back uncompressed.
        angle : float
            Also certify ``kappa = |kappa| e^{i theta}`` for ``|theta| <= angle`` (0 .. 0.9 pi): r
            grows as the pole ``log|kappa| + i (theta - pi)`` nears the real axis.

        Returns
        -------
        Spectrum
            The compressed spectrum, or (too few distinct eigenvalues, ``tol`` unreachable) a
            copy of this one, with ``info["compression"].compressed`` False.

        Examples
        --------
        >>> import lindiff
        >>> s = lindiff.Spectrum.powerlaw(100_000, k=1.0)
        >>> c = s.compress(tol=1e-12)
        >>> len(c) < 60, c.d == s.d, abs(c.trace / s.trace - 1) < 1e-12
        (True, True, True)
        >>> abs(float(c.df1(0.01)) / float(s.df1(0.01)) - 1) < 1e-12
        True
        >>> c.info["compression"].measured < 1e-12
        True
        """
        from ._compress import compress

        tol = real_scalar("tol", tol, minimum=1e-15, maximum=1e-2)
        angle = real_scalar("angle", angle, minimum=0.0, maximum=0.9 * np.pi)
        if (tol, angle) in self._compressed:   # the same rule again (a spectrum is immutable)
            return self._compressed[(tol, angle)]
        nodes, weights, info = compress(self._lam, self._w, tol, angle)
        if not info.compressed:
            out = Spectrum(self._lam, self._w, name=self.name, info={**self.info, "compression": info})
        else:
            out = Spectrum(nodes, weights, name=f"{self.name or 'Spectrum'} compressed(r={info.r})",
                           info={**self.info, "compression": info})
        self._compressed[(tol, angle)] = out
        return out

    # ------------------------------------------------------------------ dunder
    def __len__(self) -> int:
        return int(self._lam.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spectrum):
            return NotImplemented
        return (
            np.array_equal(self._lam, other._lam)
            and np.array_equal(self.weights, other.weights)
        )

    def __hash__(self) -> int:
        return hash((self._lam.tobytes(), self.weights.tobytes()))

    def __getstate__(self) -> dict[str, Any]:
        return {"eigenvalues": self._lam, "weights": self._w, "name": self.name, "info": self.info}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["eigenvalues"], state["weights"], name=state["name"], info=state["info"])  # type: ignore[misc]

    def __repr__(self) -> str:
        label = self.name or "Spectrum"
        return (
            f"<{label}: d={self._d}, {self._lam.size} distinct, Tr/d={self._trace / self._d:.6g}, "
            f"range=[{self._lam.min():.4g}, {self._lam.max():.4g}]>"
        )
