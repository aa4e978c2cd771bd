"""Rules for ``scipy.special``, loaded on first use: ``rules.lookup`` imports this module
when a call is not found and ``scipy.special`` has been imported (by the user's code), so
``import adjoint`` never imports SciPy.

Elementwise functions are one line each, like elementwise.py, and their forward rules are
derived the same way. ``logsumexp``, ``softmax`` and ``log_softmax`` reduce over ``axis``
(None: every entry); ``logsumexp`` also takes weights ``b`` and ``return_sign=True``.
Derivatives of ``gammaln``, ``digamma`` and ``polygamma`` use the runtime helper
``polygamma``.
"""
import ast
import math

import numpy as np
from scipy import special

from ..runtime import polygamma, reduce_sum, unbroadcast, unreduce, with_flat_sign
from . import REVERSE, adjoint_of
from .tangents import Elementwise, declare, t, tangent_of

d: dict = {}  # in a rule, d[v] stands for the adjoint of v

# == elementwise ===============================================================================


@adjoint_of(special.expit)
def expit(y, x):
    d[x] += d[y] * y * (1.0 - y)


@adjoint_of(special.logit)
def logit(y, x):
    d[x] += d[y] / (x * (1.0 - x))


@adjoint_of(special.erf)
def erf(y, x):
    d[x] += d[y] * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint_of(special.erfc)
def erfc(y, x):
    d[x] += -d[y] * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint_of(special.erfinv)
def erfinv(y, x):
    d[x] += d[y] * (math.sqrt(math.pi) / 2.0) * np.exp(y * y)


@adjoint_of(special.ndtr)
def ndtr(y, x):
    d[x] += d[y] * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@adjoint_of(special.log_ndtr)
def log_ndtr(y, x):
    d[x] += d[y] * np.exp(-0.5 * x * x - y) / math.sqrt(2.0 * math.pi)


@adjoint_of(special.ndtri)
def ndtri(y, x):
    d[x] += d[y] * math.sqrt(2.0 * math.pi) * np.exp(0.5 * y * y)


@adjoint_of(special.gamma)
def gamma(y, x):
    d[x] += d[y] * y * polygamma(0, x)


@adjoint_of(special.gammaln)
def gammaln(y, x):
    d[x] += d[y] * polygamma(0, x)


@adjoint_of(special.digamma)  # special.psi is the same ufunc
def digamma(y, x):
    d[x] += d[y] * polygamma(1, x)


@adjoint_of(special.polygamma)
def polygamma_(y, n, x):
    d[x] += d[y] * polygamma(n + 1, x)


@adjoint_of(special.xlogy)
def xlogy(z, x, y):
    # x log y, defined as 0 where x == 0
    d[x] += unbroadcast(d[z] * np.log(y), x)
    d[y] += unbroadcast(d[z] * x / y, y)


@adjoint_of(special.xlog1py)
def xlog1py(z, x, y):
    d[x] += unbroadcast(d[z] * np.log1p(y), x)
    d[y] += unbroadcast(d[z] * x / (1.0 + y), y)


declare(Elementwise(), *[key for key, rules in REVERSE.items()
                         if rules and rules[0].module == __name__])

# == reductions over an axis ===================================================================


def _given(bound, name) -> bool:
    """Is the argument passed, and not the constant None / False?"""
    node = bound.get(name)
    return node is not None and not (isinstance(node, ast.Constant)
                                     and node.value in (None, False))


def _plain(bound) -> str | None:
    return "b= or return_sign= given" if _given(bound, "b") or _given(bound, "return_sign") \
        else None


def _weighted(bound) -> str | None:
    return None if _given(bound, "b") and not _given(bound, "return_sign") else "no b="


def _signed(bound) -> str | None:
    node = bound.get("return_sign")
    if isinstance(node, ast.Constant) and node.value is True:
        return None
    return "return_sign must be the constant True or False"


@adjoint_of(special.logsumexp, check=_plain)
def logsumexp(y, a, axis=None, b=None, keepdims=False):
    d[a] += unreduce(d[y], a, axis, keepdims) * np.exp(a - unreduce(y, a, axis, keepdims))


# With weights b: y = log sum(b exp(a)), so dy/da = b exp(a - y) and dy/db = exp(a - y);
# b may broadcast against a (a * b has the shape the sum runs over).
@adjoint_of(special.logsumexp, check=_weighted)
def logsumexp_weighted(y, a, axis=None, b=None, keepdims=False):
    e = np.exp(a - unreduce(y, a * b, axis, keepdims))
    g = unreduce(d[y], a * b, axis, keepdims)
    d[a] += unbroadcast(g * b * e, a)
    d[b] += unbroadcast(g * e, b)


# return_sign=True: y = (log|S|, sign S) with S = sum(b exp(a)); d log|S| = dS / S and
# 1 / S = sign exp(-log|S|). The sign is flat (its adjoint is ignored).
@adjoint_of(special.logsumexp, check=_signed)
def logsumexp_signed(y, a, axis=None, b=None, keepdims=False, return_sign=False):
    w = 1.0 if b is None else b
    e = np.exp(a - unreduce(y[0], a * w, axis, keepdims))
    g = unreduce(d[y][0] * y[1], a * w, axis, keepdims)
    d[a] += unbroadcast(g * w * e, a)
    d[b] += unbroadcast(g * e, b)


@tangent_of(special.logsumexp)
def logsumexp_tangent(y, a, axis=None, b=None, keepdims=False, return_sign=False):
    # t log|S| = sign exp(-log|S|) tS, tS = sum(exp(a) (b t[a] + t[b])); the sign is flat
    w = 1.0 if b is None else b
    value = y[0] if return_sign else y
    sign = y[1] if return_sign else 1.0
    e = np.exp(a - unreduce(value, a * w, axis, keepdims))
    t[y] = with_flat_sign(sign * reduce_sum(e * (w * t[a] + t[b]), axis, keepdims),
                          return_sign)


@adjoint_of(special.softmax)
def softmax(y, x, axis=None):
    d[x] += y * (d[y] - unreduce(reduce_sum(d[y] * y, axis), x, axis))


@tangent_of(special.softmax)
def softmax_tangent(y, x, axis=None):
    t[y] = y * (t[x] - unreduce(reduce_sum(y * t[x], axis), x, axis))


@adjoint_of(special.log_softmax)
def log_softmax(y, x, axis=None):
    d[x] += d[y] - np.exp(y) * unreduce(reduce_sum(d[y], axis), x, axis)


@tangent_of(special.log_softmax)
def log_softmax_tangent(y, x, axis=None):
    t[y] = t[x] - unreduce(reduce_sum(np.exp(y) * t[x], axis), x, axis)
