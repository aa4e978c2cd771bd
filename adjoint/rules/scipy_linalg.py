"""Rules for ``scipy.linalg``, loaded on first use like special.py.

``solve_triangular`` reads one triangle of ``a`` (the lower one when ``lower=True``): the
gradient of the other entries is 0. ``unit_diagonal``, ``cho_solve`` and the other solvers
have no rule yet (README, "Coverage").
"""
from scipy import linalg

from .. import runtime
from ..runtime import triangular_adjoint, triangular_solve, triangular_times
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


@tangent_of(runtime.triangular_solve)
def triangular_solve_second(r, a, b, trans=0, lower=False):
    t[r] = triangular_solve(a, t[b] - triangular_times(t[a], r, trans, lower), trans, lower)


declare(Multilinear(("m", "r")), runtime.triangular_times)
declare(Multilinear(("gb", "y")), runtime.triangular_adjoint)
