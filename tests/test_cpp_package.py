"""The C++ package: ``lindiff.get_include`` / ``get_cmake_dir``, ``lindiff config``, and a C++ consumer.

The consumer is ``examples/cpp``: configured with ``find_package(lindiff CONFIG)`` from
``-Dlindiff_DIR=<get_cmake_dir()>`` (the installed wheel's config, or the source tree's
``cpp/share/cmake/lindiff`` when lindiff runs from a checkout), built, its header unit test run
by CTest, and its kappa compared with ``lindiff.kappa``. Needs cmake and a C++20 compiler; skipped
(with the reason) without them.

The Eigen half of the header test (lindiff::eigen: fixed points, the umbrella header) takes 30-100 s
to compile on 2 cores, so it is built here only with ``LINDIFF_TEST_CPP_EIGEN=1``; ``.ci/run`` builds
it (with Eigen required) in its C++ consumer step.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import lindiff
import lindiff._paths as paths
from lindiff.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cpp"
HEADERS = ["api.hpp", "api_eigen.hpp", "common.hpp", "kappa.hpp", "roots.hpp", "spectrum.hpp",
           "fixed_point.hpp", "lindiff.hpp"]


def _installed() -> bool:
    """True when the headers come from an installed wheel (not the source-tree fallback)."""
    return pathlib.Path(lindiff.get_include()).resolve() == (paths._PKG / "include").resolve()


# ---------------------------------------------------------------- Python side


def test_get_include_holds_the_headers() -> None:
    inc = pathlib.Path(lindiff.get_include())
    for h in HEADERS:
        assert (inc / "lindiff" / h).is_file(), h
    assert "get_include" in lindiff.__all__ and "get_cmake_dir" in lindiff.__all__


def test_get_cmake_dir_holds_the_config() -> None:
    d = pathlib.Path(lindiff.get_cmake_dir())
    assert (d / "lindiffConfig.cmake").is_file()
    # the config finds the headers relative to itself: <prefix>/share/cmake/lindiff -> <prefix>/include
    assert (d.parents[2] / "include").resolve() == pathlib.Path(lindiff.get_include()).resolve()
    if _installed():
        version = (d / "lindiffConfigVersion.cmake").read_text(encoding="utf-8")
        assert f'set(PACKAGE_VERSION "{lindiff.__version__}")' in version


@pytest.mark.skipif(not (ROOT / "cpp" / "include" / "lindiff").is_dir(), reason="no source tree next to the tests")
def test_installed_headers_are_the_source_headers() -> None:
    if not _installed():
        pytest.skip("lindiff runs from the source tree: nothing installed to compare")
    src = sorted(p.name for p in (ROOT / "cpp" / "include" / "lindiff").glob("*.hpp"))
    inst = sorted(p.name for p in (pathlib.Path(lindiff.get_include()) / "lindiff").glob("*.hpp"))
    assert inst == src, "the installed headers differ from cpp/include/lindiff: reinstall"


def test_missing_headers_raise_a_clear_error(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(paths, "_CANDIDATES", [(tmp_path / "include", tmp_path / "cmake")])
    with pytest.raises(FileNotFoundError, match=r"pip install lindiff.*looked in: .*include"):
        lindiff.get_include()
    with pytest.raises(FileNotFoundError, match=r"pip install lindiff.*looked in: .*cmake"):
        lindiff.get_cmake_dir()


def test_config_command(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["config", "--includedir"]) == 0
    assert capsys.readouterr().out == lindiff.get_include() + "\n"
    assert main(["config", "--cmakedir"]) == 0
    assert capsys.readouterr().out == lindiff.get_cmake_dir() + "\n"
    assert main(["config", "--cmakedir", "--includedir", "--version"]) == 0
    assert capsys.readouterr().out.splitlines() == [lindiff.__version__, lindiff.get_include(), lindiff.get_cmake_dir()]
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"includedir: {lindiff.get_include()}" in out and f"cmakedir: {lindiff.get_cmake_dir()}" in out


def test_config_command_without_headers(monkeypatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(paths, "_CANDIDATES", [(tmp_path / "include", tmp_path / "cmake")])
    assert main(["config", "--cmakedir"]) == 2
    assert "lindiff: error: the lindiff C++ headers and CMake config are installed by" in capsys.readouterr().err


def test_config_command_in_a_subprocess() -> None:
    r = subprocess.run([sys.executable, "-m", "lindiff", "config", "--cmakedir"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == lindiff.get_cmake_dir() + "\n"


# ---------------------------------------------------------------- the C++ consumer


def _tools() -> tuple[str, str]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    cxx = os.environ.get("CXX") or next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
    if cxx is None:
        pytest.skip("no C++ compiler (c++, g++, clang++ or $CXX)")
    return cmake, cxx


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]


WITH_EIGEN = os.environ.get("LINDIFF_TEST_CPP_EIGEN", "") == "1"


@pytest.fixture(scope="module")
def example_build(tmp_path_factory):  # type: ignore[no-untyped-def]
    """examples/cpp configured against lindiff's CMake config, built (-Werror), in a temporary folder."""
    cmake, cxx = _tools()
    build = tmp_path_factory.mktemp("cpp-example")
    t0 = time.perf_counter()
    # Debug: -O0 compiles about twice as fast; the numbers are IEEE doubles all the same
    cfg = [cmake, "-S", str(EXAMPLE), "-B", str(build), f"-DCMAKE_CXX_COMPILER={cxx}", "-DCMAKE_BUILD_TYPE=Debug",
           f"-Dlindiff_DIR={lindiff.get_cmake_dir()}", f"-DPython_EXECUTABLE={sys.executable}",
           "-DLINDIFF_EXAMPLE_WERROR=ON", f"-DLINDIFF_EXAMPLE_EIGEN={'ON' if WITH_EIGEN else 'OFF'}"]
    r = _run(cfg)
    assert r.returncode == 0, f"configure failed:\n{r.stdout}\n{r.stderr}"
    assert "Found lindiff" in r.stdout
    r = _run([cmake, "--build", str(build), "--parallel", "2"])
    assert r.returncode == 0, f"build failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
    print(f"examples/cpp configured and built in {time.perf_counter() - t0:.1f} s")
    return build


