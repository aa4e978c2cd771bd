"""What a generated module needs from the user's code to run on its own, as import lines.

Generated functions read the user's helpers and globals (``sigmoid``, ``SCALE``) by name.
adjoint itself runs the text where those names are already bound: ``compile.py`` falls back
to the user's module, live, and ``jit.py`` binds the Numba-compiled versions. A copy of
``.source`` saved as a file must import them instead. The import therefore sits behind a
guard on the module's ``__name__``, which is one of adjoint's own (``compile.py`` and
``jit.py`` name the namespaces they run the text in) only inside adjoint, so running the
text there never imports anything (which would freeze globals, replace compiled helpers,
or run a ``__main__`` script a second time)::

    # names of yours this code reads (adjoint binds them itself when it runs the code)
    if not __name__.startswith(("adjoint.generated.", "adjoint_jit_")):
        from tour import SCALE, sigmoid

Each name is imported from the module that defines it when it can be found there under its
own name (``from scipy.special import expit``), else from the user function's module. A
script run as ``python tour.py`` is the module ``tour``; a function typed into a notebook
cell, made by ``exec`` or closing over local variables has no module to import from: its
names are listed in a comment to define before running the file.
"""
from __future__ import annotations

import os
import sys
import textwrap
import types
from dataclasses import dataclass, field

_HEADER_NAMES = {"math", "np"}  # imported by every generated module's header
# How the namespaces adjoint runs generated text in are named: compile.py's
# "adjoint.generated.<function>" and jit.py's module "adjoint_jit_<hash>_<function>".
# tests/test_standalone_source.py checks both still are.
ADJOINT_NAMESPACES = ("adjoint.generated.", "adjoint_jit_")


@dataclass
class Needs:
    """The user names a generated module reads, split by how a standalone copy gets them."""

    imports: dict[str, set[str]] = field(default_factory=dict)  # statement -> names it binds
    undefined: dict[str, list[str]] = field(default_factory=dict)  # reason -> names

    def add_import(self, statement: str, name: str) -> None:
        self.imports.setdefault(statement, set()).add(name)

    def add_undefined(self, reason: str, name: str) -> None:
        names = self.undefined.setdefault(reason, [])
        if name not in names:
            names.append(name)


def user_globals(namespace: dict) -> dict:
    """The user's own module globals behind a generated namespace (``hvp`` differentiates
    generated code, whose globals fall back to the user's module)."""
    while hasattr(namespace, "fallback"):
        namespace = namespace.fallback
    return namespace


def module_name(namespace: dict) -> str | None:
    """The importable name of the module whose globals are ``namespace``, or None.

    ``__main__`` is importable under the name it was run as: ``python -m pkg.tool`` gives
    ``pkg.tool``, ``python tour.py`` gives ``tour``. A notebook or ``exec`` namespace has
    neither a spec nor a ``.py`` file, so it has no importable name."""
    name = namespace.get("__name__")
    if name != "__main__":
        return name if isinstance(name, str) and not name.startswith(ADJOINT_NAMESPACES) else None
    spec = namespace.get("__spec__")
    if spec is not None and getattr(spec, "name", None) not in (None, "__main__"):
        return spec.name
    path = namespace.get("__file__")
    if isinstance(path, str) and path.endswith(".py") and os.path.isfile(path):
        stem = os.path.splitext(os.path.basename(path))[0]
        return stem if stem.isidentifier() else None
    return None


def import_statement(name: str, value, home: str | None) -> str | None:
    """The statement that binds ``name`` to ``value`` in a fresh interpreter, or None."""
    if isinstance(value, types.ModuleType):
        real = value.__name__
        return f"import {real}" if real == name else f"import {real} as {name}"
    owner, own_name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if (isinstance(owner, str) and isinstance(own_name, str) and owner != "__main__"
            and getattr(sys.modules.get(owner), own_name, None) is value):
        # defined elsewhere (a helper module, scipy): import it from there
        return f"from {owner} import {own_name}" + ("" if own_name == name else f" as {name}")
    if home is None:
        return None
    return f"from {home} import {name}"


def needs_of(module, defined: set[str]) -> Needs:
    """What the generated functions of ``module`` read from the user's modules.
    ``defined``: names the generated module binds itself (its header and its functions)."""
    from .jit import free_names

    needs = Needs()
    taken: dict[str, str] = {}  # name -> the statement binding it, across functions
    for fn in module.functions:
        src = fn.source
        # the real globals: hvp's sources merge generated and user names into a copy
        namespace = user_globals(getattr(src.fn, "__globals__", src.globals))
        home = module_name(namespace)
        for name in free_names(fn, defined | _HEADER_NAMES):
            if name in src.closure:
                needs.add_undefined(f"closure values of {src.name}", name)
                continue
            if name not in namespace:
                continue  # a builtin, or not defined yet: Python's NameError says which
            statement = import_statement(name, namespace[name], home)
            if statement is None:
                needs.add_undefined(f"globals of {src.name}, which has no importable module",
                                    name)
            elif taken.setdefault(name, statement) == statement:
                needs.add_import(statement, name)
            else:
                needs.add_undefined(f"bound differently in two modules (imported: "
                                    f"{taken[name]})", name)
    for names in needs.undefined.values():
        names.sort()
    return needs


def _from_lines(imports: dict[str, set[str]]) -> list[str]:
    """Import statements, ``from`` ones from one module merged, sorted."""
    plain, merged = [], {}
    for statement in imports:
        if statement.startswith("from "):
            where, _, what = statement[5:].partition(" import ")
            merged.setdefault(where, []).append(what)
        else:
            plain.append(statement)
    lines = sorted(plain)
    for where in sorted(merged):
        lines.append(f"from {where} import {', '.join(sorted(merged[where]))}")
    return lines


def _wrapped(prefix: str, names: list[str], indent: str, width: int = 92) -> list[str]:
    """``prefix`` followed by the names, continued in parentheses past ``width``."""
    line = indent + prefix + ", ".join(names)
    if len(line) <= width:
        return [line]
    rows, row = [], indent + "    "
    for name in names:
        if len(row) + len(name) + 2 > width and row.strip():
            rows.append(row.rstrip())
            row = indent + "    "
        row += name + ", "
    rows.append(row.rstrip())
    return [indent + prefix + "("] + rows + [indent + ")"]


def import_block(module, defined: set[str]) -> str:
    """The guarded imports (and comments on names that cannot be imported), or ''."""
    needs = needs_of(module, defined)
    lines: list[str] = []
    if needs.imports:
        prefixes = ", ".join(f'"{prefix}"' for prefix in ADJOINT_NAMESPACES)
        lines.append("# names of yours this code reads (adjoint binds them itself when it "
                     "runs the code)")
        lines.append(f"if not __name__.startswith(({prefixes})):")
        for statement in _from_lines(needs.imports):
            head, sep, tail = statement.partition(" import ")
            if statement.startswith("from ") and len(statement) > 88:
                lines += _wrapped(head + sep, tail.split(", "), "    ")
            else:
                lines.append("    " + statement)
    for reason, names in needs.undefined.items():
        lines += textwrap.wrap(f"To run this file on its own, define first ({reason}): "
                               f"{', '.join(names)}.", 90, initial_indent="# ",
                               subsequent_indent="# ", break_on_hyphens=False)
    return "\n".join(lines) + "\n" if lines else ""
