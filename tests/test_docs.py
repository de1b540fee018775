"""The documentation site: every public name has an entry in the API reference, and every page is in the nav.

The site itself is built by ``.ci/docs`` (``mkdocs build --strict``, the
``docs`` extra); these checks need nothing but the sources.
"""

import re
from pathlib import Path

import dualdiff

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ENTRY = re.compile(r"^::: dualdiff\.(\w+)\s*$", re.M)


def entries():
    found = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for name in ENTRY.findall(page.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(page.name)
    return found


def test_every_public_name_has_one_api_entry():
    found = entries()
    missing = sorted(set(dualdiff.__all__) - set(found))
    assert not missing, f"no ::: dualdiff.NAME entry in docs/api/ for {missing}"
    twice = {name: pages for name, pages in found.items() if len(pages) > 1}
    assert not twice, twice
    unknown = sorted(set(found) - set(dualdiff.__all__))
    assert not unknown, f"docs/api/ documents names that are not public: {unknown}"


def test_every_docs_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n")[1].split("\n\n")[0]
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_ext" not in p.parts]
    pages = [p for p in pages if not p.startswith(("notebooks/", "benchmarks/"))]
    missing = [p for p in pages if p not in nav]
    assert not missing, missing
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{notebook.name}" in nav, notebook.name


def test_docs_extra_and_ci_build_it_strictly():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^docs = \[.*mkdocs.*mkdocstrings.*mkdocs-jupyter", pyproject, re.M)
    assert "mkdocs build --strict" in (ROOT / ".ci" / "docs").read_text(encoding="utf-8")
    assert "bash .ci/docs" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
