"""Views the normalizer can see, so that a write through a view becomes a write into its base.

NumPy's basic indexing returns a view: after ``r = A[0]``, ``r *= 2.0`` and ``r[1] = v``
change ``A``. A gradient computed variable by variable would miss that, so the normalizer
rewrites such writes as writes into the base array, which the engine differentiates like any
other element write, and then takes the view again:

    r = A[0]            r = A[0]
    r[1] = v      ->    A[0, 1] = v
                        r = A[0]

The table below records, for each variable, the ``base[index]`` it was last bound to, as long
as that is certainly a view (or a scalar read: ``A[0]`` of a vector) and ``base`` has not
been rebound since. Anything it cannot prove is left out; the aliasing analysis
(``aliasing.py``) then checks, or refuses, the writes that were not rewritten.

>>> import ast
>>> table = ViewTable()
>>> table.assigned(ast.parse("r = A[k]").body[0], known_ints={"k"})
>>> table.get("r").base
'A'
>>> table.assigned(ast.parse("A = B + 1").body[0], known_ints=set())
>>> table.get("r") is None
True
"""
from __future__ import annotations

import ast
import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    base: str
    index: ast.expr  # the normalized index: atoms, slices and tuples of them

    def same_as(self, other: View | None) -> bool:
        return other is not None and self.base == other.base and \
            ast.dump(self.index) == ast.dump(other.index)


def index_parts(index: ast.expr) -> list[ast.expr]:
    return list(index.elts) if isinstance(index, ast.Tuple) else [index]


def is_int_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def is_basic_part(part: ast.expr, known_ints: set[str]) -> bool:
    """An index part that certainly makes basic indexing: an integer, a slice, None, ``...``
    (a name counts only when it certainly holds an integer: a loop counter, say)."""
    if isinstance(part, ast.Slice) or is_int_constant(part):
        return True
    if isinstance(part, ast.Constant):
        return part.value is None or part.value is Ellipsis
    return isinstance(part, ast.Name) and part.id in known_ints


def compose(outer: ast.expr, inner: ast.expr) -> ast.expr | None:
    """The index into the base that ``base[outer][inner]`` reads, when ``outer`` is made of
    integers only (each takes away one leading axis, so ``A[i][j] is A[i, j]``); else None."""
    parts = index_parts(outer)
    if not all(is_int_constant(p) or isinstance(p, ast.Name) for p in parts):
        return None
    return ast.Tuple(elts=[copy.deepcopy(p) for p in parts + index_parts(inner)],
                     ctx=ast.Load())


INTEGER_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)


def integers_kept(body: list[ast.stmt], ints: set[str], rebound: set[str]) -> set[str]:
    """The names of ``rebound`` that hold integers before a loop and are only ever assigned
    integers in its ``body`` (``c = 0`` before, ``c += 1`` inside a ``while``): still
    integers in every iteration, so ``A[c - 1]`` is a view there. Found by dropping, until
    none is left to drop, a name with an assignment that is not integer arithmetic on the
    names kept; a name bound any other way (unpacking, ``for`` over other than ``range``)
    is dropped too."""
    kept = rebound & ints
    while True:
        known = (ints - rebound) | kept
        checked, dropped = set(), set()
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            target, value = _integer_binding(node)
            if target is None:
                continue
            checked.add(id(target))
            if value is None or not ViewTable().is_integer(value, known):
                dropped.add(target.id)
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and \
                    id(node) not in checked:
                dropped.add(node.id)
        if not kept & dropped:
            return kept
        kept -= dropped


