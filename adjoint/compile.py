"""COMPILE: execute the generated module with its text registered in ``linecache``, so
tracebacks, ``inspect.getsource`` and pdb show the generated lines.

Each generated function reads the names it shares with the user function the way that
function does: its globals are the user module's own dictionary (a user changing a
module-level constant sees the change on the next read, exactly as their own function
would), and the user's closure variables are the user's own cells. The names the generated
module binds itself (``np``, the runtime helpers, the other generated functions) are
closure cells of the generated function. So every read is one of CPython's fast paths (a
cell, or a global lookup in a plain dict) instead of a call to a Python ``__missing__``
per read, which cost 15x the arithmetic of a loop reading two module constants.
"""
from __future__ import annotations

import ast
import hashlib
import linecache
import types

from .reverse import AdjointFunction, AdjointModule


class LiveNamespace(dict):
    """Globals for generated code: its own names first, then the user function's closure
    cells (read at each use, so ``nonlocal`` rebinding is seen), then the user's module,
    live."""

    def __init__(self, fallback: dict, cells: dict):
        super().__init__()
        self.fallback = fallback
        self.cells = cells
        self["__builtins__"] = fallback.get("__builtins__", __builtins__)

    def __missing__(self, key: str):
        cell = self.cells.get(key)
        if cell is not None:
            try:
                return cell.cell_contents
            except ValueError:
                raise NameError(f"free variable {key!r} referenced before assignment in "
                                "enclosing scope") from None
        return self.fallback[key]


GENERATED_PREFIX = "<adjoint "


def is_generated(filename: str) -> bool:
    """Whether a function's file is generated code registered by ``register_source``."""
    return filename.startswith(GENERATED_PREFIX)


