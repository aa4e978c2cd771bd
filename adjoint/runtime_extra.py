"""Runtime helpers for the wider rule tables (issue 14): special functions, shape changes,
reductions, products and linear algebra. Generated code imports them from
``adjoint.runtime``, which re-exports this module's ``__all__``; their Numba versions are in
``runtime_extra_numba.py`` and their tangents (for second order) in ``rules/tangents.py``.

Each helper is small and states the math it computes; a reader of the generated code should
be able to check it by eye.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "polygamma", "centered", "reduced_count", "reduce_sum", "diff_adjoint", "untile", "unrepeat",
    "sort_adjoint", "sorted_like", "undiagonal", "untrace", "unpad", "einsum_adjoint",
    "inner_adjoint_a", "inner_adjoint_b", "solve_as", "times_as", "matrix_trace",
    "eigenvectors", "eigenvectors_change", "singular_values_adjoint", "singular_values_tangent",
    "outer_last", "norm_ord_adjoint", "norm_ord_adjoint_change", "nuclear_norm_adjoint",
    "tensordot_adjoint_a", "tensordot_adjoint_b", "kron_adjoint_a", "kron_adjoint_b",
    "rollaxis_destination", "unpermute", "permuted_like", "weights_like", "unweights",
    "split_promoted", "cumprod_adjoint", "cumprod_adjoint_change", "cumprod_tangent",
    "multi_dot_adjoint", "multi_dot_tangent", "triangular_solve", "triangular_times",
    "triangular_adjoint", "cholesky_solve", "cholesky_factor_adjoint", "cholesky_times",
]


# -- special functions ---------------------------------------------------------------------
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


def reduced_count(x, axis=None):
    """How many entries of ``x`` a reduction over ``axis`` combines into each result."""
    shape = np.shape(x)
    count = 1
    for a in _axes(axis, len(shape)):
        count *= shape[a]
    return count


def reduce_sum(v, axis=None, keepdims=False):
    """``np.sum(v, axis, keepdims)``: a tangent template's reduction (Numba's np.sum takes
    neither ``axis=None`` nor ``keepdims``)."""
    return np.sum(v, axis=axis, keepdims=keepdims)


def centered(x, axis=None):
    """``x`` minus its mean over ``axis`` (kept broadcastable): linear in ``x``."""
    x = np.asarray(x)
    return x - np.mean(x, axis=axis, keepdims=True)


# -- scans and shape changes ---------------------------------------------------------------
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


def cumprod_adjoint(g, x, axis=None):
    """The adjoint of ``y = np.cumprod(x, axis)`` without dividing by x (exact at zeros):
    dx_i = (product of x_k, k < i) * sum over j >= i of g_j (product of x_k, i < k <= j)."""
    m, restore = _last_axis_view(x, axis)
    gm, _ = _last_axis_view(np.broadcast_to(g, m.shape if axis is None else np.shape(x)), axis)
    out = restore(_exclusive_cumprod(m) * _suffix_sums(gm, m))
    return out.reshape(np.shape(x))


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


def cumprod_tangent(t, x, axis=None):
    """The tangent of ``y = np.cumprod(x, axis)``: t_y_j = t_y_{j-1} x_j + y_{j-1} t_j."""
    m, restore = _last_axis_view(x, axis)
    t_m, _ = _last_axis_view(np.broadcast_to(t, np.shape(x)), axis)
    y = np.cumprod(m, axis=-1)
    out = np.array(t_m, dtype=np.result_type(t_m, m))
    for j in range(1, m.shape[-1]):
        out[..., j] = out[..., j - 1] * m[..., j] + y[..., j - 1] * t_m[..., j]
    return restore(out)


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


def sorted_like(t, x, axis=-1):
    """``t`` permuted the way ``np.sort`` permutes ``x``: the tangent of ``np.sort(x)``."""
    x = np.asarray(x)
    t = np.broadcast_to(t, x.shape)
    if axis is None:
        return t.ravel()[_sort_order(x.ravel(), 0)]
    return np.take_along_axis(t, _sort_order(x, axis), axis)


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


def untrace(g, x, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.trace(x, offset, axis1, axis2)``: ``g`` on that diagonal."""
    return undiagonal(np.expand_dims(g, -1), x, offset, axis1, axis2)


def unpad(g, pad_width):
    """The adjoint of ``np.pad(x, pad_width)`` (constant mode): the middle of ``g``."""
    g = np.asarray(g)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (g.ndim, 2))
    index = tuple(slice(int(lo), n - int(hi)) for (lo, hi), n in zip(widths, g.shape))
    return g[index]


