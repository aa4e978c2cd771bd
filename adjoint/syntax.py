"""Facts about the user's syntax that normalization reads: what is refused (and what to
write instead), where loops jump and return, which names are lists or written in place.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

# Statements with no derivative meaning that we refuse, each with what to write instead.
UNSUPPORTED_STATEMENTS: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "move error handling outside the differentiated function"),
    ast.With: ("a with statement", "enter the context outside the differentiated function"),
    ast.AsyncWith: ("async with", "differentiate synchronous numeric code only"),
    ast.AsyncFor: ("async for", "differentiate synchronous numeric code only"),
    ast.AsyncFunctionDef: ("an async function", "differentiate synchronous numeric code only"),
    ast.FunctionDef: ("a nested function definition", "define the helper at module level"),
    ast.ClassDef: ("a class definition", "define the class at module level"),
    ast.Global: ("a global statement", "pass the value in as an argument and return it"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in as an argument and return it"),
    ast.Delete: ("a del statement", "drop the del; the variable simply goes unused"),
    ast.Import: ("an import inside the function", "import at module level"),
    ast.ImportFrom: ("an import inside the function", "import at module level"),
    ast.Raise: ("a raise statement", "validate inputs before calling the gradient"),
}
if hasattr(ast, "TryStar"):
    UNSUPPORTED_STATEMENTS[ast.TryStar] = UNSUPPORTED_STATEMENTS[ast.Try]
if hasattr(ast, "Match"):
    UNSUPPORTED_STATEMENTS[ast.Match] = ("a match statement", "use if/elif/else")

UNSUPPORTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    ast.Lambda: ("a lambda", "define a module-level function with def"),
    ast.ListComp: ("a list comprehension", "use a for loop, or a vectorised NumPy expression"),
    ast.SetComp: ("a set comprehension", "use a for loop (set and dict comprehensions "
                  "come with container support)"),
    ast.DictComp: ("a dict comprehension", "use a for loop (dict comprehensions come with "
                   "container support)"),
    ast.GeneratorExp: ("a generator expression", "use a for loop, or a NumPy reduction"),
    ast.Yield: ("yield", "return a value; generators cannot be differentiated"),
    ast.YieldFrom: ("yield from", "return a value; generators cannot be differentiated"),
    ast.Await: ("await", "differentiate synchronous numeric code only"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign on its own line first"),
    ast.Starred: ("star-unpacking (*args)", "pass the arguments one by one"),
    ast.Dict: ("a dict literal", "pass arrays or scalars as separate variables"),
    ast.Set: ("a set literal", "use a tuple"),
}




@dataclass
class Loop:
    """The loop being normalized: the flag that records a break or continue, if any."""

    broke: str | None = None  # True once break ran (only for loops with an else block)


@dataclass
class Early:
    """Names used when a function returns from inside a branch or loop: ``result``, or one
    name per element when every return gives a tuple of the same length (a tuple held in a
    variable would carry no adjoint)."""

    result: str
    parts: list[str] | None = None


def contains_return(stmt: ast.stmt) -> bool:
    return any(isinstance(node, ast.Return) for node in walk_own(stmt))


def jumps(stmt: ast.stmt) -> bool:
    """Does the statement run a break or continue of the loop it sits in?"""
    if isinstance(stmt, (ast.Break, ast.Continue)):
        return True
    if isinstance(stmt, (ast.For, ast.While)):
        # break/continue in its body belong to it; in its else block, to the enclosing loop
        return any(jumps(s) for s in stmt.orelse)
    return any(jumps(child) for child in ast.iter_child_nodes(stmt) if isinstance(child, ast.stmt))


def has_break(body: list[ast.stmt]) -> bool:
    """Does this loop body break out of its loop (an inner loop's else block included)?"""
    for stmt in body:
        if isinstance(stmt, ast.Break):
            return True
        inner = stmt.orelse if isinstance(stmt, (ast.For, ast.While)) else [
            c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.stmt)]
        if has_break(inner):
            return True
    return False


GUARD = ast.Pass()  # origin of synthetic guards: they quote no user statement


def is_list_append(call: ast.expr, local: set[str]) -> bool:
    """``hs.append(v)`` on a local variable, with one positional argument."""
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append" and isinstance(call.func.value, ast.Name)
            and call.func.value.id in local and len(call.args) == 1 and not call.keywords)


def is_call_to(node: ast.expr, name: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == name)


def written_in_place(body: list[ast.stmt]) -> set[str]:
    """Names of arrays the function writes into: ``x[i] = ...`` or ``x[i] += ...``."""
    found = set()
    for stmt in body:
        for node in ast.walk(stmt):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    found.add(t.value.id)
    return found


def list_names(fn: ast.FunctionDef) -> set[str]:
    """Names bound to a list or tuple display, or appended to: their entries are not views."""
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "append" and isinstance(node.func.value, ast.Name):
            found.add(node.func.value.id)
    return found


def augmented_names(body: list[ast.stmt]) -> set[str]:
    """Names changed by augmented assignment (``x += v``): in place, if they hold arrays."""
    return {node.target.id for stmt in body for node in ast.walk(stmt)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)}


def loop_assigned(stmt: ast.For | ast.While, prelude: list[ast.stmt]) -> set[str]:
    """Names a loop binds in its header or body (and its prelude's targets)."""
    targets = [stmt.target] if isinstance(stmt, ast.For) else []
    found = {n.id for part in targets for n in ast.walk(part) if isinstance(n, ast.Name)}
    for s in list(stmt.body) + list(prelude):
        found |= {n.id for n in ast.walk(s)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return found


def walk_own(node: ast.AST):
    """Like ast.walk, but not into nested function or class definitions."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from walk_own(child)


def local_names(fn: ast.FunctionDef) -> set[str]:
    """Parameters and every name the body assigns: these shadow globals of the same name."""
    found = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
    return found


def dotted_root(node: ast.expr) -> str | None:
    """``np`` for ``np.linalg.norm``; None when the expression is not a dotted name."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, bool)

