"""Record whether a value holds floats where it is bound, for the backward sweep.

The adjoint of a write into an array of integers (``counts[i] = v`` truncates ``v``) or of
a cast (``y = x.astype(int)``) is zero; of the same into floats, the identity. The backward
sweep decides with ``kept_if(g, is_inexact(a))``, and ``a``'s dtype is all it reads of
``a``. Read as it is, ``a`` would have to be restored to its state at that point: every
element write after it would save the entry it overwrites (one push per iteration of an
element loop), for a dtype no element write can change. So the forward sweep records
``a_inexact = is_inexact(a)`` right after each binding of ``a`` (at the top for a
parameter, at the top of the loop body for a loop's target), and the backward sweep reads
that: one boolean per binding, nothing per write.

A variable bound in any other way (``with``, ``except``, an import) keeps the direct read.
"""
from __future__ import annotations

import ast

from .backward import Chunk
from .ir import assign, call, is_element_write, name
from .prepare import Prepared
from .resolve import Op, assigned_names
from .shapes import bind_records


def keep_kinds_only(p: Prepared, chunks: list[Chunk]) -> None:
    """Rewrite ``is_inexact(a)`` in ``chunks`` to ``a_inexact`` and bind it in ``p.body``.

    Not in the backward code of a statement that binds ``a`` itself (the adjoint of
    ``a = x.astype(int)``): that code runs where the record, made after the statement,
    is undone, and it reads the value the statement made, which is there anyway."""
    every = [(chunk, bound_by(chunk.stmt)) for chunk in simple_chunks(chunks)]
    wanted = set()
    for chunk, own in every:
        wanted |= {n.id for n in kind_reads(chunk)} - own
    kinds = {var: p.namer.fresh(f"{var}_inexact")
             for var in sorted(wanted & plainly_bound(p))}
    if not kinds:
        return
    for chunk, own in every:
        reader = ReadKinds({v: r for v, r in kinds.items() if v not in own})
        for stmt in chunk.code + chunk.header:
            reader.visit(stmt)
    p.locals |= set(kinds.values())
    for var in sorted(kinds.keys() & set(p.params), reverse=True):
        record = kind_record(kinds[var], var, p.body[0] if p.body else None, p)
        p.body.insert(0, record)
        chunks.insert(0, Chunk(record))
    bind_kinds(p, p.body, chunks, kinds)


def bound_by(stmt: ast.stmt) -> set[str]:
    """The names a statement binds (not an element write, which changes an array)."""
    if isinstance(stmt, ast.Assign) and not is_element_write(stmt):
        return set(assigned_names(stmt))
    return set()


def simple_chunks(chunks: list[Chunk]):
    """Every chunk, nested ones included (a compound statement's header too)."""
    for chunk in chunks:
        yield chunk
        for block in chunk.children:
            yield from simple_chunks(block)


def kind_reads(chunk: Chunk) -> list[ast.Name]:
    """The names ``a`` of the ``is_inexact(a)`` calls in a chunk's own backward code."""
    return [node.args[0] for stmt in chunk.code + chunk.header for node in ast.walk(stmt)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "is_inexact" and len(node.args) == 1
            and isinstance(node.args[0], ast.Name) and not node.keywords]


def plainly_bound(p: Prepared) -> set[str]:
    """Names bound only as parameters, assignment targets and loop targets."""
    plain, other = set(p.params), set()
    for node in ast.walk(ast.Module(body=p.body, type_ignores=[])):
        if isinstance(node, ast.Assign) and not is_element_write(node):
            plain |= set(assigned_names(node))
        elif isinstance(node, ast.For):
            plain |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.With, ast.ExceptHandler, ast.Import, ast.ImportFrom,
                               ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.Delete,
                               ast.FunctionDef, ast.Lambda, ast.comprehension)):
            other |= {n.id for n in ast.walk(node)
                      if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return plain - other


class ReadKinds(ast.NodeTransformer):
    """``is_inexact(a)`` -> ``a_inexact`` for the variables in ``kinds``."""

    def __init__(self, kinds: dict[str, str]):
        self.kinds = kinds

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "is_inexact" and \
                len(node.args) == 1 and isinstance(node.args[0], ast.Name) and \
                node.args[0].id in self.kinds:
            return name(self.kinds[node.args[0].id])
        return node


def kind_record(record_name: str, var: str, beside: ast.stmt | None, p: Prepared) -> ast.stmt:
    """``a_inexact = is_inexact(a)``, a statement with no derivative of its own."""
    record = assign(record_name, call("is_inexact", name(var)))
    if beside is not None:
        record = ast.copy_location(record, beside)
        record.origin = getattr(beside, "origin", beside)
    p.ops[record] = Op("zero", "is_inexact")
    return record


def bind_kinds(p: Prepared, stmts: list[ast.stmt], chunks: list[Chunk],
               kinds: dict[str, str]) -> None:
    """After every binding of a variable in ``kinds``, its record (shapes.bind_records)."""
    bind_records(stmts, chunks, set(kinds),
                 lambda stmt, var: kind_record(kinds[var], var, stmt, p))
