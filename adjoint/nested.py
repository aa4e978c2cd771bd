"""Calls of ``grad``, ``value_and_grad``, ``jvp``, ``vjp``, ``hvp``, ``jacobian`` or
``hessian`` inside a differentiated function (nested differentiation): refused at their
line, with what to do instead.

Differentiating through them means differentiating the generated derivative code itself in
reverse mode. That code calls the runtime helpers (``unbroadcast``, ``unreduce``,
``matmul_adjoint_b``, the save lists' ``append``/``pop``...), which have tangent rules (so
``hvp`` runs forward over reverse) but no adjoint rules yet.
"""
from __future__ import annotations

import ast
from collections.abc import Callable

from .errors import Location, UnsupportedSyntaxError

TRANSFORMS = ("grad", "value_and_grad", "jvp", "vjp", "hvp", "jacobian", "hessian")


class NestedDifferentiationError(UnsupportedSyntaxError):
    """A transform called inside a function being differentiated."""


def _is_transform_object(value) -> bool:
    from .api import GradientFunction
    from .transforms import _Transform

    return isinstance(value, (GradientFunction, _Transform))


def _is_transform_function(value) -> bool:
    import adjoint

    return any(value is getattr(adjoint, name) for name in TRANSFORMS)


def _resolves(node: ast.expr, lookup: Callable[[str], object] | None, test) -> bool:
    """Whether a name or dotted name (``adjoint.grad``) refers to something ``test`` accepts."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or lookup is None:
        return False
    try:
        value = lookup(node.id)
        for part in reversed(parts):
            value = getattr(value, part)
    except (KeyError, AttributeError):
        return False
    return test(value)


def refuse_nested_transforms(fn: ast.FunctionDef, where: Callable[[ast.AST], Location] | None,
                             lookup: Callable[[str], object] | None) -> None:
    local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and
             isinstance(n.ctx, ast.Store)}
    local |= {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        inline = isinstance(func, ast.Call) and _resolves(func.func, lookup,
                                                           _is_transform_function)
        named = (not isinstance(func, ast.Call) and not (
            isinstance(func, ast.Name) and func.id in local)
            and _resolves(func, lookup, _is_transform_object))
        if inline or named:
            raise NestedDifferentiationError(
                f"a derivative taken inside a function being differentiated "
                f"({ast.unparse(node)[:60]}) is not supported yet: differentiating the "
                "generated derivative code needs adjoint rules for its runtime helpers",
                where(node) if where else None,
                "for second derivatives use adjoint.hvp or adjoint.hessian on the outer "
                "function; otherwise write the inner derivative as a formula, or compute it "
                "outside and pass it in as an argument")
