"""Deterministic-equivalent theory of linear diffusion models (Merger & Goldt).

Everything here takes a :class:`lindiff.Spectrum` (a power law or the user's own), a
:class:`lindiff.Schedule`, and hyper-parameters, and returns labelled results.
"""

from __future__ import annotations

from .gradflow import denoiser_distance, gradflow_losses, optimal_stopping
from .kl import kl, kl_population
from .laws import kl_law, kl_marchenko_pastur, kl_wishart
from .measure import DeMeasure, de_measure, spectral_density
from .sampler import SAMPLERS, sampler_gamma, sampler_sigma2
from .static import de_resolvent, static_losses

__all__ = [
    "SAMPLERS",
    "DeMeasure",
    "de_measure",
    "de_resolvent",
    "denoiser_distance",
    "gradflow_losses",
    "kl",
    "kl_law",
    "kl_marchenko_pastur",
    "kl_population",
    "kl_wishart",
    "optimal_stopping",
    "sampler_gamma",
    "sampler_sigma2",
    "spectral_density",
    "static_losses",
]
