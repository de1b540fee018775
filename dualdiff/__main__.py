"""``python -m dualdiff``: the dualdiff command (see :mod:`dualdiff.cli`)."""

from __future__ import annotations

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
