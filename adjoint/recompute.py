"""Values the backward sweep computes again instead of saving them.

Inside a loop, ``t = x[i - 1]`` read by the backward sweep would go on a stack each
iteration. When everything it reads has the same value at the start of the backward
iteration as it had in the forward one (the loop's own index, an array the function never
writes, values bound once before any loop, values already restored for this iteration),
re-running the statement there gives the same value for the cost of the arithmetic: no
stack, no copy. Only simple expressions qualify: names, constants, arithmetic, indexing
and a few attributes; of calls, only the shape arithmetic ``np.shape`` and
``broadcast_shape`` (shapes.py records shapes with them); never another call (it may be
costly or draw random numbers).
"""
from __future__ import annotations

import ast

from .ir import is_element_write, is_loop, statements
from .prepare import Prepared
from .resolve import assigned_names

SIMPLE = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Slice,
          ast.Tuple, ast.Attribute, ast.operator, ast.unaryop, ast.expr_context)
ATTRIBUTES = {"shape", "ndim", "size", "T"}
SHAPE_CALLS = {"np.shape", "broadcast_shape"}


class Recomputation:
    """Which statements of a loop body may be run again at the top of a backward iteration."""

    def __init__(self, p: Prepared) -> None:
        self.p = p
        self.bindings: dict[str, int] = {}
        self.in_loops: set[str] = set()
        for stmt in statements(p.body):
            names = [stmt.target.id] if isinstance(stmt, ast.For) else (
                assigned_names(stmt) if isinstance(stmt, ast.Assign) else [])
            for var in names:
                self.bindings[var] = self.bindings.get(var, 0) + 1
            if is_loop(stmt):
                self.in_loops |= {v for s in statements(stmt.body) if isinstance(s, ast.Assign)
                                  for v in assigned_names(s)}

    def fixed(self, var: str) -> bool:
        """Bound at most once, outside loops, and never written in place: the same value
        for the whole backward sweep."""
        if self.bindings.get(var, 0) > 1 or var in self.in_loops:
            return False
        if var not in self.p.params and var not in self.bindings:
            return False  # a global or builtin: could be rebound between the sweeps
        return self.unwritten(var)

    def possible(self, stmt: ast.stmt, loop: ast.stmt, ready: set[str]) -> bool:
        """Can ``stmt``, bound once per iteration of ``loop``, be run again at the top of
        the backward iteration, given the variables already ``ready`` there?"""
        if not isinstance(stmt, ast.Assign) or is_element_write(stmt):
            return False
        if not isinstance(stmt.targets[0], ast.Name):
            return False
        index = self.counter(loop)
        # only in the shape records shapes.py adds: a user's function may share the name
        shape_calls = [node for node in ast.walk(stmt.value) if isinstance(node, ast.Call)
                       and getattr(stmt, "shape_record", False) and not node.keywords
                       and ast.unparse(node.func) in SHAPE_CALLS]
        # the function itself (np.shape) is not a variable the statement reads
        skip = {id(part) for c in shape_calls for part in ast.walk(c.func)}
        skip |= {id(c) for c in shape_calls}
        for node in ast.walk(stmt.value):
            if id(node) in skip:
                continue
            if not isinstance(node, SIMPLE):
                return False
            if isinstance(node, ast.Attribute) and node.attr not in ATTRIBUTES:
                return False
            if isinstance(node, ast.Name) and not (
                    node.id == index or node.id in ready and self.unwritten(node.id)
                    or self.fixed(node.id)):
                return False
        return True

    def counter(self, loop: ast.stmt) -> str | None:
        """The loop's own index, which the backward iteration binds to the forward
        iteration's value; None when the body rebinds it (its value there is not the
        counter's). Other loops may use the same name (``for i`` twice): each binds it."""
        if not isinstance(loop, ast.For):
            return None
        index = loop.target.id
        for stmt in statements(loop.body):
            names = [stmt.target.id] if isinstance(stmt, ast.For) else (
                assigned_names(stmt) if isinstance(stmt, ast.Assign) else [])
            if index in names:
                return None
        return index

    def unwritten(self, var: str) -> bool:
        """Shares no memory with an array written in place: a restored view of such an
        array (``t = m.T``) would show its contents as they are now, not as they were."""
        return not (self.p.sharing({var}) & self.p.mutated_in_place)
