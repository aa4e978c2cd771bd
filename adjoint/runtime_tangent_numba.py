"""Numba implementations of the helpers in ``runtime_tangent.py``, for ``jvp``/``hvp`` with
``jit=True``. Imported by ``runtime_numba``, only when jit=True is used. The second
derivatives of np.linalg.norm and np.prod have none (declared ``no_numba`` in the registry).
"""
from __future__ import annotations

import numpy as np

from . import runtime, runtime_tangent
from .helpers import numba_version
from .runtime_numba import (
    _axis_mask,
    _dims,
    _gather,
    _is_array,
    _prod,
    _reduced_dims,
    _spread,
)


@numba_version(runtime_tangent.broadcast_tangent, not_none=("like",))
def _broadcast_tangent(t, like):
    if not _is_array(like) or like.ndim == 0:
        if _is_array(t):
            return lambda t, like: t[()]
        return lambda t, like: t
    if not _is_array(t):
        return lambda t, like: np.full(like.shape, t)
    n = like.ndim

    def impl(t, like):
        if t.ndim == n and t.shape == like.shape:
            return np.ascontiguousarray(t)
        out = np.empty(like.shape)
        _spread(np.ascontiguousarray(t).ravel(), _dims(t.shape, n), out.reshape(out.size),
                _dims(like.shape, n))
        return out
    return impl


def _reduction_tangent(slope_of):
    """The overload body shared by max/min, prod and norm: sum of slope * t over each
    reduced slice, shaped like the reduction's result."""

    def typer(t, x, y, axis=None, keepdims=False, ord=None):
        if not _is_array(x) or x.ndim == 0:
            return lambda t, x, y, axis=None, keepdims=False, ord=None: (
                t * slope_of(1.0, x, y, axis, keepdims, ord))
        mask = _axis_mask(axis)
        scalar_result = not _is_array(y)

        def impl(t, x, y, axis=None, keepdims=False, ord=None):
            ones = np.ones_like(np.asarray(y), dtype=np.float64)
            values = (slope_of(ones if not scalar_result else 1.0, x, y, axis, keepdims, ord)
                      * t)
            xd = _dims(x.shape, x.ndim)
            rd = _reduced_dims(xd, mask(axis, x.ndim))
            out = np.zeros(_prod(rd))
            _gather(np.ascontiguousarray(values).ravel(), xd, out, rd)
            return out.reshape(np.asarray(y).shape)
        if scalar_result:
            def scalar_impl(t, x, y, axis=None, keepdims=False, ord=None):
                return np.sum(slope_of(1.0, x, y, axis, keepdims, ord) * t)
            return scalar_impl
        return impl
    return typer


def _extremum_slope(g, x, y, axis, keepdims, ord):
    return runtime.extremum_adjoint(g, x, y, axis, keepdims)


def _prod_slope(g, x, y, axis, keepdims, ord):
    return runtime.prod_adjoint(g, x, axis, keepdims)


def _norm_slope(g, x, y, axis, keepdims, ord):
    return runtime.norm_adjoint(g, x, y, axis, keepdims, ord)


def _register_reductions() -> None:
    from numba import njit

    for helper, slope in ((runtime_tangent.extremum_tangent, _extremum_slope),
                          (runtime_tangent.prod_tangent, _prod_slope),
                          (runtime_tangent.norm_tangent, _norm_slope)):
        numba_version(helper, not_none=("x",))(_reduction_tangent(njit(slope)))


_register_reductions()


@numba_version(runtime_tangent.reciprocal_or_zero)
def _reciprocal_or_zero(x):
    if _is_array(x):
        return lambda x: np.where(x == 0, 0.0, 1.0 / np.where(x == 0, 1.0, x))
    return lambda x: 0.0 if x == 0 else 1.0 / x


@numba_version(runtime.stop_gradient)
def _stop_gradient(x):
    if _is_array(x):
        return lambda x: x.copy()
    return lambda x: x
