"""NORMALIZE: fence off unsupported syntax and rewrite to one operation per statement.

Every statement of the result is ``name = <one operation on atoms>``, a ``return`` of an
atom, or a forward-only statement (``assert``, a call made for its side effect). Atoms are
names, constants, dotted globals such as ``np.pi`` and tuples of atoms. Temporaries are
``t1, t2, ...`` in order of evaluation; each statement remembers the user statement it came
from in ``stmt.origin``.

>>> import ast
>>> from adjoint.normalize import normalize_body
>>> tree = ast.parse("def f(x, b):\\n    h = np.maximum(0, x.dot(W) + b)\\n    return h.sum()")
>>> print(ast.unparse(normalize_body(tree.body[0], {"np", "W"})))
def f(x, b):
    t1 = x.dot(W)
    t2 = t1 + b
    h = np.maximum(0, t2)
    t3 = h.sum()
    return t3
"""
from __future__ import annotations

import ast
from collections.abc import Callable

from .branches import Branches
from .desugar import desugar
from .errors import Location, UnsupportedSyntaxError
from .flatten import Flatten
from .loops import Loops
from .names import Namer, names_in
from .syntax import (
    GUARD,
    UNSUPPORTED_EXPRESSIONS,
    UNSUPPORTED_STATEMENTS,
    Early,
    Loop,
    augmented_names,
    contains_return,
    is_list_append,
    jumps,
    list_names,
    local_names,
    written_in_place,
)
from .view_writes import ViewWrites
from .views import ViewTable, parameters_written, parameters_written_through_views


