"""The statements the transforms work on, and small helpers to build and read them.

After normalization (normalize.py) a function body is a list of simple statements, one
operation each, plus ``if``/``for``/``while`` blocks. Facts about a statement (its resolved
operation) live in a ``StatementTable`` keyed by the statement itself, never in attributes
patched onto nodes that a later rewrite might drop.
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from typing import Generic, TypeVar

from . import helpers
from .resolve import assigned_names
from .template import fold

T = TypeVar("T")

# forward-only calls: printing, and the checks that refuse in-place writes to shared memory
GUARDS = ("print", *helpers.guards())  # the helpers declared guard=True (adjoint/helpers.py)


class StatementTable(Generic[T]):
    """A fact per statement. Keyed by identity; the table holds the statement too, so a
    statement a rewrite replaced cannot be freed and its id reused by a new one."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[ast.stmt, T]] = {}

    def __setitem__(self, stmt: ast.stmt, fact: T) -> None:
        self._rows[id(stmt)] = (stmt, fact)

    def __getitem__(self, stmt: ast.stmt) -> T:
        return self._rows[id(stmt)][1]

    def __contains__(self, stmt: ast.stmt) -> bool:
        return id(stmt) in self._rows

    def get(self, stmt: ast.stmt, default: T | None = None) -> T | None:
        row = self._rows.get(id(stmt))
        return default if row is None else row[1]

    def setdefault(self, stmt: ast.stmt, default: T) -> T:
        if id(stmt) not in self._rows:
            self[stmt] = default
        return self[stmt]


def comment(text: str) -> ast.stmt:
    """A statement that the emitter prints as ``# text``."""
    node = ast.Expr(value=ast.Constant(value=None))
    node.comment = text
    return node


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def assign(target: str | ast.expr, value: ast.expr) -> ast.Assign:
    if isinstance(target, str):
        target = name(target, store=True)
    return ast.Assign(targets=[target], value=value)


def call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=name(func) if "." not in func else ast.parse(func, mode="eval").body,
                    args=list(args), keywords=[])


def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, nested ones included, in program order."""
    for stmt in body:
        yield stmt
        for field_name in ("body", "orelse"):
            yield from statements(getattr(stmt, field_name, None) or [])


def assigned_name(stmt: ast.stmt) -> str | None:
    """The variable an assignment changes: ``x`` for ``x = ...`` and for ``x[i] = ...``."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):
            return target.value.id
        if isinstance(target, ast.Name):
            return target.id
    if isinstance(stmt, ast.For):
        return stmt.target.id
    return None


def is_element_write(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)


def is_loop(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.For, ast.While))



def loop_spans(body: list[ast.stmt]) -> list[tuple[int, int]]:
    """(first, last) positions, in program order, of each loop and everything inside it."""
    spans, position = [], 0

    def walk(stmts):
        nonlocal position
        for stmt in stmts:
            start = position
            position += 1
            for field_name in ("body", "orelse"):
                walk(getattr(stmt, field_name, None) or [])
            if is_loop(stmt):
                spans.append((start, position - 1))

    walk(body)
    return spans



FRESH_HELPERS = helpers.fresh()  # the helpers declared fresh=True (adjoint/helpers.py)


def is_fresh(value: ast.expr) -> bool:
    """Does the expression make a new object (not hand back one it was given)?"""
    if isinstance(value, (ast.BinOp, ast.UnaryOp)):
        return True
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id in FRESH_HELPERS)


def is_float_atom(atom: ast.expr, floats: frozenset[str]) -> bool:
    return (isinstance(atom, ast.Constant) and type(atom.value) is float) or (
        isinstance(atom, ast.Name) and atom.id in floats)


def list_variables(body: list[ast.stmt]) -> frozenset[str]:
    """Variables bound to a list literal (``hs = []``) or appended to."""
    found = {s.appends_to for s in statements(body) if hasattr(s, "appends_to")}
    for s in statements(body):
        if isinstance(s, ast.Assign) and isinstance(s.value, ast.List):
            found.update(assigned_names(s))
    return frozenset(found)


def is_list(atom: ast.expr, lists: frozenset[str]) -> bool:
    return isinstance(atom, ast.Name) and atom.id in lists


def is_view_index(bound: dict[str, ast.expr]) -> bool:
    """Basic slicing (a slice, None or ...) makes a view; integer indices may not."""
    return any(isinstance(n, ast.Slice) or (isinstance(n, ast.Constant) and n.value in (
        None, Ellipsis)) for n in ast.walk(bound.get("index", ast.Constant(0))))


def assigned_in(body: list[ast.stmt]) -> set[str]:
    return {n for s in statements(body) for n in assigned_names(s)}


def index_expression(index: ast.expr) -> ast.expr:
    """An index as a value: ``1:3`` becomes ``slice(1, 3, None)``."""
    if isinstance(index, ast.Slice):
        parts = [copy.deepcopy(p) if p is not None else ast.Constant(None)
                 for p in (index.lower, index.upper, index.step)]
        return call("slice", *parts)
    if isinstance(index, ast.Tuple):
        return ast.Tuple(elts=[index_expression(e) for e in index.elts], ctx=ast.Load())
    return copy.deepcopy(index)


def negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return copy.deepcopy(test.operand)
    return ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(test))


def _is(node: ast.expr, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value and type(node.value) is int


def plus(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(a, 0):
        return b
    return fold(ast.BinOp(left=a, op=ast.Add(), right=b))


def minus(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(b, 0):
        return a
    return fold(ast.BinOp(left=a, op=ast.Sub(), right=b))


def times(a: ast.expr, b: ast.expr) -> ast.expr:
    return fold(ast.BinOp(left=a, op=ast.Mult(), right=b))


def negative(a: ast.expr) -> ast.expr:
    return fold(ast.UnaryOp(op=ast.USub(), operand=a))


def primal_reads(stmts: list[ast.stmt], primal_names: set[str]) -> set[str]:
    """Primal variables that backward statements read."""
    return {n.id for s in stmts for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in primal_names}


def drop_unused(local_assigns: list[ast.Assign], code: list[ast.stmt]) -> list[ast.stmt]:
    """Keep a rule's local assignments only if the emitted contributions use them."""
    used = {n.id for s in code for n in ast.walk(s) if isinstance(n, ast.Name)}
    kept = []
    for stmt in reversed(local_assigns):
        if stmt.targets[0].id in used:
            kept.insert(0, stmt)
            used |= {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
    return kept + code


def popped_list(value: ast.expr) -> str | None:
    """``hs`` for the call ``hs.pop()``."""
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "pop" and isinstance(value.func.value, ast.Name)
            and not value.args and not value.keywords):
        return value.func.value.id
    return None
