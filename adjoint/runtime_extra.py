"""Runtime helpers for the wider rule tables (issue 14): special functions, shape changes,
reductions, scans and products (linear algebra: ``runtime_linalg.py``). Generated code
imports them from
``adjoint.runtime``, which re-exports this module's ``__all__``; their Numba versions are in
``runtime_extra_numba.py`` and their tangents (for second order) in ``rules/tangents.py``.

Each helper is small and states the math it computes; a reader of the generated code should
be able to check it by eye.
"""
from __future__ import annotations

import numpy as np

from .helpers import exported, helper

# np.average's rule passes weights=None through a helper; Numba cannot type its tangent
_AVERAGE = "np.average"


# -- special functions ---------------------------------------------------------------------
@helper
def polygamma(n, x):
    """The n-th derivative of the digamma function (n = 0: digamma, the derivative of
    ln Gamma). SciPy computes it here; the Numba version uses the recurrence and the
    asymptotic series (``runtime_extra_numba.py``)."""
    from scipy import special

    value = special.digamma(x) if n == 0 else special.polygamma(n, x)
    return float(value) if np.ndim(value) == 0 and not isinstance(x, np.ndarray) else value


# -- reductions ----------------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


@helper(zero_tangent=True)
def reduced_count(x, axis=None):
    """How many entries of ``x`` a reduction over ``axis`` combines into each result."""
    shape = np.shape(x)
    count = 1
    for a in _axes(axis, len(shape)):
        count *= shape[a]
    return count


@helper
def reduce_sum(v, axis=None, keepdims=False):
    """``np.sum(v, axis, keepdims)``: a tangent template's reduction (Numba's np.sum takes
    neither ``axis=None`` nor ``keepdims``)."""
    return np.sum(v, axis=axis, keepdims=keepdims)


@helper
def centered(x, axis=None):
    """``x`` minus its mean over ``axis`` (kept broadcastable): linear in ``x``."""
    x = np.asarray(x)
    return x - np.mean(x, axis=axis, keepdims=True)


# -- scans and shape changes ---------------------------------------------------------------
@helper
def diff_adjoint(g, n=1, axis=-1):
    """The adjoint of ``np.diff(x, n, axis)``: each step's adjoint is
    ``dx_i = g_{i-1} - g_i`` (entries beyond the ends count as 0), applied n times."""
    g = np.asarray(g)
    for _ in range(n):
        widths = [(0, 0)] * g.ndim
        widths[axis % g.ndim] = (1, 1)
        g = -np.diff(np.pad(g, widths), axis=axis)
    return g


def _last_axis_view(v, axis):
    """``v`` with ``axis`` moved last (flattened for None): the layout the cumprod helpers
    scan in, and the function that puts a result of that layout back."""
    v = np.asarray(v, dtype=np.result_type(v, np.float64))
    if axis is None:
        return v.ravel(), lambda r: r
    return np.moveaxis(v, axis, -1), lambda r: np.moveaxis(r, -1, axis)


def _exclusive_cumprod(m):
    """Along the last axis, the product of the entries before each one (1 for the first)."""
    out = np.ones_like(m)
    out[..., 1:] = np.cumprod(m[..., :-1], axis=-1)
    return out


def _suffix_sums(g, m):
    """S_i = g_i + m_{i+1} S_{i+1} along the last axis (S_{n-1} = g_{n-1}): the sum over
    j >= i of g_j times the product of m_k for i < k <= j."""
    out = np.array(g, dtype=np.result_type(g, m))
    for i in range(m.shape[-1] - 2, -1, -1):
        out[..., i] += m[..., i + 1] * out[..., i + 1]
    return out


@helper
def cumprod_adjoint(g, x, axis=None):
    """The adjoint of ``y = np.cumprod(x, axis)`` without dividing by x (exact at zeros):
    dx_i = (product of x_k, k < i) * sum over j >= i of g_j (product of x_k, i < k <= j)."""
    m, restore = _last_axis_view(x, axis)
    gm, _ = _last_axis_view(np.broadcast_to(g, m.shape if axis is None else np.shape(x)), axis)
    out = restore(_exclusive_cumprod(m) * _suffix_sums(gm, m))
    return out.reshape(np.shape(x))


