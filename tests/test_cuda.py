"""The optional CUDA backend. CPU-only machines check the graceful refusal; the GPU tests run
where lindiff was built with LINDIFF_CUDA=ON and a device is present (never needed to pass)."""

from __future__ import annotations

import numpy as np
import pytest

import lindiff

HAVE_CUDA = "cuda" in lindiff.available_backends()
needs_gpu = pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA backend/device: " + lindiff.cuda_device())


def test_backend_selection_without_gpu_is_explicit() -> None:
    s = lindiff.Spectrum.powerlaw(50, 1.0)
    assert "cpu" in lindiff.available_backends()
    with pytest.raises(ValueError, match="backend must be one of"):
        lindiff.kappa(1.0, s, 20, backend="tpu")
    if not HAVE_CUDA:
        with pytest.raises(ValueError, match="backend 'cuda' is not available"):
            lindiff.kappa(1.0, s, 20, backend="cuda")
    # auto never fails, and small problems stay on the CPU
    assert lindiff.kappa(1.0, s, 20, backend="auto").extra["backend"] == "cpu"


@needs_gpu
@pytest.mark.parametrize("ratio", [0.25, 0.6, 1.0, 1.5, 8.0])
@pytest.mark.parametrize("k", [0.0, 1.0, 2.0])
def test_cuda_matches_cpu(k: float, ratio: float) -> None:
    s = lindiff.Spectrum.powerlaw(1000, k)
    z = 10 ** np.random.default_rng(1).uniform(-8, 4, 20000)
    cpu = lindiff.kappa(z, s, ratio * 1000, backend="cpu")
    gpu = lindiff.kappa(z, s, ratio * 1000, backend="cuda")
    assert gpu.all_converged and gpu.extra["backend"] == "cuda"
    # both are backward-stable to tol = 1e-14 plus the rounding of the spectral sums themselves
    # (the GPU sums sequentially: up to d eps for d equal terms, k = 0); the forward difference is
    # bounded by that times the condition number (|z| + |kappa (1 - d/N)| + kappa (d - df1)/N) / (kappa F')
    N = ratio * 1000
    kap = cpu.value
    scale = z + kap * abs(1 - 1000 / N) + kap * (1000 - s.df1(kap)) / N
    cond = scale * cpu.derivative / kap
    backward = 2 * 1e-14 + 1000 * np.finfo(float).eps
    assert np.all(np.abs(gpu.value / kap - 1) <= backward * cond + 4e-16)
    np.testing.assert_allclose(gpu.derivative, cpu.derivative, rtol=1e-10)
    assert np.all(gpu.residual <= 1e-14)


@needs_gpu
def test_cuda_weighted_spectrum_and_closed_form() -> None:
    from lindiff.reference import kappa_isotropic

    s = lindiff.Spectrum.from_eigenvalues([1.0], weights=[10**6])
    z = np.logspace(-8, 4, 1000)
    gpu = lindiff.kappa(z, s, 3e5, backend="cuda")
    np.testing.assert_allclose(gpu.value, kappa_isotropic(z, 1e6, 3e5), rtol=1e-13)


@needs_gpu
def test_cuda_bad_input_is_value_error() -> None:
    s = lindiff.Spectrum.powerlaw(10, 1.0)
    with pytest.raises(ValueError, match="z must be > 0"):
        lindiff.kappa([1.0, -1.0], s, 5, backend="cuda")
