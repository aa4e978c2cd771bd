"""COMPILE: execute the generated module with its text registered in ``linecache``, so
tracebacks, ``inspect.getsource`` and pdb show the generated lines.

Each generated function runs in a namespace that falls back, name by name and at call
time, to the globals of the user function it came from: a user changing a module-level
constant sees the change, exactly as their own function would.
"""
from __future__ import annotations

import hashlib
import linecache

from .reverse import AdjointFunction, AdjointModule


class LiveNamespace(dict):
    """Globals for generated code: its own names first, then the user's module, live."""

    def __init__(self, fallback: dict, extra: dict):
        super().__init__(extra)
        self.fallback = fallback
        self["__builtins__"] = fallback.get("__builtins__", __builtins__)

    def __missing__(self, key: str):
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
    return functions


def namespace_for(fn: AdjointFunction) -> LiveNamespace:
    src = fn.source
    ns = LiveNamespace(src.globals, src.closure)
    ns["__name__"] = f"adjoint.generated.{fn.name}"
    return ns
