"""The relative-distance memorization criterion (spec ``memorization.md`` §1) for any generator.

A generator memorizes its training set when its law p_gen is closer to the kernel density estimate
(KDE) of the N training points than to the KDE of M fresh samples of the data law:

- KDE of a point set {x_k}, n points: ``rho_n(x) = (1/n) sum_k N(x; x_k, eps_n^2 I)``;
- ``E_TG = D(p_gen, rho_T)`` (training KDE, n = N), ``E_OG = D(p_gen, rho_O)`` (reference KDE, n = M);
- relative distance ``Delta = E_TG - E_OG``: ``Delta > 0`` (p_gen nearer the fresh data than its
  own training set) is the generalization side, ``Delta < 0`` memorization.

The definition is fragile: the answer depends on the distance D, on the bandwidth and on the
reference.  The pinned default is the spec's: squared L2 distance and ``eps_n = sigma n^(-1/d)``
("halder").  The variants are options of :func:`relative_distance` and every result records the
settings it used.

The package also holds Halder's analytically tractable model, :class:`OneStepModel` (one forward
step, an affine least-squares denoiser, a Gaussian p_gen) with its exact theory
(:meth:`OneStepModel.theory`), the Merger & Goldt linear model as a memorization model
(:class:`LinearDiffusionModel`), a wrapper for any user's generator (:class:`GeneratorModel`),
and :func:`transition`, the scan of P(Delta > 0) over N with binomial and bootstrap intervals.

All points are **rows** here: ``train`` is (N, d), ``reference`` (M, d), generated samples (n, d).

Every result states how well floating point resolves Delta: ``log_resolution`` bounds its
rounding error (derived term by term in :func:`relative_distance`), and ``sign`` is +1 or -1 only
when |Delta| is above it, 0 (undetermined) otherwise; ``positive`` means a determined positive
sign.  :func:`transition` counts the undetermined signs per N (``n_undetermined``) and leaves them
out of P(Delta > 0).

:func:`nearest_neighbour_ratio` is the common alternative test (distance to the nearest over
distance to the second-nearest training point; memorized below 1/3), offered for comparison.

Examples
--------
>>> import numpy as np
>>> from lindiff.memorization import relative_distance
>>> rng = np.random.default_rng(0)
>>> d, N, M = 8, 16, 2000
>>> train, reference = rng.normal(size=(N, d)), rng.normal(size=(M, d))
>>> res = relative_distance(train, reference, (np.zeros(d), 0.5 * np.eye(d)))   # ignores the training set
>>> bool(res.positive), res.method
(True, 'closed form')
>>> bool(relative_distance(train, reference, train).positive)                # copies of the training set
False
>>> res.sign, bool(res.log_abs_delta > res.log_resolution)
(1, True)
>>> tie = relative_distance(train, -train, (np.zeros(d), 0.5 * np.eye(d)))   # mirror images: Delta = 0 exactly
>>> tie.sign, tie.determined, tie.positive
(0, False, False)
"""

from ._criterion import (NearestNeighbour, ReferenceSample, RelativeDistance, kde_bandwidth,
                         nearest_neighbour_ratio, relative_distance)
from ._models import GeneratedFit, GeneratorModel, LinearDiffusionModel
from ._onestep import OneStepFit, OneStepModel, free_log_det
from ._transition import Turnover, crossing, distance_turnover, plot_transition, transition

__all__ = ["GeneratedFit", "GeneratorModel", "LinearDiffusionModel", "NearestNeighbour", "OneStepFit",
           "OneStepModel", "ReferenceSample", "RelativeDistance", "Turnover", "crossing", "distance_turnover", "free_log_det", "kde_bandwidth",
           "nearest_neighbour_ratio", "plot_transition", "relative_distance", "transition"]
