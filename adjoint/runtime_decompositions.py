"""Runtime helpers for decompositions whose results are tuples of arrays of different
shapes: ``w, V = np.linalg.eigh(A)`` and ``U, s, Vh = np.linalg.svd(A)``. Their adjoints
arrive as a list with one entry per result (None for a result nothing used). Generated
code imports them from ``adjoint.runtime``; they have no Numba version.
"""
from __future__ import annotations

import numpy as np

from .helpers import exported, helper
from .runtime_linalg import singular_values_tangent


# -- eigh with eigenvectors: results of different shapes, adjoints per entry ----------------
def _read_triangle(full, uplo):
    """The gradient of a symmetric matrix's entries when only one triangle is read (as
    eigh does): each entry there counts for itself and its mirror, the diagonal once."""
    both = full + np.swapaxes(full, -1, -2)
    if uplo.upper() == "L":
        return np.tril(both) - 0.5 * np.tril(np.triu(both))
    return np.triu(both) - 0.5 * np.triu(np.tril(both))


def _gaps_inverse(w):
    """F with F_ij = 1 / (w_j - w_i) off the diagonal and 0 on it."""
    n = w.shape[-1]
    gaps = w[..., None, :] - w[..., :, None]
    eye = np.eye(n, dtype=bool)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gaps))


@helper(no_numba="np.linalg.eigh with eigenvectors")
def eigh_adjoint(g, y, uplo="L"):
    """The adjoint of ``w, V = np.linalg.eigh(A)`` from ``g = [dw, dV]`` (None for an
    unused result): ``V (diag(dw) + F * (V^T dV)) V^T``, read back onto the triangle eigh
    reads. Eigenvectors need distinct eigenvalues (F divides by their gaps)."""
    w, v = y
    gw, gv = g
    vt = np.swapaxes(v, -1, -2)
    inner = np.zeros(np.shape(v))
    if gw is not None:
        inner = inner + np.eye(w.shape[-1]) * np.expand_dims(gw, -2)
    if gv is not None:
        inner = inner + _gaps_inverse(w) * (vt @ gv)
    return _read_triangle(v @ inner @ vt, uplo)


@helper(no_numba="np.linalg.eigh with eigenvectors")
def eigh_tangent(y, x_dot, uplo="L"):
    """The tangent of ``(w, V) = np.linalg.eigh(A)`` along ``x_dot`` (its ``uplo``
    triangle, mirrored, is what changes): ``dw_i = v_i^T dA v_i``,
    ``dV = V (F * (V^T dA V))``."""
    w, v = y
    if uplo.upper() == "L":
        sym = np.tril(x_dot) + np.swapaxes(np.tril(x_dot, -1), -1, -2)
    else:
        sym = np.triu(x_dot) + np.swapaxes(np.triu(x_dot, 1), -1, -2)
    rotated = np.swapaxes(v, -1, -2) @ sym @ v
    return (np.diagonal(rotated, axis1=-2, axis2=-1), v @ (_gaps_inverse(w) * rotated))


# -- svd with vectors ------------------------------------------------------------------------
def _square_gaps_inverse(s):
    """F with F_ij = 1 / (s_j^2 - s_i^2) off the diagonal and 0 on it."""
    return _gaps_inverse(s * s)


def _reduced(u, vh, gu, gvh):
    """The first k = min(m, n) columns of U and rows of Vh, and their adjoints. With
    full_matrices=True the others complete an orthonormal basis in no particular way: a
    function may not depend on them."""
    k = min(u.shape[-2], vh.shape[-1])
    for g, extra in ((gu, np.s_[..., k:]), (gvh, np.s_[..., k:, :])):
        if g is not None and np.any(g[extra]):
            raise ValueError("the result depends on the columns of U (rows of Vh) beyond "
                             "min(m, n), which np.linalg.svd picks arbitrarily: pass "
                             "full_matrices=False")
    gu = None if gu is None else gu[..., :k]
    gvh = None if gvh is None else gvh[..., :k, :]
    return u[..., :k], vh[..., :k, :], gu, gvh


