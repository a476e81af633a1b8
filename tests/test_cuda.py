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


# ---------------------------------------------------------------------- simulator (train / sample)
# lindiff._cuda.train_gd / train_sgd / sample_ddpm run the algorithms of lindiff._core's with the
# same Philox streams; only the order of floating-point sums differs (and the last bits of the
# device's log / sin / cos inside Box-Muller).
SCH = lindiff.Schedule.linear()


def _problem(d: int, N: int, draws: int, full_sigma: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = 1.0 / np.arange(1, d + 1)
    if full_sigma:
        Q = np.linalg.qr(rng.standard_normal((draws, d, d)))[0]
        sigma = np.einsum("bij,j,bkj->bik", Q, s, Q)
        X = np.einsum("bij,j,bjn->bin", Q, np.sqrt(s), rng.standard_normal((draws, d, N)))
    else:
        sigma = s
        X = np.sqrt(s)[None, :, None] * rng.standard_normal((draws, d, N))
    C = np.einsum("bin,bjn->bij", X, X) / N
    C = 0.5 * (C + np.swapaxes(C, 1, 2))
    tidx = np.array([0, 9, 199, 999])
    return X, C, sigma, SCH.a2[tidx], SCH.b2[tidx]


def _keys(draws: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=(draws, 2), dtype=np.uint32)


def _assert_train_close(gpu, cpu, rtol: float) -> None:
    Wg, tg, rg, dg = gpu
    Wc, tc, rc, dc = cpu
    assert Wg.shape == Wc.shape and tg.shape == tc.shape and rg.shape == rc.shape
    assert dg.dtype == np.int64 and dg.shape == dc.shape
    np.testing.assert_array_equal(dg, dc)
    scale = np.max(np.abs(Wc), axis=(-2, -1), keepdims=True, initial=0.0, where=np.isfinite(Wc))
    np.testing.assert_allclose(Wg, Wc, rtol=rtol, atol=rtol * np.broadcast_to(scale, Wc.shape).max())
    np.testing.assert_allclose(tg, tc, rtol=rtol, atol=0)
    np.testing.assert_allclose(rg, rc, rtol=rtol, atol=0)


@needs_gpu
@pytest.mark.parametrize("full_sigma", [False, True])
@pytest.mark.parametrize("d, c", [(7, 0.0), (7, 0.05), (70, 0.01)])   # one tile; several partial tiles
def test_cuda_train_gd_matches_cpu(d: int, c: float, full_sigma: bool) -> None:
    from lindiff import _core, _cuda

    _, C, sigma, a2, b2 = _problem(d, 2 * d, 3, full_sigma)
    rec = np.array([0, 1, 5, 17, 40], np.int64)
    args = (C, sigma, a2, b2, c, 0.2, rec)
    cpu, gpu = _core.train_gd(*args), _cuda.train_gd(*args)
    _assert_train_close(gpu, cpu, 1e-12)
    assert np.all(gpu[3] == -1)
    gpu2 = _cuda.train_gd(*args)                  # deterministic reductions: bitwise reproducible
    for a, b in zip(gpu, gpu2):
        np.testing.assert_array_equal(a, b)


@needs_gpu
@pytest.mark.parametrize("full_sigma", [False, True])
@pytest.mark.parametrize("d, N, m", [(7, 12, 1), (7, 12, 5), (40, 50, 33)])
def test_cuda_train_sgd_matches_cpu(d: int, N: int, m: int, full_sigma: bool) -> None:
    from lindiff import _core, _cuda

    X, C, sigma, a2, b2 = _problem(d, N, 2, full_sigma, seed=3)
    rec = np.array([0, 3, 10, 30], np.int64)
    args = (X, C, sigma, a2, b2, 0.01, 0.05, rec, m, _keys(2))
    cpu, gpu = _core.train_sgd(*args), _cuda.train_sgd(*args)
    _assert_train_close(gpu, cpu, 1e-9)
    assert np.all(gpu[3] == -1)
    gpu2 = _cuda.train_sgd(*args)
    for a, b in zip(gpu, gpu2):
        np.testing.assert_array_equal(a, b)
    # other keys, other minibatches
    assert not np.allclose(_cuda.train_sgd(*args[:-1], _keys(2, seed=2))[0], gpu[0])


@needs_gpu
def test_cuda_train_divergence_freezes_like_cpu() -> None:
    from lindiff import _core, _cuda

    X, C, sigma, a2, b2 = _problem(6, 10, 2, False)
    rec = np.arange(0, 61, 4, dtype=np.int64)
    # GD: eta far beyond 1 / m_max; every W_t that diverges is frozen at the same record
    args = (C, sigma, a2, b2, 0.0, 3.0, rec)
    with np.errstate(all="ignore"):
        cpu, gpu = _core.train_gd(*args, divergence_threshold=1e3), _cuda.train_gd(*args, divergence_threshold=1e3)
    assert np.any(cpu[3] >= 0)
    np.testing.assert_array_equal(gpu[3], cpu[3])
    keep = int(cpu[3][cpu[3] >= 0].min())
    np.testing.assert_allclose(gpu[1][:, :keep + 1], cpu[1][:, :keep + 1], rtol=1e-9)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-9, equal_nan=True)
    # SGD: a diverged W_t stops, and its later records repeat the last values
    sargs = (X, C, sigma, a2, b2, 0.0, 2.0, rec, 4, _keys(2))
    with np.errstate(all="ignore"):
        cpu = _core.train_sgd(*sargs, divergence_threshold=1e3)
        gpu = _cuda.train_sgd(*sargs, divergence_threshold=1e3)
    assert np.any(cpu[3] >= 0)
    np.testing.assert_array_equal(gpu[3], cpu[3])
    for b, k in zip(*np.nonzero(gpu[3] >= 0)):
        r = gpu[3][b, k]
        for out in (gpu[1], gpu[2]):
            np.testing.assert_array_equal(out[b, r:, k], out[b, r, k])
        np.testing.assert_allclose(gpu[1][b, :r + 1, k], cpu[1][b, :r + 1, k], rtol=1e-6)


