"""Small clean-up passes over a generated function, each independent of the others."""
from __future__ import annotations

import ast
import inspect

from . import runtime
from .names import Namer


def renumber_temporaries(fn: ast.FunctionDef, namer: Namer) -> ast.FunctionDef:
    """Number temporaries t1, t2, ... in the order a reader meets them, top to bottom.

    Temporaries come from several passes (normalization, splitting ``x = x * 2``, rule
    locals), so their creation order is not reading order. The renaming permutes the set
    of temporary names, and the adjoint of each temporary follows its temporary.
    """
    temps = set(namer.temporaries())
    adjoint_to_temp = {namer.adjoint_if_any(t): t for t in temps if namer.adjoint_if_any(t)}
    first: dict[str, int] = {}  # temporary -> index of the first statement that mentions it
    for i, stmt in enumerate(walk_statements(fn.body)):
        for node in own_nodes(stmt):
            if isinstance(node, ast.Name):
                t = node.id if node.id in temps else adjoint_to_temp.get(node.id)
                if t is not None and t not in first:
                    first[t] = i
    order = sorted(first, key=lambda t: (first[t], int(t[1:])))
    mapping = dict(zip(order, sorted(order, key=lambda t: int(t[1:]))))
    renamed = {old: new for old, new in mapping.items()}
    for old, new in mapping.items():
        old_adj = namer.adjoint_if_any(old)
        if old_adj:
            renamed[old_adj] = namer.adjoint(new)
    seen: set[int] = set()  # a node shared by two statements is renamed once
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and id(node) not in seen:
            seen.add(id(node))
            node.id = renamed.get(node.id) or derived_name(node.id, mapping)
    return fn


def derived_name(name: str, mapping: dict[str, str]) -> str:
    """``t3_stack`` (and the tangent ``t3_dot``) follow their temporary ``t3`` when it is
    renumbered."""
    base, sep, rest = name.partition("_")
    if sep and base in mapping and rest.rstrip("0123456789") in ("stack", "saved", "dot",
                                                                 "snapshots"):
        return f"{mapping[base]}_{rest}"
    return name


def own_nodes(stmt: ast.stmt):
    """The nodes of a statement without its nested blocks (a loop's header, not its body)."""
    for field, value in ast.iter_fields(stmt):
        if field in ("body", "orelse"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                yield from ast.walk(item)


def walk_statements(body: list[ast.stmt]):
    for stmt in body:
        yield stmt
        for field in ("body", "orelse"):
            yield from walk_statements(getattr(stmt, field, []) or [])


def drop_default_arguments(fn: ast.FunctionDef) -> ast.FunctionDef:
    """``unreduce(g, x, None, False)`` -> ``unreduce(g, x)``: trailing arguments of runtime
    helpers that equal the helper's own defaults say nothing to a reader."""
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in runtime.__all__ and not node.keywords):
            continue
        params = list(inspect.signature(getattr(runtime, node.func.id)).parameters.values())
        while node.args and len(node.args) <= len(params):
            param, arg = params[len(node.args) - 1], node.args[-1]
            if (param.default is inspect.Parameter.empty or not isinstance(arg, ast.Constant)
                    or arg.value != param.default or type(arg.value) is not type(param.default)):
                break
            node.args.pop()
    return fn
