"""Data-parallel gradients: the gradient of a sum over shards of the data is the sum of the
shards' gradients. ``grad_sum`` maps a gradient function over shards on an engine that
already schedules work (a Dask client, or a ``concurrent.futures`` executor) and adds the
results; it schedules nothing itself.

The gradient function travels to the workers by pickling, as its function's name and its
options (see adjoint/pickling.py): the function must be importable by the workers, and with
``jit=True`` each build is compiled once for all workers sharing the disk cache.

For the sum of the shards' gradients to be the gradient of the whole, write the loss as a
sum over rows (divided by the size of the whole data set, not of the shard).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import ArgumentError


def grad_sum(g: Callable, shards: Iterable[Sequence[Any]], client: Any = None,
             executor: Any = None) -> Any:
    """``sum(g(*shard) for shard in shards)``, the calls run in parallel.

    ``g`` is any gradient function (``grad``, ``value_and_grad``, ``jvp`` ...): what it
    returns (a gradient, a tuple of them, ``(value, gradients)``) is added entry by entry.
    Each shard is the tuple of ``g``'s arguments for one part of the data (Dask futures,
    from ``client.scatter``, are welcome: the data then stay on the workers). The calls run
    on ``client`` (a ``dask.distributed.Client``: ``client.map``, ``client.gather``) or on
    ``executor`` (a ``concurrent.futures`` executor such as ``ProcessPoolExecutor``:
    ``executor.map``), or, with neither, one after the other in this process; the results
    are added here.

    >>> import numpy as np
    >>> from adjoint import grad
    >>> def sq(w, x):
    ...     return np.sum((x * w) ** 2)
    >>> shards = [(np.ones(2), np.array([1.0, 2.0])), (np.ones(2), np.array([3.0, 4.0]))]
    >>> grad_sum(grad(sq), shards)
    array([20., 40.])
    """
    if client is not None and executor is not None:
        raise ArgumentError("grad_sum got both a client and an executor", None,
                            "pass one of them")
    columns = _columns(list(shards))
    if client is not None:
        return add_all(client.gather(client.map(g, *columns)))
    if executor is not None:
        return add_all(list(executor.map(g, *columns)))
    return add_all([g(*args) for args in zip(*columns)])


def _columns(shards: list) -> list[list]:
    """The shards' arguments, argument by argument (what ``map(g, *columns)`` takes)."""
    if not shards:
        raise ArgumentError("grad_sum got no shards", None,
                            "pass a list of argument tuples, one per part of the data")
    if not all(isinstance(s, (tuple, list)) for s in shards):
        raise ArgumentError("each shard must be a tuple of the gradient function's arguments",
                            None, "pass shards=[(w, X_part, y_part), ...]")
    lengths = {len(s) for s in shards}
    if len(lengths) != 1:
        raise ArgumentError(f"the shards have different numbers of arguments {sorted(lengths)}",
                            None, "give every shard all of the function's arguments")
    return [list(column) for column in zip(*shards)]


def add_all(results: list) -> Any:
    """The sum of results of the same structure (numbers, arrays, nested tuples of them)."""
    total = results[0]
    for result in results[1:]:
        total = _add(total, result)
    return total


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b
