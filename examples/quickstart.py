"""Theory vs simulation for a power-law spectrum: losses and the KL of the sampler (Merger & Goldt).

1. Deterministic-equivalent (DE) test/train loss of the least-squares denoisers against the exact
   finite-sample losses of seeded training sets (mean ± standard error), compared cell by cell
   with ``lindiff.validate``.
2. The KL divergence per dimension of the sampler, KL(N(0, Sigma_gen) || N(0, Sigma)), for N > d:
   simulation, the DE with its finite-d correction, the exact Wishart value and the d/(4N) law.

    python examples/quickstart.py            # d = 200, 20 draws (~15 s on 2 cores)
    python examples/quickstart.py --quick    # d = 50, 10 draws (a few seconds)

Exit status 0 when the validation passes and every DE KL lies within 3 standard errors or 2/d
(relative) of the simulation.
"""

from __future__ import annotations

import argparse

import numpy as np

import lindiff
from lindiff import simulate, theory


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="d = 50, 10 draws")
    ap.add_argument("--k", type=float, default=1.0, help="power-law exponent (default 1)")
    ap.add_argument("--c", type=float, default=1e-4, help="ridge penalty (default 1e-4, as in the paper's KL figures)")
    args = ap.parse_args(argv)
    d, draws = (50, 10) if args.quick else (200, 20)

    spec = lindiff.Spectrum.powerlaw(d, k=args.k)          # lambda_nu ∝ nu^-k, Tr Sigma / d = 1
    t = [1, 10, 100, 1000]
    N_loss = [d // 2, d * 2, d * 8]                         # N < d and N > d
    th = theory.static_losses(spec, N_loss, c=args.c, t=t)
    sim = simulate.ensemble(spec, N=N_loss, c=args.c, t=t, draws=draws, seed=0)
    val = lindiff.validate(th, sim)

    print(f"{spec.name}, c = {args.c:g}, {draws} training sets per N; losses per dimension")
    print(f"{'N/d':>5} {'t':>5} {'test (DE)':>11} {'test (sim)':>22} {'train (DE)':>11} {'train (sim)':>22}")
    for N in N_loss:
        for ti in t:
            h, m = th.sel(N=N, t=ti), sim.sel(N=N, t=ti)
            print(f"{N / d:5.2g} {ti:5d} {float(h.test):11.5g} {float(m.test_mean):11.5g} ± {float(m.test_sem):8.2g} "
                  f"{float(h.train):11.5g} {float(m.train_mean):11.5g} ± {float(m.train_sem):8.2g}")
    w = val.worst
    print(f"validation: {'PASSED' if val.passed else 'FAILED'}; largest deviation {w['variable']} at {w['coords']}: "
          f"z = {w['z']:.2f}, rel = {w['rel']:.2g}\n")

    N_kl = [2 * d, 4 * d, 16 * d]
    kl_de = theory.kl(spec, N_kl, c=args.c, finite_d=True).kl_fwd.squeeze().values
    kl_sim = simulate.ensemble(spec, N=N_kl, c=args.c, t=[t[-1]], draws=draws, seed=1)
    law, _ = theory.kl_law(d, N_kl)
    wish, _ = theory.kl_wishart(d, N_kl)
    floor = float(theory.kl_population(spec, c=args.c).kl_fwd)
    print(f"KL(gen || data) per dimension; N = inf floor {floor:.3g}")
    print(f"{'N/d':>5} {'DE (finite_d)':>14} {'simulation':>22} {'Wishart':>10} {'d/(4N)':>9}")
    ok = val.passed
    for i, N in enumerate(N_kl):
        m, s = float(kl_sim.kl_fwd_mean.sel(N=N)), float(kl_sim.kl_fwd_sem.sel(N=N))
        ok &= bool(abs(kl_de[i] - m) <= max(3 * s, 2 / d * m))
        print(f"{N / d:5.2g} {kl_de[i]:14.5g} {m:11.5g} ± {s:8.2g} {wish[i]:10.5g} {law[i]:9.4g}")
    print("\nKL agrees with the simulation" if ok else "\nMISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