@helper
def cumprod_adjoint_change(g, x, x_dot, axis=None):
    """The derivative of ``cumprod_adjoint(g, x)`` in x along ``x_dot`` (second order):
    the product rule through the prefix products and the suffix recurrence."""
    m, restore = _last_axis_view(x, axis)
    m_dot, _ = _last_axis_view(np.broadcast_to(x_dot, np.shape(x)), axis)
    gm, _ = _last_axis_view(np.broadcast_to(g, m.shape if axis is None else np.shape(x)), axis)
    prefix = _exclusive_cumprod(m)
    prefix_dot = np.zeros_like(prefix)
    for i in range(1, m.shape[-1]):
        prefix_dot[..., i] = prefix_dot[..., i - 1] * m[..., i - 1] + prefix[..., i - 1] * \
            m_dot[..., i - 1]
    sums = _suffix_sums(gm, m)
    sums_dot = np.zeros_like(sums)
    for i in range(m.shape[-1] - 2, -1, -1):
        sums_dot[..., i] = m_dot[..., i + 1] * sums[..., i + 1] + m[..., i + 1] * \
            sums_dot[..., i + 1]
    return restore(prefix_dot * sums + prefix * sums_dot).reshape(np.shape(x))


@helper
def cumprod_tangent(t, x, axis=None):
    """The tangent of ``y = np.cumprod(x, axis)``: t_y_j = t_y_{j-1} x_j + y_{j-1} t_j."""
    m, restore = _last_axis_view(x, axis)
    t_m, _ = _last_axis_view(np.broadcast_to(t, np.shape(x)), axis)
    y = np.cumprod(m, axis=-1)
    out = np.array(t_m, dtype=np.result_type(t_m, m))
    for j in range(1, m.shape[-1]):
        out[..., j] = out[..., j - 1] * m[..., j] + y[..., j - 1] * t_m[..., j]
    return restore(out)


@helper  # its Numba version: runtime_missing_arrays_numba.py
def untile(g, x, reps):
    """The adjoint of ``np.tile(x, reps)``: the sum of the tiles."""
    g = np.asarray(g)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    ndim = max(len(reps), np.ndim(x))
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - np.ndim(x)) + np.shape(x)
    # split each axis into (repeat, original) and sum over the repeats
    split = [n for pair in zip(reps, shape) for n in pair]
    summed = g.reshape(split).sum(axis=tuple(range(0, 2 * ndim, 2)))
    return summed.reshape(np.shape(x))


@helper(no_numba="np.repeat")
def unrepeat(g, x, repeats, axis=None):
    """The adjoint of ``np.repeat(x, repeats, axis)``: each entry collects the gradient of
    its copies."""
    g = np.asarray(g)
    x = np.asarray(x)
    if axis is None:
        flat = x.ravel()
        owner = np.repeat(np.arange(flat.size), repeats)
        out = np.zeros(flat.size, g.dtype)
        np.add.at(out, owner, g)
        return out.reshape(x.shape)
    axis = axis % x.ndim
    owner = np.repeat(np.arange(x.shape[axis]), repeats)
    moved = np.moveaxis(g, axis, 0)
    out = np.zeros((x.shape[axis],) + moved.shape[1:], g.dtype)
    np.add.at(out, owner, moved)
    return np.moveaxis(out, 0, axis)


def _sort_order(x, axis):
    # a stable sort: tied entries keep their order, so each receives its own place's gradient
    return np.argsort(x, axis=axis, kind="stable")


@helper
def sort_adjoint(g, x, axis=-1):
    """The adjoint of ``np.sort(x, axis)``: each gradient goes back to where its entry came
    from (``axis=None`` sorts the flattened array)."""
    x = np.asarray(x)
    g = np.asarray(g)
    if axis is None:
        out = np.empty(x.size, g.dtype)
        out[_sort_order(x.ravel(), 0)] = g
        return out.reshape(x.shape)
    out = np.empty(x.shape, g.dtype)
    np.put_along_axis(out, _sort_order(x, axis), g, axis)
    return out


@helper
def sorted_like(t, x, axis=-1):
    """``t`` permuted the way ``np.sort`` permutes ``x``: the tangent of ``np.sort(x)``."""
    x = np.asarray(x)
    t = np.broadcast_to(t, x.shape)
    if axis is None:
        return t.ravel()[_sort_order(x.ravel(), 0)]
    return np.take_along_axis(t, _sort_order(x, axis), axis)


