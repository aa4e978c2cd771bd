"""Our Numba implementations of NumPy forms that Numba lacks, for ``jit=True``.

Numba compiles ``np.sum(x)`` and ``np.sum(x, axis=1)`` but not ``np.max(x, axis=1)``,
``np.mean(x, axis=0)``, ``np.prod(x, axis=1)`` or any reduction with ``keepdims``: user code
(the softmax ``x - np.max(x, axis=1, keepdims=True)``) and the generated code use them
everywhere. Each is registered here with ``helpers.numba_version`` as one more
implementation of the NumPy function, so the user's call compiles to ours instead of being
refused. Forms Numba already has are left to Numba (the typing function returns None).

Imported by ``runtime_numba`` (only under jit=True).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from .helpers import numba_version
from .runtime_numba import _axis_mask, _dims, _fail, _is_array, _is_none, _prod, _strides

SUM, PROD, MAX, MIN = 0, 1, 2, 3


@njit(cache=True)
def _reduce_flat(src, sdims, dst, ddims, op):
    """dst (flat, dims ``ddims``: 1 on the reduced axes) = the reduction ``op`` of src
    (flat, C order, dims ``sdims``) over the axes where ddims is 1. Max and min propagate
    NaN, as NumPy's do."""
    n = sdims.size
    dstr = _strides(ddims, ddims == 1)
    seen = np.zeros(dst.size, np.bool_)
    idx = np.zeros(n, np.int64)
    off = 0
    for k in range(src.size):
        v = src[k]
        if op == SUM:
            dst[off] += v
        elif op == PROD:
            dst[off] *= v
        elif not seen[off] or v != v or (v > dst[off] if op == MAX else v < dst[off]):
            if dst[off] == dst[off] or not seen[off]:  # a NaN already kept stays
                dst[off] = v
        seen[off] = True
        d = n - 1
        while d >= 0:
            idx[d] += 1
            off += dstr[d]
            if idx[d] < sdims[d]:
                break
            off -= dstr[d] * idx[d]
            idx[d] = 0
            d -= 1


def _literal_bool(t, default: bool) -> bool | None:
    """The compile-time value of a keepdims argument, or None when it is not a constant."""
    if isinstance(t, bool):  # not passed: the typing function's default
        return t
    if _is_none(t) or isinstance(t, types.Omitted):
        return default if getattr(t, "value", None) is None else bool(t.value)
    if isinstance(t, types.BooleanLiteral):
        return bool(t.literal_value)
    return None


def _reduced_count(axis, ndim: int) -> int:
    if _is_none(axis):
        return ndim
    if isinstance(axis, types.BaseTuple):
        return len(axis)
    return 1


def _result_dtype(a, op: int, mean: bool):
    dtype = as_dtype(a.dtype)
    if mean:
        return np.dtype(np.float64) if dtype.kind not in "fc" else dtype
    if op in (SUM, PROD) and dtype.kind in "biu":
        return np.dtype(np.int64)
    return dtype


def _reduction(op: int, mean: bool = False, numba_has_axis: bool = False):
    """A compiled ``core(a, axis)`` for np.sum/prod/max/min/mean with ``axis`` and
    ``keepdims``, chosen from the argument types, or None when Numba's own covers them."""
    name = "mean" if mean else ("sum", "prod", "max", "min")[op]

    def core_for(a, axis, keepdims):
        if not _is_array(a):
            return None
        keep = _literal_bool(keepdims, False)
        if keep is None:
            _fail(f"np.{name} under jit needs keepdims to be the constant True or False")
        if isinstance(keepdims, (bool, types.Omitted)) and (_is_none(axis) or (
                numba_has_axis and isinstance(axis, types.Integer))):
            return None  # Numba's own implementation covers it
        mask = _axis_mask(axis)
        ndim = a.ndim
        out_ndim = ndim if keep else ndim - _reduced_count(axis, ndim)
        dtype = _result_dtype(a, op, mean)
        start = 1 if op == PROD else 0

        def reduce(a, axis):
            reduced = mask(axis, ndim)
            xd = _dims(a.shape, ndim)
            rd = xd.copy()
            for d in range(ndim):
                if reduced[d]:
                    rd[d] = 1
            size = _prod(rd)
            if (op == MAX or op == MIN) and a.size == 0:
                raise ValueError("zero-size array to reduction operation which has no "
                                 "identity")
            dst = np.full(size, start, dtype)
            _reduce_flat(np.ascontiguousarray(a).ravel(), xd, dst, rd, op)
            if mean:
                dst = dst / (a.size // size) if a.size else dst * np.nan
            return dst, rd, reduced
        reduce = njit(reduce, cache=True)

        if out_ndim == 0:
            def scalar(a, axis):
                return reduce(a, axis)[0][0]
            return njit(scalar, cache=True)

        def shaped(a, axis):
            dst, rd, reduced = reduce(a, axis)
            kept = np.empty(out_ndim, np.int64)
            k = 0
            for d in range(ndim):
                if keep or not reduced[d]:
                    kept[k] = rd[d]
                    k += 1
            return dst.reshape(to_fixed_tuple(kept, out_ndim))
        return njit(shaped, cache=True)

    return core_for


def _with_dtype(core_for):
    """np.sum/prod/mean's signature (``dtype`` and ``out`` are left to Numba)."""
    def typing(a, axis=None, dtype=None, out=None, keepdims=False):
        if not (_is_none(dtype) and _is_none(out)):
            return None
        core = core_for(a, axis, keepdims)
        if core is None:
            return None
        return lambda a, axis=None, dtype=None, out=None, keepdims=False: core(a, axis)
    return typing


def _with_out(core_for):
    """np.max/min's signature (``out`` is left to Numba)."""
    def typing(a, axis=None, out=None, keepdims=False):
        if not _is_none(out):
            return None
        core = core_for(a, axis, keepdims)
        if core is None:
            return None
        return lambda a, axis=None, out=None, keepdims=False: core(a, axis)
    return typing


def _ptp(a, axis=None, out=None, keepdims=False):
    """np.ptp (max - min) with ``axis`` and ``keepdims``, which Numba's lacks."""
    if not _is_none(out):
        return None
    high = _reduction(MAX)(a, axis, keepdims)
    low = _reduction(MIN)(a, axis, keepdims)
    if high is None:
        return None
    return lambda a, axis=None, out=None, keepdims=False: high(a, axis) - low(a, axis)


def _register() -> None:
    for func, typing in (
            (np.sum, _with_dtype(_reduction(SUM, numba_has_axis=True))),
            (np.prod, _with_dtype(_reduction(PROD))),
            (np.mean, _with_dtype(_reduction(SUM, mean=True))),
            (np.max, _with_out(_reduction(MAX))), (np.amax, _with_out(_reduction(MAX))),
            (np.min, _with_out(_reduction(MIN))), (np.amin, _with_out(_reduction(MIN)))):
        numba_version(func, prefer_literal=True)(typing)
    numba_version(np.ptp, prefer_literal=True)(_ptp)


_register()