def _integer_binding(node: ast.AST) -> tuple[ast.Name | None, ast.expr | None]:
    """(target, the value it gets) of a binding whose value can be judged an integer:
    ``c = v``, ``c op= v`` (as ``c op v``), ``for c in range(...)`` (value: the constant
    0); (target, None) for other single-name bindings; (None, None) otherwise."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
            isinstance(node.targets[0], ast.Name):
        return node.targets[0], node.value
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        load = ast.Name(id=node.target.id, ctx=ast.Load())
        return node.target, ast.BinOp(left=load, op=node.op, right=node.value)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target, node.value
    if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
        ranged = isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name) \
            and node.iter.func.id == "range"
        return node.target, ast.Constant(0) if ranged else None
    return None, None


class ViewTable:
    """Which variables are views ``base[index]`` at the current point of the normalized code,
    and which names certainly hold Python integers (loop counters and arithmetic on them)."""

    def __init__(self, untracked: Callable[[str], bool] = lambda name: False) -> None:
        self.views: dict[str, View] = {}
        self.ints: set[str] = set()
        # temporaries bound to base[index] (to be copied into a name: a, b = A[0], A[1])
        self.pending: dict[str, View] = {}
        # views known to be arrays: taken with a slice, or written into (``r[j] = v`` only
        # runs on an array); ``A[i]`` alone may be a number, which is a copy, not a view
        self.arrays: set[str] = set()
        # temporaries (never written through) and lists (their entries are not views)
        self.untracked = untracked

    def get(self, var: str) -> View | None:
        return self.views.get(var)

    def assigned(self, stmt: ast.Assign, known_ints: set[str] | None = None) -> None:
        """Update the table after ``stmt`` (element writes change no binding)."""
        ints = self.ints if known_ints is None else known_ints
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):
            return
        names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        # judged before the names are forgotten: ``c = c + 1`` keeps an integer c
        integer = isinstance(target, ast.Name) and self.is_integer(stmt.value, ints)
        self.forget(names)
        if not isinstance(target, ast.Name):
            return
        value = stmt.value
        if integer:
            self.ints.add(target.id)
        if isinstance(value, ast.Name) and value.id in self.pending and \
                not self.untracked(target.id):
            # a, b = A[0], A[1] reads into temporaries first: a is the view t was
            view = self.pending[value.id]
            if view.base != target.id and not self.untracked(view.base):
                self.views[target.id] = view
            return
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and \
                value.value.id != target.id and not self.untracked(value.value.id) and \
                all(is_basic_part(p, ints) for p in index_parts(value.slice)):
            view = View(value.value.id, copy.deepcopy(value.slice))
            if self.untracked(target.id):  # a temporary: never written, maybe copied
                self.pending[target.id] = view
                return
            self.views[target.id] = view
            if any(not is_int_constant(p) and not isinstance(p, ast.Name)
                   for p in index_parts(value.slice)):
                self.arrays.add(target.id)

    def is_integer(self, value: ast.expr, ints: set[str]) -> bool:
        def integer(atom: ast.expr) -> bool:
            return is_int_constant(atom) or isinstance(atom, ast.Name) and atom.id in ints
        if isinstance(value, ast.BinOp) and isinstance(value.op, INTEGER_OPS):
            return integer(value.left) and integer(value.right)
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
                value.func.id == "len":
            return True
        return integer(value)

    def forget(self, names) -> None:
        """``names`` are rebound: they are no longer views, and views of them, or taken with
        them as an index, are gone."""
        gone = set(names)
        self.ints -= gone
        self.arrays -= gone
        self.pending = {t: view for t, view in self.pending.items() if t not in gone and
                        view.base not in gone and not gone & {
                            n.id for n in ast.walk(view.index) if isinstance(n, ast.Name)}}
        changed = True
        while changed:
            changed = False
            for var, view in list(self.views.items()):
                used = {n.id for n in ast.walk(view.index) if isinstance(n, ast.Name)}
                if var in gone or view.base in gone or used & gone:
                    del self.views[var]
                    self.arrays.discard(var)
                    gone.add(var)
                    changed = True

    def descendants(self, root: str) -> list[tuple[str, View]]:
        """The views of ``root``, then views of those, in order: parents before children."""
        found, frontier = [], [root]
        while frontier:
            base = frontier.pop(0)
            for var, view in self.views.items():
                if view.base == base and var not in [f for f, _ in found]:
                    found.append((var, view))
                    frontier.append(var)
        return found

    def root(self, var: str) -> str:
        seen = set()
        while var in self.views and var not in seen:
            seen.add(var)
            var = self.views[var].base
        return var

    # -- control flow ---------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, View], set[str], set[str]]:
        return dict(self.views), set(self.ints), set(self.arrays)

    def restore(self, state: tuple[dict[str, View], set[str], set[str]]) -> None:
        self.views, self.ints, self.arrays = dict(state[0]), set(state[1]), set(state[2])

    def join(self, other: tuple[dict[str, View], set[str], set[str]]) -> None:
        """Keep what holds on both paths into a join point."""
        views, ints, arrays = other
        self.views = {v: view for v, view in self.views.items() if view.same_as(views.get(v))}
        self.ints &= ints
        self.arrays &= arrays


# -- what a function does to its parameters (read from its syntax) -------------------------
VIEW_CALLS = {"reshape", "ravel", "transpose", "squeeze", "swapaxes", "view", "diagonal",
              "asarray", "expand_dims", "atleast_1d", "atleast_2d", "atleast_3d", "moveaxis",
              "broadcast_to", "flip", "fliplr", "flipud", "rot90", "real"}


def array_source(value: ast.expr) -> str | None:
    """The name whose memory an expression certainly shares if it is an array it can be
    written through: ``x``, ``x[...]``, ``x.T``, ``x.reshape(...)`` and chains of them (each
    needs x to be an array, or the function fails before any write)."""
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, (ast.Subscript, ast.Attribute)):
        return array_source(value.value)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
            value.func.attr in VIEW_CALLS:
        return array_source(value.func.value)
    return None


def parameters_written_through_views(tree: ast.FunctionDef) -> set[str]:
    """Parameters an element write reaches through a chain of views (``t = x.reshape(3,
    2); t[0] = v``): certainly arrays, changed in place."""
    params = {a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs}
    root: dict[str, str] = {p: p for p in params}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            source = array_source(node.value)
            if source in root and node.targets[0].id not in params:
                root[node.targets[0].id] = root[source]
    found = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AugAssign) else [])
        for t in targets:
            if isinstance(t, ast.Subscript):
                name = array_source(t.value)
                if name in root:
                    found.add(root[name])
    return found


def may_share_source(value: ast.expr) -> list[str]:
    """Names whose memory an expression's value may share, read from source syntax: names,
    subscripts, attributes (``.T``), view-making calls, calls of the user's own functions
    (anything not known to make a new array), containers; arithmetic makes new arrays."""
    if isinstance(value, ast.Name):
        return [value.id]
    if isinstance(value, (ast.Subscript, ast.Attribute, ast.Starred)):
        return may_share_source(value.value)
    if isinstance(value, (ast.Tuple, ast.List)):
        return [n for e in value.elts for n in may_share_source(e)]
    if isinstance(value, ast.IfExp):
        return may_share_source(value.body) + may_share_source(value.orelse)
    if isinstance(value, ast.Call):
        func = value.func
        attr = func.attr if isinstance(func, ast.Attribute) else None
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if attr in VIEW_CALLS or not (isinstance(root, ast.Name) and root.id in ("np", "math")):
            receiver = may_share_source(func.value) if isinstance(func, ast.Attribute) else []
            return receiver + [n for a in value.args for n in may_share_source(a)]
    return []


def parameters_written(tree: ast.FunctionDef, lookup: Callable[[str], object],
                       seen: frozenset = frozenset()) -> dict[str, str]:
    """The parameters of a function whose memory it may change in place, each with the
    kind of change: "write" (``p[i] = v``: certainly an array) or "augmented" (``p += v``:
    in place only if p is an array). Names bound to views of a parameter count as the
    parameter, and so do the functions (``lookup`` finds them) it passes them to."""
    params = [a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs]
    shares = {p: {p} for p in params}  # name -> parameters it may share memory with
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                found = set().union(*[shares.get(n, set()) for n in may_share_source(node.value)])
                for target in node.targets:
                    for t in ast.walk(target):
                        if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store) and \
                                not found <= shares.setdefault(t.id, set()):
                            shares[t.id] |= found
                            changed = True
    result: dict[str, str] = {}

    def note(name: str, kind: str) -> None:
        for p in shares.get(name, set()):
            if result.get(p) != "write":
                result[p] = kind

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id not in seen:
            callee = lookup(node.func.id)
            if inspect.isfunction(callee):
                inner = callee_parameters_written(callee, seen | {node.func.id})
                try:
                    bound = inspect.signature(callee).bind(*node.args, **{
                        k.arg: k.value for k in node.keywords if k.arg})
                except TypeError:
                    bound = None
                for param, arg in (bound.arguments.items() if bound else ()):
                    if param in inner and isinstance(arg, ast.AST):
                        for n in may_share_source(arg):
                            note(n, inner[param])
        kind, name = None, None
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AugAssign) else [])
        for t in targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                kind, name = "write", t.value.id
            elif isinstance(node, ast.AugAssign) and isinstance(t, ast.Name):
                kind, name = "augmented", t.id
            if name:
                note(name, kind)
    return result


def callee_parameters_written(fn, seen: frozenset) -> dict[str, str]:
    from .errors import AdjointError
    from .source import parse

    try:
        tree = parse(fn).tree
    except AdjointError:
        return {}
    return parameters_written(tree, fn.__globals__.get, seen)