def split_promoted(g, xs, axis, ndmin):
    """The adjoint of np.hstack (ndmin 1) / np.vstack (ndmin 2) of ``xs``: ``g`` cut along
    ``axis`` into pieces shaped like each x (which was first given ``ndmin`` dimensions,
    leading ones added)."""
    g = np.asarray(g)
    axis = axis if g.ndim > 1 else 0
    sizes = [np.array(x, ndmin=ndmin).shape[axis] for x in xs]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs)]


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


def unpermute(g, x, y, axis=-1):
    """The adjoint of a rearrangement ``y`` of ``x`` along ``axis`` (None: flattened)."""
    x, y, g = np.asarray(x), np.asarray(y), np.asarray(g)
    if axis is None:
        return unpermute(g, x.ravel(), y, 0).reshape(x.shape)
    out = np.empty(x.shape, g.dtype)
    np.put_along_axis(out, _permutation(x, y, axis), g, axis)
    return out


def permuted_like(t, x, y, axis=-1):
    """``t`` rearranged the way ``y`` rearranges ``x``: the tangent of ``y``."""
    x, y = np.asarray(x), np.asarray(y)
    t = np.broadcast_to(t, x.shape)
    if axis is None:
        return permuted_like(t.ravel(), x.ravel(), y, 0)
    return np.take_along_axis(t, _permutation(x, y, axis), axis)


def weights_like(w, x, axis=None):
    """np.average's weights, shaped to broadcast against ``x``: 1-D weights run along
    ``axis``."""
    w = np.asarray(w)
    if w.ndim == 0 or w.shape == np.shape(x):
        return w
    shape = [1] * np.ndim(x)
    shape[axis % np.ndim(x)] = w.size
    return w.reshape(shape)


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


def inner_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``np.inner(a, b)`` (a sum over the last axes of both):
    da[I, k] = sum over J of g[I, J] b[J, k]."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    return np.tensordot(g, b, axes=(tuple(range(a.ndim - 1, g.ndim)), tuple(range(b.ndim - 1))))


def inner_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``np.inner(a, b)``: db[J, k] = sum over I of g[I, J] a[I, k]."""
    a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
    return np.tensordot(g, a, axes=(tuple(range(a.ndim - 1)), tuple(range(a.ndim - 1))))


def _tensordot_axes(axes, a_ndim, b_ndim):
    if np.ndim(axes) == 0:
        return list(range(a_ndim - axes, a_ndim)), list(range(axes))
    a_axes, b_axes = ([ax] if np.ndim(ax) == 0 else list(ax) for ax in axes)
    return [ax % a_ndim for ax in a_axes], [ax % b_ndim for ax in b_axes]


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


def kron_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``np.kron(a, b)``: each block of ``g`` dotted with ``b``."""
    blocks, sa, sb = _kron_blocks(g, a, b)
    return np.reshape(np.tensordot(blocks, np.reshape(b, sb), axes=len(sb)), np.shape(a))


def kron_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``np.kron(a, b)``: the blocks of ``g`` weighted by ``a``."""
    blocks, sa, sb = _kron_blocks(g, a, b)
    return np.reshape(np.tensordot(np.reshape(a, sa), blocks, axes=len(sa)), np.shape(b))


# -- linear algebra ------------------------------------------------------------------------
def _promoted_chain(arrays):
    """np.linalg.multi_dot's operands as matrices: a 1-D first operand is a row, a 1-D last
    one a column."""
    mats = [np.asarray(a) for a in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    return mats


def _chain(mats):
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out


def multi_dot_adjoint(g, arrays):
    """The adjoint of each operand of ``np.linalg.multi_dot(arrays)``:
    dM_i = (M_0 ... M_{i-1})^T G (M_{i+1} ... M_k)^T, in each operand's own shape."""
    mats = _promoted_chain(arrays)
    rows, cols = mats[0].shape[0], mats[-1].shape[1]
    upstream = np.reshape(g, (rows, cols))
    out = []
    for i in range(len(mats)):
        left = _chain(mats[:i]).T @ upstream if i else upstream
        grad = left @ _chain(mats[i + 1:]).T if i < len(mats) - 1 else left
        out.append(np.reshape(grad, np.shape(arrays[i])))
    return out


