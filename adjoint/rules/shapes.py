"""Reverse rules for NumPy functions that move entries around without changing them:
reshapes, transposes, flips, rolls, tiles, repeats, pads, splits, joins, diagonals and
triangles. Each adjoint puts every entry of the upstream gradient back where it came from.
"""
import ast

import numpy as np

from ..runtime import (
    inverse_axes,
    is_inexact,
    kept_if,
    rollaxis_destination,
    split_like,
    split_promoted,
    unbroadcast,
    undiagonal,
    unpad,
    unpad_copies,
    unrepeat,
    unstack,
    untile,
)
from . import adjoint_of

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


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


@adjoint_of(np.copy, np.float64, np.float32, ".copy", np.real, np.conjugate)
def copy_(y, x, *options, **keyword_options):
    d[x] += d[y]


@adjoint_of(np.asarray, np.array, ".astype")
def cast(y, x, *options, **keyword_options):
    # a dtype of integers or booleans makes a step function of x: no derivative
    d[x] += kept_if(d[y], is_inexact(y))


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
