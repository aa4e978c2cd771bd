"""adjoint.parallel.grad_sum: the sum of the shards' gradients, computed on a Dask cluster
(2 worker processes), on a process pool, or serially, equals the gradient of the whole."""
from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

from adjoint import ArgumentError, grad, value_and_grad
from adjoint.parallel import grad_sum
from tests import pickle_cases as pc
from tests.test_pickling import ROOT, closure


def shards_of(w, X, y, n: int) -> list[tuple]:
    return [(w, Xs, ys) for Xs, ys in zip(np.array_split(X, n), np.array_split(y, n))]


def test_serial_sum_of_shards_is_the_whole_gradient():
    w, X, y = pc.data()
    whole = grad(pc.loss)(w, X, y)
    np.testing.assert_allclose(grad_sum(grad(pc.loss), shards_of(w, X, y, 3)), whole,
                               rtol=1e-12)
    value, g = grad_sum(value_and_grad(pc.loss), shards_of(w, X, y, 4))
    np.testing.assert_allclose(value, pc.loss(w, X, y), rtol=1e-12)
    np.testing.assert_allclose(g, whole, rtol=1e-12)


def test_process_pool_sum_equals_the_serial_one():
    w, X, y = pc.data()
    g = grad(pc.loss, jit=True)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        total = grad_sum(g, shards_of(w, X, y, 4), executor=pool)
    np.testing.assert_allclose(total, g(w, X, y), rtol=1e-12)


def test_bad_shards_are_refused():
    g = grad(pc.loss)
    with pytest.raises(ArgumentError, match="no shards"):
        grad_sum(g, [])
    with pytest.raises(ArgumentError, match="tuple of the gradient function's arguments"):
        grad_sum(g, [np.ones(3)])
    with pytest.raises(ArgumentError, match="different numbers of arguments"):
        grad_sum(g, [(1.0, 2.0), (1.0,)])
    with pytest.raises(ArgumentError, match="both a client and an executor"):
        grad_sum(g, [(1.0,)], client=object(), executor=object())


def test_dask_local_cluster_sum_equals_the_serial_one():
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (pip install -e "
        "'.[distributed]')")
    w, X, y = pc.data(rows=1000)
    shards = shards_of(w, X, y, 4)
    scaled = closure(3.0)  # not importable by name: Dask falls back to cloudpickle
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0", silence_logs=logging.ERROR,
                                  death_timeout=300) as cluster, \
            distributed.Client(cluster, timeout=300) as client:
        value, total = grad_sum(value_and_grad(pc.loss), shards, client=client)
        assert len(client.scheduler_info()["workers"]) == 2
        squares = grad_sum(grad(scaled), [(X[:10],), (X[10:20],)], client=client)
    serial_value, serial = value_and_grad(pc.loss)(w, X, y)
    np.testing.assert_allclose(total, serial, rtol=1e-12)
    np.testing.assert_allclose(value, serial_value, rtol=1e-12)
    np.testing.assert_allclose(squares, 6.0 * (X[:10] + X[10:20]), rtol=1e-12)


POOL_SCRIPT = """
import multiprocessing, sys
import numpy as np
from adjoint import grad
from tests import pickle_cases as pc

if __name__ == "__main__":
    w, X, y = pc.data()
    g = grad(pc.loss)
    whole = g(w, X, y)  # called first: the case that failed before gradients pickled
    shards = [(w, X[i::4], y[i::4]) for i in range(4)]
    with multiprocessing.get_context(sys.argv[1]).Pool(2) as pool:
        parts = pool.starmap(g, shards)
    print(float(np.max(np.abs(sum(parts) - whole))))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool_starmap_takes_a_called_gradient(method, tmp_path):
    """The issue's reproduction, in a fresh interpreter (fork is safe there: no threads)."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    script = tmp_path / "pool_starmap.py"
    script.write_text(POOL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script), method], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) < 1e-12
