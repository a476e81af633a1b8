"""Write the API reference, ``docs/api/*.md``, from the docstrings of lindiff's public modules.

One page per public module: the module docstring, then the signature and docstring of every name
in its ``__all__`` (classes with their public methods and properties). Standard library only
(``inspect``), no Sphinx. The output is deterministic, so ``tests/test_docs_pages.py`` can
regenerate it into a temporary folder and compare it with the committed pages.

    python docs/build_api.py                 # writes docs/api/
    python docs/build_api.py --out DIR       # somewhere else
    python docs/build_api.py --check         # exit 1 when docs/api/ is out of date
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import inspect
import os
import re
import sys
import tempfile

import numpy as np

#: (module, one-line summary) in the order of the index page
MODULES: list[tuple[str, str]] = [
    ("lindiff", "top level: re-exports and build/thread helpers"),
    ("lindiff.spectrum", "population spectra (`Spectrum`)"),
    ("lindiff.schedule", "noise schedules (`Schedule`)"),
    ("lindiff.kappa", "the deterministic-equivalent fixed point kappa(z)"),
    ("lindiff.theory", "deterministic-equivalent losses, gradient flow, optimal stopping, sampler, KL"),
    ("lindiff.exact", "finite-sample closed forms for one training set"),
    ("lindiff.simulate", "ensembles, GD/SGD training, the DDPM sampler"),
    ("lindiff.validate", "theory vs simulation in standard errors"),
    ("lindiff.memorization", "relative-distance criterion, one-step model, P(Delta > 0) transition"),
    ("lindiff.spectra", "shipped real-data spectra, power-law fits, spectra of your data"),
    ("lindiff.sweep", "parameter sweeps over grids and executors"),
    ("lindiff.plot", "figures: theory vs simulation, loss curves, KL vs d/N, transitions (matplotlib)"),
    ("lindiff.reproduce", "the report of `lindiff reproduce`"),
    ("lindiff.solvers", "generic fixed-point and root solvers of the kernel"),
    ("lindiff.errors", "warnings and exceptions"),
    ("lindiff.backends", "CPU / CUDA backends"),
]

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


class _Default:
    """A parameter default rendered independently of the NumPy version (np.float64(1.0) -> 1.0)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        v = self.value
        if isinstance(v, np.generic):
            v = v.item()
        return _ADDR.sub("", repr(v))


def _signature(obj: object) -> str | None:
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    params = [p.replace(default=_Default(p.default)) if p.default is not inspect.Parameter.empty else p
              for p in sig.parameters.values()]
    return str(sig.replace(parameters=params))


def _page_name(module: str) -> str:
    return module.replace("lindiff.", "") if module != "lindiff" else "lindiff"


def _docstring_md(doc: str | None) -> list[str]:
    """A numpy-style docstring as Markdown: section headers in bold, doctest blocks fenced."""
    if not doc:
        return ["*(no docstring)*", ""]
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    i, fenced = 0, False
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        is_doctest = line.lstrip().startswith(">>>")
        if fenced and not line.strip():
            out += ["```", ""]
            fenced = False
            i += 1
            continue
        if not fenced and is_doctest:
            out.append("```pycon")
            fenced = True
        if fenced:
            out.append(line)
        elif line.strip() and nxt.strip() and set(nxt.strip()) == {"-"} and len(nxt.strip()) >= 3:
            out += [f"**{line.strip()}**", ""]
            i += 1
        else:
            out.append(line)
        i += 1
    if fenced:
        out.append("```")
    return out + [""]


def _member_lines(cls: type) -> list[str]:
    out: list[str] = []
    for name, raw in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(raw, property):
            out += [f"#### `{cls.__name__}.{name}` (property)", ""] + _docstring_md(raw.__doc__)
        elif isinstance(raw, (classmethod, staticmethod)):
            fn = raw.__func__
            sig = _signature(getattr(cls, name))
            kind = "classmethod" if isinstance(raw, classmethod) else "staticmethod"
            out += [f"#### `{cls.__name__}.{name}{sig or '(...)'}` ({kind})", ""] + _docstring_md(fn.__doc__)
        elif inspect.isfunction(raw):
            sig = _signature(raw)
            out += [f"#### `{cls.__name__}.{name}{sig or '(...)'}`", ""] + _docstring_md(raw.__doc__)
    return out


