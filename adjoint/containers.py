"""CONTAINERS: a function rewritten for the structure of its container arguments.

The structure of a container argument (trees.py) is known when the function is called, so
the build is specialized to it: the container parameter is replaced by one parameter per
leaf, named after the user's keys, and every read with a constant key, attribute or
unpacking becomes that leaf's name. Containers the function builds itself (a tuple, a list
or a dict display, ``dict(a=..)``) are lowered the same way when all their uses can be
followed; loops and comprehensions over a container of known length are unrolled.

>>> import ast
>>> from adjoint.trees import tree_flatten
>>> fn = ast.parse('''
... def f(params, x):
...     W, b = params["layer"]
...     p = (W @ x, b)
...     return np.sum(p[0] + p[1]) + sum(np.sum(v) for v in params["extra"])''').body[0]
>>> _, tree = tree_flatten({"layer": (1.0, 2.0), "extra": [3.0, 4.0]})
>>> new, leaves = rewrite(fn, {"params": tree})
>>> print(ast.unparse(new))
def f(params_layer_0, params_layer_1, params_extra_0, params_extra_1, x):
    W = params_layer_0
    b = params_layer_1
    p_0 = W @ x
    p_1 = b
    return np.sum(p_0 + p_1) + (np.sum(params_extra_0) + np.sum(params_extra_1))
>>> leaves
{'params': ['params_layer_0', 'params_layer_1', 'params_extra_0', 'params_extra_1']}
"""
from __future__ import annotations

import ast
import builtins
import copy
import inspect
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import Location, UnsupportedSyntaxError
from .names import Namer, names_in
from .trees import Leaf, Node, Tree


class ContainerError(UnsupportedSyntaxError):
    """A container (dict, list, tuple, NamedTuple, dataclass) is used in a way whose
    structure cannot be followed when the function is built."""


# -- what a name or an expression stands for ---------------------------------------------
@dataclass
class Var:
    """A leaf held in a variable."""

    name: str


@dataclass
class Const:
    """A constant: a dict key, an index of ``enumerate``."""

    value: Any


@dataclass
class Struct:
    """A container whose structure is known: its children are Var, Const or Struct."""

    kind: type
    keys: tuple
    children: tuple
    by_attribute: bool = False
    from_argument: bool = True  # an argument's (never left as it is) or built inside
    origin: str | None = None  # built inside: the name bound to the display holding it

    def child(self, key):
        for k, c in zip(self.keys, self.children):
            if k == key and type(k) is type(key):
                return c
        return None


Ref = Var | Const | Struct
DISPLAYS = (ast.Tuple, ast.List, ast.Dict)
COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)


class _Untrackable(Exception):
    """A container built inside is used in a way this pass cannot follow: it is left as it
    is (the normalizer handles tuples and lists) and the pass starts again without it."""

    def __init__(self, name: str, node: ast.AST):
        self.name, self.node = name, node


def rewrite(fn: ast.FunctionDef, structures: dict[str, Tree],
            where: Callable[[ast.AST], Location] | None = None,
            lookup: Callable[[str], object] | None = None, namer: Namer | None = None,
            helpers: Callable | None = None
            ) -> tuple[ast.FunctionDef, dict[str, list[str]]]:
    """``fn`` with each parameter of ``structures`` replaced by its leaves, and the names of
    those leaves (in ``tree_flatten``'s order) per parameter. New names are taken from
    ``namer`` when given (so later passes do not hand them out again).

    ``helpers(name, function, structures)``, when given, specializes a user function that
    a container argument is passed to, and makes it visible as ``name``: the call passes
    the container's leaves (specialize.py)."""
    excluded: set[str] = set()
    if not structures and not _builds_containers(fn):
        return fn, {}
    while True:
        try:
            rewriter = _Rewriter(fn, structures, where, lookup, excluded, namer)
            rewriter.helpers = helpers
            return rewriter.run()
        except _Untrackable as exc:
            rewriter = _Rewriter(fn, structures, where, lookup, excluded, None)
            if exc.name in excluded or rewriter.is_dict_display(exc.name):
                raise rewriter.error(exc.node, f"the dict {exc.name!r} is used in a way "
                                     "whose keys cannot be followed",
                                     "read a dict with constant keys (d['W']), unpack or "
                                     "iterate over it; pass its entries, not the dict") from None
            excluded.add(exc.name)


