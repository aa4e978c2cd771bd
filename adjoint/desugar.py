"""DESUGAR: lower Python conveniences to the statements NORMALIZE already handles.

Each pass takes the user's function definition and returns a rewritten copy; the new nodes
carry the location of the syntax they replace, so errors and the comments of the generated
code still point at the user's line.

A final ``if``/``else`` in which every path returns keeps only its returning branch, and
the rest follows it (the early-return machinery of NORMALIZE does the rest):

>>> import ast
>>> from adjoint.names import Namer, names_in
>>> fn = ast.parse('''
... def f(x):
...     if x > 0:
...         return x
...     elif x < -1:
...         return -x
...     else:
...         return 2 * x''').body[0]
>>> print(ast.unparse(final_returns(fn)))
def f(x):
    if x > 0:
        return x
    if x < -1:
        return -x
    return 2 * x

Comprehensions become the loops they stand for; ``sum`` of one becomes a running total:

>>> fn = ast.parse('''
... def f(x, n):
...     ys = np.array([x[i] * 2 for i in range(n) if i != 1])
...     return sum(v * v for v in ys)''').body[0]
>>> print(ast.unparse(comprehensions(fn, Namer(names_in(fn)), None)))
def f(x, n):
    items = []
    for i in range(n):
        if i != 1:
            items.append(x[i] * 2)
    ys = np.array(items)
    total = 0
    for v in ys:
        total = total + v * v
    return total

Starred displays are spliced, also through a name bound once to a display:

>>> fn = ast.parse('''
... def f(x, y):
...     p = (x, y)
...     return g(*p) + np.sum(np.stack((*p, *(x * y,))))''').body[0]
>>> print(ast.unparse(splice_starred(fn)))
def f(x, y):
    return g(x, y) + np.sum(np.stack((x, y, x * y)))
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Callable

from .comprehensions import comprehensions
from .containers import rewrite as lower_containers
from .errors import Location
from .names import Namer
from .nested import refuse_nested_transforms

COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp)
# statements whose expressions are evaluated once, before anything else they do
SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


def desugar(fn: ast.FunctionDef, namer: Namer, where: Callable[[ast.AST], Location] | None,
            lookup: Callable[[str], object] | None = None) -> ast.FunctionDef:
    """Every pass of this module, in order. ``lookup`` says what a free name refers to:
    ``sum``, ``max`` and ``min`` are rewritten only when they are the builtins."""
    refuse_nested_transforms(fn, where, lookup)  # nested.py
    fn, _ = lower_containers(fn, {}, where, lookup, namer)  # containers.py
    fn = list_aliases(fn)
    fn = splice_starred(fn)
    fn = final_returns(fn)
    return comprehensions(fn, namer, where, lookup)


# -- another name for an appended list ------------------------------------------------------
def list_aliases(fn: ast.FunctionDef) -> ast.FunctionDef:
    """``ys = hs``, where ``hs`` is a list built with ``append``, ``ys`` is only read and
    neither name is bound again: ``ys`` is ``hs`` (the same list), so its reads read ``hs``.

    >>> fn = ast.parse('''
    ... def f(x):
    ...     hs = []
    ...     hs.append(x)
    ...     ys = hs
    ...     return ys[0]''').body[0]
    >>> print(ast.unparse(list_aliases(fn)))
    def f(x):
        hs = []
        hs.append(x)
        return hs[0]
    """
    stores: dict[str, int] = {}
    appended, used_otherwise = set(), set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            (appended if node.attr == "append" else used_otherwise).add(node.value.id)
        if isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load) and \
                isinstance(node.value, ast.Name):
            used_otherwise.add(node.value.id)
    for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        stores[a.arg] = stores.get(a.arg, 0) + 1
    aliases = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name) and isinstance(node.value, ast.Name):
            alias, listed = node.targets[0].id, node.value.id
            if listed in appended and stores.get(listed) == 1 and stores.get(alias) == 1 \
                    and alias not in appended | used_otherwise:
                aliases[alias] = listed
    if not aliases:
        return fn
    return ast.fix_missing_locations(_ReadAlias(aliases).visit(copy.deepcopy(fn)))


class _ReadAlias(ast.NodeTransformer):
    """Drops ``alias = name`` and reads ``name`` for ``alias``."""

    def __init__(self, aliases: dict[str, str]):
        self.aliases = aliases

    def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id in self.aliases:
            return None
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.aliases:
            return ast.copy_location(ast.Name(id=self.aliases[node.id], ctx=node.ctx), node)
        return node


# -- final if/else returns -------------------------------------------------------------------
def always_returns(stmts: list[ast.stmt]) -> bool:
    """Does every path through these statements end in a return?"""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and always_returns(last.body) and always_returns(last.orelse)


def returns_last(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """``if c: <returns> else: <rest>`` at the end becomes ``if c: <returns>`` then <rest>,
    repeatedly, so that the statements end with a plain return when every path returns."""
    if not stmts or not always_returns(stmts) or isinstance(stmts[-1], ast.Return):
        return stmts
    last = stmts[-1]
    head = ast.copy_location(ast.If(test=last.test, body=last.body, orelse=[]), last)
    return stmts[:-1] + [head] + returns_last(last.orelse)


def final_returns(fn: ast.FunctionDef) -> ast.FunctionDef:
    new = copy.copy(fn)
    new.body = returns_last(list(fn.body))
    return new


# -- starred displays --------------------------------------------------------------------
class _Splice(ast.NodeTransformer):
    """Splices ``*display`` and ``*name`` (a name bound once to a display) into displays
    and call arguments."""

    def __init__(self, bound: dict[str, ast.Tuple | ast.List]):
        self.bound = bound

    def spliced(self, elts: list[ast.expr]) -> list[ast.expr]:
        out = []
        for e in elts:
            value = e.value if isinstance(e, ast.Starred) else None
            if isinstance(value, ast.Name) and value.id in self.bound:
                value = self.bound[value.id]
            if isinstance(value, (ast.Tuple, ast.List)):
                out.extend(copy.deepcopy(value.elts))
            else:
                out.append(e)
        return out

    def visit_Tuple(self, node: ast.Tuple) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(type(node)(elts=self.spliced(node.elts), ctx=node.ctx), node)

    visit_List = visit_Tuple

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        node.args = self.spliced(node.args)
        return node


def constant_displays(fn: ast.FunctionDef) -> dict[str, ast.Tuple | ast.List]:
    """Names bound once, to a tuple display of names the function never rebinds (or of
    constants): ``*p`` may be replaced by the display."""
    stores: dict[str, int] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
    params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    found = {}
    for stmt in fn.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Tuple)):
            continue
        name = stmt.targets[0].id
        parts = stmt.value.elts
        if stores.get(name) == 1 and name not in params and all(
                isinstance(e, ast.Constant) or (isinstance(e, ast.Name)
                                                and not stores.get(e.id)) for e in parts):
            found[name] = stmt.value
    return found


def splice_starred(fn: ast.FunctionDef) -> ast.FunctionDef:
    """``(*(a, b), c)`` is ``(a, b, c)``, and so is ``(*p, c)`` after ``p = (a, b)`` when
    neither p, a nor b is bound again; the same in call arguments, ``f(*p)``. A binding
    ``p = (a, b)`` that nothing reads any more is dropped."""
    new = copy.deepcopy(fn)
    bound = constant_displays(new)
    splice = _Splice(bound)
    new.body = [splice.visit(stmt) for stmt in new.body]
    read = {n.id for n in ast.walk(new) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}
    new.body = [s for s in new.body if not (
        isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)
        and s.targets[0].id in bound and s.targets[0].id not in read)]
    return new