def _object_lines(module: str, name: str, obj: object) -> list[str]:
    if inspect.ismodule(obj):
        return [f"### `{name}` (module)", "", f"See [{obj.__name__}]({_page_name(obj.__name__)}.md).", ""]
    if inspect.isclass(obj):
        sig = _signature(obj) if not issubclass(obj, BaseException) or obj.__init__ is not BaseException.__init__ else None
        head = f"### class `{name}{sig or ''}`"
        bases = [b.__name__ for b in obj.__bases__ if b is not object]
        out = [head, ""]
        if bases:
            out += [f"Bases: {', '.join(f'`{b}`' for b in bases)}", ""]
        return out + _docstring_md(obj.__doc__) + _member_lines(obj)
    if callable(obj):
        sig = _signature(obj)
        return [f"### `{name}{sig or '(...)'}`", ""] + _docstring_md(getattr(obj, "__doc__", None))
    rep = _ADDR.sub("", repr(obj))
    return [f"### `{name}`", "", "```python", f"{name} = {rep}", "```", ""]


def _home(obj: object) -> str | None:
    """The documented module an object is defined in (for the top-level page's links)."""
    mod = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None)
    if not isinstance(mod, str):
        return None
    documented = [m for m, _ in MODULES if m != "lindiff"]
    best = None
    for m in documented:
        if (mod == m or mod.startswith(m + ".")) and (best is None or len(m) > len(best)):
            best = m
    return best


def module_page(module: str) -> str:
    mod = sys.modules.get(module) or importlib.import_module(module)
    names = list(getattr(mod, "__all__", []))
    lines = [f"# `{module}`", "",
             "*Generated by `docs/build_api.py` from the docstrings; do not edit by hand.* "
             "[API index](index.md)", ""]
    lines += _docstring_md(mod.__doc__)
    lines += ["## Contents", ""]
    for n in names:
        lines.append(f"- `{n}`")
    lines.append("")
    if module == "lindiff":
        own = []
        lines += ["## Where each name is documented", "", "| name | page |", "|---|---|"]
        for n in names:
            home = _home(getattr(mod, n))
            if n == "sweep":
                home = "lindiff.sweep"
            if home is None:
                own.append(n)
                lines.append(f"| `{n}` | below |")
            else:
                lines.append(f"| `{n}` | [{home}]({_page_name(home)}.md) |")
        lines += ["", "## Defined here", ""]
        for n in own:
            lines += _object_lines(module, n, getattr(mod, n))
    else:
        lines += ["## Reference", ""]
        for n in names:
            lines += _object_lines(module, n, getattr(mod, n))
    text = "\n".join(lines).rstrip() + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def index_page() -> str:
    lines = ["# API reference", "",
             "*Generated by `docs/build_api.py` from the docstrings; do not edit by hand.* "
             "Regenerate with `python docs/build_api.py`; `tests/test_docs_pages.py` fails when these "
             "pages are out of date with the code.", "",
             "| module | contents |", "|---|---|"]
    for m, summary in MODULES:
        lines.append(f"| [`{m}`]({_page_name(m)}.md) | {summary} |")
    return "\n".join(lines) + "\n"


def build(outdir: str) -> list[str]:
    """Write index.md and one page per module into ``outdir``; return the file names written."""
    import lindiff  # noqa: F401  (imports every submodule)

    os.makedirs(outdir, exist_ok=True)
    pages = {"index.md": index_page()}
    for m, _ in MODULES:
        pages[f"{_page_name(m)}.md"] = module_page(m)
    for fname, text in pages.items():
        with open(os.path.join(outdir, fname), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return sorted(pages)


def stale(outdir: str) -> list[str]:
    """Pages in ``outdir`` that differ from a fresh build (or are missing / extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        names = build(tmp)
        have = sorted(f for f in os.listdir(outdir) if f.endswith(".md")) if os.path.isdir(outdir) else []
        bad = sorted(set(names) ^ set(have))
        bad += [f for f in names if f in have and not filecmp.cmp(os.path.join(tmp, f), os.path.join(outdir, f),
                                                                 shallow=False)]
    return sorted(set(bad))


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "api"), help="output folder (default docs/api)")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    args = ap.parse_args(argv)
    if args.check:
        bad = stale(args.out)
        for f in bad:
            print(f"out of date: {os.path.join(args.out, f)}")
        return 1 if bad else 0
    names = build(args.out)
    print(f"wrote {len(names)} pages to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
