"""Keep only the shape of a value that the backward sweep reads only for its shape.

Rules read an operand's shape to undo broadcasting (``unbroadcast(g, x)``) or to restore a
layout (``np.shape(x)``). When that is all the backward sweep reads of ``x``, and ``x`` is
bound inside a loop or more than once (so that saving it would cost one array per
binding), the forward sweep records ``x_shape = np.shape(x)`` right after each binding of
``x`` and the backward sweep reads that instead: ``sum_to_shape(g, x_shape)``. The save
planner then keeps a tuple per iteration, not an array. An explicit heat equation written
with slices keeps one array per step instead of seven.
"""
from __future__ import annotations

import ast
import copy

from .backward import Chunk
from .ir import assign, call, is_element_write, is_loop, name, statements
from .prepare import Prepared
from .resolve import Op, assigned_names


def keep_shapes_only(p: Prepared, chunks: list[Chunk]) -> None:
    """Rewrite shape-only reads in ``chunks`` and bind the shapes in ``p.body``."""
    candidates = bound_repeatedly(p.body) - set(p.params)
    reads: dict[str, list[tuple[ast.AST, ast.AST | None]]] = {}
    for node, parent in loads(chunks):
        reads.setdefault(node.id, []).append((node, parent))
    shapes = {}
    for var in sorted(candidates & reads.keys()):
        if all(shape_read(node, parent) for node, parent in reads[var]):
            shapes[var] = p.namer.fresh(f"{var}_shape")
    if not shapes:
        return
    rewrite(chunks, ReadShapes(shapes))
    p.locals |= set(shapes.values())
    bind_shapes(p, p.body, chunks, shapes)


def bound_repeatedly(body: list[ast.stmt]) -> set[str]:
    """Variables bound inside a loop, or more than once: a save would cost a copy each."""
    counts: dict[str, int] = {}
    for stmt in statements(body):
        if isinstance(stmt, ast.Assign) and not is_element_write(stmt):
            for var in assigned_names(stmt):
                counts[var] = counts.get(var, 0) + 1
    in_loops = {var for stmt in statements(body) if is_loop(stmt)
                for inner in statements(stmt.body) if isinstance(inner, ast.Assign)
                for var in assigned_names(inner)}
    return {var for var, n in counts.items() if n > 1} | in_loops


def loads(chunks: list[Chunk]):
    """(name node, its parent) for every name the backward code of ``chunks`` reads."""
    for chunk in chunks:
        for stmt in chunk.code + chunk.header:
            for parent in ast.walk(stmt):
                for child in ast.iter_child_nodes(parent):
                    if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                        yield child, parent
        for block in chunk.children:
            yield from loads(block)


def shape_read(node: ast.Name, parent: ast.AST) -> bool:
    """``unbroadcast(g, x)`` (x second), ``np.shape(x)`` or ``x.shape``."""
    if isinstance(parent, ast.Attribute):
        return parent.attr == "shape"
    if not isinstance(parent, ast.Call) or parent.keywords:
        return False
    func = ast.unparse(parent.func)
    if func == "unbroadcast":
        return len(parent.args) == 2 and parent.args[1] is node
    return func == "np.shape" and parent.args == [node]


class ReadShapes(ast.NodeTransformer):
    """``unbroadcast(g, x)`` -> ``sum_to_shape(g, x_shape)``; ``np.shape(x)`` and
    ``x.shape`` -> ``x_shape``, for the variables in ``shapes``."""

    def __init__(self, shapes: dict[str, str]):
        self.shapes = shapes

    def shape_of(self, node: ast.AST) -> str | None:
        return self.shapes.get(node.id) if isinstance(node, ast.Name) else None

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr == "shape" and self.shape_of(node.value):
            return name(self.shape_of(node.value))
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = ast.unparse(node.func)
        if func == "np.shape" and len(node.args) == 1 and self.shape_of(node.args[0]):
            return name(self.shape_of(node.args[0]))
        if func == "unbroadcast" and len(node.args) == 2 and self.shape_of(node.args[1]):
            return call("sum_to_shape", node.args[0], name(self.shape_of(node.args[1])))
        return node


def rewrite(chunks: list[Chunk], reader: ReadShapes) -> None:
    for chunk in chunks:
        for stmt in chunk.code + chunk.header:
            reader.visit(stmt)
        for block in chunk.children:
            rewrite(block, reader)


def bind_shapes(p: Prepared, stmts: list[ast.stmt], chunks: list[Chunk],
                shapes: dict[str, str]) -> None:
    """After every binding of a variable in ``shapes``: ``x_shape = np.shape(x)``."""
    def record_of(stmt: ast.stmt, var: str) -> ast.stmt:
        record = ast.copy_location(assign(shapes[var], shape_expression(stmt, var)), stmt)
        record.origin = stmt.origin
        record.shape_record = True
        p.ops[record] = Op("zero", "shape")
        return record
    bind_records(stmts, chunks, set(shapes), record_of)


def bind_records(stmts: list[ast.stmt], chunks: list[Chunk], names: set[str],
                 record_of) -> None:
    """After every binding of a variable in ``names`` (an assignment, or a loop's target:
    at the top of its body), the statement ``record_of(binding, var)``, with an empty chunk
    beside it (it has no backward code) so both lists stay aligned."""
    k = 0
    while k < len(stmts):
        stmt, chunk = stmts[k], chunks[k]
        if isinstance(stmt, ast.If):
            bind_records(stmt.body, chunk.children[0], names, record_of)
            bind_records(stmt.orelse, chunk.children[1], names, record_of)
        elif is_loop(stmt):
            bind_records(stmt.body, chunk.children[0], names, record_of)
            if isinstance(stmt, ast.For):
                targets = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
                for var in sorted(targets & names):
                    record = record_of(stmt.body[0], var)
                    stmt.body.insert(0, record)
                    chunk.children[0].insert(0, Chunk(record))
        elif isinstance(stmt, ast.Assign) and not is_element_write(stmt):
            for var in assigned_names(stmt):
                if var in names:
                    k += 1
                    stmts.insert(k, record_of(stmt, var))
                    chunks.insert(k, Chunk(stmts[k]))
        k += 1


ELEMENTWISE = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def shape_expression(stmt: ast.Assign, var: str) -> ast.expr:
    """``np.shape(x)``; for ``x = a * b`` (elementwise, the rule's own NumPy broadcasting)
    ``broadcast_shape(a, b)`` instead: it reads only the operands,
    so where they can be computed again in a backward iteration (``a = x[i]``, never
    written) the shape is computed there too, and nothing is pushed per iteration. Right
    also for ``a = a * b``, read after the binding: broadcasting is idempotent, so the new
    ``a`` (the product) broadcast with ``b`` has the product's shape."""
    value = stmt.value if len(stmt.targets) == 1 and isinstance(
        stmt.targets[0], ast.Name) and stmt.targets[0].id == var else None
    operands = (
        [value.left, value.right] if isinstance(value, ast.BinOp) and isinstance(
            value.op, ELEMENTWISE) else
        [value.operand] if isinstance(value, ast.UnaryOp) and isinstance(
            value.op, (ast.USub, ast.UAdd)) else [])
    if not operands or not all(isinstance(o, (ast.Name, ast.Constant)) for o in operands):
        return call("np.shape", name(var))
    if len(operands) == 1:
        return call("np.shape", copy.deepcopy(operands[0]))
    return call("broadcast_shape", *map(copy.deepcopy, operands))
