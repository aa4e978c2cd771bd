"""Helpers called by generated tangent (forward-mode) code, besides those of ``runtime``.

Reductions whose every output depends only on its own slice of the input (max, prod, norm)
have the tangent ``sum over the slice of (d y / d x) * t``; the reverse helpers already
compute ``d y / d x`` given a cotangent of ones, so the tangent reuses them.
"""
from __future__ import annotations

import numpy as np

from .helpers import exported, helper
from .runtime import _others, _reduced_last, extremum_adjoint, prod_adjoint, unreduce
from .runtime_linalg import norm_slope, spectral_top_change


@helper(zero_when=("any", 0))
def broadcast_tangent(t, like):
    """The tangent with its primal's full shape: in ``z = x + c`` with only a scalar ``x``
    varying, ``z``'s tangent is ``x``'s everywhere. A fresh array, so it can be written to."""
    shape = np.shape(like)
    if np.shape(t) == shape:
        return t
    return t + np.zeros(shape, np.result_type(t, like, np.float64))


def _reduction_tangent(slope, t, axis, keepdims):
    return np.sum(slope * t, axis=axis, keepdims=keepdims)


def _ones(y):
    return np.ones_like(y, dtype=np.result_type(y, np.float64))


@helper(zero_when=("any", 0))
def extremum_tangent(t, x, y, axis=None, keepdims=False, ord=None):
    """Tangent of np.max/np.min: the tangent of the extremal entry (the mean over ties,
    matching the reverse rule's equal shares). ``ord`` is unused: the three reduction
    tangents share one signature."""
    return _reduction_tangent(extremum_adjoint(_ones(y), x, y, axis, keepdims), t, axis,
                              keepdims)


@helper(zero_when=("any", 0))
def prod_tangent(t, x, y, axis=None, keepdims=False, ord=None):
    """Tangent of np.prod: sum of t_i times the product of the other entries (exact at 0)."""
    return _reduction_tangent(prod_adjoint(_ones(y), x, axis, keepdims), t, axis, keepdims)


@helper(zero_when=("any", 0))
def norm_tangent(t, x, y, axis=None, keepdims=False, ord=None):
    """Tangent of np.linalg.norm: <x / ||x||, t> over each reduced slice."""
    return _reduction_tangent(norm_slope(_ones(y), x, y, axis, keepdims, ord), t, axis,
                              keepdims)


@helper(zero_when=("all", 3, 4), no_numba="second derivatives of np.linalg.norm")
def norm_adjoint_tangent(g, x, y, x_dot, y_dot, axis=None, keepdims=False, ord=None):
    """The derivative of ``norm_adjoint(g, x, y) = g * x / y`` along (x_dot, y_dot), for
    second derivatives of vector and Frobenius norms (0 where the norm is 0)."""
    x = np.asarray(x)
    if ord == 2 and ((axis is None and x.ndim == 2) or
                     (isinstance(axis, tuple) and len(axis) == 2)):
        return unreduce(g, x, axis, keepdims) * spectral_top_change(x, x_dot, axis)
    g_full = unreduce(g, x, axis, keepdims)
    y_full = unreduce(y, x, axis, keepdims)
    y_dot_full = unreduce(y_dot, x, axis, keepdims)
    safe = np.where(y_full == 0, 1.0, y_full)
    change = x_dot / safe - x * y_dot_full / (safe * safe)
    return g_full * np.where(y_full == 0, 0.0, change)


@helper
def reciprocal_or_zero(x):
    """1 / x, and 0 where x == 0 (the exponent rule of ** takes ln 0 as 0)."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 0.0, 1.0 / safe)


@helper(zero_when=("any", 2), no_numba="second derivatives of np.prod")
def prod_adjoint_tangent(g, x, x_dot, axis=None, keepdims=False):
    """The derivative of ``prod_adjoint(g, x)`` along ``x_dot``, for second derivatives of
    np.prod: entry i of ``others`` (the product of the entries other than i) changes by
    sum over k != i of x_dot_k times the product of the entries other than i and k. That is
    ``others`` of x with entry i set to 1, dotted with x_dot, less the k = i term: exact
    with zeros, O(m^2) for slices of m entries."""
    x = np.asarray(x, dtype=np.result_type(x, np.float64))
    if x.ndim == 0:
        return 0.0 * g
    flat, restore = _reduced_last(x, axis)
    flat_dot, _ = _reduced_last(np.broadcast_to(x_dot, x.shape), axis)
    change = np.empty(flat.shape)
    for i in range(flat.shape[-1]):
        without_i = flat.copy()
        without_i[..., i] = 1.0
        others = _others(without_i)
        change[..., i] = (np.sum(others * flat_dot, axis=-1)
                          - others[..., i] * flat_dot[..., i])
    return unreduce(g, x, axis, keepdims) * restore(change)


__all__ = exported(__name__)
