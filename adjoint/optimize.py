"""Small clean-up passes over a generated function, each independent of the others."""
from __future__ import annotations

import ast
import inspect

from . import runtime
from .ir import statements
from .names import Namer


def renumber_temporaries(fn: ast.FunctionDef, namer: Namer) -> ast.FunctionDef:
    """Number temporaries t1, t2, ... in the order a reader meets them, top to bottom.

    Temporaries come from several passes (normalization, splitting ``x = x * 2``, rule
    locals), so their creation order is not reading order. The renaming permutes the set
    of temporary names, and the adjoint of each temporary follows its temporary.
    """
    temps = set(namer.temporaries())
    adjoint_to_temp = {namer.adjoint_if_any(t): t for t in temps if namer.adjoint_if_any(t)}
    first: dict[str, int] = {}  # temporary -> index of the first statement that mentions it
    for i, stmt in enumerate(statements(fn.body)):
        for node in own_nodes(stmt):
            if isinstance(node, ast.Name):
                t = node.id if node.id in temps else adjoint_to_temp.get(node.id)
                if t is not None and t not in first:
                    first[t] = i
    order = sorted(first, key=lambda t: (first[t], int(t[1:])))
    mapping = dict(zip(order, sorted(order, key=lambda t: int(t[1:]))))
    renamed = {old: new for old, new in mapping.items()}
    for old, new in mapping.items():
        old_adj = namer.adjoint_if_any(old)
        if old_adj:
            renamed[old_adj] = namer.adjoint(new)
    seen: set[int] = set()  # a node shared by two statements is renamed once
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and id(node) not in seen:
            seen.add(id(node))
            node.id = renamed.get(node.id) or derived_name(node.id, mapping)
    return fn


def derived_name(name: str, mapping: dict[str, str]) -> str:
    """``t3_stack`` (and the tangent ``t3_dot``) follow their temporary ``t3`` when it is
    renumbered."""
    base, sep, rest = name.partition("_")
    suffixes = rest.rstrip("0123456789").split("_")
    if sep and base in mapping and all(s in DERIVED_SUFFIXES for s in suffixes):
        return f"{mapping[base]}_{rest}"
    return name


DERIVED_SUFFIXES = {"stack", "saved", "dot", "snapshots", "shape"}


def own_nodes(stmt: ast.stmt):
    """The nodes of a statement without its nested blocks (a loop's header, not its body)."""
    for field, value in ast.iter_fields(stmt):
        if field in ("body", "orelse"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                yield from ast.walk(item)


def drop_default_arguments(fn: ast.FunctionDef) -> ast.FunctionDef:
    """``unreduce(g, x, None, False)`` -> ``unreduce(g, x)``: trailing arguments of runtime
    helpers that equal the helper's own defaults say nothing to a reader."""
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in runtime.__all__ and not node.keywords):
            continue
        params = list(inspect.signature(getattr(runtime, node.func.id)).parameters.values())
        while node.args and len(node.args) <= len(params):
            param, arg = params[len(node.args) - 1], node.args[-1]
            if (param.default is inspect.Parameter.empty or not isinstance(arg, ast.Constant)
                    or arg.value != param.default or type(arg.value) is not type(param.default)):
                break
            node.args.pop()
    return fn


def propagate_copies(fn: ast.FunctionDef, renamable: set[str]) -> ast.FunctionDef:
    """``dc = dd`` followed by reads of ``dc``: read ``dd`` instead and drop the copy.

    Only for names in ``renamable`` (adjoints) that are bound once in the whole function,
    read only later in the same block, not returned, and whose source is not rebound before
    the last of those reads: then both names hold the same object at every read, so the
    substitution changes nothing but the text.
    """
    stores, loads, returned = _name_counts(fn)
    for block in list(_blocks(fn.body)):
        k = 0
        while k < len(block):
            if _is_self_copy(block[k]):  # ``du = du`` left by an earlier substitution
                del block[k]
                continue
            copied = _copy_of(block[k], renamable, stores, returned)
            if copied is not None and _substitute_later(block, k, *copied, loads):
                loads[copied[1]] += loads.pop(copied[0], 0)
                stores[copied[0]] = 0
                del block[k]
                continue
            k += 1
    _fill_empty_blocks(fn.body)
    _drop_orphan_comments(fn.body)  # the comments of code dropped above, and of branches
    _fill_empty_blocks(fn.body)
    return fn


def _fill_empty_blocks(body: list[ast.stmt]) -> None:
    """A branch or loop body whose only code was a copy (``dt3 = dm0; dm0 = dt3``) is now
    empty: a branch with nothing on either side goes, any other empty body gets ``pass``."""
    kept = []
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            _fill_empty_blocks(stmt.body)
            _fill_empty_blocks(stmt.orelse)
            empty = not [s for s in stmt.body if not isinstance(s, ast.Pass)
                         and getattr(s, "comment", None) is None]
            if empty and isinstance(stmt, ast.If) and not stmt.orelse and _is_plain_test(
                    stmt.test):
                continue
            if empty:
                stmt.body = [ast.Pass()]
        kept.append(stmt)
    body[:] = kept


