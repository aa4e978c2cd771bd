"""Indexing with a boolean mask of two or more dimensions under jit=True, as NumPy does it.

Numba indexes with a 1-D boolean mask only: ``m[m > 0]`` on a matrix is typed with the
wrong number of dimensions and its lowering fails with an AssertionError of Numba's own.
The user's masked reads and writes (``y = x[x > 0]``, ``x[mask] = v``, ``x[mask] += v``)
and the helpers the adjoints call with such a mask (``written_part``, ``unindex``,
``add_at``, ``clear_at``, ``zero_entries``: runtime_numba_indexing.py) all index through
``operator.getitem``/``operator.setitem``, so this module gives those two their NumPy meaning
for an array indexed by one boolean array of 2+ dimensions, and everything above compiles
unchanged. (Rewriting the generated text to call helpers instead would have left the user's
own primal statements and every helper to be found one by one; the text stays the one
jit=False runs.)

NumPy's rules, which these follow exactly:
- ``x[m]`` with ``m`` of shape ``x.shape[:k]`` (k >= 2 dimensions; k = x.ndim is the usual
  case) selects the entries (k = x.ndim) or sub-arrays where ``m`` is True, in C order of
  ``m``: the result has shape ``(count,) + x.shape[k:]`` and is a new C-contiguous array.
  Any other shape of ``m`` is an IndexError, as in NumPy.
- ``x[m] = v`` writes, in the same order, ``v`` broadcast to that shape (a scalar, a
  length-1 or length-count vector, ...); a mismatch is NumPy's ValueError (and, for a mask
  of all of x's dimensions, a ``v`` of two or more dimensions NumPy's TypeError). A mask
  names each position once, so there are no repeated writes to order.
- A ``v`` that shares memory with ``x``: with a mask of fewer dimensions than ``x``, NumPy
  reads ``v`` in full before it writes, and so does this (a copy). With a mask of all of
  ``x``'s dimensions NumPy reads ``v`` while it writes (its result depends on the order of
  its loop, and the adjoint assumes no overlap), so that is refused at run time with an
  UnsupportedSyntaxError (an AdjointError) that says to copy ``v``.
- ``x[m] += v`` is Numba's read, add, write through the two above: NumPy's result.

The loops walk ``m`` with ``np.ndindex`` and index ``x`` by position, so a non-contiguous
``x`` (a transposed view, a row slice) is read and written in place, never through a copy.

The overloads are registered for the CPU target: Numba tries target-specific templates
before its generic ones, so they take precedence over Numba's own array indexing whatever
the import order (a generic overload registered after Numba's first compilation is tried
after Numba's array template, which accepts the mask with the wrong type). Indices that put
such a mask in a tuple (``x[m, 0]``) are left to Numba, which refuses them (jit.py's
NUMBA_LIMITS says so). Imported under jit=True only, by runtime_numba_indexing.py.
"""
from __future__ import annotations

import functools
import operator

import numpy as np
from numba import njit, types
from numba.np.unsafe.ndarray import to_fixed_tuple

from .helpers import numba_version
from .runtime_numba import _is_array, _is_number

MISMATCH = "boolean index did not match indexed array (under jit: its shape must be the " \
    "array's leading dimensions, as in NumPy)"
TOO_MANY = "too many indices for array: a boolean mask has more dimensions than the array"
TOO_DEEP = "NumPy boolean array indexing assignment requires a 0 or 1-dimensional input"
OVERLAP = "x[mask] = v with v sharing memory with x (a mask of all of x's dimensions) " \
    "is not supported under jit: NumPy reads v while it writes x, so the result depends on " \
    "the order of the writes; write x[mask] = v.copy()"
NO_BROADCAST = "shape mismatch: value array could not be broadcast to the indexing result " \
    "of the boolean mask"


def _nd_mask(t) -> bool:
    """A boolean array of two or more dimensions: the masks Numba cannot index with."""
    return _is_array(t) and isinstance(t.dtype, types.Boolean) and t.ndim >= 2


@njit(cache=True)
def _count(shape, mask):
    """The number of True entries of ``mask``, after checking that its shape is the first
    dimensions of ``shape`` (NumPy's IndexError otherwise)."""
    for d in range(mask.ndim):
        if mask.shape[d] != shape[d]:
            raise IndexError(MISMATCH)
    return np.count_nonzero(mask)


