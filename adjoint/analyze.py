"""ANALYZE: which variables are active, i.e. depend on the differentiated inputs (varied)
AND reach the returned value (useful). Only active variables get adjoint code.

The analysis is by name and ignores statement order, iterating to a fixed point, so it is
conservative (a name active anywhere is active everywhere) and stays right inside loops.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from .ir import StatementTable
from .resolve import Op, assigned_names, atom_names


@dataclass(frozen=True)
class Activity:
    varied: frozenset[str]
    useful: frozenset[str]

    @property
    def active(self) -> frozenset[str]:
        return self.varied & self.useful

    def is_active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def dependencies(ops: StatementTable[Op], body: list[ast.stmt]) -> list[tuple[str, set[str]]]:
    """(target, names its adjoint flows to) for every assignment that carries a derivative."""
    edges = []
    for stmt in body:
        if stmt not in ops:
            continue
        op = ops[stmt]
        sources = {n for a in op.differentiable_atoms() for n in atom_names(a)}
        targets = [op.bound["x"].id] if op.kind == "append" else assigned_names(stmt)
        for target in targets:
            edges.append((target, sources))
    return edges


def activity(body: list[ast.stmt], ops: StatementTable[Op], wrt: list[str],
             returned: ast.expr) -> Activity:
    edges = dependencies(ops, body)
    varied = set(wrt)
    changed = True
    while changed:
        changed = False
        for target, sources in edges:
            if target not in varied and sources & varied:
                varied.add(target)
                changed = True
    useful = set(atom_names(returned))
    changed = True
    while changed:
        changed = False
        for target, sources in edges:
            if target in useful and not sources <= useful:
                useful |= sources
                changed = True
    return Activity(frozenset(varied), frozenset(useful))


SCALAR_BUILTINS = {float, int, len, round, bool}
SCALAR_IF_OPERANDS_ARE = {abs, max, min, pow}


def scalar_variables(body: list[ast.stmt], ops: StatementTable[Op], params: list[str],
                     scalar_params: frozenset[str] = frozenset()) -> frozenset[str]:
    """Variables that are Python or NumPy scalars on every path (shape ``()``), by an
    optimistic fixed point: assume every local is a scalar, then drop those with an
    assignment that may produce an array. Parameters are scalars only when the call said so
    (``scalar_params``).

    Knowing this lets the engine leave out ``unbroadcast`` (and saving the values it would
    only read for their shape) in scalar code.
    """
    assignments = assignments_by_name(body, loop_index=[])  # range() indices are ints
    scalar = (set(assignments) - set(params)) | set(scalar_params)
    return narrowed(scalar, assignments, ops, _is_scalar)


def assignments_by_name(body: list[ast.stmt], loop_index: list) -> dict[str, list]:
    """Every assignment of each variable; a for loop's index gets ``loop_index``."""
    assignments: dict[str, list] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for key in assigned_names(stmt):
                assignments.setdefault(key, []).append(stmt)
        elif isinstance(stmt, ast.For):
            assignments.setdefault(stmt.target.id, list(loop_index))
    return assignments


def narrowed(candidates: set[str], assignments: dict[str, list], ops: StatementTable[Op],
             holds) -> frozenset[str]:
    """Optimistic fixed point: drop a candidate while one of its assignments does not keep
    the property (``holds(stmt, op, candidates)``)."""
    changed = True
    while changed:
        changed = False
        for var in sorted(candidates):
            if not all(holds(s, ops.get(s), candidates) for s in assignments.get(var, [])):
                candidates.discard(var)
                changed = True
    return frozenset(candidates)


def _is_scalar(stmt: ast.Assign, op: Op | None, scalar: set[str]) -> bool:
    if not isinstance(stmt.targets[0], ast.Name):
        return False
    value = stmt.value
    names = [n.id for n in ast.walk(value) if isinstance(n, ast.Name)]
    if isinstance(value, ast.Constant):
        return type(value.value) in (int, float, bool)
    if isinstance(value, (ast.Name, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp)):
        return all(n in scalar for n in names)
    if isinstance(value, ast.Call) and op is not None:
        func = op.func
        if getattr(func, "__module__", None) == "math" or func in SCALAR_BUILTINS:
            return True
        if func in SCALAR_IF_OPERANDS_ARE or isinstance(func, np.ufunc):
            # elementwise: scalars in, scalar out (np.sin(2.0) has shape ())
            return not value.keywords and all(
                n in scalar for a in value.args for n in atom_names(a))
    return False


FLOAT_BUILTINS = {float}
NOT_FLOAT_MATH = {"floor", "ceil", "trunc", "isnan", "isinf", "isfinite", "isclose",
                  "factorial", "gcd", "comb", "perm", "isqrt"}


def float_variables(body: list[ast.stmt], ops: StatementTable[Op], scalars: frozenset[str],
                    float_params: frozenset[str]) -> frozenset[str]:
    """The scalars that are floats on every path (so they fit a preallocated float array):
    float arguments, float constants, ``math`` results, and arithmetic involving a float."""
    assignments = assignments_by_name(body, loop_index=[None])  # range() gives ints
    floats = {v for v in scalars if v in assignments or v in float_params}
    return narrowed(floats, assignments, ops, _is_float)


def _is_float(stmt: ast.Assign | None, op: Op | None, floats: set[str]) -> bool:
    if stmt is None or not isinstance(stmt.targets[0], ast.Name):
        return False
    value = stmt.value
    if isinstance(value, ast.Constant):
        return type(value.value) is float
    if isinstance(value, ast.Name):
        return value.id in floats
    if isinstance(value, ast.BinOp):
        operands = [value.left, value.right]
        return isinstance(value.op, ast.Div) or any(
            (isinstance(a, ast.Name) and a.id in floats) or
            (isinstance(a, ast.Constant) and type(a.value) is float) for a in operands)
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
        return isinstance(value.operand, ast.Name) and value.operand.id in floats
    if isinstance(value, ast.Call) and op is not None:
        func = op.func
        if func in FLOAT_BUILTINS:
            return True
        return (getattr(func, "__module__", None) == "math"
                and getattr(func, "__name__", "") not in NOT_FLOAT_MATH)
    return False