@helper
def undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.diagonal(x, offset, axis1, axis2)``: ``g`` (broadcast to the
    diagonal's shape, the diagonal last) written onto that diagonal of zeros like ``x``."""
    x = np.asarray(x)
    out = np.zeros(x.shape, x.dtype if x.dtype.kind in "fc" else np.float64)
    plane = np.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writes land in out
    rows, cols = plane.shape[-2], plane.shape[-1]
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    steps = np.arange(length)
    plane[..., steps - min(offset, 0), steps + max(offset, 0)] = g
    return out


@helper
def untrace(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.trace(x, offset, axis1, axis2)``: ``g`` on that diagonal."""
    return undiagonal(np.expand_dims(g, -1), x, offset, axis1, axis2)


@helper(no_numba="np.pad")
def unpad(g, pad_width):
    """The adjoint of ``np.pad(x, pad_width)`` (constant mode): the middle of ``g``."""
    g = np.asarray(g)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (g.ndim, 2))
    index = tuple(slice(int(lo), n - int(hi)) for (lo, hi), n in zip(widths, g.shape))
    return g[index]


@helper(zero_when=("any", 0), no_numba="scipy.special.logsumexp")
def with_flat_sign(change, return_sign):
    """The tangent of a result that is ``(value, sign)`` when ``return_sign`` (the sign is
    flat: its tangent is 0), ``value`` otherwise, given the value's tangent ``change``."""
    return np.stack((change, 0.0 * change)) if return_sign else change


@helper(no_numba="np.pad")
def unpad_copies(g, x, pad_width, mode):
    """The adjoint of ``np.pad(x, pad_width, mode)`` for the modes whose padding copies
    entries of ``x`` ('edge', 'reflect', 'symmetric', 'wrap'): each entry of ``g`` goes back
    to the entry it is a copy of, summed. The source of each position along an axis depends
    on that position only, and is ``np.pad(np.arange(n), widths, mode)`` (NumPy's own
    rule), so the adjoint is a scatter-add along each axis in turn."""
    g = np.asarray(g)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (g.ndim, 2))
    for axis, n in enumerate(np.shape(x)):
        source = np.pad(np.arange(n), tuple(int(w) for w in widths[axis]), mode=mode)
        moved = np.moveaxis(g, axis, 0)
        out = np.zeros((n,) + moved.shape[1:], np.result_type(g, np.float64))
        np.add.at(out, source, moved)
        g = np.moveaxis(out, 0, axis)
    return g


_PROMOTIONS = {1: np.atleast_1d, 2: np.atleast_2d, 3: np.atleast_3d,
               "column": lambda x: np.asarray(x)[:, None] if np.ndim(x) == 1 else x}


@helper(no_numba="np.hstack, np.vstack, np.dstack or np.column_stack")
def split_promoted(g, xs, axis, promotion):
    """The adjoint of np.hstack (promotion 1), np.vstack (2), np.dstack (3) and
    np.column_stack ("column") of ``xs``: ``g`` cut along ``axis`` into pieces shaped like
    each x (which the function first promoted: atleast_1d, atleast_2d, ...)."""
    g = np.asarray(g)
    axis = axis if g.ndim > 1 else 0
    sizes = [_PROMOTIONS[promotion](x).shape[axis] for x in xs]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs)]


@helper(zero_tangent=True, no_numba="np.rollaxis")
def rollaxis_destination(ndim, axis, start=0):
    """Where ``np.rollaxis(x, axis, start)`` puts ``axis``: it is ``np.moveaxis(x, axis,
    destination)`` with this destination."""
    axis = axis % ndim
    start = start + ndim if start < 0 else start
    return start - 1 if start > axis else start


def _permutation(x, y, axis):
    """The indices q along ``axis`` with ``y = take_along_axis(x, q)``, for a ``y`` whose
    slices are rearrangements of ``x``'s (np.partition): the r-th smallest entry of y
    came from the r-th smallest of x (tied entries are matched in order)."""
    order_x = np.argsort(x, axis=axis, kind="stable")
    order_y = np.argsort(y, axis=axis, kind="stable")
    q = np.empty_like(order_x)
    np.put_along_axis(q, order_y, order_x, axis)
    return q


@helper(no_numba="np.partition")
def unpermute(g, x, y, axis=-1):
    """The adjoint of a rearrangement ``y`` of ``x`` along ``axis`` (None: flattened)."""
    x, y, g = np.asarray(x), np.asarray(y), np.asarray(g)
    if axis is None:
        return unpermute(g, x.ravel(), y, 0).reshape(x.shape)
    out = np.empty(x.shape, g.dtype)
    np.put_along_axis(out, _permutation(x, y, axis), g, axis)
    return out


@helper(no_numba="np.partition")
def permuted_like(t, x, y, axis=-1):
    """``t`` rearranged the way ``y`` rearranges ``x``: the tangent of ``y``."""
    x, y = np.asarray(x), np.asarray(y)
    t = np.broadcast_to(t, x.shape)
    if axis is None:
        return permuted_like(t.ravel(), x.ravel(), y, 0)
    return np.take_along_axis(t, _permutation(x, y, axis), axis)


@helper(no_numba=_AVERAGE)
def weights_like(w, x, axis=None):
    """np.average's weights, shaped to broadcast against ``x``: 1-D weights run along
    ``axis``."""
    w = np.asarray(w)
    if w.ndim == 0 or w.shape == np.shape(x):
        return w
    shape = [1] * np.ndim(x)
    shape[axis % np.ndim(x)] = w.size
    return w.reshape(shape)


@helper(no_numba=_AVERAGE)
def unweights(g, w, x, axis=None):
    """The adjoint of ``weights_like``: summed back to the weights' shape."""
    g = np.asarray(g)
    if np.shape(w) == g.shape:
        return g
    others = tuple(i for i in range(g.ndim) if i != axis % g.ndim)
    return g.sum(axis=others)


