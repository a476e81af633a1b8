"""Every public docstring example runs (numpy-style examples are part of the contract)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["lindiff", "lindiff.spectrum", "lindiff.schedule", "lindiff.kappa", "lindiff.solvers",
           "lindiff.reference", "lindiff._paths", "lindiff.selftest", "lindiff.backends", "lindiff.theory.laws",
           "lindiff.theory.measure", "lindiff.theory.gradflow", "lindiff.theory.static", "lindiff.theory.kl",
           "lindiff.theory.sampler", "lindiff.exact",
           "lindiff.simulate", "lindiff.simulate._train", "lindiff.simulate._sample",
           "lindiff.simulate._ensemble", "lindiff.simulate._over_d", "lindiff.validate", "lindiff.memorization",
           "lindiff.memorization._criterion", "lindiff.memorization._onestep", "lindiff.memorization._models",
           "lindiff.memorization._transition", "lindiff.spectra", "lindiff.sweep",
           "lindiff.plot", "lindiff.reproduce"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0
    if name != "lindiff.selftest":
        assert res.attempted > 0, f"{name} has no runnable examples"
