"""``math`` as ``jit=True`` code sees it: Numba's math functions return nan (or -inf) where
Python's raise ``ValueError: math domain error``, so the compiled primal would go on with a
nan where ``f`` stops. The functions with a restricted domain are replaced by checked ones;
every other name is ``math``'s own.

Imported only when ``jit=True`` is used (it needs Numba).
"""
from __future__ import annotations

import math
from math import *  # noqa: F403 - the rest of math, unchanged

import numba


@numba.njit
def _domain_error():
    raise ValueError("math domain error")


@numba.njit
def sqrt(x):
    if x < 0.0:
        _domain_error()
    return math.sqrt(x)


@numba.njit
def log(x):
    if x <= 0.0:
        _domain_error()
    return math.log(x)


@numba.njit
def log2(x):
    if x <= 0.0:
        _domain_error()
    return math.log2(x)


@numba.njit
def log10(x):
    if x <= 0.0:
        _domain_error()
    return math.log10(x)


@numba.njit
def log1p(x):
    if x <= -1.0:
        _domain_error()
    return math.log1p(x)


@numba.njit
def acos(x):
    if x < -1.0 or x > 1.0:
        _domain_error()
    return math.acos(x)


@numba.njit
def asin(x):
    if x < -1.0 or x > 1.0:
        _domain_error()
    return math.asin(x)


@numba.njit
def acosh(x):
    if x < 1.0:
        _domain_error()
    return math.acosh(x)


@numba.njit
def atanh(x):
    if x <= -1.0 or x >= 1.0:
        _domain_error()
    return math.atanh(x)
