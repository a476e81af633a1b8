"""lindiff.jax.kappa: values, implicit-function-theorem derivatives, jit/grad/vmap, fits, bad input.

References are independent of the code under test:

- values: ``lindiff.kappa`` (the C++ solver; must agree to a few ulps);
- first derivatives: central differences of ``lindiff.kappa`` with a tolerance built from the
  Richardson estimate of the truncation error and the solver's own error bound (its residual), and
  the root solved again at 40 digits with ``mpmath.findroot``, differentiated both by the analytic
  implicit-function formulas and by ``mpmath.diff`` of the high-precision root (the two agree to
  ~30 digits, which checks the formulas themselves);
- second derivatives: ``mpmath.diff`` of the high-precision root.
"""

from __future__ import annotations

import doctest
from typing import Any, Callable

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
import mpmath as mp  # noqa: E402

import lindiff  # noqa: E402
import lindiff.jax as lj  # noqa: E402

EPS = float(np.finfo(np.float64).eps)
DPS = 40


@pytest.fixture(autouse=True, scope="module")
def _x64():
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


_PL40 = lindiff.Spectrum.powerlaw(40, k=1.0).eigenvalues
#: (id, eigenvalues, weights, N): below, above and at N = d (where 1 - df2/N -> 0 as z -> 0)
CASES = [
    ("powerlaw N<d", _PL40, None, 20.0),
    ("powerlaw N>d", _PL40, None, 100.0),
    ("powerlaw N=d", _PL40, None, 40.0),
    ("weighted", np.array([0.5, 1.0, 3.0]), np.array([10.0, 20.0, 5.0]), 50.0),
]
ZS = [1e-3, 0.1, 2.0]
CASE_IDS = [c[0] for c in CASES]


def _weights(lam: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return np.ones_like(lam) if w is None else np.asarray(w, dtype=float)


def _ref(z: Any, lam: np.ndarray, w: np.ndarray | None, N: float) -> lindiff.KappaResult:
    return lindiff.kappa(z, lindiff.Spectrum(lam, w), N, strict=True)


def _err_bound(z: float, lam: np.ndarray, w: np.ndarray | None, N: float) -> tuple[float, float]:
    """(kappa, bound on |kappa - exact|) of lindiff.kappa: backward error (the solver's residual,
    at least one ulp) times the scale of the equation over |F'|, plus the rounding of kappa."""
    r = _ref(z, lam, w, N)
    k, ww = float(r.value), _weights(lam, w)
    d = ww.sum()
    scale = abs(z) + abs(k * (1 - d / N)) + k * (d - float(r.df1)) / N
    fprime = abs(1 - float(r.df2) / N)
    return k, max(float(r.residual), EPS) * scale / fprime + EPS * k


# ----------------------------------------------------------------------------- mpmath references


def _mp(x: Any) -> list[mp.mpf]:
    return [mp.mpf(float(v)) for v in np.ravel(x)]


def _mp_root(z: Any, lam: list, w: list, N: Any, start: Any) -> Any:
    """kappa at DPS digits: Newton (mpmath.findroot) from the double-precision root."""
    def F(k):
        return k * (1 - mp.fsum(wi * li / (li + k) for li, wi in zip(lam, w)) / N) - z
    return mp.findroot(F, mp.mpmathify(start))


def _mp_analytic(z: Any, lam: list, w: list, N: Any, k: Any) -> dict[str, Any]:
    """The implicit-function-theorem derivatives at the root k, and the quantities of the bound."""
    r = [li / (li + k) for li in lam]
    q = [k / (li + k) for li in lam]
    df1 = mp.fsum(wi * ri for wi, ri in zip(w, r))
    df2 = mp.fsum(wi * ri**2 for wi, ri in zip(w, r))
    f2 = 2 * mp.fsum(wi * li**2 / (li + k) ** 3 for wi, li in zip(w, lam)) / N   # F''
    fp = 1 - df2 / N
    return {
        "z": 1 / fp,
        "N": -k * df1 / (N**2 * fp),
        "lam": [wi * qi**2 / (N * fp) for wi, qi in zip(w, q)],
        "w": [k * ri / (N * fp) for ri in r],
        "fprime": fp, "f2": f2, "mag": min(1 + abs(df2) / N, abs(1 - sum(w) / N) + abs(sum(w) - df2) / N),
    }


def _mp_tolerance(k: float, kerr: float, an: dict[str, Any], n: int) -> float:
    """Relative error bound of a first derivative formula evaluated in float64 at the solver's kappa.

    The formulas are w q^2/N, kappa r/N, kappa df1/N^2 over F': their logarithmic derivative in kappa
    is at most 2 + kappa |F''| / |F'|, so a relative error e_k of kappa moves them by that much
    times e_k; rounding: sums of n positive terms (relative error <= n eps) and F' formed from
    terms of size ``mag`` (absolute error <= 2 n eps mag). A factor 4 covers second-order terms.
    """
    fp = abs(an["fprime"])
    e_k = kerr / k
    return float(4 * ((3 + k * abs(an["f2"]) / fp) * e_k + 2 * n * EPS * (1 + an["mag"] / fp)))


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_value_equals_lindiff_kappa(case):
    _, lam, w, N = case
    z = np.logspace(-6, 3, 19).reshape(19)
    ref = _ref(z, lam, w, N).value
    got = np.asarray(lj.kappa(z, lam, N, weights=w))
    assert got.dtype == np.float64 and got.shape == z.shape
    assert np.all(np.abs(got - ref) <= 2 * np.spacing(ref))
    got_jit = np.asarray(jax.jit(lambda z: lj.kappa(z, lam, N, weights=w))(z))
    assert np.all(np.abs(got_jit - ref) <= 2 * np.spacing(ref))


def test_value_shapes_and_dtypes():
    z = np.array([[0.1, 1.0, 10.0], [0.2, 2.0, 20.0]])
    k = lj.kappa(z, _PL40, 30.0)
    assert k.shape == (2, 3) and k.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(k), _ref(z, _PL40, None, 30.0).value)
    # integer and float32 inputs are computed in float64
    k1 = lj.kappa(1, _PL40.astype(np.float32), 30)
    assert k1.shape == () and k1.dtype == jnp.float64
    assert float(k1) == float(_ref(1.0, _PL40.astype(np.float32).astype(float), None, 30.0).value)


