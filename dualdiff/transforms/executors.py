"""Running the passes (or sweeps) of a Jacobian as tasks on any ``concurrent.futures.Executor``.

The chunks of directions of a Jacobian are independent: each is one
forward pass (or one recording and sweep) of f. :func:`run_tasks` submits
one task per chunk to an executor -- a ``ThreadPoolExecutor``, a
``ProcessPoolExecutor``, dask.distributed's ``client.get_executor()``, or
anything with ``submit`` returning futures -- and gives the results back in
chunk order. What it promises:

* **shipping is checked first**: before any chunk is submitted, a probe
  task carrying f (and x) goes to the executor; a function the executor
  cannot send to its workers (a lambda on a process pool, which pickles
  with the standard pickle) raises :class:`ShippingError` saying what to do;
* **no partial Jacobian**: the first task that fails cancels the others and
  raises :class:`JacobianTaskError` in the caller, naming the chunk and its
  directions, with the task's exception as the cause; a process pool whose
  worker died says so;
* **progress** on stderr for long jobs (see :mod:`.progress`).

With ``executor=None`` the tasks run in order in the calling process.

>>> from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
>>> with ThreadPoolExecutor(2) as ex:
...     run_tasks(pow, [(2, 3), (3, 2)], executor=ex, describe=str, what="demo")
[8, 9]
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .progress import bar

__all__ = ["JacobianTaskError", "ShippingError", "check_executor", "run_tasks"]


class JacobianTaskError(RuntimeError):
    """A chunk of a Jacobian failed on the executor; no result is returned. ``__cause__`` is the task's error."""


class ShippingError(TypeError):
    """f (or x) cannot be sent to the executor's workers."""


def check_executor(executor: Any) -> None:
    """Fail early unless ``executor`` is None or has ``submit`` (a concurrent.futures.Executor)."""
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "executor must be a concurrent.futures.Executor (ThreadPoolExecutor, ProcessPoolExecutor, "
            f"dask.distributed's client.get_executor(), ...), got {type(executor).__name__}: {executor!r:.80}"
        )


def _probe(*payload: Any) -> bool:
    """Runs on a worker: receiving the payload is the test."""
    return True


_SHIP_ADVICE = (
    "define f with def at the top level of a module (a lambda, a nested function or a local class cannot be "
    "pickled by reference), or use an executor that pickles with cloudpickle (dask.distributed's "
    "client.get_executor(), loky), or a ThreadPoolExecutor"
)


def _check_shipping(executor: Any, payload: tuple[Any, ...]) -> None:
    """Send ``payload`` to a worker once (threads share memory: nothing to send)."""
    if isinstance(executor, ThreadPoolExecutor):
        return
    name = type(executor).__name__
    if isinstance(executor, ProcessPoolExecutor):  # the standard pickle, in a feeder thread: test it here for a clear error
        for what, obj in zip(("f", "x"), payload):
            try:
                pickle.dumps(obj)
            except Exception as e:  # noqa: BLE001 - any pickling failure means it cannot be shipped
                raise ShippingError(
                    f"{what} cannot be sent to the worker processes of {name} ({type(e).__name__}: {e}); "
                    + _SHIP_ADVICE
                ) from e
    try:
        executor.submit(_probe, *payload).result()
    except BrokenProcessPool as e:
        raise JacobianTaskError(f"the worker processes of {name} died before any chunk was sent: {e}") from e
    except Exception as e:  # noqa: BLE001 - whatever stops the probe stops every task
        raise ShippingError(
            f"f and x could not be sent to the workers of {name} ({type(e).__name__}: {e}); " + _SHIP_ADVICE
        ) from e


class _Waiter:
    """Counts finished futures; wakes the caller when all are done or one has failed."""

    def __init__(self, total: int, progress: Any) -> None:
        self.pending = total
        self.failed: list[int] = []
        self.cond = threading.Condition()
        self.progress = progress

    def callback(self, i: int) -> Callable[[Any], None]:
        def done(fut: Any) -> None:
            try:
                ok = not fut.cancelled() and fut.exception() is None
            except Exception:  # noqa: BLE001 - a future that cannot report counts as failed
                ok = False
            with self.cond:
                self.pending -= 1
                if not ok:
                    self.failed.append(i)
                self.cond.notify_all()
            if ok:
                self.progress.update()

        return done

    def wait(self) -> int | None:
        """The index of the first failed task, or None once all succeeded."""
        with self.cond:
            while self.pending > 0 and not self.failed:
                self.cond.wait(0.5)
            return min(self.failed) if self.failed else None


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    executor: Any = None,
    describe: Callable[[int], str],
    what: str,
    progress: bool | None = None,
    shipped: tuple[Any, ...] | None = None,
) -> list[Any]:
    """``[fn(*args) for args in tasks]``, on ``executor`` (None: here, in order), results in task order.

    ``describe(i)`` names task i in messages ("directions 16-23"); ``what``
    names the job ("jacfwd"); ``shipped`` is what the shipping probe sends
    (default: the first task's arguments).
    """
    check_executor(executor)
    total = len(tasks)
    with bar(total, what, progress) as pbar:
        if executor is None:
            results = []
            for args in tasks:
                results.append(fn(*args))
                pbar.update()
            return results
        if not tasks:
            return []
        _check_shipping(executor, shipped if shipped is not None else tasks[0])
        waiter = _Waiter(total, pbar)
        futures = []
        try:
            for i, args in enumerate(tasks):
                fut = executor.submit(fn, *args)
                fut.add_done_callback(waiter.callback(i))
                futures.append(fut)
            bad = waiter.wait()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        if bad is not None:
            for fut in futures:
                fut.cancel()
            _raise_failure(futures[bad], bad, total, describe, what, executor)
        return [fut.result() for fut in futures]


def _raise_failure(fut: Any, i: int, total: int, describe: Callable[[int], str], what: str, executor: Any) -> None:
    try:
        err = fut.exception()
    except BaseException as e:  # noqa: BLE001 - a cancelled or lost future
        err = e
    where = f"{what}: chunk {i + 1} of {total} ({describe(i)})"
    if isinstance(err, BrokenProcessPool):
        raise JacobianTaskError(
            f"{where} was lost: a worker process of {type(executor).__name__} died (killed, or out of memory); "
            "the pool is broken and no Jacobian is returned. Start a new pool; an executor that retries lost "
            "tasks (dask.distributed) survives worker deaths"
        ) from err
    raise JacobianTaskError(f"{where} failed: {type(err).__name__}: {err}") from err
