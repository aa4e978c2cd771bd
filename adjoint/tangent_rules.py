"""FORWARD MODE, one rule: the tangent of an operation from its rule (rules/tangents.py).

Elementwise rules are the reverse rules read forwards (the upstream adjoint replaced by
the operand's tangent); linear and multilinear operations apply themselves to tangents;
anything else has a ``t[y] = ...`` template of its own.
"""
from __future__ import annotations

import ast
import copy

from .errors import MissingRuleError
from .ir import (
    assign,
    call,
    name,
)
from .resolve import Op, atom_names
from .rules import tangents
from .tangent_algebra import SEED, Zero, replace_nodes, replace_seed, simplify, sum_of, zero_for
from .template import fold, instantiate, is_number


class TangentRules:
    """Part of the ForwardBuilder (forward.py): tangents of operations and of atoms."""

    def rule_tangent(self, stmt: ast.Assign, op: Op) -> tuple[list[ast.stmt], ast.expr]:
        spec = self.spec_of(op, stmt)
        for param, why in getattr(spec, "refused", {}).items():
            atom = op.bound.get(param)
            if atom is not None and any(self.is_active(n) for n in atom_names(atom)):
                from .jit_errors import origin_line  # noqa: I001 - jit imports the builders

                # in generated adjoint code (hvp), the user's line it came from
                where = origin_line(self.src, self.src.where(stmt.value))
                raise MissingRuleError(f"{why} are not supported", where,
                                       "use jvp/grad, or a Hessian by finite differences")
        if isinstance(spec, tangents.Elementwise):
            return [], self.elementwise_tangent(stmt, op)
        if isinstance(spec, tangents.Linear):
            return [], self.linear_tangent(stmt, op, spec.params)
        if isinstance(spec, tangents.Multilinear):
            return [], self.multilinear_tangent(stmt, op, spec.params)
        return self.template_tangent(op, spec)

    def spec_of(self, op: Op, stmt: ast.Assign) -> tangents.Spec:
        if op.kind == "tangent_rule":
            return op.rule.template
        spec = tangents.HELPERS.get(op.func) if op.kind == "helper" else tangents.lookup(
            op.rule.key)
        if spec is None:
            raise MissingRuleError(
                f"no forward-mode (tangent) rule for {op.label}", self.src.where(stmt.value),
                f"register one with @adjoint.register_tangent({op.label})")
        return spec

    def elementwise_tangent(self, stmt: ast.Assign, op: Op) -> ast.expr:
        """The reverse rule read forwards: each ``d[x] += unbroadcast(d[z] * g, x)`` gives
        the term ``t[x] * g``."""
        template = op.rule.template
        inst = instantiate(template, op.bound, name(SEED), self.namer.temp, self.is_scalar)
        terms = []
        for c in inst.contributions:
            t = self.tangent_atom(c.target)
            if isinstance(t, Zero):
                continue
            value = c.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
                    value.func.id == "unbroadcast":
                value = value.args[0]
            terms.append(replace_seed(value, t))
        expr = simplify(sum_of(terms))
        operands = [op.bound[p] for p in template.targets if p in op.bound]
        # a constant operand absent from every term may have widened the result
        present = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        partial = any(not is_number(a) and isinstance(self.tangent_atom(a), Zero)
                      and not set(atom_names(a)) <= present for a in operands)
        if partial and not all(is_number(a) or self.is_scalar(a) for a in operands) \
                and not isinstance(expr, Zero):
            expr = call("broadcast_tangent", expr, copy.deepcopy(stmt.targets[0]))
        return expr

    def linear_tangent(self, stmt: ast.Assign, op: Op, params: tuple[str, ...]) -> ast.expr:
        """The operation applied to the tangents of the parameters it is linear in."""
        present = [p for p in params if p in op.bound]
        dots = {p: self.tangent_atom(op.bound[p]) for p in present}
        if all(isinstance(d, Zero) for d in dots.values()):
            return Zero()
        return replace_nodes(stmt.value, {id(op.bound[p]): self.materialize(d, op.bound[p])
                                          for p, d in dots.items()})

    def multilinear_tangent(self, stmt: ast.Assign, op: Op,
                            params: tuple[str, ...]) -> ast.expr:
        """The sum over the parameters of the operation with that one replaced."""
        terms = []
        for p in params:
            if p not in op.bound:
                continue
            d = self.tangent_atom(op.bound[p])
            if not isinstance(d, Zero):
                terms.append(replace_nodes(stmt.value, {id(op.bound[p]): d}))
        return sum_of(terms)

    def template_tangent(self, op: Op, template: tangents.TangentTemplate
                         ) -> tuple[list[ast.stmt], ast.expr]:
        renamed = {s.targets[0].id: self.namer.temp() for s in template.locals}

        class Fill(ast.NodeTransformer):
            def visit_Subscript(inner, node):  # noqa: N805 - closes over the builder
                if tangents.is_tangent_ref(node):
                    atom = op.bound.get(node.slice.id)
                    return self.tangent_atom(atom) if atom is not None else Zero()
                return inner.generic_visit(node)

            def visit_Name(inner, node):  # noqa: N805
                if node.id in op.bound:
                    return copy.deepcopy(op.bound[node.id])
                if node.id in renamed:
                    return name(renamed[node.id])
                return node

        local_code = [assign(renamed[s.targets[0].id], fold(Fill().visit(copy.deepcopy(s.value))))
                      for s in template.locals]
        return local_code, simplify(fold(Fill().visit(copy.deepcopy(template.value))))

    # -- tangents of atoms -------------------------------------------------------------------
    def tangent_atom(self, atom: ast.expr) -> ast.expr:
        """``x_dot`` for an active name, Zero for constants and values the inputs do not
        reach, element by element for tuples and lists."""
        if isinstance(atom, ast.Name):
            return name(self.tangent(atom.id)) if self.is_active(atom.id) else Zero(atom)
        if isinstance(atom, (ast.Tuple, ast.List)):
            elts = [self.tangent_atom(e) for e in atom.elts]
            if all(isinstance(e, Zero) for e in elts):
                return Zero(atom)
            elts = [self.materialize(t, e) for t, e in zip(elts, atom.elts)]
            return type(atom)(elts=elts, ctx=ast.Load())
        return Zero(atom)

    def materialize(self, expr: ast.expr, like: ast.expr | None) -> ast.expr:
        """Write out the zeros that simplification could not remove."""
        if isinstance(expr, Zero):
            return zero_for(expr.like if expr.like is not None else like)

        class Fill(ast.NodeTransformer):
            def visit_Zero(inner, node):  # noqa: N805
                return zero_for(node.like)

        return Fill().visit(expr)


