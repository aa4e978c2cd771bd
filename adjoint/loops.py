"""NORMALIZE, loops: every ``for`` becomes a loop over ``range`` (sequences are indexed,
``zip``/``enumerate`` walked together), a ``while`` counts its trips, a loop's ``else`` runs
under its break flag, and ``adjoint.checkpointed(range(...))`` is recognised.
"""
from __future__ import annotations

import ast
import copy

from .runtime import checkpointed
from .syntax import (
    GUARD,
    Loop,
    contains_return,
    dotted_root,
    has_break,
    is_call_to,
    loop_assigned,
)
from .views import integers_kept


class Loops:
    """Part of the Normalizer (normalize.py): ``for`` and ``while`` statements."""

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
        counters = integers_kept(prelude + stmt.body, self.views.ints, rebound - {target})
        self.views.forget(rebound)  # names rebound in the loop: any iteration's binding
        self.views.ints |= counters | {target}  # and the counter of a range() loop
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
            if target.id not in assigned:
                return target.id, args, []
            # the body rebinds the loop's name (``i = i + 2``, an inner ``for i``): a count
            # of our own, and ``i`` bound from it like any variable, so the backward
            # iteration reads the value the body left, not the count a reversed range binds
            index = self.namer.temp()
            bind = ast.copy_location(ast.Assign(targets=[target], value=self.load(index)), stmt)
            bind.header_of = stmt  # its comment quotes the loop header
            return index, args, [bind]
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
        counters = integers_kept([ast.Expr(value=stmt.test)] + stmt.body, self.views.ints,
                                 rebound)  # c += 1 in a while
        self.views.forget(rebound)
        self.views.ints |= counters
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