def test_example_ctest(example_build) -> None:  # type: ignore[no-untyped-def]
    r = _run(["ctest", "--output-on-failure"], cwd=example_build)
    assert r.returncode == 0, f"ctest failed:\n{r.stdout}\n{r.stderr}"
    assert "tests passed" in r.stdout
    assert ("headers_eigen" in r.stdout) == WITH_EIGEN


def test_example_kappa_matches_python(example_build) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("compare_with_python", EXAMPLE / "compare_with_python.py")
    assert spec is not None and spec.loader is not None
    cmp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cmp)
    exe = example_build / "kappa_example"
    for args in ([], ["200", "0.5", "500", "1e-9", "0.02", "7"]):   # N < d, then N > d
        r = _run([str(exe), *args])
        assert r.returncode == 0, r.stderr
        ok, report = cmp.compare(r.stdout, rtol=1e-13)
        print(report)
        assert ok, report
    r = _run([str(exe), "100", "1", "-5", "1"])
    assert r.returncode == 2 and "N must be finite and > 0" in r.stderr


CONSUMER = """cmake_minimum_required(VERSION 3.18...3.31)
project(consumer LANGUAGES CXX)
{find}
"""


@pytest.mark.parametrize("find, message", [
    # a requested but missing Eigen: a configure error that says how to get it
    ("find_package(lindiff CONFIG REQUIRED COMPONENTS eigen)", "pip install cmeel-eigen"),
    ("find_package(lindiff CONFIG REQUIRED COMPONENTS nope)", "unknown component 'nope'"),
])
def test_config_failures_are_clear(tmp_path, find, message) -> None:  # type: ignore[no-untyped-def]
    cmake, cxx = _tools()
    (tmp_path / "CMakeLists.txt").write_text(CONSUMER.format(find=find))
    r = _run([cmake, "-S", str(tmp_path), "-B", str(tmp_path / "b"), f"-DCMAKE_CXX_COMPILER={cxx}",
              f"-Dlindiff_DIR={lindiff.get_cmake_dir()}", "-DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON"])
    assert r.returncode != 0
    assert message in " ".join((r.stdout + r.stderr).split()), r.stderr


def test_config_without_eigen_still_gives_the_kernel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cmake, cxx = _tools()
    find = ("find_package(lindiff CONFIG REQUIRED)\n"
            "if(NOT TARGET lindiff::lindiff OR TARGET lindiff::eigen OR lindiff_eigen_FOUND)\n"
            "  message(FATAL_ERROR \"wrong targets\")\nendif()")
    if _installed():   # the version file ships with the wheel only
        find += (f"\nfind_package(lindiff {lindiff.__version__} CONFIG REQUIRED)"
                 "\nfind_package(lindiff 99.0 CONFIG QUIET)\nif(lindiff_FOUND)\n  message(FATAL_ERROR \"99.0\")\nendif()")
    (tmp_path / "CMakeLists.txt").write_text(CONSUMER.format(find=find))
    r = _run([cmake, "-S", str(tmp_path), "-B", str(tmp_path / "b"), f"-DCMAKE_CXX_COMPILER={cxx}",
              f"-Dlindiff_DIR={lindiff.get_cmake_dir()}", "-DCMAKE_DISABLE_FIND_PACKAGE_Eigen3=ON"])
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "Eigen 3.4 not found, so no target lindiff::eigen" in " ".join(r.stdout.split())
