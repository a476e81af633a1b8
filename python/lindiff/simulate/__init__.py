"""Simulations of linear diffusion models, tied to the theory's result schema.

- :func:`ensemble`: exact finite-sample losses and KL (:mod:`lindiff.exact`) over many seeded
  training sets, eigendecomposed in one batched LAPACK call, with means and standard errors;
- :func:`summarize`: the mean and standard error over draws of every per-draw variable;
- :func:`ensemble_over_d`: theory and ensembles at several dimensions d and fixed N/d in one call,
  the input of :func:`lindiff.validate`'s finite-size extrapolation;
- :func:`train`: really train the per-time denoisers W_t (full-batch GD or SGD) with dense
  matrix products in the C++ kernel, batched over draws x diffusion times;
- :func:`sample`: the linear DDPM sampler with given W_t (trained, closed form or user supplied);
- :class:`LinearModel`, :class:`TrainResult`, :class:`SampleResult`, :func:`gaussian_kl`.

Seeds: draw i uses ``numpy.random.SeedSequence(seed).spawn(draws)[i]`` (its training set is
``lindiff.exact.draw_data(spectrum, N, seed=that)``); kernels use a counter-based RNG, so results
do not depend on the thread count. Compare with the theory with :func:`lindiff.validate`.

Examples
--------
>>> import lindiff
>>> from lindiff import simulate, theory
>>> spec = lindiff.Spectrum.powerlaw(100, k=1.0)
>>> sim = simulate.ensemble(spec, N=200, t=[10, 100, 1000], draws=10)
>>> sim.test_mean.dims, sim.test_sem.dims
(('t',), ('t',))
>>> lindiff.validate(theory.static_losses(spec, 200, t=[10, 100, 1000]), sim).passed
True
>>> res = simulate.train(lindiff.Spectrum.powerlaw(10, k=1.0), N=20, t=[100], eta=0.05, steps=50, draws=2)
>>> float(res.losses.test.isel(eta_tau=0).max())      # W = 0 predicts nothing: loss 1
1.0
"""

from __future__ import annotations

from ._ensemble import ensemble, summarize
from ._over_d import ensemble_over_d
from ._model import LinearModel
from ._sample import SampleResult, gaussian_kl, sample
from ._train import METHODS, TrainResult, train

__all__ = ["METHODS", "LinearModel", "SampleResult", "TrainResult", "ensemble", "ensemble_over_d", "gaussian_kl",
           "sample", "summarize", "train"]