# The loops over the selected positions: the j-th True entry of the mask (C order) and the
# j-th entry (or sub-array) of a selection. Any layout: walk the mask by position. A
# C-contiguous array and mask of all its dimensions: walk both flat (twice as fast).
@njit
def _gather_any(x, mask, out):
    j = 0
    for at in np.ndindex(mask.shape):
        if mask[at]:
            out[j] = x[at]  # an entry, or the sub-array x[at] when the mask has fewer dims
            j += 1


@njit
def _gather_flat(x, mask, out):
    flat, picks = x.reshape(x.size), mask.reshape(mask.size)
    j = 0
    for i in range(picks.size):
        if picks[i]:
            out[j] = flat[i]
            j += 1


@njit
def _scatter_any(x, mask, source):
    j = 0
    for at in np.ndindex(mask.shape):
        if mask[at]:
            x[at] = source[j]
            j += 1


@njit
def _scatter_flat(x, mask, source):
    flat, picks = x.reshape(x.size), mask.reshape(mask.size)
    j = 0
    for i in range(picks.size):
        if picks[i]:
            flat[i] = source[j]
            j += 1


def _walks(x, mask):
    """The (gather, scatter) loops for these Numba types of array and mask."""
    if x.layout == "C" and mask.layout == "C" and mask.ndim == x.ndim:
        return _gather_flat, _scatter_flat
    return _gather_any, _scatter_any


# (one compiled function per form, shared by every overload resolution that needs it)
@functools.cache
def _selection_shape(k: int, rank: int):
    """A Numba function: the shape ``(count,) + shape[k:]`` of a selection of rank ``rank``."""
    @njit
    def shape_of(shape, count):
        dims = np.empty(rank, np.int64)
        dims[0] = count
        for d in range(1, rank):
            dims[d] = shape[k + d - 1]
        return to_fixed_tuple(dims, rank)
    return shape_of


@functools.cache
def _trailing(value_ndim: int, rank: int):
    """A Numba function: ``value`` without its leading dimensions beyond ``rank`` (each must
    be 1: NumPy's assignment drops them), or ``value`` itself."""
    if value_ndim <= rank:
        return njit(lambda value: value)
    extra = value_ndim - rank

    @njit
    def trailing(value):
        dims = np.empty(rank, np.int64)
        for d in range(value_ndim):
            if d < extra:
                if value.shape[d] != 1:
                    raise ValueError(NO_BROADCAST)
            else:
                dims[d - extra] = value.shape[d]
        return np.ascontiguousarray(value).reshape(to_fixed_tuple(dims, rank))
    return trailing


@numba_version(operator.getitem, target="cpu")
def _getitem_mask(x, mask):
    if not (_is_array(x) and _nd_mask(mask)):
        return None
    k = mask.ndim
    if k > x.ndim:
        def too_many(x, mask):
            if x.size >= 0:  # always: the return below only gives the result a type
                raise IndexError(TOO_MANY)
            return np.empty(0, x.dtype)
        return too_many
    shape_of = _selection_shape(k, x.ndim - k + 1)
    gather = _walks(x, mask)[0]

    def read(x, mask):
        out = np.empty(shape_of(x.shape, _count(x.shape, mask)), x.dtype)
        gather(x, mask, out)
        return out
    return read


@numba_version(operator.setitem, target="cpu")
def _setitem_mask(x, mask, value):
    if not (_is_array(x) and _nd_mask(mask)):
        return None
    k = mask.ndim
    if k > x.ndim:
        def too_many(x, mask, value):
            raise IndexError(TOO_MANY)
        return too_many
    rank = x.ndim - k + 1
    shape_of, scatter = _selection_shape(k, rank), _walks(x, mask)[1]
    if _is_number(value):
        def fill(x, mask, value):
            shape = shape_of(x.shape, _count(x.shape, mask))
            scatter(x, mask, np.broadcast_to(np.full(1, value), shape))
        return fill
    if not _is_array(value):
        return None  # Numba's own typing error for what NumPy would not write either
    if rank == 1 and value.ndim > 1:
        def too_deep(x, mask, value):
            raise TypeError(TOO_DEEP)
        return too_deep
    trailing = _trailing(value.ndim, rank)
    from .errors import UnsupportedSyntaxError
    from .runtime_numba_indexing import _bounds_overlap

    def write(x, mask, value):
        shape = shape_of(x.shape, _count(x.shape, mask))
        if _bounds_overlap(value, x):
            if rank == 1:
                raise UnsupportedSyntaxError(OVERLAP)
            value = value.copy()
        # NumPy's ValueError if it cannot be broadcast
        scatter(x, mask, np.broadcast_to(trailing(value), shape))
    return write
