"""PARSE: from a live function object to its AST, with the file's own line numbers."""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
from dataclasses import dataclass, field

from .errors import Location, NoSourceError, UnsupportedSyntaxError, node_location


@dataclass
class Source:
    """A user function, parsed. Line numbers in ``tree`` are line numbers of ``filename``."""

    fn: types.FunctionType
    tree: ast.FunctionDef
    filename: str
    file_lines: list[str]
    globals: dict
    closure: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tree.name

    def where(self, node: ast.AST) -> Location:
        return node_location(node, self.filename, self.file_lines)

    def text_of(self, node: ast.AST) -> str:
        """The user's own text of a statement, on one line (a compound statement's header)."""
        node = getattr(node, "header_of", node)
        if isinstance(node, (ast.If, ast.For, ast.While)):
            if 0 < node.lineno <= len(self.file_lines):
                return self.file_lines[node.lineno - 1].strip()
            return ast.unparse(node).splitlines()[0]
        lines = self.file_lines[node.lineno - 1 : node.end_lineno]
        if not lines:
            return ast.unparse(node)
        if len(lines) == 1:
            return lines[0][node.col_offset : node.end_col_offset].strip()
        first = lines[0][node.col_offset :]
        rest = [ln.strip() for ln in lines[1:-1]] + [lines[-1][: node.end_col_offset].strip()]
        return " ".join([first.strip(), *rest])

    def lookup(self, name: str):
        """The object a free name refers to, from the closure first, then globals, then builtins."""
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        builtins = self.globals.get("__builtins__", __builtins__)
        if isinstance(builtins, types.ModuleType):
            builtins = vars(builtins)
        if name in builtins:
            return builtins[name]
        raise KeyError(name)


def _defined_at(obj) -> Location:
    """Where the function behind a partial or a method was defined, when that is known."""
    inner = getattr(obj, "func", None) or getattr(obj, "__func__", None) or obj
    code = getattr(inner, "__code__", None)
    if code is None:
        return Location("<adjoint>", 0)
    import linecache

    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Location(code.co_filename, code.co_firstlineno, len(line) - len(line.lstrip()), line)


def _unwrap(fn) -> types.FunctionType:
    where = _defined_at(fn)
    if isinstance(fn, functools.partial):
        raise UnsupportedSyntaxError(
            f"cannot differentiate functools.partial object {fn!r}", where,
            "differentiate the underlying function and pass the fixed arguments yourself",
        )
    if isinstance(fn, (types.MethodType, classmethod, staticmethod)):
        raise UnsupportedSyntaxError(
            f"cannot differentiate bound method {getattr(fn, '__qualname__', fn)!r}", where,
            "write it as a plain function that takes the object's arrays as arguments",
        )
    if not isinstance(fn, types.FunctionType):
        raise NoSourceError(
            f"{fn!r} is not a Python function, so it has no source to differentiate", where,
            "register a rule with @adjoint.register_adjoint, or wrap it in a Python function",
        )
    return fn


def parse(fn) -> Source:
    """Parse ``fn``: getsource, dedent, drop decorators, collect globals and closure values."""
    fn = _unwrap(fn)
    filename = fn.__code__.co_filename
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise NoSourceError(
            f"no source code for function {fn.__qualname__!r} (defined in {filename})",
            Location(filename, fn.__code__.co_firstlineno),
            "define it in a .py file (not at the interactive prompt or through exec)",
        ) from exc
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    if first_line == 0:  # a module-level code object; inspect reports line 0
        first_line = 1
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise NoSourceError(
            f"could not parse the source of {fn.__qualname__!r} on its own",
            Location(filename, first_line), "define the function with a plain def statement",
        ) from exc
    ast.increment_lineno(module, first_line - 1)
    for node in ast.walk(module):
        if hasattr(node, "col_offset"):
            node.col_offset += indent
            node.end_col_offset = (node.end_col_offset or 0) + indent
    file_lines = _file_lines(filename, text, first_line)
    tree = module.body[0] if module.body else None
    if not isinstance(tree, ast.FunctionDef):
        kind = "a lambda" if fn.__name__ == "<lambda>" else {
            "AsyncFunctionDef": "an async function", "ClassDef": "a class"}.get(
            type(tree).__name__, f"a {type(tree).__name__}")
        raise UnsupportedSyntaxError(
            f"cannot differentiate {kind}: only functions defined with def are supported",
            Location(filename, first_line, indent, lines[0] if lines else ""),
            "rewrite it as a def statement",
        )
    tree.decorator_list = []
    closure = {}
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                closure[name] = cell.cell_contents
            except ValueError:  # an empty cell: the closed-over name is not yet bound
                pass
    return Source(fn, tree, filename, file_lines, fn.__globals__, closure)


def _file_lines(filename: str, text: str, first_line: int) -> list[str]:
    """The whole file's lines, so locations quote real source; padded if only the def is known."""
    import linecache

    lines = linecache.getlines(filename)
    if lines:
        return [ln.rstrip("\n") for ln in lines]
    return [""] * (first_line - 1) + text.splitlines()
