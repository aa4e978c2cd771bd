"""ASSEMBLE: the forward sweep (the primal replayed with its saves) and the backward
sweep (chunks in reverse order), each under a comment quoting the user's statement.
"""
from __future__ import annotations

import ast

from .backward import Chunk
from .ir import comment, statements
from .prepare import Prepared
from .saves import SavePlanner
from .syntax import GUARD


class Assembler:
    """Lays out the code of both sweeps once the saves are planned."""

    def __init__(self, p: Prepared, planner: SavePlanner) -> None:
        self.p, self.planner = p, planner

    def forward_block(self, stmts: list[ast.stmt], saves: bool = True) -> list[ast.stmt]:
        """The primal replayed, with saves, under a comment for each user statement that
        became several. Without ``saves``, the primal alone: a checkpoint segment saves
        only when the backward sweep runs it again."""
        out, k = [], 0
        while k < len(stmts):
            origin, group = stmts[k].origin, []
            while k < len(stmts) and stmts[k].origin is origin:
                group.append(stmts[k])
                k += 1
            if self.needs_forward_comment(origin, group):
                out.append(comment(self.p.src.text_of(origin)))
            for stmt in group:
                if getattr(stmt, "shape_record", False) and stmt in self.planner.recomputed:
                    continue  # only the backward sweep reads it, and computes it there
                out += self.planner.saves_before.get(stmt, []) if saves else []
                out.append(self.forward_statement(stmt, saves))
                out += self.planner.saves_after.get(stmt, []) if saves else []
        return out

    def rerun_block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """A checkpoint segment's forward code with its saves, or nothing when it saves
        nothing (its backward loop then reads only what it computes again itself)."""
        planner = self.planner
        if any(planner.saves_before.get(s) or planner.saves_after.get(s)
               for s in statements(stmts)):
            return self.forward_block(stmts)
        return []

    def forward_statement(self, stmt: ast.stmt, saves: bool = True) -> ast.stmt:
        saves = saves and not getattr(stmt, "recompute", False)
        if isinstance(stmt, ast.If):
            return ast.If(test=stmt.test,
                          body=self.forward_block(stmt.body, saves) or [ast.Pass()],
                          orelse=self.forward_block(stmt.orelse, saves))
        if isinstance(stmt, ast.For):
            return ast.For(target=stmt.target, iter=stmt.iter, orelse=[], type_comment=None,
                           body=self.forward_block(stmt.body, saves) or [ast.Pass()])
        if isinstance(stmt, ast.While):
            return ast.While(test=stmt.test,
                             body=self.forward_block(stmt.body, saves) or [ast.Pass()], orelse=[])
        return stmt

    def needs_forward_comment(self, origin: ast.stmt, group: list[ast.stmt]) -> bool:
        if origin is GUARD or origin is self.p.src.tree:
            return False
        if len(group) == 1 and isinstance(group[0], (ast.If, ast.For, ast.While)):
            return False
        return len(group) > 1 or ast.unparse(group[0]) != ast.unparse(origin)

    def backward_block(self, chunks: list[Chunk]) -> list[ast.stmt]:
        """Backward code in reverse order, under a comment quoting each user statement."""
        out, k = [], len(chunks) - 1
        while k >= 0:
            origin, group = chunks[k].stmt.origin, []
            while k >= 0 and chunks[k].stmt.origin is origin:
                group += self.chunk_code(chunks[k])
                k -= 1
            if group and origin is not GUARD and origin is not self.p.src.tree:
                out.append(comment(self.p.src.text_of(origin)))
            out += group
        return out

    def chunk_code(self, chunk: Chunk) -> list[ast.stmt]:
        if chunk.make is None:
            return chunk.code + chunk.restores
        blocks = [self.backward_block(b) for b in chunk.children]
        if chunk.top or chunk.rerun:
            blocks[0] = chunk.top + chunk.rerun + blocks[0]
        if chunk.restores_first:
            return chunk.restores + chunk.make(*blocks)
        return chunk.make(*blocks) + chunk.restores

