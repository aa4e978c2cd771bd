"""Numba versions of the runtime helpers for joins (the adjoints of ``np.concatenate`` and
``np.stack``), lists built with ``append``, and indexing (``add_at``, ``unindex``, the
aliasing guards). Registered on import, from runtime_numba.py; see its docstring.
"""
from __future__ import annotations

import operator

import numpy as np
from numba import njit, types
from numba.core.imputils import lower_builtin
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple

from . import runtime
from .helpers import numba_version
from .jit_optional import present
from .runtime_numba import _fail, _float_dtype, _is_array, _is_none, _is_number
from .runtime_numba_tuple_index import result_ndim, scatter_kernel, written_kernel


# -- joins: the adjoints of np.concatenate and np.stack ------------------------------------
def _arrays_of_one_type(xs, what):
    if not (isinstance(xs, (types.UniTuple, types.List)) and _is_array(xs.dtype)):
        _fail(f"the adjoint of {what} is supported under jit for a tuple or list of arrays "
              f"of one type (one dtype and number of dimensions), not {xs}")


@njit(cache=True)
def _piece(g, axis, start, n):
    """A C-contiguous copy of entries start..start+n of ``g`` along ``axis``."""
    outer = 1
    for d in range(axis):
        outer *= g.shape[d]
    inner = 1
    for d in range(axis + 1, g.ndim):
        inner *= g.shape[d]
    g3 = np.ascontiguousarray(g).reshape((outer, g.shape[axis], inner))
    piece = np.empty((outer, n, inner), g.dtype)
    piece[:, :, :] = g3[:, start:start + n, :]
    return piece


@numba_version(runtime.split_like)
def _split_like(g, xs, axis=0):
    _arrays_of_one_type(xs, "np.concatenate")
    if not _is_array(g):
        _fail("the adjoint of np.concatenate needs an array gradient under jit")
    if _is_none(axis):
        def flat(g, xs, axis=0):
            entries = np.ascontiguousarray(g).ravel()
            pieces = []
            start = 0
            for x in xs:
                pieces.append(entries[start:start + x.size].copy().reshape(x.shape))
                start += x.size
            return pieces
        return flat

    def along(g, xs, axis=0):
        axis = axis % g.ndim
        pieces = []
        start = 0
        for x in xs:
            n = x.shape[axis]
            pieces.append(_piece(g, axis, start, n).reshape(tuple_setitem(g.shape, axis, n)))
            start += n
        return pieces
    return along


@numba_version(runtime.unstack)
def _unstack(g, axis=0):
    if not _is_array(g) or g.ndim == 0:
        _fail("the adjoint of np.stack needs an array gradient under jit")
    ndim, rank = g.ndim, g.ndim - 1
    if ndim == 1:
        def floats(g, axis=0):
            return [g[i] for i in range(g.shape[0])]
        return floats

    def slices(g, axis=0):
        axis = axis % ndim
        dims = np.empty(rank, np.int64)
        k = 0
        for d in range(ndim):
            if d != axis:
                dims[k] = g.shape[d]
                k += 1
        shape = to_fixed_tuple(dims, rank)
        return [_piece(g, axis, i, 1).reshape(shape) for i in range(g.shape[axis])]
    return slices


# -- lists built with append: under jit a zero entry is a zero array, never None ----------
# (the Python versions use None so as not to allocate; a Numba list holds one type)
def _list_of_arrays(values, what):
    if not (isinstance(values, (types.List, types.ListType)) and
            (_is_array(values.dtype) or _is_number(values.dtype))):
        _fail(f"{what} is supported under jit for a list of arrays of one type or of "
              f"numbers, not {values}")


@numba_version(runtime.list_zeros)
def _list_zeros(values):
    _list_of_arrays(values, "a list built with append")
    return lambda values: [runtime.zeros_like(v) for v in values]


@numba_version(runtime.list_entry)
def _list_entry(adjoints, index, like):
    return lambda adjoints, index, like: adjoints[index]


@numba_version(runtime.list_add)
def _list_add(a, b):
    return lambda a, b: [x + y for x, y in zip(a, b)]


@numba_version(runtime.list_add_at)
def _list_add_at(adjoints, index, g):
    def add(adjoints, index, g):
        adjoints[index] = adjoints[index] + g
        return adjoints
    return add


