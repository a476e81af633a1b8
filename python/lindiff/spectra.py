"""Real-data spectra: eigenvalues of image covariances shipped with lindiff, and the tools to make your own.

The shipped spectra (:func:`available`) are the eigenvalues of the sample covariance of small,
openly licensed image data sets, computed by ``scripts/make_spectra.py`` in the source tree with
:func:`from_array`:

1. images are flattened to vectors and divided by their maximum intensity (255 or 16), so that
   pixels lie in [0, 1];
2. constant pixels (zero variance over the data set, e.g. always-black borders) are dropped;
3. every pixel is centred by its mean over the data set, and the sample covariance
   ``Xc.T @ Xc / (n - 1)`` (ddof = 1) is diagonalised with ``numpy.linalg.eigvalsh``;
4. the eigenvalues are sorted in descending order, and the numerical null space (eigenvalues
   ``<= 1e-10 * max``; e.g. pixels that are non-zero in a single image are collinear) is dropped,
   because the theory needs Sigma > 0. ``d`` is the number of eigenvalues that remain.

The files store these raw eigenvalues (units: squared [0, 1] intensity). :func:`load` rescales
them to ``Tr Sigma / d = 1`` by default, the convention of :meth:`Spectrum.powerlaw`.

:func:`fit_powerlaw` fits ``lambda_nu ≈ C nu^-k`` by least squares in log-log coordinates over an
index range; its exponent lets you compare a real spectrum with ``Spectrum.powerlaw(d, k)``.

Examples
--------
>>> from lindiff import spectra
>>> spectra.available()
('digits', 'fashion_mnist', 'mnist')
>>> s = spectra.load("mnist")
>>> s.d, round(s.trace / s.d, 12)
(653, 1.0)
>>> fit = spectra.fit_powerlaw(s.eigenvalues)
>>> fit.fit_range, round(fit.k, 2)
((10, 326), 1.69)
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import positive_int, positive_scalar, real_array
from .spectrum import Spectrum

__all__ = [
    "PowerLawFit",
    "available",
    "default_fit_range",
    "eigenvalues_sha256",
    "fit_powerlaw",
    "from_array",
    "info",
    "load",
]

#: Folder of the shipped spectra: one ``NAME.npy`` per spectrum and ``index.json`` (provenance).
DATA_DIR: Path = Path(__file__).resolve().parent / "data" / "spectra"
INDEX_FILE = "index.json"

#: Relative threshold below which an eigenvalue counts as part of the null space (see step 4).
NULL_RTOL = 1e-10

FIT_METHOD = (
    "ordinary least squares of log(lambda_nu) on log(nu) over nu = lo..hi (1-based, inclusive, "
    "eigenvalues sorted descending); k = -slope"
)


# ---------------------------------------------------------------------------------- power-law fit
@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_powerlaw`: ``lambda_nu ≈ exp(log_prefactor) * nu^-k`` for nu in ``fit_range``.

    Attributes
    ----------
    k : float
        Fitted exponent (``lambda_nu ∝ nu^-k``).
    log_prefactor : float
        Fitted intercept ``log C``.
    fit_range : tuple of int
        ``(lo, hi)``: 1-based, inclusive range of indices nu used in the fit.
    n_points : int
        ``hi - lo + 1``.
    r2 : float
        Coefficient of determination of the log-log regression (1 for an exact power law).
    rms_log_residual : float
        Root-mean-square residual of ``log(lambda_nu)`` about the fitted line.
    method : str
        How the fit was made.
    """

    k: float
    log_prefactor: float
    fit_range: tuple[int, int]
    n_points: int
    r2: float
    rms_log_residual: float
    method: str = FIT_METHOD

    def as_dict(self) -> dict[str, Any]:
        """The fit as a JSON-serialisable dict."""
        return {"k": self.k, "log_prefactor": self.log_prefactor, "fit_range": list(self.fit_range),
                "n_points": self.n_points, "r2": self.r2, "rms_log_residual": self.rms_log_residual,
                "method": self.method}

    def __str__(self) -> str:
        lo, hi = self.fit_range
        return (f"k = {self.k:.4f} (lambda_nu ∝ nu^-k, least squares in log-log over nu = {lo}..{hi}; "
                f"R² = {self.r2:.4f}, rms log residual = {self.rms_log_residual:.3g})")


