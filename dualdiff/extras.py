"""The distribution's name on the package index and the install hints for its optional extras.

The package imports as ``dualdiff`` and installs the ``dualdiff`` command, but
is distributed as :data:`DISTRIBUTION` (the name ``dualdiff`` on the package
index belongs to an unrelated project). Every message that tells a user what
to install is written here, so the name appears in one place:

>>> install_hint("plot")
"pip install 'dualdiff-ad[plot]'"
>>> print(missing_extra("--plot", "plot", "matplotlib"))
--plot needs matplotlib, which is not installed: pip install 'dualdiff-ad[plot]' (or pip install matplotlib)
"""

from __future__ import annotations

#: The name to ``pip install``; ``tests/test_packaging.py`` checks it against pyproject.toml.
DISTRIBUTION = "dualdiff-ad"

#: The optional extras a hint may name (each is declared in pyproject.toml; a test checks).
EXTRAS = ("plot", "sparse", "notebooks", "docs", "test", "typecheck", "benchmarks")


def install_hint(extra: str | None = None) -> str:
    """The pip command that installs dualdiff, with ``extra`` if given.

    >>> install_hint()
    'pip install dualdiff-ad'
    """
    if extra is None:
        return f"pip install {DISTRIBUTION}"
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_extra(feature: str, extra: str, package: str) -> ImportError:
    """The error for ``feature`` when ``package`` (from the optional ``extra``) is not installed.

    >>> error = missing_extra("dd.plot", "plot", "matplotlib")
    >>> isinstance(error, ImportError), str(error).startswith("dd.plot needs matplotlib, which is not installed")
    (True, True)
    """
    return ImportError(
        f"{feature} needs {package}, which is not installed: {install_hint(extra)} (or pip install {package})"
    )
