"""Merger & Goldt, *Generalization Dynamics of Linear Diffusion Models*: one section per figure.

Each section runs at the paper's own parameters (its caption's d, N, k, c), shows the
deterministic-equivalent theory as smooth curves on a fine grid and seeded simulations as points,
and validates theory against simulation with :func:`lindiff.validate` (a finite-size fit over
several d where the theory is exact only as d -> inf).
"""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path
from typing import Any

import numpy as np

from .._lazy import lazy_module
from . import _common as cm
from ._common import Section

xr = lazy_module("xarray")

PAPER = "merger-goldt"


def _fine(lo: float, hi: float, points: int, d: int, gap: tuple[float, float] = (0.9, 1.2)) -> list[float]:
    """A geometric N grid from lo d to hi d without the hard edge N ~ d (N/d in ``gap`` left out)."""
    r = np.geomspace(lo, hi, int(points))
    r = r[(r < gap[0]) | (r > gap[1])]
    return sorted(set(np.round(r * d, 6).tolist()))


def _spec(k: float, d: int) -> Any:
    from ..spectrum import Spectrum

    return Spectrum.powerlaw(int(d), float(k))


# ================================================================== Fig. 1h: test and train loss vs N

def _settings_fig1h(quick: bool) -> dict[str, Any]:
    return dict(d=100, k=[0.0, 1.0, 2.0], theory_range=[0.1, 10.0], theory_points=41 if quick else 81,
                ratios_sim=[0.2, 0.5, 2.0, 5.0] if quick else [0.1, 0.2, 0.5, 0.8, 1.5, 2.0, 5.0, 10.0],
                draws=10 if quick else 40, fit_dims=[20, 50, 100], seed=1)


def _loss_curve_point(k: float, d: int, N: list[float]) -> Any:
    """Fig. 1h theory at one k: t-averaged DE test and train loss on a fine N grid."""
    from ..theory import static_losses

    th = static_losses(_spec(k, d), N).mean("t")
    return th[["test", "train", "optimum"]]


def _loss_fit_point(k: float, d: int, d_main: int, ratios: list[float], draws: int,
                    seed: np.random.SeedSequence) -> Any:
    """Fig. 1h at one (k, d) of the fit: DE and ensemble summaries of the t-averaged losses and the
    denoiser distance test - optimum (Fig. 5a) at the simulated N/d."""
    from ..simulate import ensemble
    from ..theory import static_losses

    spec = _spec(k, d)
    N = cm.sample_sizes(ratios, d)
    n = cm.fit_draws(draws, d_main, d)
    th = static_losses(spec, [float(x) for x in N]).mean("t")
    th["distance"] = th.test - th.optimum
    parts = []
    for one in N:                       # one N at a time: draws x all t stays small
        sim = ensemble(spec, [one], draws=n, seed=seed)
        parts.append(xr.Dataset({"test": sim.test.mean("t"), "train": sim.train.mean("t"),
                                 "distance": (sim.test - sim.optimum).mean("t")}))
    return cm.theory_and_summary(th, xr.concat(parts, "N"), ["test", "train", "distance"], d, n)