class Normalizer(Branches, Loops, Flatten, ViewWrites):
    """Rewrites one function body; see the module docstring for the form it produces."""

    def __init__(self, fn: ast.FunctionDef, namer: Namer,
                 where: Callable[[ast.AST], Location],
                 lookup: Callable[[str], object] | None = None, track_views: bool = True):
        fn = desugar(fn, namer, where, lookup)  # comprehensions, final returns: desugar.py
        self.fn = fn
        self.namer = namer
        self.where = where
        # what a free name refers to (Source.lookup); without it, adjoint.checkpointed is
        # recognised by its spelling
        self.lookup = lookup
        self.locals = local_names(fn)
        self.out: list[ast.stmt] = []
        self.origin: ast.stmt | None = None
        self.loops: list[Loop] = []
        self.early: Early | None = None
        self.flags: list[tuple[str, int]] = []  # jump flags of the enclosing statements
        # r = A[i]: writes through r are written into A (temporaries are never written)
        self.track_views = track_views
        lists = list_names(fn)
        self.views = ViewTable(lambda n: not track_views or self.namer.is_temporary(n)
                               or n in lists)

    # -- errors -------------------------------------------------------------------------
    def unsupported(self, node: ast.AST, what: str, hint: str) -> UnsupportedSyntaxError:
        return UnsupportedSyntaxError(f"{what} is not supported", self.where(node), hint)

    # -- statements ---------------------------------------------------------------------
    def run(self) -> ast.FunctionDef:
        self.check_signature()
        body = list(self.fn.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if any(contains_return(stmt) for stmt in body[:-1]):
            # return inside branches or loops: every return assigns the result and raises
            # a flag; what follows a return is guarded by it, loops are left with break
            self.early = Early(self.namer.fresh("result"), self.tuple_results(body))
        main = self.block(body)
        self.guard_arguments_written_in_place(main)
        new_body = self.out + main
        if self.early:
            self.origin = body[-1]
            value = (ast.Tuple(elts=[self.load(p) for p in self.early.parts], ctx=ast.Load())
                     if self.early.parts else self.load(self.early.result))
            new_body.append(ast.copy_location(ast.Return(value=value), body[-1]))
            new_body[-1].origin = body[-1]
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            last = body[-1] if body else self.fn
            raise UnsupportedSyntaxError(
                f"function {self.fn.name!r} must end with 'return <value>'", self.where(last),
                "return the scalar (or array) you want to differentiate",
            )
        new = ast.FunctionDef(name=self.fn.name, args=self.fn.args, body=new_body,
                              decorator_list=[], returns=None, type_comment=None)
        if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
            new.type_params = []
        return ast.copy_location(new, self.fn)

    def check_signature(self) -> None:
        args = self.fn.args
        for star, what in ((args.vararg, "*args"), (args.kwarg, "**kwargs")):
            if star is not None:
                raise self.unsupported(star, f"a {what} parameter",
                                       "name each parameter the function takes")

    def guard_arguments_written_in_place(self, body: list[ast.stmt]) -> None:
        """``x[i] = v`` on a parameter writes into our own copy: the caller's array and the
        gradient of the function as written both stay intact. A parameter changed in place
        (``x[i] = v``, ``x += v``) must not share memory with another one (``f(a, a)``):
        NumPy would change both, so that is checked when the function runs."""
        params = [a.arg for a in self.fn.args.posonlyargs + self.fn.args.args +
                  self.fn.args.kwonlyargs]
        # also parameters written through a view or alias the table did not rewrite
        # (t = x.reshape(3, 2); t[0] = v): the copy keeps the caller's array intact
        through = parameters_written_through_views(self.fn) if self.track_views else set()
        # and parameters passed to a helper of yours that writes into them (bump(x, v))
        reached = parameters_written(self.fn, self.find) if self.track_views else {}
        by_helpers = {p for p, kind in reached.items() if kind == "write"}
        written = written_in_place(body) | through | by_helpers
        # a name that may share a parameter's memory, changed with ``z -= v`` (z = part(a),
        # a helper's view of a): a change of the parameter when z is an array, so checked
        changed = written | augmented_names(self.fn.body) | set(reached)
        self.origin = self.fn
        for param in params:
            if param not in changed:
                continue
            for other in params:
                if other == param:
                    continue
                message = (f"{self.where(self.fn)}: {self.fn.name} changes its argument "
                           f"{param} in place, and the argument {other} shares memory with it "
                           f"(the same array passed twice?); NumPy would change both. Pass "
                           f"a copy: {self.fn.name}(..., {other}.copy(), ...)")
                check = ast.Call(func=self.load("must_not_share"),
                                 args=[self.load(param), self.load(other),
                                       ast.Constant(message)], keywords=[])
                self.emit(ast.Expr(value=check), self.fn)
            if param in written:
                copy_call = ast.Call(func=ast.Attribute(value=self.load(param), attr="copy",
                                                        ctx=ast.Load()), args=[], keywords=[])
                self.emit(ast.Assign(targets=[self.store(param)], value=copy_call), self.fn)

    def find(self, name: str) -> object:
        """What a free name refers to, or None (unbound, or no lookup given)."""
        try:
            return self.lookup(name) if self.lookup else None
        except KeyError:
            return None

    def emit(self, stmt: ast.stmt, like: ast.AST, origin: ast.stmt | None = None) -> None:
        ast.copy_location(stmt, like)
        stmt.origin = origin or self.origin
        self.out.append(stmt)
        if isinstance(stmt, ast.Assign):
            self.views.assigned(stmt)

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """Normalize a list of statements. Inside a loop, the statements after one that may
        break or continue are guarded by the loop's flag, so that the backward sweep skips
        exactly what the forward sweep skipped."""
        saved, self.out = self.out, []
        for i, stmt in enumerate(stmts):
            returns = self.early is not None and contains_return(stmt)
            inner_return = returns and bool(self.loops) and isinstance(stmt, (ast.For, ast.While))
            flag = None
            if (jumps(stmt) and self.loops or returns) and (i + 1 < len(stmts) or inner_return):
                # set only by the jumps inside stmt, so it still says "stmt jumped" when the
                # backward sweep reaches the guard below
                flag = self.namer.fresh("jumped")
                self.origin = GUARD
                self.emit(ast.Assign(targets=[self.store(flag)], value=ast.Constant(False)),
                          stmt, origin=GUARD)
                self.flags.append((flag, len(self.loops)))
            self.statement(stmt)
            if flag:
                self.flags.pop()
            if flag and inner_return:
                self.leave_after_inner_return(stmt, flag)
            if flag and i + 1 < len(stmts):
                before = self.views.snapshot()
                rest = self.block(stmts[i + 1:])
                self.views.join(before)  # the rest may not have run
                if rest:
                    test = ast.UnaryOp(op=ast.Not(), operand=self.load(flag))
                    self.emit(ast.If(test=test, body=rest, orelse=[]), stmts[i + 1],
                              origin=GUARD)
                break
        result, self.out = self.out, saved
        return result

    def statement(self, stmt: ast.stmt) -> None:
        self.origin = getattr(stmt, "header_of", stmt)
        kind = type(stmt)
        if kind in UNSUPPORTED_STATEMENTS:
            raise self.unsupported(stmt, *UNSUPPORTED_STATEMENTS[kind])
        if isinstance(stmt, ast.If):
            return self.if_statement(stmt)
        if isinstance(stmt, ast.For):
            return self.for_statement(stmt)
        if isinstance(stmt, ast.While):
            return self.while_statement(stmt)
        if isinstance(stmt, (ast.Break, ast.Continue)):
            return self.jump(stmt)
        self.fence_expressions(stmt)
        if isinstance(stmt, ast.Assign):
            self.assign(stmt.targets, stmt.value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign([stmt.target], stmt.value, stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.Return):
            if stmt.value is None:
                raise self.unsupported(stmt, "a bare return", "return the value to differentiate")
            if self.early:
                self.early_return(stmt)
            else:
                self.emit(ast.Return(value=self.atom(stmt.value)), stmt)
        elif isinstance(stmt, ast.Expr) and is_list_append(stmt.value, self.locals):
            call = stmt.value
            node = ast.Expr(value=ast.Call(func=call.func, args=[self.atom(call.args[0])],
                                           keywords=[]))
            node.appends_to = call.func.value.id
            self.emit(node, stmt)
        elif isinstance(stmt, (ast.Expr, ast.Assert)):
            self.emit(stmt, stmt)  # forward only: printing, assertions
        elif isinstance(stmt, ast.Pass):
            pass
        else:
            raise self.unsupported(stmt, f"a {kind.__name__} statement",
                                   "rewrite it with assignments and NumPy calls")

    def fence_expressions(self, stmt: ast.AST) -> None:
        for node in ast.walk(stmt):
            if type(node) in UNSUPPORTED_EXPRESSIONS:
                raise self.unsupported(node, *UNSUPPORTED_EXPRESSIONS[type(node)])



def normalize_body(fn: ast.FunctionDef, global_names: set[str] = frozenset(),
                   where: Callable[[ast.AST], Location] | None = None,
                   namer: Namer | None = None) -> ast.FunctionDef:
    """Normalize one function definition (the doctest entry point)."""
    namer = namer or Namer(names_in(fn) | set(global_names))
    where = where or (lambda node: Location("<ast>", getattr(node, "lineno", 0)))
    result = Normalizer(fn, namer, where).run()
    return ast.fix_missing_locations(result)

