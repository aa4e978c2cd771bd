"""ANALYZE: which variables are active, i.e. depend on the differentiated inputs (varied)
AND reach the returned value (useful). Only active variables get adjoint code.

The analysis is by name and ignores statement order, iterating to a fixed point, so it is
conservative (a name active anywhere is active everywhere) and stays right inside loops.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from .resolve import Op, atom_names


@dataclass(frozen=True)
class Activity:
    varied: frozenset[str]
    useful: frozenset[str]

    @property
    def active(self) -> frozenset[str]:
        return self.varied & self.useful

    def is_active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def dependencies(ops: dict[int, Op], body: list[ast.stmt]) -> list[tuple[str, set[str]]]:
    """(target, names its adjoint flows to) for every assignment that carries a derivative."""
    edges = []
    for stmt in body:
        if isinstance(stmt, ast.Assign) and id(stmt) in ops:
            sources = {n for a in ops[id(stmt)].differentiable_atoms() for n in atom_names(a)}
            edges.append((stmt.targets[0].id, sources))
    return edges


def activity(body: list[ast.stmt], ops: dict[int, Op], wrt: list[str],
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
