"""CONTAINERS, loops: iterating over a container of known length (``items``, ``keys``,
``values``, ``enumerate``, ``zip``) unrolls the loop or the comprehension.
"""
from __future__ import annotations

import ast
import copy

from .container_refs import COMPREHENSIONS, Const, Ref, Struct, Var, jumps_out


class Unrolling:
    """Part of the container rewriter (containers.py): loops and comprehensions."""

    def iteration(self, node: ast.expr, names_ok: bool = False) -> list[Ref] | None:
        """What ``for t in node`` runs through, when ``node`` is a known container (or
        ``enumerate``/``zip`` of them, ``.items()``, ``.keys()``, ``.values()``). With
        ``names_ok`` (a comprehension, which cannot rebind them) also a display of names:
        ``sum(v * v for v in (a, b))``."""
        if isinstance(node, ast.Call) and not node.keywords:
            if self.is_builtin(node.func, "enumerate") and len(node.args) == 1:
                inner = self.iteration(node.args[0], names_ok)
                return None if inner is None else [
                    Struct(tuple, (0, 1), (Const(i), r))
                    for i, r in enumerate(inner)]
            if self.is_builtin(node.func, "zip") and node.args:
                parts = [self.iteration(a, names_ok) for a in node.args]
                if any(p is None for p in parts):
                    return None
                return [Struct(tuple, tuple(range(len(row))), tuple(row))
                        for row in zip(*parts)]
            if isinstance(node.func, ast.Attribute) and not node.args and \
                    node.func.attr in ("items", "keys", "values"):
                ref = self.resolve(node.func.value)
                if isinstance(ref, Struct) and ref.kind is not None and issubclass(
                        ref.kind, dict):
                    if node.func.attr == "keys":
                        return [Const(k) for k in ref.keys]
                    if node.func.attr == "values":
                        return list(ref.children)
                    return [Struct(tuple, (0, 1), (Const(k), c))
                            for k, c in zip(ref.keys, ref.children)]
            return None
        if isinstance(node, (ast.Tuple, ast.List)):  # (params["W1"], params["W2"])
            refs = [self.resolve(e) or (Var(e.id) if isinstance(e, ast.Name) and names_ok
                                        else None) for e in node.elts]
            return refs if refs and all(r is not None for r in refs) else None
        ref = self.resolve(node)
        if not isinstance(ref, Struct):
            return None
        if issubclass(ref.kind, dict):
            return [Const(k) for k in ref.keys]
        if ref.by_attribute and not issubclass(ref.kind, tuple):
            raise self.error(node, f"iterating over a {ref.kind.__name__}",
                             "read its fields by name")
        return list(ref.children)

    def unroll(self, stmt: ast.For, items: list[Ref]) -> list[ast.stmt]:
        """``for W, b in layers:`` over a container: one copy of the body per entry."""
        if stmt.orelse or jumps_out(stmt.body):
            raise self.error(stmt, "break, continue or else in a loop over a container "
                             "(which is unrolled)", "use an if around the body instead")
        targets = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
        stored = {n.id for s in stmt.body for n in ast.walk(s)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        alias = not (targets & stored) and not (targets & self.loaded_after(stmt))
        out: list[ast.stmt] = []
        for ref in items:
            stmt.unrolled = True
            out += self.bind(copy.deepcopy(stmt.target), ref, stmt, alias)
            out += self.block(copy.deepcopy(stmt.body))
        return out

    def loaded_after(self, stmt: ast.stmt) -> set[str]:
        """Names read outside the loop's body: a target read there must be assigned."""
        inside = {id(n) for s in stmt.body for n in ast.walk(s)} | {
            id(n) for n in ast.walk(stmt.target)}
        return {n.id for n in ast.walk(self.fn) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load) and id(n) not in inside}

    def unrollable(self, node: ast.expr) -> bool:
        return (isinstance(node, COMPREHENSIONS) and len(node.generators) == 1
                and not node.generators[0].ifs and not node.generators[0].is_async
                and self.iteration(node.generators[0].iter, names_ok=True) is not None)

    def unroll_comprehension(self, node: ast.expr) -> ast.expr:
        """``[f(w) for w in params]`` over a container: the display ``[f(params_0), ...]``
        (its elements read the entries in place of the loop variable)."""
        gen = node.generators[0]
        saved = dict(self.env)
        elts, keys = [], []
        for ref in self.iteration(gen.iter, names_ok=True):
            self.bind(copy.deepcopy(gen.target), ref, gen.target, alias=True)
            if isinstance(node, ast.DictComp):
                keys.append(self.expr(copy.deepcopy(node.key)))
                elts.append(self.expr_or_struct(copy.deepcopy(node.value)))
            else:
                elts.append(self.expr_or_struct(copy.deepcopy(node.elt)))
            self.env = dict(saved)
        if isinstance(node, ast.DictComp):
            return ast.copy_location(ast.Dict(keys=keys, values=elts), node)
        if isinstance(node, ast.SetComp):
            raise self.error(node, "a set comprehension", "build a list or a tuple instead")
        return ast.copy_location(ast.List(elts=elts, ctx=ast.Load()), node)

