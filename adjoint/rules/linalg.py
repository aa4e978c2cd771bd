"""Reverse and forward rules for ``np.linalg``: inverse, solve, determinants, Cholesky,
symmetric eigenvalues and singular values. Every rule works on a matrix or a stack of
matrices (the last two axes), as the NumPy functions do.

Choices at non-differentiable points (documented in README):
- ``pinv``: the derivative of the pseudo-inverse exists where the rank does not change
  (full-rank inputs almost surely); at rank-deficient inputs the formula is used as is.
- ``inv``, ``solve``, ``det``, ``slogdet`` need an invertible matrix (their derivatives
  solve with it); at a singular one NumPy raises ``LinAlgError``.
- ``cholesky`` and ``eigvalsh`` read only the lower triangle, exactly as NumPy does: the
  gradient of an entry above the diagonal is 0, and of one below it counts both mirrored
  places. ``eigvalsh``'s second derivatives need distinct eigenvalues.
- ``svd(x, compute_uv=False)`` (singular values) needs distinct nonzero singular values;
  its second derivatives are refused with a located error.
- ``multi_dot``: first and second order in the upstream gradient; second derivatives in
  the operands are refused with a located error (write the product with ``@`` for them).
- ``eigh`` returns a tuple of arrays of different shapes, ``w, V = np.linalg.eigh(A)``: its
  adjoint is carried entry by entry; eigenvectors need distinct eigenvalues (the formula
  divides by their gaps), and are defined up to sign, so a function of them is
  differentiable only if it does not depend on that sign. Second derivatives through
  eigenvectors are refused with a located error; so is ``jit=True`` (Numba cannot type the
  per-entry adjoint).
- ``svd`` with vectors, ``U, s, Vh = np.linalg.svd(A)``: carried entry by entry like
  ``eigh``'s; needs distinct nonzero singular values, and a function of ``U`` and ``Vh``
  that does not depend on the signs of singular vector pairs. With ``full_matrices=True``
  (NumPy's default) on a non-square matrix, the columns of U (rows of Vh) beyond
  min(m, n) are an arbitrary completion: a function that depends on them raises
  ValueError. Second derivatives and ``jit=True`` are refused.
"""
import numpy as np

from ..runtime import (
    eigenvectors,
    eigh_adjoint,
    eigh_tangent,
    matrix_trace,
    multi_dot_adjoint,
    multi_dot_tangent,
    outer_last,
    singular_values_adjoint,
    solve_as,
    svd_adjoint,
    svd_change,
    times_as,
    unbroadcast,
    unreduce,
)
from . import adjoint_of
from .tangents import Linear, Multilinear, declare, t, tangent_of

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


# -- inverse and solve ---------------------------------------------------------------------
@adjoint_of(np.linalg.inv)
def inv(y, x):
    d[x] += -np.swapaxes(y, -1, -2) @ d[y] @ np.swapaxes(y, -1, -2)


@tangent_of(np.linalg.inv)
def inv_tangent(y, x):
    t[y] = -(y @ t[x] @ y)


@adjoint_of(np.linalg.solve)
def solve(y, a, b):
    # y = a^-1 b: db = a^-T dy, and da = -db y^T
    gb = solve_as(a, d[y], True)
    d[b] += unbroadcast(gb, b)
    d[a] += -outer_last(gb, y, a)


@tangent_of(np.linalg.solve)
def solve_tangent(y, a, b):
    t[y] = solve_as(a, t[b] - times_as(t[a], y), False)


@adjoint_of(np.linalg.pinv)
def pinv(y, x):
    # with P = pinv(x), Q = I - x P, R = I - P x (valid while the rank stays the same):
    # dx = -P^T g P^T + Q g^T P P^T + P^T P g^T R
    p_t = np.swapaxes(y, -1, -2)
    g_t = np.swapaxes(d[y], -1, -2)
    q = np.eye(np.shape(x)[-2]) - x @ y
    r = np.eye(np.shape(x)[-1]) - y @ x
    d[x] += -p_t @ d[y] @ p_t + q @ g_t @ y @ p_t + p_t @ y @ g_t @ r


@tangent_of(np.linalg.pinv)
def pinv_tangent(y, x):
    p_t = np.swapaxes(y, -1, -2)
    x_dot_t = np.swapaxes(t[x], -1, -2)
    t[y] = (-(y @ t[x] @ y) + y @ p_t @ x_dot_t @ (np.eye(np.shape(x)[-2]) - x @ y)
            + (np.eye(np.shape(x)[-1]) - y @ x) @ x_dot_t @ p_t @ y)


@adjoint_of(np.linalg.multi_dot)
def multi_dot(y, arrays):
    d[arrays] += multi_dot_adjoint(d[y], arrays)


@tangent_of(np.linalg.multi_dot)
def multi_dot_tangent_(y, arrays):
    t[y] = multi_dot_tangent(t[arrays], arrays)


# -- determinants --------------------------------------------------------------------------
@adjoint_of(np.linalg.det)
def det(y, x):
    # d det(x) / dx = det(x) x^-T
    d[x] += unreduce(d[y] * y, x, (-2, -1)) * np.swapaxes(np.linalg.inv(x), -1, -2)


@tangent_of(np.linalg.det)
def det_tangent(y, x):
    t[y] = y * matrix_trace(np.linalg.solve(x, t[x]))


@adjoint_of(np.linalg.slogdet)
def slogdet(y, x):
    # y = (sign, log|det x|); the sign is flat, and d log|det x| / dx = x^-T
    d[x] += unreduce(d[y][1], x, (-2, -1)) * np.swapaxes(np.linalg.inv(x), -1, -2)


