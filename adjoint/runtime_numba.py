"""Numba implementations of the helpers in ``runtime.py``, for ``jit=True``.

Importing this module registers, with ``numba.extending.overload``, a nopython version of
each helper the generated code calls, so the same generated text runs under ``numba.njit``.
It also teaches Numba ``np.s_[...]`` (the index is returned unchanged), which the getitem
rule uses to pass an index to ``unindex``. Imported lazily: importing Numba is slow.

Each implementation is chosen from the argument *types* at compile time (scalar or array,
number of dimensions, whether ``axis`` is None); the shapes are handled at run time, so one
compiled adjoint serves every shape of the same dimensions. Arrays come back as fresh
C-contiguous arrays (never read-only broadcast views), so a variable keeps one Numba type.

Every overload is registered with ``helpers.numba_version`` (which sees ``Optional``
argument types as the type they wrap). Helpers with no nopython version at all are declared
``no_numba`` in the registry (adjoint/helpers.py) and refused at build time; argument
combinations with none raise a Numba typing error whose text starts with ``adjoint:``, which
``jit.py`` turns into a ``JitError``.
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np
from numba import njit, types
from numba.core import errors as numba_errors
from numba.core.imputils import lower_constant
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import (
    models,
    register_model,
    typeof_impl,
)
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from . import runtime
from .helpers import numba_version


def _fail(message: str):
    raise numba_errors.TypingError(f"adjoint: {message}")


# -- np.s_ ---------------------------------------------------------------------------------
class IndexExpressionType(types.Opaque):
    """The type of ``np.s_``; ``np.s_[index]`` is ``index``."""


index_expression_type = IndexExpressionType("IndexExpression")
register_model(IndexExpressionType)(models.OpaqueModel)


@typeof_impl.register(type(np.s_))
def _typeof_index_expression(val, c):
    return index_expression_type


@lower_constant(IndexExpressionType)
def _lower_index_expression(context, builder, ty, pyval):
    return context.get_dummy_value()


@numba_version(operator.getitem)
def _index_expression_getitem(s, index):
    if isinstance(s, IndexExpressionType):
        return lambda s, index: index
    return None


# -- type predicates -----------------------------------------------------------------------
def _is_array(t) -> bool:
    return isinstance(t, types.Array)


def _is_number(t) -> bool:
    return isinstance(t, (types.Number, types.Boolean))


def _is_none(t) -> bool:
    return t is None or isinstance(t, (types.NoneType, types.Omitted)) and (
        not isinstance(t, types.Omitted) or t.value is None)


def _float_dtype(t):
    """The NumPy dtype of an adjoint of an array of Numba type ``t`` (floats keep theirs)."""
    dtype = as_dtype(t.dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


# -- shape machinery shared by the helpers (flat loops over C-ordered arrays) ---------------
# Module-level, cached on disk, and called with 1-D arrays only, so each compiles once.
@njit(cache=True)
def _dims(shape, n):
    """``shape`` as an int array of length n, padded with leading 1s (NumPy broadcasting)."""
    out = np.ones(n, np.int64)
    k = len(shape)
    for i in range(k):
        out[n - k + i] = shape[i]
    return out


@njit(cache=True)
def _strides(dims, mask):
    """C strides of an array of ``dims``, 0 where ``mask`` (a broadcast axis) is set."""
    n = dims.size
    out = np.zeros(n, np.int64)
    acc = 1
    for d in range(n - 1, -1, -1):
        if not mask[d]:
            out[d] = acc
        acc *= dims[d]
    return out


@njit(cache=True)
def _spread(src, sdims, dst, ddims):
    """dst (flat, C order, dims ``ddims``) = src (flat, dims ``sdims``) broadcast."""
    n = ddims.size
    sstr = _strides(sdims, sdims == 1)
    idx = np.zeros(n, np.int64)
    off = 0
    for k in range(dst.size):
        dst[k] = src[off]
        d = n - 1
        while d >= 0:
            idx[d] += 1
            off += sstr[d]
            if idx[d] < ddims[d]:
                break
            off -= sstr[d] * idx[d]
            idx[d] = 0
            d -= 1


@njit(cache=True)
def _gather(src, sdims, dst, ddims):
    """dst (flat, zeroed, dims ``ddims``) += src summed over the axes where ddims is 1."""
    n = sdims.size
    dstr = _strides(ddims, ddims == 1)
    idx = np.zeros(n, np.int64)
    off = 0
    for k in range(src.size):
        dst[off] += src[k]
        d = n - 1
        while d >= 0:
            idx[d] += 1
            off += dstr[d]
            if idx[d] < sdims[d]:
                break
            off -= dstr[d] * idx[d]
            idx[d] = 0
            d -= 1


@njit(cache=True)
def _prod(dims):
    p = 1
    for d in dims:
        p *= d
    return p


@njit(cache=True)
def _unbroadcast_flat(g, gd, out, ld):
    """out (flat, zeroed, dims ld) = g (flat, dims gd) summed down to ld, then broadcast."""
    rd = gd.copy()
    for d in range(gd.size):
        if ld[d] == 1:
            rd[d] = 1
        elif gd[d] != 1 and gd[d] != ld[d]:
            raise ValueError("unbroadcast: the gradient's shape does not broadcast to x's")
    red = np.zeros(_prod(rd), out.dtype)
    _gather(g, gd, red, rd)
    _spread(red, rd, out, ld)


@njit(cache=True)
def _reduced_dims(xd, reduced):
    """The dims of a reduction's result with keepdims: 1 on the reduced axes."""
    rd = xd.copy()
    for d in range(xd.size):
        if reduced[d]:
            rd[d] = 1
    return rd