def _is_plain_test(test: ast.expr) -> bool:
    """A recorded condition (``t2`` or ``not t2``): reading it has no effect."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    return isinstance(test, ast.Name)


def _name_counts(fn: ast.FunctionDef) -> tuple[dict[str, int], dict[str, int], set[str]]:
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    returned: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            table = loads if isinstance(node.ctx, ast.Load) else stores
            table[node.id] = table.get(node.id, 0) + 1
        elif isinstance(node, ast.Return) and node.value is not None:
            returned |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            stores[node.target.id] = stores.get(node.target.id, 0) + 1  # also a store
    return stores, loads, returned


def _blocks(body: list[ast.stmt]):
    yield body
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                yield from _blocks(inner)


def _is_self_copy(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Name)
            and stmt.targets[0].id == stmt.value.id)


def _copy_of(stmt: ast.stmt, renamable: set[str], stores: dict[str, int],
             returned: set[str]) -> tuple[str, str] | None:
    """(copy, source) for ``copy = source`` when the copy may be replaced by its source."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Name)):
        return None
    copy_name, source = stmt.targets[0].id, stmt.value.id
    if (copy_name not in renamable or copy_name == source or stores.get(copy_name) != 1
            or copy_name in returned):
        return None
    return copy_name, source


def _substitute_later(block: list[ast.stmt], k: int, copy_name: str, source: str,
                      loads: dict[str, int]) -> bool:
    """Replace the reads of ``copy_name`` after ``block[k]`` by ``source``, if every read
    of it is there and ``source`` is not rebound before the last one."""
    reads = [[n for n in ast.walk(s) if isinstance(n, ast.Name) and n.id == copy_name]
             for s in block[k + 1:]]
    if sum(map(len, reads)) != loads.get(copy_name, 0):
        return False  # read elsewhere too (another block, or before the copy)
    last = max((i for i, r in enumerate(reads) if r), default=-1)
    for i, stmt in enumerate(block[k + 1:k + 2 + last]):
        rebinds = any(isinstance(n, ast.Name) and n.id == source
                      and not isinstance(n.ctx, ast.Load) for n in ast.walk(stmt))
        # the last reader may rebind the source after reading it: ``dd = dc * 2``
        simple_last = i == last and isinstance(stmt, ast.Assign)
        if rebinds and not simple_last:
            return False
    for nodes in reads:
        for node in nodes:
            node.id = source
    return True


def _drop_orphan_comments(body: list[ast.stmt]) -> None:
    """A comment quoting a user statement whose code was dropped: the next line is another
    comment of that kind, or the block ends."""
    keep = []
    for i, stmt in enumerate(body):
        for field in ("body", "orelse"):
            if getattr(stmt, field, None):
                _drop_orphan_comments(getattr(stmt, field))
        following = body[i + 1] if i + 1 < len(body) else None
        if _is_quote(stmt) and (following is None or _is_quote(following)
                                or isinstance(following, ast.Return)):
            continue
        keep.append(stmt)
    body[:] = keep


def _is_quote(stmt: ast.stmt) -> bool:
    text = getattr(stmt, "comment", None)
    return text is not None and text not in ("forward sweep", "backward sweep")


def drop_unread_saves(fn: ast.FunctionDef, save_stacks: set[str]) -> ast.FunctionDef:
    """A save stack (of ``save_stacks``, never a list of the user's) whose popped values the
    backward sweep no longer reads (the code that read them was a copy, read through): its
    pushes, pops and creation go, and so does a backward loop left with nothing to do."""
    start = next((i for i, s in enumerate(fn.body)
                  if getattr(s, "comment", None) == "backward sweep"), None)
    if start is None:
        return fn
    backward_reads = {n.id for s in fn.body[start:] for n in ast.walk(s)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stacks = {s.targets[0].id for s in fn.body[:start] if isinstance(s, ast.Assign)
              and isinstance(s.value, ast.List) and not s.value.elts
              and isinstance(s.targets[0], ast.Name) and s.targets[0].id in save_stacks}
    pops: dict[str, set[str]] = {}
    for node in ast.walk(fn):
        stack = _popped_stack(node.value) if isinstance(node, (ast.Assign, ast.Expr)) else None
        if stack in stacks:
            targets = node.targets if isinstance(node, ast.Assign) else []
            pops.setdefault(stack, set()).update(
                n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    unread = {s for s in stacks if s in pops and not pops[s] & backward_reads}
    if unread:
        _drop_stack_code(fn.body, unread)
        _drop_orphan_comments(fn.body)
        _fill_empty_blocks(fn.body)
    return fn


def _popped_stack(value: ast.expr) -> str | None:
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("pop", "append") and isinstance(value.func.value, ast.Name)):
        return value.func.value.id
    return None


def _drop_stack_code(body: list[ast.stmt], stacks: set[str]) -> None:
    kept = []
    for stmt in body:
        if isinstance(stmt, (ast.Assign, ast.Expr)) and (
                _popped_stack(stmt.value) in stacks or isinstance(stmt, ast.Assign) and
                isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id in stacks):
            continue
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            _drop_stack_code(stmt.body, stacks)
            _drop_stack_code(stmt.orelse, stacks)
            if isinstance(stmt, ast.For) and not _has_code(stmt.body) and isinstance(
                    stmt.iter, ast.Call) and ast.unparse(stmt.iter.func) == "range":
                continue  # a backward loop with nothing left to do
            if not _has_code(stmt.body):
                stmt.body = [ast.Pass()]
        kept.append(stmt)
    body[:] = kept


def _has_code(body: list[ast.stmt]) -> bool:
    return any(not isinstance(s, ast.Pass) and getattr(s, "comment", None) is None
               for s in body)
