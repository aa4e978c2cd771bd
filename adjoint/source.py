"""PARSE: from a live function object to its AST, with the file's own line numbers."""
from __future__ import annotations
import __future__

import ast
import copy
import functools
import inspect
import linecache
import textwrap
import types
import weakref
from dataclasses import dataclass, field

from .errors import (
    Location,
    NoSourceError,
    SourceChangedError,
    UnsupportedSyntaxError,
    node_location,
)


@dataclass(eq=False)
class Source:
    """A user function, parsed. Line numbers in ``tree`` are line numbers of ``filename``.

    The function itself is held by a weak reference (a build kept in a cache must not keep
    the user's function, and what it closes over, alive), and its closure by its cells:
    the values are read when they are used, so a ``nonlocal`` rebinding is seen."""

    fn_ref: weakref.ref
    tree: ast.FunctionDef
    filename: str
    file_lines: list[str]
    globals: dict
    cells: dict = field(default_factory=dict)  # closure name -> cell

    @property
    def fn(self) -> types.FunctionType | None:
        return self.fn_ref()

    @property
    def closure(self) -> dict:
        """The closed-over names bound now, with their current values."""
        values = {}
        for name, cell in self.cells.items():
            try:
                values[name] = cell.cell_contents
            except ValueError:  # an empty cell: the closed-over name is not yet bound
                pass
        return values

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
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:  # an empty cell: not bound yet
                raise KeyError(name) from None
        if name in self.globals:
            return self.globals[name]
        builtins = self.globals.get("__builtins__", __builtins__)
        if isinstance(builtins, types.ModuleType):
            builtins = vars(builtins)
        if name in builtins:
            return builtins[name]
        raise KeyError(name)


def _defined_at(obj) -> Location | None:
    """Where the function behind a partial or a method was defined, when that is known."""
    inner = getattr(obj, "func", None) or getattr(obj, "__func__", None) or obj
    code = getattr(inner, "__code__", None)
    if code is None:
        return None  # a builtin, a ufunc, a callable object: no file to point at
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Location(code.co_filename, code.co_firstlineno, len(line) - len(line.lstrip()), line)


def _describe(obj) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    kind = type(obj).__name__
    return f"{obj!r}" if name is None else f"{kind} {name!r} ({obj!r:.60})"


def as_function(fn) -> types.FunctionType:
    """``fn`` as a plain Python function to read, or the precise error why it is not one."""
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
        if not callable(fn):
            raise NoSourceError(
                f"{fn!r} ({type(fn).__name__}) is not a function: there is nothing to "
                "differentiate", where, "pass the function itself, e.g. grad(f), not f's "
                "name or value")
        raise NoSourceError(
            f"{fn!r} is not a Python function, so it has no source to differentiate", where,
            "register a rule with @adjoint.register_adjoint, or wrap it in a Python function",
        )
    return unwrap_transparent(fn)


def unwrap_transparent(fn: types.FunctionType) -> types.FunctionType:
    """The function a ``functools.wraps`` wrapper stands for, when the wrapper does nothing
    but call it: ``def w(*args, **kwargs): return fn(*args, **kwargs)`` (a docstring aside),
    with ``fn`` closed over and the very object in ``__wrapped__``. Any other wrapper is
    differentiated as it is (its own source, the wrapped function a call it makes)."""
    seen = 0
    while isinstance(getattr(fn, "__wrapped__", None), types.FunctionType) and seen < 32:
        inner, seen = fn.__wrapped__, seen + 1
        if not _only_forwards(fn, inner):
            break
        fn = inner
    return fn