def multi_dot_tangent(tangents, arrays):
    """The tangent of ``np.linalg.multi_dot(arrays)``: the sum over operands of the chain
    with that operand replaced by its tangent."""
    mats = _promoted_chain(arrays)
    dots = _promoted_chain([np.broadcast_to(t, np.shape(a)) for t, a in zip(tangents, arrays)])
    total = sum(_chain(mats[:i] + [dots[i]] + mats[i + 1:]) for i in range(len(mats)))
    shape = np.shape(np.linalg.multi_dot([np.zeros(np.shape(a)) for a in arrays]))
    return np.reshape(total, shape)


def _is_vector(v, a) -> bool:
    # np.linalg.solve(a, b) treats b as a vector exactly when b is 1-D; its solution (and
    # so its adjoint) then has one dimension fewer than a (a matrix b gives at least a's)
    return np.ndim(v) == np.ndim(a) - 1


def solve_as(a, r, transpose=False):
    """``solve(a, r)`` (``a^T`` when ``transpose``) with NumPy's convention for ``r``: a
    vector (or a stack of vectors, one per matrix of ``a``) when it has one dimension fewer
    than ``a``, else a matrix (or a stack of them)."""
    m = np.swapaxes(a, -1, -2) if transpose else a
    if _is_vector(r, a):
        return np.linalg.solve(m, np.asarray(r)[..., None])[..., 0]
    return np.linalg.solve(m, r)


def times_as(a, s, transpose=False):
    """``a @ s`` (``a^T @ s`` when ``transpose``) with the vector convention of
    ``solve_as``."""
    m = np.swapaxes(a, -1, -2) if transpose else a
    if _is_vector(s, a):
        return (m @ np.asarray(s)[..., None])[..., 0]
    return m @ s


def matrix_trace(m):
    """The trace of each matrix in ``m`` (over its last two axes)."""
    return np.trace(m, axis1=-2, axis2=-1)


def eigenvectors(x):
    """The eigenvectors of the symmetric matrices ``x`` (lower triangle read, like eigh)."""
    return np.linalg.eigh(x)[1]


def eigenvectors_change(x, x_dot):
    """The derivative of ``eigenvectors(x)`` along ``x_dot`` (whose lower triangle is what
    changes, mirrored): ``V (F * (V^T dA V))`` with ``F_ij = 1 / (w_j - w_i)`` off the
    diagonal and 0 on it. It needs distinct eigenvalues."""
    w, v = np.linalg.eigh(x)
    sym = np.tril(x_dot) + np.swapaxes(np.tril(x_dot, -1), -1, -2)
    gaps = w[..., None, :] - w[..., :, None]
    n = w.shape[-1]
    safe = np.where(np.eye(n, dtype=bool), 1.0, gaps)
    f = np.where(np.eye(n, dtype=bool), 0.0, 1.0 / safe)
    return v @ (f * (np.swapaxes(v, -1, -2) @ sym @ v))


def singular_values_adjoint(g, x):
    """The adjoint of ``np.linalg.svd(x, compute_uv=False)``: ``U diag(g) V^T``."""
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return (u * np.asarray(g)[..., None, :]) @ vh


def singular_values_tangent(t, x):
    """The tangent of the singular values: ``u_i^T t v_i`` for each i."""
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(u * (t @ np.swapaxes(vh, -1, -2)), axis=-2)


def outer_last(u, v, a):
    """``u v^T`` shaped like ``a``: for vectors (one dimension fewer than ``a``) the outer
    product, for matrices ``u @ v^T``, summed over axes along which ``a`` was broadcast."""
    from .runtime import unbroadcast

    u, v = np.asarray(u), np.asarray(v)
    if _is_vector(u, a):
        return unbroadcast(u[..., :, None] * v[..., None, :], a)
    return unbroadcast(u @ np.swapaxes(v, -1, -2), a)


# -- norms -------------------------------------------------------------------------------
def norm_ord_adjoint(g, x, y, ord, axis=None, keepdims=False):
    """The adjoint of ``np.linalg.norm(x, ord, axis)`` for the ``ord`` values other than
    None, 2, 'fro' (``runtime.norm_adjoint``) and 'nuc' (``nuclear_norm_adjoint``).

    Vectors: p gives ``sign(x) |x|^(p-1) / y^(p-1)``; 1 gives ``sign(x)``; inf / -inf
    route the gradient to the entries of largest / smallest magnitude (shared among ties);
    0 (a count) has gradient 0. Matrices: 1 / -1 (column sums) and inf / -inf (row sums)
    route it to the column or row of largest / smallest absolute sum (shared among ties),
    times the signs of its entries.
    """
    from .runtime import extremum_adjoint, unreduce

    x = np.asarray(x)
    if _is_default_ord(ord) or isinstance(ord, str):  # ord was a variable: any value
        return norm_slope(g, x, y, axis, keepdims, ord)
    if _is_matrix_norm(x, axis):
        return _matrix_norm_adjoint(g, x, ord, axis, keepdims)
    gx = unreduce(g, x, axis, keepdims)
    if ord == 0:
        return gx * 0.0
    if ord == 1:
        return gx * np.sign(x)
    if ord in (np.inf, -np.inf):
        return extremum_adjoint(g, np.abs(x), y, axis, keepdims) * np.sign(x)
    p = float(ord)
    return gx * np.sign(x) * np.abs(x) ** (p - 1.0) / unreduce(y, x, axis, keepdims) ** (p - 1.0)


