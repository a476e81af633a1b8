"""Simulations of linear diffusion models, tied to the theory's result schema.

- :func:`ensemble`: exact finite-sample losses and KL (:mod:`lindiff.exact`) over many seeded
  training sets, eigendecomposed in one batched LAPACK call, with means and standard errors;
- :func:`summarize`: the mean and standard error over draws of every per-draw variable.

Seeds: draw i uses ``numpy.random.SeedSequence(seed).spawn(draws)[i]`` (its training set is
``lindiff.exact.draw_data(spectrum, N, seed=that)``); results do not depend on the thread count.
Compare with the theory with :func:`lindiff.validate`.

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
"""

from __future__ import annotations

from ._ensemble import ensemble, summarize

__all__ = ["ensemble", "summarize"]
