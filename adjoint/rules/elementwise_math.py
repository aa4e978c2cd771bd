"""Reverse rules for elementwise functions on Python floats: builtins (``abs``, ``max``,
``min``, ``pow``) and the ``math`` module. Their derivatives call ``math`` too, which costs
several times less than NumPy on a float. Kinks: see elementwise.py.
"""
import builtins
import math

import numpy as np

from ..runtime import polygamma, tie_share
from . import adjoint_of

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


# == builtins and math (Python floats) ========================================================


@adjoint_of(abs, math.fabs)
def abs_(y, x):
    d[x] += d[y] * np.sign(x)


@adjoint_of(builtins.max)
def max_(y, a, b):
    d[a] += d[y] * tie_share(a, b)
    d[b] += d[y] * tie_share(b, a)


@adjoint_of(builtins.min)
def min_(y, a, b):
    d[a] += d[y] * tie_share(b, a)
    d[b] += d[y] * tie_share(a, b)


@adjoint_of(float)
def float_(y, x):
    d[x] += d[y]


@adjoint_of(math.sin)
def math_sin(y, x):
    d[x] += d[y] * math.cos(x)


@adjoint_of(math.cos)
def math_cos(y, x):
    d[x] += -d[y] * math.sin(x)


@adjoint_of(math.tan)
def math_tan(y, x):
    d[x] += d[y] * (1.0 + y * y)


@adjoint_of(math.asin)
def math_asin(y, x):
    d[x] += d[y] / math.sqrt(1.0 - x * x)


@adjoint_of(math.acos)
def math_acos(y, x):
    d[x] += -d[y] / math.sqrt(1.0 - x * x)


@adjoint_of(math.atan)
def math_atan(y, x):
    d[x] += d[y] / (1.0 + x * x)


@adjoint_of(math.atan2)
def math_atan2(z, a, b):
    d[a] += d[z] * b / (a * a + b * b)
    d[b] += -d[z] * a / (a * a + b * b)


@adjoint_of(math.sinh)
def math_sinh(y, x):
    d[x] += d[y] * math.cosh(x)


@adjoint_of(math.cosh)
def math_cosh(y, x):
    d[x] += d[y] * math.sinh(x)


@adjoint_of(math.tanh)
def math_tanh(y, x):
    d[x] += d[y] * (1.0 - y * y)


@adjoint_of(math.exp)
def math_exp(y, x):
    d[x] += d[y] * y


@adjoint_of(math.expm1)
def math_expm1(y, x):
    d[x] += d[y] * (y + 1.0)


@adjoint_of(math.log)
def math_log(y, x):
    d[x] += d[y] / x


@adjoint_of(math.log)
def math_log_base(y, x, base):
    # log(x, base) = ln x / ln base
    d[x] += d[y] / (x * math.log(base))
    d[base] += -d[y] * y / (base * math.log(base))


@adjoint_of(math.log1p)
def math_log1p(y, x):
    d[x] += d[y] / (1.0 + x)


@adjoint_of(math.log2)
def math_log2(y, x):
    d[x] += d[y] / (x * math.log(2.0))


@adjoint_of(math.log10)
def math_log10(y, x):
    d[x] += d[y] / (x * math.log(10.0))


@adjoint_of(math.sqrt)
def math_sqrt(y, x):
    # at 0 Python floats raise ZeroDivisionError; IEEE (NumPy, jit) gives d[y] / +0.0
    d[x] += d[y] / (2.0 * y) if y != 0.0 else d[y] * math.inf


@adjoint_of(math.pow)
def math_pow(z, x, y):
    d[x] += d[z] * y * x ** (y - 1)
    # d/dy is z * ln x, taken as 0 at x == 0 (the limit from x > 0), like the ** operator
    d[y] += d[z] * (z * math.log(x) if x != 0.0 else 0.0)


@adjoint_of(math.hypot)
def math_hypot(z, x, y):
    d[x] += d[z] * x / z
    d[y] += d[z] * y / z


@adjoint_of(math.asinh)
def math_asinh(y, x):
    d[x] += d[y] / math.sqrt(x * x + 1.0)


@adjoint_of(math.acosh)
def math_acosh(y, x):
    d[x] += d[y] / math.sqrt(x * x - 1.0)


@adjoint_of(math.atanh)
def math_atanh(y, x):
    d[x] += d[y] / (1.0 - x * x)


@adjoint_of(math.erf)
def math_erf(y, x):
    d[x] += d[y] * 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@adjoint_of(math.erfc)
def math_erfc(y, x):
    d[x] += -d[y] * 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@adjoint_of(math.gamma)
def math_gamma(y, x):
    d[x] += d[y] * y * polygamma(0, x)


@adjoint_of(math.lgamma)
def math_lgamma(y, x):
    d[x] += d[y] * polygamma(0, x)


@adjoint_of(math.degrees)
def math_degrees(y, x):
    d[x] += d[y] * (180.0 / math.pi)


@adjoint_of(math.radians)
def math_radians(y, x):
    d[x] += d[y] * (math.pi / 180.0)


@adjoint_of(math.fmod)
def math_fmod(z, x, y):
    # fmod(x, y) = x - trunc(x / y) * y
    d[x] += d[z]
    d[y] += -d[z] * math.trunc(x / y)


@adjoint_of(math.copysign)
def math_copysign(z, x, y):
    # |x| with the sign of y: flat in y
    d[x] += d[z] * np.sign(x) * math.copysign(1.0, y)
