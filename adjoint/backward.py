"""The backward sweep, statement by statement: the adjoint code of one assignment.

Adjoints are never updated in place unless this sweep made the array itself (``owned``):
a contribution is ``dx = <value>`` on the first write and ``dx = dx + <value>`` afterwards.
In-place ``+=`` would be unsafe because a first write such as ``dx = dz`` makes two
adjoints share one array.
"""
from __future__ import annotations

import ast
import copy
import inspect
from dataclasses import dataclass, field

from .errors import UnsupportedSyntaxError
from .float_arrays import known_float_arrays
from .ir import (
    assign,
    call,
    drop_unused,
    index_expression,
    is_float_atom,
    is_fresh,
    is_list,
    name,
    primal_reads,
)
from .prepare import Prepared
from .resolve import Op, assigned_names, atom_names
from .template import instantiate, is_number


@dataclass
class Chunk:
    """The backward code of one forward statement, before assembly.

    ``code`` is a simple statement's adjoint code; compound statements keep their nested
    blocks as chunk lists in ``children`` and build their statement with ``make`` once the
    save analysis has appended restores to the nested chunks.
    """

    stmt: ast.stmt
    code: list[ast.stmt] = field(default_factory=list)
    restores: list[ast.stmt] = field(default_factory=list)
    children: list[list[Chunk]] = field(default_factory=list)
    header: list[ast.stmt] = field(default_factory=list)  # read by the backward header
    top: list[ast.stmt] = field(default_factory=list)  # loops: restores opening each iteration
    rerun: list[ast.stmt] = field(default_factory=list)  # loops: recomputed after those
    make: object = None
    restores_first: bool = False  # a recomputed segment starts from its restored snapshot

    def reads(self, primal: set[str]) -> set[str]:
        found = primal_reads(self.code + self.header, primal)
        for block in self.children:
            for chunk in block:
                found |= chunk.reads(primal)
        return found