def test_complex_value_and_derivative():
    zc = np.array([0.5 + 0.1j, 1 - 1j, -0.2 + 0.3j, 3e-3 - 1e-4j])
    ref = _ref(zc, _PL40, None, 30.0)
    got = np.asarray(lj.kappa(zc, _PL40, 30.0))
    assert got.dtype == np.complex128
    assert np.all(np.abs(got - ref.value) <= 4 * EPS * np.abs(ref.value))
    # holomorphic: jvp with dz = 1 is kappa'(z) (and with dz = i it is i kappa'(z))
    f = lambda z: lj.kappa(z, _PL40, 30.0)  # noqa: E731
    jvp_z = jax.jit(lambda z, dz: jax.jvp(f, (z,), (dz,))[1])
    t1 = jvp_z(jnp.asarray(zc), jnp.ones(4, complex))
    ti = jvp_z(jnp.asarray(zc), 1j * jnp.ones(4, complex))
    np.testing.assert_allclose(np.asarray(t1), ref.derivative, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(ti), 1j * ref.derivative, rtol=1e-13)
    # and against mpmath: value, d/dz, d/dN, d/dlambda_0
    mp.mp.dps = DPS
    lam, w, N = _mp(_PL40), [mp.mpf(1)] * 40, mp.mpf(30)
    tN = jax.jit(lambda z: jax.jvp(lambda N_: lj.kappa(z, _PL40, N_), (30.0,), (1.0,))[1])(zc)
    tl = jax.jit(lambda z: jax.jvp(lambda l_: lj.kappa(z, l_, 30.0), (jnp.asarray(_PL40),),
                                   (jnp.zeros(40).at[0].set(1.0),))[1])(zc)
    for i, z in enumerate(zc):
        zm = mp.mpc(z.real, z.imag)
        km = _mp_root(zm, lam, w, N, mp.mpc(got[i].real, got[i].imag))
        an = _mp_analytic(zm, lam, w, N, km)
        assert abs(complex(got[i]) - complex(km)) <= 8 * EPS * abs(km)
        for got_d, want in ((t1[i], an["z"]), (tN[i], an["N"]), (tl[i], an["lam"][0])):
            assert abs(complex(got_d) - complex(want)) <= 1e-12 * abs(want), (z, got_d, want)


