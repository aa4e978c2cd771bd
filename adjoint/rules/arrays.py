"""Reverse rules for NumPy array functions, array methods, indexing and ``.T``.

Reductions put the adjoint back on the reduced axes (``unreduce``); ``max``/``min``
reductions share the gradient equally among tied maxima; ``prod`` handles zeros exactly.
"""
import numpy as np

from ..runtime import (
    cumsum_adjoint,
    dot_adjoint_a,
    dot_adjoint_b,
    extremum_adjoint,
    inverse_axes,
    matmul_adjoint_a,
    matmul_adjoint_b,
    mean_adjoint,
    norm_adjoint,
    prod_adjoint,
    split_like,
    stop_gradient,
    unindex,
    unreduce,
    unstack,
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


def _norm_is_two_norm(bound) -> str | None:
    ord_ = bound.get("ord")
    if getattr(ord_, "value", "?") not in (None, 2, "fro"):
        return "only the default ord (the 2-norm / Frobenius norm) has a rule"
    return None


@adjoint_of(np.linalg.norm, check=_norm_is_two_norm)
def norm(y, x, ord=None, axis=None, keepdims=False):
    d[x] += norm_adjoint(d[y], x, y, axis, keepdims, ord)


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


@adjoint_of(np.reshape, np.squeeze, np.expand_dims, np.ravel, np.atleast_1d, np.atleast_2d)
def reshape(y, x, *shape_args, **shape_kwargs):
    d[x] += np.reshape(d[y], np.shape(x))


@adjoint_of(".reshape", ".ravel", ".flatten", ".squeeze")
def reshape_method(y, x, *shape_args, **shape_kwargs):
    d[x] += np.reshape(d[y], np.shape(x))


@adjoint_of(np.copy, np.asarray, np.array, np.float64, np.float32, ".copy", ".astype")
def copy_(y, x, *options, **keyword_options):
    d[x] += d[y]


@adjoint_of(np.concatenate)
def concatenate(y, xs, axis=0):
    d[xs] += split_like(d[y], xs, axis)


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
