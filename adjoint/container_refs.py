"""What a name or an expression stands for while containers are rewritten (containers.py):
a leaf in a variable, a constant, or a container whose structure is known.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from .errors import UnsupportedSyntaxError
from .trees import Leaf, Node, Tree


class ContainerError(UnsupportedSyntaxError):
    """A container (dict, list, tuple, NamedTuple, dataclass) is used in a way whose
    structure cannot be followed when the function is built."""


# -- what a name or an expression stands for ---------------------------------------------
@dataclass
class Var:
    """A leaf held in a variable."""

    name: str


@dataclass
class Const:
    """A constant: a dict key, an index of ``enumerate``."""

    value: Any


@dataclass
class Struct:
    """A container whose structure is known: its children are Var, Const or Struct."""

    kind: type
    keys: tuple
    children: tuple
    by_attribute: bool = False
    from_argument: bool = True  # an argument's (never left as it is) or built inside
    origin: str | None = None  # built inside: the name bound to the display holding it

    def child(self, key):
        for k, c in zip(self.keys, self.children):
            if k == key and type(k) is type(key):
                return c
        return None


Ref = Var | Const | Struct
DISPLAYS = (ast.Tuple, ast.List, ast.Dict)
COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)


class Untrackable(Exception):
    """A container built inside is used in a way this pass cannot follow: it is left as it
    is (the normalizer handles tuples and lists) and the pass starts again without it."""

    def __init__(self, name: str, node: ast.AST):
        self.name, self.node = name, node


NOT_CONSTANT = object()


def flat_vars(ref: Ref) -> list[Var]:
    if isinstance(ref, Struct):
        return [v for c in ref.children for v in flat_vars(c)]
    return [ref] if isinstance(ref, Var) else []


def as_tree(ref: Ref) -> Tree | None:
    """The structure of a container passed on: its leaves are variables (never constants)."""
    if isinstance(ref, Var):
        return Leaf(True)
    if not isinstance(ref, Struct):
        return None
    children = [as_tree(c) for c in ref.children]
    if any(c is None for c in children):
        return None
    return Node(ref.kind, ref.keys, tuple(children), ref.by_attribute)


def jumps_out(body: list[ast.stmt]) -> bool:
    """break or continue belonging to the loop whose body this is."""
    def walk(node: ast.AST) -> bool:
        if isinstance(node, (ast.Break, ast.Continue)):
            return True
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
            return False
        return any(walk(c) for c in ast.iter_child_nodes(node))
    return any(walk(s) for s in body)


def builds_containers(fn: ast.FunctionDef) -> bool:
    """Whether a name is bound to a display or a dict comprehension (the rest of the pass
    only follows containers from there or from the arguments)."""
    return any(isinstance(node, ast.Assign) and isinstance(node.value, (
        *DISPLAYS, ast.DictComp, ast.ListComp, ast.Call)) for node in ast.walk(fn))


def store_counts(fn: ast.FunctionDef) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
    for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        counts[a.arg] = counts.get(a.arg, 0) + 1
    return counts


def structure_key(structures: dict[str, Node]) -> tuple:
    return tuple(sorted(structures.items()))

