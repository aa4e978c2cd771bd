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
import builtins
import copy
from collections.abc import Callable

from .containers import rewrite as lower_containers
from .errors import Location, UnsupportedSyntaxError
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


# -- comprehensions --------------------------------------------------------------------------
class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            return ast.copy_location(ast.Name(id=self.names[node.id], ctx=node.ctx), node)
        return node


class _Lowering:
    """Replaces each list comprehension or generator expression of a statement by a name
    the statements before it compute with a loop."""

    def __init__(self, fn: ast.FunctionDef, namer: Namer,
                 where: Callable[[ast.AST], Location] | None,
                 lookup: Callable[[str], object] | None = None):
        self.fn, self.namer, self.lookup = fn, namer, lookup
        self.local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
                      and isinstance(n.ctx, ast.Store)} | {a.arg for a in ast.walk(fn.args)
                                                           if isinstance(a, ast.arg)}
        self.appended = {n.func.value.id for n in ast.walk(fn) if isinstance(n, ast.Call)
                         and isinstance(n.func, ast.Attribute) and n.func.attr == "append"
                         and isinstance(n.func.value, ast.Name)}
        self.where = where or (lambda node: Location("<ast>", getattr(node, "lineno", 0)))

    def is_builtin(self, name: str | None) -> bool:
        """Is ``name`` (sum, max, min) Python's own, not a local or a global of that name?"""
        if name not in ("sum", "max", "min") or name in self.local:
            return False
        if self.lookup is None:
            return True
        try:
            return self.lookup(name) is getattr(builtins, name)
        except KeyError:
            return False

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        before: list[ast.stmt] = []
        named = self.named_listing(stmt)
        if named:
            self.listing(stmt.value, before, named)
            return before
        if isinstance(stmt, SIMPLE):
            stmt = self.lift(stmt, before)
        elif isinstance(stmt, ast.If):
            stmt.test = self.lift(stmt.test, before)
        elif isinstance(stmt, ast.For):
            stmt.iter = self.lift(stmt.iter, before)
        elif isinstance(stmt, ast.While):
            self.refuse_in(stmt.test, "the condition of a while loop",
                           "compute the value before the loop and again at the end of its body")
        for field in ("body", "orelse"):
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                setattr(stmt, field, self.block(getattr(stmt, field)))
        return before + [stmt]

    @staticmethod
    def named_listing(stmt: ast.stmt) -> str | None:
        """``ys = [...]`` whose comprehension does not read ys: the loop appends to ys itself
        (a list bound to a second name would not be known as a list)."""
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.ListComp)):
            return None
        name = stmt.targets[0].id
        reads = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
        return None if name in reads else name

    def refuse_in(self, node: ast.AST, place: str, hint: str) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, COMPREHENSIONS):
                raise UnsupportedSyntaxError(f"a comprehension in {place} is not supported",
                                             self.where(sub), hint)

    def lift(self, node: ast.AST, before: list[ast.stmt]) -> ast.AST:
        """``node`` with its comprehensions replaced by names computed in ``before``."""
        lowering = self

        class Lift(ast.NodeTransformer):
            def visit_IfExp(self, e: ast.IfExp) -> ast.AST:
                lowering.refuse_in(e, "a conditional expression",
                                   "assign the comprehension to a name before it")
                return e

            def visit_BoolOp(self, e: ast.BoolOp) -> ast.AST:
                lowering.refuse_in(e, "an and/or expression",
                                   "assign the comprehension to a name before it")
                return e

            def visit_Lambda(self, e: ast.Lambda) -> ast.AST:
                return e

            def visit_Call(self, e: ast.Call) -> ast.AST:
                reducer = e.func.id if isinstance(e.func, ast.Name) else None
                if not lowering.is_builtin(reducer):
                    reducer = None
                if reducer in ("sum", "max", "min") and len(e.args) == 1 and \
                        not e.keywords and isinstance(e.args[0], COMPREHENSIONS):
                    return lowering.reduction(reducer, e, before)
                self.generic_visit(e)
                if reducer == "sum" and len(e.args) == 1 \
                        and not e.keywords:
                    return lowering.builtin_sum(e, before)
                return e

            def visit_ListComp(self, e: ast.expr) -> ast.AST:
                return lowering.listing(e, before)

            visit_GeneratorExp = visit_ListComp

        return Lift().visit(node)

    def loops(self, comp: ast.ListComp | ast.GeneratorExp,
              innermost: Callable[[ast.expr], list[ast.stmt]]) -> list[ast.stmt]:
        """The nested for/if statements of ``comp``, with ``innermost(elt)`` inside; loop
        variables that the function uses elsewhere are renamed (they are the
        comprehension's own)."""
        outside = self.names_outside(comp)
        comp = copy.deepcopy(comp)
        renames: dict[str, str] = {}
        for gen in comp.generators:
            for n in ast.walk(gen.target):
                if isinstance(n, ast.Name) and n.id in outside and n.id not in renames:
                    renames[n.id] = self.namer.fresh(n.id)
        rename = _Rename(renames)
        body = innermost(rename.visit(comp.elt))
        for k, gen in reversed(list(enumerate(comp.generators))):
            if gen.is_async:
                raise UnsupportedSyntaxError("async for in a comprehension is not supported",
                                             self.where(gen.iter), "use a plain for")
            for cond in reversed(gen.ifs):
                body = [ast.copy_location(ast.If(test=rename.visit(cond), body=body,
                                                 orelse=[]), comp)]
            it = gen.iter if k == 0 else rename.visit(gen.iter)
            body = [ast.copy_location(ast.For(target=rename.visit(gen.target), iter=it,
                                              body=body, orelse=[], type_comment=None),
                                      comp)]
        return body

    def builtin_sum(self, call: ast.Call, before: list[ast.stmt]) -> ast.expr:
        """``sum(xs)``: a running total over a list display or a list built with append;
        over anything else (an array), ``np.sum(xs, axis=0)``, which adds the rows as
        Python's sum does and has a rule (and a Numba version)."""
        arg = call.args[0]
        if isinstance(arg, (ast.List, ast.Tuple)) or (
                isinstance(arg, ast.Name) and arg.id in self.appended):
            v = self.namer.fresh("v")
            target = ast.Name(id=v, ctx=ast.Store())
            gen = ast.comprehension(target=target, iter=arg, ifs=[], is_async=0)
            comp = ast.copy_location(ast.GeneratorExp(
                elt=ast.Name(id=v, ctx=ast.Load()), generators=[gen]), arg)
            return self.reduction("sum", ast.copy_location(
                ast.Call(func=call.func, args=[comp], keywords=[]), call), before)
        np_sum = ast.Attribute(value=ast.Name(id="np", ctx=ast.Load()), attr="sum",
                               ctx=ast.Load())
        axis = ast.keyword(arg="axis", value=ast.Constant(0))
        return ast.copy_location(ast.Call(func=np_sum, args=[arg], keywords=[axis]), call)

    def names_outside(self, comp: ast.AST) -> set[str]:
        inside = {id(n) for n in ast.walk(comp)}
        found = {a.arg for a in ast.walk(self.fn.args) if isinstance(a, ast.arg)}
        for n in ast.walk(self.fn):
            if isinstance(n, ast.Name) and id(n) not in inside:
                found.add(n.id)
        return found

    def listing(self, comp: ast.expr, before: list[ast.stmt],
                items: str | None = None) -> ast.Name:
        """``items = []`` and a loop appending to it; the comprehension reads ``items``."""
        items = items or self.namer.fresh("items")
        self.appended.add(items)  # sum(items) adds its entries

        def append(elt: ast.expr) -> list[ast.stmt]:
            call = ast.Call(func=ast.Attribute(value=ast.Name(id=items, ctx=ast.Load()),
                                               attr="append", ctx=ast.Load()),
                            args=[elt], keywords=[])
            return [ast.copy_location(ast.Expr(value=call), comp)]

        start = ast.Assign(targets=[ast.Name(id=items, ctx=ast.Store())],
                           value=ast.List(elts=[], ctx=ast.Load()))
        before.append(ast.copy_location(start, comp))
        before.extend(self.block(self.loops(comp, append)))
        return ast.copy_location(ast.Name(id=items, ctx=ast.Load()), comp)

    def reduction(self, reducer: str, call: ast.Call, before: list[ast.stmt]) -> ast.Name:
        """``sum(gen)``: a running total from 0, as Python's sum starts; ``max``/``min``:
        the list, then a loop keeping the larger (smaller) of two scalars."""
        comp = call.args[0]
        if reducer == "sum":
            total = self.namer.fresh("total")

            def add(elt: ast.expr) -> list[ast.stmt]:
                value = ast.BinOp(left=ast.Name(id=total, ctx=ast.Load()), op=ast.Add(),
                                  right=elt)
                return [ast.copy_location(ast.Assign(
                    targets=[ast.Name(id=total, ctx=ast.Store())], value=value), comp)]

            start = ast.Assign(targets=[ast.Name(id=total, ctx=ast.Store())],
                               value=ast.Constant(0))
            before.append(ast.copy_location(start, comp))
            before.extend(self.block(self.loops(comp, add)))
            return ast.copy_location(ast.Name(id=total, ctx=ast.Load()), call)
        items = self.listing(comp, before).id
        best, k = self.namer.fresh("best"), self.namer.fresh("k")
        code = (f"{best} = {items}[0]\n"
                f"for {k} in range(1, len({items})):\n"
                f"    {best} = {reducer}({best}, {items}[{k}])\n")
        for stmt in ast.parse(code).body:
            for node in ast.walk(stmt):
                ast.copy_location(node, comp)
            before.append(stmt)
        return ast.copy_location(ast.Name(id=best, ctx=ast.Load()), call)


def comprehensions(fn: ast.FunctionDef, namer: Namer,
                   where: Callable[[ast.AST], Location] | None,
                   lookup: Callable[[str], object] | None = None) -> ast.FunctionDef:
    """List comprehensions and generator expressions become loops (see the module doc)."""
    new = copy.deepcopy(fn)
    new.body = _Lowering(new, namer, where, lookup).block(new.body)
    return ast.fix_missing_locations(new)