def _key_text(key) -> str:
    text = re.sub(r"\W", "_", str(key)).strip("_")
    return text or "k"


class _Rewriter:
    def __init__(self, fn: ast.FunctionDef, structures: dict[str, Tree], where, lookup,
                 excluded: set[str], namer: Namer | None):
        self.fn = fn
        self.structures = structures
        self.where = where
        self.lookup = lookup
        self.namer = namer if namer is not None else Namer(names_in(fn))
        self.env: dict[str, Ref] = {}
        self.stores = _store_counts(fn)
        self.excluded = excluded
        self.helpers: Callable | None = None
        self.helper_names: dict = {}
        self.loads_outside: dict[int, set[str]] = {}

    # -- errors ---------------------------------------------------------------------------
    def error(self, node: ast.AST, what: str, hint: str) -> ContainerError:
        return ContainerError(what, self.where(node) if self.where else None, hint)

    def is_dict_display(self, name: str) -> bool:
        for node in ast.walk(self.fn):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return isinstance(node.value, (ast.Dict, ast.DictComp)) or self.is_dict_call(
                    node.value)
        return False

    def is_builtin(self, node: ast.expr, name: str) -> bool:
        if not (isinstance(node, ast.Name) and node.id == name):
            return False
        if node.id in self.env or self.stores.get(name):
            return False
        if self.lookup is None:
            return True
        try:
            return self.lookup(name) is getattr(builtins, name)
        except KeyError:
            return False

    def is_dict_call(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and self.is_builtin(node.func, "dict")
                and not node.args and all(k.arg for k in node.keywords))

    # -- the function ---------------------------------------------------------------------
    def run(self) -> tuple[ast.FunctionDef, dict[str, list[str]]]:
        fn = copy.deepcopy(self.fn)
        leaves: dict[str, list[str]] = {}
        for name, tree in self.structures.items():
            self.env[name] = self.from_tree(tree, name)
            leaves[name] = [r.name for r in _flat(self.env[name])]
        fn.args = self.arguments(fn.args, leaves)
        fn.body = self.block(fn.body)
        return ast.fix_missing_locations(fn), leaves

    def from_tree(self, tree: Tree, base: str) -> Ref:
        if isinstance(tree, Leaf):
            return Var(self.namer.fresh(base))
        children = tuple(self.from_tree(c, f"{base}_{_key_text(k)}")
                         for k, c in zip(tree.keys, tree.children))
        return Struct(tree.kind, tree.keys, children, tree.by_attribute)

    def arguments(self, args: ast.arguments, leaves: dict[str, list[str]]) -> ast.arguments:
        """The parameters with containers replaced by their leaves, without defaults: the
        caller passes every argument."""
        def expand(params: list[ast.arg]) -> list[ast.arg]:
            out = []
            for a in params:
                if a.arg in leaves:
                    out += [ast.copy_location(ast.arg(arg=n), a) for n in leaves[a.arg]]
                else:
                    out.append(ast.arg(arg=a.arg, lineno=a.lineno, col_offset=a.col_offset))
            return out
        kwonly = expand(args.kwonlyargs)
        return ast.arguments(posonlyargs=expand(args.posonlyargs), args=expand(args.args),
                             vararg=None, kwonlyargs=kwonly, kw_defaults=[None] * len(kwonly),
                             kwarg=None, defaults=[])

    # -- statements -----------------------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            out += self.statement(stmt)
        return out

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.Assign):
            return self.assign(stmt)
        if isinstance(stmt, ast.For):
            items = self.iteration(stmt.iter)
            if items is not None:
                return self.unroll(stmt, items)
            stmt.iter = self.expr(stmt.iter)
            self.forget_targets(stmt.target)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (ast.If, ast.While)):
            stmt.test = self.expr(stmt.test)
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            self.check_not_captured(stmt)
            return [stmt]
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self.refuse_rebinding(stmt.target, stmt)
        return [self.generic(stmt)]

    def generic(self, node: ast.AST) -> ast.AST:
        """Every expression inside ``node`` rewritten."""
        for field_, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, field_, self.expr(value))
            elif isinstance(value, list):
                setattr(node, field_, [self.expr(v) if isinstance(v, ast.expr) else
                                       self.generic(v) if isinstance(v, ast.AST) else v
                                       for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field_, self.generic(value))
        return node

    def check_not_captured(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(self.env.get(sub.id), Struct):
                self.whole(sub, self.env[sub.id])

    def refuse_rebinding(self, target: ast.Name, stmt: ast.stmt) -> None:
        ref = self.env.get(target.id)
        if isinstance(ref, Struct):
            if not ref.from_argument:
                raise _Untrackable(ref.origin, stmt)
            raise self.error(stmt, f"the container {target.id!r} is rebound here",
                             "give the new value another name")
        self.env.pop(target.id, None)

    def forget_targets(self, target: ast.expr) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                self.refuse_rebinding(sub, target)

    def assign(self, stmt: ast.Assign) -> list[ast.stmt]:
        value = stmt.value
        if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if self.builds_container(name, value):
                return self.build(name, value, stmt)
        ref = self.resolve(value)
        if isinstance(ref, Struct):
            out: list[ast.stmt] = []
            for target in stmt.targets:
                out += self.bind(target, ref, stmt, alias=False)
            return out
        stmt.value = self.expr(value)
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                self.refuse_rebinding(target, stmt)
            else:
                self.forget_targets(target) if isinstance(target, (ast.Tuple, ast.List)) else None
        stmt.targets = [self.target_expr(t) for t in stmt.targets]
        return [stmt]

    def target_expr(self, target: ast.expr) -> ast.expr:
        if isinstance(target, ast.Name):
            return target
        return self.generic(target)

    def builds_container(self, name: str, value: ast.expr) -> bool:
        if name in self.excluded or self.stores.get(name, 0) != 1:
            return False
        if isinstance(value, DISPLAYS) or self.is_dict_call(value):
            return True
        return isinstance(value, (ast.ListComp, ast.DictComp)) and self.unrollable(value)

    def build(self, name: str, value: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        """``p = (a, b)``: ``p_0 = a``, ``p_1 = b``, and ``p`` stands for the pair."""
        if isinstance(value, (ast.ListComp, ast.DictComp)):
            value = self.unroll_comprehension(value)
        out: list[ast.stmt] = []
        ref = self.display(value, name, out, stmt, name)
        self.env[name] = ref
        return out

    def display(self, value: ast.expr, base: str, out: list[ast.stmt], stmt,
                origin: str) -> Struct:
        keys: list = []
        children: list = []

        def add(key, element: ast.expr) -> None:
            ref = self.resolve(element)
            if isinstance(ref, (Struct, Const)):
                children.append(ref)
            elif isinstance(element, DISPLAYS) or self.is_dict_call(element):
                children.append(self.display(element, f"{base}_{_key_text(key)}", out, stmt,
                                             origin))
            else:
                leaf = self.namer.fresh(f"{base}_{_key_text(key)}")
                out.append(ast.copy_location(ast.Assign(
                    targets=[ast.Name(id=leaf, ctx=ast.Store())], value=self.expr(element)),
                    stmt))
                children.append(Var(leaf))
            keys.append(key)

        if isinstance(value, (ast.Tuple, ast.List)):
            for element in value.elts:
                if isinstance(element, ast.Starred):
                    inner = self.resolve(element.value)
                    if not isinstance(inner, Struct):
                        raise _Untrackable(origin, element)
                    for child in inner.children:
                        keys.append(len(keys))
                        children.append(child)
                    continue
                add(len(keys), element)
            kind = tuple if isinstance(value, ast.Tuple) else list
        else:
            pairs = (zip(value.keys, value.values) if isinstance(value, ast.Dict)
                     else ((ast.Constant(k.arg), k.value) for k in value.keywords))
            for key, element in pairs:
                if key is None:  # {**d}
                    inner = self.resolve(element)
                    if not isinstance(inner, Struct):
                        raise self.error(element, "a ** splice of something that is not a "
                                         "known container", "write the entries out")
                    for k, child in zip(inner.keys, inner.children):
                        keys.append(k)
                        children.append(child)
                    continue
                k = self.constant(key)
                if k is _NOT_CONSTANT:
                    raise self.error(key, f"a dict key that is not a constant "
                                     f"({ast.unparse(key)})", "use constant keys ('W', 0)")
                if k in keys:  # a later entry replaces an earlier one
                    i = keys.index(k)
                    del keys[i], children[i]
                add(k, element)
            kind = dict
        return Struct(kind, tuple(keys), tuple(children), False, False, origin)

    def bind(self, target: ast.expr, ref: Ref, stmt: ast.stmt, alias: bool) -> list[ast.stmt]:
        """Statements binding ``target`` to what ``ref`` stands for: containers are bound
        to names (without code), leaves assigned (or substituted, when ``alias``)."""
        if isinstance(target, ast.Name):
            if isinstance(ref, Struct) or alias:
                if isinstance(ref, Struct) and self.stores.get(target.id, 0) > 1 and \
                        not getattr(stmt, "unrolled", False):
                    raise self.error(stmt, f"{target.id!r} names a container here and is "
                                     "assigned elsewhere too", "give the container a name of "
                                     "its own")
                self.env[target.id] = ref
                return []
            self.env.pop(target.id, None)
            return [ast.copy_location(ast.Assign(targets=[target], value=self.value_of(
                ref, stmt)), stmt)]
        if isinstance(target, (ast.Tuple, ast.List)):
            if not isinstance(ref, Struct):
                return [ast.copy_location(ast.Assign(targets=[target],
                                                     value=self.value_of(ref, stmt)), stmt)]
            if any(isinstance(e, ast.Starred) for e in target.elts):
                raise self.error(target, "a starred target unpacking a container",
                                 "unpack each entry by name")
            if len(target.elts) != len(ref.children):
                raise self.error(stmt, f"unpacking {len(ref.children)} values into "
                                 f"{len(target.elts)} targets", "match the number of targets")
            out: list[ast.stmt] = []
            for element, child in zip(target.elts, ref.children):
                out += self.bind(element, child, stmt, alias)
            return out
        return [ast.copy_location(ast.Assign(targets=[self.generic(target)],
                                             value=self.value_of(ref, stmt)), stmt)]

    def value_of(self, ref: Ref, node: ast.AST) -> ast.expr:
        if isinstance(ref, Var):
            return ast.copy_location(ast.Name(id=ref.name, ctx=ast.Load()), node)
        if isinstance(ref, Const):
            return ast.copy_location(ast.Constant(ref.value), node)
        return self.whole(node, ref)

    def whole(self, node: ast.AST, ref: Struct):
        name = node.id if isinstance(node, ast.Name) else ast.unparse(node)
        if not ref.from_argument:
            raise _Untrackable(ref.origin, node)
        raise self.error(node, f"the container {name!r} is used as a whole here",
                         "read its entries with constant keys (params['W']), unpack it "
                         "(W, b = params), iterate over it, or pass its entries "
                         "one by one")

    # -- loops over containers --------------------------------------------------------------
    def iteration(self, node: ast.expr, names_ok: bool = False) -> list[Ref] | None:
        """What ``for t in node`` runs through, when ``node`` is a known container (or
        ``enumerate``/``zip`` of them, ``.items()``, ``.keys()``, ``.values()``). With
        ``names_ok`` (a comprehension, which cannot rebind them) also a display of names:
        ``sum(v * v for v in (a, b))``."""
        if isinstance(node, ast.Call) and not node.keywords:
            if self.is_builtin(node.func, "enumerate") and len(node.args) == 1:
                inner = self.iteration(node.args[0], names_ok)
                return None if inner is None else [
                    Struct(tuple, (0, 1), (Const(i), r))
                    for i, r in enumerate(inner)]
            if self.is_builtin(node.func, "zip") and node.args:
                parts = [self.iteration(a, names_ok) for a in node.args]
                if any(p is None for p in parts):
                    return None
                return [Struct(tuple, tuple(range(len(row))), tuple(row))
                        for row in zip(*parts)]
            if isinstance(node.func, ast.Attribute) and not node.args and \
                    node.func.attr in ("items", "keys", "values"):
                ref = self.resolve(node.func.value)
                if isinstance(ref, Struct) and ref.kind is not None and issubclass(
                        ref.kind, dict):
                    if node.func.attr == "keys":
                        return [Const(k) for k in ref.keys]
                    if node.func.attr == "values":
                        return list(ref.children)
                    return [Struct(tuple, (0, 1), (Const(k), c))
                            for k, c in zip(ref.keys, ref.children)]
            return None
        if isinstance(node, (ast.Tuple, ast.List)):  # (params["W1"], params["W2"])
            refs = [self.resolve(e) or (Var(e.id) if isinstance(e, ast.Name) and names_ok
                                        else None) for e in node.elts]
            return refs if refs and all(r is not None for r in refs) else None
        ref = self.resolve(node)
        if not isinstance(ref, Struct):
            return None
        if issubclass(ref.kind, dict):
            return [Const(k) for k in ref.keys]
        if ref.by_attribute and not issubclass(ref.kind, tuple):
            raise self.error(node, f"iterating over a {ref.kind.__name__}",
                             "read its fields by name")
        return list(ref.children)

    def unroll(self, stmt: ast.For, items: list[Ref]) -> list[ast.stmt]:
        """``for W, b in layers:`` over a container: one copy of the body per entry."""
        if stmt.orelse or _jumps(stmt.body):
            raise self.error(stmt, "break, continue or else in a loop over a container "
                             "(which is unrolled)", "use an if around the body instead")
        targets = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
        stored = {n.id for s in stmt.body for n in ast.walk(s)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        alias = not (targets & stored) and not (targets & self.loaded_after(stmt))
        out: list[ast.stmt] = []
        for ref in items:
            stmt.unrolled = True
            out += self.bind(copy.deepcopy(stmt.target), ref, stmt, alias)
            out += self.block(copy.deepcopy(stmt.body))
        return out

    def loaded_after(self, stmt: ast.stmt) -> set[str]:
        """Names read outside the loop's body: a target read there must be assigned."""
        inside = {id(n) for s in stmt.body for n in ast.walk(s)} | {
            id(n) for n in ast.walk(stmt.target)}
        return {n.id for n in ast.walk(self.fn) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load) and id(n) not in inside}

    def unrollable(self, node: ast.expr) -> bool:
        return (isinstance(node, COMPREHENSIONS) and len(node.generators) == 1
                and not node.generators[0].ifs and not node.generators[0].is_async
                and self.iteration(node.generators[0].iter, names_ok=True) is not None)

    def unroll_comprehension(self, node: ast.expr) -> ast.expr:
        """``[f(w) for w in params]`` over a container: the display ``[f(params_0), ...]``
        (its elements read the entries in place of the loop variable)."""
        gen = node.generators[0]
        saved = dict(self.env)
        elts, keys = [], []
        for ref in self.iteration(gen.iter, names_ok=True):
            self.bind(copy.deepcopy(gen.target), ref, gen.target, alias=True)
            if isinstance(node, ast.DictComp):
                keys.append(self.expr(copy.deepcopy(node.key)))
                elts.append(self.expr_or_struct(copy.deepcopy(node.value)))
            else:
                elts.append(self.expr_or_struct(copy.deepcopy(node.elt)))
            self.env = dict(saved)
        if isinstance(node, ast.DictComp):
            return ast.copy_location(ast.Dict(keys=keys, values=elts), node)
        if isinstance(node, ast.SetComp):
            raise self.error(node, "a set comprehension", "build a list or a tuple instead")
        return ast.copy_location(ast.List(elts=elts, ctx=ast.Load()), node)

    def expr_or_struct(self, node: ast.expr) -> ast.expr:
        """An element of an unrolled comprehension: a container stays the expression that
        names it, so the display that holds it can be lowered too."""
        if isinstance(self.resolve(node), Struct):
            return node
        return self.expr(node)

    # -- expressions --------------------------------------------------------------------------
    def constant(self, node: ast.expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and \
                not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(
                node.operand, ast.Constant) and type(node.operand.value) is int:
            return -node.operand.value
        if isinstance(node, ast.Name) and isinstance(self.env.get(node.id), Const):
            return self.env[node.id].value
        return _NOT_CONSTANT

    def resolve(self, node: ast.expr) -> Ref | None:
        """What ``node`` stands for, when it reads a known container (None otherwise)."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            if not isinstance(base, Struct):
                return None
            key = self.constant(node.slice)
            if key is _NOT_CONSTANT:
                self.untrackable(base, node)
                raise self.error(node, f"indexing the container {ast.unparse(node.value)!r} "
                                 f"with {ast.unparse(node.slice)!r}, which is not a constant",
                                 "use constant keys (params['W'], layers[0]) or iterate "
                                 "over the container (for W, b in layers)")
            if isinstance(key, int) and not issubclass(base.kind, dict) and key < 0:
                key += len(base.children)
            child = base.child(key)
            if base.by_attribute:  # a NamedTuple is indexed by position; a dataclass is not
                named = issubclass(base.kind, tuple) and type(key) is int
                child = base.children[key] if named and 0 <= key < len(base.children) else None
            if child is None:
                self.untrackable(base, node)
                raise self.error(node, f"{ast.unparse(node.value)} has no entry {key!r} "
                                 f"(it has {', '.join(map(repr, base.keys))})",
                                 "read an entry it has")
            return child
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if not isinstance(base, Struct):
                return None
            if not base.by_attribute or base.child(node.attr) is None:
                self.untrackable(base, node)
                raise self.error(node, f"{ast.unparse(node.value)} ({base.kind.__name__}) "
                                 f"has no field {node.attr!r} to read",
                                 f"read one of its fields: {', '.join(map(str, base.keys))}")
            return base.child(node.attr)
        return None

    def method_call(self, node: ast.Call) -> None:
        struct = self.resolve(node.func.value)
        self.untrackable(struct, node)
        base, method = ast.unparse(node.func.value), node.func.attr
        if struct.by_attribute:
            raise self.error(node, f"calling {base}.{method}(...), a method of the argument "
                             f"{base!r}", "inline the method, or write it as a function of "
                             f"the arrays it uses: {method}({base}.W, ...)")
        raise self.error(node, f"calling {base}.{method}(...) on the container {base!r} "
                         "passed as an argument", "containers passed in are read, not "
                         "changed: build a new one (new = [*old, x]) or a list of your own")

    def call_with_containers(self, node: ast.Call) -> ast.Call | None:
        """``helper(params, x)``, ``helper`` a user function: a call of ``helper``
        specialized to the structure of ``params``, passing its leaves."""
        values = node.args + [k.value for k in node.keywords]
        if self.helpers is None or not isinstance(node.func, ast.Name) or not any(
                isinstance(self.resolve(v), Struct) for v in values):
            return None
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords) or node.func.id in self.stores:
            return None
        try:
            callee = self.lookup(node.func.id) if self.lookup else None
            bound = inspect.signature(callee).bind(*node.args, **{
                k.arg: k.value for k in node.keywords})
            bound.apply_defaults()
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(callee, types.FunctionType):
            return None
        structures = {}
        for param, value in bound.arguments.items():
            ref = self.resolve(value) if isinstance(value, ast.AST) else None
            if isinstance(ref, Struct):
                tree = _as_tree(ref)
                if tree is None:
                    return None
                structures[param] = tree
        key = (callee, structure_key(structures))
        if key not in self.helper_names:  # one name per function and structure
            self.helper_names[key] = self.namer.fresh(
                f"{callee.__name__}_{'_'.join(structures)}")
        name = self.helper_names[key]
        spec = self.helpers(name, callee, structures)
        params = inspect.signature(spec.fn).parameters
        args, keywords = [], []
        for param, value in bound.arguments.items():
            if param in structures:
                parts = [(leaf, self.value_of(v, node)) for leaf, v in zip(
                    spec.leaves[param], _flat(self.resolve(value)))]
            elif isinstance(value, ast.AST):
                parts = [(param, self.expr(value))]
            else:  # a default: passed as the constant it is
                parts = [(param, ast.copy_location(ast.Constant(value), node))]
            for leaf, expr in parts:
                if params[leaf].kind is inspect.Parameter.KEYWORD_ONLY:
                    keywords.append(ast.keyword(arg=leaf, value=expr))
                else:
                    args.append(expr)
        func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node.func)
        return ast.copy_location(ast.Call(func=func, args=args, keywords=keywords), node)

    def untrackable(self, base: Struct, node: ast.expr) -> None:
        """A container built inside, used in a way not followed: it is left as it is."""
        if not base.from_argument:
            raise _Untrackable(base.origin, node)

    def expr(self, node: ast.expr) -> ast.expr:
        """``node`` with every read of a known container replaced by the leaf it reads."""
        ref = self.resolve(node)
        if ref is not None:
            return self.value_of(ref, node)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and isinstance(
                    self.resolve(node.func.value), Struct):
                self.method_call(node)
            passed = self.call_with_containers(node)
            if passed is not None:
                return passed
            if self.is_builtin(node.func, "len") and len(node.args) == 1:
                inner = self.resolve(node.args[0])
                if isinstance(inner, Struct):
                    return ast.copy_location(ast.Constant(len(inner.children)), node)
            if self.is_builtin(node.func, "sum") and len(node.args) == 1 and \
                    self.unrollable(node.args[0]):
                items = self.unroll_comprehension(node.args[0]).elts
                total = items[0] if items else ast.Constant(0)
                for item in items[1:]:
                    total = ast.copy_location(ast.BinOp(left=total, op=ast.Add(),
                                                        right=item), node)
                return total
            node.func = self.expr(node.func)
            node.args = self.spliced(node.args)
            node.keywords = [self.generic(k) for k in node.keywords]
            return node
        if isinstance(node, (ast.Tuple, ast.List)):
            node.elts = self.spliced(node.elts)
            return node
        if isinstance(node, COMPREHENSIONS):
            if self.unrollable(node):
                return self.expr(self.unroll_comprehension(node))
            for gen in node.generators:
                if self.iteration(gen.iter) is not None:
                    raise self.error(node, "a comprehension over a container with an "
                                     "if or several for clauses", "write the loop out")
            self.check_not_captured_except_reads(node)
            return node
        if isinstance(node, ast.Lambda):
            self.check_not_captured(node)
            return node
        return self.generic(node)

    def check_not_captured_except_reads(self, node: ast.expr) -> None:
        """A comprehension the desugar pass lowers later: its reads of containers are
        rewritten here like any others (its own loop variables shadow nothing here)."""
        own = {n.id for g in node.generators for n in ast.walk(g.target)
               if isinstance(n, ast.Name)}
        saved = {k: self.env.pop(k) for k in list(self.env) if k in own}
        self.generic(node)
        self.env.update(saved)

    def spliced(self, elts: list[ast.expr]) -> list[ast.expr]:
        """Call arguments or display elements, with ``*p`` of a known container spliced."""
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                ref = self.resolve(e.value)
                if isinstance(ref, Struct):
                    out += [self.value_of(c, e) for c in ref.children]
                    continue
            out.append(self.expr(e))
        return out


_NOT_CONSTANT = object()


def _flat(ref: Ref) -> list[Var]:
    if isinstance(ref, Struct):
        return [v for c in ref.children for v in _flat(c)]
    return [ref] if isinstance(ref, Var) else []


def _as_tree(ref: Ref) -> Tree | None:
    """The structure of a container passed on: its leaves are variables (never constants)."""
    if isinstance(ref, Var):
        return Leaf(True)
    if not isinstance(ref, Struct):
        return None
    children = [_as_tree(c) for c in ref.children]
    if any(c is None for c in children):
        return None
    return Node(ref.kind, ref.keys, tuple(children), ref.by_attribute)


def _jumps(body: list[ast.stmt]) -> bool:
    """break or continue belonging to the loop whose body this is."""
    def walk(node: ast.AST) -> bool:
        if isinstance(node, (ast.Break, ast.Continue)):
            return True
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
            return False
        return any(walk(c) for c in ast.iter_child_nodes(node))
    return any(walk(s) for s in body)


def _builds_containers(fn: ast.FunctionDef) -> bool:
    """Whether a name is bound to a display or a dict comprehension (the rest of the pass
    only follows containers from there or from the arguments)."""
    return any(isinstance(node, ast.Assign) and isinstance(node.value, (
        *DISPLAYS, ast.DictComp, ast.ListComp, ast.Call)) for node in ast.walk(fn))


def _store_counts(fn: ast.FunctionDef) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
    for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        counts[a.arg] = counts.get(a.arg, 0) + 1
    return counts


def structure_key(structures: dict[str, Node]) -> tuple:
    return tuple(sorted(structures.items()))
