"""Jacobians on executors: threads, processes and a dask.distributed cluster give the serial result.

Also: a function an executor cannot ship fails before any work starts; a
failing chunk raises in the caller, naming the chunk; a process pool whose
worker dies raises a clear error; a dask worker killed in the middle of a
Jacobian costs nothing but time (the scheduler runs its tasks again).
"""

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import dualdiff as dd
from dualdiff.transforms import JacobianTaskError, ShippingError

PARENT = os.getpid()
X = np.random.default_rng(5).random(12) + 0.5


def f(x):
    """A function with a banded Jacobian and a dense first output."""
    return np.concatenate([np.sum(x**2, keepdims=True), np.sin(x[1:]) * x[:-1]])


def tree_f(xs):
    a, b = xs
    return a * np.exp(b), np.sum(b) * a


def slow_f(x):
    time.sleep(0.15)
    return f(x)


def dies_in_worker(x):
    if os.getpid() != PARENT:
        os._exit(3)  # a worker process that dies (killed, out of memory)
    return f(x)


def serial_results():
    t = (2.0, np.array([1.0, 2.0, 3.0]))
    return {
        "fwd": dd.jacfwd(f, chunk=3)(X),
        "rev": dd.jacrev(f, chunk=3)(X),
        "fwd_sparse": dd.jacfwd(f, sparsity="auto", chunk=2)(X).toarray(),
        "rev_sparse": dd.jacrev(f, sparsity="auto", chunk=2)(X).toarray(),
        "auto_sparse": dd.jacobian(f, sparsity="auto", chunk=1)(X).toarray(),
        "tree": dd.jacfwd(tree_f, chunk=1)(t),
        "tree_rev": dd.jacrev(tree_f, chunk=1)(t),
    }


def executor_results(ex):
    t = (2.0, np.array([1.0, 2.0, 3.0]))
    return {
        "fwd": dd.jacfwd(f, chunk=3, executor=ex)(X),
        "rev": dd.jacrev(f, chunk=3, executor=ex)(X),
        "fwd_sparse": dd.jacfwd(f, sparsity="auto", chunk=2, executor=ex)(X).toarray(),
        "rev_sparse": dd.jacrev(f, sparsity="auto", chunk=2, executor=ex)(X).toarray(),
        "auto_sparse": dd.jacobian(f, sparsity="auto", chunk=1, executor=ex)(X).toarray(),
        "tree": dd.jacfwd(tree_f, chunk=1, executor=ex)(t),
        "tree_rev": dd.jacrev(tree_f, chunk=1, executor=ex)(t),
    }


def assert_identical(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b):
            assert_identical(u, v)
    else:
        assert np.shape(a) == np.shape(b)
        assert np.array_equal(a, b)


def test_threads_give_the_serial_result():
    pytest.importorskip("scipy")
    with ThreadPoolExecutor(2) as ex:
        got = executor_results(ex)
    for key, want in serial_results().items():
        assert_identical(got[key], want)


def test_processes_give_the_serial_result():
    pytest.importorskip("scipy")
    with ProcessPoolExecutor(2) as ex:
        got = executor_results(ex)
    for key, want in serial_results().items():
        assert_identical(got[key], want)


class CountingPool(ProcessPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):
        type(self).submitted += 1
        return super().submit(*args, **kwargs)


def test_a_lambda_on_a_process_pool_fails_before_any_work():
    with CountingPool(1) as ex:
        with pytest.raises(ShippingError, match="define f with def at the top level"):
            dd.jacfwd(lambda x: x * x, executor=ex)(X)
    assert CountingPool.submitted == 0


def test_a_failing_chunk_raises_naming_it_and_returns_nothing():
    calls = []
    lock = threading.Lock()

    def flaky(x):
        with lock:
            calls.append(1)
            k = len(calls)
        if k == 3:
            raise FloatingPointError("boom in the third pass")
        return f(x)

    with ThreadPoolExecutor(2) as ex:
        with pytest.raises(JacobianTaskError, match=r"jacfwd: chunk \d+ of 6 \(directions \d+-\d+\) failed") as info:
            dd.jacfwd(flaky, chunk=2, executor=ex)(X)
    assert isinstance(info.value.__cause__, FloatingPointError)


def test_a_dead_worker_process_raises_a_clear_error():
    with ProcessPoolExecutor(1) as ex:
        with pytest.raises(JacobianTaskError, match="died"):
            dd.jacfwd(dies_in_worker, chunk=4, executor=ex)(X)


def test_executor_and_progress_arguments_are_checked():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        dd.jacfwd(f, executor="threads")
    with pytest.raises(TypeError, match="progress"):
        dd.jacrev(f, progress="yes")


def test_progress_bar_on_stderr(capsys):
    dd.jacfwd(f, chunk=1, progress=True)(X)
    err = capsys.readouterr().err
    assert "jacfwd: 12/12" in err
    dd.jacfwd(f, chunk=1)(X)  # short: no bar by default
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------
# dask.distributed
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("scipy")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_cluster_gives_the_serial_result(dask_client):
    ex = dask_client.get_executor()
    got = executor_results(ex)
    for key, want in serial_results().items():
        assert_identical(got[key], want)
    # a lambda travels: dask pickles with cloudpickle
    assert np.array_equal(dd.jacfwd(lambda x: x * x, executor=ex)(X), np.diag(2 * X))


def test_dask_worker_killed_mid_jacobian_still_gives_the_whole_result(dask_client):
    pids = dask_client.run(os.getpid)
    victim = sorted(pids.values())[0]
    want = dd.jacfwd(f, chunk=1)(X)
    timer = threading.Timer(0.4, os.kill, (victim, signal.SIGKILL))
    timer.start()
    try:
        got = dd.jacfwd(slow_f, chunk=1, executor=dask_client.get_executor())(X)  # 12 tasks of 0.15 s
    finally:
        timer.cancel()
    assert np.array_equal(got, want)
    assert victim not in dask_client.run(os.getpid).values()  # the worker did die (and was replaced)
