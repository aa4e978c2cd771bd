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
import copy
from collections.abc import Callable
from dataclasses import dataclass

from .desugar import desugar
from .errors import Location, UnsupportedSyntaxError
from .names import Namer, names_in
from .runtime import checkpointed
from .view_writes import ViewWrites
from .views import ViewTable, parameters_written_through_views

# Statements with no derivative meaning that we refuse, each with what to write instead.
UNSUPPORTED_STATEMENTS: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "move error handling outside the differentiated function"),
    ast.With: ("a with statement", "enter the context outside the differentiated function"),
    ast.AsyncWith: ("async with", "differentiate synchronous numeric code only"),
    ast.AsyncFor: ("async for", "differentiate synchronous numeric code only"),
    ast.AsyncFunctionDef: ("an async function", "differentiate synchronous numeric code only"),
    ast.FunctionDef: ("a nested function definition", "define the helper at module level"),
    ast.ClassDef: ("a class definition", "define the class at module level"),
    ast.Global: ("a global statement", "pass the value in as an argument and return it"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in as an argument and return it"),
    ast.Delete: ("a del statement", "drop the del; the variable simply goes unused"),
    ast.Import: ("an import inside the function", "import at module level"),
    ast.ImportFrom: ("an import inside the function", "import at module level"),
    ast.Raise: ("a raise statement", "validate inputs before calling the gradient"),
}
if hasattr(ast, "TryStar"):
    UNSUPPORTED_STATEMENTS[ast.TryStar] = UNSUPPORTED_STATEMENTS[ast.Try]
if hasattr(ast, "Match"):
    UNSUPPORTED_STATEMENTS[ast.Match] = ("a match statement", "use if/elif/else")

UNSUPPORTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    ast.Lambda: ("a lambda", "define a module-level function with def"),
    ast.ListComp: ("a list comprehension", "use a for loop, or a vectorised NumPy expression"),
    ast.SetComp: ("a set comprehension", "use a for loop (set and dict comprehensions "
                  "come with container support)"),
    ast.DictComp: ("a dict comprehension", "use a for loop (dict comprehensions come with "
                   "container support)"),
    ast.GeneratorExp: ("a generator expression", "use a for loop, or a NumPy reduction"),
    ast.Yield: ("yield", "return a value; generators cannot be differentiated"),
    ast.YieldFrom: ("yield from", "return a value; generators cannot be differentiated"),
    ast.Await: ("await", "differentiate synchronous numeric code only"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign on its own line first"),
    ast.Starred: ("star-unpacking (*args)", "pass the arguments one by one"),
    ast.Dict: ("a dict literal", "pass arrays or scalars as separate variables"),
    ast.Set: ("a set literal", "use a tuple"),
}



@dataclass
class Loop:
    """The loop being normalized: the flag that records a break or continue, if any."""

    broke: str | None = None  # True once break ran (only for loops with an else block)


@dataclass
class Early:
    """Names used when a function returns from inside a branch or loop: ``result``, or one
    name per element when every return gives a tuple of the same length (a tuple held in a
    variable would carry no adjoint)."""

    result: str
    parts: list[str] | None = None


def contains_return(stmt: ast.stmt) -> bool:
    return any(isinstance(node, ast.Return) for node in walk_own(stmt))


def jumps(stmt: ast.stmt) -> bool:
    """Does the statement run a break or continue of the loop it sits in?"""
    if isinstance(stmt, (ast.Break, ast.Continue)):
        return True
    if isinstance(stmt, (ast.For, ast.While)):
        # break/continue in its body belong to it; in its else block, to the enclosing loop
        return any(jumps(s) for s in stmt.orelse)
    return any(jumps(child) for child in ast.iter_child_nodes(stmt) if isinstance(child, ast.stmt))