@tangent_of(np.linalg.slogdet)
def slogdet_tangent(y, x):
    change = matrix_trace(np.linalg.solve(x, t[x]))
    t[y] = np.stack((0.0 * change, change))


# -- Cholesky ------------------------------------------------------------------------------
@adjoint_of(np.linalg.cholesky)
def cholesky(y, x):
    # x = L L^T with L = y lower triangular; Phi keeps the lower triangle, halving the
    # diagonal. dx = Phi(S + S^T) with S = L^-T Phi(L^T dL) L^-1 (only x's lower
    # triangle is read, so that is where the gradient goes)
    inverse = np.linalg.inv(y)
    product = np.swapaxes(y, -1, -2) @ d[y]
    s = np.swapaxes(inverse, -1, -2) @ (
        np.tril(product) - 0.5 * np.tril(np.triu(product))) @ inverse
    both = s + np.swapaxes(s, -1, -2)
    d[x] += np.tril(both) - 0.5 * np.tril(np.triu(both))


@tangent_of(np.linalg.cholesky)
def cholesky_tangent(y, x):
    inverse = np.linalg.inv(y)
    mirrored = np.tril(t[x]) + np.swapaxes(np.tril(t[x], -1), -1, -2)
    inner = inverse @ mirrored @ np.swapaxes(inverse, -1, -2)
    t[y] = y @ (np.tril(inner) - 0.5 * np.tril(np.triu(inner)))


# -- symmetric eigenvalues and singular values ---------------------------------------------
@adjoint_of(np.linalg.eigvalsh)
def eigvalsh(y, x):
    # d w_i = v_i^T dA v_i; NumPy reads the lower triangle, so mirrored entries count twice
    vectors = eigenvectors(x)
    full = (vectors * np.expand_dims(d[y], -2)) @ np.swapaxes(vectors, -1, -2)
    d[x] += 2.0 * np.tril(full) - np.tril(np.triu(full))


@tangent_of(np.linalg.eigvalsh)
def eigvalsh_tangent(y, x):
    vectors = eigenvectors(x)
    mirrored = np.tril(t[x]) + np.swapaxes(np.tril(t[x], -1), -1, -2)
    t[y] = np.sum(vectors * (mirrored @ vectors), axis=-2)


@adjoint_of(np.linalg.eigh, tuple_result=True)
def eigh(y, x, UPLO="L"):
    # y = (w, V); d[y] = [dw, dV], None where nothing flowed
    d[x] += eigh_adjoint(d[y], y, UPLO)


@tangent_of(np.linalg.eigh)
def eigh_change(y, x, UPLO="L"):
    t[y] = eigh_tangent(y, t[x], UPLO)


def _singular_values_only(bound) -> str | None:
    if getattr(bound.get("compute_uv"), "value", True) is not False:
        return "only the singular values (compute_uv=False) have a rule"
    return None


@adjoint_of(np.linalg.svd, check=_singular_values_only)
def svd_values(y, x, full_matrices=True, compute_uv=True):
    d[x] += singular_values_adjoint(d[y], x)


def _with_vectors(bound) -> str | None:
    if getattr(bound.get("compute_uv"), "value", True) is False:
        return "the singular values alone (compute_uv=False) have their own rule"
    return None


@adjoint_of(np.linalg.svd, check=_with_vectors, tuple_result=True)
def svd(y, x, full_matrices=True, compute_uv=True):
    # y = (U, s, Vh); d[y] = [dU, ds, dVh], None where nothing flowed
    d[x] += svd_adjoint(d[y], y)


@tangent_of(np.linalg.svd)
def svd_tangent_rule(y, x, full_matrices=True, compute_uv=True):
    t[y] = svd_change(y, t[x], x, compute_uv)


# -- the helpers' tangents (second order) --------------------------------------------------
from .. import runtime  # noqa: E402
from ..runtime import eigenvectors_change  # noqa: E402


@tangent_of(runtime.solve_as)
def solve_as_second(r, a, s, transpose=False):
    t[r] = solve_as(a, t[s] - times_as(t[a], r, transpose), transpose)


@tangent_of(runtime.eigenvectors)
def eigenvectors_second(r, x):
    t[r] = eigenvectors_change(x, t[x])


declare(Multilinear(("a", "s")), runtime.times_as)
declare(Linear(("g",), refused={"arrays": "second derivatives of np.linalg.multi_dot"}),
        runtime.multi_dot_adjoint)
declare(Multilinear(("u", "v")), runtime.outer_last)
declare(Linear(("m",)), runtime.matrix_trace)
declare(Linear(("g",), refused={"x": "second derivatives of singular values "
                                     "(np.linalg.svd with compute_uv=False)"}),
        runtime.singular_values_adjoint)
declare(Linear(("t",), refused={"x": "second derivatives of singular values"}),
        runtime.singular_values_tangent)
declare(Linear(("g",), refused={"y": "second derivatives through the eigenvectors of "
                                     "np.linalg.eigh (use eigvalsh for eigenvalues)"}),
        runtime.eigh_adjoint)
declare(Linear(("x_dot",), refused={"y": "second derivatives through the eigenvectors of "
                                         "np.linalg.eigh"}),
        runtime.eigh_tangent)
declare(Linear(("g",), refused={"y": "second derivatives through the singular vectors of "
                                     "np.linalg.svd"}),
        runtime.svd_adjoint)
declare(Linear(("x_dot",), refused={"y": "second derivatives through the singular vectors "
                                         "of np.linalg.svd", "x": "second derivatives of "
                                         "singular values"}),
        runtime.svd_change)