@helper(no_numba="np.linalg.svd with vectors")
def svd_adjoint(g, y):
    """The adjoint of ``U, s, Vh = np.linalg.svd(A)`` from ``g = [dU, ds, dVh]`` (None for
    an unused result). With ``V = Vh^T`` and ``F_ij = 1 / (s_j^2 - s_i^2)``:
    ``U [(F * (U^T dU - dU^T U)) S + diag(ds) + S (F * (V^T dV - dV^T V))] V^T``, plus
    ``(I - U U^T) dU S^-1 V^T`` (m > n) or ``U S^-1 dV^T (I - V V^T)`` (m < n). It needs
    distinct nonzero singular values."""
    u, s, vh = y
    gu, gs, gvh = g
    u, vh, gu, gvh = _reduced(u, vh, gu, gvh)
    ut, v = np.swapaxes(u, -1, -2), np.swapaxes(vh, -1, -2)
    f = _square_gaps_inverse(s)
    inner = np.zeros(np.shape(s) + np.shape(s)[-1:])
    if gs is not None:
        inner = inner + np.eye(s.shape[-1]) * np.expand_dims(gs, -2)
    if gu is not None:
        utgu = ut @ gu
        inner = inner + (f * (utgu - np.swapaxes(utgu, -1, -2))) * np.expand_dims(s, -2)
    if gvh is not None:
        gv = np.swapaxes(gvh, -1, -2)
        vtgv = vh @ gv
        inner = inner + np.expand_dims(s, -1) * (f * (vtgv - np.swapaxes(vtgv, -1, -2)))
    grad = u @ inner @ vh
    m, n = u.shape[-2], vh.shape[-1]
    if gu is not None and m > n:
        grad = grad + (gu - u @ (ut @ gu)) @ (vh / np.expand_dims(s, -1))
    if gvh is not None and m < n:
        grad = grad + (u / np.expand_dims(s, -2)) @ (gvh - (gvh @ v) @ vh)
    return grad


@helper(no_numba="np.linalg.svd with vectors")
def svd_tangent(y, x_dot):
    """The tangent of ``(U, s, Vh) = np.linalg.svd(A, full_matrices=False)`` along
    ``x_dot``: with ``P = U^T dA V``, ``ds = diag(P)``,
    ``dU = U (F * (P S + S P^T)) + (I - U U^T) dA V S^-1`` and
    ``dV = V (F * (S P + P^T S)) + (I - V V^T) dA^T U S^-1``."""
    u, s, vh = y
    if u.shape[-1] > s.shape[-1] or vh.shape[-2] > s.shape[-1]:
        raise ValueError("the tangent of np.linalg.svd's full U or Vh (beyond min(m, n)) is "
                         "not defined: pass full_matrices=False")
    ut, v = np.swapaxes(u, -1, -2), np.swapaxes(vh, -1, -2)
    f = _square_gaps_inverse(s)
    p = ut @ x_dot @ v
    pt = np.swapaxes(p, -1, -2)
    row, col = np.expand_dims(s, -2), np.expand_dims(s, -1)  # S on the right, on the left
    du = u @ (f * (p * row + col * pt)) + (x_dot @ v - u @ p) / row
    dv = v @ (f * (col * p + pt * row)) + (np.swapaxes(x_dot, -1, -2) @ u - v @ pt) / row
    return (du, np.diagonal(p, axis1=-2, axis2=-1), np.swapaxes(dv, -1, -2))


@helper(no_numba="np.linalg.svd with vectors")
def svd_change(y, x_dot, x, compute_uv=True):
    """The tangent of ``np.linalg.svd(x, compute_uv=...)``: the singular values' alone, or
    the three results'."""
    if not compute_uv:
        return singular_values_tangent(x_dot, x)
    return svd_tangent(y, x_dot)


__all__ = exported(__name__)