@njit(cache=True)
def _expanded_dims(gd, reduced):
    """The dims of a reduction's result in x's layout: 1 on the reduced axes."""
    n = reduced.size
    out = np.ones(n, np.int64)
    k = 0
    for d in range(n):
        if not reduced[d]:
            out[d] = gd[k]
            k += 1
    return out


@njit(cache=True)
def _mask_all(axis, ndim):
    return np.ones(ndim, np.bool_)


@njit(cache=True)
def _mask_one(axis, ndim):
    m = np.zeros(ndim, np.bool_)
    m[axis % ndim] = True
    return m


@njit(cache=True)
def _mask_many(axis, ndim):
    m = np.zeros(ndim, np.bool_)
    for a in axis:
        m[a % ndim] = True
    return m


def _axis_mask(axis):
    """The compiled (axis, ndim) -> bool array marking the reduced axes, for axis's type."""
    if _is_none(axis):
        return _mask_all
    if isinstance(axis, types.Integer):
        return _mask_one
    if isinstance(axis, types.BaseTuple) and all(isinstance(a, types.Integer) for a in axis):
        return _mask_many
    _fail(f"axis of type {axis} is not supported under jit; use an int, a tuple of ints "
          "or None")


# -- zeros_like, unbroadcast, tie_share, pow_exponent_adjoint --------------------------------
@numba_version(runtime.zeros_like, not_none=("x",))
def _zeros_like(x):
    if _is_array(x):
        dtype = _float_dtype(x)
        return lambda x: np.zeros(x.shape, dtype)
    if _is_number(x):
        return lambda x: 0.0
    return None


@numba_version(runtime.unbroadcast, not_none=("like",))
def _unbroadcast(g, like):
    if not _is_array(like):
        if _is_array(g):
            if g.ndim == 0:
                return lambda g, like: g[()]
            return lambda g, like: np.sum(g)
        return lambda g, like: g
    if like.ndim == 0:
        _fail("0-d arrays are not supported under jit; pass a float (float(x)) instead")
    if not _is_array(g):
        return lambda g, like: np.full(like.shape, g)
    dtype = as_dtype(g.dtype)
    n = max(g.ndim, like.ndim)
    same_rank = g.ndim == like.ndim

    def impl(g, like):
        if same_rank and g.shape == like.shape:
            return np.ascontiguousarray(g)
        out = np.zeros(like.shape, dtype)
        _unbroadcast_flat(np.ascontiguousarray(g).ravel(), _dims(g.shape, n), out.reshape(out.size),
                          _dims(like.shape, n))
        return out
    return impl


@numba_version(runtime.sum_to_shape)
def _sum_to_shape(g, shape):
    if not isinstance(shape, types.BaseTuple):
        return None
    if len(shape) == 0:  # the value was a number
        if _is_array(g):
            return (lambda g, shape: g[()]) if g.ndim == 0 else (lambda g, shape: np.sum(g))
        return lambda g, shape: g
    if not _is_array(g):
        return lambda g, shape: np.full(shape, g)
    dtype = as_dtype(g.dtype)
    n = max(g.ndim, len(shape))
    same_rank = g.ndim == len(shape)

    def impl(g, shape):
        if same_rank and g.shape == shape:
            return np.ascontiguousarray(g)
        out = np.zeros(shape, dtype)
        _unbroadcast_flat(np.ascontiguousarray(g).ravel(), _dims(g.shape, n), out.reshape(out.size),
                          _dims(shape, n))
        return out
    return impl


@numba_version(runtime.tie_share, not_none=("a", "b"))
def _tie_share(a, b):
    if _is_array(a) or _is_array(b):
        return lambda a, b: (a > b) + 0.5 * (a == b)
    return lambda a, b: (1.0 if a > b else 0.0) + (0.5 if a == b else 0.0)