@numba_version(runtime.pop_adjoint)
def _pop_adjoint(adjoints, values):
    def pop(adjoints, values):
        values.pop()
        return adjoints.pop()
    return pop


# -- indexing ------------------------------------------------------------------------------
def _int_array(t) -> bool:
    return _is_array(t) and isinstance(t.dtype, types.Integer)


def _int_list(t) -> bool:
    """A list of integers used as an index (``x[[0, 0, 1]]``): NumPy reads it as an integer
    index array; Numba has no indexing by a list, so it is made the array NumPy sees."""
    return isinstance(t, (types.List, types.ListType)) and isinstance(t.dtype, types.Integer)


@njit(cache=True)
def _index_array(index):
    out = np.empty(len(index), np.int64)
    for k in range(len(index)):
        out[k] = index[k]
    return out


# x[[0, 0, 1]] and x[[0, 0, 1]] = v in the user's code, as NumPy reads them
@overload(operator.getitem)
def _getitem_int_list(a, index):
    if _is_array(a) and _int_list(index):
        return lambda a, index: a[_index_array(index)]
    return None


@overload(operator.setitem)
def _setitem_int_list(a, index, value):
    if _is_array(a) and _int_list(index):
        def write(a, index, value):
            a[_index_array(index)] = value
        return write
    return None


# x[...] (the whole array, a view): Numba types it but has no code for it, in the user's
# code and in the helpers' (add_at(dx, np.s_[...], g)); on an array of one or more
# dimensions it is x[:] (jit=True refuses 0-d arrays)
@lower_builtin(operator.getitem, types.Array, types.EllipsisType)
def _getitem_ellipsis(context, builder, sig, args):
    return context.compile_internal(builder, lambda a, index: a[:], sig, args)


@lower_builtin(operator.setitem, types.Array, types.EllipsisType, types.Any)
def _setitem_ellipsis(context, builder, sig, args):
    def write(a, index, value):
        a[:] = value
    context.compile_internal(builder, write, sig, args)
    return context.get_dummy_value()


# out[t1] = out_stack.pop() in generated code, with t1 a saved index bound to None before
# the loop whose branch assigns it (an Optional to Numba): written with the value it holds
@overload(operator.setitem)
def _setitem_optional_index(a, index, value):
    if _is_array(a) and isinstance(index, types.Optional):
        def write(a, index, value):
            a[present(index)] = value
        return write
    return None


def _array_in_tuple(index) -> int | None:
    """The position of the integer array in a tuple index (``x[i, t]``), or None."""
    if not isinstance(index, types.BaseTuple):
        return None
    found = [k for k, t in enumerate(index) if _int_array(t)]
    if not found:
        return None
    if len(found) > 1 or any(not isinstance(t, (types.Integer, types.SliceType))
                             for t in index if not _int_array(t)):
        _fail("an index mixing integer arrays with None, ... or another integer array is "
              "not supported under jit")
    return found[0]


def _entry_by_entry(index, k: int, x_ndim: int, g):
    """``scatter(adjoint, index, g)`` for a tuple index with an integer array at k (see
    runtime_numba_tuple_index.py), taking a ``g`` of fewer dimensions than the result by
    broadcasting it, as ``np.add.at`` does."""
    ndim = result_ndim(index, x_ndim)
    if _is_array(g) and g.ndim > ndim:
        _fail(f"an adjoint of {g.ndim} dimensions for an index read of {ndim}")
    scatter = scatter_kernel(index, k, ndim, _is_array(g))
    if not _is_array(g) or g.ndim == ndim:
        return scatter

    @njit
    def broadcast(adjoint, index, g):
        return scatter(adjoint, index, np.broadcast_to(g, adjoint[index].shape))
    return broadcast


