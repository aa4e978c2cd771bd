"""Reverse rules for NumPy array functions, array methods, indexing and ``.T``.

Reductions put the adjoint back on the reduced axes (``unreduce``); ``max``/``min``
reductions share the gradient equally among tied maxima; ``prod`` handles zeros exactly.
"""
import ast

import numpy as np

from ..runtime import (
    centered,
    cumprod_adjoint,
    cumsum_adjoint,
    diff_adjoint,
    dot_adjoint_a,
    dot_adjoint_b,
    einsum_adjoint,
    extremum_adjoint,
    inner_adjoint_a,
    inner_adjoint_b,
    kron_adjoint_a,
    kron_adjoint_b,
    matmul_adjoint_a,
    matmul_adjoint_b,
    mean_adjoint,
    norm_adjoint,
    norm_ord_adjoint,
    nuclear_norm_adjoint,
    prod_adjoint,
    reduce_sum,
    reduced_count,
    sort_adjoint,
    stop_gradient,
    tensordot_adjoint_a,
    tensordot_adjoint_b,
    unbroadcast,
    unindex,
    unpermute,
    unreduce,
    untrace,
    unweights,
    weights_like,
)
from . import adjoint_of, zero_gradient

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


# -- reductions ----------------------------------------------------------------------------
@adjoint_of(np.sum)
def sum_(y, x, axis=None, keepdims=False):
    d[x] += unreduce(d[y], x, axis, keepdims)


@adjoint_of(np.mean)
def mean(y, x, axis=None, keepdims=False):
    d[x] += mean_adjoint(d[y], x, axis, keepdims)


@adjoint_of(np.max, np.amax, np.min, np.amin)
def extremum(y, x, axis=None, keepdims=False):
    d[x] += extremum_adjoint(d[y], x, y, axis, keepdims)


@adjoint_of(np.prod)
def prod(y, x, axis=None, keepdims=False):
    d[x] += prod_adjoint(d[y], x, axis, keepdims)


@adjoint_of(np.cumsum)
def cumsum(y, x, axis=None):
    d[x] += cumsum_adjoint(d[y], x, axis)


@adjoint_of(np.var)
def var(y, x, axis=None, *, ddof=0, keepdims=False):
    d[x] += 2.0 * unreduce(d[y], x, axis, keepdims) * centered(x, axis) / (
        reduced_count(x, axis) - ddof)


@adjoint_of(np.std)
def std(y, x, axis=None, *, ddof=0, keepdims=False):
    # the standard deviation is sqrt(var): infinite slope where every entry is equal
    d[x] += unreduce(d[y] / y, x, axis, keepdims) * centered(x, axis) / (
        reduced_count(x, axis) - ddof)


@adjoint_of(np.average)
def average(y, x, axis=None, weights=None):
    # y = sum(w x) / sum(w), with 1-D weights running along axis (no weights: w = 1)
    w = weights_like(1.0 if weights is None else weights, x, axis)
    share = unreduce(d[y] / reduce_sum(w * np.ones_like(x), axis), x, axis)
    d[x] += share * w
    d[weights] += unweights(share * (x - unreduce(y, x, axis)), weights, x, axis)


@adjoint_of(np.ptp)
def ptp(y, x, axis=None, keepdims=False):
    # max - min, each sharing its gradient among tied entries
    d[x] += (extremum_adjoint(d[y], x, np.max(x, axis=axis, keepdims=keepdims), axis, keepdims)
             - extremum_adjoint(d[y], x, np.min(x, axis=axis, keepdims=keepdims), axis,
                                keepdims))


@adjoint_of(np.nansum)
def nansum(y, x, axis=None, keepdims=False):
    d[x] += np.where(np.isnan(x), 0.0, unreduce(d[y], x, axis, keepdims))


@adjoint_of(np.nanmean)
def nanmean(y, x, axis=None, keepdims=False):
    counted = np.logical_not(np.isnan(x))
    d[x] += np.where(counted, unreduce(d[y], x, axis, keepdims), 0.0) / unreduce(
        np.sum(counted, axis=axis, keepdims=keepdims), x, axis, keepdims)


@adjoint_of(np.cumprod)
def cumprod(y, x, axis=None):
    # d y_j / d x_i = the product of x_k for k <= j, k != i: computed without dividing by
    # x_i (exact where x has zeros), like np.prod
    d[x] += cumprod_adjoint(d[y], x, axis)


@adjoint_of(np.diff)
def diff(y, x, n=1, axis=-1):
    d[x] += diff_adjoint(d[y], n, axis)


@adjoint_of(np.sort)
def sort(y, x, axis=-1, kind=None):
    # tied entries keep their order (a stable sort), each receiving its own place's gradient
    d[x] += sort_adjoint(d[y], x, axis)


@adjoint_of(np.partition)
def partition(y, x, kth, axis=-1):
    # y rearranges x: each gradient goes back to the entry it came from (ties: in order)
    d[x] += unpermute(d[y], x, y, axis)


@adjoint_of(np.trace)
def trace(y, x, offset=0, axis1=0, axis2=1):
    d[x] += untrace(d[y], x, offset, axis1, axis2)


# np.linalg.norm: one rule per family of ord values (the first whose check passes applies)
def _ord_text(bound) -> str:
    ord_ = bound.get("ord")
    return ast.unparse(ord_) if isinstance(ord_, ast.AST) else repr(ord_)


def _no_rule_for_ord(bound) -> str:
    return (f"ord={_ord_text(bound)} has no rule (None, 'fro', 'nuc', a number, np.inf or "
            "-np.inf have)")


