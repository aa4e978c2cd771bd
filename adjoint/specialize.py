"""SPECIALIZE: a call with container arguments runs the function rewritten for their
structure (containers.py), compiled as a function of its own whose parameters are the
leaves. Every transform then sees plain arrays and floats (also under ``jit=True``), and
the gradients are put back in the containers' shape here.

The structure of the containers is part of the key under which the specialized function
(and so every build of it) is cached: a call with another structure builds again.
"""
from __future__ import annotations

import ast
import copy
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .container_refs import structure_key
from .containers import ContainerError, rewrite
from .errors import ArgumentError, Location
from .source import _FUTURE_FLAGS, Source, _find_code, as_function, parse
from .trees import _REGISTERED, Leaf, Node, Tree, is_container, tree_flatten, tree_unflatten

_CLONES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Specialized:
    """The function rewritten for ``structures``: ``fn`` takes ``leaves[p]`` for each
    container parameter ``p``."""

    fn: types.FunctionType
    leaves: dict[str, list[str]]
    structures: dict[str, Tree]


_BUILDING: set = set()


def specialized(fn, structures: dict[str, Tree]) -> Specialized:
    fn = as_function(fn)
    per_fn = _CLONES.setdefault(fn, {})
    key = structure_key(structures)
    if key not in per_fn:
        if (fn, key) in _BUILDING:
            raise ContainerError(f"{fn.__name__} passes a container to itself (recursion)",
                                 _where(fn), "write the recursion as a loop")
        _BUILDING.add((fn, key))
        try:
            per_fn[key] = _make(fn, structures)
        finally:
            _BUILDING.discard((fn, key))
    return per_fn[key]


def _make(fn: types.FunctionType, structures: dict[str, Tree]) -> Specialized:
    src = parse(fn)
    cells = dict(src.cells)

    def helper(name: str, callee, helper_structures: dict[str, Tree]) -> Specialized:
        """A user function a container is passed to: specialized too, and found by
        ``name`` through the closure cells of the code that calls it."""
        spec = specialized(callee, helper_structures)
        cells[name] = types.CellType(spec.fn)
        return spec

    tree, leaves = rewrite(src.tree, structures, src.where, src.lookup, helpers=helper)
    clone = _compile(tree, fn, src, cells)
    ref = weakref.ref(clone)
    clone.__adjoint_source__ = lambda: Source(ref, copy.deepcopy(tree), src.filename,
                                              src.file_lines, src.globals, cells)
    return Specialized(clone, leaves, structures)


def _compile(tree: ast.FunctionDef, fn: types.FunctionType, src: Source,
             cells: dict) -> types.FunctionType:
    """The rewritten definition as a live function: same globals, same closure cells (and
    cells for the helpers lifted out, lift.py, or specialized for containers)."""
    tree = copy.deepcopy(tree)
    tree.decorator_list = []
    body: list[ast.stmt] = [tree]
    free = tuple(cells)
    if free:  # inside a function binding the free names, so they compile as closures
        args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                             defaults=[])
        outer = ast.FunctionDef(name="_adjoint_outer", args=args, decorator_list=[],
                                returns=None, type_comment=None, body=[
                                    ast.Assign(targets=[ast.Name(id=n, ctx=ast.Store())],
                                               value=ast.Constant(None)) for n in free] + body)
        if hasattr(outer, "type_params"):
            outer.type_params = []
        body = [outer]
    module = ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
    code = compile(module, src.filename, "exec", fn.__code__.co_flags & _FUTURE_FLAGS,
                   dont_inherit=True)
    if free:
        code = _find_code(code, "_adjoint_outer")
    code = _find_code(code, tree.name)
    closure = tuple(cells[n] for n in code.co_freevars) or None
    clone = types.FunctionType(code, fn.__globals__, fn.__name__, None, closure)
    clone.__qualname__, clone.__module__ = fn.__qualname__, fn.__module__
    return clone