@numba_version(runtime.add_at)
def _add_at(adjoint, index, g):
    if _int_list(index):
        return lambda adjoint, index, g: runtime.add_at(adjoint, _index_array(index), g)
    if _int_array(index):
        if index.ndim != 1:
            _fail("an integer index array of more than one dimension is not supported "
                  "under jit")

        def scatter(adjoint, index, g):
            for k in range(index.size):
                adjoint[index[k]] += g[k]
            return adjoint
        return scatter

    k = _array_in_tuple(index)
    if k is not None:
        scatter = _entry_by_entry(index, k, adjoint.ndim, g)
        return lambda adjoint, index, g: scatter(adjoint, index, _unshared(g, adjoint))
    if _is_array(adjoint) and _selects_view(index, adjoint.ndim):
        def into_view(adjoint, index, g):
            # in place through the view, as NumPy does; Numba's ``adjoint[index] += g``
            # builds the sum in a temporary and copies it back (twice the memory traffic)
            view = adjoint[index]
            view += _unshared(g, adjoint)
            return adjoint
        return into_view

    return lambda adjoint, index, g: _add_into(adjoint, index, g)


@njit
def _add_into(adjoint, index, g):
    adjoint[index] += _unshared(g, adjoint)
    return adjoint


def _unshared(g, adjoint):
    """g, or a copy of it where it may overlap the adjoint: Numba's in-place ufuncs read
    and write element by element (``a[1:] += a[:-1]`` gives running sums), NumPy's
    buffer an overlapping operand. (This Python body is what runs outside Numba.)"""
    return g


@numba_version(_unshared)
def _unshared_numba(g, adjoint):
    if not _is_array(g) or not _is_array(adjoint):
        return lambda g, adjoint: g
    return lambda g, adjoint: g.copy() if _bounds_overlap(g, adjoint) else g


def _selects_view(index, ndim: int) -> bool:
    """Whether ``a[index]`` is an array view of an ``ndim``-dimensional ``a``: integers and
    slices only (no arrays, no None), fewer integers than dimensions."""
    parts = list(index) if isinstance(index, types.BaseTuple) else [index]
    if not all(isinstance(p, (types.Integer, types.SliceType)) for p in parts):
        return False
    return sum(isinstance(p, types.Integer) for p in parts) < ndim


@numba_version(runtime.must_not_be_array, prefer_literal=True)
def _must_not_be_array(value, message):
    # decided by the type: a float is rebound (nothing to check), an array is refused
    if not _is_array(value):
        return lambda value, message: None
    text = getattr(message, "literal_value", None) or "an array changed in place shares " \
        "memory with another variable; make a copy (b = a.copy())"
    from .errors import UnsupportedSyntaxError

    def refuse(value, message):
        raise UnsupportedSyntaxError(text)
    return refuse


@numba_version(runtime.assigned, not_none=("index",))
def _assigned(index):
    # numba_version passes the value an Optional holds, and declines the None branch alone
    return lambda index: index


@numba_version(runtime.is_inexact)
def _is_inexact(x):
    inexact = isinstance(x.dtype if _is_array(x) else x, (types.Float, types.Complex))
    return lambda x: inexact


@numba_version(runtime.kept_if)
def _kept_if(g, keep):
    if _is_array(g):
        return lambda g, keep: g if keep else np.zeros_like(g)
    return lambda g, keep: g if keep else 0.0


@numba_version(runtime.detached)
def _detached(value):
    if _is_array(value):
        return lambda value: value.copy()
    return lambda value: value


@numba_version(runtime.clear_at)
def _clear_at(adjoint, index):
    def clear(adjoint, index):
        adjoint[index] = 0
        return adjoint
    return clear


@numba_version(runtime.unindex, not_none=("x",))
def _unindex(g, x, index):
    if not _is_array(x) or x.ndim == 0:
        _fail("indexing a scalar is not supported under jit")
    dtype = _float_dtype(x)
    if _int_list(index):
        return lambda g, x, index: runtime.unindex(g, x, _index_array(index))
    if _int_array(index):
        if index.ndim != 1:
            _fail("an integer index array of more than one dimension is not supported "
                  "under jit")

        def gather(g, x, index):
            out = np.zeros(x.shape, dtype)
            for k in range(index.size):
                out[index[k]] += g[k]
            return out
        return gather

    def basic(g, x, index):
        out = np.zeros(x.shape, dtype)
        out[index] = g
        return out
    k = _array_in_tuple(index)
    if k is None:
        return basic
    scatter = _entry_by_entry(index, k, x.ndim, g)
    return lambda g, x, index: scatter(np.zeros(x.shape, dtype), index, g)