# ----------------------------------------------------------------------------- finite differences


def _central_fd(f: Callable[[float], float], err: Callable[[float], float], x: float, h: float) -> tuple[float, float]:
    """Central difference at step h and its error bound.

    D(h) - f' = C h^2 + O(h^4) + R(h), R(h) <= (err(x+h) + err(x-h)) / (2h) (rounding: the error
    bound of each evaluation). D(h) - D(2h) = -3 C h^2 + R(h) - R(2h) estimates C h^2 (Richardson),
    so |D(h) - f'| <= (|D(h) - D(2h)| + R(h) + R(2h)) / 3 + R(h); doubled for the O(h^4) terms.
    """
    def D(step):
        xp, xm = x + step, x - step
        return (f(xp) - f(xm)) / (xp - xm), (err(xp) + err(xm)) / (xp - xm)
    d1, r1 = D(h)
    d2, r2 = D(2 * h)
    return d1, 2 * ((abs(d1 - d2) + r1 + r2) / 3 + r1)


# jitted once (op-by-op execution of the derivative rule compiles every primitive: much slower)
_GRAD = jax.jit(jax.grad(lj.kappa, argnums=(0, 1, 2)))
_GRAD_W = jax.jit(jax.grad(lambda z, l, N, w: lj.kappa(z, l, N, weights=w), argnums=(0, 1, 2, 3)))


def _ad_grads(z: float, lam: np.ndarray, w: np.ndarray | None, N: float) -> dict[str, Any]:
    if w is None:
        gz, gl, gN = _GRAD(z, lam, N)
        gw = None
    else:
        gz, gl, gN, gw = _GRAD_W(z, lam, N, w)
    return {"z": float(gz), "N": float(gN), "lam": np.asarray(gl), "w": None if gw is None else np.asarray(gw)}


