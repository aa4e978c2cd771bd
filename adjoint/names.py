"""Deterministic fresh names that never clash with the user's names.

>>> n = Namer({"x", "dx", "t1"})
>>> n.temp(), n.temp()
('t2', 't3')
>>> n.adjoint("x"), n.adjoint("y"), n.adjoint("x")
('d_x', 'dy', 'd_x')
"""
from __future__ import annotations

import ast
from collections.abc import Iterable


class Namer:
    """Hands out names in a fixed order, so the same function always gives the same code."""

    def __init__(self, taken: Iterable[str] = ()):
        self._taken: set[str] = set(taken)
        self._adjoints: dict[str, str] = {}
        self._counter = 0
        self._temporaries: list[str] = []

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def is_taken(self, name: str) -> bool:
        return name in self._taken

    def fresh(self, *candidates: str) -> str:
        """The first free candidate, else the first candidate with a number appended."""
        for name in candidates:
            if name not in self._taken:
                self._taken.add(name)
                return name
        base, i = candidates[0], 2
        while f"{base}{i}" in self._taken:
            i += 1
        self._taken.add(f"{base}{i}")
        return f"{base}{i}"

    def temp(self) -> str:
        """t1, t2, ... skipping any the user already uses."""
        while True:
            self._counter += 1
            name = f"t{self._counter}"
            if name not in self._taken:
                self._taken.add(name)
                self._temporaries.append(name)
                return name

    def temporaries(self) -> list[str]:
        return list(self._temporaries)

    def is_temporary(self, name: str) -> bool:
        return name.startswith("t") and name in self._temporaries

    def adjoint_if_any(self, var: str) -> str | None:
        return self._adjoints.get(var)

    def adjoint(self, var: str) -> str:
        """The adjoint's name for a variable: dx for x, unless the user has a dx of their own."""
        if var not in self._adjoints:
            self._adjoints[var] = self.fresh(f"d{var}", f"d_{var}", f"d{var}_")
        return self._adjoints[var]

    def adjoint_names(self) -> set[str]:
        return set(self._adjoints.values())


def names_in(tree: ast.AST) -> set[str]:
    """Every identifier a tree mentions: variables, parameters, attribute bases."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)) and hasattr(node, "name"):
            found.add(node.name)
    return found
