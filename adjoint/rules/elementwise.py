"""Reverse rules for elementwise functions: builtins and ``math`` on Python floats, NumPy
ufuncs on arrays. Each family's derivative calls the same family, because NumPy ufuncs on
Python floats cost several times what ``math`` costs.

Subgradients at kinks (documented in README):
- ``abs(x)`` at 0: 0 (``sign(0) = 0``).
- ``max``/``min``/``np.maximum``/``np.minimum`` at a tie: each input gets half.
  (So ``np.maximum(0, x)`` at exactly 0 passes half the gradient; write ``x * (x > 0)``
  for ReLU'(0) = 0.)
- ``np.clip(x, lo, hi)``: gradient 1 for lo <= x <= hi, boundaries included.
- ``sqrt`` at 0 and ``log`` at 0 follow IEEE arithmetic (inf), like the primal.
- ``np.fmax``/``np.fmin`` at a tie: each input gets half, as for ``np.maximum``; where one
  input is NaN the other (the result) gets the whole gradient.
- ``np.fmod``, ``np.remainder`` and ``math.fmod``: derivative 1 in the dividend and minus
  the integer quotient in the divisor; the jumps (where the quotient changes) count as flat.
- ``np.sinc`` at 0: the first derivative 0 is exact; the second derivative there is
  reported as 0 (the true value is -pi**2/3), since the rule's ``x == 0`` branch is flat.
- ``math.gamma``, ``math.lgamma``: their derivatives use the runtime helper ``polygamma``.
"""
import builtins
import math

import numpy as np

from ..runtime import pow_exponent_adjoint, tie_share, unbroadcast
from . import adjoint_of, zero_gradient

d: dict = {}  # in a rule, d[v] stands for the adjoint of v

# Generated code sees only math, np and adjoint.runtime, so constants such as ln 2 are
# written out in each rule (math.log(2.0)) rather than named at module level here.


# == NumPy ufuncs (arrays, with broadcasting) ================================================


@adjoint_of(np.sin)
def sin(y, x):
    d[x] += d[y] * np.cos(x)


@adjoint_of(np.cos)
def cos(y, x):
    d[x] += -d[y] * np.sin(x)


@adjoint_of(np.tan)
def tan(y, x):
    d[x] += d[y] * (1.0 + y * y)


@adjoint_of(np.arcsin)
def arcsin(y, x):
    d[x] += d[y] / np.sqrt(1.0 - x * x)


@adjoint_of(np.arccos)
def arccos(y, x):
    d[x] += -d[y] / np.sqrt(1.0 - x * x)


@adjoint_of(np.arctan)
def arctan(y, x):
    d[x] += d[y] / (1.0 + x * x)


@adjoint_of(np.sinh)
def sinh(y, x):
    d[x] += d[y] * np.cosh(x)


@adjoint_of(np.cosh)
def cosh(y, x):
    d[x] += d[y] * np.sinh(x)


@adjoint_of(np.tanh)
def tanh(y, x):
    d[x] += d[y] * (1.0 - y * y)


@adjoint_of(np.exp)
def exp(y, x):
    d[x] += d[y] * y


@adjoint_of(np.exp2)
def exp2(y, x):
    d[x] += d[y] * y * math.log(2.0)


@adjoint_of(np.expm1)
def expm1(y, x):
    d[x] += d[y] * (y + 1.0)


# np.divide, not /: on a Python float x, / raises ZeroDivisionError at 0 where np.log
# itself gives -inf (README: log at 0 follows IEEE arithmetic)
@adjoint_of(np.log)
def log(y, x):
    d[x] += np.divide(d[y], x)


@adjoint_of(np.log2)
def log2(y, x):
    d[x] += np.divide(d[y], x * math.log(2.0))


@adjoint_of(np.log10)
def log10(y, x):
    d[x] += np.divide(d[y], x * math.log(10.0))


@adjoint_of(np.log1p)
def log1p(y, x):
    d[x] += np.divide(d[y], 1.0 + x)


@adjoint_of(np.sqrt)
def sqrt(y, x):
    d[x] += d[y] / (2.0 * y)


@adjoint_of(np.cbrt)
def cbrt(y, x):
    d[x] += d[y] / (3.0 * y * y)


@adjoint_of(np.square)
def square(y, x):
    d[x] += d[y] * 2.0 * x


@adjoint_of(np.reciprocal)
def reciprocal(y, x):
    d[x] += -d[y] * y * y


@adjoint_of(np.arcsinh)
def arcsinh(y, x):
    d[x] += d[y] / np.sqrt(x * x + 1.0)


@adjoint_of(np.arccosh)
def arccosh(y, x):
    d[x] += d[y] / np.sqrt(x * x - 1.0)


@adjoint_of(np.arctanh)
def arctanh(y, x):
    d[x] += d[y] / (1.0 - x * x)


@adjoint_of(np.deg2rad, np.radians)
def deg2rad(y, x):
    d[x] += d[y] * (math.pi / 180.0)


@adjoint_of(np.rad2deg, np.degrees)
def rad2deg(y, x):
    d[x] += d[y] * (180.0 / math.pi)


@adjoint_of(np.sinc)
def sinc(y, x):
    # sinc x = sin(pi x) / (pi x): the derivative is (cos(pi x) - sinc x) / x, and 0 at 0
    d[x] += d[y] * np.where(x == 0.0, 0.0, (np.cos(math.pi * x) - y) / np.where(x == 0.0, 1.0, x))


@adjoint_of(np.negative)
def negative(y, x):
    d[x] += -d[y]


