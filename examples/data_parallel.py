"""Data-parallel training on Dask: logistic regression on 1,000,000 synthetic rows.

The data are split into one shard per worker and sent to the workers once; each epoch
(one full-batch gradient-descent step) maps ``value_and_grad(loss)`` over the shards on the
cluster and adds the results, with ``adjoint.parallel.grad_sum(g, shards, client=client)``.
The loss is written as a sum over rows divided by the size of the whole data set, so the
shards' losses and gradients add up to those of the whole.

The gradient function travels to the workers by pickling, as the function and its options
(the workers build the adjoint themselves). ``loss`` is defined in this script, so Dask
sends it by value with cloudpickle, and adjoint sends the script's text along with it.

It checks that the summed gradient equals the one computed in one process, then prints the
time per epoch in one process (no Dask) and on a ``LocalCluster`` of 1 and of 2 worker
processes (one thread each; BLAS limited to one thread everywhere, so the workers are what
is parallel), and the fitted weights.

Run:   python examples/data_parallel.py [--quick]
Needs: pip install -e ".[distributed]"  (dask[distributed])

``--quick`` (or ``ADJOINT_EXAMPLES_QUICK=1``): 100,000 rows and 3 epochs.
"""
from __future__ import annotations

import os

# one BLAS thread in this process and in the workers (which inherit the environment)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _options import add_quick_option  # noqa: E402

from adjoint import value_and_grad  # noqa: E402
from adjoint.parallel import grad_sum  # noqa: E402

ROWS, QUICK_ROWS = 1_000_000, 100_000
EPOCHS, QUICK_EPOCHS = 10, 3
FEATURES = 10
LEARNING_RATE = 2.0


def loss(w, X, y, n):
    """The mean log-loss of labels ``y`` in {0, 1} over all ``n`` rows, of which these
    are some: the sum over the rows given, divided by n."""
    z = X @ w
    return np.sum(np.log(1.0 + np.exp(z)) - y * z) / n


def make_data(rows: int, seed: int = 0):
    """Standard normal features and labels drawn from a logistic model with known weights."""
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=FEATURES)
    X = rng.normal(size=(rows, FEATURES))
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(X @ true_w)))).astype(float)
    return X, y, true_w


def train(step, w: np.ndarray, epochs: int):
    """Gradient descent: ``step(w)`` gives (loss, gradient) over all rows. Returns the
    weights, the seconds each epoch took, and the losses."""
    times, losses = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        value, gradient = step(w)
        w = w - LEARNING_RATE * gradient
        times.append(time.perf_counter() - start)
        losses.append(value)
    return w, times, losses


def on_cluster(workers: int, X, y, w0, epochs: int, g, check):
    """Train on a LocalCluster of ``workers`` processes, one shard of the data each; and
    the largest difference from the one-process gradient at ``check = (w, gradient)``."""
    import dask
    from dask.distributed import Client, LocalCluster

    n = len(y)
    # Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (freed memory goes back to
    # the system at once), so every large NumPy temporary is mapped and page-faulted anew
    # at each call: measured here, that made an epoch on 2 workers take twice as long.
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1 << 30,
                     "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 1 << 29})
    with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                      dashboard_address=":0", silence_logs=logging.ERROR,
                      death_timeout=300) as cluster, Client(cluster, timeout=300) as client:
        addresses = sorted(client.scheduler_info()["workers"])
        shards = []
        for address, Xs, ys in zip(addresses, np.array_split(X, workers),
                                   np.array_split(y, workers)):
            # the data go to their worker once; each epoch sends only w
            Xf, yf = client.scatter([Xs, ys], workers=[address])
            shards.append((Xf, yf))
        # the first call also builds the adjoint on each worker: not timed (and at another
        # point than w0: Dask would give the first epoch this call's result)
        w_check, serial_gradient = check
        _, gradient = grad_sum(g, [(w_check, Xf, yf, n) for Xf, yf in shards], client=client)
        difference = float(np.max(np.abs(gradient - serial_gradient)))
        w, times, losses = train(
            lambda w: grad_sum(g, [(w, Xf, yf, n) for Xf, yf in shards], client=client),
            w0, epochs)
    return w, times, losses, difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, "100,000 rows, 3 epochs")
    quick = parser.parse_args().quick
    rows, epochs = (QUICK_ROWS, QUICK_EPOCHS) if quick else (ROWS, EPOCHS)

    X, y, true_w = make_data(rows)
    w0 = np.zeros(FEATURES)
    g = value_and_grad(loss, wrt="w")
    print(f"logistic regression, {rows:,} rows x {FEATURES} features, {epochs} epochs of "
          f"full-batch gradient descent")

    w_check = np.random.default_rng(1).normal(size=FEATURES)
    check = w_check, g(w_check, X, y, rows)[1]  # builds the adjoint here: not timed
    w1, serial_times, serial_losses = train(lambda w: g(w, X, y, rows), w0, epochs)
    results = {"1 process, no Dask": (serial_times, None)}
    for workers in (1, 2):
        w, times, losses, difference = on_cluster(workers, X, y, w0, epochs, g, check)
        results[f"Dask, {workers} worker{'s' if workers > 1 else ''}"] = (times, difference)
        assert np.allclose(losses, serial_losses, rtol=1e-10), (losses, serial_losses)
        assert np.allclose(w, w1, rtol=1e-8, atol=1e-12)

    print(f"\n{'where':<20} {'s per epoch':>12} {'fastest':>9}  largest difference from "
          "the one-process gradient")
    for where, (times, difference) in results.items():
        diff = "-" if difference is None else f"{difference:.1e}"
        print(f"{where:<20} {np.median(times):>12.4f} {min(times):>9.4f}  {diff}")
    one = np.median(results["Dask, 1 worker"][0])
    two = np.median(results["Dask, 2 workers"][0])
    print(f"2 workers vs 1: {one / two:.2f}x faster per epoch")
    print(f"\nloss after each epoch: {', '.join(f'{v:.4f}' for v in serial_losses)}")
    print(f"fitted weights: {np.array2string(w1, precision=2)}")
    print(f"true weights:   {np.array2string(true_w, precision=2)}")


if __name__ == "__main__":
    main()
