"""kappa and its spectral sums along curves z(N): the shared first step of the theory functions."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .._results import report_convergence
from ..spectrum import Spectrum

__all__ = ["kappa_curves"]


def kappa_curves(
    spectrum: Spectrum, N: NDArray[np.float64], z: NDArray[np.float64], *, tol: float, strict: bool
) -> dict[str, NDArray[Any]]:
    """kappa and kappa' for rows z[j] (curves) with sample sizes N[j]; shape of z."""
    v, d, conv, its, res, sums = _core.solve_kappa_curves(*spectrum._core_args(), N, np.ascontiguousarray(z),
                                                          tol=tol)
    out = {k: a.reshape(z.shape) for k, a in
           (("kappa", v), ("kappa_prime", d), ("converged", conv), ("iterations", its), ("residual", res),
            ("s1", sums[:, 0]), ("df1", sums[:, 1]), ("df2", sums[:, 2]), ("e12", sums[:, 3]))}
    n_bad = int(conv.size - np.count_nonzero(conv))
    report_convergence(n_bad == 0, f"kappa: {n_bad} of {conv.size} points did not converge "
                       f"(max residual {np.nanmax(res):.3g}); see the Dataset's kappa_converged", out, strict,
                       stacklevel=4)
    return out
