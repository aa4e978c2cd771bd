"""Helpers called by generated adjoint code (and only these, besides NumPy and math).

Each takes plain floats and NumPy arrays. They are small on purpose: a reader of the
generated code should be able to check each one by eye.
"""
from __future__ import annotations

import numpy as np

from .helpers import exported, helper

_NUMBER = (int, float, complex, np.number)  # a value of shape ()


@helper(fresh=True, zero_tangent=True)
def zeros_like(x):
    """A zero adjoint for ``x``: 0.0 for a scalar, a float array of its shape otherwise."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)
    return 0.0


@helper
def unbroadcast(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast, giving ``like``'s shape."""
    if isinstance(g, _NUMBER) and isinstance(like, _NUMBER):  # (once per element in loops)
        return g
    return sum_to_shape(g, np.shape(like))


@helper(zero_tangent=True)
def broadcast_shape(a, b):
    """The shape of an elementwise result of ``a`` and ``b`` (numbers or arrays), from
    theirs alone: what shapes.py records of ``t = a * b`` in a loop, which a backward
    iteration computes again instead of popping it."""
    a_shape, b_shape = np.shape(a), np.shape(b)
    if a_shape == b_shape or not b_shape:  # (what NumPy gives, without its general case:
        return a_shape                     # this runs once per element in element loops)
    if not a_shape:
        return b_shape
    return np.broadcast_shapes(a_shape, b_shape)


@helper
def sum_to_shape(g, shape):
    """``g`` summed over the axes along which a value of ``shape`` was broadcast:
    ``unbroadcast`` where the forward sweep kept only the value's shape (``np.shape(x)``)."""
    if isinstance(g, _NUMBER) and not shape:
        return g
    shape = tuple(shape)
    if np.shape(g) == shape:
        return g
    g = np.asarray(g)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    if g.shape != shape:  # the upstream was smaller than like (a scalar seed, say)
        g = np.broadcast_to(g, shape)
    return g if shape else g[()]


@helper(zero_tangent=True)
def tie_share(a, b):
    """The share of the gradient of max(a, b) that goes to ``a``: 1, 0, or 1/2 at a tie."""
    return (a > b) + 0.5 * (a == b)


@helper(zero_when=("any", 0))
def pow_exponent_adjoint(g, x, z):
    """d(x ** y)/dy = x ** y * ln x, taken as 0 where x == 0 (the limit from x > 0)."""
    safe_x = np.where(x == 0, 1.0, x)
    return g * z * np.log(safe_x)


# -- reductions ----------------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


@helper
def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the adjoint of a reduction of ``x`` back to ``x``'s shape."""
    shape = np.shape(x)
    g = np.asarray(g)
    if not keepdims and shape:
        g = np.expand_dims(g, _axes(axis, len(shape)))
    return np.broadcast_to(g, shape) if shape else g[()]


@helper
def mean_adjoint(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    count = 1
    for a in _axes(axis, len(shape)):
        count *= shape[a]
    return unreduce(g, x, axis, keepdims) / count


@helper
def extremum_adjoint(g, x, y, axis=None, keepdims=False):
    """max/min reduction: the gradient goes to the extremal entries, shared among ties."""
    winners = np.asarray(x) == unreduce(y, x, axis, keepdims)
    count = np.sum(winners, axis=axis, keepdims=True) if np.ndim(x) else 1
    return unreduce(g, x, axis, keepdims) * winners / count


@helper(zero_when=("any", 0))
def prod_adjoint(g, x, axis=None, keepdims=False):
    """d prod / d x_i = product of the other entries, computed without dividing by x_i.

    The reduced axes are moved last and flattened into one; the product of the others is
    the product of the entries before i times the product of the entries after i.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        return g
    flat, restore = _reduced_last(x, axis)
    return unreduce(g, x, axis, keepdims) * restore(_others(flat))


def _reduced_last(x, axis):
    """``x`` with the reduced axes moved last and flattened into one, and the function that
    puts an array of that layout back in ``x``'s."""
    axes = _axes(axis, x.ndim)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    flat = moved.reshape(moved.shape[:x.ndim - len(axes)] + (-1,))
    return flat, lambda a: np.moveaxis(a.reshape(moved.shape), last, axes)


def _others(flat):
    """Along the last axis, the product of the other entries (prefix times suffix products,
    so exact with zeros)."""
    ones = np.ones(flat.shape[:-1] + (1,), flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


@helper
def cumsum_adjoint(g, x, axis=None):
    """The adjoint of a running sum is the running sum from the other end."""
    g = np.asarray(g)
    if axis is None:
        flipped = np.cumsum(g.ravel()[::-1])[::-1]
        return flipped.reshape(np.shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


@helper(zero_when=("any", 0))
def norm_adjoint(g, x, y, axis=None, keepdims=False, ord=None):
    """d ||x|| / dx = x / ||x||, taken as 0 where the norm is 0.

    For ord=2 over two axes (a matrix's largest singular value s = u^T x v) it is u v^T.
    """
    x = np.asarray(x)
    if ord == 2 and ((axis is None and x.ndim == 2) or
                     (isinstance(axis, tuple) and len(axis) == 2)):
        axes = _axes(axis, x.ndim)
        u, _, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)))
        top = np.moveaxis(u[..., :, :1] @ vh[..., :1, :], (-2, -1), axes)
        return unreduce(g, x, axis, keepdims) * top
    y_full = unreduce(y, x, axis, keepdims)
    safe = np.where(y_full == 0, 1.0, y_full)
    return unreduce(g, x, axis, keepdims) * np.where(y_full == 0, 0.0, x / safe)


