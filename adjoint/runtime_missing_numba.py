"""Our Numba implementations of functions Numba lacks altogether, for ``jit=True``.

A user's call to ``scipy.special.expit``, ``np.tile`` or ``math.fmod`` used to fail inside
Numba ("no implementation"); each is registered here with ``helpers.numba_version`` so the
call compiles to ours instead. Elementwise functions are Numba ufuncs (``vectorize``) over a
float64 kernel, so scalars, arrays and broadcasting work as NumPy's do (results are float64;
SciPy keeps float32 inputs in float32). The kernels follow SciPy's formulas where a naive
one loses accuracy (expit for negative x, logit near 1/2, ndtr, log_ndtr for very negative
x). Each agrees with the real function in tests/test_jit_missing_functions.py.

Imported by ``runtime_numba`` (only under jit=True).
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np
from numba import njit, types, vectorize
from numba.np.unsafe.ndarray import to_fixed_tuple

from .helpers import numba_version
from .runtime_extra_numba import polygamma_scalar
from .runtime_numba import _is_array, _is_none

UNARY = ["float64(float64)"]
BINARY = ["float64(float64, float64)"]
SQRT1_2 = 0.7071067811865476
LOG_SQRT_2PI = 0.9189385332046728


class _LazyUfunc:
    """A float64 kernel made a Numba ufunc on first use, not on import: building the 14
    ufuncs eagerly cost about 1 s in every process that imported this module (Numba builds
    each ufunc's wrapper again even when its kernel is in the disk cache), most of a warm
    first call."""

    def __init__(self, kernel: Callable, signature: list[str]):
        self.kernel = kernel
        self.signature = signature
        self.built = None

    def ufunc(self):
        if self.built is None:
            self.built = vectorize(self.signature, cache=True)(self.kernel)
        return self.built


def _elementwise(signature: list[str]) -> Callable[[Callable], _LazyUfunc]:
    return lambda kernel: _LazyUfunc(kernel, signature)


# -- elementwise kernels ---------------------------------------------------------------------
@_elementwise(UNARY)
def _expit(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # exp(-x) would overflow for very negative x
    return e / (1.0 + e)


@_elementwise(UNARY)
def _logit(p):
    if p < 0.0 or p > 1.0 or p != p:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if 0.3 <= p <= 0.65:  # log(p / (1 - p)) cancels near 1/2, as in SciPy's logit
        s = 2.0 * (p - 0.5)
        return math.log1p(s) - math.log1p(-s)
    return math.log(p / (1.0 - p))


@_elementwise(UNARY)
def _erf(x):
    return math.erf(x)


@_elementwise(UNARY)
def _erfc(x):
    return math.erfc(x)


@_elementwise(UNARY)
def _gammaln(x):
    if x == -math.inf:
        return -math.inf  # SciPy's value
    if x <= 0.0 and x == math.floor(x):
        return math.inf  # the poles
    return math.lgamma(x)


@_elementwise(UNARY)
def _gamma(x):
    if x == 0.0:
        return math.copysign(math.inf, x)
    if x < 0.0 and x == math.floor(x):
        return math.nan  # SciPy's value at the negative poles
    if x > 171.7:
        return math.inf
    return math.gamma(x)


@njit(cache=True)
def _ndtr_scalar(x):
    """SciPy's ndtr: erf near 0, erfc in the tails (no cancellation in 1 - ...)."""
    t = x * SQRT1_2
    if abs(t) < SQRT1_2:
        return 0.5 + 0.5 * math.erf(t)
    y = 0.5 * math.erfc(abs(t))
    return 1.0 - y if t > 0.0 else y


@_elementwise(UNARY)
def _ndtr(x):
    return _ndtr_scalar(x)


@njit(cache=True)
def _log_ndtr_scalar(x):
    if x != x:
        return math.nan
    if x > 0.0:
        return math.log1p(-_ndtr_scalar(-x))  # ndtr(-x) is exact in the tail, 1 - it is not
    if x > -20.0:
        return math.log(_ndtr_scalar(x))
    # the asymptotic series of log(ndtr(x)): erfc underflows below about -38, and its
    # log is -x^2/2 - log(-x) - log(sqrt(2 pi)) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 ...)
    x2 = x * x
    term = 1.0
    total = 0.0
    for n in range(1, 12):
        term *= -(2 * n - 1) / x2
        total += term
    return -0.5 * x2 - math.log(-x) - LOG_SQRT_2PI + math.log1p(total)


@_elementwise(UNARY)
def _log_ndtr(x):
    return _log_ndtr_scalar(x)


# Acklam's rational approximation of the normal quantile (relative error 1.2e-9), the
# starting point of Newton steps on log(ndtr) (exact to double precision after two)
_ACKLAM_A = np.array([-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00])
_ACKLAM_B = np.array([-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                      6.680131188771972e+01, -1.328068155288572e+01, 1.0])
_ACKLAM_C = np.array([-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00])
_ACKLAM_D = np.array([7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                      3.754408661907416e+00, 1.0])


@njit(cache=True)
def _horner(coefficients, x):
    total = 0.0
    for c in coefficients:
        total = total * x + c
    return total


@njit(cache=True)
def _ndtri_lower(p):
    """ndtri(p) for 0 < p <= 1/2 (x <= 0): Acklam's guess, then Newton steps; in the tail on
    log(ndtr(x)) = log(p), whose derivative pdf/ndtr stays finite far into it."""
    if p >= 0.02425:  # Newton on erf(x / sqrt 2) = 2 (p - 1/2), exact, relative near 1/2
        q = p - 0.5
        x = q * _horner(_ACKLAM_A, q * q) / _horner(_ACKLAM_B, q * q)
        for _ in range(3):
            x -= ((math.erf(x * SQRT1_2) - 2.0 * q)
                  / (0.7978845608028654 * math.exp(-0.5 * x * x)))
        return x
    q = math.sqrt(-2.0 * math.log(p))
    x = _horner(_ACKLAM_C, q) / _horner(_ACKLAM_D, q)
    target = math.log(p)
    for _ in range(3):
        log_cdf = _log_ndtr_scalar(x)
        x -= (log_cdf - target) / math.exp(-0.5 * x * x - LOG_SQRT_2PI - log_cdf)
    return x


@_elementwise(UNARY)
def _ndtri(p):
    if p != p or p < 0.0 or p > 1.0:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p > 0.5:
        return -_ndtri_lower(1.0 - p)  # (1 - p is exact here)
    return _ndtri_lower(p)


@_elementwise(UNARY)
def _erfinv(y):
    if y != y or y < -1.0 or y > 1.0:
        return math.nan
    if y == 1.0 or y == -1.0:
        return math.copysign(math.inf, y)
    a = abs(y)
    if a <= 0.5:  # Newton on erf(x) = y: relative accuracy near 0 too
        x = _ndtri_lower(0.5 * (1.0 - a)) * -SQRT1_2
        for _ in range(2):
            x -= (math.erf(x) - a) / (1.1283791670955126 * math.exp(-x * x))
    else:  # Newton on erfc(x) = 1 - y (exact), without the cancellation of erf(x) - y
        x = _ndtri_lower(0.5 * (1.0 - a)) * -SQRT1_2
        for _ in range(2):
            x += (math.erfc(x) - (1.0 - a)) / (1.1283791670955126 * math.exp(-x * x))
    return math.copysign(x, y)


@_elementwise(BINARY)
def _xlogy(x, y):
    if x == 0.0 and y == y:
        return 0.0
    return x * math.log(y) if y > 0.0 else x * (-math.inf if y == 0.0 else math.nan)


@_elementwise(BINARY)
def _xlog1py(x, y):
    if x == 0.0 and y == y:
        return 0.0
    if y > -1.0:
        return x * math.log1p(y)
    return x * (-math.inf if y == -1.0 else math.nan)


@njit(cache=True)
def _polygamma_at(n, x):
    """SciPy's polygamma(n, x) for an integer n >= 0 (its digamma for n = 0), with SciPy's
    values at the poles, at the infinities and where 1 / x^(n+1) overflows."""
    if x != x or n < 0 or n != math.floor(n):
        return math.nan
    n = int(n)
    if n == 0:
        if x == 0.0:
            return -math.copysign(math.inf, x)  # -inf at +0, inf at -0
        if x == -math.inf or (x < 0.0 and x == math.floor(x)):
            return math.nan
        if x == math.inf:
            return math.inf
        return polygamma_scalar(0, x)
    sign = 1.0 if n % 2 == 1 else -1.0  # (-1)^(n+1)
    if x == math.inf:
        return sign * 0.0
    if x == -math.inf or (x <= 0.0 and x == math.floor(x)):
        return sign * math.inf
    if x ** (n + 1) == 0.0:  # n! / x^(n+1) overflows
        return sign * math.inf * (1.0 if x > 0.0 or n % 2 == 1 else -1.0)
    return polygamma_scalar(n, x)


@_elementwise(UNARY)
def _digamma(x):
    return _polygamma_at(0.0, x)


@_elementwise(BINARY)
def _polygamma(n, x):
    return _polygamma_at(n, x)


def _numeric(t) -> bool:
    return isinstance(t, (types.Number, types.Boolean)) or (
        _is_array(t) and isinstance(t.dtype, (types.Number, types.Boolean)))


def _unary(func, lazy: _LazyUfunc) -> None:
    def typing(x):
        if _numeric(x):
            kernel = lazy.ufunc()
            return lambda x: kernel(x)
        return None
    numba_version(func)(typing)


def _binary(func, lazy: _LazyUfunc) -> None:
    def typing(x, y):
        if _numeric(x) and _numeric(y):
            kernel = lazy.ufunc()
            return lambda x, y: kernel(x, y)
        return None
    numba_version(func)(typing)


@numba_version(math.fmod)
def _fmod(x, y):
    if isinstance(x, types.Number) and isinstance(y, types.Number):
        def fmod(x, y):
            a, b = float(x), float(y)
            if a == a and b == b and (b == 0.0 or math.isinf(a)):
                raise ValueError("math domain error")  # as Python's math.fmod
            return np.fmod(a, b)
        return fmod
    return None


# -- logsumexp, softmax, log_softmax over axis=None or one int axis --------------------------
@njit(cache=True)
def _as_3d(a, axis):
    """``a`` as (outer, n, inner) with ``n`` the reduced axis (None: every entry), and the
    shape of the reduction's result (the reduced axis left out) as an int array."""
    flat = np.ascontiguousarray(a).astype(np.float64)
    if axis is None:
        return flat.reshape((1, a.size, 1)), np.empty(0, np.int64)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError("axis is out of bounds for the array's dimension")
    axis = axis % a.ndim
    outer, inner = 1, 1
    kept = np.empty(a.ndim - 1, np.int64)
    for d in range(a.ndim):
        if d < axis:
            outer *= a.shape[d]
            kept[d] = a.shape[d]
        elif d > axis:
            inner *= a.shape[d]
            kept[d - 1] = a.shape[d]
    return flat.reshape((outer, a.shape[axis], inner)), kept


@njit(cache=True)
def _max_and_rest(x3):
    """Along axis 1 of (outer, n, inner): the largest entry m and log1p of the sum of
    exp(x - m) over the other entries, so log(sum(exp(x))) = m + rest as SciPy computes it
    (exact when one entry dominates). A slice whose largest entry is NaN or infinite has
    rest NaN (its softmax is NaN)."""
    outer, n, inner = x3.shape
    top = np.full((outer, inner), -np.inf)
    rest = np.full((outer, inner), np.nan)
    for o in range(outer):
        for i in range(inner):
            m, at = -np.inf, -1
            for j in range(n):
                v = x3[o, j, i]
                if v != v:
                    m, at = v, j
                    break
                if at < 0 or v > m:
                    m, at = v, j
            top[o, i] = m
            if m != m or math.isinf(m):
                continue
            total = 0.0
            for j in range(n):
                if j != at:
                    total += math.exp(x3[o, j, i] - m)
            rest[o, i] = math.log1p(total)
    return top, rest


@njit(cache=True)
def _logsumexp_3d(x3):
    top, rest = _max_and_rest(x3)
    return np.where(np.isnan(rest), top, top + rest)  # (an infinite or NaN max is the sum)


def _axis_form(a, axis) -> bool:
    return (_is_array(a) and isinstance(a.dtype, (types.Float, types.Integer))
            and a.ndim >= 1 and (_is_none(axis) or isinstance(axis, types.Integer)))


def _false(flag) -> bool:
    """Is the flag False: the default, or the constant False?"""
    return flag is False or (isinstance(flag, types.Omitted) and not flag.value) or (
        isinstance(flag, types.BooleanLiteral) and not flag.literal_value)


def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    if not (_axis_form(a, axis) and _is_none(b) and _false(keepdims) and _false(return_sign)):
        return None
    rank = 0 if _is_none(axis) else a.ndim - 1

    if rank == 0:
        def total(a, axis=None, b=None, keepdims=False, return_sign=False):
            return _logsumexp_3d(_as_3d(a, axis)[0])[0, 0]
        return total

    def along(a, axis=None, b=None, keepdims=False, return_sign=False):
        x3, kept = _as_3d(a, axis)
        return _logsumexp_3d(x3).reshape(to_fixed_tuple(kept, rank))
    return along


@njit(cache=True)
def _softmax_3d(x3, log):
    top, rest = _max_and_rest(x3)
    out = np.empty_like(x3)
    for o in range(x3.shape[0]):
        for j in range(x3.shape[1]):
            for i in range(x3.shape[2]):
                shifted, r = x3[o, j, i] - top[o, i], rest[o, i]
                if not log:
                    out[o, j, i] = math.exp(shifted - r)
                else:  # SciPy's log_softmax at an infinite max is x - max, not NaN
                    out[o, j, i] = shifted if r != r else shifted - r
    return out


def _softmax_of(log: bool):
    def typing(x, axis=None):
        if not _axis_form(x, axis):
            return None

        def impl(x, axis=None):
            return _softmax_3d(_as_3d(x, axis)[0], log).reshape(x.shape)
        return impl
    return typing


def register_scipy_special() -> None:
    """Register our versions of SciPy's special functions, once, if SciPy's special module
    is imported: a function that calls one has imported it, and importing it ourselves
    cost 0.3 s of every jit=True first call."""
    special = sys.modules.get("scipy.special")
    if special is None or _registered:
        return
    _registered.append(special)
    for name, lazy in (("expit", _expit), ("logit", _logit), ("erf", _erf), ("erfc", _erfc),
                       ("gammaln", _gammaln), ("gamma", _gamma), ("ndtr", _ndtr),
                       ("log_ndtr", _log_ndtr), ("digamma", _digamma), ("ndtri", _ndtri),
                       ("erfinv", _erfinv)):  # (psi is the same ufunc as digamma)
        _unary(getattr(special, name), lazy)
    for name, lazy in (("xlogy", _xlogy), ("xlog1py", _xlog1py), ("polygamma", _polygamma)):
        _binary(getattr(special, name), lazy)
    numba_version(special.logsumexp)(_logsumexp)
    numba_version(special.softmax)(_softmax_of(False))
    numba_version(special.log_softmax)(_softmax_of(True))


_registered: list = []
