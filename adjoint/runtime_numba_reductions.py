"""Numba versions of the runtime helpers for reductions (``unreduce``, ``mean_adjoint``,
``extremum_adjoint``, ``prod_adjoint``, ``cumsum_adjoint``, ``norm_adjoint``) and products
(``dot_adjoint_a`` and the like). Registered on import, from runtime_numba.py; see its
docstring.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, types
from numba.np.numpy_support import as_dtype

from . import runtime
from .helpers import numba_version
from .runtime_numba import (
    _axis_mask,
    _dims,
    _expanded_dims,
    _fail,
    _float_dtype,
    _gather,
    _is_array,
    _is_none,
    _prod,
    _reduced_dims,
    _spread,
    _strides,
)


# -- reductions ----------------------------------------------------------------------------
@numba_version(runtime.unreduce, not_none=("x",))
def _unreduce(g, x, axis=None, keepdims=False):
    if not _is_array(x) or x.ndim == 0:
        if _is_array(g):
            return lambda g, x, axis=None, keepdims=False: g[()]
        return lambda g, x, axis=None, keepdims=False: g
    dtype = _float_dtype(x)
    if not _is_array(g):
        return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g, dtype)
    mask = _axis_mask(axis)
    kept = g.ndim == x.ndim  # keepdims=True

    def impl(g, x, axis=None, keepdims=False):
        gd = _dims(g.shape, g.ndim)
        if not kept:
            gd = _expanded_dims(gd, mask(axis, x.ndim))
        out = np.empty(x.shape, dtype)
        _spread(np.ascontiguousarray(g).ravel(), gd, out.reshape(out.size), _dims(x.shape, x.ndim))
        return out
    return impl


@numba_version(runtime.mean_adjoint, not_none=("x",))
def _mean_adjoint(g, x, axis=None, keepdims=False):
    if not _is_array(x) or x.ndim == 0:
        return lambda g, x, axis=None, keepdims=False: g / 1.0
    mask = _axis_mask(axis)

    def impl(g, x, axis=None, keepdims=False):
        reduced = mask(axis, x.ndim)
        count = 1
        for d in range(x.ndim):
            if reduced[d]:
                count *= x.shape[d]
        return runtime.unreduce(g, x, axis, keepdims) / count
    return impl


@numba_version(runtime.extremum_adjoint, not_none=("x", "y"))
def _extremum_adjoint(g, x, y, axis=None, keepdims=False):
    if not _is_array(x) or x.ndim == 0:
        return lambda g, x, y, axis=None, keepdims=False: g * (1.0 if x == y else 0.0)
    mask = _axis_mask(axis)

    def impl(g, x, y, axis=None, keepdims=False):
        winners = (x == runtime.unreduce(y, x, axis, keepdims)) * 1.0
        xd = _dims(x.shape, x.ndim)
        rd = _reduced_dims(xd, mask(axis, x.ndim))
        counts = np.zeros(_prod(rd))
        _gather(winners.ravel(), xd, counts, rd)
        full = np.empty(x.shape)
        _spread(counts, rd, full.reshape(full.size), xd)
        return runtime.unreduce(g, x, axis, keepdims) * winners / full
    return impl


@njit(cache=True)
def _groups(xd, rd):
    """For each entry of an array of dims ``xd`` (C order), the flat index of the result
    of a reduction to dims ``rd`` (1 on the reduced axes) it goes into."""
    n = xd.size
    dstr = _strides(rd, rd == 1)
    out = np.empty(_prod(xd), np.int64)
    idx = np.zeros(n, np.int64)
    off = 0
    for k in range(out.size):
        out[k] = off
        d = n - 1
        while d >= 0:
            idx[d] += 1
            off += dstr[d]
            if idx[d] < xd[d]:
                break
            off -= dstr[d] * idx[d]
            idx[d] = 0
            d -= 1
    return out


@njit(cache=True)
def _others_product(flat, groups, count):
    """For each entry, the product of the other entries of its group: the product of those
    before it times the product of those after it (exact with zeros, no division)."""
    others = np.empty(flat.size)
    acc = np.ones(count)
    for k in range(flat.size):
        others[k] = acc[groups[k]]
        acc[groups[k]] *= flat[k]
    acc[:] = 1.0
    for k in range(flat.size - 1, -1, -1):
        others[k] *= acc[groups[k]]
        acc[groups[k]] *= flat[k]
    return others


@numba_version(runtime.prod_adjoint, not_none=("x",))
def _prod_adjoint(g, x, axis=None, keepdims=False):
    if not _is_array(x) or x.ndim == 0:
        return lambda g, x, axis=None, keepdims=False: g
    mask = _axis_mask(axis)

    def impl(g, x, axis=None, keepdims=False):
        xd = _dims(x.shape, x.ndim)
        rd = _reduced_dims(xd, mask(axis, x.ndim))
        others = _others_product(np.ascontiguousarray(x).ravel().astype(np.float64),
                                 _groups(xd, rd), _prod(rd))
        return runtime.unreduce(g, x, axis, keepdims) * others.reshape(x.shape)
    return impl


@numba_version(runtime.cumsum_adjoint, not_none=("x",))
def _cumsum_adjoint(g, x, axis=None):
    if not _is_array(x):
        return lambda g, x, axis=None: g
    if not _is_none(axis) and x.ndim > 1:
        _fail("the adjoint of np.cumsum along an axis of a multi-dimensional array is not "
              "supported under jit")

    def impl(g, x, axis=None):
        flipped = np.cumsum(np.ascontiguousarray(g).ravel()[::-1])[::-1].copy()
        return flipped.reshape(x.shape)
    return impl


@numba_version(runtime.norm_adjoint, not_none=("x", "y"))
def _norm_adjoint(g, x, y, axis=None, keepdims=False, ord=None):
    # ord=2 of a vector is the default norm; any other ord has its own helper (the literal
    # value matters: Numba retries with literal types when this refuses a plain integer)
    if not _is_none(ord) and not (isinstance(ord, types.IntegerLiteral)
                                  and ord.literal_value == 2 and _is_array(x) and x.ndim == 1):
        _fail("np.linalg.norm with an ord argument is not supported under jit")
    if not _is_array(x):
        return lambda g, x, y, axis=None, keepdims=False, ord=None: (
            g * (0.0 if y == 0 else x / y))
    def impl(g, x, y, axis=None, keepdims=False, ord=None):
        y_full = runtime.unreduce(y, x, axis, keepdims)
        safe = np.where(y_full == 0, 1.0, y_full)
        return runtime.unreduce(g, x, axis, keepdims) * np.where(y_full == 0, 0.0, x / safe)
    return impl


# -- products ------------------------------------------------------------------------------
@functools.cache
def _cast(t, dtype):
    """A compiled cast of a value of Numba type ``t`` to ``dtype`` (identity for a scalar
    or an array of that dtype)."""
    if not _is_array(t) or as_dtype(t.dtype) == dtype:
        return njit(lambda a: a)
    return njit(lambda a: a.astype(dtype))


def _product_dtype(g, x):
    """The dtype of NumPy's product of the adjoint ``g`` and the operand ``x``: float32
    operands with a float64 adjoint (the seed is a Python float) give float64, integers
    count as float64. Numba's BLAS products take one dtype only."""
    g_dtype = _float_dtype(g) if _is_array(g) else np.dtype(np.float64)
    return np.result_type(g_dtype, _float_dtype(x) if _is_array(x) else np.float64)