def has_break(body: list[ast.stmt]) -> bool:
    """Does this loop body break out of its loop (an inner loop's else block included)?"""
    for stmt in body:
        if isinstance(stmt, ast.Break):
            return True
        inner = stmt.orelse if isinstance(stmt, (ast.For, ast.While)) else [
            c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.stmt)]
        if has_break(inner):
            return True
    return False


GUARD = ast.Pass()  # origin of synthetic guards: they quote no user statement


def is_list_append(call: ast.expr, local: set[str]) -> bool:
    """``hs.append(v)`` on a local variable, with one positional argument."""
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append" and isinstance(call.func.value, ast.Name)
            and call.func.value.id in local and len(call.args) == 1 and not call.keywords)


def is_call_to(node: ast.expr, name: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == name)


def written_in_place(body: list[ast.stmt]) -> set[str]:
    """Names of arrays the function writes into: ``x[i] = ...`` or ``x[i] += ...``."""
    found = set()
    for stmt in body:
        for node in ast.walk(stmt):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    found.add(t.value.id)
    return found


def list_names(fn: ast.FunctionDef) -> set[str]:
    """Names bound to a list or tuple display, or appended to: their entries are not views."""
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "append" and isinstance(node.func.value, ast.Name):
            found.add(node.func.value.id)
    return found


def augmented_names(body: list[ast.stmt]) -> set[str]:
    """Names changed by augmented assignment (``x += v``): in place, if they hold arrays."""
    return {node.target.id for stmt in body for node in ast.walk(stmt)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)}


def loop_assigned(stmt: ast.For | ast.While, prelude: list[ast.stmt]) -> set[str]:
    """Names a loop binds in its header or body (and its prelude's targets)."""
    targets = [stmt.target] if isinstance(stmt, ast.For) else []
    found = {n.id for part in targets for n in ast.walk(part) if isinstance(n, ast.Name)}
    for s in list(stmt.body) + list(prelude):
        found |= {n.id for n in ast.walk(s)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return found


def walk_own(node: ast.AST):
    """Like ast.walk, but not into nested function or class definitions."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from walk_own(child)


def local_names(fn: ast.FunctionDef) -> set[str]:
    """Parameters and every name the body assigns: these shadow globals of the same name."""
    found = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
    return found


def dotted_root(node: ast.expr) -> str | None:
    """``np`` for ``np.linalg.norm``; None when the expression is not a dotted name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, bool)


