"""The package's layering: no module reaches into another package's private names.

A name or module starting with ``_`` belongs to the package (folder) that defines it. Shared
mechanisms live in top-level modules of ``lindiff`` (``_validation``, ``_labelled``, ``_random``,
``_distances``, ...), which every subpackage may use; ``lindiff.theory._curves`` is for
``lindiff.theory`` alone, ``lindiff.memorization._criterion`` for ``lindiff.memorization`` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lindiff

ROOT = Path(lindiff.__file__).parent


def _modules() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "derivations" not in p.relative_to(ROOT).parts]


def _package_of(dotted: str) -> str:
    return dotted.rsplit(".", 1)[0]


def _dotted(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(importer: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private_owner(target: str) -> str | None:
    """The package a dotted module path is private to (None when it is public all the way)."""
    parts = target.split(".")
    for i, p in enumerate(parts):
        if p.startswith("_") and not p.startswith("__"):
            return ".".join(parts[:i])
    return None


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _violations() -> list[str]:
    out = []
    for path in _modules():
        importer = _dotted(path)
        is_pkg = path.name == "__init__.py"
        own_pkg = importer if is_pkg else _package_of(importer)

        def check(full: str, how: str) -> None:
            owner = _private_owner(full)
            if owner is not None and not (own_pkg == owner or own_pkg.startswith(owner + ".")):
                out.append(f"{importer} {how} {full} (private to {owner})")

        tree = ast.parse(path.read_text())
        modules: dict[str, str] = {}   # local name -> lindiff module it is bound to
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or node.level):
                continue
            target = _resolve(importer, is_pkg, node)
            if not target.startswith("lindiff"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                check(full, "imports")
                if _is_module(full):
                    modules[alias.asname or alias.name] = full
        for node in ast.walk(tree):   # module.attribute of an imported lindiff module
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                check(f"{modules[node.value.id]}.{node.attr}", "uses")
    return out


def test_no_package_imports_another_packages_private_names() -> None:
    assert _violations() == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule itself: a subpackage importing a sibling's private module is caught."""
    node = ast.parse("from ..memorization._criterion import nearest_rows").body[0]
    assert isinstance(node, ast.ImportFrom)
    target = _resolve("lindiff.simulate._sample", False, node)
    assert target == "lindiff.memorization._criterion"
    assert _private_owner(target + ".nearest_rows") == "lindiff.memorization"
    assert _private_owner("lindiff._validation.real_array") == "lindiff"
    assert _private_owner("lindiff.theory.static_losses") is None


def test_sampler_and_trainer_do_not_import_each_other() -> None:
    """simulate._train must not import simulate._sample (the model lives in simulate._model)."""
    src = (ROOT / "simulate" / "_train.py").read_text()
    names = [n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)]
    assert "_sample" not in names
