"""Deterministic-equivalent theory of linear diffusion models (Merger & Goldt).

Everything here takes a :class:`lindiff.Spectrum` (a power law or the user's own), a
:class:`lindiff.Schedule`, and hyper-parameters, and returns labelled results.
"""

from __future__ import annotations

from .sampler import SAMPLERS, sampler_gamma, sampler_sigma2

__all__ = ["SAMPLERS", "sampler_gamma", "sampler_sigma2"]
