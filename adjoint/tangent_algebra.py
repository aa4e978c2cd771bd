"""Tangent expressions and their algebra: a tangent known to be zero (``Zero``) is
simplified away where the algebra allows (``a * 0``, ``0 + b``, a linear call of zeros),
else written as ``zeros_like(like)``.
"""
from __future__ import annotations

import ast
import copy

from . import helpers
from .ir import (
    call,
)
from .template import is_number


class Zero(ast.expr):
    """A tangent known to be zero (a constant, or a value the inputs do not reach).
    Simplified away where the algebra allows, else written as ``zeros_like(like)``."""

    _fields = ()

    def __init__(self, like: ast.expr | None = None):
        super().__init__()
        self.like = like


SEED = "__seed__"  # stands for the upstream adjoint while an elementwise rule is read forwards

# Calls that are zero when the arguments at these positions are: ("any", ...) for functions
# linear in each listed argument, ("all", ...) for functions linear in them jointly.
# The runtime helpers' entries are declared with the helpers (adjoint/helpers.py).
ZERO_WHEN = {
    "np.dot": ("any", 0, 1), "np.outer": ("any", 0, 1), "np.matmul": ("any", 0, 1),
    **helpers.zero_when(),
}



def zero_for(like: ast.expr | None) -> ast.expr:
    if like is None or is_number(like):
        return ast.Constant(0.0)
    if isinstance(like, (ast.Tuple, ast.List)):
        return type(like)(elts=[zero_for(e) for e in like.elts], ctx=ast.Load())
    return call("zeros_like", copy.deepcopy(like))


def sum_of(terms: list[ast.expr]) -> ast.expr:
    if not terms:
        return Zero()
    total = terms[0]
    for term in terms[1:]:
        if isinstance(term, ast.UnaryOp) and isinstance(term.op, ast.USub):
            total = ast.BinOp(left=total, op=ast.Sub(), right=term.operand)
        else:
            total = ast.BinOp(left=total, op=ast.Add(), right=term)
    return total


def replace_seed(expr: ast.expr, tangent: ast.expr) -> ast.expr:
    class Seed(ast.NodeTransformer):
        def visit_Name(self, node):
            return copy.deepcopy(tangent) if node.id == SEED else node

    return simplify(Seed().visit(copy.deepcopy(expr)))


def replace_nodes(expr: ast.expr, replacements: dict[int, ast.expr]) -> ast.expr:
    """A copy of ``expr`` with the nodes of the given ids replaced (the original, which
    resolution refers to by identity, is left as it is)."""

    def rebuild(node):
        if id(node) in replacements:
            return copy.deepcopy(replacements[id(node)])
        if isinstance(node, list):
            return [rebuild(n) for n in node]
        if not isinstance(node, ast.AST):
            return node
        new = type(node)(**{f: rebuild(getattr(node, f)) for f in node._fields
                            if hasattr(node, f)})
        return ast.copy_location(new, node)

    return rebuild(expr)


def simplify(expr: ast.expr) -> ast.expr:
    """Remove known zeros: ``0 * a``, ``a + 0``, ``-0``, ``np.dot(0, b)``, ``0[i]``, ``0.T``."""

    class Simplify(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            left, right = isinstance(node.left, Zero), isinstance(node.right, Zero)
            if isinstance(node.op, ast.Add) and (left or right):
                return node.right if left else node.left
            if isinstance(node.op, ast.Sub) and right:
                return node.left
            if isinstance(node.op, ast.Sub) and left:
                return ast.UnaryOp(op=ast.USub(), operand=node.right)
            if isinstance(node.op, (ast.Mult, ast.MatMult)) and (left or right):
                return Zero()
            if isinstance(node.op, ast.Div) and left:
                return Zero()
            return node

        def visit_UnaryOp(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.operand, Zero) else node

        def visit_Subscript(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.value, Zero) else node

        def visit_Attribute(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.value, Zero) else node

        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, Zero):  # a method of a zero: 0.reshape(...)
                return Zero()
            rule = ZERO_WHEN.get(_dotted(node.func))
            if rule:
                how, *positions = rule
                zeros = [p < len(node.args) and isinstance(node.args[p], Zero)
                         for p in positions]
                if (any(zeros) if how == "any" else all(zeros)):
                    return Zero()
            return node

    return Simplify().visit(expr)


def _dotted(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - a Zero inside cannot be printed
        return ""


