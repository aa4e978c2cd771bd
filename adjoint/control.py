"""The backward sweep of blocks, branches and loops.

Branches are re-taken from their recorded conditions; loops run backwards over the same
indices (or a recorded trip count). Where paths join, an adjoint written on one path only
is zeroed on the other, so that the code after the join sees one shape on every path.
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Callable

from . import checkpoint
from .backward import Chunk, StatementAdjoints
from .ir import (
    StatementTable,
    assign,
    assigned_name,
    call,
    comment,
    is_element_write,
    is_loop,
    minus,
    name,
    negate,
    negative,
    plus,
    statements,
    times,
)
from .prepare import Prepared
from .resolve import assigned_names, atom_names


class BackwardSweep(StatementAdjoints):
    """Turns a block into a list of ``Chunk``s, last statement first. ``replay`` gives the
    forward code of a checkpoint segment (assembled later, with the saves planned for it;
    empty when it saves nothing), and ``rerun_arrays`` the arrays a segment allocates
    before it runs again."""

    def __init__(self, p: Prepared, module,
                 replay: Callable[[list[ast.stmt]], list[ast.stmt]],
                 rerun_arrays: StatementTable[list[ast.stmt]]) -> None:
        super().__init__(p, module)
        self.replay, self.rerun_arrays = replay, rerun_arrays

    def gen_block(self, stmts: list[ast.stmt]) -> list[Chunk]:
        chunks: list[Chunk] = [None] * len(stmts)
        for k in reversed(range(len(stmts))):
            chunks[k] = self.gen(stmts[k])
        return chunks

    def gen(self, stmt: ast.stmt) -> Chunk:
        if isinstance(stmt, ast.If):
            return self.gen_if(stmt)
        if getattr(stmt, "recompute", False):
            return self.gen_segment(stmt)
        if is_loop(stmt):
            return self.gen_loop(stmt)
        if is_element_write(stmt):
            return Chunk(stmt, self.backward_of_write(stmt))
        if hasattr(stmt, "appends_to"):
            return Chunk(stmt, self.backward_of_append(stmt))
        return Chunk(stmt, self.backward_of(stmt))

    def gen_if(self, stmt: ast.If) -> Chunk:
        before, blocks, lives, owned = set(self.live), [], [], set(self.owned)
        ownership = []
        for branch in (stmt.body, stmt.orelse):
            self.live, self.owned = set(before), set(owned)
            blocks.append(self.gen_block(branch))
            lives.append(self.live)
            ownership.append(self.owned)
        union = lives[0] | lives[1]
        tails = []
        for live, own in zip(lives, ownership):
            self.owned = own
            tails.append(self.materialize(union - live, before))
        self.live = union
        self.owned = ownership[0] & ownership[1]
        test = stmt.test

        def make(then_code: list[ast.stmt], else_code: list[ast.stmt]) -> list[ast.stmt]:
            then_code, else_code = then_code + tails[0], else_code + tails[1]
            if not then_code and not else_code:
                return []
            if not then_code:
                return [ast.If(test=negate(test), body=else_code, orelse=[])]
            return [ast.If(test=copy.deepcopy(test), body=then_code, orelse=else_code)]

        header = [ast.Expr(value=copy.deepcopy(test))] + tails[0] + tails[1]
        return Chunk(stmt, children=blocks, header=header, make=make)

    def gen_loop(self, stmt: ast.For | ast.While) -> Chunk:
        before = set(self.live)
        entry = self.loop_entry(stmt.body, before)
        pre = self.materialize(entry - before) + self.own_before_loop(stmt, before)
        self.live = set(entry)
        owned_entry = set(self.owned)
        body = self.gen_block(stmt.body)
        tail = self.materialize(entry - self.live, entry)
        # an adjoint the body assumed it owns, but that the iteration shared: copy it back
        # (detached, not np.copy: a float must stay a float, for Numba's type inference)
        for v in sorted((owned_entry - self.owned) & self.live):
            tail.append(assign(self.adjoint(v), call("detached", name(self.adjoint(v)))))
        self.live, self.owned = set(entry), owned_entry
        target, iteration = self.backward_iteration(stmt)

        def make(body_code: list[ast.stmt]) -> list[ast.stmt]:
            body_code = body_code + tail
            if not body_code:
                return pre
            loop = ast.For(target=target, iter=iteration, body=body_code, orelse=[],
                           type_comment=None)
            return pre + [loop]

        header = pre + tail + [ast.Expr(value=copy.deepcopy(iteration))]
        return Chunk(stmt, children=[body], header=header, make=make)

    def own_before_loop(self, stmt: ast.For | ast.While, live: set[str]) -> list[ast.stmt]:
        """Adjoints the loop body updates entry by entry (``x[i] = v``, ``y = x[i]``), made
        ours once before the loop: then each iteration updates them in place instead of
        copying the whole array (which made element loops quadratic)."""
        touched = set()
        for s in statements(stmt.body):
            op = self.p.ops.get(s)
            if is_element_write(s):
                touched.add(assigned_name(s))
            elif op is not None and op.kind == "rule" and op.rule.key == "getitem" and \
                    isinstance(op.bound["x"], ast.Name):
                touched.add(op.bound["x"].id)
        code = []
        for v in sorted(touched & live - self.owned - self.p.lists):
            if self.is_active(v):
                code.append(assign(self.adjoint(v), call("detached", name(self.adjoint(v)))))
                self.owned.add(v)
        return code

    def gen_segment(self, stmt: ast.For) -> Chunk:
        """One segment of a checkpointed loop (see checkpoint.py). Its backward code restores
        the segment's snapshot, runs the segment forward again, this time with saves, then
        runs the usual backward loop, which consumes those saves."""
        chunk = self.gen_loop(stmt)
        # the rerun reads the carried state: the save analysis snapshots it before the loop
        chunk.header += [ast.Expr(value=name(v)) for v in sorted(checkpoint.carried_state(stmt))]
        chunk.restores_first = True
        backward = chunk.make

        def make(body_code: list[ast.stmt]) -> list[ast.stmt]:
            code = backward(body_code)
            if not any(isinstance(s, ast.For) for s in code):
                return code  # nothing inside needs a derivative: no need to rerun it
            body = checkpoint.without_prints(self.replay(stmt.body))
            if not body:
                return code  # the backward loop reads nothing the segment saves
            rerun = ast.For(target=copy.deepcopy(stmt.target), iter=copy.deepcopy(stmt.iter),
                            body=body or [ast.Pass()], orelse=[], type_comment=None)
            note = "run the segment again from its snapshot, saving what its backward sweep reads"
            return [comment(note)] + self.rerun_arrays.get(stmt, []) + [rerun] + code

        chunk.make = make
        return chunk

    def loop_entry(self, body: list[ast.stmt], before: set[str]) -> set[str]:
        """Adjoints live at the start of every backward iteration: a fixed point, since an
        iteration may pass an adjoint on to the one before it."""
        entry = set(before)
        while True:
            after = self.dry_block(body, set(entry))
            if after <= entry:
                return entry
            entry |= after

    def dry_block(self, stmts: list[ast.stmt], live: set[str]) -> set[str]:
        """Which adjoints a backward block leaves live, without generating it (mirrors gen)."""
        for stmt in reversed(stmts):
            if isinstance(stmt, ast.If):
                live = self.dry_block(stmt.body, set(live)) | self.dry_block(stmt.orelse, set(live))
            elif is_loop(stmt):
                live = self.loop_entry(stmt.body, live)
            elif hasattr(stmt, "appends_to"):
                if self.is_active(stmt.appends_to) and stmt.appends_to in live:
                    live |= {n for n in atom_names(stmt.value.args[0]) if self.is_active(n)}
            elif isinstance(stmt, ast.Assign):
                targets = assigned_names(stmt)
                if not any(self.is_active(t) and t in live for t in targets):
                    continue
                op = self.p.ops[stmt]
                if not is_element_write(stmt):
                    live -= set(targets)
                if op.kind in ("rule", "call", "pack") or is_element_write(stmt):
                    live |= {n for a in op.differentiable_atoms() for n in atom_names(a)
                             if self.is_active(n)}
        return live

    def backward_iteration(self, stmt: ast.For | ast.While) -> tuple[ast.Name, ast.Call]:
        """The loop header of the backward sweep: the same indices, last to first."""
        if isinstance(stmt, ast.While):
            return name(self.namer.fresh("_"), store=True), call("range", name(stmt.trips))
        if getattr(stmt, "backward_range", None) is not None:  # a stepped checkpoint segment
            return name(stmt.target.id, store=True), copy.deepcopy(stmt.backward_range)
        args = [copy.deepcopy(a) for a in stmt.range_args]
        target = name(stmt.target.id, store=True)
        one = ast.Constant(1)
        if stmt.trips is None:
            start, stop = (ast.Constant(0), args[0]) if len(args) == 1 else args
            return target, call("range", minus(stop, one), minus(start, one), ast.Constant(-1))
        start = args[0] if len(args) > 1 else ast.Constant(0)
        step = args[2] if len(args) == 3 else one
        trips = name(stmt.trips)
        last = plus(start, times(minus(trips, one), step))
        return target, call("range", last, minus(start, step), negative(step))

