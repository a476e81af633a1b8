"""High-precision (mpmath) reference values, independent of the C++ kernel.

Used by the tests and by ``lindiff selftest``; slow by design (pure Python at 30+ digits).
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath as mp
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["kappa_mp", "kappa0_mp", "kappa_isotropic", "df1_mp"]


def _spec(eigenvalues: ArrayLike, weights: ArrayLike | None) -> tuple[list[mp.mpf], list[mp.mpf]]:
    lam = [mp.mpf(float(x)) for x in np.asarray(eigenvalues, dtype=float).ravel()]
    w = [mp.mpf(1)] * len(lam) if weights is None else [mp.mpf(float(x)) for x in np.asarray(weights, float).ravel()]
    return lam, w


def df1_mp(kappa: mp.mpf | mp.mpc, lam: Sequence[mp.mpf], w: Sequence[mp.mpf]) -> mp.mpf | mp.mpc:
    """``sum w lambda / (lambda + kappa)`` in mpmath."""
    return mp.fsum(wi * li / (li + kappa) for li, wi in zip(lam, w))


def kappa0_mp(eigenvalues: ArrayLike, N: float, weights: ArrayLike | None = None, dps: int = 30) -> mp.mpf:
    """kappa0 at ``dps`` digits: 0 for N >= d, else the root of df1 = N (bracketed solve)."""
    with mp.workdps(dps):
        lam, w = _spec(eigenvalues, weights)
        Nm = mp.mpf(float(N))
        d = mp.fsum(w)
        if Nm >= d:
            return mp.mpf(0)
        lo = min(lam) * (d - Nm) / Nm
        hi = mp.fsum(wi * li for li, wi in zip(lam, w)) / Nm
        if lo == hi:
            return lo
        return mp.findroot(lambda k: df1_mp(k, lam, w) - Nm, (lo, hi), solver="anderson")


def kappa_mp(
    z: complex | float,
    eigenvalues: ArrayLike,
    N: float,
    weights: ArrayLike | None = None,
    dps: int = 30,
    arc_steps: int = 64,
) -> mp.mpf | mp.mpc:
    """kappa(z) at ``dps`` digits, computed without the kernel.

    Real z > 0: bracketed solve on [max(z, kappa0), z + Tr/N], where the physical root is unique.
    Complex z: from the real root at |z|, Newton continuation along the arc of radius |z| to
    arg z in ``arc_steps`` steps; the result is checked to lie on the branch with
    ``sign Im kappa = sign Im z``.
    """
    with mp.workdps(dps + 10):
        lam, w = _spec(eigenvalues, weights)
        Nm = mp.mpf(float(N))
        tr = mp.fsum(wi * li for li, wi in zip(lam, w))

        def F(k: mp.mpf | mp.mpc, zz: mp.mpf | mp.mpc) -> mp.mpf | mp.mpc:
            return k * (1 - df1_mp(k, lam, w) / Nm) - zz

        def dF(k: mp.mpf | mp.mpc) -> mp.mpf | mp.mpc:
            return 1 - mp.fsum(wi * li * li / (li + k) ** 2 for li, wi in zip(lam, w)) / Nm

        zc = mp.mpc(complex(z))
        r = abs(zc)
        if r == 0:
            raise ValueError("z must be non-zero")
        k0 = kappa0_mp(eigenvalues, N, weights, dps + 10)
        lo, hi = max(r, k0), r + tr / Nm
        kr = mp.findroot(lambda k: F(k, r), (lo, hi), solver="anderson")
        for _ in range(3):  # polish
            kr = kr - F(kr, r) / dF(kr)
        if complex(z).imag == 0 and complex(z).real > 0:
            return +kr
        theta = mp.arg(zc)
        k = mp.mpc(kr)
        for j in range(1, arc_steps + 1):
            zz = mp.mpc(r * mp.cos(theta * j / arc_steps), r * mp.sin(theta * j / arc_steps))
            for _ in range(60):
                step = F(k, zz) / dF(k)
                k -= step
                if abs(step) <= mp.mpf(10) ** (-(dps + 5)) * abs(k):
                    break
            else:
                raise RuntimeError(f"mpmath continuation did not converge at step {j}")
        if mp.sign(mp.im(k)) != mp.sign(mp.im(zc)) and abs(mp.im(k)) > mp.mpf(10) ** (-dps) * abs(k):
            raise RuntimeError("mpmath continuation left the physical branch")
        return +k


def kappa_isotropic(z: ArrayLike, d: float, N: float) -> NDArray[np.generic]:
    """Closed form for Sigma = I: the root of ``kappa^2 + (1 - d/N - z) kappa - z = 0`` on the
    physical branch (kappa ~ z at infinity, sign Im kappa = sign Im z).

    Examples
    --------
    >>> from lindiff.reference import kappa_isotropic
    >>> float(kappa_isotropic(1.0, d=100, N=200))
    1.2807764064044151
    """
    zz = np.asarray(z)
    q = d / N
    bq = 1 - q - zz
    if not np.iscomplexobj(zz):
        return (-bq + np.sqrt(bq * bq + 4 * zz)) / 2
    s = np.sqrt(bq * bq + 4 * zz + 0j)
    r1, r2 = (-bq + s) / 2, (-bq - s) / 2
    # physical branch: sign Im kappa = sign Im z (real z > 0: the positive root)
    good1 = np.sign(r1.imag) == np.sign(zz.imag)
    return np.where(good1, r1, r2)