@adjoint_of(np.positive)
def positive(y, x):
    d[x] += d[y]


@adjoint_of(np.abs, np.fabs)
def absolute(y, x):
    d[x] += d[y] * np.sign(x)


@adjoint_of(np.add)
def add(z, a, b):
    d[a] += unbroadcast(d[z], a)
    d[b] += unbroadcast(d[z], b)


@adjoint_of(np.subtract)
def subtract(z, a, b):
    d[a] += unbroadcast(d[z], a)
    d[b] += unbroadcast(-d[z], b)


@adjoint_of(np.multiply)
def multiply(z, a, b):
    d[a] += unbroadcast(d[z] * b, a)
    d[b] += unbroadcast(d[z] * a, b)


@adjoint_of(np.divide)
def divide(z, a, b):
    d[a] += unbroadcast(d[z] / b, a)
    d[b] += unbroadcast(-d[z] * z / b, b)


@adjoint_of(np.power, np.float_power)
def power(z, a, b):
    d[a] += unbroadcast(d[z] * b * a ** (b - 1), a)
    d[b] += unbroadcast(pow_exponent_adjoint(d[z], a, z), b)


@adjoint_of(np.arctan2)
def arctan2(z, a, b):
    d[a] += unbroadcast(d[z] * b / (a * a + b * b), a)
    d[b] += unbroadcast(-d[z] * a / (a * a + b * b), b)


@adjoint_of(np.hypot)
def hypot(z, a, b):
    d[a] += unbroadcast(d[z] * a / z, a)
    d[b] += unbroadcast(d[z] * b / z, b)


@adjoint_of(np.maximum)
def maximum(y, a, b):
    d[a] += unbroadcast(d[y] * tie_share(a, b), a)
    d[b] += unbroadcast(d[y] * tie_share(b, a), b)


@adjoint_of(np.minimum)
def minimum(y, a, b):
    d[a] += unbroadcast(d[y] * tie_share(b, a), a)
    d[b] += unbroadcast(d[y] * tie_share(a, b), b)


@adjoint_of(np.logaddexp)
def logaddexp(y, a, b):
    d[a] += unbroadcast(d[y] * np.exp(a - y), a)
    d[b] += unbroadcast(d[y] * np.exp(b - y), b)


@adjoint_of(np.fmax)
def fmax(y, a, b):
    # like np.maximum, but a NaN input loses: the other input gets the whole gradient
    d[a] += unbroadcast(d[y] * np.where(np.isnan(b), 1.0, tie_share(a, b)), a)
    d[b] += unbroadcast(d[y] * np.where(np.isnan(a), 1.0, tie_share(b, a)), b)


@adjoint_of(np.fmin)
def fmin(y, a, b):
    d[a] += unbroadcast(d[y] * np.where(np.isnan(b), 1.0, tie_share(b, a)), a)
    d[b] += unbroadcast(d[y] * np.where(np.isnan(a), 1.0, tie_share(a, b)), b)


@adjoint_of(np.logaddexp2)
def logaddexp2(y, a, b):
    d[a] += unbroadcast(d[y] * np.exp2(a - y), a)
    d[b] += unbroadcast(d[y] * np.exp2(b - y), b)


@adjoint_of(np.fmod)
def fmod(z, a, b):
    # fmod(a, b) = a - trunc(a / b) * b
    d[a] += unbroadcast(d[z], a)
    d[b] += unbroadcast(-d[z] * np.trunc(a / b), b)


@adjoint_of(np.remainder)
def remainder(z, a, b):
    # np.remainder (np.mod) is Python's %: a - floor(a / b) * b
    d[a] += unbroadcast(d[z], a)
    d[b] += unbroadcast(-d[z] * np.floor_divide(a, b), b)


@adjoint_of(np.copysign)
def copysign(z, a, b):
    d[a] += unbroadcast(d[z] * np.sign(a) * np.copysign(1.0, b), a)
    # flat in b; stated so the engine knows b may have widened the result (broadcasting)
    d[b] += unbroadcast(d[z] * 0.0, b)


@adjoint_of(np.where)
def where(y, condition, a, b):
    d[a] += unbroadcast(np.where(condition, d[y], 0.0), a)
    d[b] += unbroadcast(np.where(condition, 0.0, d[y]), b)


@adjoint_of(np.clip)
def clip(y, x, lo, hi):
    # y == x exactly where lo <= x <= hi (boundaries included), and works for a None bound
    d[x] += unbroadcast(d[y] * (y == x), x)
    d[lo] += unbroadcast(d[y] * (x < lo), lo)
    d[hi] += unbroadcast(d[y] * (x > hi), hi)


# == zero gradient: piecewise constant, comparisons, shape queries and constructors ==========
zero_gradient(
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
    np.floor_divide, np.heaviside, np.isnan, np.isinf, np.isfinite, np.signbit,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.all, np.any,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like,
    np.zeros, np.ones, np.empty, np.full, np.eye, np.identity, np.arange, np.linspace,
    np.shape, np.broadcast_shapes, np.ndim, np.size, np.argmax, np.argmin, np.argsort,
    np.nonzero, np.count_nonzero,
    np.argpartition, np.searchsorted, np.digitize, np.isclose, np.allclose, np.array_equal,
    np.isposinf, np.isneginf, np.isreal, np.iscomplex, np.spacing, np.tri, np.triu_indices,
    np.tril_indices, np.diag_indices, np.indices,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    math.factorial, math.comb, math.perm, math.gcd,
    builtins.round, builtins.int, builtins.bool, builtins.len, builtins.range,
    builtins.isinstance, builtins.print, builtins.slice,
)