def _transposed(t):
    """``x.T`` without copying where x is contiguous (C or F order): BLAS reads a transposed
    operand in place. Copying it to C order first costs more than the product (W5: a
    256 x 256 copy per layer). Only a strided view is made contiguous first."""
    if t.layout in "CF":
        return njit(lambda a: a.T)
    return njit(lambda a: np.ascontiguousarray(a).T)


def _check_ranks(a, b, what):
    for t in (a, b):
        if _is_array(t) and t.ndim > 2:
            _fail(f"the adjoint of {what} with arrays of more than 2 dimensions is not "
                  "supported under jit")


@numba_version(runtime.dot_adjoint_a, not_none=("a", "b"))
def _dot_adjoint_a(g, a, b):
    _check_ranks(a, b, "np.dot")
    if not _is_array(a) or not _is_array(b) or a.ndim == 0 or b.ndim == 0:
        return lambda g, a, b: runtime.unbroadcast(g * b, a)
    dtype = _product_dtype(g, b)
    fg, fb = _cast(g, dtype), _cast(b, dtype)
    if b.ndim == 1:
        if a.ndim == 1:
            return lambda g, a, b: fg(g) * fb(b)
        return lambda g, a, b: np.outer(fg(g), fb(b))
    bt = _transposed(b)
    return lambda g, a, b: np.dot(fg(g), bt(fb(b)))


@numba_version(runtime.dot_adjoint_b, not_none=("a", "b"))
def _dot_adjoint_b(g, a, b):
    _check_ranks(a, b, "np.dot")
    if not _is_array(a) or not _is_array(b) or a.ndim == 0 or b.ndim == 0:
        return lambda g, a, b: runtime.unbroadcast(g * a, b)
    dtype = _product_dtype(g, a)
    fg, fa = _cast(g, dtype), _cast(a, dtype)
    if a.ndim == 1:
        if b.ndim == 1:
            return lambda g, a, b: fa(a) * fg(g)
        return lambda g, a, b: np.outer(fa(a), fg(g))
    at = _transposed(a)
    return lambda g, a, b: np.dot(at(fa(a)), fg(g))


@numba_version(runtime.matmul_adjoint_a, not_none=("a", "b"))
def _matmul_adjoint_a(g, a, b):
    _check_ranks(a, b, "a @ b")
    return lambda g, a, b: runtime.dot_adjoint_a(g, a, b)


@numba_version(runtime.matmul_adjoint_b, not_none=("a", "b"))
def _matmul_adjoint_b(g, a, b):
    _check_ranks(a, b, "a @ b")
    return lambda g, a, b: runtime.dot_adjoint_b(g, a, b)
