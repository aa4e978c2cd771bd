"""Numba implementations of the helpers in ``runtime_extra.py``, for ``jit=True``.

Imported by ``runtime_numba`` (so registered whenever jit is used). Each overload covers the
argument types Numba supports for the primal function it serves (mostly 1-D and 2-D arrays);
other combinations raise a typing error starting with ``adjoint:``, which ``jit.py`` turns
into a located ``JitError``. Helpers with no Numba version at all are declared ``no_numba``
in the registry (adjoint/helpers.py) and refused at build time.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import runtime_extra as rx
from .helpers import numba_version
from .runtime_numba import _axis_mask, _fail, _is_array, _is_none

# -- polygamma: the recurrence up to x >= 15, then the asymptotic series -------------------
_BERNOULLI = np.array([1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6])


@njit(cache=True)
def polygamma_scalar(n, x):
    """psi^(n)(x) for a real x that is not a pole (0, -1, -2, ...)."""
    sign = 1.0 if n % 2 == 1 else -1.0  # (-1)^(n+1)
    factorial = math.gamma(n + 1.0)
    shift = 0.0
    while x < 15.0:
        # psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1)
        shift += sign * factorial / x ** (n + 1)
        x += 1.0
    if n == 0:
        value = math.log(x) - 0.5 / x
        for k in range(1, _BERNOULLI.size + 1):
            value -= _BERNOULLI[k - 1] / (2 * k * x ** (2 * k))
        return value + shift
    value = math.gamma(n * 1.0) / x ** n + factorial / (2.0 * x ** (n + 1))
    for k in range(1, _BERNOULLI.size + 1):
        value += (_BERNOULLI[k - 1] * math.gamma(2.0 * k + n) / math.gamma(2.0 * k + 1.0)
                  / x ** (2 * k + n))
    return sign * value + shift


@numba_version(rx.polygamma)
def _polygamma(n, x):
    if _is_array(x):
        def impl(n, x):
            flat = np.ascontiguousarray(x).ravel()
            out = np.empty(flat.size)
            for i in range(flat.size):
                out[i] = polygamma_scalar(n, flat[i])
            return out.reshape(x.shape)
        return impl
    return lambda n, x: polygamma_scalar(n, x)


# -- reductions ----------------------------------------------------------------------------
@numba_version(rx.reduced_count)
def _reduced_count(x, axis=None):
    if not _is_array(x):
        return lambda x, axis=None: 1
    mask = _axis_mask(axis)

    def impl(x, axis=None):
        reduced = mask(axis, x.ndim)
        count = 1
        for d in range(x.ndim):
            if reduced[d]:
                count *= x.shape[d]
        return count
    return impl


@numba_version(rx.reduce_sum)
def _reduce_sum(v, axis=None, keepdims=False):
    if _is_none(axis):
        return lambda v, axis=None, keepdims=False: np.sum(v)
    if keepdims is False or getattr(keepdims, "literal_value", None) is False:
        return lambda v, axis=None, keepdims=False: np.sum(v, axis=axis)
    if getattr(keepdims, "literal_value", None) is True:  # runtime_numpy_numba's np.sum
        return lambda v, axis=None, keepdims=False: np.sum(v, axis=axis, keepdims=True)
    _fail("this reduction over an axis is not supported under jit")


@numba_version(rx.centered)
def _centered(x, axis=None):
    if not _is_none(axis):
        _fail("np.var / np.std over an axis are not supported under jit")
    if not _is_array(x):
        return lambda x, axis=None: x * 0.0
    return lambda x, axis=None: x - np.mean(x)


# -- scans and shape changes ---------------------------------------------------------------
@njit(cache=True)
def _check_last_axis(axis, ndim, what):
    if axis % ndim != ndim - 1:
        raise ValueError(what)


@numba_version(rx.diff_adjoint)
def _diff_adjoint(g, n=1, axis=-1):
    if not _is_array(g):
        _fail("np.diff of a scalar")

    def impl(g, n=1, axis=-1):
        _check_last_axis(axis, g.ndim, "np.diff under jit works along the last axis only")
        cur = np.ascontiguousarray(g).reshape(-1, g.shape[-1])
        for _ in range(n):
            rows, m = cur.shape
            nxt = np.zeros((rows, m + 1))
            for r in range(rows):
                for i in range(m + 1):
                    before = cur[r, i - 1] if i >= 1 else 0.0
                    after = cur[r, i] if i < m else 0.0
                    nxt[r, i] = before - after
            cur = nxt
        return cur.reshape(g.shape[:-1] + (cur.shape[1],))
    return impl


@numba_version(rx.sort_adjoint)
def _sort_adjoint(g, x, axis=-1):
    if not (_is_array(x) and x.ndim == 1):
        _fail("the adjoint of np.sort is supported under jit for 1-D arrays only")

    def impl(g, x, axis=-1):
        out = np.empty(x.size)
        out[np.argsort(x, kind="mergesort")] = g
        return out
    return impl


@numba_version(rx.sorted_like)
def _sorted_like(t, x, axis=-1):
    if not (_is_array(x) and x.ndim == 1):
        _fail("the tangent of np.sort is supported under jit for 1-D arrays only")
    if not _is_array(t):
        return lambda t, x, axis=-1: np.full(x.size, t)
    return lambda t, x, axis=-1: t[np.argsort(x, kind="mergesort")]


# -- cumprod: one scan over the flattened array (axis None, or a 1-D array) ----------------
def _require_flat_scan(x, axis, what):
    if not (_is_array(x) and (_is_none(axis) or x.ndim == 1)):
        _fail(f"{what} along an axis of a multi-dimensional array is not supported under jit")


@njit(cache=True)
def _cumprod_adjoint_flat(g, m):
    n = m.size
    out = np.empty(n)
    suffix = 0.0
    for i in range(n - 1, -1, -1):  # S_i = g_i + m_{i+1} S_{i+1}
        suffix = g[i] + (m[i + 1] * suffix if i + 1 < n else 0.0)
        out[i] = suffix
    prefix = 1.0
    for i in range(n):
        out[i] *= prefix
        prefix *= m[i]
    return out


@njit(cache=True)
def _cumprod_adjoint_change_flat(g, m, m_dot):
    n = m.size
    sums = np.empty(n)
    sums_dot = np.zeros(n)
    for i in range(n - 1, -1, -1):
        sums[i] = g[i] + (m[i + 1] * sums[i + 1] if i + 1 < n else 0.0)
        if i + 1 < n:
            sums_dot[i] = m_dot[i + 1] * sums[i + 1] + m[i + 1] * sums_dot[i + 1]
    out = np.empty(n)
    prefix, prefix_dot = 1.0, 0.0
    for i in range(n):
        out[i] = prefix_dot * sums[i] + prefix * sums_dot[i]
        prefix_dot = prefix_dot * m[i] + prefix * m_dot[i]
        prefix *= m[i]
    return out


@njit(cache=True)
def _cumprod_tangent_flat(t, m):
    n = m.size
    out = np.empty(n)
    y_before = 1.0
    t_before = 0.0
    for j in range(n):
        t_before = t_before * m[j] + y_before * t[j]
        out[j] = t_before
        y_before *= m[j]
    return out


@numba_version(rx.cumprod_adjoint)
def _cumprod_adjoint(g, x, axis=None):
    _require_flat_scan(x, axis, "the adjoint of np.cumprod")
    return lambda g, x, axis=None: _cumprod_adjoint_flat(
        np.ascontiguousarray(g).ravel(), np.ascontiguousarray(x).ravel()).reshape(x.shape)


@numba_version(rx.cumprod_adjoint_change)
def _cumprod_adjoint_change(g, x, x_dot, axis=None):
    _require_flat_scan(x, axis, "second derivatives of np.cumprod")
    return lambda g, x, x_dot, axis=None: _cumprod_adjoint_change_flat(
        np.ascontiguousarray(g).ravel(), np.ascontiguousarray(x).ravel(),
        np.ascontiguousarray(x_dot).ravel()).reshape(x.shape)


@numba_version(rx.cumprod_tangent)
def _cumprod_tangent(t, x, axis=None):
    _require_flat_scan(x, axis, "the tangent of np.cumprod")
    return lambda t, x, axis=None: _cumprod_tangent_flat(np.ascontiguousarray(t).ravel(),
                                                         np.ascontiguousarray(x).ravel())


@numba_version(rx.untrace)
def _untrace(g, x, offset=0, axis1=0, axis2=1):
    if not (_is_array(x) and x.ndim == 2) or _is_array(g):
        _fail("the adjoint of np.trace is supported under jit for a 2-D array only")

    def impl(g, x, offset=0, axis1=0, axis2=1):
        out = np.zeros(x.shape)
        rows, cols = x.shape
        for i in range(rows):
            j = i + offset
            if 0 <= j < cols:
                out[i, j] = g
        if axis1 % 2 != 0 or axis2 % 2 != 1:
            raise ValueError("under jit the diagonal must run along axes (0, 1)")
        return out
    return impl


@numba_version(rx.undiagonal)
def _undiagonal(g, x, offset=0, axis1=0, axis2=1):
    if not (_is_array(x) and x.ndim == 2):
        _fail("the adjoint of np.diagonal is supported under jit for a 2-D array only")

    def impl(g, x, offset=0, axis1=0, axis2=1):
        out = np.zeros(x.shape)
        rows, cols = x.shape
        k = 0
        for i in range(rows):
            j = i + offset
            if 0 <= j < cols:
                out[i, j] = g[k]
                k += 1
        if axis1 % 2 != 0 or axis2 % 2 != 1:
            raise ValueError("under jit the diagonal must run along axes (0, 1)")
        return out
    return impl