# -- calls ------------------------------------------------------------------------------------
def flattened(value: Any, name: str, wrt: tuple[str, ...]) -> bool:
    """Whether an argument is passed as its leaves: differentiated containers, and the
    containers the compiler cannot read otherwise (dicts, dataclasses, NamedTuples, user
    types). Plain lists and tuples of data stay as they are."""
    if not is_container(value):
        return False
    if name in wrt:
        return True
    return type(value) not in (list, tuple)


@dataclass
class FlatCall:
    """A call of the specialized function: its arguments, what it differentiates, and how
    its gradients go back into the containers."""

    spec: Specialized
    arguments: dict[str, Any]
    wrt: tuple[str, ...]
    groups: list[tuple[str, Tree | None, list[str]]] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return (structure_key(self.spec.structures), self.wrt)

    def regroup(self, grads: tuple) -> tuple:
        """Per differentiated parameter of the user's function, its gradient: for a
        container, the same container of gradients (None at leaves not differentiated)."""
        by_name = dict(zip(self.wrt, grads))
        out = []
        for name, tree, leaves in self.groups:
            if tree is None:
                out.append(by_name[name])
            else:
                out.append(tree_unflatten(tree, [by_name.get(n) for n in leaves]))
        return tuple(out)


def is_plain_object(value: Any) -> bool:
    """An instance of a user's class (not a container, array, number, function or other
    callable): its attributes are the object's state."""
    return (hasattr(value, "__dict__") and type(value).__module__ != "builtins"
            and not isinstance(value, (type, types.ModuleType, np.ndarray, np.generic))
            and not callable(value) and not is_container(value))


_READS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attribute_reads(fn) -> dict[str, tuple[str, ...]]:
    """Per parameter, the attributes the function reads from it (``self.W``)."""
    fn = as_function(fn)
    if fn not in _READS:
        tree = parse(fn).tree
        params = {a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs}
        reads: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in params and isinstance(node.ctx, ast.Load):
                reads.setdefault(node.value.id, set()).add(node.attr)
        _READS[fn] = {k: tuple(sorted(v)) for k, v in reads.items()}
    return _READS[fn]


def object_tree(fn, name: str, value: Any, wrt: tuple[str, ...]) -> tuple[list, Tree]:
    """A plain object as a container of the attributes the function reads (not its
    methods): constant object state, passed as leaves."""
    if name in wrt:
        raise ArgumentError(
            f"cannot differentiate {fn.__name__} with respect to {name!r}, a "
            f"{type(value).__qualname__} object", _where(fn),
            "make its class a @dataclass (or adjoint.register_container it), or "
            "differentiate with respect to the arrays it holds")
    attrs = tuple(a for a in attribute_reads(fn).get(name, ())
                  if hasattr(value, a) and not callable(getattr(value, a)))
    leaves: list = []
    children = []
    for attr in attrs:
        sub, tree = tree_flatten(getattr(value, attr))
        leaves += sub
        children.append(tree)
    return leaves, Node(type(value), attrs, tuple(children), True, "object")


def flat_call(fn, arguments: dict[str, Any], wrt: tuple[str, ...]) -> FlatCall | None:
    """None when no argument is a container to flatten."""
    structures: dict[str, Tree] = {}
    values: dict[str, list] = {}
    for name, value in arguments.items():
        if flattened(value, name, wrt):
            values[name], structures[name] = tree_flatten(value)
        elif is_plain_object(value) and name in attribute_reads(fn):
            values[name], structures[name] = object_tree(fn, name, value, wrt)
    if not structures:
        return None
    spec = specialized(fn, structures)
    flat: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in structures:
            flat.update(zip(spec.leaves[name], values[name]))
        else:
            flat[name] = value
    call = FlatCall(spec, flat, ())
    flat_wrt: list[str] = []
    for name in wrt:
        if name not in structures:
            flat_wrt.append(name)
            call.groups.append((name, None, [name]))
            continue
        tree, leaves = structures[name], spec.leaves[name]
        kinds = _leaf_kinds(tree)
        chosen = [n for n, differentiable in zip(leaves, kinds) if differentiable]
        if not chosen:
            raise ArgumentError(
                f"{fn.__name__}'s argument {name!r} holds no float scalar or float array "
                "to differentiate", _where(fn), "put float values in it, or do not "
                "differentiate with respect to it")
        flat_wrt += chosen
        call.groups.append((name, tree, leaves))
    call.wrt = tuple(flat_wrt)
    return call