@numba_version(runtime.zero_entries)
def _zero_entries(g, index):
    if not _is_array(g):
        _fail("zero_entries of a scalar is not supported under jit")

    def zeroed(g, index):
        out = np.ascontiguousarray(g).copy()
        out[index] = 0
        return out
    return zeroed


# not_none: the index of a write in a branch inside a loop is bound to None before the loop
# (an Optional to Numba), and Numba also types the call with the None alone: g[None] has one
# more dimension than g where g[mask] has one (a 1-D or n-D mask), and the two results
# cannot be unified. Generated code passes written_part the index of a user's x[i] = v,
# which is never None where x[None] = v is written (that one reads dx[None] directly).
@numba_version(runtime.written_part, not_none=("index",))
def _written_part(g, index):
    if not _is_array(g):
        _fail("writing into a scalar is not supported under jit")
    if _int_list(index):
        return lambda g, index: runtime.written_part(g, _index_array(index))
    if _int_array(index):
        if index.ndim != 1 or g.ndim != 1:
            _fail("a write through an integer index array is supported under jit for "
                  "vectors and 1-D index arrays only")

        def last_write_wins(g, index):
            kept = np.full(g.shape, -1, np.int64)
            for k in range(index.size):
                kept[index[k]] = k
            out = np.empty(index.size, np.float64)
            for k in range(index.size):
                out[k] = g[index[k]] if kept[index[k]] == k else 0.0
            return out
        return last_write_wins

    def picked(g, index):
        return np.asarray(g[index]).astype(np.float64)
    k = _array_in_tuple(index)
    if k is None:
        return picked
    written = written_kernel(index, k, result_ndim(index, g.ndim))
    return lambda g, index: written(g, index)


@numba_version(runtime.must_not_share, prefer_literal=True)
def _must_not_share(value, other, message):
    if _is_array(value) and isinstance(other, (types.List, types.ListType)) and \
            _is_array(other.dtype):
        text = getattr(message, "literal_value", None) or "an array changed in place is " \
            "held by a list"
        from .errors import UnsupportedSyntaxError

        def check_entries(value, other, message):
            for entry in other:
                if _bounds_overlap(value, entry):
                    raise UnsupportedSyntaxError(text)
        return check_entries
    if not (_is_array(value) and _is_array(other)):
        return lambda value, other, message: None
    text = getattr(message, "literal_value", None) or "an array changed in place shares " \
        "memory with another variable; make a copy (b = a.copy())"
    from .errors import UnsupportedSyntaxError

    def check(value, other, message):
        if _bounds_overlap(value, other):
            raise UnsupportedSyntaxError(text)
    return check


@numba_version(runtime.must_not_overlap_masked, prefer_literal=True)
def _must_not_overlap_masked(target, index, value, message):
    parts = list(index) if isinstance(index, types.BaseTuple) else [index]
    masked = any(_is_array(p) and isinstance(p.dtype, types.Boolean) for p in parts)
    if not (masked and _is_array(target) and _is_array(value)):
        return lambda target, index, value, message: None
    text = getattr(message, "literal_value", None) or "a masked write's value shares memory " \
        "with the array written; write a copy (v.copy())"
    from .errors import UnsupportedSyntaxError

    def check(target, index, value, message):
        if _bounds_overlap(target, value):
            raise UnsupportedSyntaxError(text)
    return check


@njit(cache=True)
def _extent(a):
    """The lowest and one past the highest byte address an array's elements occupy."""
    low = high = a.ctypes.data
    if a.size == 0:
        return low, low
    for axis in range(a.ndim):
        reach = (a.shape[axis] - 1) * a.strides[axis]
        if reach < 0:
            low += reach
        else:
            high += reach
    return low, high + a.itemsize


@njit(cache=True)
def _bounds_overlap(a, b):
    a_low, a_high = _extent(a)
    b_low, b_high = _extent(b)
    return a_low < b_high and b_low < a_high


@numba_version(np.ndim)
def _ndim(value):
    # np.ndim is used by the generated code to tell a view (an array) from a number
    if _is_array(value):
        n = value.ndim
        return lambda value: n
    if _is_number(value):
        return lambda value: 0
    return None


# a boolean mask of two or more dimensions (x[x > 0] on a matrix), in the user's code and in
# the helpers above: its own module
from . import runtime_numba_masks  # noqa: E402,F401,I001