def _only_forwards(wrapper: types.FunctionType, inner: types.FunctionType) -> bool:
    code = wrapper.__code__
    star = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
    if code.co_flags & star != star or code.co_argcount or code.co_kwonlyargcount:
        return False
    try:
        lines, _ = inspect.getsourcelines(code)
        tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return False
    if not isinstance(tree, ast.FunctionDef):
        return False
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return False
    call = body[0].value
    args = tree.args
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and args.vararg
            and args.kwarg and len(call.args) == 1 and isinstance(call.args[0], ast.Starred)
            and isinstance(call.args[0].value, ast.Name)
            and call.args[0].value.id == args.vararg.arg and len(call.keywords) == 1
            and call.keywords[0].arg is None
            and isinstance(call.keywords[0].value, ast.Name)
            and call.keywords[0].value.id == args.kwarg.arg):
        return False
    cells = dict(zip(code.co_freevars, wrapper.__closure__ or ()))
    try:
        return cells[call.func.id].cell_contents is inner
    except (KeyError, ValueError):
        return False


def parse(fn) -> Source:
    """Parse ``fn``: getsource, dedent, drop decorators, collect globals and closure cells.

    The text is the one of ``fn``'s own code object (a ``functools.wraps`` wrapper is read
    as the wrapper, not as the function it wraps), and it must compile to that code object:
    a file edited since it was imported raises ``SourceChangedError``."""
    fn = as_function(fn)
    made = getattr(fn, "__adjoint_source__", None)
    if made is not None:  # a function specialized to its arguments' containers (specialize.py)
        return made()
    filename = fn.__code__.co_filename
    lines, first_line = _source_lines(fn)
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    if first_line == 0:  # a module-level code object; inspect reports line 0
        first_line = 1
    try:
        module = ast.parse(dedented)
    except SyntaxError:
        raise NoSourceError(
            f"could not parse the source of {fn.__qualname__!r} on its own",
            Location(filename, first_line), "define the function with a plain def statement",
        ) from None
    ast.increment_lineno(module, first_line - 1)
    for node in ast.walk(module):
        if hasattr(node, "col_offset"):
            node.col_offset += indent
            node.end_col_offset = (node.end_col_offset or 0) + indent
    file_lines = _file_lines(filename, text, first_line)
    tree = module.body[0] if module.body else None
    if not isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
            fn.__name__ != "<lambda>" and filename.startswith("<"):
        # the text under a pseudo-file name is not this def: Python 3.13 lists the command
        # of python -c as '<string>', the name exec gives the code it runs too
        raise no_source(fn) from None
    if not isinstance(tree, ast.FunctionDef):
        kind = "a lambda" if fn.__name__ == "<lambda>" else {
            "AsyncFunctionDef": "an async function", "ClassDef": "a class"}.get(
            type(tree).__name__, f"a {type(tree).__name__}")
        raise UnsupportedSyntaxError(
            f"cannot differentiate {kind}: only functions defined with def are supported",
            Location(filename, first_line, indent, lines[0] if lines else ""),
            "rewrite it as a def statement",
        )
    check_matches_code(fn, tree, filename, file_lines)
    tree.decorator_list = []
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    cells.update(getattr(fn.__globals__, "cells", {}))  # generated code: the user's cells
    from .lift import lift_source  # nested defs and lambdas become helpers (lift.py)

    return lift_source(Source(weakref.ref(fn), tree, filename, file_lines, fn.__globals__,
                              cells))


def _source_lines(fn: types.FunctionType) -> tuple[list[str], int]:
    try:
        # the code object, not the function: inspect would follow __wrapped__
        return inspect.getsourcelines(fn.__code__)
    except (OSError, TypeError):
        pass
    raise no_source(fn) from None


def no_source(fn: types.FunctionType) -> NoSourceError:
    """The error for a function whose def cannot be read."""
    filename = fn.__code__.co_filename
    where = Location(filename, fn.__code__.co_firstlineno)
    if filename.startswith("<"):
        return NoSourceError(
            f"no source code for function {fn.__qualname__!r} (defined in {filename})", where,
            "define it in a .py file (not at the interactive prompt, under python -c or "
            "through exec)")
    return NoSourceError(
        f"no source code for function {fn.__qualname__!r}: {filename} cannot be read", where,
        "make sure the file it was imported from still exists")


