"""Deterministic-equivalent theory of linear diffusion models (Merger & Goldt).

Everything here takes a :class:`lindiff.Spectrum` (a power law or the user's own), a
:class:`lindiff.Schedule`, and hyper-parameters, and returns labelled results.
"""

from __future__ import annotations

from .laws import kl_law, kl_marchenko_pastur, kl_wishart
from .sampler import SAMPLERS, sampler_gamma, sampler_sigma2
from .static import de_resolvent, static_losses

__all__ = ["SAMPLERS", "de_resolvent", "kl_law", "kl_marchenko_pastur", "kl_wishart", "sampler_gamma", "sampler_sigma2", "static_losses"]