class Normalizer(ViewWrites):
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
        written = written_in_place(body) | through
        changed = written | augmented_names(self.fn.body)
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

    # -- control flow -----------------------------------------------------------------------
    def condition(self, test: ast.expr) -> ast.expr:
        """A branch condition as a name (recorded, so the backward sweep takes the same
        branch), or ``not name``."""
        self.fence_expressions(test)
        if isinstance(test, ast.Name):
            return test
        if (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
                and isinstance(test.operand, ast.Name)):
            return test
        return self.atom(test, force_temp=True)

    def recorded(self, test: ast.expr, body: list[ast.stmt]) -> ast.expr:
        """A condition that its own branch changes (``if not jumped:`` around a later
        ``jumped = True``) is recorded first: the backward sweep must see the value the
        forward sweep branched on."""
        changed = {n.id for s in body for n in ast.walk(s)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if changed & {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}:
            return self.atom(test, force_temp=True)
        return test

    def if_statement(self, stmt: ast.If) -> None:
        test = self.condition(stmt.test)
        before = self.views.snapshot()
        body = self.block(stmt.body)
        after_body = self.views.snapshot()
        self.views.restore(before)
        orelse = self.block(stmt.orelse)
        self.views.join(after_body)
        self.origin = stmt
        test = self.recorded(test, body + orelse)
        if not body:  # 'if c: pass': keep a statement the passes can walk
            body = [ast.copy_location(ast.Pass(), stmt)]
            body[0].origin = GUARD
        self.emit(ast.If(test=test, body=body, orelse=orelse), stmt, origin=stmt)

    def tuple_results(self, body: list[ast.stmt]) -> list[str] | None:
        """One result name per element if every return gives a tuple display of one length."""
        values = [n.value for s in body for n in walk_own(s) if isinstance(n, ast.Return)]
        sizes = {len(v.elts) if isinstance(v, ast.Tuple) else -1 for v in values}
        if len(sizes) != 1 or sizes == {-1}:
            return None
        return [self.namer.fresh(f"result{i + 1}") for i in range(sizes.pop())]

    def early_return(self, stmt: ast.Return) -> None:
        if self.early.parts:
            for part, elt in zip(self.early.parts, stmt.value.elts):
                self.emit(ast.Assign(targets=[self.store(part)], value=self.op(elt)), stmt)
        else:
            self.emit(ast.Assign(targets=[self.store(self.early.result)],
                                 value=self.op(stmt.value)), stmt)
        self.raise_flags(stmt, every_loop=True)
        for loop in self.loops:  # a return leaves every loop: none of their else blocks runs
            if loop.broke:
                self.emit(ast.Assign(targets=[self.store(loop.broke)], value=ast.Constant(True)),
                          stmt)
        if self.loops:
            self.emit(ast.Break(), stmt)

    def raise_flags(self, stmt: ast.stmt, every_loop: bool) -> None:
        """Set the jump flags of the statements a jump leaves: those of the current loop's
        body for break/continue, all of them for return."""
        depth = len(self.loops)
        for flag, level in self.flags:
            if every_loop or level == depth:
                self.emit(ast.Assign(targets=[self.store(flag)], value=ast.Constant(True)), stmt)

    def leave_after_inner_return(self, loop_stmt: ast.stmt, flag: str) -> None:
        """After an inner loop that returned, the enclosing loop must stop too."""
        saved, self.out = self.out, []
        self.raise_flags(loop_stmt, every_loop=True)
        self.emit(ast.Break(), loop_stmt)
        body, self.out = self.out, saved
        self.emit(ast.If(test=self.load(flag), body=body, orelse=[]), loop_stmt, origin=GUARD)

    def jump(self, stmt: ast.stmt) -> None:
        if not self.loops:
            raise self.unsupported(stmt, "break or continue outside a loop", "remove it")
        loop = self.loops[-1]
        self.raise_flags(stmt, every_loop=False)
        if isinstance(stmt, ast.Break) and loop.broke:
            self.emit(ast.Assign(targets=[self.store(loop.broke)], value=ast.Constant(True)),
                      stmt)
        self.emit(type(stmt)(), stmt)

    def enter_loop(self, stmt: ast.For | ast.While) -> Loop:
        loop = Loop()
        returns = self.early is not None and any(contains_return(s) for s in stmt.body)
        if stmt.orelse and (has_break(stmt.body) or returns):
            loop.broke = self.namer.fresh("broke")
            self.emit(ast.Assign(targets=[self.store(loop.broke)], value=ast.Constant(False)),
                      stmt)
        return loop

    def loop_prelude(self, loop: Loop, stmt: ast.stmt, trips: str | None) -> list[ast.stmt]:
        """Statements that open every iteration: count it."""
        prelude = []
        if trips:
            count = ast.Assign(targets=[self.store(trips)], value=ast.BinOp(
                left=self.load(trips), op=ast.Add(), right=ast.Constant(1)))
            count.trip_counter = True  # never saved: the backward loop reads the final count
            prelude.append(count)
        for p in prelude:
            ast.copy_location(p, stmt)
            p.origin = stmt
        return prelude

    def start_trips(self, stmt: ast.stmt) -> str:
        trips = self.namer.fresh("trips")
        self.emit(ast.Assign(targets=[self.store(trips)], value=ast.Constant(0)), stmt)
        return trips

    def loop_else(self, stmt: ast.For | ast.While, loop: Loop) -> None:
        if not stmt.orelse:
            return
        orelse = self.block(stmt.orelse)
        if loop.broke:
            test = ast.UnaryOp(op=ast.Not(), operand=self.load(loop.broke))
            self.emit(ast.If(test=test, body=orelse, orelse=[]), stmt.orelse[0], origin=GUARD)
        else:
            self.out.extend(orelse)

    def for_statement(self, stmt: ast.For) -> None:
        self.fence_expressions(stmt.iter)
        marked = self.checkpointed_range(stmt)
        plain = stmt
        if marked:  # normalized as the plain range() loop; reverse mode reads .checkpoint
            plain = copy.copy(stmt)
            plain.iter = marked[0]
        target, range_args, prelude = self.iteration(plain)
        snapshots = self.atom(marked[1]) if marked else None
        loop = self.enter_loop(stmt)
        counted = not marked and (has_break(stmt.body) or any(contains_return(s) for s in
                                                               stmt.body) or len(range_args) == 3)
        trips = self.start_trips(stmt) if counted else None
        self.loops.append(loop)
        rebound = (loop_assigned(stmt, prelude) | {target}) - self.updated_in_place(stmt)
        self.views.forget(rebound)  # names rebound in the loop: any iteration's binding
        self.views.ints.add(target)  # the counter of a range() loop
        try:
            body = self.loop_prelude(loop, stmt, trips) + self.block(prelude + stmt.body)
        finally:
            self.loops.pop()
        self.views.forget(rebound)
        self.origin = stmt
        iter_call = ast.Call(func=self.load("range"), args=range_args, keywords=[])
        node = ast.For(target=self.store(target), iter=iter_call, body=body, orelse=[],
                       type_comment=None)
        node.trips, node.range_args = trips, range_args
        if marked:
            node.checkpoint = snapshots
        self.emit(node, stmt, origin=stmt)
        self.loop_else(stmt, loop)

    def checkpointed_range(self, stmt: ast.For) -> tuple[ast.Call, ast.expr] | None:
        """(the range() call, the snapshots expression) of a loop written
        ``for t in adjoint.checkpointed(range(...), snapshots=k):``, else None."""
        it = stmt.iter
        if not (isinstance(it, ast.Call) and self.names_checkpointed(it.func)):
            return None
        keywords = {k.arg: k.value for k in it.keywords}
        args = list(it.args)
        if "snapshots" in keywords:
            args.append(keywords.pop("snapshots"))
        if len(args) != 2 or keywords:
            raise self.unsupported(it, "adjoint.checkpointed() without a range and snapshots=k",
                                   "write adjoint.checkpointed(range(n), snapshots=k)")
        if not is_call_to(args[0], "range"):
            raise self.unsupported(args[0], "a checkpointed loop over something other than "
                                   "range()", "loop over range(len(x)) and index inside the loop")
        if not isinstance(stmt.target, ast.Name):
            raise self.unsupported(stmt.target, "unpacking in the header of a checkpointed loop",
                                   "loop over a single name: for i in checkpointed(range(n), ...)")
        return args[0], args[1]

    def names_checkpointed(self, func: ast.expr) -> bool:
        """Does ``func`` (a name or dotted name) refer to ``adjoint.checkpointed``?"""
        root = dotted_root(func)
        if root is None or root in self.locals:
            return False
        parts = []
        while isinstance(func, ast.Attribute):
            parts.insert(0, func.attr)
            func = func.value
        if self.lookup is None:
            return (parts[-1] if parts else root) == "checkpointed"
        try:
            obj = self.lookup(root)
            for part in parts:
                obj = getattr(obj, part)
        except (KeyError, AttributeError):
            return False
        return obj is checkpointed

    def iteration(self, stmt: ast.For) -> tuple[str, list[ast.expr], list[ast.stmt]]:
        """(loop variable, range arguments, statements that bind the user's targets).
        Loops over sequences become index loops: ``for row in X`` reads ``row = X[k]``."""
        it, target = stmt.iter, stmt.target
        assigned = {n.id for s in stmt.body for n in ast.walk(s)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if is_call_to(it, "range") and isinstance(target, ast.Name):
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise self.unsupported(it, "range() with keywords or without 1-3 arguments",
                                       "call range(stop), range(start, stop) or range(a, b, step)")
            args = [self.atom(a, force_temp=isinstance(a, ast.Name) and a.id in assigned)
                    for a in it.args]
            return target.id, args, []
        if is_call_to(it, "enumerate") and len(it.args) == 1 and isinstance(target, ast.Tuple) \
                and len(target.elts) == 2 and isinstance(target.elts[0], ast.Name):
            return self.walk_together(self.zipped(target.elts[1], it.args[0]), assigned, stmt,
                                      index=target.elts[0].id)
        if is_call_to(it, "zip") and it.args and isinstance(target, ast.Tuple) \
                and len(target.elts) == len(it.args):
            return self.walk_together(self.zipped(target, it), assigned, stmt)
        if isinstance(it, (ast.Call,)) and isinstance(it.func, ast.Name) and it.func.id in (
                "enumerate", "zip", "reversed", "sorted"):
            raise self.unsupported(it, f"looping over {it.func.id}(...) in this form",
                                   "loop over range(len(x)) and index inside the loop")
        seq = self.sequence(it, assigned) if isinstance(it, ast.Tuple) else self.atom(
            it, force_temp=not isinstance(it, ast.Name) or it.id in assigned)
        index = self.namer.temp()
        return index, [self.length(seq)], [self.bind(target, seq, index, stmt)]

    def zipped(self, target: ast.expr, it: ast.expr) -> list[tuple[ast.expr, ast.expr]]:
        """(target, sequence) pairs walked in step: ``(a, (b, c)) in zip(A, zip(B, C))``
        walks A, B and C."""
        if is_call_to(it, "zip") and it.args and not it.keywords and \
                isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == len(it.args):
            return [p for t, a in zip(target.elts, it.args) for p in self.zipped(t, a)]
        return [(target, it)]

    def walk_together(self, pairs: list[tuple[ast.expr, ast.expr]], assigned: set[str],
                      stmt: ast.For, index: str | None = None
                      ) -> tuple[str, list[ast.expr], list[ast.stmt]]:
        """An index loop over the shortest of the sequences, binding each target."""
        seqs = [self.sequence(q, assigned) for _, q in pairs]
        lengths = [self.length(q) for q in seqs]
        count = lengths[0]
        for length in lengths[1:]:  # min of two at a time: the rule min(a, b)
            shorter = ast.Call(func=self.load("min"), args=[count, length], keywords=[])
            count = self.atom(ast.copy_location(shorter, stmt.iter))
        index = index or self.namer.temp()
        return index, [count], [self.bind(t, q, index, stmt) for (t, _), q in zip(pairs, seqs)]

    def sequence(self, seq: ast.expr, assigned: set[str]) -> ast.expr:
        """The sequence a loop walks, evaluated once (a copy if the body rebinds its name).
        A tuple display is walked as a list display: the same values, and lists of
        differentiated values have adjoints (entry by entry)."""
        if isinstance(seq, ast.Tuple):
            seq = ast.copy_location(ast.List(elts=seq.elts, ctx=ast.Load()), seq)
            return self.atom(seq, force_temp=True)
        return self.atom(seq, force_temp=isinstance(seq, ast.Name) and seq.id in assigned)

    def length(self, seq: ast.expr) -> ast.expr:
        return self.atom(ast.Call(func=self.load("len"), args=[seq], keywords=[]))

    def bind(self, target: ast.expr, seq: ast.expr, index: str, like: ast.AST) -> ast.stmt:
        """A user-level ``target = seq[index]`` statement located at the loop header."""
        value = ast.Subscript(value=copy.deepcopy(seq), slice=self.load(index), ctx=ast.Load())
        stmt = ast.copy_location(ast.Assign(targets=[target], value=value), like)
        stmt.header_of = like  # its comment quotes the loop header
        return stmt

    def while_statement(self, stmt: ast.While) -> None:
        self.fence_expressions(stmt.test)
        loop = self.enter_loop(stmt)
        trips = self.start_trips(stmt)
        self.loops.append(loop)
        rebound = loop_assigned(stmt, []) - self.updated_in_place(stmt)
        self.views.forget(rebound)
        try:
            body = self.loop_prelude(loop, stmt, trips) + self.block(stmt.body)
        finally:
            self.loops.pop()
        self.views.forget(rebound)
        self.origin = stmt
        node = ast.While(test=stmt.test, body=body, orelse=[])
        node.trips = trips
        self.emit(node, stmt, origin=stmt)
        self.loop_else(stmt, loop)

    # -- assignments ------------------------------------------------------------------------
    def assign(self, targets: list[ast.expr], value: ast.expr, stmt: ast.stmt) -> None:
        first, *others = targets
        if isinstance(first, ast.Name):
            self.emit(ast.Assign(targets=[self.store(first.id)], value=self.op(value)), stmt)
        elif isinstance(first, (ast.Tuple, ast.List)):
            self.unpack(first, value, stmt)
        elif isinstance(first, ast.Subscript):
            target = self.element(first)
            self.write(target, self.atom(value), stmt)
        else:
            raise self.unsupported(first, "assigning to an attribute",
                                   "keep the value in a local variable")
        for other in others:  # a = b = expr: copies of the first target
            if not isinstance(other, ast.Name) or not isinstance(first, ast.Name):
                raise self.unsupported(other, "a chained assignment to several kinds of target",
                                       "assign on separate lines")
            self.emit(ast.Assign(targets=[self.store(other.id)], value=self.load(first.id)), stmt)

    def element(self, target: ast.Subscript) -> ast.Subscript:
        """``x[index]`` as an assignment target: x must be a local array, the index atoms."""
        if not isinstance(target.value, ast.Name):
            raise self.unsupported(target, "assigning into an element of an expression",
                                   "assign into a named array: a = ...; a[i] = v")
        return ast.Subscript(value=self.load(target.value.id), slice=self.index(target.slice),
                             ctx=ast.Store())

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        if isinstance(stmt.target, ast.Subscript):
            target = self.element(stmt.target)
            current = self.namer.temp()
            read = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
            self.emit(ast.Assign(targets=[self.store(current)], value=read), stmt)
            self.out[-1].element_read = True  # read only to be updated: not an alias
            value = ast.BinOp(left=self.load(current), op=stmt.op, right=self.atom(stmt.value))
            updated = self.atom(ast.copy_location(value, stmt), force_temp=True)
            self.write(target, updated, stmt)
            return
        if not isinstance(stmt.target, ast.Name):
            raise self.unsupported(stmt.target, "augmented assignment to an attribute",
                                   "keep the value in a local variable")
        if self.views.get(stmt.target.id):
            return self.augmented_view(stmt)
        if self.views.descendants(stmt.target.id):
            return self.augmented_base(stmt)
        value = ast.BinOp(left=self.load(stmt.target.id), op=stmt.op, right=self.atom(stmt.value))
        self.emit(ast.Assign(targets=[self.store(stmt.target.id)],
                             value=ast.copy_location(value, stmt)), stmt)

    def unpack(self, target: ast.Tuple | ast.List, value: ast.expr, stmt: ast.stmt) -> None:
        plain = all(isinstance(t, ast.Name) for t in target.elts)
        if isinstance(value, ast.Call) and plain:
            # a, b = helper(x): one statement with several results
            targets = ast.Tuple(elts=[self.store(n.id) for n in target.elts], ctx=ast.Store())
            self.emit(ast.Assign(targets=[targets], value=self.op(value)), stmt)
            return
        if not isinstance(value, (ast.Tuple, ast.List)):
            # a, b = rows: read element by element from one evaluation of the value
            whole = self.atom(value, force_temp=True)
            items = [ast.Subscript(value=whole, slice=ast.Constant(i), ctx=ast.Load())
                     for i in range(len(target.elts))]
            if plain:
                for name, item in zip(target.elts, items):
                    self.emit(ast.Assign(targets=[self.store(name.id)], value=item), stmt)
                return
            value = ast.copy_location(ast.Tuple(elts=items, ctx=ast.Load()), value)
        # Evaluate every right-hand side first, as Python does, so swaps stay correct;
        # nested targets and element targets (s[i], s[j] = u, v) are assigned after
        pairs = self.target_pairs(target, value)
        atoms = [self.atom(v, force_temp=True) for _, v in pairs]
        for (t, _), atom in zip(pairs, atoms):
            if isinstance(t, ast.Name):
                self.emit(ast.Assign(targets=[self.store(t.id)], value=atom), stmt)
            else:
                self.assign([t], atom, stmt)

    def target_pairs(self, target: ast.expr, value: ast.expr) -> list[tuple[ast.expr, ast.expr]]:
        """(target, value) pairs of a tuple assignment, nested tuples matched level by level."""
        if not isinstance(target, (ast.Tuple, ast.List)):
            return [(target, value)]
        if any(isinstance(t, ast.Starred) for t in target.elts):
            raise self.unsupported(target, "a starred target in tuple unpacking",
                                   "unpack into as many names as there are values")
        if not isinstance(value, (ast.Tuple, ast.List)):
            return [(target, value)]  # evaluated first, unpacked element by element after
        if len(value.elts) != len(target.elts):
            raise self.unsupported(value, "unpacking a tuple of another length",
                                   "unpack as many names as the tuple has values")
        return [p for t, v in zip(target.elts, value.elts) for p in self.target_pairs(t, v)]

    # -- expressions --------------------------------------------------------------------
    def is_atom(self, e: ast.expr) -> bool:
        if isinstance(e, (ast.Name, ast.Constant)):
            return True
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and is_number(e.operand):
            return True
        if isinstance(e, ast.Attribute):
            return self.is_global_path(e)
        if isinstance(e, (ast.Tuple, ast.List)):
            return all(self.is_atom(x) for x in e.elts)
        return False

    def is_global_path(self, e: ast.expr) -> bool:
        root = dotted_root(e)
        return root is not None and root not in self.locals

    def atom(self, e: ast.expr, force_temp: bool = False) -> ast.expr:
        """Reduce ``e`` to an atom, emitting a statement per operation it contains."""
        if self.is_atom(e) and not force_temp:
            if isinstance(e, ast.UnaryOp):
                return ast.copy_location(ast.Constant(-e.operand.value), e)
            return e
        if isinstance(e, (ast.Tuple, ast.List)) and not force_temp:
            # a container written in a call, like np.stack([a, 2 * b]): its elements become
            # atoms, the container stays in place so each element gets its own adjoint
            return ast.copy_location(type(e)(elts=[self.atom(x) for x in e.elts],
                                             ctx=ast.Load()), e)
        value = self.op(e)
        name = self.namer.temp()
        self.emit(ast.Assign(targets=[self.store(name)], value=value), e)
        return ast.copy_location(self.load(name), e)

    def op(self, e: ast.expr) -> ast.expr:
        """One operation whose operands are atoms."""
        if self.is_atom(e):
            return self.atom(e)
        if isinstance(e, ast.BinOp):
            new = ast.BinOp(left=self.atom(e.left), op=e.op, right=self.atom(e.right))
        elif isinstance(e, ast.UnaryOp):
            new = ast.UnaryOp(op=e.op, operand=self.atom(e.operand))
        elif isinstance(e, (ast.Compare, ast.BoolOp, ast.JoinedStr)):
            return e  # never differentiable: kept as written, evaluated in one piece
        elif isinstance(e, ast.Call):
            new = self.call(e)
        elif isinstance(e, ast.Attribute):
            new = ast.Attribute(value=self.atom(e.value), attr=e.attr, ctx=ast.Load())
        elif isinstance(e, ast.Subscript):
            new = ast.Subscript(value=self.atom(e.value), slice=self.index(e.slice),
                                ctx=ast.Load())
        elif isinstance(e, (ast.Tuple, ast.List)):
            new = type(e)(elts=[self.atom(x) for x in e.elts], ctx=ast.Load())
        elif isinstance(e, ast.IfExp):
            return self.conditional(e)
        else:
            raise self.unsupported(e, f"the expression {ast.unparse(e)!r}",
                                   "split it into simpler assignments")
        return ast.copy_location(new, e)

    def conditional(self, e: ast.IfExp) -> ast.Name:
        """``a if c else b`` becomes an if statement assigning a temporary; only the chosen
        side is evaluated, as in Python."""
        test = self.condition(e.test)
        result = self.namer.temp()
        sides = []
        before, after = self.views.snapshot(), []
        for side in (e.body, e.orelse):
            saved, self.out = self.out, []
            self.views.restore(before)
            self.emit(ast.Assign(targets=[self.store(result)], value=self.op(side)), side)
            sides.append(self.out)
            after.append(self.views.snapshot())
            self.out = saved
        self.views.join(after[0])
        self.emit(ast.If(test=test, body=sides[0], orelse=sides[1]), e)
        return ast.copy_location(self.load(result), e)

    def call(self, e: ast.Call) -> ast.Call:
        func = e.func
        if isinstance(func, ast.Attribute) and not self.is_global_path(func):
            func = ast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=ast.Load())
        elif not isinstance(func, (ast.Name, ast.Attribute)):
            raise self.unsupported(e, "calling the result of an expression",
                                   "assign the function to a module-level name first")
        for kw in e.keywords:
            if kw.arg is None:
                raise self.unsupported(kw.value, "**keyword unpacking in a call",
                                       "pass keyword arguments one by one")
        args = [self.atom(a) for a in e.args]
        keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        return ast.Call(func=func, args=args, keywords=keywords)

    def index(self, e: ast.expr) -> ast.expr:
        """An index keeps its slices and tuples; anything computed inside becomes a temporary."""
        if isinstance(e, ast.Slice):
            parts = {k: (self.atom(getattr(e, k)) if getattr(e, k) is not None else None)
                     for k in ("lower", "upper", "step")}
            return ast.copy_location(ast.Slice(**parts), e)
        if isinstance(e, ast.Tuple):
            return ast.copy_location(
                ast.Tuple(elts=[self.index(x) for x in e.elts], ctx=ast.Load()), e)
        if isinstance(e, ast.List):  # x[[0, 0, 1]] indexes like x[np.array([0, 0, 1])]
            as_array = ast.Call(func=ast.Attribute(value=self.load("np"), attr="array",
                                                   ctx=ast.Load()), args=[e], keywords=[])
            return self.atom(ast.copy_location(as_array, e))
        return self.atom(e)

    @staticmethod
    def load(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Load())

    @staticmethod
    def store(name: str) -> ast.Name:
        return ast.Name(id=name, ctx=ast.Store())


def normalize_body(fn: ast.FunctionDef, global_names: set[str] = frozenset(),
                   where: Callable[[ast.AST], Location] | None = None,
                   namer: Namer | None = None) -> ast.FunctionDef:
    """Normalize one function definition (the doctest entry point)."""
    namer = namer or Namer(names_in(fn) | set(global_names))
    where = where or (lambda node: Location("<ast>", getattr(node, "lineno", 0)))
    result = Normalizer(fn, namer, where).run()
    return ast.fix_missing_locations(result)
