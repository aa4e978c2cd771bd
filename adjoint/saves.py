"""SAVES: what the forward sweep keeps for the backward sweep.

A variable's old value is saved only where the forward sweep overwrites something the
backward sweep will read. Outside loops a save is a variable; a float bound once per
iteration of a simple ``range`` loop goes into a preallocated array; anything else
overwritten inside a loop goes on one stack per variable.
"""
from __future__ import annotations

import ast
import copy

from . import checkpoint
from .backward import Chunk
from .ir import (
    StatementTable,
    assign,
    assigned_name,
    call,
    is_element_write,
    is_loop,
    minus,
    name,
    statements,
)
from .prepare import Prepared
from .recompute import Recomputation
from .resolve import assigned_names
from .syntax import jumps


class SavePlanner:
    """Decides the saves of one function, after its backward chunks are generated."""

    def __init__(self, p: Prepared) -> None:
        self.p, self.namer = p, p.namer
        self.saves_before: StatementTable[list[ast.stmt]] = StatementTable()
        self.saves_after: StatementTable[list[ast.stmt]] = StatementTable()
        self.stacks: list[str] = []
        self.unbound: set[str] = set()  # pre-bound to None so a first save is defined
        self.restored: set[str] = set()
        self.recomputed: set[ast.stmt] = set()  # run again in the backward iteration
        self.rerun_arrays: StatementTable[list[ast.stmt]] = StatementTable()
        self.memo_counts: StatementTable[dict[str, int]] = StatementTable()
        self.memo_jumps: StatementTable[int] = StatementTable()
        self.recomputation = Recomputation(p)

    def plan_block(self, chunks: list[Chunk], after: set[str], loop: Chunk | None,
                   defined: set[str], loops: int, around: frozenset[str] = frozenset()
                   ) -> None:
        """Decide saves for one block. ``after`` is what the backward sweep reads after this
        block's code; for a loop body it is everything the body reads (earlier iterations).
        ``defined`` holds the variables bound on every path to the block's start; ``around``
        what the rest of the enclosing loop's body reads, for a branch inside it."""
        primal = self.p.locals
        reads = [self.p.sharing(c.reads(primal)) for c in chunks]
        if loop is not None:
            after = set().union(*reads) if reads else set()
        seen = set(after)
        prefix: list[set[str]] = []
        for r in reads:
            prefix.append(set(seen))
            seen |= r
        body_reads_before = set()
        for k, chunk in enumerate(chunks):
            stmt = chunk.stmt
            later = prefix[k]
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                # what the rest of the enclosing loop's body reads, this iteration or the
                # next (for compound statements only: each costs a pass over the block)
                rest = around | body_reads_before | set().union(*reads[k + 1:])
            if isinstance(stmt, ast.If):
                branch_defs = []
                for block in chunk.children:
                    inner = set(defined)
                    # (the other branch, taken in another iteration, too)
                    self.plan_block(block, later, None, inner, loops, rest | reads[k])
                    branch_defs.append(inner)
                defined |= branch_defs[0] & branch_defs[1]
            elif is_loop(stmt):
                self.plan_block(chunk.children[0], set(), chunk, set(defined), loops + 1)
                self.save_around_loop(chunk, later, defined, loops, rest)
            else:
                for var in assigned_names(stmt):
                    if var in later and not getattr(stmt, "trip_counter", False):
                        self.plan_save(chunk, stmt, var, defined, loop, k, body_reads_before,
                                       loops)
                    defined.add(var)
            body_reads_before |= reads[k]

    def plan_save(self, chunk: Chunk, stmt: ast.stmt, var: str, defined: set[str],
                  loop: Chunk | None, k: int, read_before: set[str], loops: int) -> None:
        # a segment's saves are read right after it reruns: its slots are reused, any depth
        once = loops == 1 or (loop is not None and getattr(loop.stmt, "recompute", False))
        slot = self.slot(loop, var) if once and not is_element_write(stmt) else None
        if var in defined or is_element_write(stmt):
            if slot is not None:
                array = self.slot_array(loop, var)
                self.saves_before.setdefault(stmt, []).append(
                    assign(ast.Subscript(value=name(array), slice=slot, ctx=ast.Store()),
                           name(var)))
                chunk.restores.append(assign(var, ast.Subscript(
                    value=name(array), slice=copy.deepcopy(slot), ctx=ast.Load())))
                self.restored.add(var)
            else:
                self.save(chunk, stmt, var, loops > 0)
        elif loop is not None and self.fresh_each_iteration(var, loop, k, read_before):
            if self.recomputation.possible(stmt, loop.stmt, self.ready_at_top(loop)):
                loop.rerun.append(copy.deepcopy(stmt))  # in program order
                self.restored.add(var)
                self.recomputed.add(stmt)
            else:
                self.save_per_iteration(loop, stmt, var, slot)
        else:
            self.unbound.add(var)
            self.save(chunk, stmt, var, loops > 0)

    def ready_at_top(self, loop: Chunk) -> set[str]:
        """Variables restored at the top of the loop's backward iteration so far."""
        return {n for s in loop.top + loop.rerun for n in assigned_names(s)}

    def fresh_each_iteration(self, var: str, loop: Chunk, k: int, read_before: set[str]) -> bool:
        """Bound once in every iteration (at the top level of the body, before anything that
        can break or continue) and read only after that: then the backward iteration can
        restore it once, at its start."""
        body = loop.stmt.body
        counts = self.assignment_counts(loop.stmt)
        return (counts.get(var) == 1 and var in assigned_names(body[k])
                and not is_element_write(body[k]) and var not in read_before
                and self.first_jump(loop.stmt) >= k)

    def assignment_counts(self, loop: ast.stmt) -> dict[str, int]:
        """How often each variable is bound in a loop's body (memoized per loop)."""
        if loop not in self.memo_counts:
            counts: dict[str, int] = {}
            for s in statements(loop.body):
                for n in assigned_names(s):
                    counts[n] = counts.get(n, 0) + 1
            self.memo_counts[loop] = counts
        return self.memo_counts[loop]

    def first_jump(self, loop: ast.stmt) -> int:
        """Index of the first statement of the body that can break or continue."""
        if loop not in self.memo_jumps:
            self.memo_jumps[loop] = next(
                (i for i, s in enumerate(loop.body) if jumps(s)), len(loop.body))
        return self.memo_jumps[loop]

    def slot(self, loop: Chunk | None, var: str) -> ast.expr | None:
        """Where iteration i's value of a float goes in a preallocated array: only for a
        loop over range() that is not inside another loop and always runs every iteration
        to the end, so its trip count is known when it starts."""
        if loop is None or var not in self.p.floats or not self.runs_to_the_end(loop.stmt):
            return None
        stmt = loop.stmt
        start = stmt.range_args[0] if len(stmt.range_args) == 2 else ast.Constant(0)
        return minus(name(stmt.target.id), copy.deepcopy(start))

    def runs_to_the_end(self, stmt: ast.stmt) -> bool:
        return (isinstance(stmt, ast.For) and stmt.trips is None and len(stmt.range_args) <= 2
                and stmt.target.id not in self.assignment_counts(stmt)
                and self.first_jump(stmt) == len(stmt.body))

    def slot_array(self, loop: Chunk, var: str) -> str:
        """A float array with one entry per iteration, allocated just before the loop (for a
        checkpoint segment, just before it reruns, with room for the longest segment)."""
        array = self.namer.fresh(f"{var}_saved")
        if getattr(loop.stmt, "segment_length", None) is not None:
            self.rerun_arrays.setdefault(loop.stmt, []).append(
                assign(array, call("np.empty", copy.deepcopy(loop.stmt.segment_length))))
            return array
        args = loop.stmt.range_args
        count = (copy.deepcopy(args[0]) if len(args) == 1
                 else minus(copy.deepcopy(args[1]), copy.deepcopy(args[0])))
        size = call("max", count, ast.Constant(0))
        self.saves_before.setdefault(loop.stmt, []).append(
            assign(array, call("np.empty", size)))
        return array

    def save_per_iteration(self, loop: Chunk, stmt: ast.stmt, var: str,
                           slot: ast.expr | None = None) -> None:
        if slot is not None:
            array = self.slot_array(loop, var)
            self.saves_after.setdefault(stmt, []).append(assign(
                ast.Subscript(value=name(array), slice=slot, ctx=ast.Store()), name(var)))
            loop.top.insert(0, assign(var, ast.Subscript(value=name(array),
                                                         slice=copy.deepcopy(slot),
                                                         ctx=ast.Load())))
            self.restored.add(var)
            return
        stack = self.namer.fresh(f"{var}_stack")
        self.stacks.append(stack)
        push = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(stack), attr="append",
                                                          ctx=ast.Load()),
                                       args=[name(var)], keywords=[]))
        self.saves_after.setdefault(stmt, []).append(push)
        pop = ast.Call(func=ast.Attribute(value=name(stack), attr="pop", ctx=ast.Load()),
                       args=[], keywords=[])
        loop.top.insert(0, assign(var, pop))
        self.restored.add(var)

    def save(self, chunk: Chunk, stmt: ast.Assign, var: str, in_loop: bool) -> None:
        """Keep the value (or the entries) an assignment overwrites; restore it afterwards."""
        if is_element_write(stmt):
            target = stmt.targets[0]
            old = call("np.copy", ast.Subscript(value=name(var), slice=copy.deepcopy(target.slice),
                                                ctx=ast.Load()))
            place = ast.Subscript(value=name(var), slice=copy.deepcopy(target.slice),
                                  ctx=ast.Store())
        else:
            old, place = name(var), name(var, store=True)
        keep, restore = self.keep(var, old, in_loop)
        self.saves_before.setdefault(stmt, []).append(keep)
        chunk.restores.append(assign(place, restore))
        self.restored.add(var)

    def keep(self, var: str, value: ast.expr, in_loop: bool,
             label: str = "stack") -> tuple[ast.stmt, ast.expr]:
        if in_loop:
            stack = self.namer.fresh(f"{var}_{label}")
            self.stacks.append(stack)
            push = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(stack), attr="append",
                                                              ctx=ast.Load()),
                                           args=[value], keywords=[]))
            pop = ast.Call(func=ast.Attribute(value=name(stack), attr="pop", ctx=ast.Load()),
                           args=[], keywords=[])
            return push, pop
        saved = self.namer.fresh(f"{var}_saved")
        return assign(saved, value), name(saved)

    def save_around_loop(self, chunk: Chunk, later: set[str], defined: set[str],
                         loops: int, rest: set[str]) -> None:
        """Variables a loop overwrites that are read after its backward sweep: one save before
        the loop, one restore after it (arrays written element by element are copied)."""
        stmt = chunk.stmt
        changed = {n for s in statements(stmt.body) for n in assigned_names(s)
                   if not getattr(s, "trip_counter", False)}
        if isinstance(stmt, ast.For):
            changed.add(stmt.target.id)
        written = {assigned_name(s) for s in statements(stmt.body) if is_element_write(s)}
        rebound = {n for s in statements(stmt.body) if not is_element_write(s)
                   for n in assigned_names(s)}
        saved, label = changed & later & defined, "stack"
        first: set[str] = set()
        if loops > 0:
            # inside a loop, the rest of the body reads the values this loop leaves (its
            # index, what its body binds) in a backward iteration that comes after the
            # next one's backward of this loop rebound them: kept before it even when first
            # bound by it (None, as for any first save; its binding only: this loop's own
            # backward restores what it wrote into it)
            first = (changed & later & rest) - defined
            self.unbound |= first
            saved |= first
        if getattr(stmt, "recompute", False):
            # a checkpoint segment restarts from all it carries, even values first bound in
            # an earlier step (None until then, as the primal never reads them before)
            carried = checkpoint.carried_state(stmt) - defined
            self.unbound |= carried
            saved, label = saved | carried, "snapshots"
        for var in sorted(saved):
            whole = ast.Subscript(value=name(var), slice=ast.Constant(Ellipsis), ctx=ast.Store())
            if var in rebound or var not in written or var in first:
                # the same object as before the loop, so views made earlier still see it
                keep, restore = self.keep(var, name(var), loops > 0, label)
                self.saves_before.setdefault(stmt, []).append(keep)
                chunk.restores.append(assign(var, restore))
            if var in written and var not in first:
                # and its contents, restored in place
                keep, restore = self.keep(var, call("np.copy", name(var)), loops > 0, label)
                self.saves_before.setdefault(stmt, []).append(keep)
                chunk.restores.append(assign(copy.deepcopy(whole), restore))
            self.restored.add(var)

