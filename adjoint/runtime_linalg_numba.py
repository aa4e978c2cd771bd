"""Numba implementations of the helpers in ``runtime_linalg.py``, for ``jit=True``.

Imported by ``runtime_numba`` with the other Numba versions. Numba's ``np.linalg`` takes one
2-D matrix at a time, so each overload does too; a stack of matrices raises a typing error
starting with ``adjoint:``, which ``jit.py`` turns into a located ``JitError``. Helpers with
no Numba version are declared ``no_numba`` in the registry (adjoint/helpers.py).
"""
from __future__ import annotations

import numpy as np

from . import runtime_linalg as rl
from .helpers import numba_version
from .runtime_numba import _fail, _is_array


# -- linear algebra: one matrix at a time (Numba's np.linalg takes 2-D arrays) -------------
def _require_matrix(a, what):
    if not (_is_array(a) and a.ndim == 2):
        _fail(f"{what} is supported under jit for a single 2-D matrix only")


@numba_version(rl.solve_as)
def _solve_as(a, r, transpose=False):
    _require_matrix(a, "np.linalg.solve")

    def impl(a, r, transpose=False):
        m = np.ascontiguousarray(a.T) if transpose else np.ascontiguousarray(a)
        return np.linalg.solve(m, np.ascontiguousarray(r))
    return impl


@numba_version(rl.times_as)
def _times_as(a, s, transpose=False):
    _require_matrix(a, "np.linalg.solve")

    def impl(a, s, transpose=False):
        m = np.ascontiguousarray(a.T) if transpose else np.ascontiguousarray(a)
        return np.dot(m, np.ascontiguousarray(s))
    return impl


@numba_version(rl.outer_last)
def _outer_last(u, v, a):
    _require_matrix(a, "np.linalg.solve")
    if u.ndim == 1:
        return lambda u, v, a: np.outer(u, v)
    return lambda u, v, a: np.dot(np.ascontiguousarray(u), np.ascontiguousarray(v.T))


@numba_version(rl.matrix_trace)
def _matrix_trace(m):
    _require_matrix(m, "the derivative of np.linalg.det / slogdet")
    return lambda m: np.trace(m)


@numba_version(rl.eigenvectors)
def _eigenvectors(x):
    _require_matrix(x, "np.linalg.eigvalsh")
    return lambda x: np.linalg.eigh(np.ascontiguousarray(x))[1]