def _params(lam: np.ndarray, w: np.ndarray | None) -> list[tuple[str, int | None]]:
    idx = sorted({0, len(lam) // 2, len(lam) - 1})
    out: list[tuple[str, int | None]] = [("z", None), ("N", None)] + [("lam", i) for i in idx]
    if w is not None:
        out += [("w", i) for i in idx]
    return out


def _perturbed(name: str, i: int | None, x: float, z: float, lam: np.ndarray, w: np.ndarray | None, N: float):
    lam2, w2 = lam.copy(), None if w is None else np.asarray(w, dtype=float).copy()
    if name == "z":
        z = x
    elif name == "N":
        N = x
    elif name == "lam":
        lam2[i] = x
    else:
        w2[i] = x
    return z, lam2, w2, N


@pytest.mark.parametrize("z", ZS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_derivatives_match_central_differences(case, z):
    _, lam, w, N = case
    ad = _ad_grads(z, lam, w, N)
    for name, i in _params(lam, w):
        x0 = {"z": z, "N": N}.get(name) if i is None else (lam if name == "lam" else w)[i]
        f = lambda x: float(_ref(*_perturbed(name, i, x, z, lam, w, N)).value)  # noqa: E731
        err = lambda x: _err_bound(*_perturbed(name, i, x, z, lam, w, N))[1]  # noqa: E731
        fd, tol = _central_fd(f, err, float(x0), 2.0**-17 * float(x0))
        got = ad[name] if i is None else ad[name][i]
        assert abs(got - fd) <= tol + 4 * EPS * abs(got), (name, i, got, fd, tol)
        # the check has teeth: the bound is small on the scale kappa / x of the derivative
        assert tol <= 1e-8 * max(abs(got), f(float(x0)) / abs(float(x0))), (name, i, tol)


# ----------------------------------------------------------------------------- mpmath


@pytest.mark.parametrize("z", ZS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_derivatives_match_mpmath(case, z):
    _, lam, w, N = case
    mp.mp.dps = DPS
    ww = _weights(lam, w)
    lm, wm, Nm, zm = _mp(lam), _mp(ww), mp.mpf(N), mp.mpf(z)
    k, kerr = _err_bound(z, lam, w, N)
    km = _mp_root(zm, lm, wm, Nm, k)
    assert abs(k - km) <= kerr
    an = _mp_analytic(zm, lm, wm, Nm, km)
    # the formulas themselves, against mpmath.diff of the high-precision root
    root = lambda zz=zm, ll=lm, w_=wm, NN=Nm: _mp_root(zz, ll, w_, NN, km)  # noqa: E731
    assert abs(mp.diff(lambda x: root(zz=x), zm) - an["z"]) <= mp.mpf(10) ** -30 * abs(an["z"])
    assert abs(mp.diff(lambda x: root(NN=x), Nm) - an["N"]) <= mp.mpf(10) ** -30 * abs(an["N"])
    assert abs(mp.diff(lambda x: root(ll=[x] + lm[1:]), lm[0]) - an["lam"][0]) <= mp.mpf(10) ** -30 * abs(an["lam"][0])
    assert abs(mp.diff(lambda x: root(w_=[x] + wm[1:]), wm[0]) - an["w"][0]) <= mp.mpf(10) ** -30 * abs(an["w"][0])
    # jax against them, every eigenvalue and weight
    rtol = _mp_tolerance(k, kerr, an, len(lam))
    assert rtol < 1e-11
    ad = _ad_grads(z, lam, w, N)
    pairs = [(ad["z"], an["z"]), (ad["N"], an["N"])] + list(zip(ad["lam"], an["lam"]))
    if w is not None:
        pairs += list(zip(ad["w"], an["w"]))
    for got, want in pairs:
        assert abs(got - want) <= rtol * abs(want), (got, want, rtol)


def _k3(p, lam, w):  # kappa as a function of (z, N, lambda_0)
    return lj.kappa(p[0], lam.at[0].set(p[2]), p[1], weights=w)


_HESS = jax.jit(jax.hessian(_k3))
_D3Z = jax.jit(jax.grad(jax.grad(jax.grad(lambda z, lam, N, w: lj.kappa(z, lam, N, weights=w)))))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_second_derivatives_match_mpmath(case):
    _, lam, w, N = case
    z = 0.1
    ww = _weights(lam, w)   # explicit unit weights: the compiled functions are shared by the cases
    mp.mp.dps = DPS
    lm, wm, Nm, zm = _mp(lam), _mp(ww), mp.mpf(N), mp.mpf(z)
    k = float(_ref(z, lam, w, N).value)

    def root(zz, NN, l0):
        return _mp_root(zz, [l0] + lm[1:], wm, NN, k)

    H = np.asarray(_HESS(jnp.array([z, N, lam[0]]), jnp.asarray(lam), jnp.asarray(ww)))
    np.testing.assert_allclose(H, H.T, rtol=1e-13, atol=0)
    x0 = (zm, Nm, lm[0])
    for a in range(3):
        for b in range(a, 3):
            order = [0, 0, 0]
            order[a] += 1
            order[b] += 1
            want = mp.diff(root, x0, tuple(order))
            assert abs(H[a, b] - want) <= 1e-11 * abs(want), (a, b, H[a, b], want)
    # third derivative in z: the rule differentiates again
    d3 = float(_D3Z(z, jnp.asarray(lam), N, jnp.asarray(ww)))
    want3 = mp.diff(lambda x: root(x, Nm, lm[0]), zm, 3)
    assert abs(d3 - want3) <= 1e-10 * abs(want3)


# ----------------------------------------------------------------------------- transformations


def test_vmap_over_every_argument():
    z = jnp.array([1e-3, 0.1, 1.0])
    Ns = jnp.array([20.0, 40.0, 80.0])
    lams = jnp.stack([_PL40, 2 * _PL40, _PL40**2])
    ws = jnp.stack([jnp.ones(40), 2 * jnp.ones(40), jnp.arange(1.0, 41.0)])
    loop = lambda f, xs: np.stack([np.asarray(f(x)) for x in xs])  # noqa: E731
    # z one by one vs the array call
    np.testing.assert_array_equal(np.asarray(jax.vmap(lj.kappa, (0, None, None))(z, _PL40, 30.0)),
                                  np.asarray(lj.kappa(z, _PL40, 30.0)))
    cases = [
        (jax.vmap(lj.kappa, (None, None, 0)), (z, _PL40, Ns), lambda N: lj.kappa(z, _PL40, N), Ns),
        (jax.vmap(lj.kappa, (None, 0, None)), (z, lams, 30.0), lambda l: lj.kappa(z, l, 30.0), lams),
        (jax.vmap(lambda w: lj.kappa(z, _PL40, 30.0, weights=w)), (ws,),
         lambda w: lj.kappa(z, _PL40, 30.0, weights=w), ws),
        (jax.vmap(lj.kappa, (0, 0, 0)), (z, lams, Ns), None, None),
    ]
    for vf, args, single, xs in cases:
        got = np.asarray(jax.jit(vf)(*args))
        want = (np.stack([np.asarray(lj.kappa(z[i], lams[i], Ns[i])) for i in range(3)]) if single is None
                else loop(single, xs))
        np.testing.assert_array_equal(got, want)
    # nested: a (N, z) grid
    grid = jax.vmap(jax.vmap(lj.kappa, (0, None, None)), (None, None, 0))(z, _PL40, Ns)
    np.testing.assert_array_equal(np.asarray(grid), loop(lambda N: lj.kappa(z, _PL40, N), Ns))
    # per-example gradients in N
    g = jax.jit(jax.vmap(jax.grad(lj.kappa, argnums=2), (None, None, 0)))(0.1, _PL40, Ns)
    np.testing.assert_allclose(np.asarray(g), [float(_GRAD(0.1, _PL40, n)[2]) for n in Ns], rtol=1e-15, atol=0)


def test_jit_grad_forward_and_reverse_agree():
    z = jnp.logspace(-3, 1, 6)
    f = lambda lam, N: lj.kappa(z, lam, N)  # noqa: E731
    jf = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(jnp.asarray(_PL40), 30.0)
    jr = jax.jit(jax.jacrev(f, argnums=(0, 1)))(jnp.asarray(_PL40), 30.0)
    for a, b in zip(jf, jr):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-14, atol=0)
    # kappa'(z) of lindiff
    dz = jax.jit(jax.vmap(jax.grad(lj.kappa), (0, None, None)))(z, _PL40, 30.0)
    np.testing.assert_allclose(np.asarray(dz), lindiff.kappa_prime(np.asarray(z), lindiff.Spectrum(_PL40), 30.0),
                               rtol=1e-13)


def test_docstring_examples():
    res = doctest.testmod(lj, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0 and res.attempted > 0


# ----------------------------------------------------------------------------- fits


def test_gradient_descent_recovers_N():
    lam = lindiff.Spectrum.powerlaw(100, k=1.0).eigenvalues
    z = jnp.logspace(-2, 0, 6)
    observed = _ref(np.asarray(z), lam, None, 300.0).value

    def loss(logN):
        return jnp.mean((jnp.log(lj.kappa(z, lam, jnp.exp(logN))) - jnp.log(observed)) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    p = jnp.log(1000.0)
    for _ in range(60):
        L, g = step(p)
        p = p - 4.0 * g
    assert float(jnp.exp(p)) == pytest.approx(300.0, rel=1e-10)
    assert float(L) < 1e-20


def test_gradient_descent_recovers_powerlaw_exponent():
    d, N = 100, 250.0
    nu = jnp.arange(1, d + 1, dtype=jnp.float64)
    eig = lambda k: d * nu**-k / jnp.sum(nu**-k)  # noqa: E731
    z = jnp.logspace(-3, 1, 10)
    observed = _ref(np.asarray(z), np.asarray(eig(1.3)), None, N).value
    step = jax.jit(jax.value_and_grad(
        lambda k: jnp.mean((jnp.log(lj.kappa(z, eig(k), N)) - jnp.log(observed)) ** 2)))
    k = jnp.asarray(0.8)
    for _ in range(60):
        _, g = step(k)
        k = k - 10.0 * g
    assert float(k) == pytest.approx(1.3, rel=1e-9)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"N": 0.0}, "N must be finite and > 0"),
        ({"N": -3.0}, "N must be finite and > 0"),
        ({"N": np.nan}, "N must be finite and > 0"),
        ({"N": [10.0, 20.0]}, r"N must be a scalar \(got shape \(2,\)\)"),
        ({"N": 10 + 0j}, "N must be real"),
        ({"eigenvalues": [1.0, 0.0]}, "eigenvalues must be finite and > 0"),
        ({"eigenvalues": [1.0, -2.0]}, "eigenvalues must be finite and > 0"),
        ({"eigenvalues": [1.0, np.inf]}, "eigenvalues must be finite and > 0"),
        ({"eigenvalues": [[1.0, 2.0]]}, r"eigenvalues must be 1-dimensional \(got shape \(1, 2\)\)"),
        ({"eigenvalues": np.array([])}, "eigenvalues must not be empty"),
        ({"eigenvalues": [1.0 + 1j, 2.0]}, "eigenvalues must be real"),
        ({"weights": [1.0, 2.0, 3.0]}, r"weights must have the shape of eigenvalues"),
        ({"weights": [1.0, 0.0]}, "weights must be finite and > 0"),
        ({"weights": [[1.0, 1.0]]}, "weights must be 1-dimensional"),
        ({"z": 0.0}, "z must be > 0 for real z"),
        ({"z": [1.0, -1.0]}, "z must be > 0 for real z"),
        ({"z": np.nan}, "z must be finite"),
        ({"z": 0j}, "z must be non-zero"),
        ({"z": True}, "z must be a real or complex numeric array"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"z": 0.5, "eigenvalues": [1.0, 2.0], "N": 10.0, **kwargs}
    weights = args.pop("weights", None)
    with pytest.raises(ValueError, match=match):
        lj.kappa(args["z"], args["eigenvalues"], args["N"], weights=weights)


def test_shape_errors_raise_at_trace_time_inside_jit():
    with pytest.raises(ValueError, match="N must be a scalar"):
        jax.jit(lambda N: lj.kappa(0.5, _PL40, N))(jnp.array([10.0, 20.0]))
    with pytest.raises(ValueError, match="eigenvalues must be 1-dimensional"):
        jax.jit(lambda lam: lj.kappa(0.5, lam, 10.0))(jnp.ones((2, 3)))


def test_traced_bad_values_and_non_convergence_give_nan():
    z = jnp.array([0.1, 1.0])
    assert np.all(np.isnan(jax.jit(lj.kappa)(z, _PL40, -1.0)))
    assert np.isnan(float(jax.jit(jax.grad(lj.kappa, argnums=2))(0.1, _PL40, -1.0)))
    assert np.all(np.isnan(jax.jit(lj.kappa)(z, -_PL40, 10.0)))
    assert np.all(np.isnan(jax.jit(lambda z, w: lj.kappa(z, _PL40, 10.0, weights=w))(z, -jnp.ones(40))))
    got = np.asarray(jax.jit(lj.kappa)(jnp.array([-1.0, 1.0]), _PL40, 10.0))   # one bad z: only it
    assert np.isnan(got[0]) and got[1] == float(_ref(1.0, _PL40, None, 10.0).value)
    # complex z on the real support: the solver reports no convergence, kappa is NaN (no warning)
    zc = jnp.array([-0.5 + 0j, 0.5 + 0.5j])
    kc = np.asarray(lj.kappa(zc, _PL40, 20.0))
    assert np.isnan(kc[0]) and np.isfinite(kc[1])


def test_requires_x64():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            lj.kappa(0.5, [1.0, 2.0], 10.0)
    finally:
        jax.config.update("jax_enable_x64", True)