# -- products ------------------------------------------------------------------------------
def _dot_rank_check(b):
    if b.ndim > 2:
        raise ValueError("the adjoint of np.dot(a, b) with b of more than 2 dimensions is not "
                         "supported; use a @ b (np.matmul) or np.tensordot instead")


@helper
def dot_adjoint_a(g, a, b):
    """Adjoint of ``a`` in np.dot(a, b): dA = dZ B^T for matrices."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * b, a)
    _dot_rank_check(b)
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    return np.dot(g, b.T)


@helper
def dot_adjoint_b(g, a, b):
    """Adjoint of ``b`` in np.dot(a, b): dB = A^T dZ for matrices."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * a, b)
    _dot_rank_check(b)
    if a.ndim == 1:
        return np.multiply.outer(a, g)
    lead = tuple(range(a.ndim - 1))
    return np.tensordot(a, g, axes=(lead, lead))


@helper
def matmul_adjoint_a(g, a, b):
    """Adjoint of ``a`` in a @ b, batched over leading axes and summed where broadcast."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    if a.ndim <= 2 and b.ndim <= 2:
        return dot_adjoint_a(g, a, b)
    b2 = b if b.ndim > 1 else b[:, None]
    g2 = g if b.ndim > 1 else g[..., None]
    g2 = g2 if a.ndim > 1 else g2[..., None, :]
    grad = np.matmul(g2, np.swapaxes(b2, -1, -2))
    return unbroadcast(grad if a.ndim > 1 else grad[..., 0, :], a)


@helper
def matmul_adjoint_b(g, a, b):
    """Adjoint of ``b`` in a @ b, batched over leading axes and summed where broadcast."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    if a.ndim <= 2 and b.ndim <= 2:
        return dot_adjoint_b(g, a, b)
    a2 = a if a.ndim > 1 else a[None, :]
    g2 = g if a.ndim > 1 else g[..., None, :]
    g2 = g2 if b.ndim > 1 else g2[..., None]
    grad = np.matmul(np.swapaxes(a2, -1, -2), g2)
    return unbroadcast(grad if b.ndim > 1 else grad[..., 0], b)


# -- shapes, joins, indexing ---------------------------------------------------------------
@helper(zero_tangent=True, no_numba="np.transpose with an axes argument")
def inverse_axes(axes):
    """The permutation that undoes np.transpose(x, axes); None (reverse all) is its own."""
    if axes is None or axes == ():
        return None
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return tuple(np.argsort([a % len(axes) for a in axes]))  # negative axes count from the end


@helper
def split_like(g, xs, axis=0):
    """Cut the adjoint of np.concatenate(xs, axis) into pieces shaped like each x."""
    g = np.asarray(g)
    if axis is None:
        sizes = [np.size(x) for x in xs]
        return [p.reshape(np.shape(x)) for p, x in zip(np.split(g, np.cumsum(sizes)[:-1]), xs)]
    sizes = [np.shape(x)[axis] for x in xs]
    return np.split(g, np.cumsum(sizes)[:-1], axis=axis)


@helper
def unstack(g, axis=0):
    """The adjoint of np.stack(xs, axis): one slice per input."""
    g = np.asarray(g)
    return [p[()] if np.ndim(p) == 0 else p for p in np.moveaxis(g, axis, 0)]


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
               for p in parts)


def _is_ragged(values) -> bool:
    """A list or tuple of arrays whose shapes differ (np.asarray cannot stack them)."""
    return isinstance(values, (list, tuple)) and len({np.shape(v) for v in values}) > 1


