"""From a data array to a spectrum to the KL law: the d/(4N) law for your own data.

Loads a data array (``--npy FILE``: samples along the first axis, vectors or images), or, by
default, draws synthetic 8 x 8 "images" with a power-law covariance (exponent 1.5) in a random
basis and a non-zero mean. Then:

1. ``lindiff.spectra.from_array``: centre, covariance, eigenvalues, rescaled to Tr Sigma / d = 1;
2. ``lindiff.spectra.fit_powerlaw``: the fitted exponent k;
3. ``lindiff.theory.kl``: the deterministic-equivalent KL per dimension of the linear diffusion
   model's sampler for N = 2d ... 32d, against the d/(4N) law and the exact Wishart value.

    python examples/own_spectrum.py                 # synthetic data, 20000 samples, d = 64
    python examples/own_spectrum.py --quick         # 4000 samples
    python examples/own_spectrum.py --npy data.npy --scale 255

Exit status 0 when the KL x 4N/d ratio tends to 1 as N grows (the spectrum-independent law).
"""

from __future__ import annotations

import argparse

import numpy as np

from lindiff import spectra, theory


def synthetic(n: int, side: int = 8, k: float = 1.5, seed: int = 0) -> np.ndarray:
    """n images side x side with covariance eigenvalues ∝ nu^-k in a random orthonormal basis."""
    rng = np.random.default_rng(seed)
    d = side * side
    lam = np.arange(1, d + 1, dtype=float) ** -k
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = rng.normal(size=(n, d)) * np.sqrt(lam) @ basis.T + 0.5   # mean 0.5: from_array centres
    return x.reshape(n, side, side)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npy", metavar="FILE", help="data array (.npy), samples along the first axis")
    ap.add_argument("--scale", type=float, default=1.0, help="divide the data by this first (255 for 8-bit images)")
    ap.add_argument("--quick", action="store_true", help="fewer synthetic samples")
    args = ap.parse_args(argv)
    if args.npy:
        data = np.load(args.npy, allow_pickle=False)
        name = args.npy
    else:
        data = synthetic(4000 if args.quick else 20000)
        name = "synthetic power law k = 1.5"

    spec = spectra.from_array(data, scale=args.scale, normalize=True, name=name)
    fit = spectra.fit_powerlaw(spec.eigenvalues)
    d = spec.d
    print(f"{name}: {data.shape[0]} samples, d = {d}, Tr Sigma / d = {spec.trace / d:.6g}")
    print(f"power-law fit over nu = {fit.fit_range[0]}..{fit.fit_range[1]}: k = {fit.k:.3f} (R^2 = {fit.r2:.4f})")

    N = d * np.array([2, 4, 8, 16, 32])
    kl = theory.kl(spec, N, c=1e-4).kl_fwd.squeeze().values
    law, _ = theory.kl_law(d, N)
    wish, _ = theory.kl_wishart(d, N)
    floor = float(theory.kl_population(spec, c=1e-4).kl_fwd)
    print(f"\nKL(gen || data) per dimension, c = 1e-4, linear schedule T = 1000; N = inf floor {floor:.3g}")
    print(f"{'N/d':>5} {'KL (DE)':>10} {'Wishart':>10} {'d/(4N)':>9} {'KL*4N/d':>8}")
    ratio = kl * 4 * N / d
    for i in range(N.size):
        print(f"{N[i] / d:5g} {kl[i]:10.4g} {wish[i]:10.4g} {law[i]:9.4g} {ratio[i]:8.3f}")
    ok = bool(np.all(np.isfinite(kl)) and np.all(np.diff(kl) < 0) and abs(ratio[-1] - 1) < 0.1)
    print("\nKL falls like d/(4N)" if ok else "\nUNEXPECTED: KL does not follow d/(4N)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
