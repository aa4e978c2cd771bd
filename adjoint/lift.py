"""LIFT: nested function definitions and lambdas become helpers of their own.

A ``def`` (or a ``name = lambda ...``) inside the differentiated function is lifted out of
it: the enclosing locals it reads become its first parameters, and every call passes them.
Passing the values at each call is what a closure does (it reads the variables when it is
called), so the helper sees the same values; the lifted helper is then differentiated like
any other user function (the generated code shows the call, ``step(a, s)``).

>>> import ast
>>> fn = ast.parse('''
... def f(x, a):
...     def step(s):
...         return s * a
...     sq = lambda v: v * v
...     return step(x) + sq(x)''').body[0]
>>> new, lifted = lift_tree(fn, lambda node: None)
>>> print(ast.unparse(new))
def f(x, a):
    return step(a, x) + sq(x)
>>> print(ast.unparse(lifted[0]))
def step(a, s):
    return s * a
>>> print(ast.unparse(lifted[1]))
def sq(v):
    return v * v

Closures that write enclosing names (``nonlocal``), nested functions used as values (passed,
returned, stored) and defaults that are not constants are refused at their line.
"""
from __future__ import annotations

import ast
import copy
import types
import weakref
from collections.abc import Callable

from .errors import Location, UnsupportedSyntaxError


class ClosureError(UnsupportedSyntaxError):
    """A nested function or lambda that cannot be lifted to a helper of its own."""


NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(node: ast.AST):
    """Nodes of ``node``'s body: nested definitions, but not what is inside them."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, NESTED):
            yield from _own_nodes(child)


def _nested_definitions(fn: ast.FunctionDef) -> list[tuple[str, ast.AST, ast.stmt]]:
    """(name, def or lambda, the statement defining it), in the order of the source."""
    found = []
    for node in _own_nodes(fn):
        if isinstance(node, ast.FunctionDef):
            found.append((node.name, node, node))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and len(
                node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.append((node.targets[0].id, node.value, node))
    return sorted(found, key=lambda item: (item[2].lineno, item[2].col_offset))


def _parameters(args: ast.arguments) -> set[str]:
    params = args.posonlyargs + args.args + args.kwonlyargs
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    return {a.arg for a in params}


def _locals(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    found = _parameters(fn.args)
    for node in ast.walk(fn) if isinstance(fn, ast.Lambda) else _own_nodes(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found


def lift_tree(fn: ast.FunctionDef, where: Callable[[ast.AST], Location | None]
              ) -> tuple[ast.FunctionDef, list[ast.FunctionDef]]:
    """``fn`` without its nested definitions (their calls pass what they capture) and the
    lifted definitions."""
    nested = _nested_definitions(fn)
    if not nested:
        return fn, []
    enclosing = _locals(fn)
    names = [name for name, _, _ in nested]
    stores = [n.id for n in _own_nodes(fn) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)] + [d.name for _, d, _ in nested
                                                   if isinstance(d, ast.FunctionDef)]

    def refuse(node, what, hint):
        return ClosureError(what, where(node), hint)

    captured: dict[str, list[str]] = {}
    for name, node, stmt in nested:
        if stores.count(name) != 1:
            raise refuse(stmt, f"the nested function {name!r} is defined more than once or "
                         "its name is assigned too", "give each function a name of its own")
        check_liftable(name, node, refuse)
        body_locals = _locals(node)
        reads = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                 and isinstance(n.ctx, ast.Load) and n.id not in body_locals]
        mine: list[str] = []
        for read in reads:
            if read in captured:  # a helper lifted before: what it captures, this one too
                mine += [c for c in captured[read] if c not in mine]
            elif read in enclosing and read not in names and read not in mine:
                mine.append(read)
            elif read == name:
                raise refuse(node, f"the nested function {name!r} calls itself",
                             "write the recursion as a loop")
        captured[name] = mine

    lifted = []
    for name, node, _ in nested:
        lifted.append(_as_helper(name, node, captured[name], captured, refuse))
    new = copy.copy(fn)
    new.body = _without_definitions(fn.body, {id(s) for _, _, s in nested})
    new = _CallsPass(captured, refuse).visit(new)
    return new, lifted


def check_liftable(name: str, node: ast.AST, refuse) -> None:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Nonlocal, ast.Global)):
            kind = "nonlocal" if isinstance(sub, ast.Nonlocal) else "global"
            raise refuse(sub, f"the nested function {name!r} rebinds {', '.join(sub.names)} "
                         f"({kind})", "return the new value from the function and assign it "
                         "where it is called")
    if isinstance(node, ast.FunctionDef) and node.decorator_list:
        raise refuse(node, f"a decorated nested function ({name!r})",
                     "define it at module level")
    for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
        try:
            ast.literal_eval(default)
        except ValueError:
            raise refuse(default, f"a default of the nested function {name!r} that is not "
                         "a constant", "pass the value as an argument") from None


def _as_helper(name: str, node: ast.AST, mine: list[str], captured, refuse) -> ast.FunctionDef:
    if isinstance(node, ast.Lambda):
        body = [ast.copy_location(ast.Return(value=copy.deepcopy(node.body)), node.body)]
        helper = ast.FunctionDef(name=name, args=copy.deepcopy(node.args), body=body,
                                 decorator_list=[], returns=None, type_comment=None)
        if hasattr(helper, "type_params"):
            helper.type_params = []
        helper = ast.copy_location(helper, node)
        helper.end_lineno, helper.end_col_offset = node.end_lineno, node.end_col_offset
    else:
        helper = copy.deepcopy(node)
    extra = [ast.copy_location(ast.arg(arg=c), node) for c in mine]
    if helper.args.posonlyargs:
        helper.args.posonlyargs = extra + helper.args.posonlyargs
    else:
        helper.args.args = extra + helper.args.args
    return ast.fix_missing_locations(_CallsPass(captured, refuse).visit(helper))


def _without_definitions(body: list[ast.stmt], remove: set[int]) -> list[ast.stmt]:
    out = []
    for stmt in body:
        if id(stmt) in remove:
            continue
        stmt = copy.copy(stmt)
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, field, None), list):
                setattr(stmt, field, _without_definitions(getattr(stmt, field), remove))
        out.append(stmt)
    return out or ([ast.Pass()] if body else [])  # a block emptied keeps a statement


class _CallsPass(ast.NodeTransformer):
    """Calls of lifted functions pass what they capture; other uses are refused."""

    def __init__(self, captured: dict[str, list[str]], refuse):
        self.captured, self.refuse = captured, refuse

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        if isinstance(func, ast.Name) and func.id in self.captured:
            extra = [ast.copy_location(ast.Name(id=c, ctx=ast.Load()), func)
                     for c in self.captured[func.id]]
            node.args = extra + node.args
            return node
        node.func = self.visit(func)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.captured and isinstance(node.ctx, ast.Load):
            raise self.refuse(node, f"the nested function {node.id!r} used as a value (not "
                              "called)", "call it where it is defined, or define it at "
                              "module level and pass what it needs as arguments")
        return node


# -- live helpers -------------------------------------------------------------------------------
def lift_source(src):
    """``src`` (a source.Source) with its nested definitions lifted: each becomes a live
    function, found by its name through the Source's closure cells. The lifted functions
    find each other through their globals (a copy of the module's, with them added), where
    Numba looks for the functions a function calls."""
    from .source import Source

    tree, lifted = lift_tree(src.tree, src.where)
    if not lifted:
        return src
    namespace = dict(src.globals)
    cells = dict(src.cells)
    for helper in lifted:
        namespace[helper.name] = _live(helper, src, namespace, cells,
                                       [h.name for h in lifted])
    for helper in lifted:
        cells[helper.name] = types.CellType(namespace[helper.name])
    return Source(src.fn_ref, tree, src.filename, src.file_lines, src.globals, cells)


def _live(helper: ast.FunctionDef, src, namespace: dict, cells: dict,
          lifted: list[str]) -> types.FunctionType:
    from .source import _FUTURE_FLAGS, Source, _find_code

    free = tuple(src.cells)  # the enclosing function's own closure stays a closure
    args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
    outer = ast.FunctionDef(
        name="_adjoint_outer", args=args, decorator_list=[], returns=None, type_comment=None,
        body=[ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=ast.Constant(None))
              for n in free] + [copy.deepcopy(helper)])
    if hasattr(outer, "type_params"):
        outer.type_params = []
    module = ast.fix_missing_locations(ast.Module(body=[outer], type_ignores=[]))
    fn = src.fn
    flags = fn.__code__.co_flags & _FUTURE_FLAGS if fn is not None else 0
    code = _find_code(compile(module, src.filename, "exec", flags, dont_inherit=True),
                      helper.name)
    defaults = tuple(ast.literal_eval(d) for d in helper.args.defaults) or None
    live = types.FunctionType(code, namespace, helper.name, defaults,
                              tuple(src.cells[n] for n in code.co_freevars) or None)
    kwdefaults = {a.arg: ast.literal_eval(d) for a, d in zip(helper.args.kwonlyargs,
                                                             helper.args.kw_defaults) if d}
    live.__kwdefaults__ = kwdefaults or None
    if fn is not None:
        live.__module__ = fn.__module__
        live.__qualname__ = f"{fn.__qualname__}.<locals>.{helper.name}"
    ref = weakref.ref(live)
    # its own source: what it reads is looked up in the enclosing function's closure, the
    # other lifted functions, then the module
    live.__adjoint_source__ = lambda: lift_source(Source(
        ref, copy.deepcopy(helper), src.filename, src.file_lines, src.globals,
        {**cells, **{n: types.CellType(namespace[n]) for n in lifted}}))
    return live
