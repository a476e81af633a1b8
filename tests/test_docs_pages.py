"""The user docs cannot silently rot: their code runs, their links resolve, generated pages are current.

- every ```python block of ``docs/*.md`` runs (blocks of one page in order, in one namespace;
  a page in ``OPTIONAL`` only where its optional extra is installed);
  a block whose first line is ``# doc: skip`` (needs data, a cluster or a GPU) is not run, and
  only a few may be skipped;
- relative links in ``docs/**/*.md`` and ``README.md`` point at existing files;
- ``docs/api/*.md`` equal a fresh ``docs/build_api.py`` build (signatures and docstrings);
- ``docs/derivations/*.md`` match a fresh ``python -m lindiff.derivations --docs --fast`` build in
  every expression, text and fast check; ``LINDIFF_DOCS_FULL=1`` also compares a full build byte
  for byte (about 30 s on 2 cores).
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARK = "# doc: skip"
PAGES = sorted(p for p in DOCS.glob("*.md"))
#: pages whose blocks need an optional extra: run only where it is installed
OPTIONAL = {"jax.md": "jax"}
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(path: pathlib.Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def _skipped(block: str) -> bool:
    return block.lstrip().startswith(SKIP_MARK)


def test_docs_exist():
    names = {p.name for p in PAGES}
    assert {"index.md", "getting-started.md", "merger-goldt.md", "halder.md", "spectra.md"} <= names
    assert (DOCS / "api" / "index.md").is_file() and (DOCS / "derivations" / "index.md").is_file()


@pytest.mark.parametrize("page", [p.name for p in PAGES if python_blocks(p)])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    if page in OPTIONAL:
        pytest.importorskip(OPTIONAL[page])
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)                     # blocks that write files write them here
    ns: dict[str, object] = {"__name__": f"docs_{page.replace('-', '_').replace('.', '_')}"}
    ran = 0
    for i, block in enumerate(python_blocks(DOCS / page)):
        if _skipped(block):
            continue
        code = compile(block, f"{DOCS / page} [python block {i + 1}]", "exec")
        exec(code, ns)  # noqa: S102  (the docs are our own code)
        ran += 1
    assert ran > 0


def test_few_blocks_skipped():
    total = skipped = 0
    for p in PAGES:
        for b in python_blocks(p):
            total += 1
            skipped += _skipped(b)
    assert total >= 10, "the docs should show runnable code"
    assert skipped <= max(3, total // 5), f"{skipped} of {total} python blocks are marked '{SKIP_MARK}'"


LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _links(path: pathlib.Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)      # not inside code blocks
    text = re.sub(r"`[^`\n]*`", "", text)                            # nor inline code
    return LINK.findall(text)


LINKED = [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("path", LINKED, ids=[str(p.relative_to(ROOT)) for p in LINKED])
def test_relative_links_resolve(path):
    bad = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue                                # http(s):, mailto:, in-page anchors
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            bad.append(target)
    assert not bad, f"{path.relative_to(ROOT)}: broken relative links {bad}"


def test_link_checker_detects_broken_links(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("[ok](p.md) [gone](missing.md#x) `[code](nope.md)` [web](https://example.org)\n")
    assert _links(page) == ["p.md", "missing.md#x", "https://example.org"]


def _load_build_api():
    spec = importlib.util.spec_from_file_location("lindiff_docs_build_api", DOCS / "build_api.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_api_pages_up_to_date(tmp_path):
    api = _load_build_api()
    names = api.build(str(tmp_path))
    committed = sorted(p.name for p in (DOCS / "api").glob("*.md"))
    assert names == committed, "run `python docs/build_api.py` (pages added or removed)"
    stale = [n for n in names if not filecmp.cmp(tmp_path / n, DOCS / "api" / n, shallow=False)]
    assert not stale, f"docs/api is out of date with the docstrings: {stale}; run `python docs/build_api.py`"
    import lindiff.theory

    text = (DOCS / "api" / "theory.md").read_text(encoding="utf-8")
    for name in lindiff.theory.__all__:
        assert f"`{name}" in text


def test_api_check_detects_a_stale_page(tmp_path):
    api = _load_build_api()
    api.build(str(tmp_path))
    assert api.stale(str(tmp_path)) == []
    with open(tmp_path / "theory.md", "a", encoding="utf-8") as fh:
        fh.write("edited by hand\n")
    (tmp_path / "index.md").unlink()
    assert api.stale(str(tmp_path)) == ["index.md", "theory.md"]


_CHECK_ROW = re.compile(r"^\| (?!check \| status)(?!---).*\| (pass|\*\*FAIL\*\*) \|")


def _split_derivation_page(text: str) -> tuple[list[str], set[str]]:
    """(lines other than check-table rows, the check-table rows)."""
    rest, rows = [], set()
    for line in text.splitlines():
        (rows.add(line) if _CHECK_ROW.match(line) else rest.append(line))
    return rest, rows


def test_derivation_pages_up_to_date(tmp_path):
    out = tmp_path / "derivations"
    r = subprocess.run([sys.executable, "-m", "lindiff.derivations", "--docs", str(out), "--fast"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    new = sorted(p.name for p in out.glob("*.md"))
    assert new == sorted(p.name for p in (DOCS / "derivations").glob("*.md"))
    for name in new:
        committed = (DOCS / "derivations" / name).read_text(encoding="utf-8")
        fresh = (out / name).read_text(encoding="utf-8")
        assert "**FAIL**" not in committed, f"docs/derivations/{name} records a failed check"
        if name == "index.md":          # the fast build counts fewer checks; compare modules and steps
            strip = lambda t: [re.sub(r"\| \d+ \| \d+ \|$", "", ln) for ln in t.splitlines()]  # noqa: E731
            assert strip(fresh) == strip(committed)
            continue
        c_rest, c_rows = _split_derivation_page(committed)
        f_rest, f_rows = _split_derivation_page(fresh)
        assert f_rest == c_rest, f"docs/derivations/{name}: expressions or text changed; regenerate"
        assert f_rows <= c_rows, f"docs/derivations/{name}: fast checks changed: {sorted(f_rows - c_rows)[:3]}"
        assert f_rows, name


@pytest.mark.skipif(os.environ.get("LINDIFF_DOCS_FULL") != "1", reason="set LINDIFF_DOCS_FULL=1 (about 30 s on 2 cores)")
def test_derivation_pages_identical_full_build(tmp_path):
    out = tmp_path / "derivations"
    r = subprocess.run([sys.executable, "-m", "lindiff.derivations", "--docs", str(out)],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    for p in sorted((DOCS / "derivations").glob("*.md")):
        assert filecmp.cmp(p, out / p.name, shallow=False), f"docs/derivations/{p.name} is out of date"
