"""A griffe extension for the docs site: docstrings written for doctest and Sphinx, shown as Markdown.

dualdiff's docstrings carry doctest examples (``>>>`` lines and their
output) and a few Sphinx roles (:func:`name`). Markdown would run the
examples together as paragraphs, so each example becomes a fenced ``pycon``
block, and each role plain inline code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):`~?([^`]+)`")
_FENCED = "<!-- doctests fenced -->"


def fence_doctests(text: str) -> str:
    """Wrap every run of ``>>>`` lines and their output in a ``pycon`` fence; roles become inline code."""
    if _FENCED in text:
        return text
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(line if in_fence else _ROLE.sub(lambda m: f"`{m.group(1)}`", line))
        i += 1
    return "\n".join(out) + f"\n{_FENCED}"


class DoctestBlocks(griffe.Extension):
    """Fence the doctest examples of every object's docstring."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        self.on_object(obj=obj)
