"""Our Numba implementations of NumPy's ``np.inner``, ``np.tile`` and the 2-D
``np.diagonal``, which Numba lacks, and of the adjoints of the first two, for ``jit=True``.

Split from runtime_missing_numba.py (SciPy's special functions and ``math.fmod``), which
says how these registrations work. Each agrees with NumPy in
tests/test_jit_missing_functions.py and tests/test_helper_registry.py.

Imported by ``runtime_numba`` (only under jit=True).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from . import runtime_extra as rx
from .helpers import numba_version
from .runtime_missing_numba import _numeric
from .runtime_numba import _fail, _is_array


# -- np.inner, np.tile, np.diagonal ----------------------------------------------------------
def _result_dtype(a, b):
    """NumPy's result dtype of a product of arrays or numbers of Numba types a and b."""
    return np.promote_types(as_dtype(getattr(a, "dtype", a)), as_dtype(getattr(b, "dtype", b)))


@numba_version(np.inner)
def _inner(a, b):
    if not (_numeric(a) and _numeric(b)):
        return None
    if not (_is_array(a) and _is_array(b)) or a.ndim == 0 or b.ndim == 0:
        return lambda a, b: a * b  # a number times an array, as NumPy's inner
    dtype = _result_dtype(a, b)

    def inner(a, b):
        k = a.shape[-1]
        if b.shape[-1] != k:
            raise ValueError("np.inner: the last dimensions of a and b differ")
        rows = np.ascontiguousarray(a).reshape((-1, k))
        cols = np.ascontiguousarray(b).reshape((-1, k))
        out = np.zeros((rows.shape[0], cols.shape[0]), dtype)
        for i in range(rows.shape[0]):
            for j in range(cols.shape[0]):
                total = out[i, j]
                for t in range(k):
                    total += rows[i, t] * cols[j, t]
                out[i, j] = total
        if a.ndim == 1 and b.ndim == 1:
            return out[0, 0]
        return out.reshape(a.shape[:-1] + b.shape[:-1])
    return inner


@njit(cache=True)
def _tile_source(flat, odims, sdims):
    """The flat index in the source (dims ``sdims``) of entry ``flat`` of its tiling (dims
    ``odims``): each index taken modulo the source's dims."""
    rest, at, stride = flat, 0, 1
    for d in range(odims.size - 1, -1, -1):
        at += (rest % odims[d]) % sdims[d] * stride
        rest //= odims[d]
        stride *= sdims[d]
    return at


@njit(cache=True)
def _tile_fill(src, sdims, out, odims):
    """out (flat, dims ``odims``) = src (flat, dims ``sdims``) repeated."""
    for flat in range(out.size):
        out[flat] = src[_tile_source(flat, odims, sdims)]


@numba_version(np.tile)
def _tile(A, reps):
    if not _numeric(A):
        return None
    if isinstance(reps, types.Integer):
        count = 1
    elif isinstance(reps, types.UniTuple) and isinstance(reps.dtype, types.Integer):
        count = reps.count
    else:
        return None
    ndim = A.ndim if _is_array(A) else 0
    rank = max(ndim, count)
    dtype = as_dtype(A.dtype if _is_array(A) else A)

    def tile(A, reps):
        x = np.asarray(A)
        sdims = np.ones(rank, np.int64)
        for d in range(ndim):
            sdims[rank - ndim + d] = x.shape[d]
        times = np.ones(rank, np.int64)
        r = np.asarray(reps).ravel()
        for d in range(count):
            if r[d] < 0:
                raise ValueError("np.tile: negative repetitions")
            times[rank - count + d] = r[d]
        odims = sdims * times
        out = np.empty(odims.prod(), dtype)
        if out.size:
            _tile_fill(np.ascontiguousarray(x).ravel(), sdims, out, odims)
        return out.reshape(to_fixed_tuple(odims, rank))
    return tile


@numba_version(np.diagonal)
def _diagonal(a, offset=0, axis1=0, axis2=1):
    if not (_is_array(a) and a.ndim == 2 and isinstance(offset, (int, types.Integer))):
        return None  # (other ranks and axes: Numba's error)
    for axis, default in ((axis1, 0), (axis2, 1)):
        if not (axis == default or getattr(axis, "literal_value", None) == default):
            return None

    def diagonal(a, offset=0, axis1=0, axis2=1):
        rows, cols = a.shape
        start_row, start_col = (0, offset) if offset >= 0 else (-offset, 0)
        n = max(0, min(rows - start_row, cols - start_col))
        out = np.empty(n, a.dtype)
        for i in range(n):
            out[i] = a[start_row + i, start_col + i]
        return out
    return diagonal


# -- the adjoints of np.inner and np.tile ----------------------------------------------------
def _inner_operands(g, a, b) -> None:
    if not (_is_array(a) and _is_array(b) and a.ndim >= 1 and b.ndim >= 1):
        _fail("the adjoint of np.inner with a number operand is not supported under jit; "
              "write a * b")


@njit(cache=True)
def _inner_parts(g, a, b):
    """np.inner's operands as (m, k) and (n, k) rows and its gradient as (m, n)."""
    k = a.shape[-1]
    rows = np.ascontiguousarray(a).reshape((-1, k)).astype(np.float64)
    cols = np.ascontiguousarray(b).reshape((-1, k)).astype(np.float64)
    grid = np.asarray(g).astype(np.float64).reshape((rows.shape[0], cols.shape[0]))
    return grid, rows, cols


@numba_version(rx.inner_adjoint_a)
def _inner_adjoint_a(g, a, b):
    _inner_operands(g, a, b)

    def impl(g, a, b):
        grid, rows, cols = _inner_parts(g, a, b)
        return np.dot(grid, cols).reshape(a.shape)  # da[i, t] = sum_j g[i, j] b[j, t]
    return impl


@numba_version(rx.inner_adjoint_b)
def _inner_adjoint_b(g, a, b):
    _inner_operands(g, a, b)

    def impl(g, a, b):
        grid, rows, cols = _inner_parts(g, a, b)
        return np.dot(grid.T.copy(), rows).reshape(b.shape)  # db[j, t] = sum_i g[i, j] a[i, t]
    return impl


@njit(cache=True)
def _untile_sum(g, odims, out, sdims):
    """out (flat, dims ``sdims``) += every tile of g (flat, dims ``odims``)."""
    for flat in range(g.size):
        out[_tile_source(flat, odims, sdims)] += g[flat]


@numba_version(rx.untile)
def _untile(g, x, reps):
    if not _is_array(g):
        _fail("the adjoint of np.tile needs an array gradient under jit")
    ndim = x.ndim if _is_array(x) else 0
    rank = g.ndim

    def sums(g, x, reps):
        sdims = np.ones(rank, np.int64)
        shape = np.shape(x)
        for d in range(ndim):
            sdims[rank - ndim + d] = shape[d]
        odims = np.empty(rank, np.int64)
        for d in range(rank):
            odims[d] = g.shape[d]
        out = np.zeros(sdims.prod())
        _untile_sum(np.ascontiguousarray(g).ravel().astype(np.float64), odims, out, sdims)
        return out

    sums = njit(sums)
    if ndim == 0:
        return lambda g, x, reps: sums(g, x, reps)[0]
    return lambda g, x, reps: sums(g, x, reps).reshape(x.shape)
