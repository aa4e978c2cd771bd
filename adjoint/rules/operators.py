"""Reverse rules for Python operators. ``d[v]`` is the adjoint of ``v``.

Broadcasting in the forward pass means summing over the broadcast axes in the backward
pass; ``unbroadcast(g, x)`` does that (and the engine drops it when nothing broadcast).
"""
import ast

import numpy as np

from ..runtime import matmul_adjoint_a, matmul_adjoint_b, pow_exponent_adjoint, unbroadcast
from . import adjoint_of, zero_gradient

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


# -- arithmetic ----------------------------------------------------------------------------
@adjoint_of(ast.Add)
def add(z, x, y):
    d[x] += unbroadcast(d[z], x)
    d[y] += unbroadcast(d[z], y)


@adjoint_of(ast.Sub)
def sub(z, x, y):
    d[x] += unbroadcast(d[z], x)
    d[y] += unbroadcast(-d[z], y)


@adjoint_of(ast.Mult)
def mul(z, x, y):
    d[x] += unbroadcast(d[z] * y, x)
    d[y] += unbroadcast(d[z] * x, y)


@adjoint_of(ast.Div)
def div(z, x, y):
    d[x] += unbroadcast(d[z] / y, x)
    d[y] += unbroadcast(-d[z] * z / y, y)


@adjoint_of(ast.Pow, pow)
def power(z, x, y):
    d[x] += unbroadcast(d[z] * y * x ** (y - 1), x)
    d[y] += unbroadcast(pow_exponent_adjoint(d[z], x, z), y)


@adjoint_of(ast.Mod)
def mod(z, x, y):
    # x % y = x - floor(x / y) * y, and floor is flat almost everywhere
    d[x] += unbroadcast(d[z], x)
    d[y] += unbroadcast(-d[z] * np.floor_divide(x, y), y)


@adjoint_of(ast.MatMult)
def matmul(z, x, y):
    d[x] += matmul_adjoint_a(d[z], x, y)
    d[y] += matmul_adjoint_b(d[z], x, y)


# -- unary ---------------------------------------------------------------------------------
@adjoint_of(ast.USub)
def negative(y, x):
    d[x] += -d[y]


@adjoint_of(ast.UAdd, "copy")
def identity(y, x):
    d[x] += d[y]


# -- piecewise constant: no gradient ---------------------------------------------------------
zero_gradient(ast.FloorDiv, ast.Not, ast.Invert, ast.BitAnd, ast.BitOr, ast.BitXor,
              ast.LShift, ast.RShift)
