"""Every example script runs in its quick mode, exits 0 and prints what it promises.

(The sweep configurations ``examples/*.toml`` are run by ``tests/test_sweep.py``.)
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"

# script -> (arguments of its quick mode, regular expressions its output must match)
QUICK = {
    "quickstart.py": (["--quick"], [r"validation: PASSED", r"KL agrees with the simulation",
                                    r"^\s+16\s+0\.01\d+\s"]),
    "own_spectrum.py": (["--quick"], [r"d = 64, Tr Sigma / d = 1\b", r"k = 1\.[45]\d\d", r"KL falls like d/\(4N\)"]),
    "memorization_transition.py": (["--quick", "--dims", "8"],
                                   [r"\| 8 \| one-step, pinned \(L2, halder, KDE ref\) \|( [01]\.\d\d \|){9}",
                                    r"\| 8 \| Merger-Goldt linear"]),
}


def test_every_example_has_a_quick_mode():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(QUICK), "add the new example to QUICK in tests/test_examples.py"


@pytest.mark.parametrize("script", sorted(QUICK))
def test_example_runs(script, tmp_path):
    args, patterns = QUICK[script]
    env = dict(os.environ, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path, env=env)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0, f"{script} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    for pat in patterns:
        assert re.search(pat, r.stdout, re.M), f"{script}: no match for {pat!r} in\n{r.stdout}"
    if not script.startswith("memorization"):     # there NaN means: no crossing inside the grid
        assert not re.search(r"\bnan\b", r.stdout, re.I), r.stdout
    print(f"{script} {' '.join(args)}: {elapsed:.1f} s")
