"""The thorough fuzz run with counts: ``python tests/fuzz_census.py [--examples 2000] [--random]``.

Runs the property-based suite (tests/test_fuzz.py) with ``LINDIFF_FUZZ_CENSUS`` set, so every
example's verdict is recorded instead of asserted, plus every public keyword option against every
junk value of :data:`fuzz_options.JUNK` (exhaustively); then prints the good / weak / bad / crash /
hang counts per entry point and the distinct findings. Each call runs in the isolated worker
(tests/fuzz_worker.py) with the ``LINDIFF_FUZZ_TIMEOUT`` limit.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _options(path: Path) -> None:
    sys.path.insert(0, str(HERE))
    import fuzz_options
    from fuzz_worker import Isolated

    worker = Isolated()
    try:
        with path.open("a", encoding="utf-8") as f:
            for name in fuzz_options.PATHS:
                for opt in fuzz_options.options(name):
                    for value in fuzz_options.JUNK:
                        kwargs = {"function": name, "option": opt, "value": value}
                        verdict, why = worker.run("option", kwargs)
                        f.write(json.dumps({"case": f"option:{name}", "kwargs": repr(kwargs), "verdict": verdict,
                                            "why": why}) + "\n")
    finally:
        worker._reset()


def _summary(path: Path) -> int:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    total = collections.Counter(r["verdict"] for r in rows)
    per_case: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in rows:
        per_case[r["case"].split(":")[0]][r["verdict"]] += 1
    kinds = ("good", "weak", "bad", "crash", "hang")
    print(f"{'entry point':22s} " + " ".join(f"{k:>6s}" for k in kinds))
    for case in sorted(per_case):
        print(f"{case:22s} " + " ".join(f"{per_case[case][k]:6d}" for k in kinds))
    n = len(rows)
    print(f"{'TOTAL':22s} " + " ".join(f"{total[k]:6d}" for k in kinds) + f"   ({n} inputs; weak "
          f"{100.0 * total['weak'] / max(n, 1):.2f} %)")
    seen = set()
    for r in rows:
        if r["verdict"] != "good" and (r["case"], r["why"][:80]) not in seen:
            seen.add((r["case"], r["why"][:80]))
            print(f"  {r['verdict']:5s} {r['case']}: {r['why'][:160]}  <- {r['kwargs'][:200]}")
    return 0 if total["crash"] == total["bad"] == total["hang"] == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=2000, help="hypothesis examples per property (default 2000)")
    ap.add_argument("--random", action="store_true", help="fresh random inputs (default: derandomized)")
    ap.add_argument("--out", type=Path, default=None, help="the .jsonl of every verdict (default: a temp file)")
    ap.add_argument("--skip-properties", action="store_true", help="only the option census")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkstemp(suffix=".jsonl", prefix="lindiff-fuzz-")[1])
    out.write_text("")
    t0 = time.perf_counter()
    if not args.skip_properties:
        env = {**os.environ, "LINDIFF_FUZZ_CENSUS": str(out), "LINDIFF_FUZZ_EXAMPLES": str(args.examples),
               "LINDIFF_FUZZ_RANDOM": "1" if args.random else "0"}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_fuzz.py")],
                       env=env, cwd=HERE.parent, check=False)
    _options(out)
    print(f"fuzz census: {time.perf_counter() - t0:.0f} s; verdicts in {out}")
    return _summary(out)


if __name__ == "__main__":
    sys.exit(main())
