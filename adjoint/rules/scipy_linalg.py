"""Rules for ``scipy.linalg``, loaded on first use like special.py.

``solve_triangular`` reads one triangle of ``a`` (the lower one when ``lower=True``), and
``cho_solve((c, lower), b)`` one triangle of the factor ``c``: the gradient of the other
entries is 0. ``unit_diagonal`` and the other solvers have no rule yet (docs/coverage.md).
"""
from scipy import linalg

from .. import runtime
from ..runtime import (
    cholesky_factor_adjoint,
    cholesky_solve,
    cholesky_times,
    triangular_adjoint,
    triangular_solve,
    triangular_times,
)
from . import adjoint_of
from .tangents import Multilinear, declare, t, tangent_of

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


@adjoint_of(linalg.solve_triangular)
def solve_triangular(y, a, b, trans=0, lower=False):
    # y = op(T)^-1 b: db = op(T)^-T dy, and dT = -db y^T (transposed for op(T) = T^T)
    gb = triangular_solve(a, d[y], 1 - trans if trans in (0, 1) else 0, lower)
    d[b] += gb
    d[a] += triangular_adjoint(gb, y, trans, lower)


@tangent_of(linalg.solve_triangular)
def solve_triangular_tangent(y, a, b, trans=0, lower=False):
    t[y] = triangular_solve(a, t[b] - triangular_times(t[a], y, trans, lower), trans, lower)


@adjoint_of(linalg.cho_solve)
def cho_solve(y, c_and_lower, b):
    # c_and_lower is the pair (c, lower) returned by scipy.linalg.cho_factor
    gb = cholesky_solve(c_and_lower[0], c_and_lower[1], d[y])
    d[b] += gb
    d[c_and_lower] += [cholesky_factor_adjoint(gb, y, c_and_lower[0], c_and_lower[1]), 0.0]


@tangent_of(linalg.cho_solve)
def cho_solve_tangent(y, c_and_lower, b):
    t[y] = cholesky_solve(c_and_lower[0], c_and_lower[1], t[b] - cholesky_times(
        t[c_and_lower][0], c_and_lower[0], c_and_lower[1], y))


@tangent_of(runtime.cholesky_solve)
def cholesky_solve_second(r, c, lower, b):
    t[r] = cholesky_solve(c, lower, t[b] - cholesky_times(t[c], c, lower, r))


@tangent_of(runtime.triangular_solve)
def triangular_solve_second(r, a, b, trans=0, lower=False):
    t[r] = triangular_solve(a, t[b] - triangular_times(t[a], r, trans, lower), trans, lower)


declare(Multilinear(("m", "r")), runtime.triangular_times)
declare(Multilinear(("gb", "y")), runtime.triangular_adjoint)
declare(Multilinear(("gb", "y", "c")), runtime.cholesky_factor_adjoint)
declare(Multilinear(("c_dot", "c", "y")), runtime.cholesky_times)
