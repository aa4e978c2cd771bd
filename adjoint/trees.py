"""Containers of arguments: their structure, flattened to leaves and built back.

A container is a dict, list, tuple, NamedTuple, dataclass instance, or a type registered
with ``register_container``; anything else is a leaf. Float scalars and float arrays are
the leaves gradients flow to; the other leaves (ints, strings, None, int arrays) are
carried along and never differentiated.

>>> leaves, tree = tree_flatten({"W": 1.0, "layers": [2.0, 3]})
>>> leaves
[1.0, 2.0, 3]
>>> tree.paths()
[('W',), ('layers', 0), ('layers', 1)]
>>> tree_unflatten(tree, [10.0, 20.0, 3])
{'W': 10.0, 'layers': [20.0, 3]}
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

# user types: type -> (flatten(obj) -> (children, aux), unflatten(aux, children) -> obj,
# field names or None)
_REGISTERED: dict[type, tuple[Callable, Callable, tuple[str, ...] | None]] = {}


def register_container(cls: type, flatten: Callable[[Any], tuple[list, Hashable]],
                       unflatten: Callable[[Hashable, list], Any],
                       fields: tuple[str, ...] | None = None) -> None:
    """Make instances of ``cls`` containers: ``flatten(obj)`` returns ``(children, aux)``
    (``aux``, hashable, is whatever else ``unflatten`` needs) and ``unflatten(aux, children)``
    builds the object back. ``fields`` names the children when they are attributes, so the
    function may read ``obj.field``; without it the children are read as ``obj[i]``."""
    if not isinstance(cls, type):
        raise TypeError(f"register_container takes a type, got {cls!r}")
    _REGISTERED[cls] = (flatten, unflatten, tuple(fields) if fields is not None else None)


def is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def is_container(value: Any) -> bool:
    return (type(value) in _REGISTERED or isinstance(value, (dict, list, tuple))
            or (dataclasses.is_dataclass(value) and not isinstance(value, type)))


@dataclass(frozen=True)
class Leaf:
    """A leaf: ``differentiable`` for float scalars and float arrays."""

    differentiable: bool

    def count(self) -> int:
        return 1

    def paths(self) -> list[tuple]:
        return [()]

    def describe(self) -> str:
        return "leaf" if self.differentiable else "carried"


@dataclass(frozen=True)
class Node:
    """A container: its type, how its children are reached (``keys``: dict keys, indices,
    or attribute names when ``by_attribute``), its children, and ``aux`` for registered
    types. Hashable, so it can be part of a cache key."""

    kind: type
    keys: tuple
    children: tuple
    by_attribute: bool = False
    aux: Hashable = None

    def count(self) -> int:
        return sum(c.count() for c in self.children)

    def paths(self) -> list[tuple]:
        return [(k, *p) for k, c in zip(self.keys, self.children) for p in c.paths()]

    def child(self, key) -> Leaf | Node | None:
        for k, c in zip(self.keys, self.children):
            if k == key and type(k) is type(key):
                return c
        return None

    def describe(self) -> str:
        return self.kind.__name__


Tree = Leaf | Node


def is_float_leaf(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _parts(value: Any) -> tuple[type, tuple, list, bool, Hashable]:
    """(kind, keys, children, by_attribute, aux) of a container."""
    kind = type(value)
    if kind in _REGISTERED:
        flatten, _, fields = _REGISTERED[kind]
        children, aux = flatten(value)
        children = list(children)
        keys = fields if fields is not None else tuple(range(len(children)))
        return kind, tuple(keys), children, fields is not None, aux
    if isinstance(value, dict):
        return kind, tuple(value), list(value.values()), False, None
    if is_namedtuple(value):
        return kind, tuple(kind._fields), list(value), True, None
    if isinstance(value, (list, tuple)):
        return kind, tuple(range(len(value))), list(value), False, None
    names = tuple(f.name for f in dataclasses.fields(value))
    return kind, names, [getattr(value, n) for n in names], True, None


def tree_flatten(value: Any) -> tuple[list, Tree]:
    """The leaves of ``value`` in a fixed order (dicts: in their order of insertion) and its
    structure."""
    leaves: list = []
    return leaves, _flatten(value, leaves)


def _flatten(value: Any, leaves: list) -> Tree:
    if not is_container(value):
        leaves.append(value)
        return Leaf(is_float_leaf(value))
    kind, keys, children, by_attribute, aux = _parts(value)
    return Node(kind, keys, tuple(_flatten(c, leaves) for c in children), by_attribute, aux)


def tree_unflatten(tree: Tree, leaves: list) -> Any:
    """The container of structure ``tree`` holding ``leaves`` (in ``tree_flatten``'s order)."""
    it = iter(leaves)
    value = _unflatten(tree, it)
    if next(it, _END) is not _END:
        raise ValueError(f"tree_unflatten: more leaves than the {tree.count()} expected")
    return value


_END = object()


def _unflatten(tree: Tree, it) -> Any:
    if isinstance(tree, Leaf):
        value = next(it, _END)
        if value is _END:
            raise ValueError("tree_unflatten: fewer leaves than the structure holds")
        return value
    children = [_unflatten(c, it) for c in tree.children]
    kind = tree.kind
    if kind in _REGISTERED:
        return _REGISTERED[kind][1](tree.aux, children)
    if issubclass(kind, dict):
        return kind(zip(tree.keys, children))
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return kind(*children)
    if issubclass(kind, (list, tuple)):
        return kind(children)
    return kind(**dict(zip(tree.keys, children)))  # a dataclass
