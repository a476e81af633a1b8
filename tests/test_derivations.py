"""Every derivation check, perturbation tests that show the checks can fail, the CLI, and
cross-checks of the derived expressions (lambdified to mpmath) against the C++ kernel."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import time

import mpmath
import numpy as np
import pytest
import sympy as sp

import lindiff
from lindiff import derivations as LD
from lindiff.derivations import check as ck
from lindiff.derivations import losses, memorization, replica
from lindiff.derivations.symbols import N, d, df1, explicit, gam, kappa, qr, z

ALL_CHECKS = [c for m in LD.MODULES for c in LD.build(m).all_checks()]


# ---------------------------------------------------------------------------- every check
@pytest.mark.parametrize("chk", ALL_CHECKS, ids=[c.name for c in ALL_CHECKS])
def test_derivation_check(chk):
    res = chk.run()
    assert res.passed, f"{res.name}: {res.detail}"


def test_every_step_is_checked():
    for m in LD.MODULES:
        D = LD.build(m)
        # the gradient-flow ODE and the GD recursion are definitions (the model), checked through their solutions
        unchecked = [s.key for s in D.steps if not s.checks and s.key not in ("ode", "gd")]
        assert not unchecked, f"{m}: steps without checks: {unchecked}"


def test_run_checks_fast_subset():
    t0 = time.perf_counter()
    res = LD.run_checks(fast=True)
    assert res and all(hasattr(r, "name") and hasattr(r, "passed") and hasattr(r, "detail") for r in res)
    assert all(r.passed for r in res), [r.name for r in res if not r.passed]
    assert len(res) >= 40
    assert time.perf_counter() - t0 < 60  # builds are cached in this process; generous on a loaded machine


def test_check_module_doctests():
    for mod in (ck, LD.symbols, replica, losses):
        r = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert r.failed == 0, mod.__name__


# ---------------------------------------------------------------------------- checks can fail
def _kw(c, key):
    v = c.kwargs[key]
    return v() if isinstance(v, ck.Lazy) else v


def test_numeric_check_catches_wrong_sign():
    c = LD.build("replica").get_check("kappa_prime: 1/(dz/dkappa)")
    assert c.run().passed
    assert not c.run(rhs=-_kw(c, "rhs")).passed
    assert not c.run(rhs=2 * _kw(c, "rhs")).passed          # missing factor


def test_numeric_check_catches_wrong_self_consistent_equation():
    wrong = kappa * (1 + df1(kappa) / N)                   # sign error in the saddle point
    c = LD.build("replica").get_check("envelope")
    assert c.run().passed
    # redo the envelope check with the wrong z(kappa): it must fail
    Phi0 = replica.build().results["action"].subs(replica.epsr, 0)
    wrong3 = explicit(wrong, 3)
    sol = {replica.qhat: z / kappa, replica.qq: kappa * df1(kappa) / z}
    Phi_star = explicit(Phi0.subs(sol), 3)
    lhs = sp.diff(Phi_star.subs(z, wrong3), kappa) / sp.diff(wrong3, kappa)
    rhs = explicit(sp.Sum(kappa / z / (LD.symbols.lam[LD.symbols.nu] + kappa), (LD.symbols.nu, 1, d)), 3).subs(z, wrong3)
    assert not ck.numeric_equal(lhs, rhs).passed


def test_symbolic_check_catches_missing_factor():
    c = LD.build("losses").get_check("L_train(z = q) = 1 - q g")
    assert c.run().passed
    assert not c.run(rhs=1 - 2 * c.kwargs["rhs"]).passed


def test_series_check_catches_wrong_coefficient():
    c = LD.build("kl").get_check("series q/4 + q^2/12")
    assert c.run().passed
    assert not c.run(expected=qr / 4 + qr**2 / 6 + qr**3 / 24).passed
    c2 = LD.build("kl").get_check("kl_fwd_series: from the summed term")
    assert not c2.run(rhs=(d + 1) / (4 * N) + (2 * d**2 + 3 * d + 1) / (24 * N**2)).passed


def test_limit_check_catches_wrong_sign():
    c = LD.build("memorization").get_check("J(1, kappa) = -(1/2) log kappa")
    assert c.run().passed
    assert not c.run(expected=sp.log(kappa) / 2).passed


def test_trusted_check_catches_perturbed_value():
    c = LD.build("memorization").get_check("kappa_star: trusted value solves")
    assert c.run().passed
    pt = dict(c.kwargs["point"])
    with mpmath.workdps(60):
        pt[kappa] = pt[kappa] * (1 + mpmath.mpf("1e-12"))
    assert not c.run(point=pt).passed


def test_residual_series_check_catches_wrong_term():
    c = LD.build("kl").get_check("kl_fwd_series: residual of the exact law")
    assert c.run().passed
    assert not c.run(series=c.kwargs["series"] + 1 / (100 * N**2)).passed


def test_sample_point_is_deterministic_and_name_seeded():
    x, y = sp.symbols("x y", positive=True)
    p1 = ck.sample_point([x, y])
    assert p1 == ck.sample_point([y, x])
    assert ck.sample_point([x, y], index=1) != p1
    xx = sp.Symbol("xx", positive=True)
    assert ck.sample_point([xx])[xx] != p1[x]


# ---------------------------------------------------------------------------- trusted values, CLI, docs
def test_trusted_values_reproduce(tmp_path):
    path = tmp_path / "tv.json"
    new = LD.regenerate_trusted(str(path))
    with open(memorization.TRUSTED_FILE) as fh:
        old = json.load(fh)
    for k, v in new.items():
        if k.startswith("_"):
            continue
        with mpmath.workdps(50):
            assert abs(mpmath.mpf(v) - mpmath.mpf(old[k])) < mpmath.mpf("1e-45"), k


def test_cli_docs_and_check(tmp_path):
    out = tmp_path / "docs"
    r = subprocess.run([sys.executable, "-m", "lindiff.derivations", "--docs", str(out), "--fast",
                        "--check", "--module", "gradflow"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for m in LD.MODULES:
        txt = (out / f"{m}.md").read_text()
        assert "$$" in txt and "| check | status |" in txt
    assert "**FAIL**" not in (out / "replica.md").read_text()
    assert "checks passed" in r.stdout


# ---------------------------------------------------------------------------- cross-checks with the kernel
def _powerlaw(dv: int, k: float) -> np.ndarray:
    lam = np.arange(1, dv + 1, dtype=float) ** (-k)
    return lam / lam.mean()


@pytest.mark.parametrize("Nv", [17.0, 60.0, 250.0])
def test_kernel_kappa_matches_derivation(Nv):
    lam = _powerlaw(60, 1.2)
    spec = lindiff.Spectrum.from_eigenvalues(lam)
    zs = np.array([1e-4, 3e-3, 0.05, 0.7, 4.0, 90.0])
    res = lindiff.kappa(zs, spec, Nv)
    kp = np.asarray(lindiff.kappa_prime(zs, spec, Nv))
    assert np.all(res.converged)
    for zv, kv, kpv in zip(zs, np.asarray(res.value), kp):
        ref = replica.kappa_reference(zv, lam, Nv)
        refp = replica.kappa_prime_reference(zv, lam, Nv)
        assert abs(kv - float(ref)) <= 1e-12 * abs(float(ref)), (zv, kv, ref)
        assert abs(kpv - float(refp)) <= 1e-12 * abs(float(refp)), (zv, kpv, refp)
    if Nv < 60:
        k0 = replica.kappa_reference(1e-40, lam, Nv)
        assert abs(res.kappa0 - float(k0)) <= 1e-12 * float(k0)


def test_kernel_df_matches_derivation():
    lam = _powerlaw(40, 0.8)
    spec = lindiff.Spectrum.from_eigenvalues(lam)
    lam_syms = LD.symbols.eigen_symbols(40)
    f1 = sp.lambdify([kappa] + lam_syms, explicit(df1(kappa), 40), "mpmath")
    f2 = sp.lambdify([kappa] + lam_syms, explicit(LD.symbols.df2(kappa), 40), "mpmath")
    for kv in (1e-3, 0.3, 7.0):
        with mpmath.workdps(50):
            r1 = f1(mpmath.mpf(kv), *[mpmath.mpf(x) for x in lam])
            r2 = f2(mpmath.mpf(kv), *[mpmath.mpf(x) for x in lam])
        assert abs(float(spec.df1(kv)) - float(r1)) <= 1e-12 * float(r1)
        assert abs(float(spec.df2(kv)) - float(r2)) <= 1e-12 * float(r2)


def test_kernel_isotropic_closed_form():
    """Kernel vs the derived quadratic root (lambdified SymPy expression)."""
    k_iso = sp.lambdify((z, gam), replica.build().results["iso_kappa"], "mpmath")
    spec = lindiff.Spectrum.from_eigenvalues([1.0] * 50)
    for Nv in (20.0, 100.0):
        for zv in (1e-3, 0.5, 12.0):
            with mpmath.workdps(50):
                ref = k_iso(mpmath.mpf(zv), mpmath.mpf(50) / mpmath.mpf(Nv))
            got = float(lindiff.kappa(zv, spec, Nv).value)
            assert abs(got - float(ref)) <= 1e-12 * float(ref)


def test_kernel_complex_kappa_satisfies_derived_equation():
    lam = _powerlaw(30, 1.0)
    spec = lindiff.Spectrum.from_eigenvalues(lam)
    Nv = 45.0
    zs = np.array([2.0 + 1.0j, 0.5 + 0.5j, -0.2 + 0.3j, -0.6 + 0.05j])
    res = lindiff.kappa(zs, spec, Nv)
    assert np.all(res.converged)
    for zv, kv in zip(zs, np.asarray(res.value)):
        ref = replica.kappa_reference(complex(zv), lam, Nv, start=complex(kv))
        assert abs(complex(ref) - kv) <= 1e-12 * abs(complex(ref))
        # Herglotz: the DE Stieltjes transform g = (1 - df1/d)/z has Im g of the opposite sign to Im z
        g = (1 - sum(l / (l + complex(ref)) for l in lam) / len(lam)) / complex(zv)
        assert np.sign(g.imag) == -np.sign(zv.imag)