class StatementAdjoints:
    """Adjoint code for simple statements. ``live`` holds the variables whose adjoint has
    been written at the current point of the backward sweep; ``owned`` those whose adjoint
    array this sweep made itself and so may update in place."""

    def __init__(self, p: Prepared, module) -> None:
        self.p, self.module, self.namer = p, module, p.namer
        self.live: set[str] = set()
        self.owned: set[str] = set()
        # arrays whose writes need no kept_if: made as floats (float_arrays.py)
        self.float_arrays = known_float_arrays(p.body, p.params)

    def adjoint(self, var: str) -> str:
        return self.namer.adjoint(var)

    def is_active(self, var: str | None) -> bool:
        return var is not None and self.p.facts.is_active(var)

    def accumulate(self, target: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Add ``value`` to the adjoint of an atom: a first write, a sum, or nothing."""
        if isinstance(target, ast.Name):
            var = target.id
            if not self.is_active(var):
                return []
            dvar = self.adjoint(var)
            if var in self.live or is_fresh(value):
                self.owned.add(var)  # a sum, or a newly made array: ours alone
            else:
                self.owned.discard(var)  # may be the upstream's own array
            if var in self.live and var in self.p.lists:
                value = call("list_add", name(dvar), value)  # entry by entry, not concatenation
            elif var in self.live and isinstance(value, ast.UnaryOp) and isinstance(
                    value.op, ast.USub):
                value = ast.BinOp(left=name(dvar), op=ast.Sub(), right=value.operand)
            elif var in self.live:
                value = ast.BinOp(left=name(dvar), op=ast.Add(), right=value)
            self.live.add(var)
            return [assign(dvar, value)]
        if isinstance(target, (ast.Tuple, ast.List)):
            if not any(self.is_active(n) for n in atom_names(target)):
                return []
            parts = [self.namer.temp() for _ in target.elts]
            unpack = ast.Tuple(elts=[name(p, store=True) for p in parts], ctx=ast.Store())
            code = [assign(unpack, value)]
            for elt, part in zip(target.elts, parts):
                code += self.accumulate(elt, name(part))
            return code
        return []  # constants have no adjoint

    def materialize(self, variables: set[str], had_adjoint: set[str] = frozenset()
                    ) -> list[ast.stmt]:
        """Zero adjoints where control flow joins paths on which they were not written.
        An adjoint that was written earlier on this path still holds a value of the right
        shape, so it is zeroed from itself: no need to read (and keep) the primal value."""
        code = []
        for v in sorted(variables):
            like = name(self.adjoint(v)) if v in had_adjoint else name(v)
            code.append(assign(self.adjoint(v), call(
                "list_zeros" if v in self.p.lists else "zeros_like", like)))
        self.live |= variables
        self.owned |= variables
        return code

    def backward_of(self, stmt: ast.stmt) -> list[ast.stmt]:
        if not isinstance(stmt, ast.Assign):
            return []
        if isinstance(stmt.targets[0], ast.Tuple):
            return self.backward_of_unpacking(stmt)
        target = stmt.targets[0].id
        if not self.is_active(target) or target not in self.live:
            return []
        op = self.p.ops[stmt]
        upstream = name(self.adjoint(target))
        # Before this assignment the variable held another value, whose adjoint starts at 0.
        self.live.discard(target)
        self.owned.discard(target)
        if op.kind == "rule" and op.rule.key == "getitem" and is_list(op.bound["x"], self.p.lists):
            return self.from_list_read(op, upstream, stmt)
        if op.kind == "rule" and op.rule.key == "getitem" and self.owns(op.bound["x"]):
            var = op.bound["x"].id  # dx[index] += dy, in place: no full-size zeros per read
            index = ast.Subscript(value=ast.Attribute(value=name("np"), attr="s_",
                                                      ctx=ast.Load()),
                                  slice=copy.deepcopy(op.bound["index"]), ctx=ast.Load())
            return [assign(self.adjoint(var), call("add_at", name(self.adjoint(var)), index,
                                                   upstream))]
        if op.kind == "rule":
            return self.from_rule(op, upstream)
        if op.kind == "call":
            return self.from_call(op, upstream, outputs=1)
        if op.kind == "pack" and target in self.p.lists:
            code = []
            for i, element in enumerate(stmt.value.elts):
                code += self.accumulate(element, call("list_entry", copy.deepcopy(upstream),
                                                      ast.Constant(i), copy.deepcopy(element)))
            return code
        if op.kind == "pack":
            raise UnsupportedSyntaxError(
                "a tuple or list holding differentiated values, stored in a variable",
                self.p.src.where(stmt.value), "pass the values to the function directly")
        return []

    def backward_of_unpacking(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``a, b = helper(x)``: the helper's adjoint takes one cotangent per result (zero for
        results whose adjoint nothing wrote)."""
        targets = assigned_names(stmt)
        if not any(self.is_active(t) and t in self.live for t in targets):
            return []
        op = self.p.ops[stmt]
        upstream = ast.Tuple(elts=[name(self.adjoint(t)) if t in self.live and self.is_active(t)
                                   else call("zeros_like", name(t)) for t in targets],
                             ctx=ast.Load())
        self.live -= set(targets)
        self.owned -= set(targets)
        if op.kind != "call":
            return []
        return self.from_call(op, upstream, outputs=len(targets))

    def from_list_read(self, op: Op, upstream: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        """``h = hs[i]`` on a list: the list's adjoint is a list, entry i receives dh."""
        var, index = op.bound["x"].id, op.bound["index"]
        if not isinstance(index, (ast.Name, ast.Constant)):
            raise UnsupportedSyntaxError(f"reading {var}[{ast.unparse(index)}] from a list",
                                         self.p.src.where(stmt.value), "index lists with integers")
        if not self.is_active(var):
            return []
        current = name(self.adjoint(var)) if var in self.live else call("list_zeros", name(var))
        self.live.add(var)
        return [assign(self.adjoint(var), call("list_add_at", current, copy.deepcopy(index),
                                               upstream))]

    def backward_of_append(self, stmt: ast.Expr) -> list[ast.stmt]:
        """``hs.append(h)``: h receives the adjoint of the last entry; both lists shrink, so
        that their lengths match the forward sweep at every point of the backward sweep."""
        var, value = stmt.appends_to, stmt.value.args[0]
        if not self.is_active(var):
            return []
        shrink = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(var), attr="pop",
                                                            ctx=ast.Load()),
                                         args=[], keywords=[]))
        if var not in self.live:
            return [shrink]
        code = self.accumulate(value, call("pop_adjoint", name(self.adjoint(var)), name(var)))
        if code:
            return code
        drop = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(self.adjoint(var)),
                                                          attr="pop", ctx=ast.Load()),
                                       args=[], keywords=[]))
        return [drop, shrink]

    def backward_of_write(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``x[i] = v``: v receives what flowed into those entries, which then start at 0."""
        target = stmt.targets[0]
        var = target.value.id
        if not self.is_active(var) or var not in self.live:
            return []
        dvar = name(self.adjoint(var))
        in_place = var in self.owned
        picked = ast.Subscript(value=dvar, slice=copy.deepcopy(target.slice), ctx=ast.Load())
        if self.may_repeat(target.slice):  # x[[0, 0, 1]] = v: only the last write is kept
            picked = call("written_part", copy.deepcopy(dvar), index_expression(target.slice))
        elif in_place:  # cleared in place next: x[i] of a 2-D array is a view, so detach it
            picked = call("detached", picked)
        def kept(g):  # an array of integers truncates what is written: no derivative then
            if var in self.float_arrays:
                return g
            return call("kept_if", g, call("is_inexact", name(var)))

        helper = "clear_at" if in_place else "zero_entries"
        cleared = call(helper, copy.deepcopy(dvar), index_expression(target.slice))
        if var in atom_names(stmt.value):
            # x[i] = x: the entries are cleared first, then x (as read) receives them
            taken = self.namer.temp()
            if not (isinstance(picked, ast.Call) and picked.func.id in ("written_part",
                                                                          "detached")):
                picked = call("detached", picked)
            code = [assign(taken, picked), assign(self.adjoint(var), cleared)]
            self.owned.add(var)
            return code + self.accumulate(stmt.value, call("unbroadcast", kept(name(taken)),
                                                           copy.deepcopy(stmt.value)))
        picked = kept(picked)
        code = self.accumulate(stmt.value, call("unbroadcast", picked, copy.deepcopy(stmt.value)))
        self.owned.add(var)  # zero_entries returns a copy; clear_at keeps our own array
        return code + [assign(self.adjoint(var), cleared)]

    def may_repeat(self, index: ast.expr) -> bool:
        """Can the index name one entry twice (an integer array)? Not when it is made of
        slices, constants and names known to be numbers."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return not all(isinstance(p, (ast.Slice, ast.Constant)) or self.p.is_scalar(p)
                       for p in parts)

    def owns(self, atom: ast.expr) -> bool:
        return (isinstance(atom, ast.Name) and self.is_active(atom.id)
                and atom.id in self.live and atom.id in self.owned)

    def from_rule(self, op: Op, upstream: ast.expr) -> list[ast.stmt]:
        inst = instantiate(op.rule.template, op.bound, upstream, self.namer.temp, self.p.is_scalar)
        code: list[ast.stmt] = []
        for c in inst.contributions:
            code += self.accumulate(c.target, c.value)
        return drop_unused(inst.locals, code)

    def from_call(self, op: Op, upstream: ast.expr, outputs: int) -> list[ast.stmt]:
        active = [p for p, atom in op.bound.items()
                  if any(self.is_active(n) for n in atom_names(atom))]
        for p in active:
            if not isinstance(op.bound[p], ast.Name):
                raise UnsupportedSyntaxError(
                    f"passing a tuple of differentiated values to {op.label}",
                    self.p.src.where(op.call), "pass each value as its own argument")
        if not active:
            return []
        params = list(inspect.signature(op.callee).parameters)
        wrt = tuple(p for p in params if p in active)
        scalars = frozenset(p for p, atom in op.bound.items()
                            if is_number(atom) or self.p.is_scalar(atom))
        floats = frozenset(p for p, atom in op.bound.items() if is_float_atom(atom, self.p.floats))
        callee = self.module.adjoint_of(op.callee, wrt, returns_value=False,
                                        call_site=self.p.src.where(op.call), scalars=scalars,
                                        floats=floats)
        if callee.outputs != outputs:
            raise UnsupportedSyntaxError(
                f"{op.label} returns {callee.outputs} values, used here as {outputs}",
                self.p.src.where(op.call),
                "unpack its results into names where you call it: a, b = helper(x)")
        invocation = ast.Call(func=name(callee.name), args=copy.deepcopy(op.call.args),
                              keywords=copy.deepcopy(op.call.keywords) +
                              [ast.keyword(arg=callee.cotangent, value=upstream)])
        atoms = [op.bound[p] for p in wrt]
        if len(atoms) == 1:
            return self.accumulate(atoms[0], invocation)
        names = [a.id for a in atoms]
        if len(set(names)) == len(names) and not set(names) & self.live:
            # every adjoint is written for the first time: unpack straight into them
            self.live.update(names)
            targets = [name(self.adjoint(n), store=True) for n in names]
            return [assign(ast.Tuple(elts=targets, ctx=ast.Store()), invocation)]
        return self.accumulate(ast.Tuple(elts=atoms, ctx=ast.Load()), invocation)