@needs_gpu
@pytest.mark.parametrize("n, block", [(300, 128), (257, 50), (5, 128)])
@pytest.mark.parametrize("d", [6, 45])
def test_cuda_sample_ddpm_matches_cpu(d: int, n: int, block: int) -> None:
    from lindiff import _core, _cuda
    from lindiff.theory.sampler import sampler_sigma2

    sch = lindiff.Schedule.linear(T=30)
    rng = np.random.default_rng(4)
    W = rng.standard_normal((30, d, d)) / np.sqrt(d) + np.eye(d) * sch.b[:, None, None]
    sig = np.sqrt(sampler_sigma2(sch, "ddpm"))
    sig[0] = 0.0                                               # the sigma_t == 0 branch
    key = np.array([12345, 678], np.uint32)
    cpu = _core.sample_ddpm(W, sch.beta, sch.b, sig, key, n, block)
    gpu = _cuda.sample_ddpm(W, sch.beta, sch.b, sig, key, n, block)
    assert gpu.shape == (d, n)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-9, atol=1e-9 * np.max(np.abs(cpu)))
    np.testing.assert_array_equal(_cuda.sample_ddpm(W, sch.beta, sch.b, sig, key, n, block), gpu)


@needs_gpu
def test_cuda_simulator_bad_input_is_value_error() -> None:
    from lindiff import _core, _cuda

    X, C, sigma, a2, b2 = _problem(4, 6, 2, False)
    rec = np.array([0, 5], np.int64)
    keys = _keys(2)
    gd_bad = [
        (C[0], sigma, a2, b2, 0.0, 0.1, rec),
        (C, np.ones(3), a2, b2, 0.0, 0.1, rec),
        (C, sigma, a2, b2[:2], 0.0, 0.1, rec),
        (C, sigma, a2, b2, -1.0, 0.1, rec),
        (C, sigma, a2, b2, 0.0, 0.0, rec),
        (C, sigma, a2, b2, 0.0, 0.1, np.array([1, 5])),
        (C, sigma, a2, b2, 0.0, 0.1, np.array([0, 5, 5])),
        (C, sigma, a2, b2, 0.0, 0.1, np.array([0])),
    ]
    sgd_bad = [
        (X[:, :3], C, sigma, a2, b2, 0.0, 0.1, rec, 2, keys),
        (X, C, sigma, a2, b2, 0.0, 0.1, rec, 0, keys),
        (X, C, sigma, a2, b2, 0.0, 0.1, rec, 2, keys[:1]),
    ]
    W = np.zeros((5, 4, 4))
    z5, key = np.full(5, 0.1), np.array([1, 2], np.uint32)
    sample_bad = [
        (np.zeros((5, 4, 3)), z5, z5, z5, key, 10, 128),
        (W, z5, z5, z5, np.array([1], np.uint32), 10, 128),
        (W, z5, z5, z5, key, 0, 128),
        (W, np.full(4, 0.1), z5, z5, key, 10, 128),
        (W, z5, z5, z5[:3], key, 10, 128),
        (W, z5, z5, z5, key, 10, 0),
    ]
    for name, cases in (("train_gd", gd_bad), ("train_sgd", sgd_bad), ("sample_ddpm", sample_bad)):
        for args in cases:
            with pytest.raises(ValueError) as cpu_err:
                getattr(_core, name)(*args)
            with pytest.raises(ValueError) as gpu_err:
                getattr(_cuda, name)(*args)
            assert str(gpu_err.value) == str(cpu_err.value), (name, args)


@needs_gpu
@pytest.mark.parametrize("method", ["gd", "sgd"])
def test_cuda_python_api_train_and_sample(method: str) -> None:
    from lindiff import simulate

    spec = lindiff.Spectrum.powerlaw(12, k=1.0)
    kw = dict(t=[5, 100, 900], method=method, eta=0.02, steps=40, draws=2, seed=7, record_every=10)
    cpu = simulate.train(spec, 20, backend="cpu", **kw)
    gpu = simulate.train(spec, 20, backend="cuda", **kw)
    rtol = 1e-12 if method == "gd" else 1e-9
    np.testing.assert_allclose(gpu.W, cpu.W, rtol=rtol, atol=rtol * np.max(np.abs(cpu.W)))
    for name in ("test", "train"):
        np.testing.assert_allclose(gpu.losses[name].values, cpu.losses[name].values, rtol=rtol)
    np.testing.assert_array_equal(gpu.losses.diverged.values, cpu.losses.diverged.values)

    X, S = lindiff.exact.draw_data(spec, 30, seed=0)
    model = simulate.LinearModel.closed_form(X, lindiff.Schedule.linear(T=50), sigma=S)
    a = simulate.sample(model, 400, seed=3, backend="cpu")
    b = simulate.sample(model, 400, seed=3, backend="cuda")
    np.testing.assert_allclose(b.samples, a.samples, rtol=1e-9, atol=1e-9 * np.max(np.abs(a.samples)))