@numba_version(runtime.pow_exponent_adjoint, not_none=("x",))
def _pow_exponent_adjoint(g, x, z):
    if _is_array(x):
        return lambda g, x, z: g * z * np.log(np.where(x == 0, 1.0, x))
    return lambda g, x, z: g * z * math.log(x if x != 0 else 1.0)


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
def _as_float(t):
    """A compiled cast to the float dtype of ``t`` (identity when it is already float)."""
    if not _is_array(t):
        return njit(lambda a: a)
    dtype = _float_dtype(t)
    if as_dtype(t.dtype) == dtype:
        return njit(lambda a: a)
    return njit(lambda a: a.astype(dtype))


def _check_ranks(a, b, what):
    for t in (a, b):
        if _is_array(t) and t.ndim > 2:
            _fail(f"the adjoint of {what} with arrays of more than 2 dimensions is not "
                  "supported under jit")


@numba_version(runtime.dot_adjoint_a, not_none=("a", "b"))
def _dot_adjoint_a(g, a, b):
    _check_ranks(a, b, "np.dot")
    fb = _as_float(b)
    if not _is_array(a) or not _is_array(b) or a.ndim == 0 or b.ndim == 0:
        return lambda g, a, b: runtime.unbroadcast(g * b, a)
    if b.ndim == 1:
        if a.ndim == 1:
            return lambda g, a, b: g * fb(b)
        return lambda g, a, b: np.outer(g, fb(b))
    return lambda g, a, b: np.dot(g, np.ascontiguousarray(fb(b).T))


@numba_version(runtime.dot_adjoint_b, not_none=("a", "b"))
def _dot_adjoint_b(g, a, b):
    _check_ranks(a, b, "np.dot")
    fa = _as_float(a)
    if not _is_array(a) or not _is_array(b) or a.ndim == 0 or b.ndim == 0:
        return lambda g, a, b: runtime.unbroadcast(g * a, b)
    if a.ndim == 1:
        if b.ndim == 1:
            return lambda g, a, b: fa(a) * g
        return lambda g, a, b: np.outer(fa(a), g)
    return lambda g, a, b: np.dot(np.ascontiguousarray(fa(a).T), g)


@numba_version(runtime.matmul_adjoint_a, not_none=("a", "b"))
def _matmul_adjoint_a(g, a, b):
    _check_ranks(a, b, "a @ b")
    return lambda g, a, b: runtime.dot_adjoint_a(g, a, b)


@numba_version(runtime.matmul_adjoint_b, not_none=("a", "b"))
def _matmul_adjoint_b(g, a, b):
    _check_ranks(a, b, "a @ b")
    return lambda g, a, b: runtime.dot_adjoint_b(g, a, b)


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


@numba_version(runtime.add_at)
def _add_at(adjoint, index, g):
    if _int_array(index):
        if index.ndim != 1:
            _fail("an integer index array of more than one dimension is not supported "
                  "under jit")

        def scatter(adjoint, index, g):
            for k in range(index.size):
                adjoint[index[k]] += g[k]
            return adjoint
        return scatter

    def basic(adjoint, index, g):
        adjoint[index] += g
        return adjoint
    return basic


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
    return basic


@numba_version(runtime.zero_entries)
def _zero_entries(g, index):
    if not _is_array(g):
        _fail("zero_entries of a scalar is not supported under jit")

    def zeroed(g, index):
        out = np.ascontiguousarray(g).copy()
        out[index] = 0
        return out
    return zeroed


@numba_version(runtime.written_part)
def _written_part(g, index):
    if not _is_array(g):
        _fail("writing into a scalar is not supported under jit")
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
    return picked


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


def register() -> None:
    """Nothing to do: importing this module registered the overloads."""


# -- checkpointed loops --------------------------------------------------------------------
def _require_integer(t) -> None:
    if not isinstance(t, types.Integer):
        _fail(f"snapshots of adjoint.checkpointed must be an integer under jit, not {t}")


@njit(cache=True)
def _check_snapshots(snapshots):
    if snapshots < 1:
        raise ValueError("adjoint.checkpointed: snapshots must be at least 1")


@numba_version(runtime.checkpointed)
def _checkpointed(iterable, snapshots):
    _require_integer(snapshots)

    def identity(iterable, snapshots):
        _check_snapshots(snapshots)
        return iterable
    return identity


@numba_version(runtime.checkpoint_stride)
def _checkpoint_stride(steps, snapshots):
    _require_integer(snapshots)

    def stride(steps, snapshots):
        _check_snapshots(snapshots)
        return max(1, -(-steps // snapshots))
    return stride


@numba_version(runtime.checkpoint_segments)
def _checkpoint_segments(steps, stride):
    return lambda steps, stride: max(0, -(-steps // stride))

# The Numba versions of the wider tables' helpers (runtime_extra.py, runtime_linalg.py) and
# of the tangent helpers (runtime_tangent.py) register on import.
from . import runtime_extra_numba, runtime_linalg_numba, runtime_tangent_numba  # noqa: E402,F401,I001
# Our versions of the NumPy forms Numba lacks (reductions with axis and keepdims).
from . import runtime_numpy_numba  # noqa: E402,F401,I001