def _leaf_kinds(tree: Tree) -> list[bool]:
    if isinstance(tree, Leaf):
        return [tree.differentiable]
    return [k for c in tree.children for k in _leaf_kinds(c)]


def _where(fn) -> Location | None:
    code = getattr(fn, "__code__", None)
    return None if code is None else Location(code.co_filename, code.co_firstlineno)


# -- the generated entry point ------------------------------------------------------------------
def entry_source(call: FlatCall, adjoint_text: str, main: str, params: list[str]) -> str:
    """A function of the user's own parameters in front of the generated adjoint: it reads
    the leaves out of the containers as the user would, and builds the gradients back."""
    adjoint_params = _parameters(adjoint_text, main)
    cotangent = adjoint_params[-1]
    lines = [f"def {main}_tree({', '.join(params)}, {cotangent}=1.0):",
             f'    """{main} taking containers whole: returns (value, gradients), each '
             'gradient shaped like its argument."""']
    for name, tree in call.spec.structures.items():
        for leaf, path in zip(call.spec.leaves[name], tree.paths()):
            lines.append(f"    {leaf} = {_access(name, tree, path)}")
    flat_args = ", ".join(adjoint_params[:-1])
    grad_names = [f"d{n}" for n in call.wrt]
    grads = grad_names[0] if len(grad_names) == 1 else f"({', '.join(grad_names)})"
    lines.append(f"    value, {grads} = {main}({flat_args}, {cotangent})")
    results = []
    for name, tree, leaves in call.groups:
        if tree is None:
            results.append(f"d{name}")
            continue
        chosen = set(call.wrt)
        it = iter([f"d{n}" if n in chosen else "None" for n in leaves])
        lines.append(f"    d{name} = {_build(tree, name, it)}")
        results.append(f"d{name}")
    result = results[0] if len(results) == 1 else f"({', '.join(results)})"
    lines.append(f"    return value, {result}")
    text = "\n".join(lines) + "\n"
    return ("import adjoint\n\n\n" + text) if "adjoint." in text else text


def _parameters(text: str, main: str) -> list[str]:
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == main:
            a = node.args
            return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    raise ValueError(f"no function {main} in the generated code")


def _access(base: str, tree: Tree, path: tuple) -> str:
    text = base
    for key in path:
        if tree.kind in _REGISTERED and not tree.by_attribute:
            text = f"adjoint.tree_flatten({text})[0][{key!r}]"
        elif tree.by_attribute and not is_namedtuple_type(tree.kind):
            text = f"{text}.{key}"
        else:
            text = f"{text}[{key!r}]"
        tree = tree.child(key)
    return text


def is_namedtuple_type(kind: type) -> bool:
    return issubclass(kind, tuple) and hasattr(kind, "_fields")


def _build(tree: Tree, access: str, names) -> str:
    if isinstance(tree, Leaf):
        return next(names)
    if tree.kind in _REGISTERED:  # built back from all its leaves at once
        leaves = ", ".join(next(names) for _ in range(tree.count()))
        return f"adjoint.tree_unflatten(adjoint.tree_flatten({access})[1], [{leaves}])"
    parts = [_build(c, f"{access}[{k!r}]" if not tree.by_attribute else f"{access}.{k}",
                    names) for k, c in zip(tree.keys, tree.children)]
    kind = tree.kind
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(tree.keys, parts)) + "}"
    if kind is list:
        return "[" + ", ".join(parts) + "]"
    if kind is tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if issubclass(kind, tuple):
        return f"type({access})({', '.join(parts)})"
    if isinstance(kind, type) and issubclass(kind, dict):
        return f"type({access})({{{', '.join(f'{k!r}: {p}' for k, p in zip(tree.keys, parts))}}})"
    return f"type({access})({', '.join(f'{k}={p}' for k, p in zip(tree.keys, parts))})"