def _norm_default(bound) -> str | None:
    if getattr(bound.get("ord"), "value", "?") not in (None, 2, "fro"):
        return _no_rule_for_ord(bound)
    return None


_INFINITIES = {"np.inf", "-np.inf", "math.inf", "-math.inf", "numpy.inf", "-numpy.inf"}


def _norm_other(bound) -> str | None:
    text = _ord_text(bound)
    if text in _INFINITIES or isinstance(bound.get("ord"), ast.Name):  # a variable: at run time
        return None
    try:
        value = ast.literal_eval(text)
    except ValueError:
        return _no_rule_for_ord(bound)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    return _no_rule_for_ord(bound)


def _norm_nuclear(bound) -> str | None:
    return None if getattr(bound.get("ord"), "value", None) == "nuc" else _no_rule_for_ord(bound)


@adjoint_of(np.linalg.norm, check=_norm_default)
def norm(y, x, ord=None, axis=None, keepdims=False):
    d[x] += norm_adjoint(d[y], x, y, axis, keepdims, ord)


@adjoint_of(np.linalg.norm, check=_norm_other)
def norm_ord(y, x, ord, axis=None, keepdims=False):
    d[x] += norm_ord_adjoint(d[y], x, y, ord, axis, keepdims)


@adjoint_of(np.linalg.norm, check=_norm_nuclear)
def norm_nuclear(y, x, ord, axis=None, keepdims=False):
    d[x] += nuclear_norm_adjoint(d[y], x, axis, keepdims)


# -- products ------------------------------------------------------------------------------
@adjoint_of(np.dot)
def dot(z, a, b):
    d[a] += dot_adjoint_a(d[z], a, b)
    d[b] += dot_adjoint_b(d[z], a, b)


@adjoint_of(np.matmul)
def matmul(z, a, b):
    # batched like the @ operator (np.dot's adjoint does not broadcast leading axes)
    d[a] += matmul_adjoint_a(d[z], a, b)
    d[b] += matmul_adjoint_b(d[z], a, b)


@adjoint_of(np.outer)
def outer(z, a, b):
    d[a] += np.reshape(np.dot(d[z], np.ravel(b)), np.shape(a))
    d[b] += np.reshape(np.dot(np.ravel(a), d[z]), np.shape(b))


@adjoint_of(np.einsum, check=lambda bound: _einsum_is_plain(bound))
def einsum_1(y, subscripts, a):
    d[a] += einsum_adjoint(d[y], subscripts, 0, np.shape(a))


@adjoint_of(np.einsum, check=lambda bound: _einsum_is_plain(bound))
def einsum_2(y, subscripts, a, b):
    d[a] += einsum_adjoint(d[y], subscripts, 0, np.shape(a), b)
    d[b] += einsum_adjoint(d[y], subscripts, 1, np.shape(b), a)


@adjoint_of(np.einsum, check=lambda bound: _einsum_is_plain(bound))
def einsum_3(y, subscripts, a, b, c):
    d[a] += einsum_adjoint(d[y], subscripts, 0, np.shape(a), b, c)
    d[b] += einsum_adjoint(d[y], subscripts, 1, np.shape(b), a, c)
    d[c] += einsum_adjoint(d[y], subscripts, 2, np.shape(c), a, b)


def _einsum_is_plain(bound) -> str | None:
    spec = bound.get("subscripts")
    if not (isinstance(spec, ast.Constant) and isinstance(spec.value, str)):
        return "the subscripts must be a string literal such as 'ij,jk->ik'"
    if "." in spec.value:
        return "subscripts with an ellipsis (...) have no rule; name every axis"
    terms = spec.value.replace(" ", "").replace("->", ",").split(",")
    if any(len(set(term)) != len(term) for term in terms):
        return "a letter repeated within one operand (a diagonal, 'ii->i') has no rule"
    return None


@adjoint_of(np.inner)
def inner(z, a, b):
    d[a] += inner_adjoint_a(d[z], a, b)
    d[b] += inner_adjoint_b(d[z], a, b)


@adjoint_of(np.tensordot)
def tensordot(z, a, b, axes=2):
    d[a] += tensordot_adjoint_a(d[z], a, b, axes)
    d[b] += tensordot_adjoint_b(d[z], a, b, axes)


@adjoint_of(np.kron)
def kron(z, a, b):
    d[a] += kron_adjoint_a(d[z], a, b)
    d[b] += kron_adjoint_b(d[z], a, b)


@adjoint_of(np.vdot)
def vdot(z, a, b):
    d[a] += np.reshape(d[z] * np.ravel(b), np.shape(a))
    d[b] += np.reshape(d[z] * np.ravel(a), np.shape(b))


@adjoint_of(np.cross)
def cross(z, a, b):
    # <g, a x b> = <a, b x g> = <b, g x a>
    d[a] += unbroadcast(np.cross(b, d[z]), a)
    d[b] += unbroadcast(np.cross(d[z], a), b)


# -- indexing ------------------------------------------------------------------------------
@adjoint_of("getitem")
def getitem(y, x, index):
    # np.s_[...] keeps slices, None and ... valid when the index is passed to a function
    d[x] += unindex(d[y], x, np.s_[index])


zero_gradient(stop_gradient)  # the user's own marker: a constant from here on
zero_gradient(".shape", ".ndim", ".size", ".dtype", ".argmax", ".argmin", ".argsort",
              ".nonzero", ".all", ".any")