def norm_ord_adjoint_change(g, x, y, x_dot, y_dot, ord, axis=None, keepdims=False):
    """The derivative of ``norm_ord_adjoint(g, x, y, ...)`` in x and y along (x_dot, y_dot).
    Norms with ord 0, 1, inf, -inf (and the matrix 1 / inf norms) are piecewise linear, so
    it is 0 for them; for a p-norm it is that of ``g sign(x) |x|^(p-1) y^(1-p)``."""
    from .runtime import unreduce
    from .runtime_tangent import norm_adjoint_tangent

    x = np.asarray(x)
    if _is_default_ord(ord):
        return norm_adjoint_tangent(g, x, y, x_dot, y_dot, axis, keepdims, ord)
    if isinstance(ord, str):
        from .errors import AdjointError

        raise AdjointError(f"second derivatives of np.linalg.norm with ord={ord!r} are not "
                           "supported")
    gx = unreduce(g, x, axis, keepdims)
    if _is_matrix_norm(x, axis) or ord in (0, 1, np.inf, -np.inf):
        return gx * 0.0 * x
    p = float(ord)
    y_full = unreduce(y, x, axis, keepdims)
    y_dot_full = unreduce(y_dot, x, axis, keepdims)
    return gx * ((p - 1.0) * np.abs(x) ** (p - 2.0) * x_dot / y_full ** (p - 1.0)
                 + (1.0 - p) * np.sign(x) * np.abs(x) ** (p - 1.0) * y_dot_full / y_full ** p)


def norm_slope(g, x, y, axis=None, keepdims=False, ord=None):
    """The adjoint of np.linalg.norm for any ``ord``: the helper its reverse rule calls."""
    from .runtime import norm_adjoint

    if _is_default_ord(ord):
        return norm_adjoint(g, x, y, axis, keepdims, ord)
    if isinstance(ord, str) and ord == "nuc":
        return nuclear_norm_adjoint(g, x, axis, keepdims)
    return norm_ord_adjoint(g, x, y, ord, axis, keepdims)


def nuclear_norm_adjoint(g, x, axis=None, keepdims=False):
    """The adjoint of the nuclear norm (the sum of the singular values): ``g U V^T``."""
    from .runtime import unreduce

    x = np.asarray(x)
    axes = _axes((-2, -1) if axis is None else axis, x.ndim)
    u, _, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
    return unreduce(g, x, axis, keepdims) * np.moveaxis(u @ vh, (-2, -1), axes)


def _is_default_ord(ord) -> bool:
    """None, 2 and 'fro': the norms ``runtime.norm_adjoint`` handles."""
    return ord is None or (ord == "fro" if isinstance(ord, str) else ord == 2)


def _is_matrix_norm(x, axis) -> bool:
    return (axis is None and np.ndim(x) == 2) or (isinstance(axis, tuple) and len(axis) == 2)


def _matrix_norm_adjoint(g, x, ord, axis, keepdims):
    from .runtime import extremum_adjoint, unreduce

    axes = _axes((-2, -1) if axis is None else axis, x.ndim)
    m = np.moveaxis(x, axes, (-2, -1))
    gm = np.moveaxis(unreduce(g, x, axis, keepdims), axes, (-2, -1))[..., 0, 0]
    summed_axis = -2 if ord in (1, -1) else -1  # ord 1: the largest column sum
    sums = np.sum(np.abs(m), axis=summed_axis)
    best = np.max(sums, axis=-1) if ord in (1, np.inf) else np.min(sums, axis=-1)
    share = extremum_adjoint(gm, sums, best, -1)
    grad = np.expand_dims(share, summed_axis) * np.sign(m)
    return np.moveaxis(grad, (-2, -1), axes)