def _compute_fig1h(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    dims = cm.check_fit_dims(s["fit_dims"], d)
    curves = cm.sweep_grid(_loss_curve_point, {"k": s["k"]}, dict(d=d, N=_fine(*s["theory_range"],
                           s["theory_points"], d, (0.999, 1.001))), ex, workers, progress, None, "fig1h theory")
    fit = cm.sweep_grid(_loss_fit_point, {"k": s["k"], "d": dims},
                        dict(d_main=d, ratios=s["ratios_sim"], draws=int(s["draws"])), ex, workers, progress,
                        s["seed"], "fig1h simulation")
    for x in (curves, fit):
        x.attrs.update(d=d, draws=int(s["draws"]), seed=int(s["seed"]))
    checks = [(f"k = {k:g}, t-averaged test and train loss",
               cm.validate_over_d(fit, {"k": k}, {"test": "test", "train": "train"})) for k in s["k"]]
    return {"data": {"fig1h_theory": curves, "fig1h_simulation": fit}, "checks": checks}


def _errorbars(ax: Any, x: Any, mean: Any, sem: Any, **kw: Any) -> None:
    kw.setdefault("ls", "none")
    ax.errorbar(np.asarray(x, dtype=float), np.asarray(mean, dtype=float), yerr=np.asarray(sem, dtype=float),
                ms=5, capsize=2, **kw)


def _figures_fig1h(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    cur, fit = data["fig1h_theory"], data["fig1h_simulation"]
    d = int(cur.attrs["d"])
    fig, ax = plt.subplots(figsize=(7.0, 5.2))
    for i, k in enumerate(cur.k.values):
        one, sim = cur.sel(k=k), fit.sel(k=k, d=d)
        x = one.N.values / d
        ax.plot(x, one.test.values, "-", color=f"C{i}", lw=2, label=f"test, k = {k:g} (theory)")
        ax.plot(x, one.train.values, "--", color=f"C{i}", lw=1.5, label=f"train, k = {k:g} (theory)")
        _errorbars(ax, sim.N_over_d, sim.sim_test_mean, sim.sim_test_sem, fmt="o", color=f"C{i}")
        _errorbars(ax, sim.N_over_d, sim.sim_train_mean, sim.sim_train_sem, fmt="s", mfc="white", color=f"C{i}")
    ax.plot([], [], "ko", label="simulation (test ●, train ○), mean ± s.e.")
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    cm.log_axes(ax)
    ax.set_xlabel("N / d  (training-set size over dimension)")
    ax.set_ylabel("loss per dimension, t-averaged (t = 1..1000)")
    cm.legend_outside(fig, [ax], ncol=3)
    cap = (f"Merger & Goldt Fig. 1h: test and train loss of the least-squares linear denoiser vs N, d = {d}, "
           f"λ_ν ∝ ν^-k (Tr Σ/d = 1), k ∈ {{0, 1, 2}}, c = 0; lines: deterministic equivalent; points: "
           f"{fit.attrs['draws']} seeded training sets at d = {d}")
    return [cm.save(fig, out, "fig1h_losses_vs_N.png", cap, legend_rows=3)]


def _table_fig1h(data: dict[str, Any]) -> str:
    fit = data["fig1h_simulation"]
    d = int(fit.attrs["d"])
    one = fit.sel(d=d)
    head = ["k", "loss"] + [f"N/d = {r:g}" for r in one.N_over_d.values]
    rows = []
    for k in one.k.values:
        for v in ("test", "train"):
            p = one.sel(k=k)
            rows.append([f"{k:g}", v] + [f"{cm.g(float(t))} / {cm.g(float(m))} ± {cm.g(float(e), 2)}" for t, m, e in
                                         zip(p[f"th_{v}"].values, p[f"sim_{v}_mean"].values, p[f"sim_{v}_sem"].values)])
    return (f"t-averaged loss per dimension at d = {d}, theory / simulation mean ± s.e. "
            f"({fit.attrs['draws']} training sets):\n\n" + cm.md_table(head, rows))


FIG1H = Section(
    "fig1h", PAPER, "Merger & Goldt Fig. 1h: test and train loss vs N (d = 100, k ∈ {0, 1, 2})",
    "Theory: `lindiff.theory.static_losses(Spectrum.powerlaw(100, k), N).mean('t')`. Simulation: "
    "`lindiff.simulate.ensemble` (exact losses of seeded training sets). Validation: `lindiff.validate` over "
    "d in fit_dims at the same N/d (finite-size fit, see below).",
    _settings_fig1h, _compute_fig1h, _figures_fig1h, _table_fig1h)


# ====================================================== Fig. 1l and Fig. 2: KL vs N for c in {0, 1e-4, 1e-2}

def kl_curve(spec: Any, ratios: list[float], c: list[float]) -> Any:
    """The KL per dimension shown as a theory curve, on N/d = ``ratios``: the DE with its finite-d
    correction (``theory.kl(finite_d=True)``) for N >= 1.2 d, the plain DE below d (finite for c > 0),
    with the N = inf floor of each c (``theory.kl_population``) as ``floor_fwd``."""
    from ..theory import kl, kl_population

    d = int(spec.d)
    N = np.asarray(ratios, dtype=float) * d
    parts = []
    lo, hi = N[N < 0.95 * d], N[N >= 1.2 * d]
    if lo.size:
        parts.append(kl(spec, lo, c)[["kl_fwd", "kl_rev"]])
    if hi.size:
        parts.append(kl(spec, hi, c, finite_d=True)[["kl_fwd", "kl_rev"]])
    out = xr.concat(parts, "N").drop_vars([v for v in ("eta_tau",) if v in xr.concat(parts, "N").coords])
    out = cm.by_ratio(out.assign_coords(N=N[(N < 0.95 * d) | (N >= 1.2 * d)]), d)
    out["floor_fwd"] = kl_population(spec, c).kl_fwd
    return out


def _settings_fig2(quick: bool) -> dict[str, Any]:
    return dict(d=100, k=[0.0, 1.0, 2.0], c=[0.0, 1e-4, 1e-2], theory_range=[0.1, 100.0],
                theory_points=50 if quick else 100,
                ratios_sim=[1.5, 4.0, 20.0, 100.0] if quick else [1.5, 2.0, 4.0, 10.0, 30.0, 100.0],
                draws=10 if quick else 40, fit_dims=[20, 50, 100], seed=3)


def _kl_curve_point(k: float, d: int, ratios: list[float], c: list[float]) -> Any:
    return kl_curve(_spec(k, d), ratios, c)


def _kl_fit_point(k: float, d: int, d_main: int, ratios: list[float], c: list[float], draws: int,
                  seed: np.random.SeedSequence) -> Any:
    """Fig. 2 at one (k, d) of the fit: the plain DE KL and ensemble summaries at the simulated N/d."""
    from ..simulate import ensemble
    from ..theory import kl

    spec = _spec(k, d)
    N = cm.sample_sizes(ratios, d)
    n = cm.fit_draws(draws, d_main, d)
    th = kl(spec, [float(x) for x in N], c)
    sim = ensemble(spec, N, c, t=[1], draws=n, seed=seed)
    return cm.theory_and_summary(th, sim, ["kl_fwd", "kl_rev"], d, n)


def _compute_fig2(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    dims = cm.check_fit_dims(s["fit_dims"], d)
    ratios = np.geomspace(*s["theory_range"], int(s["theory_points"])).tolist()
    curves = cm.sweep_grid(_kl_curve_point, {"k": s["k"]}, dict(d=d, ratios=ratios, c=s["c"]), ex, workers,
                           progress, None, "fig2 theory")
    fit = cm.sweep_grid(_kl_fit_point, {"k": s["k"], "d": dims},
                        dict(d_main=d, ratios=s["ratios_sim"], c=s["c"], draws=int(s["draws"])), ex, workers,
                        progress, s["seed"], "fig2 simulation")
    for x in (curves, fit):
        x.attrs.update(d=d, draws=int(s["draws"]), seed=int(s["seed"]))
    checks = [(f"k = {k:g}, KL both directions, c ∈ {{{', '.join(f'{c:g}' for c in s['c'])}}}",
               cm.validate_over_d(fit, {"k": k}, {"kl_fwd": "kl_fwd", "kl_rev": "kl_rev"})) for k in s["k"]]
    return {"data": {"fig2_theory": curves, "fig2_simulation": fit}, "checks": checks}


def _kl_panels(axes: Any, cur: Any, sim: Any, d: int, n_sim: Any = None) -> None:
    """KL vs N/d, KL 4N/d and (KL - floor) 4N/d of one spectrum, one style per c (three axes)."""
    from ..theory import kl_law

    law_x = np.geomspace(1.2, float(cur.N_over_d.max()), 50)
    axes[0].plot(law_x, kl_law(d, law_x * d)[0], "k-", lw=0.8, alpha=0.6, label="d/(4N)")
    for c in cur.c.values:
        st = cm.c_style(float(c))
        mk = st.pop("marker")
        one = cur.sel(c=c)
        x, y, fl = one.N_over_d.values, one.kl_fwd.values, float(one.floor_fwd)
        ok = np.isfinite(y)
        line = axes[0].plot(x[ok], y[ok], label=f"c = {c:g} (theory)", **st)[0]
        col = line.get_color()
        axes[0].axhline(fl, color=col, lw=0.8, ls=(0, (1, 3)))
        big = ok & (x >= 1.2)
        axes[1].plot(x[big], y[big] * 4 * x[big], color=col, **st)
        axes[2].plot(x[big], (y[big] - fl) * 4 * x[big], color=col, **st)
        if sim is not None:
            ss = sim.sel(c=c)
            xs, m, e = ss.N_over_d.values, ss.sim_kl_fwd_mean.values, ss.sim_kl_fwd_sem.values
            kw = dict(fmt=mk, color=col, mfc="white" if float(c) > 0 else col, label=f"c = {c:g} (simulation)")
            _errorbars(axes[0], xs, m, e, **kw)
            _errorbars(axes[1], xs, m * 4 * xs, e * 4 * xs, **{**kw, "label": None})
            _errorbars(axes[2], xs, (m - fl) * 4 * xs, e * 4 * xs, **{**kw, "label": None})
    cm.log_axes(axes[0])
    axes[0].set_ylabel("KL(gen ‖ data) / d")
    for ax, lab in ((axes[1], "KL · 4N/d"), (axes[2], "(KL − floor(c)) · 4N/d")):
        cm.log_axes(ax, y=False)
        ax.axhline(1.0, color="k", lw=0.8, alpha=0.6)
        ax.set_ylabel(lab)
    for ax in axes:
        ax.set_xlabel("N / d")


def _figures_fig2(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    cur, fit = data["fig2_theory"], data["fig2_simulation"]
    d = int(cur.attrs["d"])
    ks = list(cur.k.values)
    fig, axes = plt.subplots(len(ks), 3, figsize=(14.0, 3.6 * len(ks)), squeeze=False)
    for i, k in enumerate(ks):
        _kl_panels(axes[i], cur.sel(k=k), fit.sel(k=k, d=d), d)
        axes[i, 0].set_title(f"k = {k:g}" + (" (Σ = I, Fig. 2a-b)" if k == 0 else ""), fontsize="medium")
        for ax in axes[i, 1:]:
            ax.set_title(f"k = {k:g}", fontsize="medium")
    cm.legend_outside(fig, [axes[0, 0]], ncol=4)
    cap = (f"Merger & Goldt Fig. 1l (c = 1e-4, k = 1) and Fig. 2 (c ∈ {{0, 1e-4, 1e-2}}): KL(gen ‖ data) per dimension "
           f"vs N, d = {d}, λ_ν ∝ ν^-k; middle: KL·4N/d, right: (KL − floor(c))·4N/d with floor(c) the N = ∞ KL "
           f"at that c (dotted levels, left), both → 1 (the d/(4N) law). Lines: DE with its finite-d correction "
           f"(N ≥ 1.2d; plain DE for N < d), points: {fit.attrs['draws']} seeded training sets at d = {d}")
    return [cm.save(fig, out, "fig2_kl_vs_N.png", cap, legend_rows=2)]


def _table_fig2(data: dict[str, Any]) -> str:
    cur, fit = data["fig2_theory"], data["fig2_simulation"]
    d = int(fit.attrs["d"])
    r = float(fit.N_over_d.max())
    rows = []
    for k in fit.k.values:
        for c in fit.c.values:
            th = float(cur.kl_fwd.sel(k=k, c=c).sel(N_over_d=r, method="nearest"))
            fl = float(cur.floor_fwd.sel(k=k, c=c))
            sm = fit.sel(k=k, c=c, d=d, N_over_d=r)
            m, e = float(sm.sim_kl_fwd_mean), float(sm.sim_kl_fwd_sem)
            rows.append([f"{k:g}", f"{c:g}", cm.g(fl, 3), cm.g(th * 4 * r), f"{cm.g(m * 4 * r)} ± {cm.g(e * 4 * r, 2)}",
                         cm.g((th - fl) * 4 * r), f"{cm.g((m - fl) * 4 * r)} ± {cm.g(e * 4 * r, 2)}"])
    head = ["k", "c", "floor(c) = KL at N = ∞", "KL·4N/d theory", "simulation", "(KL − floor)·4N/d theory",
            "simulation"]
    return (f"At N = {r:g} d (d = {d}; theory: DE + finite-d correction; simulation: mean ± s.e. of "
            f"{fit.attrs['draws']} training sets):\n\n" + cm.md_table(head, rows))


FIG2 = Section(
    "fig2", PAPER, "Merger & Goldt Fig. 1l and Fig. 2: KL vs N for c ∈ {0, 1e-4, 1e-2} (d = 100)",
    "Theory: `lindiff.theory.kl(spec, N, c, finite_d=True)` (N > d; the plain DE for N < d) and the floor "
    "`lindiff.theory.kl_population(spec, c)` (c is the same argument in both). Simulation: "
    "`lindiff.simulate.ensemble(spec, N, c)`. Validation: the plain DE against ensembles over d in fit_dims "
    "(finite-size fit).",
    _settings_fig2, _compute_fig2, _figures_fig2, _table_fig2)


# ============================================================ Fig. 1m-o: KL for real-data spectra

_PAPER_PANEL = {"mnist": "Fig. 1n (MNIST)", "fashion_mnist": "Fashion-MNIST (not in the paper)",
                "digits": "sklearn digits (not in the paper)"}
NOT_SHIPPED = {"celeba": "Fig. 1m (CelebA)", "cifar10": "Fig. 1o (CIFAR-10)"}


def _settings_fig1mo(quick: bool) -> dict[str, Any]:
    return dict(real=["mnist", "fashion_mnist", "digits"], c=[1e-4], theory_range=[0.1, 100.0],
                theory_points=30 if quick else 60, ratios_sim=[2.0, 10.0, 50.0] if quick else [1.5, 2.0, 4.0],
                sim_max_d=64 if quick else 784, draws=10, seed=5)  # full: mnist-size ensembles


def _real_point(spectrum: str, ratios: list[float], ratios_sim: list[float], c: list[float], sim_max_d: int,
                draws: int, seed: np.random.SeedSequence) -> Any:
    """Fig. 1m-o for one shipped spectrum: the KL curve, its floor, and (d <= sim_max_d) ensembles with
    the finite-d-corrected theory at the simulated N."""
    from .. import spectra
    from ..simulate import ensemble
    from ..theory import kl

    spec = spectra.load(spectrum)
    d = int(spec.d)
    out = kl_curve(spec, ratios, c)
    N = [int(round(r * d)) for r in ratios_sim]
    th = kl(spec, [float(x) for x in N], c, finite_d=True)
    sim_vars = {"sim_kl_fwd": np.full((draws, len(N), len(c)), np.nan)}
    if d <= sim_max_d:
        sim_vars["sim_kl_fwd"] = ensemble(spec, N, c, t=[1], draws=draws, seed=seed).kl_fwd.values
    extra = xr.Dataset({"th_kl_fwd": (("N_over_d_sim", "c"), th.kl_fwd.values),
                        "sim_kl_fwd": (("draw", "N_over_d_sim", "c"), sim_vars["sim_kl_fwd"]),
                        "d": d}, coords={"N_over_d_sim": ratios_sim, "c": c, "draw": np.arange(draws)})
    return out.merge(extra)


def _compute_fig1mo(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    ratios = np.geomspace(*s["theory_range"], int(s["theory_points"])).tolist()
    ds = cm.sweep_grid(_real_point, {"spectrum": s["real"]},
                       dict(ratios=ratios, ratios_sim=s["ratios_sim"], c=s["c"], sim_max_d=int(s["sim_max_d"]),
                            draws=int(s["draws"])), ex, workers, progress, s["seed"], "fig1m-o")
    ds = cm.with_summary(ds)
    ds.attrs.update(draws=int(s["draws"]), seed=int(s["seed"]))
    checks = []
    for name in s["real"]:
        one = ds.sel(spectrum=name)
        if np.all(np.isfinite(one.sim_kl_fwd.values)):
            th = xr.Dataset({"kl_fwd": one.th_kl_fwd}, attrs={"d": float(one.d)})
            checks.append((f"{name} (d = {int(one.d)}), DE + finite-d correction",
                           cm.validate(th, xr.Dataset({"kl_fwd": one.sim_kl_fwd}))))
    return {"data": {"fig1mo_real_spectra": ds}, "checks": checks}


def _figures_fig1mo(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    ds = data["fig1mo_real_spectra"]
    names = list(ds.spectrum.values)
    fig, axes = plt.subplots(3, len(names), figsize=(4.8 * len(names), 10.5), squeeze=False)
    for j, name in enumerate(names):
        one = ds.sel(spectrum=name)
        d = int(one.d)
        sim = None
        if np.all(np.isfinite(one.sim_kl_fwd_mean.values)):
            sim = xr.Dataset({"sim_kl_fwd_mean": one.sim_kl_fwd_mean, "sim_kl_fwd_sem": one.sim_kl_fwd_sem}
                             ).rename(N_over_d_sim="N_over_d")
        _kl_panels(axes[:, j], one, sim, d)
        axes[0, j].set_title(f"{_PAPER_PANEL.get(str(name), str(name))}, d = {d}", fontsize="medium")
    cm.legend_outside(fig, [axes[0, 0]], ncol=4)
    cap = ("Merger & Goldt Fig. 1m-o: KL(gen ‖ data) per dimension vs N for Σ from real images (shipped spectra; "
           "CelebA (1m) and CIFAR-10 (1o) are not shipped), c = 1e-4; rows: KL, KL·4N/d, (KL − floor)·4N/d. "
           "Lines: DE + finite-d correction; points: seeded training sets (where d ≤ "
           f"{s['sim_max_d']})")
    return [cm.save(fig, out, "fig1mo_kl_real_spectra.png", cap, legend_rows=1)]


def _table_fig1mo(data: dict[str, Any]) -> str:
    ds = data["fig1mo_real_spectra"]
    rows = []
    for name in ds.spectrum.values:
        one = ds.sel(spectrum=name)
        for r in one.N_over_d_sim.values:
            p = one.sel(N_over_d_sim=r).isel(c=0)
            m, e = float(p.sim_kl_fwd_mean), float(p.sim_kl_fwd_sem)
            rows.append([str(name), str(int(one.d)), f"{r:g}", cm.g(float(p.th_kl_fwd)),
                         "not simulated (d > sim_max_d)" if not np.isfinite(m) else f"{cm.g(m)} ± {cm.g(e, 2)}",
                         cm.g(float(p.th_kl_fwd) * 4 * r)])
    head = ["spectrum", "d", "N/d", "KL/d theory (DE + finite d)", "simulation", "KL·4N/d theory"]
    missing = "; ".join(f"{v}: not shipped" for v in NOT_SHIPPED.values())
    return (f"c = {float(ds.c.values[0]):g}. {missing}. To add one: compute its eigenvalues with "
            "`lindiff.spectra.from_array(images.reshape(n, -1))` (a `Spectrum`, see docs/spectra.md) and call "
            "`lindiff.theory.kl(spec, N, c=1e-4, finite_d=True)`.\n\n" + cm.md_table(head, rows))


FIG1MO = Section(
    "fig1mo", PAPER, "Merger & Goldt Fig. 1m-o: KL vs N for real-data spectra (c = 1e-4)",
    "Spectra: `lindiff.spectra.load(name)` (shipped: mnist, fashion_mnist, digits). Theory: "
    "`lindiff.theory.kl(spec, N, c=1e-4, finite_d=True)`; floor `lindiff.theory.kl_population`. Simulation "
    "`lindiff.simulate.ensemble` where d ≤ sim_max_d; one d, no spectrum family to extrapolate in, so the check "
    "is a one-d z-test against the finite-d-corrected value.",
    _settings_fig1mo, _compute_fig1mo, _figures_fig1mo, _table_fig1mo)


# ============================================= Fig. 3 and Fig. 4: gradient flow, early stopping, data loss

def _eta_tau(s: dict[str, Any]) -> list[float]:
    return np.append(np.geomspace(*s["eta_tau_range"], int(s["eta_tau_points"])), np.inf).tolist()


def _gf_curve_point(k: float, c: float, d: int, N: list[float], eta_tau: list[float], t: list[int],
                    variables: list[str]) -> Any:
    """Gradient-flow DE losses at one (k, c): t-averaged (``<v>_avg``) and at the selected t."""
    from ..theory import gradflow_losses

    gf = gradflow_losses(_spec(k, d), N, eta_tau, c)
    out = xr.Dataset({f"{v}_avg": gf[v].mean("t") for v in variables})
    return out.merge(xr.Dataset({v: gf[v].sel(t=t) for v in variables}))


def _stopping_point(k: float, d: int, N: list[float]) -> Any:
    """eta*tau* of the t-averaged test loss (the default search range 1e-3..1e7)."""
    from ..theory import optimal_stopping

    return optimal_stopping(_spec(k, d), N)[["eta_tau", "test_min", "train_at_min", "test_inf"]]


def _gf_fit_point(k: float, d: int, d_main: int, ratios: list[float], eta_tau: list[float], t: list[int],
                  draws: int, variables: list[str], seed: np.random.SeedSequence) -> Any:
    """The gradient-flow theory against exact gradient-flow ensembles at one (k, d) of the fit."""
    from ..simulate import ensemble
    from ..theory import gradflow_losses

    spec = _spec(k, d)
    N = cm.sample_sizes(ratios, d)
    n = cm.fit_draws(draws, d_main, d)
    th = gradflow_losses(spec, [float(x) for x in N], eta_tau, t=t)
    sim = ensemble(spec, N, eta_tau=eta_tau, t=t, draws=n, seed=seed)
    return cm.theory_and_summary(th, sim, variables, d, n)


def _gf_validation(s: dict[str, Any], variables: list[str], ex: cf.Executor | None, workers: int | None,
                   progress: bool, label: str) -> tuple[Any, list[tuple[str, Any]]]:
    dims = cm.check_fit_dims(s["fit_dims"], int(s["d_sim"]))
    val = cm.sweep_grid(_gf_fit_point, {"k": s["k_sim"], "d": dims},
                        dict(d_main=int(s["d_sim"]), ratios=s["ratios_sim"], eta_tau=s["eta_tau_sim"],
                             t=cm.T_SELECTED, draws=int(s["draws"]), variables=variables), ex, workers, progress,
                        s["seed"], label)
    val.attrs.update(d_sim=int(s["d_sim"]), draws=int(s["draws"]), seed=int(s["seed"]))
    checks = [(f"k = {k:g}, gradient flow: {', '.join(variables)} at t ∈ {{1, 100, 500}}",
               cm.validate_over_d(val, {"k": k}, {v: v for v in variables})) for k in s["k_sim"]]
    return val, checks


def _settings_fig3(quick: bool) -> dict[str, Any]:
    return dict(d=1000, N_over_d=0.6, k_curves=[0.0, 0.5, 1.0, 1.5, 2.0], c=[0.0, 1e-4, 1e-2], k_c=[0.0, 1.0],
                eta_tau_points=20 if quick else 60, eta_tau_range=[1e-2, 1e5],
                k_stop=[0.0, 0.5, 1.0, 1.5, 2.0] if quick else [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
                ratios_stop=[0.2, 0.4, 0.6, 0.8], ratios_h=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
                d_sim=80 if quick else 200, fit_dims=[20, 40, 80] if quick else [50, 100, 200],
                k_sim=[1.0] if quick else [0.0, 1.0, 2.0], ratios_sim=[0.2, 0.6] if quick else [0.2, 0.4, 0.6, 0.8],
                eta_tau_sim=np.geomspace(1e-1, 1e4, 6).tolist(), draws=12 if quick else 40, seed=2)


def _compute_fig3(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    N = [float(round(s["N_over_d"] * d))]
    fixed = dict(d=d, N=N, eta_tau=_eta_tau(s), t=cm.T_SELECTED, variables=["test"])
    by_k = cm.sweep_grid(_gf_curve_point, {"k": s["k_curves"], "c": [0.0]}, fixed, ex, workers, progress, None,
                         "fig3a-d theory")
    by_c = cm.sweep_grid(_gf_curve_point, {"k": s["k_c"], "c": s["c"]}, fixed, ex, workers, progress, None,
                         "fig3e-f theory")
    Ns = sorted({float(round(r * d)) for r in list(s["ratios_stop"]) + list(s["ratios_h"])})
    stop = cm.sweep_grid(_stopping_point, {"k": s["k_stop"]}, dict(d=d, N=Ns), ex, workers, progress, None,
                         "fig3g-h optimal stopping")
    val, checks = _gf_validation(s, ["test", "train"], ex, workers, progress, "fig3 simulation")
    for x in (by_k, by_c, stop):
        x.attrs.update(d=d)
    return {"data": {"fig3_by_k": by_k, "fig3_by_c": by_c, "fig3_optimal_stopping": stop, "fig3_validation": val},
            "checks": checks}


def _gf_axes(ax: Any, da: Any, hue: str, styles: Any, label: Any, star: Any = None) -> None:
    """Loss vs eta*tau, one line per ``hue`` value; tau = inf as a dotted level; optional stars."""
    for i, h in enumerate(da[hue].values):
        one = da.sel({hue: h})
        et = one.eta_tau.values
        fin = np.isfinite(et)
        line = ax.plot(et[fin], one.values[fin], label=label(h), **styles(i, h))[0]
        if np.any(~fin):
            ax.axhline(float(one.values[~fin][0]), color=line.get_color(), ls=(0, (1, 3)), lw=0.9)
        if star is not None:
            e, v = star(h)
            if np.isfinite(e):
                ax.plot([e], [v], "*", ms=11, color=line.get_color(), mec="k", mew=0.5)
    cm.log_axes(ax)
    ax.set_xlabel("η τ  (learning rate × training time)")


def _figures_fig3(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    by_k, by_c, stop = data["fig3_by_k"], data["fig3_by_c"], data["fig3_optimal_stopping"]
    d, N = int(by_k.attrs["d"]), float(by_k.N.values[0])
    figs = []
    fig, axes = plt.subplots(1, 4, figsize=(17.0, 4.6))
    kst = lambda i, h: dict(color=f"C{i}", lw=1.8)  # noqa: E731
    klab = lambda h: f"k = {h:g}"  # noqa: E731
    for ax, (t, da) in zip(axes, [("avg", by_k.test_avg)] + [(t, by_k.test.sel(t=t)) for t in cm.T_SELECTED]):
        one = da.sel(c=0.0, N=N)
        star = (lambda h: (float(stop.eta_tau.sel(k=h, N=N)), float(stop.test_min.sel(k=h, N=N)))) if t == "avg" \
            else None
        _gf_axes(ax, one, "k", kst, klab, star)
        ax.set_ylabel("test loss per dimension" + (", t-averaged" if t == "avg" else f" at t = {t}"))
        ax.set_title("Fig. 3a: t-averaged (★ η τ*)" if t == "avg" else f"Fig. 3b-d: t = {t}", fontsize="medium")
    cm.legend_outside(fig, [axes[0]], ncol=5)
    cap = (f"Merger & Goldt Fig. 3a-d: test loss of gradient flow vs η τ, d = {d}, N = {N:g} = "
           f"{N / d:g} d, λ_ν ∝ ν^-k, c = 0 (DE theory; dotted levels: τ = ∞, the least-squares minimiser)")
    figs.append(cm.save(fig, out, "fig3a-d_test_vs_eta_tau.png", cap, legend_rows=1))
    fig, axes = plt.subplots(1, len(by_c.k), figsize=(6.0 * len(by_c.k), 4.6), squeeze=False)
    for ax, k in zip(axes[0], by_c.k.values):
        cst = lambda i, h: {kk: v for kk, v in cm.c_style(h).items() if kk != "marker"} | {"color": f"C{i}"}  # noqa: E731
        _gf_axes(ax, by_c.test_avg.sel(k=k, N=N), "c", cst, lambda h: f"c = {h:g}")
        ax.set_ylabel("test loss per dimension, t-averaged")
        ax.set_title(f"k = {k:g}", fontsize="medium")
    cm.legend_outside(fig, [axes[0, 0]], ncol=3)
    cap = f"Merger & Goldt Fig. 3e-f: the same with ridge c ∈ {{0, 1e-4, 1e-2}}, d = {d}, N = {N / d:g} d"
    figs.append(cm.save(fig, out, "fig3e-f_ridge.png", cap, legend_rows=1))
    figs.append(_figure_fig3gh(stop, s, out))
    return figs


def _figure_fig3gh(stop: Any, s: dict[str, Any], out: Path) -> tuple[str, str]:
    import matplotlib.pyplot as plt

    d = int(stop.attrs["d"])
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.6))
    for i, r in enumerate(s["ratios_stop"]):
        axes[0].plot(stop.k.values, stop.eta_tau.sel(N=float(round(r * d))).values, "o-", color=f"C{i}",
                     label=f"N/d = {r:g}")
    for i, k in enumerate(s["k_curves"][::2]):
        Ns = [float(round(r * d)) for r in s["ratios_h"]]
        axes[1].plot(np.asarray(Ns) / d, stop.eta_tau.sel(k=k, N=Ns).values, "s--", color=f"C{i + 4}",
                     label=f"k = {k:g}")
    axes[0].set_xlabel("k  (power-law exponent of the spectrum)")
    axes[1].set_xlabel("N / d")
    for ax, title in zip(axes, ("Fig. 3g: η τ* vs k", "Fig. 3h: η τ* vs N/d")):
        ax.set_yscale("log")
        ax.set_ylabel("η τ*  (optimal stopping time, t-averaged test loss)")
        ax.set_title(title, fontsize="medium")
        ax.legend(fontsize="small", loc="upper left", frameon=False)
    cap = f"Merger & Goldt Fig. 3g-h: optimal training time η τ* (DE theory), d = {d}"
    return cm.save(fig, out, "fig3g-h_optimal_stopping.png", cap, legend_rows=0)


def _table_fig3(data: dict[str, Any]) -> str:
    st = data["fig3_optimal_stopping"]
    d = int(st.attrs["d"])
    Ns = [n for n in st.N.values if round(n / d, 6) in (0.2, 0.4, 0.6, 0.8)]
    head = ["k"] + [f"N/d = {n / d:g}: η τ* (test at τ*, at τ = ∞)" for n in Ns]
    rows = [[f"{k:g}"] + [f"{cm.g(float(st.eta_tau.sel(k=k, N=n)))} ({cm.g(float(st.test_min.sel(k=k, N=n)))}, "
                          f"{cm.g(float(st.test_inf.sel(k=k, N=n)))})" for n in Ns] for k in st.k.values]
    return f"Optimal stopping time of gradient flow for the t-averaged test loss, d = {d}:\n\n" + cm.md_table(head, rows)


def _figures_fig3_all(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    return _figures_fig3(data, s, out) + [_figure_gf_validation(data["fig3_validation"], ["test", "train"], "fig3",
                                                                out)]


def _figure_gf_validation(val: Any, variables: list[str], name: str, out: Path) -> tuple[str, str]:
    """Theory (lines) against the exact gradient-flow ensembles (points) at t = 100, at the main d_sim."""
    import matplotlib.pyplot as plt

    d = int(val.attrs["d_sim"])
    ks = list(val.k.values)
    fig, axes = plt.subplots(1, len(ks), figsize=(5.6 * len(ks), 4.4), squeeze=False)
    for ax, k in zip(axes[0], ks):
        one = val.sel(k=k, d=d, t=100)
        for j, v in enumerate(variables):
            for i, r in enumerate(one.N_over_d.values):
                p = one.sel(N_over_d=r)
                ax.plot(p.eta_tau.values, p[f"th_{v}"].values, ["-", "--"][j], color=f"C{i}",
                        label=f"{v}, N/d = {r:g} (theory)")
                _errorbars(ax, p.eta_tau.values, p[f"sim_{v}_mean"].values, p[f"sim_{v}_sem"].values,
                           fmt="os"[j], color=f"C{i}", mfc="white" if j else f"C{i}")
        cm.log_axes(ax)
        ax.set_xlabel("η τ")
        ax.set_ylabel("loss per dimension at t = 100")
        ax.set_title(f"k = {k:g}", fontsize="medium")
    cm.legend_outside(fig, [axes[0, 0]], ncol=4)
    cap = (f"Validation of the gradient-flow theory: lines DE at d = {d}, points exact gradient-flow ensembles "
           f"({val.attrs['draws']} training sets), t = 100")
    return cm.save(fig, out, f"{name}_validation.png", cap, legend_rows=2)


FIG3 = Section(
    "fig3", PAPER, "Merger & Goldt Fig. 3: early stopping (d = 1000, N = 0.6 d; η τ* vs k and N/d)",
    "Curves and η τ*: `lindiff.theory.gradflow_losses(spec, N, eta_tau, c)`, `lindiff.theory.optimal_stopping` "
    "(t-averaged) at d = 1000. Validation: the same theory against exact gradient-flow ensembles "
    "(`lindiff.simulate.ensemble(eta_tau=...)`) at the small d of fit_dims, t in {1, 100, 500}, finite-size fit.",
    _settings_fig3, _compute_fig3, _figures_fig3_all, _table_fig3)


def _settings_fig4(quick: bool) -> dict[str, Any]:
    return dict(d=1000, k=[0.0, 1.0, 2.0], ratios=[0.2, 0.6, 1.5, 5.0], eta_tau_points=20 if quick else 60,
                eta_tau_range=[1e-2, 1e5], d_sim=80 if quick else 200, fit_dims=[20, 40, 80] if quick else [50, 100, 200],
                k_sim=[1.0] if quick else [0.0, 1.0, 2.0], ratios_sim=[0.2, 1.5] if quick else [0.2, 0.6, 1.5, 5.0],
                eta_tau_sim=np.geomspace(1e-1, 1e4, 6).tolist(), draws=12 if quick else 40, seed=6)


_DATA_VARS = ["test", "data_noise", "data_ridge"]


def _compute_fig4(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    N = [float(round(r * d)) for r in s["ratios"]]
    cur = cm.sweep_grid(_gf_curve_point, {"k": s["k"], "c": [0.0]},
                        dict(d=d, N=N, eta_tau=_eta_tau(s), t=cm.T_SELECTED, variables=_DATA_VARS), ex, workers,
                        progress, None, "fig4 theory")
    cur.attrs.update(d=d)
    val, checks = _gf_validation(s, ["data_noise", "data_ridge"], ex, workers, progress, "fig4 simulation")
    return {"data": {"fig4_theory": cur, "fig4_validation": val}, "checks": checks}


def _figures_fig4(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    cur = data["fig4_theory"].sel(c=0.0)
    d = int(data["fig4_theory"].attrs["d"])
    ks = list(cur.k.values)
    fig, axes = plt.subplots(2, len(ks), figsize=(5.4 * len(ks), 8.4), squeeze=False)
    nlab = lambda h: f"N/d = {h / d:g}"  # noqa: E731
    for j, k in enumerate(ks):
        one = cur.sel(k=k)
        _gf_axes(axes[0, j], one.test_avg, "N", lambda i, h: dict(color=f"C{i}", lw=1.8), nlab)
        _gf_axes(axes[1, j], one.data_noise_avg, "N", lambda i, h: dict(color=f"C{i}", lw=1.8),
                 lambda h: f"{nlab(h)}: x̂₀ from the noise predictor")
        _gf_axes(axes[1, j], one.data_ridge_avg, "N", lambda i, h: dict(color=f"C{i}", lw=1.4, ls="--"),
                 lambda h: f"{nlab(h)}: ridge data predictor")
        axes[0, j].set_title(f"Fig. 4{'abc'[j]}: noise-prediction loss, k = {k:g}", fontsize="medium")
        axes[1, j].set_title(f"Fig. 4{'def'[j]}: data-prediction loss, k = {k:g}", fontsize="medium")
        axes[0, j].set_ylabel("test loss per dimension, t-averaged")
        axes[1, j].set_ylabel("loss on x₀ per dimension, t-averaged")
    cm.legend_outside(fig, [axes[1, 0]], ncol=4)
    cap = (f"Merger & Goldt Fig. 4: test loss vs η τ for increasing N/d (top) and the loss of predicting the data x₀ "
           f"(bottom: solid (b²/a²)·test of the noise predictor, dashed a ridge data predictor trained by gradient "
           f"flow for the same η τ), d = {d}, λ_ν ∝ ν^-k, c = 0; DE theory (`gradflow_losses`), dotted: τ = ∞")
    return [cm.save(fig, out, "fig4_loss_vs_eta_tau.png", cap, legend_rows=2),
            _figure_gf_validation(data["fig4_validation"], ["data_noise", "data_ridge"], "fig4", out)]


def _table_fig4(data: dict[str, Any]) -> str:
    cur = data["fig4_theory"].sel(c=0.0)
    d = int(data["fig4_theory"].attrs["d"])
    rows = []
    for k in cur.k.values:
        for n in cur.N.values:
            one = cur.sel(k=k, N=n)
            row = [f"{k:g}", f"{n / d:g}"]
            for v in _DATA_VARS:
                y = one[f"{v}_avg"]
                fin = y.sel(eta_tau=np.isfinite(y.eta_tau.values))
                i = int(np.argmin(fin.values))
                row.append(f"{cm.g(float(fin.values[i]))} at η τ = {cm.g(float(fin.eta_tau.values[i]), 3)} "
                           f"(τ = ∞: {cm.g(float(y.sel(eta_tau=np.inf)))})")
            rows.append(row)
    head = ["k", "N/d", "min test loss", "min data loss (noise predictor)", "min data loss (ridge predictor)"]
    return f"Minima over the η τ grid of the t-averaged losses, d = {d}:\n\n" + cm.md_table(head, rows)


FIG4 = Section(
    "fig4", PAPER, "Merger & Goldt Fig. 4: noise- and data-prediction loss along gradient flow (d = 1000)",
    "Theory: `lindiff.theory.gradflow_losses(spec, N, eta_tau)` variables `test`, `data_noise` ((b²/a²)·test, "
    "x₀ reconstructed from the noise predictor) and `data_ridge` (a separately trained ridge data predictor, "
    "gradient flow for the same η τ). Validation: `data_noise`, `data_ridge` against exact gradient-flow "
    "ensembles (`lindiff.simulate.ensemble(eta_tau=...)`) at small d, finite-size fit.",
    _settings_fig4, _compute_fig4, _figures_fig4, _table_fig4)


# ======================================== Fig. 5a, b: distance to the reference denoiser, nearest training point

def _settings_fig5(quick: bool) -> dict[str, Any]:
    return dict(d=100, k=[1.0], theory_range=[0.1, 10.0], theory_points=40 if quick else 80,
                ratios_sim=[0.5, 2.0] if quick else [0.1, 0.2, 0.5, 0.8, 1.5, 2.0, 5.0, 10.0],
                draws=6 if quick else 40, fit_dims=[20, 50, 100], seed=7,
                N_nearest=[25, 400] if quick else [10, 20, 50, 100, 200, 500, 1000, 2000],
                n_samples=100 if quick else 400, draws_nearest=1 if quick else 3)


def _distance_curve_point(k: float, d: int, N: list[float]) -> Any:
    from ..theory import denoiser_distance

    return xr.Dataset({"distance": denoiser_distance(_spec(k, d), N).mean("t")})


def _nearest_point(N: int, d: int, k: float, n_samples: int, draws: int, seed: np.random.SeedSequence) -> Any:
    """Fig. 5b for the linear model: distance of generated samples (and of fresh data) to the nearest
    training point, per draw (medians over the samples), and the nearest-neighbour-test fraction."""
    from ..exact import draw_data
    from ..simulate import LinearModel, sample

    spec = _spec(k, d)
    out = {v: np.empty(draws) for v in ("gen_nearest", "data_nearest", "frac_memorized")}
    for i, ss in enumerate(seed.spawn(draws)):
        s_train, s_fresh, s_gen = ss.spawn(3)
        X, S = draw_data(spec, int(N), seed=s_train)
        res = sample(LinearModel.closed_form(X, sigma=S), int(n_samples), seed=s_gen)
        fresh, _ = draw_data(spec, int(n_samples), seed=s_fresh)
        d2 = (fresh**2).sum(0)[:, None] + (X**2).sum(0)[None, :] - 2.0 * fresh.T @ X
        out["gen_nearest"][i] = np.median(res.nearest_distance) / np.sqrt(d)
        out["data_nearest"][i] = np.median(np.sqrt(np.maximum(d2.min(1), 0.0))) / np.sqrt(d)
        out["frac_memorized"][i] = float(np.mean(res.nearest_ratio < 1.0 / 3.0))
    return xr.Dataset({v: ("draw", x) for v, x in out.items()}, coords={"draw": np.arange(draws)})


def _compute_fig5(s: dict[str, Any], ex: cf.Executor | None, workers: int | None, progress: bool) -> dict[str, Any]:
    d = int(s["d"])
    dims = cm.check_fit_dims(s["fit_dims"], d)
    curves = cm.sweep_grid(_distance_curve_point, {"k": s["k"]},
                           dict(d=d, N=_fine(*s["theory_range"], s["theory_points"], d)), ex, workers, progress,
                           None, "fig5a theory")
    fit = cm.sweep_grid(_loss_fit_point, {"k": s["k"], "d": dims},
                        dict(d_main=d, ratios=s["ratios_sim"], draws=int(s["draws"])), ex, workers, progress,
                        s["seed"], "fig5a simulation")
    near = cm.sweep_grid(_nearest_point, {"N": s["N_nearest"]},
                         dict(d=d, k=float(s["k"][0]), n_samples=int(s["n_samples"]), draws=int(s["draws_nearest"])),
                         ex, workers, progress, s["seed"], "fig5b sampling")
    near = cm.with_summary(near)
    for x in (curves, fit, near):
        x.attrs.update(d=d, draws=int(s["draws"]), seed=int(s["seed"]))
    checks = [(f"k = {k:g}, denoiser distance (t-averaged)", cm.validate_over_d(fit, {"k": k}, {"distance": "distance"}))
              for k in s["k"]]
    return {"data": {"fig5a_theory": curves, "fig5a_simulation": fit[["th_distance", "sim_distance_mean",
                                                                        "sim_distance_sem", "draws"]],
                     "fig5b_nearest": near}, "checks": checks}


def _figures_fig5(data: dict[str, Any], s: dict[str, Any], out: Path) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    cur, fit, near = data["fig5a_theory"], data["fig5a_simulation"], data["fig5b_nearest"]
    d = int(cur.attrs["d"])
    k = float(cur.k.values[0])
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.8))
    one, sim = cur.sel(k=k), fit.sel(k=k, d=d)
    axes[0].plot(one.N.values / d, one.distance.values, "-", color="C0", lw=2, label="theory (DE)")
    _errorbars(axes[0], sim.N_over_d, sim.sim_distance_mean, sim.sim_distance_sem, fmt="s", color="C0",
               label=f"simulation ({fit.attrs['draws']} training sets)")
    cm.log_axes(axes[0])
    axes[0].set_xlabel("N / d")
    axes[0].set_ylabel("E‖(W_t − W_ref) x_t‖² / d, t-averaged")
    axes[0].set_title("Fig. 5a: distance to the reference denoiser", fontsize="medium")
    x = near.N.values / d
    for v, mk, ls, lab in (("gen_nearest", "o", "-", "generated sample → nearest training point"),
                           ("data_nearest", "s", "--", "fresh data point → nearest training point")):
        _errorbars(axes[1], x, near[f"{v}_mean"], np.nan_to_num(near[f"{v}_sem"].values), fmt=mk, ls=ls, label=lab)
    cm.log_axes(axes[1], y=False)
    axes[1].set_xlabel("N / d")
    axes[1].set_ylabel("median nearest distance / √d")
    axes[1].set_title("Fig. 5b (linear model): similarity to the training set", fontsize="medium")
    for ax in axes:
        ax.legend(fontsize="small", frameon=False, loc="best")
    cap = (f"Merger & Goldt Fig. 5a-b for the linear model: d = {d}, λ_ν ∝ ν^-{k:g}, least-squares denoisers "
           f"(τ = ∞), c = 0; 5b: {s['n_samples']} samples of the DDPM sampler per training set, "
           f"{s['draws_nearest']} training set(s) per N")
    return [cm.save(fig, out, "fig5_denoiser_distance_nearest.png", cap, legend_rows=0)]


def _table_fig5(data: dict[str, Any]) -> str:
    near = data["fig5b_nearest"]
    d = int(near.attrs["d"])
    rows = [[str(int(n)), f"{n / d:g}", cm.g(float(near.gen_nearest_mean.sel(N=n)), 3),
             cm.g(float(near.data_nearest_mean.sel(N=n)), 3), f"{float(near.frac_memorized_mean.sel(N=n)):.2f}"]
            for n in near.N.values]
    head = ["N", "N/d", "generated → nearest / √d", "fresh data → nearest / √d", "fraction memorized (ratio < 1/3)"]
    return ("Fig. 5b, linear model (no theory: nothing to validate):\n\n" + cm.md_table(head, rows))


FIG5 = Section(
    "fig5", PAPER, "Merger & Goldt Fig. 5a-b: the linear model's denoiser distance and nearest training points",
    "5a: `lindiff.theory.denoiser_distance(spec, N)` (= test − population optimum, the excess-loss identity) "
    "against `lindiff.simulate.ensemble` (test − optimum per draw), finite-size fit over d. 5b: "
    "`lindiff.simulate.LinearModel.closed_form` + `lindiff.simulate.sample` (`nearest_distance`, "
    "`nearest_ratio`), against fresh data's nearest distance.",
    _settings_fig5, _compute_fig5, _figures_fig5, _table_fig5)

SECTIONS = (FIG1H, FIG2, FIG1MO, FIG3, FIG4, FIG5)
