"""Writes through views, as the normalizer emits them (the table is in views.py).

A mixin of the Normalizer: it uses the normalizer's ``emit``, ``atom``, ``condition``,
``load`` and ``store``, and its ``views`` table. After ``r = A[0]``, ``r[1] = v`` is emitted
as ``A[0, 1] = v``, then ``r = A[0]`` again; ``r *= 2`` as a branch on whether ``r`` is a row
(written into ``A``) or a number (rebound); ``A *= 2`` while ``A`` has views as ``A[:] = A * 2``.
"""
from __future__ import annotations

import ast
import copy

from .views import compose


class ViewWrites:
    def write(self, target: ast.Subscript, value: ast.expr, stmt: ast.stmt) -> None:
        """``target = value``; when target's array is a view ``base[index]``, the write goes
        into the base and the views of it are taken again."""
        root = self.views.root(target.value.id)
        # A[i] may be a number (a copy, which keeps its value) or a row (a view): which one
        # is asked before the write, so that the write is the last to touch the old views
        undecided = {var: self.is_array_test(var, stmt) for var, _ in
                     self.views.descendants(root)
                     if var not in self.views.arrays and var != target.value.id}
        self.write_into_base(target, value, stmt)
        self.views.arrays.add(target.value.id)  # the write ran: it is an array
        self.refresh(root, stmt, undecided)

    def is_array_test(self, var: str, stmt: ast.stmt) -> ast.expr:
        ndim = ast.Call(func=ast.Attribute(value=self.load("np"), attr="ndim", ctx=ast.Load()),
                        args=[self.load(var)], keywords=[])
        return self.condition(ast.copy_location(
            ast.Compare(left=ndim, ops=[ast.Gt()], comparators=[ast.Constant(0)]), stmt))

    def write_into_base(self, target: ast.Subscript, value: ast.expr, stmt: ast.stmt) -> None:
        view = self.views.get(target.value.id)
        if view is None:
            self.emit(ast.Assign(targets=[target], value=value), stmt)
            return
        index = compose(view.index, target.slice)
        if index is None:  # the view has slices: change a copy of it, then write it back
            whole = self.namer.temp()
            copy_call = ast.Call(func=ast.Attribute(value=self.load(target.value.id),
                                                    attr="copy", ctx=ast.Load()),
                                 args=[], keywords=[])
            self.emit(ast.Assign(targets=[self.store(whole)], value=copy_call), stmt)
            self.emit(ast.Assign(targets=[ast.Subscript(value=self.load(whole),
                                                        slice=target.slice, ctx=ast.Store())],
                                 value=value), stmt)
            value, index = self.load(whole), copy.deepcopy(view.index)
        base = ast.Subscript(value=self.load(view.base), slice=index, ctx=ast.Store())
        self.write_into_base(base, value, stmt)

    def refresh(self, root: str, stmt: ast.stmt, undecided: dict[str, ast.expr]) -> None:
        """Take every view of ``root`` again after a write into it: its binding now reads
        the new values (and the analysis sees that it does). Those that may be numbers
        (``undecided``: the test says whether each is an array) are taken again only if
        they are arrays."""
        for var, view in self.views.descendants(root):
            read = ast.Subscript(value=self.load(view.base), slice=copy.deepcopy(view.index),
                                 ctx=ast.Load())
            if var not in undecided:
                self.emit(ast.Assign(targets=[self.store(var)], value=read), stmt)
                self.out[-1].view_refresh = True
                self.views.arrays.add(var)
                continue
            saved, self.out = self.out, []
            self.emit(ast.Assign(targets=[self.store(var)], value=read), stmt)
            self.out[-1].view_refresh = True
            taken, self.out = self.out, saved
            self.emit(ast.If(test=undecided[var], body=taken, orelse=[]), stmt)
            self.out[-1].view_refresh = True
            self.views.views[var] = view  # either way: a view of it, or a number

    def updated_in_place(self, loop: ast.For | ast.While) -> set[str]:
        """Names a loop changes only with ``A += v`` that have views, or are views: the
        loop updates them in place (augmented_base, augmented_view), so the views stay."""
        augmented = {n.target.id for s in loop.body for n in ast.walk(s)
                     if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
        plain = {t.id for s in loop.body for n in ast.walk(s)
                 if isinstance(n, (ast.Assign, ast.AnnAssign, ast.For))
                 for part in (n.targets if isinstance(n, ast.Assign) else [n.target])
                 for t in ast.walk(part)
                 if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
        return {n for n in augmented - plain
                if self.views.descendants(n) or self.views.get(n)}

    def augmented_base(self, stmt: ast.AugAssign) -> None:
        """``A *= 2`` while ``r = A[0]`` is a view of A: A is an array (it has views), so
        NumPy changes it in place, and r sees it: written as ``A[:] = A * 2``."""
        var = stmt.target.id
        value = ast.BinOp(left=self.load(var), op=stmt.op, right=self.atom(stmt.value))
        updated = self.atom(ast.copy_location(value, stmt), force_temp=True)
        whole = ast.Subscript(value=self.load(var), slice=ast.Slice(), ctx=ast.Store())
        self.write(whole, updated, stmt)

    def augmented_view(self, stmt: ast.AugAssign) -> None:
        """``r += v`` where ``r = A[i]``: NumPy adds into ``A`` when ``r`` is an array (a
        view), and rebinds ``r`` when it is a number (``A[i]`` of a vector)."""
        var = stmt.target.id
        view = self.views.get(var)
        value = ast.BinOp(left=self.load(var), op=stmt.op, right=self.atom(stmt.value))
        updated = self.atom(ast.copy_location(value, stmt), force_temp=True)
        ndim = ast.Call(func=ast.Attribute(value=self.load("np"), attr="ndim", ctx=ast.Load()),
                        args=[self.load(var)], keywords=[])
        test = self.condition(ast.copy_location(
            ast.Compare(left=ndim, ops=[ast.Gt()], comparators=[ast.Constant(0)]), stmt))
        saved, self.out = self.out, []
        before = self.views.snapshot()
        target = ast.Subscript(value=self.load(view.base), slice=copy.deepcopy(view.index),
                               ctx=ast.Store())
        self.views.arrays.add(var)  # in this branch it is
        self.write(target, updated, stmt)
        through, self.out = self.out, []
        self.views.restore(before)
        self.emit(ast.Assign(targets=[self.store(var)], value=updated), stmt)
        self.out[-1].view_refresh = True
        rebound, self.out = self.out, saved
        self.views.restore(before)  # either way, var is base[index] or a number
        self.emit(ast.If(test=test, body=through, orelse=rebound), stmt)
