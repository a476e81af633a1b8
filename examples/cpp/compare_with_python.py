"""Check the C++ example's kappa against the Python API.

    build/example/kappa_example | python examples/cpp/compare_with_python.py [--rtol 1e-13]
    python examples/cpp/compare_with_python.py kappa.txt

Reads kappa_example's output (the spectrum, N, kappa0, then z, kappa, kappa'(z), converged,
iterations, residual per line), solves the same points with ``lindiff.kappa`` and prints both
side by side. Exit status 0 when every kappa and kappa0 agree to ``rtol`` (relative) and kappa'
to ``100 rtol``; 1 otherwise (2 for unreadable input).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import lindiff


def parse(text: str) -> dict[str, object]:
    """The example's output as a dict: d, k, N, kappa0 and arrays z, kappa, kappa_prime, converged."""
    out: dict[str, object] = {}
    rows: list[list[float]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "spectrum":
            if parts[1] != "powerlaw":
                raise ValueError(f"unknown spectrum {parts[1]!r}")
            out["d"], out["k"] = int(parts[2]), float(parts[3])
        elif parts[0] in ("N", "kappa0"):
            out[parts[0]] = float(parts[1])
        else:
            try:
                rows.append([float(p) for p in parts[:4]])
            except ValueError:
                raise ValueError(f"not the output of kappa_example: unexpected line {line!r}") from None
    if not rows or not {"d", "k", "N", "kappa0"} <= out.keys():
        raise ValueError("not the output of kappa_example (no spectrum/N/kappa0 header or no rows)")
    a = np.array(rows)
    out.update(z=a[:, 0], kappa=a[:, 1], kappa_prime=a[:, 2], converged=a[:, 3] == 1)
    return out


def compare(text: str, rtol: float = 1e-13) -> tuple[bool, str]:
    """(agree, report): the example's numbers against lindiff.kappa / lindiff.kappa0."""
    c = parse(text)
    spec = lindiff.Spectrum.powerlaw(c["d"], c["k"])  # type: ignore[arg-type]
    z = np.asarray(c["z"])
    py = lindiff.kappa(z, spec, c["N"])  # type: ignore[arg-type]
    k0 = lindiff.kappa0(spec, c["N"])  # type: ignore[arg-type]
    ck, cd = np.asarray(c["kappa"]), np.asarray(c["kappa_prime"])
    rel_k = np.abs(ck - py.value) / np.abs(py.value)
    rel_d = np.abs(cd - py.derivative) / np.abs(py.derivative)
    rel_0 = abs(float(c["kappa0"]) - k0) / abs(k0) if k0 != 0 else abs(float(c["kappa0"]))  # type: ignore[arg-type]
    lines = [f"powerlaw d={c['d']} k={c['k']:g}, N={c['N']:g}: C++ vs Python (lindiff {lindiff.__version__})",
             f"kappa0 {float(c['kappa0']):.17g} {k0:.17g} rel {rel_0:.2e}",  # type: ignore[arg-type]
             f"{'z':>12} {'kappa C++':>24} {'kappa Python':>24} {'rel':>9} {'rel kappa_prime':>15}"]
    for i in range(z.size):
        lines.append(f"{z[i]:12.4e} {ck[i]:24.17g} {py.value[i]:24.17g} {rel_k[i]:9.2e} {rel_d[i]:15.2e}")
    ok = bool(np.all(c["converged"]) and np.all(rel_k <= rtol) and np.all(rel_d <= 100 * rtol) and rel_0 <= rtol)
    lines.append(f"max rel: kappa {rel_k.max():.2e}, kappa' {rel_d.max():.2e}, kappa0 {rel_0:.2e} "
                 f"(rtol {rtol:g}): {'AGREE' if ok else 'MISMATCH'}")
    return ok, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", help="kappa_example's output (default: stdin)")
    p.add_argument("--rtol", type=float, default=1e-13, help="relative tolerance on kappa (default 1e-13)")
    args = p.parse_args(argv)
    text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    try:
        ok, report = compare(text, args.rtol)
    except ValueError as e:
        print(f"compare_with_python: {e}", file=sys.stderr)
        return 2
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
