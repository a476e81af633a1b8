"""The one-point fast path: scalar calls agree with the batch path, validate, warn; the kernel's
serial/parallel switch and the memoised solves change no result."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import lindiff
from lindiff import _core

SPECTRA = {
    "powerlaw100": lambda: lindiff.Spectrum.powerlaw(100, 1.0),
    "powerlaw1000k2": lambda: lindiff.Spectrum.powerlaw(1000, 2.0),
    "weighted": lambda: lindiff.Spectrum.from_eigenvalues([1.0, 3.0], weights=[500, 300]),
    "isotropic": lambda: lindiff.Spectrum(np.ones(4)),
}
FIELDS = ("value", "derivative", "converged", "iterations", "residual", "df1", "df2")


def _same(a: object, b: object) -> bool:
    return bool(a == b) or bool(np.isnan(a) and np.isnan(b))  # type: ignore[call-overload]


@pytest.mark.parametrize("name", sorted(SPECTRA))
@pytest.mark.parametrize("ratio", [0.3, 1.0, 5.0])
@pytest.mark.parametrize("tol, max_iter", [(1e-14, 100), (1e-10, 100), (1e-14, 1)])
def test_scalar_call_is_the_batch_result_bitwise(name: str, ratio: float, tol: float, max_iter: int) -> None:
    spec = SPECTRA[name]()
    N = ratio * spec.d
    rng = np.random.default_rng(7)
    z = np.concatenate([10 ** rng.uniform(-8, 4, 40), 10 ** rng.uniform(-300, 300, 10), [1.0, 1e-300, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lindiff.ConvergenceWarning)
        batch = lindiff.kappa(z, spec, N, tol=tol, max_iter=max_iter)
        for i, zi in enumerate(z):
            one = lindiff.kappa(float(zi), spec, N, tol=tol, max_iter=max_iter)
            for f in FIELDS:
                got, want = getattr(one, f), getattr(batch, f)[i]
                assert _same(got, want), (f, zi, got, want)
            assert one.kappa0 == batch.kappa0
            assert _same(float(lindiff.kappa_prime(float(zi), spec, N, tol=tol, max_iter=max_iter)),
                         batch.derivative[i])


def test_memoised_solves_are_bitwise_the_stateless_kernel() -> None:
    spec = lindiff.Spectrum.powerlaw(300, 1.0)
    z = 10 ** np.random.default_rng(3).uniform(-6, 3, 500)
    h = spec._core_handle
    h.clear_cache()
    assert h.cache_size() == 0
    raw = _core.solve_kappa_real(spec.eigenvalues, None, 120.0, z)
    cold = h.solve_kappa_real(120.0, z)
    assert h.cache_size() > 0
    warm = h.solve_kappa_real(120.0, z)  # every node from the cache
    for a, b, c in zip(raw, cold[:6], warm[:6]):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert cold[6] == warm[6] == _core.kappa0(spec.eigenvalues, None, 120.0)
    h.clear_cache()
    assert h.cache_size() == 0


def test_serial_and_parallel_loops_give_the_same_bits() -> None:
    spec = lindiff.Spectrum.powerlaw(200, 1.0)
    z = 10 ** np.random.default_rng(5).uniform(-8, 4, 3000)
    old_t, old_w = lindiff.get_num_threads(), _core.get_parallel_min_work()
    try:
        lindiff.set_num_threads(2)
        out = []
        for work in (0.0, 1e300):  # always parallel, never parallel
            _core.set_parallel_min_work(work)
            assert _core.get_parallel_min_work() == work
            spec._core_handle.clear_cache()
            r = lindiff.kappa(z, spec, 150.0)
            out.append((r.value, r.derivative, r.residual, r.iterations, spec.df1(z), spec.df2(z)))
        for a, b in zip(*out):
            assert np.array_equal(a, b)
    finally:
        lindiff.set_num_threads(old_t)
        _core.set_parallel_min_work(old_w)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="work must be >= 0"):
            _core.set_parallel_min_work(bad)
    assert _core.get_parallel_min_work() == old_w


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: lindiff.kappa(0.0, s, 10.0), "z must be > 0"),
        (lambda s: lindiff.kappa(-1, s, 10.0), "z must be > 0"),
        (lambda s: lindiff.kappa(np.float64("nan"), s, 10.0), "z must be finite"),
        (lambda s: lindiff.kappa(float("inf"), s, 10.0), "z must be finite"),
        (lambda s: lindiff.kappa(10**400, s, 10.0), "z must be finite"),
        (lambda s: lindiff.kappa(True, s, 10.0), "z must be numeric"),
        (lambda s: lindiff.kappa(1.0, s, 0.0), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, float("nan")), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, float("inf")), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, "10"), "N must be"),
        (lambda s: lindiff.kappa(1.0, s, 10.0, tol=0.0), "tol must be"),
        (lambda s: lindiff.kappa(1.0, s, 10.0, tol=float("nan")), "tol must be"),
        (lambda s: lindiff.kappa(1.0, s, 10.0, max_iter=0), "max_iter must be"),
        (lambda s: lindiff.kappa(1.0, s, 10.0, max_iter=2.5), "max_iter must be"),
        (lambda s: lindiff.kappa(1.0, s, 10.0, backend="tpu"), "backend must be"),
        (lambda s: lindiff.kappa(1.0, "s", 10.0), "spectrum must be"),
        (lambda s: lindiff.kappa_prime(-2.0, s, 10.0), "z must be > 0"),
        (lambda s: lindiff.kappa_prime(1.0, s, -1.0), "N must be"),
        (lambda s: lindiff.kappa0(s, float("inf")), "N must be"),
        (lambda s: s.df1(float("nan")), "kappa must be finite"),
        (lambda s: s.df2(-5), "kappa must be > -min"),
    ],
)
def test_scalar_calls_still_validate(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call(lindiff.Spectrum.powerlaw(20, 1.0))


def test_scalar_nonconvergence_warns_or_raises_with_scalar_result() -> None:
    s = lindiff.Spectrum.powerlaw(100, 1.0)
    with pytest.warns(lindiff.ConvergenceWarning, match="1 of 1 points did not converge"):
        r = lindiff.kappa(0.3, s, 50.0, max_iter=1, tol=1e-300)
    assert r.converged is False and r.n_failed == 1 and not r.all_converged
    with pytest.raises(lindiff.ConvergenceError) as exc:
        lindiff.kappa(0.3, s, 50.0, max_iter=1, tol=1e-300, strict=True)
    assert exc.value.result.converged is False  # type: ignore[attr-defined]
    with pytest.raises(lindiff.ConvergenceError):
        lindiff.kappa_prime(0.3, s, 50.0, max_iter=1, tol=1e-300, strict=True)
    with pytest.warns(lindiff.ConvergenceWarning):
        lindiff.kappa_prime(0.3, s, 50.0, max_iter=1, tol=1e-300)


def test_scalar_df12_and_kappa0_match_the_array_path() -> None:
    s = lindiff.Spectrum.from_eigenvalues([0.5, 2.0, 7.0], weights=[3, 10, 1])
    for k in (1e-300, 0.1, 3, np.float32(2.5), np.int64(4), 1e300, -0.4):
        assert type(s.df1(k)) is np.float64 and type(s.df2(k)) is np.float64
        assert s.df1(k) == s.df1(np.array([k]))[0] and s.df2(k) == s.df2(np.array([k]))[0]
    assert lindiff.kappa0(s, 5.0) == _core.kappa0(s.eigenvalues, s.weights, 5.0)
    assert lindiff.kappa0(s, 5) == lindiff.kappa0(s, np.float64(5.0))
    assert lindiff.kappa0(s, 100.0) == 0.0


def test_scalar_calls_from_threads_share_the_cache_safely() -> None:
    spec = lindiff.Spectrum.powerlaw(5000, 1.0)  # large enough that the one-point call releases the GIL
    z = 10 ** np.random.default_rng(11).uniform(-6, 3, 64)
    want = lindiff.kappa(z, spec, 3000.0).value
    spec._core_handle.clear_cache()
    got = np.empty_like(z)

    def work(idx: range) -> None:
        for i in idx:
            got[i] = lindiff.kappa(float(z[i]), spec, 3000.0).value

    threads = [threading.Thread(target=work, args=(range(j, z.size, 4),)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(got, want)


def test_spectrum_and_its_handle_pickle() -> None:
    import pickle

    for spec in (lindiff.Spectrum.from_eigenvalues([1.0, 2.0], weights=[3, 4]), lindiff.Spectrum.powerlaw(30, 1.0)):
        want = lindiff.kappa(0.5, spec, 5.0)  # fills the memoised solves
        again = pickle.loads(pickle.dumps(spec))
        assert again == spec and lindiff.kappa(0.5, again, 5.0).value == want.value
        h = pickle.loads(pickle.dumps(spec._core_handle))  # the spectrum only: no memoised solves
        assert (h.d, h.trace, h.cache_size()) == (spec._core_handle.d, spec._core_handle.trace, 0)
        assert h.kappa_real1(0.5, 5.0, 1e-14, 100) == spec._core_handle.kappa_real1(0.5, 5.0, 1e-14, 100)