@helper(fresh=True)
def unindex(g, x, index):
    """The adjoint of x[index]: g placed where the entries came from, summed over repeats.

    Basic indexing (ints, slices, None) and boolean masks never repeat an entry, so plain
    assignment does; integer arrays may repeat one, so np.add.at accumulates.
    A list of arrays of different shapes (np.array_split into unequal pieces) cannot be
    stacked into one array: its adjoint is a list, one zero entry per piece.
    """
    if _is_ragged(x):
        pieces = [zeros_like(np.asarray(v)) for v in x]
        if isinstance(index, slice):
            for k, position in enumerate(range(len(x))[index]):
                pieces[position] = pieces[position] + g[k]
        else:
            pieces[index] = pieces[index] + g
        return pieces
    out = zeros_like(np.asarray(x))
    if _is_basic(index) or (isinstance(index, np.ndarray) and index.dtype == bool):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out if np.ndim(x) else out[()]


@helper(fresh=True)
def zero_entries(g, index):
    """A copy of the adjoint ``g`` with ``g[index] = 0``: the adjoint of ``x[index] = v``
    for the overwritten entries, whose old values no longer reach the output."""
    g = np.array(g, copy=True)
    g[index] = 0
    return g


def _repeats(index) -> bool:
    """Can ``index`` name one entry twice? Only integer index arrays (or lists) can."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype.kind in "iu"
               and np.asarray(p).size > 1 for p in parts)


@helper
def written_part(g, index):
    """``g[index]``, the adjoint reaching the values written by ``x[index] = v``, with the
    entries of repeated indices that a later one overwrote set to 0: NumPy keeps one write
    per entry (the last), so only that value reaches the output. Which one NumPy keeps is
    found by making the same write with each value's position."""
    picked = np.array(g[index], dtype=float, copy=True)
    if not _repeats(index):
        return picked
    position = np.arange(picked.size).reshape(picked.shape)
    kept = np.full(np.shape(g), -1)
    kept[index] = position
    picked[kept[index] != position] = 0.0
    return picked


@helper(guard=True, zero_tangent=True)
def must_not_be_array(value, message):
    """Guard placed before ``a += v`` when ``a`` shares memory with another variable: fine
    for floats (rebinding), refused for arrays (NumPy would change both)."""
    if isinstance(value, np.ndarray):
        from .errors import UnsupportedSyntaxError

        raise UnsupportedSyntaxError(message)


@helper(guard=True, zero_tangent=True)
def must_not_share(value, other, message):
    """Guard placed before a write into ``value`` (``value[i] = v``, ``value += v``) when
    ``other``, read later, may share memory with it: NumPy would change both, which a
    gradient computed variable by variable cannot follow. Refused when they do overlap."""
    entries = other if isinstance(other, (list, tuple)) else [other]  # a list: its entries
    if isinstance(value, np.ndarray) and any(
            isinstance(e, np.ndarray) and np.may_share_memory(value, e) for e in entries):
        from .errors import UnsupportedSyntaxError

        raise UnsupportedSyntaxError(message)


@helper(guard=True, zero_tangent=True)
def must_not_overlap_masked(target, index, value, message):
    """Guard placed before ``target[index] = value`` when ``value`` may share memory with
    ``target``. NumPy copies an overlapping value first for basic and integer-array indices,
    but not for a boolean mask: there the value is read while it is written (``y[m] =
    y[::-1]`` gives ``[6, 5, 4, 4, 5, 6]`` for ``1..6``), which no gradient of the statement
    as written follows. Refused when the index holds a mask and they do overlap."""
    parts = index if isinstance(index, tuple) else (index,)
    masked = any(isinstance(p, np.ndarray) and p.dtype == bool for p in parts)
    if masked and isinstance(value, np.ndarray) and np.may_share_memory(target, value):
        from .errors import UnsupportedSyntaxError

        raise UnsupportedSyntaxError(message)


# -- lists built with append: their adjoint is a list, None standing for a zero entry ------
@helper(fresh=True)
def list_zeros(values):
    """A zero adjoint for a list: one empty entry per element."""
    return [None] * len(values)


@helper
def list_entry(adjoints, index, like):
    """Entry ``index`` of a list adjoint, as a zero shaped like ``like`` if nothing flowed."""
    g = adjoints[index]
    return zeros_like(like) if g is None else g


@helper
def list_add(a, b):
    """Entry-by-entry sum of two list adjoints (None is zero)."""
    return [y if x is None else x if y is None else x + y for x, y in zip(a, b)]


@helper
def list_add_at(adjoints, index, g):
    """The adjoint of ``h = values[index]``: entry ``index`` receives ``g`` (in place: list
    adjoints are never shared)."""
    old = adjoints[index]
    adjoints[index] = g if old is None else old + g
    return adjoints