def default_fit_range(d: int) -> tuple[int, int]:
    """The index range :func:`fit_powerlaw` uses by default for ``d`` eigenvalues.

    ``nu = lo..hi`` with ``lo = min(10, max(1, d // 4))`` and ``hi = max(lo + 1, d // 2)``: it leaves
    out the first few directions (global structure: mean brightness, stroke thickness, ...) and the
    lower half of the spectrum, where finite resolution and finite samples bend real spectra down.

    Examples
    --------
    >>> from lindiff.spectra import default_fit_range
    >>> default_fit_range(784), default_fit_range(61), default_fit_range(4)
    ((10, 392), (10, 30), (1, 2))
    """
    d = positive_int("d", d, minimum=2)
    lo = min(10, max(1, d // 4))
    hi = max(lo + 1, d // 2)
    return lo, hi


def fit_powerlaw(eigenvalues: ArrayLike, *, fit_range: tuple[int, int] | None = None) -> PowerLawFit:
    """Fit ``lambda_nu ≈ C nu^-k`` to eigenvalues by least squares in log-log coordinates.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        Eigenvalues, finite and > 0. They are sorted in descending order before the fit (nu = 1 is
        the largest), so a :class:`Spectrum`'s eigenvalues can be passed as they are (unit
        multiplicities; expand weighted spectra with :meth:`Spectrum.expanded` first).
    fit_range : (int, int), optional
        ``(lo, hi)``, 1-based and inclusive, ``1 <= lo < hi <= d``; default
        :func:`default_fit_range` ``(d)``.

    Returns
    -------
    PowerLawFit
        The exponent ``k``, the prefactor, and the fit quality (R², rms log residual).

    Examples
    --------
    >>> import lindiff
    >>> from lindiff.spectra import fit_powerlaw
    >>> fit = fit_powerlaw(lindiff.Spectrum.powerlaw(1000, k=1.3).eigenvalues)
    >>> round(fit.k, 12), fit.fit_range, round(fit.r2, 12)
    (1.3, (10, 500), 1.0)
    >>> round(fit_powerlaw([1.0, 1 / 4, 1 / 9, 1 / 16], fit_range=(1, 4)).k, 12)
    2.0
    """
    lam = real_array("eigenvalues", eigenvalues, ndim=1)
    if lam.size < 2:
        raise ValueError(f"eigenvalues must hold at least 2 values for a power-law fit (got {lam.size})")
    if not np.all(lam > 0):
        raise ValueError(f"eigenvalues must be > 0 for a log-log fit (got {lam[~(lam > 0)][0]!r})")
    lam = np.sort(lam)[::-1]
    d = lam.size
    if fit_range is None:
        lo, hi = default_fit_range(d)
    else:
        try:
            lo, hi = (positive_int("fit_range", v) for v in fit_range)
        except (TypeError, ValueError):
            raise ValueError(f"fit_range must be a pair (lo, hi) of integers (got {fit_range!r})") from None
        if not lo < hi <= d:
            raise ValueError(f"fit_range must satisfy 1 <= lo < hi <= d = {d} (got {fit_range!r})")
    x = np.log(np.arange(lo, hi + 1, dtype=np.float64))
    y = np.log(lam[lo - 1:hi])
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((y - ym) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return PowerLawFit(k=-slope, log_prefactor=intercept, fit_range=(lo, hi), n_points=hi - lo + 1,
                       r2=r2, rms_log_residual=math.sqrt(ss_res / x.size))


# ---------------------------------------------------------------------------------- data -> spectrum
def from_array(
    data: ArrayLike,
    *,
    scale: float = 1.0,
    normalize: bool = False,
    name: str | None = None,
) -> Spectrum:
    """The spectrum of a data set: the recipe of the shipped spectra, for your own data.

    Flattens images, divides by ``scale``, drops constant pixels, centres each pixel and
    diagonalises the ddof = 1 sample covariance (:meth:`Spectrum.from_data` with
    ``drop_zero_variance=True``, so eigenvalues ``<= 1e-10 * max`` are dropped too).

    Parameters
    ----------
    data : array_like, shape (n, d) or (n, h, w) or (n, h, w, c)
        Samples as rows, or a stack of n images (flattened to ``h * w * c`` features), n >= 2.
    scale : float
        Divide the data by this (e.g. 255 for 8-bit images, so pixels lie in [0, 1]).
    normalize : bool
        Rescale the eigenvalues to ``Tr Sigma / d = 1``.
    name : str, optional
        Label of the spectrum.

    Returns
    -------
    Spectrum
        Eigenvalues sorted descending; ``info`` records n, the features dropped and the recipe.

    Examples
    --------
    >>> import numpy as np
    >>> from lindiff import spectra
    >>> imgs = np.random.default_rng(0).integers(0, 256, size=(200, 4, 4, 3))
    >>> imgs[:, 0, 0, :] = 0                     # a constant (always black) pixel
    >>> s = spectra.from_array(imgs, scale=255)
    >>> s.d, s.info["n_samples"], s.info["dropped_features"]
    (45, 200, 3)
    """
    arr = np.asarray(data)
    if arr.ndim == 1 or arr.ndim == 0 or arr.ndim > 4:
        raise ValueError(
            "data must be a 2-D array (n_samples, d) or a stack of images (n, h, w) or (n, h, w, c) "
            f"(got shape {arr.shape})"
        )
    if arr.shape[0] < 2:
        raise ValueError(f"data must hold at least 2 samples (got shape {arr.shape})")
    X = real_array("data", arr).reshape(arr.shape[0], -1)
    if X.shape[1] < 1:
        raise ValueError(f"data must have at least one feature per sample (got shape {arr.shape})")
    scale = positive_scalar("scale", scale)
    n, p = X.shape
    # constant pixels, found exactly (max == min) before any arithmetic: after scaling, the float
    # variance of a constant column need not be exactly 0
    constant = X.max(axis=0) == X.min(axis=0)
    if constant.all():
        raise ValueError("data has no feature with non-zero variance (every pixel is constant)")
    X = X[:, ~constant]
    if scale != 1.0:
        with np.errstate(over="ignore", under="ignore"):
            X = X / scale
        big = float(np.max(np.abs(X))) if np.all(np.isfinite(X)) else np.inf
        if not 1e-150 < big < 1e150 or np.any(X.max(axis=0) == X.min(axis=0)):   # the covariance's squares
            raise ValueError(f"scale = {scale:g} makes data / scale over- or underflow (non-finite or constant "
                             "features); choose a scale near the data's magnitude, e.g. 255 for 8-bit images")
    spec = Spectrum.from_data(X, drop_zero_variance=True, rtol=NULL_RTOL, normalize=normalize,
                              name=name or f"data({n}x{p})")
    spec.info.update({"n_features": p, "dropped_features": int(constant.sum()) + spec.info["dropped_features"]})
    spec.info.update({"input_shape": list(arr.shape), "scale": scale, "ddof": 1,
                      "null_rtol": NULL_RTOL, "estimator": "sample covariance (ddof=1) of the centred "
                      "data, numpy.linalg.eigvalsh, sorted descending"})
    return spec


def eigenvalues_sha256(eigenvalues: ArrayLike) -> str:
    """SHA-256 of eigenvalues as little-endian float64 bytes (the checksum in the provenance index).

    Examples
    --------
    >>> from lindiff.spectra import eigenvalues_sha256
    >>> eigenvalues_sha256([1.0])[:16]
    '6c3c396ed6b5c36d'
    """
    a = np.ascontiguousarray(np.asarray(eigenvalues, dtype="<f8"))
    return hashlib.sha256(a.tobytes()).hexdigest()


# ---------------------------------------------------------------------------------- shipped spectra
@lru_cache(maxsize=1)
def _index() -> dict[str, dict[str, Any]]:
    path = DATA_DIR / INDEX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the spectra index {path} is missing: the package data was not installed")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["spectra"]  # type: ignore[no-any-return]


def available() -> tuple[str, ...]:
    """Names of the spectra shipped with lindiff, sorted.

    Examples
    --------
    >>> from lindiff import spectra
    >>> "mnist" in spectra.available()
    True
    """
    return tuple(sorted(_index()))


def _entry(name: str) -> dict[str, Any]:
    idx = _index()
    if not isinstance(name, str) or name not in idx:
        raise ValueError(f"name must be one of the shipped spectra {', '.join(sorted(idx))} (got {name!r})")
    return idx[name]


def info(name: str) -> dict[str, Any]:
    """Provenance of a shipped spectrum: source, licence, images used, preprocessing, d, power-law fit.

    Returns a fresh copy of the entry of the index (``index.json``) that ``scripts/make_spectra.py``
    wrote: keys include ``source``, ``licence``, ``n_images``, ``image_shape``, ``preprocessing``,
    ``estimator``, ``d``, ``trace``, ``powerlaw_fit`` (a :meth:`PowerLawFit.as_dict`) and
    ``sha256`` (:func:`eigenvalues_sha256` of the stored eigenvalues).

    Examples
    --------
    >>> from lindiff import spectra
    >>> i = spectra.info("digits")
    >>> i["n_images"], i["image_shape"], i["d"], round(i["powerlaw_fit"]["k"], 2)
    (1797, [8, 8], 61, 1.69)
    """
    return json.loads(json.dumps(_entry(name)))


def _raw_eigenvalues(name: str) -> NDArray[np.float64]:
    entry = _entry(name)
    lam = np.load(DATA_DIR / entry["file"], allow_pickle=False)
    return np.asarray(lam, dtype=np.float64)


def load(name: str, *, normalize: bool = True) -> Spectrum:
    """A spectrum shipped with lindiff.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    normalize : bool
        Rescale to ``Tr Sigma / d = 1`` like :meth:`Spectrum.powerlaw` (default). With False, the
        raw eigenvalues of the covariance of [0, 1]-scaled pixels.

    Returns
    -------
    Spectrum
        ``info`` holds the provenance (:func:`info`) and ``normalized``.

    Examples
    --------
    >>> from lindiff import spectra
    >>> s = spectra.load("fashion_mnist")
    >>> s.d, s.info["n_images"], round(s.trace / s.d, 12)
    (784, 60000, 1.0)
    >>> raw = spectra.load("fashion_mnist", normalize=False)
    >>> round(raw.trace, 3)
    68.217
    """
    entry = info(name)
    lam = _raw_eigenvalues(name)
    spec = Spectrum(lam, name=name, info={**entry, "kind": "shipped", "normalized": False})
    return spec.normalized() if normalize else spec