def check_matches_code(fn: types.FunctionType, tree: ast.FunctionDef, filename: str,
                       file_lines: list[str]) -> None:
    """Raise SourceChangedError unless compiling the text gives ``fn``'s own bytecode.

    The def is compiled inside a function that binds its free variables, so closures
    compile as closures; the comparison is of bytecode, constants and names (recursively
    for nested code), not of line numbers."""
    free = fn.__code__.co_freevars
    tree = copy.copy(tree)
    tree.name = "_adjoint_checked"  # so the body's references to its own name stay global
    body: list[ast.stmt] = [tree]
    if free:  # compiled inside a function that binds them, closures compile as closures
        outer = ast.FunctionDef(
            name="_adjoint_outer", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                                                      kw_defaults=[], defaults=[]),
            body=[ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())],
                             value=ast.Constant(None)) for n in free] + body,
            decorator_list=[], returns=None, type_comment=None)
        if hasattr(outer, "type_params"):
            outer.type_params = []
        body = [outer]
    wrapper = ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
    try:
        # with the __future__ features the module was compiled with (annotations as text)
        code = compile(wrapper, filename, "exec", fn.__code__.co_flags & _FUTURE_FLAGS,
                       dont_inherit=True)
    except (SyntaxError, ValueError):
        return  # not compilable on its own (e.g. a nonlocal of a name the wrapper lacks)
    compiled = _find_code(code, "_adjoint_checked")
    qualname = ("_adjoint_outer.<locals>." if free else "") + "_adjoint_checked"
    if compiled is None or _code_key(compiled, (qualname, fn.__code__.co_name)) == _code_key(
            fn.__code__, (fn.__qualname__, fn.__code__.co_name)):
        return
    raise SourceChangedError(
        f"the source of {fn.__qualname__} in {filename} has changed since it was imported: "
        "the text on disk is not the code that runs",
        node_location(tree, filename, file_lines),
        "re-import the module (or restart) so the function and the file agree")


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _find_code(code: types.CodeType, name: str) -> types.CodeType | None:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name:
                return const
            found = _find_code(const, name)
            if found is not None:
                return found
    return None


# Opcodes that differ between two compilations of the same text depending on what the
# module around it imports (CPython reads a module attribute of an imported name with
# LOAD_ATTR instead of LOAD_METHOD), or that carry no meaning of their own.
_SAME_AS = {"LOAD_METHOD": "LOAD_ATTR", "CALL_METHOD": "CALL_FUNCTION"}
_IGNORED = {"CACHE", "NOP", "EXTENDED_ARG", "PUSH_NULL", "PRECALL", "RESUME"}


def _code_key(code: types.CodeType, qualname: tuple[str, str]):
    """The instructions of a code object (and of the code nested in it), with the names and
    constants they use, without jump offsets or caches. ``qualname``: the function's
    qualified name, which nested classes' and functions' names start with, and a
    replacement for it."""
    import dis

    ops = []
    for ins in dis.get_instructions(code):
        if ins.opname in _IGNORED:
            continue
        jump = ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs
        value = ins.argval
        if isinstance(value, types.CodeType):
            value = _code_key(value, qualname)
        elif isinstance(value, str) and value.startswith(qualname[0] + "."):
            value = ("str", qualname[1] + value[len(qualname[0]):])
        elif not jump:
            value = (type(value).__name__, repr(value))
        ops.append((_SAME_AS.get(ins.opname, ins.opname), None if jump else value))
    return tuple(ops), code.co_varnames


def _file_lines(filename: str, text: str, first_line: int) -> list[str]:
    """The whole file's lines, so locations quote real source; padded if only the def is known."""
    lines = linecache.getlines(filename)
    if lines:
        return [ln.rstrip("\n") for ln in lines]
    return [""] * (first_line - 1) + text.splitlines()
