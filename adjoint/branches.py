"""NORMALIZE, control flow: branches, early returns and the flags of break and continue.

A return inside a branch or loop assigns the result and raises a flag; whatever follows a
statement that may jump is guarded by that flag, so the backward sweep skips exactly what
the forward sweep skipped. A condition is recorded in a variable when its own branch
changes what it reads.
"""
from __future__ import annotations

import ast

from .syntax import GUARD, walk_own


class Branches:
    """Part of the Normalizer (normalize.py): ``if``, ``return``, ``break``, ``continue``."""

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

