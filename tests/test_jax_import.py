"""lindiff.jax is optional: ``import lindiff`` never imports JAX, and without JAX the submodule
says which extra to install. Runs with or without JAX installed (JAX is hidden in a subprocess)."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_import_lindiff_does_not_import_jax():
    r = _run("import sys, lindiff, lindiff.kappa, lindiff.theory\n"
             "assert 'jax' not in sys.modules and 'lindiff.jax' not in sys.modules, sorted(sys.modules)\n"
             "assert not hasattr(lindiff, 'jax')\n")
    assert r.returncode == 0, r.stderr


def test_without_jax_the_import_error_names_the_extra():
    r = _run("import sys\n"
             "sys.modules['jax'] = None   # as if JAX were not installed\n"
             "import lindiff\n"
             "try:\n"
             "    import lindiff.jax\n"
             "except ImportError as e:\n"
             "    print(e)\n"
             "else:\n"
             "    raise SystemExit('no ImportError')\n")
    assert r.returncode == 0, r.stderr
    assert "pip install 'lindiff[jax]'" in r.stdout
