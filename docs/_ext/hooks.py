"""MkDocs hooks: README.md is the home page, with its links made to work on the site.

``docs/index.md`` stands for README.md (one text for GitHub and the site).
README links ``docs/guide/...``, ``CONTRIBUTING.md`` and ``CHANGELOG.md``
relative to the repository root; on the site these are rewritten to the
site's own pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
_LINKS = {"](docs/": "](", "](CONTRIBUTING.md)": "](contributing.md)", "](CHANGELOG.md)": "](changelog.md)"}


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != "index.md":
        return markdown
    text = README.read_text(encoding="utf-8")
    for old, new in _LINKS.items():
        text = text.replace(old, new)
    return text