def spectral_top_change(x, x_dot, axis=None):
    """The derivative of ``u1 v1^T`` (top singular vectors of each matrix of ``x`` over
    ``axis``) along ``x_dot``: the second derivative of the matrix 2-norm.

    The top eigenpair of the symmetric [[0, X], [X^T, 0]] is sigma_1 with eigenvector
    w = [u1; v1] / sqrt(2), and u1 v1^T is the top-right block of 2 w w^T. A simple
    eigenvalue's eigenvector moves by sum over k != 1 of w_k (w_k^T dB w) / (l_1 - l_k),
    so the change needs sigma_1 distinct from the other singular values.
    """
    axes = _axes((-2, -1) if axis is None else axis, np.ndim(x))
    m = np.moveaxis(np.asarray(x, dtype=np.float64), axes, (-2, -1))
    m_dot = np.moveaxis(np.broadcast_to(x_dot, np.shape(x)), axes, (-2, -1))
    rows = m.shape[-2]
    big = _augmented(m)
    big_dot = _augmented(m_dot)
    values, vectors = np.linalg.eigh(big)
    top = vectors[..., :, -1:]
    gaps = values[..., -1:] - values[..., :-1]
    rest = vectors[..., :, :-1]
    coefficients = (np.swapaxes(rest, -1, -2) @ big_dot @ top) / gaps[..., :, None]
    top_dot = rest @ coefficients
    change = 2.0 * (top_dot @ np.swapaxes(top, -1, -2) + top @ np.swapaxes(top_dot, -1, -2))
    return np.moveaxis(change[..., :rows, rows:], (-2, -1), axes)


def _augmented(m):
    rows, cols = m.shape[-2], m.shape[-1]
    big = np.zeros(m.shape[:-2] + (rows + cols, rows + cols))
    big[..., :rows, rows:] = m
    big[..., rows:, :rows] = np.swapaxes(m, -1, -2)
    return big


# -- scipy.linalg --------------------------------------------------------------------------
def _transposes(trans) -> bool:
    # scipy.linalg.solve_triangular's trans: 0 / 'N' (T y = b), 1 / 'T' or 2 / 'C' (T^T y = b)
    return trans not in (0, "N", "n")


def _triangle(m, lower):
    return np.tril(m) if lower else np.triu(m)


def triangular_solve(a, b, trans=0, lower=False):
    """``scipy.linalg.solve_triangular(a, b, trans, lower)`` (SciPy imported on first use)."""
    from scipy import linalg

    return linalg.solve_triangular(a, b, trans=trans, lower=lower)


def triangular_times(m, r, trans=0, lower=False):
    """``op(T) @ r`` with T the triangle of ``m`` that solve_triangular reads."""
    t = _triangle(m, lower)
    return (t.T if _transposes(trans) else t) @ r


def triangular_adjoint(gb, y, trans=0, lower=False):
    """The adjoint of ``a`` in ``y = solve_triangular(a, b)`` given ``gb = op(T)^-T g``:
    ``-gb y^T`` (``-y gb^T`` when transposed), on the triangle that was read."""
    gb, y = np.asarray(gb), np.asarray(y)
    outer = np.multiply.outer(gb, y) if gb.ndim == 1 else gb @ y.T
    return -_triangle(outer.T if _transposes(trans) else outer, lower)


def cholesky_solve(c, lower, b):
    """``scipy.linalg.cho_solve((c, lower), b)``: solves (L L^T) y = b for a lower factor
    (U^T U for an upper one)."""
    from scipy import linalg

    return linalg.cho_solve((c, lower), b)


def cholesky_factor_adjoint(gb, y, c, lower):
    """The adjoint of the factor ``c`` in ``y = cho_solve((c, lower), b)`` given
    ``gb = A^-1 g``: dA = -gb y^T, so dL = -(gb y^T + y gb^T) L on the lower triangle
    (dU = -U (gb y^T + y gb^T) on the upper one), the triangle cho_solve reads."""
    gb, y, c = np.asarray(gb), np.asarray(y), np.asarray(c)
    outer = np.multiply.outer(gb, y) if gb.ndim == 1 else gb @ y.T
    both = outer + outer.T
    return -np.tril(both @ np.tril(c)) if lower else -np.triu(np.triu(c) @ both)


def cholesky_times(c_dot, c, lower, y):
    """``dA @ y`` for the change ``dA`` of ``A = L L^T`` (``U^T U``) when the factor's
    triangle changes by that of ``c_dot``."""
    t = np.tril(c_dot) if lower else np.triu(c_dot)
    f = np.tril(c) if lower else np.triu(c)
    if lower:
        return t @ (f.T @ y) + f @ (t.T @ y)
    return t.T @ (f @ y) + f.T @ (t @ y)