@helper
def pop_adjoint(adjoints, values):
    """The adjoint of ``values.append(v)``: the last entry's adjoint, removed along with the
    entry itself."""
    g = adjoints.pop()
    v = values.pop()
    return zeros_like(v) if g is None else g


# -- in place, on adjoints the generated code owns (never shared with another variable) ----
@helper
def add_at(adjoint, index, g):
    """``adjoint[index] += g`` in place, summing over repeated integer indices: the
    contribution of ``y = x[index]`` to an adjoint that already holds a value."""
    if isinstance(index, (int, np.integer)) or _is_basic(index) or (
            isinstance(index, np.ndarray) and index.dtype == bool):
        adjoint[index] += g
    else:
        np.add.at(adjoint, index, g)
    return adjoint


@helper(zero_tangent=True)
def assigned(index):
    """An index saved by a branch inside a loop, read where it has been assigned (generated
    under jit=True only). The generated code binds such a variable to None before the loop;
    Numba types it ``Optional`` and cannot index an array with it, so reads at it go
    through here: in Numba, the value the Optional holds."""
    return index


@helper(zero_tangent=True)
def is_inexact(x):
    """Whether ``x`` holds real or complex floats: a value of integers or booleans is a step
    function of whatever made it (a cast, a write into an integer array), with no
    derivative. Generated code reads it as ``x_inexact``, recorded where ``x`` is bound
    (kinds.py)."""
    kind = x.dtype.kind if isinstance(x, (np.ndarray, np.generic)) else np.asarray(x).dtype.kind
    return kind in "fc"


@helper
def kept_if(g, keep):
    """``g`` where the value it is the derivative of holds floats (``keep``), else zero:
    the adjoint of a cast (``x.astype(int)``) and of a write into an array of integers
    (``counts[i] = v``, which truncates ``v``)."""
    return g if keep else zeros_like(g)


@helper
def detached(value):
    """A copy of an array (a row read from an adjoint is a view of it), a scalar as is."""
    return value.copy() if isinstance(value, np.ndarray) else value


@helper
def clear_at(adjoint, index):
    """``adjoint[index] = 0`` in place: ``zero_entries`` for an adjoint nothing else shares."""
    adjoint[index] = 0
    return adjoint


# -- stop_gradient -------------------------------------------------------------------------
@helper(user_facing=True)
def stop_gradient(x):
    """``x`` as a constant: no derivative flows through it, in either mode.

    Arrays come back as a copy, so writing into the result cannot change ``x`` behind the
    derivative's back; scalars come back as they are. Outside ``grad``, just the value."""
    return x.copy() if isinstance(x, np.ndarray) else x


# -- checkpointed loops --------------------------------------------------------------------
def _check_snapshots(snapshots):
    whole = isinstance(snapshots, (int, np.integer)) or (
        isinstance(snapshots, (float, np.floating)) and float(snapshots).is_integer())
    if isinstance(snapshots, bool) or not whole or snapshots < 1:
        from .errors import ArgumentError

        raise ArgumentError(f"adjoint.checkpointed: snapshots must be a whole number of at "
                            f"least 1, got {snapshots!r}", None,
                            "pass snapshots=k with an integer k >= 1")


@helper(user_facing=True)
def checkpointed(iterable, snapshots):
    """Mark a loop for checkpointing: ``for t in adjoint.checkpointed(range(n), snapshots=k):``.

    The adjoint of such a loop keeps the loop's state at only about ``k`` points of the
    forward sweep and recomputes the steps in between during the backward sweep. Called
    directly, outside ``grad``, it simply returns ``iterable``.
    """
    _check_snapshots(snapshots)
    return iterable


@helper
def checkpoint_stride(steps, snapshots):
    """Steps per segment of a checkpointed loop of ``steps`` steps that keeps ``snapshots``
    states: ceil(steps / snapshots), at least 1 (so there are at most ``snapshots``)."""
    _check_snapshots(snapshots)
    return max(1, -(-steps // int(snapshots)))


@helper
def checkpoint_segments(steps, stride):
    """How many segments of ``stride`` steps cover ``steps`` steps: 0 for an empty loop."""
    return max(0, -(-steps // stride))


# The helpers of the wider rule tables live in their own modules (issue 14); generated code
# imports every helper from here.
from . import runtime_decompositions, runtime_extra, runtime_linalg  # noqa: E402
from .runtime_decompositions import *  # noqa: E402,F401,F403
from .runtime_extra import *  # noqa: E402,F401,F403
from .runtime_linalg import *  # noqa: E402,F401,F403

# What generated code may import from here: every helper declared in the registry.
__all__ = (exported(__name__) + runtime_extra.__all__ + runtime_linalg.__all__
           + runtime_decompositions.__all__)
