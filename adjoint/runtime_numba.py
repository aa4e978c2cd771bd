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

import math
import operator

import numpy as np
from numba import njit, types
from numba.core import errors as numba_errors
from numba.core.imputils import lower_constant
from numba.extending import (
    models,
    register_model,
    typeof_impl,
)
from numba.np.numpy_support import as_dtype

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


@numba_version(runtime.broadcast_shape)
def _broadcast_shape(a, b):
    # decided by the types: numbers and one-array cases cost nothing per call (Numba's
    # np.broadcast_shapes takes ~30 ns, more than an element loop's whole iteration)
    if not _is_array(a) and not _is_array(b):
        return lambda a, b: ()
    if not _is_array(b):
        return lambda a, b: a.shape
    if not _is_array(a):
        return lambda a, b: b.shape
    return lambda a, b: np.broadcast_shapes(a.shape, b.shape)


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


def register() -> None:
    """Importing this module registered the helpers' overloads; SciPy's special functions
    are registered once SciPy's module is imported (by the function being compiled)."""
    runtime_missing_numba.register_scipy_special()


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
# reductions and products; joins, lists built with append, indexing
from . import runtime_numba_reductions  # noqa: E402,F401,I001
from . import runtime_numba_indexing  # noqa: E402,F401,I001
# Our versions of the NumPy forms Numba lacks (reductions with axis and keepdims).
from . import runtime_numpy_numba  # noqa: E402,F401,I001
# Our versions of functions Numba lacks altogether (scipy.special, np.tile, math.fmod, ...).
from . import runtime_missing_numba  # noqa: E402,F401,I001
from . import runtime_missing_arrays_numba  # noqa: E402,F401,I001
# Python's own types (float, int, bool, complex) as the dtype of NumPy's constructors
from . import runtime_numba_dtypes  # noqa: E402,F401,I001
