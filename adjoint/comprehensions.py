"""DESUGAR, comprehensions: list comprehensions and generator expressions become the loops
the compiler already differentiates (``.source`` shows the loop), and ``sum``, ``max`` and
``min`` of one become a running reduction. See desugar.py for the other passes.
"""
from __future__ import annotations

import ast
import builtins
import copy
from collections.abc import Callable

from .errors import Location, UnsupportedSyntaxError
from .names import Namer

COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp)
# statements whose expressions are evaluated once, before anything else they do
SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


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