def register_source(text: str, label: str) -> str:
    """Put the text in linecache under a stable name derived from its content."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    filename = f"{GENERATED_PREFIX}{label} {digest}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return filename


def build(text: str, module: AdjointModule) -> dict[str, callable]:
    """Make the generated functions of ``text``, each reading the user's globals and
    closure cells live (see the module's docstring), linked to each other. Returns the
    callables by generated name."""
    filename = register_source(text, module.main.name)
    code = compile(text, filename, "exec")
    tree = ast.parse(text, filename)
    defs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    links = {fn.name: types.CellType() for fn in module.functions}
    functions = {}
    for fn in module.functions:
        ns = namespace_for(fn)
        exec(code, ns)  # the header's names, and the defaults as the def evaluates them
        made = ns[fn.name]
        if fn.name in defs:
            made = relinked(made, defs[fn.name], filename, ns, links, fn.source)
        functions[fn.name] = made
    for name, made in functions.items():
        links[name].cell_contents = made
    for fn in module.functions:
        # where its lines come from, for errors in code built from it (hvp under jit)
        functions[fn.name].__dict__[ORIGIN] = fn.source
    for fn in module.functions:
        use_live_defaults(functions[fn.name], fn.source.fn)
    return functions


def namespace_for(fn: AdjointFunction) -> LiveNamespace:
    src = fn.source
    ns = LiveNamespace(src.globals, src.cells)
    ns["__name__"] = f"{GENERATED_MODULE}.{fn.name}"
    return ns


GENERATED_MODULE = "adjoint.generated"
ORIGIN = "__adjoint_origin__"  # a generated function's attribute: the user's Source
_OUTER = "__adjoint_cells__"


def relinked(made: types.FunctionType, node: ast.FunctionDef, filename: str,
             ns: LiveNamespace, links: dict[str, types.CellType],
             src) -> types.FunctionType:
    """``made`` (executed in ``ns``) as a function whose globals are the user module's
    dictionary and whose free variables are cells: the names ``ns`` binds itself (the
    generated functions through ``links``, filled once all are made), then the user's
    closure cells, in the priority ``LiveNamespace`` gives them."""
    own = {k: v for k, v in ns.items() if k.isidentifier() and not k.startswith("__")}
    candidates = [*own, *(c for c in src.cells if c not in own)]
    inner = cell_code(node, candidates, filename)
    if inner is None:
        return made
    cells = []
    for name in inner.co_freevars:
        if name in links:
            cells.append(links[name])
        elif name in own:
            cells.append(types.CellType(own[name]))
        else:
            cells.append(src.cells[name])
    fresh = types.FunctionType(inner, src.globals, made.__name__, made.__defaults__,
                               tuple(cells))
    fresh.__kwdefaults__ = made.__kwdefaults__
    fresh.__qualname__, fresh.__module__ = made.__qualname__, made.__module__
    fresh.__doc__ = made.__doc__
    fresh.__annotations__ = made.__annotations__
    return fresh


def cell_code(node: ast.FunctionDef, names: list[str], filename: str) -> types.CodeType | None:
    """The code of the def ``node`` compiled inside a function that binds ``names``: those
    of them it reads become its free variables (the rest stay globals). Line numbers are
    those of the generated text."""
    where = {"lineno": node.lineno, "end_lineno": node.lineno, "col_offset": 0,
             "end_col_offset": 0}
    binds = [ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())], value=ast.Constant(None),
                        **where) for n in names]
    outer = ast.FunctionDef(name=_OUTER, args=ast.arguments(
        posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*binds, node], decorator_list=[], returns=None, type_comment=None,
        lineno=node.lineno, end_lineno=node.end_lineno, col_offset=0, end_col_offset=0)
    if hasattr(outer, "type_params"):
        outer.type_params = []
    wrapper = ast.fix_missing_locations(ast.Module(body=[outer], type_ignores=[]))
    try:
        code = compile(wrapper, filename, "exec", dont_inherit=True)
    except SyntaxError:  # e.g. a ``global`` of a name the wrapper binds: keep the slow path
        return None
    outer_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    return next((c for c in outer_code.co_consts
                 if isinstance(c, types.CodeType) and c.co_name == node.name), None)


# -- defaults: the live function's values, never its source text re-evaluated --------------
LITERALS = (int, float, complex, bool, str, bytes, type(None))


def is_literal(value) -> bool:
    if isinstance(value, tuple):
        return all(is_literal(v) for v in value)
    return type(value) in LITERALS and not (isinstance(value, float) and value != value)


def literal_defaults(module) -> None:
    """In each generated function's signature, the defaults of the user's parameters become
    the values the live function holds (``s=D`` reads ``s=2.0`` if ``f.__defaults__`` is
    ``(2.0,)``), so the text says what runs. Values that are not literals (arrays) keep the
    source's expression in the text, and the function gets the live value after it is
    made (``use_live_defaults``)."""
    for gen in module.functions:
        fn = gen.source.fn
        if fn is None:
            continue
        args, code = gen.tree.args, fn.__code__
        positional = args.posonlyargs + args.args
        added = len(positional) - code.co_argcount  # parameters the transform appended
        own = list(fn.__defaults__ or ())
        source_defaults = args.defaults[:len(args.defaults) - added] if added else args.defaults
        if len(source_defaults) != len(own):
            continue  # __defaults__ reassigned with another length: use_live_defaults sets them
        tail = args.defaults[len(source_defaults):]
        args.defaults = [ast.Constant(v) if is_literal(v) else d
                         for v, d in zip(own, source_defaults)] + tail
        kw = fn.__kwdefaults__ or {}
        for k, a in enumerate(args.kwonlyargs[:code.co_kwonlyargcount]):
            if a.arg in kw and is_literal(kw[a.arg]):
                args.kw_defaults[k] = ast.Constant(kw[a.arg])


def use_live_defaults(made, user) -> None:
    """Give a generated function the user's live defaults for the user's parameters (the
    parameters the transform appends keep theirs)."""
    if user is None:
        return
    own = tuple(user.__defaults__ or ())
    made_defaults = made.__defaults__ or ()
    positional = made.__code__.co_argcount
    appended = positional - user.__code__.co_argcount
    tail = made_defaults[len(made_defaults) - appended:] if appended else ()
    if len(own) + len(tail) <= positional:
        made.__defaults__ = own + tuple(tail) or None
    if user.__kwdefaults__:
        made.__kwdefaults__ = {**(made.__kwdefaults__ or {}), **user.__kwdefaults__}
