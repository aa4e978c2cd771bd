"""Runtime helpers for the linear-algebra rules (issue 14): ``np.linalg`` (solve, det,
eigenvalues, singular values, multi_dot), the norms of every ``ord``, and ``scipy.linalg``.
Generated code imports them from ``adjoint.runtime``, which re-exports this module's
``__all__``; their Numba versions are in ``runtime_linalg_numba.py`` and their tangents (for
second order) in ``rules/tangents.py``, ``rules/linalg.py`` and ``rules/scipy_linalg.py``.
"""
from __future__ import annotations

import numpy as np

from .helpers import exported, helper
from .runtime_extra import _axes

# Constructs whose helpers have no Numba version (jit=True refuses them at build time).
# Numba's np.linalg.svd has no compute_uv argument, so the primal does not compile.
_SVD = "np.linalg.svd(x, compute_uv=False)"
_NORM_ORD = "np.linalg.norm with ord other than None, 2 or 'fro'"
_TRIANGULAR = "scipy.linalg.solve_triangular"
_CHO = "scipy.linalg.cho_solve"


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


@helper(no_numba="np.linalg.multi_dot")
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


@helper(no_numba="np.linalg.multi_dot")
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


@helper
def solve_as(a, r, transpose=False):
    """``solve(a, r)`` (``a^T`` when ``transpose``) with NumPy's convention for ``r``: a
    vector (or a stack of vectors, one per matrix of ``a``) when it has one dimension fewer
    than ``a``, else a matrix (or a stack of them)."""
    m = np.swapaxes(a, -1, -2) if transpose else a
    if _is_vector(r, a):
        return np.linalg.solve(m, np.asarray(r)[..., None])[..., 0]
    return np.linalg.solve(m, r)


@helper
def times_as(a, s, transpose=False):
    """``a @ s`` (``a^T @ s`` when ``transpose``) with the vector convention of
    ``solve_as``."""
    m = np.swapaxes(a, -1, -2) if transpose else a
    if _is_vector(s, a):
        return (m @ np.asarray(s)[..., None])[..., 0]
    return m @ s


@helper
def matrix_trace(m):
    """The trace of each matrix in ``m`` (over its last two axes)."""
    return np.trace(m, axis1=-2, axis2=-1)


@helper
def eigenvectors(x):
    """The eigenvectors of the symmetric matrices ``x`` (lower triangle read, like eigh)."""
    return np.linalg.eigh(x)[1]


@helper(no_numba="second derivatives of np.linalg.eigvalsh")
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


@helper(no_numba=_SVD)
def singular_values_adjoint(g, x):
    """The adjoint of ``np.linalg.svd(x, compute_uv=False)``: ``U diag(g) V^T``."""
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return (u * np.asarray(g)[..., None, :]) @ vh


@helper(no_numba=_SVD)
def singular_values_tangent(t, x):
    """The tangent of the singular values: ``u_i^T t v_i`` for each i."""
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(u * (t @ np.swapaxes(vh, -1, -2)), axis=-2)


@helper
def outer_last(u, v, a):
    """``u v^T`` shaped like ``a``: for vectors (one dimension fewer than ``a``) the outer
    product, for matrices ``u @ v^T``, summed over axes along which ``a`` was broadcast."""
    from .runtime import unbroadcast

    u, v = np.asarray(u), np.asarray(v)
    if _is_vector(u, a):
        return unbroadcast(u[..., :, None] * v[..., None, :], a)
    return unbroadcast(u @ np.swapaxes(v, -1, -2), a)


# -- norms -------------------------------------------------------------------------------
@helper(no_numba=_NORM_ORD)
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


@helper(no_numba=_NORM_ORD)
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


@helper(no_numba="np.linalg.norm with ord='nuc'")
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


@helper(no_numba=_TRIANGULAR)
def triangular_solve(a, b, trans=0, lower=False):
    """``scipy.linalg.solve_triangular(a, b, trans, lower)`` (SciPy imported on first use)."""
    from scipy import linalg

    return linalg.solve_triangular(a, b, trans=trans, lower=lower)


@helper(no_numba=_TRIANGULAR)
def triangular_times(m, r, trans=0, lower=False):
    """``op(T) @ r`` with T the triangle of ``m`` that solve_triangular reads."""
    t = _triangle(m, lower)
    return (t.T if _transposes(trans) else t) @ r


@helper(no_numba=_TRIANGULAR)
def triangular_adjoint(gb, y, trans=0, lower=False):
    """The adjoint of ``a`` in ``y = solve_triangular(a, b)`` given ``gb = op(T)^-T g``:
    ``-gb y^T`` (``-y gb^T`` when transposed), on the triangle that was read."""
    gb, y = np.asarray(gb), np.asarray(y)
    outer = np.multiply.outer(gb, y) if gb.ndim == 1 else gb @ y.T
    return -_triangle(outer.T if _transposes(trans) else outer, lower)


@helper(no_numba=_CHO)
def cholesky_solve(c, lower, b):
    """``scipy.linalg.cho_solve((c, lower), b)``: solves (L L^T) y = b for a lower factor
    (U^T U for an upper one)."""
    from scipy import linalg

    return linalg.cho_solve((c, lower), b)


@helper(no_numba=_CHO)
def cholesky_factor_adjoint(gb, y, c, lower):
    """The adjoint of the factor ``c`` in ``y = cho_solve((c, lower), b)`` given
    ``gb = A^-1 g``: dA = -gb y^T, so dL = -(gb y^T + y gb^T) L on the lower triangle
    (dU = -U (gb y^T + y gb^T) on the upper one), the triangle cho_solve reads."""
    gb, y, c = np.asarray(gb), np.asarray(y), np.asarray(c)
    outer = np.multiply.outer(gb, y) if gb.ndim == 1 else gb @ y.T
    both = outer + outer.T
    return -np.tril(both @ np.tril(c)) if lower else -np.triu(np.triu(c) @ both)


@helper(no_numba=_CHO)
def cholesky_times(c_dot, c, lower, y):
    """``dA @ y`` for the change ``dA`` of ``A = L L^T`` (``U^T U``) when the factor's
    triangle changes by that of ``c_dot``."""
    t = np.tril(c_dot) if lower else np.triu(c_dot)
    f = np.tril(c) if lower else np.triu(c)
    if lower:
        return t @ (f.T @ y) + f @ (t.T @ y)
    return t.T @ (f @ y) + f.T @ (t @ y)


__all__ = exported(__name__)