# -- products ------------------------------------------------------------------------------
def einsum_parts(subscripts: str) -> tuple[list[str], str]:
    """The input terms and the output term of an einsum specification (implicit output:
    the letters used once, sorted)."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        inputs, output = spec.split("->")
    else:
        inputs = spec
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return inputs.split(","), output


@helper(no_numba="np.einsum")
def einsum_adjoint(g, subscripts, which, shape, b=None, c=None):
    """The adjoint of operand ``which`` (of shape ``shape``) of ``np.einsum(subscripts, ...)``
    given the other operands ``b`` and ``c`` in order (None when absent): the einsum of
    the upstream gradient with the other operands, producing that operand's letters.
    Letters only that operand has (summed away) get the gradient broadcast along them.
    """
    inputs, output = einsum_parts(subscripts)
    target = inputs[which]
    others = [term for k, term in enumerate(inputs) if k != which]
    other_values = [v for v in (b, c) if v is not None][:len(others)]
    seen = set(output).union(*others)
    kept = "".join(ch for ch in target if ch in seen)
    r = np.einsum(",".join([output, *others]) + "->" + kept, g, *other_values)
    r = np.reshape(r, tuple(n if ch in seen else 1 for ch, n in zip(target, shape)))
    return np.broadcast_to(r, shape).copy() if shape else r[()]


@helper  # its Numba version: runtime_missing_arrays_numba.py
def inner_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``np.inner(a, b)`` (a sum over the last axes of both):
    da[I, k] = sum over J of g[I, J] b[J, k]."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    return np.tensordot(g, b, axes=(tuple(range(a.ndim - 1, g.ndim)), tuple(range(b.ndim - 1))))


@helper  # its Numba version: runtime_missing_arrays_numba.py
def inner_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``np.inner(a, b)``: db[J, k] = sum over I of g[I, J] a[I, k]."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    return np.tensordot(g, a, axes=(tuple(range(a.ndim - 1)), tuple(range(a.ndim - 1))))


def _tensordot_axes(axes, a_ndim, b_ndim):
    if np.ndim(axes) == 0:
        return list(range(a_ndim - axes, a_ndim)), list(range(axes))
    a_axes, b_axes = ([ax] if np.ndim(ax) == 0 else list(ax) for ax in axes)
    return [ax % a_ndim for ax in a_axes], [ax % b_ndim for ax in b_axes]


@helper(no_numba="np.tensordot")
def tensordot_adjoint_a(g, a, b, axes=2):
    """Adjoint of ``a`` in ``np.tensordot(a, b, axes)``: ``g`` contracted with ``b`` over
    ``b``'s free axes, then the axes put back in ``a``'s order."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    a_axes, b_axes = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in a_axes]
    free_b = [i for i in range(b.ndim) if i not in b_axes]
    r = np.tensordot(g, b, axes=(list(range(len(free_a), g.ndim)), free_b))
    order = free_a + [a_axes[b_axes.index(k)] for k in sorted(b_axes)]
    return np.transpose(r, np.argsort(order))


@helper(no_numba="np.tensordot")
def tensordot_adjoint_b(g, a, b, axes=2):
    """Adjoint of ``b`` in ``np.tensordot(a, b, axes)``."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    a_axes, b_axes = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in a_axes]
    free_b = [i for i in range(b.ndim) if i not in b_axes]
    r = np.tensordot(g, a, axes=(list(range(len(free_a))), free_a))
    order = free_b + [b_axes[a_axes.index(k)] for k in sorted(a_axes)]
    return np.transpose(r, np.argsort(order))


def _kron_blocks(g, a, b):
    """``g`` (the adjoint of np.kron(a, b)) as an array with a's axes then b's, and the
    two shapes padded to a common number of dimensions."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + np.shape(a)
    sb = (1,) * (n - np.ndim(b)) + np.shape(b)
    blocks = np.reshape(g, [m for pair in zip(sa, sb) for m in pair])
    return np.transpose(blocks, list(range(0, 2 * n, 2)) + list(range(1, 2 * n, 2))), sa, sb


@helper(no_numba="np.kron")
def kron_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``np.kron(a, b)``: each block of ``g`` dotted with ``b``."""
    blocks, sa, sb = _kron_blocks(g, a, b)
    return np.reshape(np.tensordot(blocks, np.reshape(b, sb), axes=len(sb)), np.shape(a))


@helper(no_numba="np.kron")
def kron_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``np.kron(a, b)``: the blocks of ``g`` weighted by ``a``."""
    blocks, sa, sb = _kron_blocks(g, a, b)
    return np.reshape(np.tensordot(np.reshape(a, sa), blocks, axes=len(sa)), np.shape(b))


__all__ = exported(__name__)
