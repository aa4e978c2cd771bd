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
    inverse_axes,
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
    rollaxis_destination,
    sort_adjoint,
    split_like,
    split_promoted,
    stop_gradient,
    tensordot_adjoint_a,
    tensordot_adjoint_b,
    unbroadcast,
    undiagonal,
    unindex,
    unpad,
    unpad_copies,
    unpermute,
    unreduce,
    unrepeat,
    unstack,
    untile,
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


# -- shape changes -------------------------------------------------------------------------
@adjoint_of(np.transpose)
def transpose(y, x, axes=None):
    d[x] += np.transpose(d[y], inverse_axes(axes))


@adjoint_of(".transpose")
def transpose_method_reversed(y, x):
    # x.transpose() with no axes: tried first, because an empty *axes is not bound
    d[x] += np.transpose(d[y])


@adjoint_of(".transpose")
def transpose_method(y, x, *axes):
    d[x] += np.transpose(d[y], inverse_axes(axes))


@adjoint_of(".T")
def transposed(y, x):
    d[x] += np.transpose(d[y])


@adjoint_of(np.reshape, np.squeeze, np.expand_dims, np.ravel, np.atleast_1d, np.atleast_2d,
            np.atleast_3d)
def reshape(y, x, *shape_args, **shape_kwargs):
    d[x] += np.reshape(d[y], np.shape(x))


@adjoint_of(".reshape", ".ravel", ".flatten", ".squeeze")
def reshape_method(y, x, *shape_args, **shape_kwargs):
    d[x] += np.reshape(d[y], np.shape(x))


@adjoint_of(np.swapaxes)
def swapaxes(y, x, axis1, axis2):
    d[x] += np.swapaxes(d[y], axis1, axis2)


@adjoint_of(np.moveaxis)
def moveaxis(y, x, source, destination):
    d[x] += np.moveaxis(d[y], destination, source)


# The forms without an axis are separate rules (tried first) so that the generated code
# calls np.flip(g) and np.roll(g, shift), which Numba compiles, rather than passing None.
@adjoint_of(np.rollaxis)
def rollaxis(y, x, axis, start=0):
    d[x] += np.moveaxis(d[y], rollaxis_destination(np.ndim(x), axis, start), axis)


# np.split and friends return a list of arrays; the adjoint of its entries arrives stacked
# (one entry per piece), which needs pieces of equal shape: np.array_split into unequal
# pieces fails with NumPy's "inhomogeneous shape" error
@adjoint_of(np.split, np.array_split)
def split(y, x, indices_or_sections, axis=0):
    d[x] += np.concatenate(d[y], axis)


@adjoint_of(np.hsplit)
def hsplit(y, x, indices_or_sections):
    d[x] += np.hstack(d[y])


@adjoint_of(np.vsplit)
def vsplit(y, x, indices_or_sections):
    d[x] += np.vstack(d[y])


@adjoint_of(np.flip)
def flip_all(y, x):
    d[x] += np.flip(d[y])


@adjoint_of(np.flip)
def flip(y, x, axis):
    d[x] += np.flip(d[y], axis)


@adjoint_of(np.fliplr)
def fliplr(y, x):
    d[x] += np.fliplr(d[y])


@adjoint_of(np.flipud)
def flipud(y, x):
    d[x] += np.flipud(d[y])


@adjoint_of(np.rot90)
def rot90(y, x, k=1, axes=(0, 1)):
    d[x] += np.rot90(d[y], -k, axes)


@adjoint_of(np.roll)
def roll_flat(y, x, shift):
    d[x] += np.roll(d[y], np.negative(shift))


@adjoint_of(np.roll)
def roll(y, x, shift, axis):
    d[x] += np.roll(d[y], np.negative(shift), axis)


@adjoint_of(np.tile)
def tile(y, x, reps):
    d[x] += untile(d[y], x, reps)


@adjoint_of(np.repeat)
def repeat(y, x, repeats, axis=None):
    d[x] += unrepeat(d[y], x, repeats, axis)


@adjoint_of(np.tril)
def tril(y, x, k=0):
    d[x] += np.tril(d[y], k)


@adjoint_of(np.triu)
def triu(y, x, k=0):
    d[x] += np.triu(d[y], k)


@adjoint_of(np.diagonal)
def diagonal(y, x, offset=0, axis1=0, axis2=1):
    d[x] += undiagonal(d[y], x, offset, axis1, axis2)


@adjoint_of(np.diag)
def diag(y, x, k=0):
    # 1-D x: y is a matrix with x on its k-th diagonal; 2-D x: y is that diagonal
    d[x] += np.diagonal(d[y], k) if np.ndim(x) == 1 else undiagonal(d[y], x, k, 0, 1)


@adjoint_of(np.broadcast_to)
def broadcast_to(y, x, shape):
    # np.reshape keeps the engine from dropping unbroadcast (it looks at the other operands)
    d[x] += np.reshape(unbroadcast(d[y], x), np.shape(x))


def _pad_is_constant(bound) -> str | None:
    mode = bound.get("mode")
    if mode is not None and getattr(mode, "value", None) != "constant":
        return "only mode='constant' has a rule"
    return None


@adjoint_of(np.pad, check=_pad_is_constant)
def pad(y, x, pad_width, mode="constant"):
    d[x] += unpad(d[y], pad_width)


# The padding of these modes copies entries of x; the others compute it ('linear_ramp',
# 'maximum', 'minimum', 'mean', 'median': no rule yet) or leave it undefined ('empty').
PAD_COPIES = ("edge", "reflect", "symmetric", "wrap")


def _pad_copies(bound) -> str | None:
    mode = getattr(bound.get("mode"), "value", None)
    if mode not in PAD_COPIES:
        return (f"np.pad has rules for mode='constant' and {', '.join(map(repr, PAD_COPIES))}"
                f" (a literal string), not mode={ast.unparse(bound['mode'])}")
    return None


@adjoint_of(np.pad, check=_pad_copies)
def pad_copies(y, x, pad_width, mode):
    d[x] += unpad_copies(d[y], x, pad_width, mode)


@adjoint_of(np.copy, np.asarray, np.array, np.float64, np.float32, ".copy", ".astype",
            np.real, np.conjugate)
def copy_(y, x, *options, **keyword_options):
    d[x] += d[y]


@adjoint_of(np.concatenate)
def concatenate(y, xs, axis=0):
    d[xs] += split_like(d[y], xs, axis)


@adjoint_of(np.hstack)
def hstack(y, xs):
    d[xs] += split_promoted(d[y], xs, 1, 1)


@adjoint_of(np.vstack)
def vstack(y, xs):
    d[xs] += split_promoted(d[y], xs, 0, 2)


@adjoint_of(np.dstack)
def dstack(y, xs):
    d[xs] += split_promoted(d[y], xs, 2, 3)


@adjoint_of(np.column_stack)
def column_stack(y, xs):
    d[xs] += split_promoted(d[y], xs, 1, "column")


@adjoint_of(np.stack)
def stack(y, xs, axis=0):
    d[xs] += unstack(d[y], axis)


@adjoint_of("array_of_list")
def array_of_list(y, xs):
    d[xs] += unstack(d[y], 0)


# -- indexing ------------------------------------------------------------------------------
@adjoint_of("getitem")
def getitem(y, x, index):
    # np.s_[...] keeps slices, None and ... valid when the index is passed to a function
    d[x] += unindex(d[y], x, np.s_[index])


zero_gradient(stop_gradient)  # the user's own marker: a constant from here on
zero_gradient(".shape", ".ndim", ".size", ".dtype", ".argmax", ".argmin", ".argsort",
              ".nonzero", ".all", ".any")
