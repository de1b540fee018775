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
* **no partial Jacobian**: results are collected in chunk order; the first
  chunk found failed cancels the others and raises :class:`JacobianTaskError`
  in the caller, naming the chunk and its directions, with the task's
  exception as the cause; a process pool whose worker died says so;
* **progress** on stderr for long jobs (see :mod:`.progress`).

With ``executor=None`` the tasks run in order in the calling process.

>>> from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
>>> with ThreadPoolExecutor(2) as ex:
...     run_tasks(pow, [(2, 3), (3, 2)], executor=ex, describe=str, what="demo")
[8, 9]
"""

from __future__ import annotations

import pickle
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
    if isinstance(
        executor, ProcessPoolExecutor
    ):  # the standard pickle, in a feeder thread: test it here for a clear error
        for what, obj in zip(("f", "x"), payload):
            try:
                pickle.dumps(obj)
            except Exception as e:
                raise ShippingError(
                    f"{what} cannot be sent to the worker processes of {name} ({type(e).__name__}: {e}); "
                    + _SHIP_ADVICE
                ) from e
    try:
        executor.submit(_probe, *payload).result()
    except BrokenProcessPool as e:
        raise JacobianTaskError(f"the worker processes of {name} died before any chunk was sent: {e}") from e
    except Exception as e:
        raise ShippingError(
            f"f and x could not be sent to the workers of {name} ({type(e).__name__}: {e}); " + _SHIP_ADVICE
        ) from e


#: (executor, f) pairs whose shipping probe passed: the probe runs once per pair, not per Jacobian.
_SHIPPED: set[tuple[int, int]] = set()


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
        payload = shipped if shipped is not None else tasks[0]
        key = (id(executor), id(payload[0]))
        if key not in _SHIPPED:
            _check_shipping(executor, payload)
            _SHIPPED.add(key)
        futures = []
        results = []
        try:
            futures = [executor.submit(fn, *args) for args in tasks]
            for i, fut in enumerate(futures):  # in order: a failure anywhere means no Jacobian
                try:
                    results.append(fut.result())
                except Exception as e:
                    _raise_failure(e, i, total, describe, what, executor)
                pbar.update()
        finally:
            if len(results) < len(futures):
                for fut in futures:
                    fut.cancel()
        return results


def _raise_failure(
    err: BaseException, i: int, total: int, describe: Callable[[int], str], what: str, executor: Any
) -> None:
    where = f"{what}: chunk {i + 1} of {total} ({describe(i)})"
    if isinstance(err, BrokenProcessPool):
        raise JacobianTaskError(
            f"{where} was lost: a worker process of {type(executor).__name__} died (killed, or out of memory); "
            "the pool is broken and no Jacobian is returned. Start a new pool; an executor that retries lost "
            "tasks (dask.distributed) survives worker deaths"
        ) from err
    raise JacobianTaskError(f"{where} failed: {type(err).__name__}: {err}") from err
