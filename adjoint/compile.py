"""COMPILE: execute the generated module with its text registered in ``linecache``, so
tracebacks, ``inspect.getsource`` and pdb show the generated lines.

Each generated function runs in a namespace that falls back, name by name and at call
time, to the globals of the user function it came from: a user changing a module-level
constant sees the change, exactly as their own function would.
"""
from __future__ import annotations

import ast
import hashlib
import linecache

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
    """Execute ``text`` once per generated function in that function's namespace and link
    the functions to each other. Returns the callables by generated name."""
    filename = register_source(text, module.main.name)
    code = compile(text, filename, "exec")
    spaces: dict[str, LiveNamespace] = {}
    for fn in module.functions:
        ns = namespace_for(fn)
        exec(code, ns)
        spaces[fn.name] = ns
    functions = {name: ns[name] for name, ns in spaces.items()}
    for ns in spaces.values():
        ns.update(functions)
    for fn in module.functions:
        use_live_defaults(functions[fn.name], fn.source.fn)
    return functions


def namespace_for(fn: AdjointFunction) -> LiveNamespace:
    src = fn.source
    ns = LiveNamespace(src.globals, src.cells)
    ns["__name__"] = f"adjoint.generated.{fn.name}"
    return ns


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
