"""A progress bar on stderr for long Jacobians: tqdm when it is installed, else a small one of our own.

``progress=None`` (the transforms' default) shows a bar only for jobs of at
least :data:`AUTO_MIN_STEPS` passes or sweeps, and only once one has run for
:data:`AUTO_DELAY` seconds, so short Jacobians print nothing;
``progress=True`` always shows it, ``progress=False`` never.

>>> with bar(3, "demo", enabled=False) as b:
...     b.update()
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["AUTO_DELAY", "AUTO_MIN_STEPS", "Bar", "bar", "check_progress", "tracked"]

#: With ``progress=None``, jobs of fewer steps never show a bar,
AUTO_MIN_STEPS = 16
#: and longer ones only after this many seconds.
AUTO_DELAY = 2.0


def check_progress(progress: Any) -> None:
    """Fail early unless ``progress`` is None, True or False."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None (automatic), True or False, got {progress!r}")


class Bar:
    """A thread-safe counter drawn on stderr (``update`` may be called from executor callbacks)."""

    def __init__(self, total: int, desc: str, delay: float) -> None:
        self.total, self.desc, self.delay = total, desc, delay
        self.done = 0
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._drawn = False
        self._tqdm = _tqdm(total, desc, delay)

    def update(self, k: int = 1) -> None:
        """``k`` more steps done."""
        with self._lock:
            self.done += k
            if self._tqdm is not None:
                self._tqdm.update(k)
                return
            now = time.perf_counter()
            if now - self.start >= self.delay and (now - self._last_draw > 0.1 or self.done == self.total):
                self._draw(now)

    def _draw(self, now: float) -> None:
        frac = self.done / self.total if self.total else 1.0
        width = 30
        filled = int(frac * width)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        line = (
            f"\r{self.desc}: {self.done}/{self.total} [{'#' * filled}{'.' * (width - filled)}] "
            f"{frac:4.0%} {elapsed:.1f}s elapsed, {eta:.1f}s left"
        )
        sys.stderr.write(line)
        sys.stderr.flush()
        self._last_draw = now
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        with self._lock:
            if self._tqdm is not None:
                self._tqdm.close()
            elif self._drawn:
                sys.stderr.write("\n")
                sys.stderr.flush()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Silent(Bar):
    def __init__(self) -> None:
        pass

    def update(self, k: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _tqdm(total: int, desc: str, delay: float) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, file=sys.stderr, delay=delay, leave=False)


def bar(total: int, desc: str, enabled: bool | None) -> Bar:
    """A bar for ``total`` steps: shown per ``enabled`` (None: automatic, see the module text)."""
    if enabled is False or (enabled is None and total < AUTO_MIN_STEPS):
        return _Silent()
    return Bar(total, desc, AUTO_DELAY if enabled is None else 0.0)


def tracked(items: Iterable[Any], total: int, desc: str, enabled: bool | None) -> Iterator[Any]:
    """Yield ``items``, counting each one on a :func:`bar` of ``total`` steps.

    >>> list(tracked(range(3), 3, "demo", enabled=False))
    [0, 1, 2]
    """
    with bar(total, desc, enabled) as b:
        for item in items:
            yield item
            b.update()
