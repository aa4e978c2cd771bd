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
import re
from collections.abc import Callable

from .container_loops import Unrolling
from .container_reads import Reads
from .container_refs import (
    DISPLAYS,
    NOT_CONSTANT,
    Const,
    ContainerError,
    Ref,
    Struct,
    Untrackable,
    Var,
    builds_containers,
    flat_vars,
    store_counts,
)
from .errors import Location
from .names import Namer, names_in
from .trees import Leaf, Tree


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
    if not structures and not builds_containers(fn):
        return fn, {}
    while True:
        try:
            rewriter = _Rewriter(fn, structures, where, lookup, excluded, namer)
            rewriter.helpers = helpers
            return rewriter.run()
        except Untrackable as exc:
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


class _Rewriter(Reads, Unrolling):
    def __init__(self, fn: ast.FunctionDef, structures: dict[str, Tree], where, lookup,
                 excluded: set[str], namer: Namer | None):
        self.fn = fn
        self.structures = structures
        self.where = where
        self.lookup = lookup
        self.namer = namer if namer is not None else Namer(names_in(fn))
        self.env: dict[str, Ref] = {}
        self.stores = store_counts(fn)
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
            leaves[name] = [r.name for r in flat_vars(self.env[name])]
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
                raise Untrackable(ref.origin, stmt)
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
                        raise Untrackable(origin, element)
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
                if k is NOT_CONSTANT:
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

