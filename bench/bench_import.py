"""Import cost: ``import lindiff`` (and ``lindiff --help``) against ``import numpy, scipy`` in the same run.

Each statement runs in a fresh interpreter, alternating, ``--repeat`` times; the table gives the
minimum wall time (the machine is shared) and the ratio to the baseline. Also lists which heavy
modules ``import lindiff`` loaded (none should: xarray, pandas, scipy.stats, sympy, matplotlib,
dask, jax load on first use). Target: ``import lindiff`` within 1.3x of ``import numpy, scipy``.

    python bench/bench_import.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

HEAVY = ("xarray", "pandas", "scipy.stats", "scipy.special", "scipy.optimize", "sympy", "matplotlib", "dask",
         "jax", "mpmath", "tqdm")
CASES = {
    "import numpy, scipy (baseline)": "import numpy, scipy",
    "import numpy, scipy.optimize": "import numpy, scipy.optimize",
    "import lindiff": "import lindiff",
    "lindiff --help": "import sys; sys.argv = ['lindiff', '--help']\n"
                      "from lindiff.__main__ import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
    "import lindiff; lindiff.kappa(...)": "import lindiff; lindiff.kappa(0.5, lindiff.Spectrum.powerlaw(100, 1.0), 50.0)",
    "from lindiff import theory; static_losses": "import lindiff\nfrom lindiff import theory\n"
                                                 "theory.static_losses(lindiff.Spectrum.powerlaw(100, 1.0), 50.0)",
}


def _run(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    best = {k: float("inf") for k in CASES}
    for _ in range(args.repeat):            # alternate, so load changes hit every case alike
        for k, code in CASES.items():
            best[k] = min(best[k], _run(code))
    base = best["import numpy, scipy (baseline)"]
    print(f"{'statement (fresh interpreter)':45s} {'best s':>8s} {'x baseline':>10s}")
    for k, t in best.items():
        print(f"{k:45s} {t:8.3f} {t / base:10.2f}")
    probe = ("import sys, lindiff\nprint(' '.join(m for m in " + repr(HEAVY) + " if m in sys.modules) or 'none')")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    print(f"heavy modules loaded by 'import lindiff': {loaded}")


if __name__ == "__main__":
    main()
