"""High-precision (mpmath) reference values, independent of the C++ kernel.

Used by the tests and by ``lindiff selftest``; slow by design (pure Python at 30+ digits).
"""

from __future__ import annotations

import functools
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
    """kappa0 at ``dps`` digits: 0 for N >= d, else the root of df1 = N.

    A NumPy bisection on [lambda_min (d - N)/N, Tr/N] (df1 is decreasing) gives the start; mpmath
    Newton polishes it.
    """
    lam_np = np.asarray(eigenvalues, dtype=float).ravel()
    w_np = np.ones_like(lam_np) if weights is None else np.asarray(weights, float).ravel()
    d, Nf = float(w_np.sum()), float(N)
    if Nf >= d:
        return mp.mpf(0)
    a, b = lam_np.min() * (d - Nf) / Nf, float(np.sum(w_np * lam_np)) / Nf
    for _ in range(400):
        m = np.sqrt(a * b) if b > 4 * a else 0.5 * (a + b)
        if m <= a or m >= b:
            break
        if np.sum(w_np * lam_np / (lam_np + m)) > Nf:
            a = m
        else:
            b = m
    with mp.workdps(dps + 10):
        lam, w = _spec(lam_np, w_np)
        Nm = mp.mpf(Nf)
        if a == b:
            return mp.mpf(a)

        def G(k):  # type: ignore[no-untyped-def]
            return df1_mp(k, lam, w) - Nm

        def dG(k):  # type: ignore[no-untyped-def]
            return -mp.fsum(wi * li / (li + k) ** 2 for li, wi in zip(lam, w))

        return +_newton_polish(G, dG, mp.mpf(0.5 * (a + b)), dps)


@functools.lru_cache(maxsize=256)
def _kappa0_cached(lam: bytes, w: bytes, N: float) -> float:
    return float(kappa0_mp(np.frombuffer(lam), N, np.frombuffer(w), dps=20))


def _newton_polish(F, dF, k, dps: int, max_steps: int = 30):  # type: ignore[no-untyped-def]
    tol = mp.mpf(10) ** (-(dps + 3))
    for _ in range(max_steps):
        step = F(k) / dF(k)
        k -= step
        if abs(step) <= tol * abs(k):
            return k
    raise RuntimeError("mpmath Newton polish did not converge")


def kappa_mp(
    z: complex | float,
    eigenvalues: ArrayLike,
    N: float,
    weights: ArrayLike | None = None,
    dps: int = 30,
    arc_steps: int = 256,
) -> mp.mpf | mp.mpc:
    """kappa(z) at ``dps`` digits, computed without the kernel.

    A start is found in double precision by code independent of the kernel (NumPy), then
    polished by Newton in mpmath at ``dps + 10`` digits, and the result is verified to be the
    physical root:

    - real z > 0: bisection (in log kappa) on [max(z, kappa0), z + Tr/N]; the polished root must
      lie in that interval, where the root is unique (F is increasing there);
    - complex z: Newton continuation (NumPy) from the real root at |z| along the arc of radius
      |z| to arg z; the polished root must satisfy sign Im kappa = sign Im z (the physical branch
      is the unique root in that half-plane).
    """
    lam_np = np.asarray(eigenvalues, dtype=float).ravel()
    w_np = np.ones_like(lam_np) if weights is None else np.asarray(weights, float).ravel()
    Nf = float(N)
    tr_np = float(np.sum(w_np * lam_np))

    def F_np(k, zz):  # type: ignore[no-untyped-def]
        return k * (1 - np.sum(w_np * lam_np / (lam_np + k)) / Nf) - zz

    def dF_np(k):  # type: ignore[no-untyped-def]
        return 1 - np.sum(w_np * lam_np**2 / (lam_np + k) ** 2) / Nf

    zc = complex(z)
    r = abs(zc)
    if r == 0:
        raise ValueError("z must be non-zero")
    k0 = _kappa0_cached(lam_np.tobytes(), w_np.tobytes(), Nf)
    lo, hi = max(r, k0), r + tr_np / Nf
    # bisection in log kappa: F(lo) < 0 < F(hi)
    a, b = (lo if lo > 0 else hi * 1e-300), hi
    for _ in range(400):
        m = np.sqrt(a * b) if b > 4 * a else 0.5 * (a + b)
        if m <= a or m >= b:
            break
        if F_np(m, r) < 0:
            a = m
        else:
            b = m
    kr = 0.5 * (a + b)
    with mp.workdps(dps + 10):
        lam, w = _spec(lam_np, w_np)
        Nm = mp.mpf(Nf)

        def F(k, zz):  # type: ignore[no-untyped-def]
            return k * (1 - df1_mp(k, lam, w) / Nm) - zz

        def dF(k):  # type: ignore[no-untyped-def]
            return 1 - mp.fsum(wi * li * li / (li + k) ** 2 for li, wi in zip(lam, w)) / Nm

        if zc.imag == 0 and zc.real > 0:
            rm = mp.mpf(r)
            k = _newton_polish(lambda k: F(k, rm), dF, mp.mpf(kr), dps)
            if not (mp.mpf(lo) * (1 - mp.mpf(10) ** -12) <= k <= mp.mpf(hi) * (1 + mp.mpf(10) ** -12)):
                raise RuntimeError("mpmath root left the physical bracket")
            return +k
        theta = np.angle(zc)
        kc = complex(kr)
        for j in range(1, arc_steps + 1):
            zz = r * np.exp(1j * theta * j / arc_steps)
            for _ in range(50):
                step = F_np(kc, zz) / dF_np(kc)
                kc -= step
                if abs(step) <= 1e-14 * abs(kc):
                    break
        zm = mp.mpc(zc)
        k = _newton_polish(lambda k: F(k, zm), dF, mp.mpc(kc), dps)
        if mp.im(zm) != 0 and mp.sign(mp.im(k)) != mp.sign(mp.im(zm)):
            raise RuntimeError("mpmath continuation left the physical branch")
        return +k


def kappa_isotropic(z: ArrayLike, d: float, N: float) -> NDArray[np.generic]:
    """Closed form for Sigma = I: the root of ``kappa^2 + (1 - d/N - z) kappa - z = 0`` on the
    physical branch (kappa ~ z at infinity, sign Im kappa = sign Im z), for real z > 0 or complex
    z off the real axis (on the negative real axis the branch is fixed by continuation only).

    Examples
    --------
    >>> from lindiff.reference import kappa_isotropic
    >>> float(kappa_isotropic(1.0, d=100, N=200))
    1.2807764064044151
    """
    zz = np.asarray(z)
    bq = 1 - d / N - zz
    # stable quadratic formula: the root without cancellation, then the other from r1 r2 = -z
    s = np.sqrt(bq * bq + 4 * zz + (0j if np.iscomplexobj(zz) else 0.0))
    sgn = np.where((np.conj(bq) * s).real >= 0, 1.0, -1.0)
    big = -(bq + sgn * s) / 2
    small = -zz / big
    if not np.iscomplexobj(zz):
        return np.where(big > 0, big, small)  # the positive root
    # physical branch: sign Im kappa = sign Im z
    return np.where(np.sign(big.imag) == np.sign(zz.imag), big, small)
