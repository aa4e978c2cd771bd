"""TRANSFORM (reverse mode): from a normalized function to its flat adjoint.

The generated function replays the primal (the *forward sweep*), saving a variable's old
value only where the forward sweep overwrites something the backward sweep will read, then
walks the statements in reverse (the *backward sweep*), one rule per statement. Branches
are re-taken from their recorded conditions; loops run backwards over the same indices
(or a recorded trip count); values overwritten inside a loop go on one stack per variable.

Adjoints are never updated in place: a contribution is ``dx = <value>`` on the first write
and ``dx = dx + <value>`` afterwards. In-place ``+=`` would be unsafe because a first write
such as ``dx = dz`` makes two adjoints share one array.
"""
from __future__ import annotations

import ast
import copy
import inspect
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import checkpoint, helpers, optimize
from .aliasing import (
    ALIASING_OPS,
    MemoryModel,
    check_writes,
    insert_guards,
)
from .analyze import activity, float_variables, scalar_variables
from .errors import ArgumentError, UnsupportedSyntaxError
from .names import Namer, names_in
from .normalize import GUARD, Normalizer, jumps, local_names
from .resolve import Op, Resolver, assigned_names, atom_names
from .source import Source, parse
from .template import fold, instantiate, is_number


def comment(text: str) -> ast.stmt:
    """A statement that the emitter prints as ``# text``."""
    node = ast.Expr(value=ast.Constant(value=None))
    node.comment = text
    return node


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def assign(target: str | ast.expr, value: ast.expr) -> ast.Assign:
    if isinstance(target, str):
        target = name(target, store=True)
    return ast.Assign(targets=[target], value=value)


def call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=name(func) if "." not in func else ast.parse(func, mode="eval").body,
                    args=list(args), keywords=[])


def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a body, nested ones included, in program order."""
    for stmt in body:
        yield stmt
        for field_name in ("body", "orelse"):
            yield from statements(getattr(stmt, field_name, None) or [])


def assigned_name(stmt: ast.stmt) -> str | None:
    """The variable an assignment changes: ``x`` for ``x = ...`` and for ``x[i] = ...``."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):
            return target.value.id
        if isinstance(target, ast.Name):
            return target.id
    if isinstance(stmt, ast.For):
        return stmt.target.id
    return None


def is_element_write(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)


def is_loop(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.For, ast.While))


@dataclass
class Chunk:
    """The backward code of one forward statement, before assembly.

    ``code`` is a simple statement's adjoint code; compound statements keep their nested
    blocks as chunk lists in ``children`` and build their statement with ``make`` once the
    save analysis has appended restores to the nested chunks.
    """

    stmt: ast.stmt
    code: list[ast.stmt] = field(default_factory=list)
    restores: list[ast.stmt] = field(default_factory=list)
    children: list[list[Chunk]] = field(default_factory=list)
    header: list[ast.stmt] = field(default_factory=list)  # read by the backward header
    top: list[ast.stmt] = field(default_factory=list)  # loops: restores opening each iteration
    make: object = None
    restores_first: bool = False  # a recomputed segment starts from its restored snapshot

    def reads(self, primal: set[str]) -> set[str]:
        found = primal_reads(self.code + self.header, primal)
        for block in self.children:
            for chunk in block:
                found |= chunk.reads(primal)
        return found


@dataclass
class AdjointFunction:
    """One generated function of the adjoint module."""

    name: str
    tree: ast.FunctionDef
    source: Source
    wrt: tuple[str, ...]
    returns_value: bool
    cotangent: str  # the name of its upstream-gradient parameter (dout)
    outputs: int = 1  # a function returning a tuple takes a tuple of cotangents


@dataclass
class AdjointModule:
    """The adjoint of a user function, plus adjoints of the user functions it calls."""

    functions: list[AdjointFunction] = field(default_factory=list)
    # (source, dotted name, function) for every user function the code calls by name
    dependencies: list = field(default_factory=list)
    _by_key: dict = field(default_factory=dict)
    _building: list = field(default_factory=list)
    namer: Namer = field(default_factory=Namer)

    @property
    def main(self) -> AdjointFunction:
        return self.functions[0]

    def adjoint_of(self, fn: types.FunctionType, wrt: tuple[str, ...],
                   returns_value: bool, call_site=None,
                   scalars: frozenset[str] = frozenset(),
                   floats: frozenset[str] = frozenset()) -> AdjointFunction:
        return build_once(self, (fn, wrt, returns_value, scalars, floats), fn, call_site,
                          lambda: FunctionBuilder(parse(fn), wrt, returns_value, self, scalars,
                                                  floats).build())


def build_once(module, key, fn: types.FunctionType, call_site, make):
    """The generated function for ``key`` in ``module`` (an adjoint or a tangent module),
    made by ``make()`` the first time. Callers come before callees in the module, and a
    function that reaches itself again while being built is recursion: refused."""
    if key in module._by_key:
        return module._by_key[key]
    if fn in module._building:
        raise UnsupportedSyntaxError(
            f"recursive call to {fn.__name__}: recursion is not supported",
            call_site, "write the recursion as a loop")
    module._building.append(fn)
    try:
        slot = len(module.functions)
        module.functions.append(None)  # keep the caller first in the module
        built = make()
        module.functions[slot] = built
        module._by_key[key] = built
        return built
    finally:
        module._building.pop()


def build_module(fn: types.FunctionType, wrt: tuple[str, ...],
                 scalars: frozenset[str] = frozenset(),
                 floats: frozenset[str] = frozenset()) -> AdjointModule:
    """The adjoint module of ``fn`` with respect to the named parameters; ``scalars``
    names parameters known to be scalars."""
    module = AdjointModule()
    module.adjoint_of(fn, wrt, returns_value=True, scalars=scalars, floats=floats)
    return module


class FunctionBuilder:
    """Builds one adjoint function; see the module docstring for the shape of its output."""

    def __init__(self, src: Source, wrt: tuple[str, ...], returns_value: bool,
                 module: AdjointModule, scalars: frozenset[str] = frozenset(),
                 floats: frozenset[str] = frozenset()):
        self.src, self.wrt, self.returns_value, self.module = src, wrt, returns_value, module
        self.scalar_params, self.float_params = scalars, floats
        from . import runtime  # noqa: I001 - runtime names are reserved, not called here

        taken = names_in(src.tree) | set(runtime.__all__) | {"np", "math", "range", "len"}
        self.namer = Namer(taken)
        self.params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args +
                       src.tree.args.kwonlyargs]
        self.live: set[str] = set()
        # adjoints whose array nothing else refers to: updated in place (dx[i] += g)
        self.owned: set[str] = set()
        self.saves_before: dict[int, list[ast.stmt]] = {}
        self.saves_after: dict[int, list[ast.stmt]] = {}
        self.stacks: list[str] = []
        self.unbound: set[str] = set()  # pre-bound to None so a first save is defined
        self.memo_counts: dict[int, dict[str, int]] = {}
        self.retired: list[ast.stmt] = []
        self.memo_jumps: dict[int, int] = {}
        self.restored: set[str] = set()
        self.rerun_arrays: dict[int, list[ast.stmt]] = {}  # allocated as a segment reruns

    # -- pipeline ----------------------------------------------------------------------------
    def build(self) -> AdjointFunction:
        self.prepare()
        self.split_checkpointed_loops()
        for var in self.params + self.user_variables():
            self.adjoint(var)  # adjoint names in reading order, before anything else is named
        fn_name = self.function_name()
        cotangent = self.namer.fresh("dout")
        tree = self.assemble(fn_name, cotangent)
        tree = optimize.drop_default_arguments(optimize.renumber_temporaries(tree, self.namer))
        outputs = len(self.returned.elts) if isinstance(self.returned, ast.Tuple) else 1
        return AdjointFunction(fn_name, tree, self.src, self.wrt, self.returns_value, cotangent,
                               outputs)

    resolver_class = Resolver  # forward mode resolves a few more operations

    def prepare(self) -> None:
        """Normalize, resolve and analyze the function, and refuse what cannot be
        differentiated: everything both modes need before they generate code."""
        from .compile import is_generated  # noqa: I001 - compile imports this module

        # generated adjoint code (under hvp) takes its views again itself
        norm = Normalizer(self.src.tree, self.namer, self.src.where, self.src.lookup,
                          track_views=not is_generated(self.src.filename)).run()
        self.body, self.returned = norm.body[:-1], norm.body[-1].value
        self.locals = local_names(norm)
        self.check_wrt()
        self.lists = list_variables(self.body)
        resolver = self.resolver_class(self.src, self.locals, self.lists)
        self.ops = {id(s): resolver.resolve(s) for s in statements(self.body)
                    if isinstance(s, ast.Assign)}
        self.module.dependencies += [(self.src, path, fn) for path, fn in resolver.dependencies]
        for s in statements(self.body):
            if hasattr(s, "appends_to"):
                self.ops[id(s)] = Op("append", ".append()", bound={
                    "x": name(s.appends_to), "value": s.value.args[0]})
        self.body = self.unpack_arrays(self.body, resolver)
        self.analyze()
        self.body = self.split_block(self.body)
        self.analyze()
        self.mutated_in_place = {assigned_name(s) for s in statements(self.body)
                                 if is_element_write(s)}
        self.row_pts = self.points_to(rows=True)  # for saves: any index may give a view
        self.check_aliasing()
        self.check_side_effects()
        self.locals |= assigned_in(self.body)

    def split_checkpointed_loops(self) -> None:
        """Reverse mode only: each checkpointed loop becomes a loop over segments whose body
        runs one segment (see checkpoint.py); its loop bounds carry no derivative."""
        self.body, added = checkpoint.expand(self.body, self.namer, self.src)
        for stmt in added:
            self.ops[id(stmt)] = Op("zero", "checkpoint bounds")
        self.locals |= assigned_in(self.body)

    def analyze(self) -> None:
        body = list(statements(self.body))
        self.facts = activity(body, self.ops, list(self.wrt), self.returned)
        self.scalars = scalar_variables(body, self.ops, self.params, self.scalar_params)
        self.floats = float_variables(body, self.ops, self.scalars, self.float_params)

    def is_scalar(self, atom: ast.expr) -> bool:
        return isinstance(atom, ast.Name) and atom.id in self.scalars

    def user_variables(self) -> list[str]:
        """The user's own local variables, in the order they are first assigned."""
        stores = [n for n in ast.walk(self.src.tree)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        stores.sort(key=lambda n: (n.lineno, n.col_offset))
        return list(dict.fromkeys(n.id for n in stores if n.id not in self.params))

    def function_name(self) -> str:
        """``d<name>``; a second variant of a helper (other wrt) says which it is."""
        base = self.src.name
        candidates = [f"d{base}", f"{base}_adjoint"]
        if self.module.namer.is_taken(f"d{base}") or not self.returns_value:
            candidates.insert(1, f"d{base}_wrt_{'_'.join(self.wrt)}")
        for candidate in candidates:
            if not self.namer.is_taken(candidate) and not self.module.namer.is_taken(candidate):
                self.module.namer.reserve(candidate)
                self.namer.reserve(candidate)
                return candidate
        chosen = self.module.namer.fresh(f"{base}_adjoint")
        self.namer.reserve(chosen)
        return chosen

    def check_wrt(self) -> None:
        for w in self.wrt:
            if w not in self.params:
                raise ArgumentError(f"{self.src.name} has no parameter named {w!r}",
                                    self.src.where(self.src.tree),
                                    f"choose wrt among {', '.join(self.params)}")

    def points_to(self, rows: bool = False) -> dict[str, set]:
        """Which objects each variable may refer to: copies, views and slices refer to their
        source's objects, anything else to a new object made by that statement. With
        ``rows``, integer indexing counts too (``X[0]`` is a row view when X has 2 axes)."""
        pts: dict[str, set] = {p: {("argument", p)} for p in self.params}
        changed = True
        while changed:
            changed = False
            for s in statements(self.body):
                if not isinstance(s, ast.Assign) or is_element_write(s):
                    continue
                source = self.alias_source(s, rows)
                new = set(pts.get(source, ())) if source else {("made", id(s))}
                for target in assigned_names(s):
                    if not new <= pts.setdefault(target, set()):
                        pts[target] |= new
                        changed = True
        return pts

    def check_aliasing(self) -> None:
        """An array changed in place (``a[i] = v``, ``a += v``, ``hs.append(h)``) must not be
        reachable, after the change, through another variable: NumPy would change both, and
        a gradient computed variable by variable would silently be wrong (see aliasing.py)."""
        for s in statements(self.body):
            if is_element_write(s) and assigned_name(s) in self.lists:
                raise UnsupportedSyntaxError(
                    f"assigning into an element of the list {assigned_name(s)}",
                    self.src.where(s.origin), "build the list with append only, or use an array")
        model = MemoryModel(self.body, self.ops, self.params, self.lists)

        def describe(other: str, var: str) -> str:
            origin = model.link(other, var)
            if origin is None or origin is GUARD or not hasattr(origin, "lineno"):
                return f"{other} may be the same array as {var}, or a view of it"
            return f"through `{self.src.text_of(origin).strip()}`"

        guards = check_writes(model, self.src.where, set(self.namer.temporaries()), describe)
        self.body = insert_guards(self.body, guards)

    def sharing(self, names: set[str]) -> set[str]:
        """Names plus the arrays changed in place that may share memory with them: reading a
        view reads the array it views."""
        pts = self.row_pts
        extra = {m for m in self.mutated_in_place for n in names
                 if pts.get(m, set()) & pts.get(n, set())}
        return names | extra

    def check_side_effects(self) -> None:
        """A call made for its effect (``hs.append(h)``, ``np.copyto(a, b)``) on a value that
        carries a gradient would change data behind the adjoint's back: refuse it."""
        for stmt in statements(self.body):
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
                continue
            if hasattr(stmt, "appends_to") or self.allowed_effect(stmt):
                continue
            func = stmt.value.func
            if isinstance(func, ast.Name) and func.id in GUARDS:
                continue
            involved = [n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)]
            if any(self.facts.is_active(n) or n in self.facts.varied for n in involved):
                what = ast.unparse(stmt.value)
                hint = ("collect results in an array made with np.zeros and write "
                        "out[i] = value" if isinstance(func, ast.Attribute) and func.attr in (
                            "append", "extend", "insert") else
                        "write the computation as an assignment")
                raise UnsupportedSyntaxError(
                    f"the call {what!r} changes a value that carries a gradient in place",
                    self.src.where(stmt), hint)

    def allowed_effect(self, stmt: ast.Expr) -> bool:
        """A call made for its effect that this builder knows how to follow (none here)."""
        return False

    def alias_source(self, stmt: ast.stmt, rows: bool = False) -> str | None:
        """The variable whose memory an assignment's result may share: plain copies, views
        (``.T``, reshape, transpose) and slices (``x[1:3]``, ``x[:, None]``)."""
        op = self.ops.get(id(stmt))
        if op is None or is_element_write(stmt):
            return None
        if getattr(stmt, "element_read", False) and not rows:
            return None  # read only to be updated (x[i] += v): no alias a user can see
        if op.label in ALIASING_OPS or (op.label == "indexing" and (
                rows or is_view_index(op.bound))):
            names = [n for a in op.differentiable_atoms()[:1] for n in atom_names(a)]
            return names[0] if names else None
        return None

    def unpack_arrays(self, body: list[ast.stmt], resolver: Resolver) -> list[ast.stmt]:
        """``a, b = np.array(...)`` (one array, unpacked): ``t = ...; a = t[0]; b = t[1]``."""
        out = []
        for stmt in body:
            for field_name in ("body", "orelse"):
                if getattr(stmt, field_name, None):
                    setattr(stmt, field_name,
                            self.unpack_arrays(getattr(stmt, field_name), resolver))
            self.retired.append(stmt)  # ops is keyed by id(): keep every statement alive
            op = self.ops.get(id(stmt))
            if op is None or op.kind != "unpack":
                out.append(stmt)
                continue
            whole = self.namer.temp()
            new = [assign(whole, stmt.value)] + [
                assign(t.id, ast.Subscript(value=name(whole), slice=ast.Constant(i),
                                           ctx=ast.Load()))
                for i, t in enumerate(stmt.targets[0].elts)]
            for n in new:
                ast.copy_location(n, stmt)
                n.origin = stmt.origin
            self.locals.add(whole)
            resolver.locals.add(whole)
            for n in new:
                self.ops[id(n)] = resolver.resolve(n)
            out += new
        return out

    def split_block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """``x = x * 2`` becomes ``t = x * 2; x = t`` when x is active, so each statement's
        rule sees the old operand and the new result under different names."""
        out = []
        for stmt in body:
            self.retired.append(stmt)  # ops is keyed by id(): keep every statement alive
            for field_name in ("body", "orelse"):
                if getattr(stmt, field_name, None):
                    setattr(stmt, field_name, self.split_block(getattr(stmt, field_name)))
            op = self.ops.get(id(stmt))
            if op is None or is_element_write(stmt) or op.kind == "zero":
                out.append(stmt)
                continue
            operands = {n for a in op.differentiable_atoms() for n in atom_names(a)}
            clashing = [t for t in assigned_names(stmt)
                        if t in operands and self.facts.is_active(t)]
            if not clashing:
                out.append(stmt)
                continue
            renamed = {t: self.namer.temp() for t in clashing}
            target = stmt.targets[0]
            if isinstance(target, ast.Tuple):
                new_target = ast.Tuple(elts=[name(renamed.get(e.id, e.id), store=True)
                                             for e in target.elts], ctx=ast.Store())
            else:
                new_target = name(renamed[target.id], store=True)
            first = ast.copy_location(assign(new_target, stmt.value), stmt)
            copies = [ast.copy_location(assign(t, name(temp)), stmt) for t, temp in renamed.items()]
            resolver = self.resolver_class(self.src, self.locals | set(renamed.values()))
            for new in [first, *copies]:
                new.origin = stmt.origin
                self.ops[id(new)] = resolver.resolve(new)  # results are now the temporaries
            out += [first, *copies]
        return out

    # -- backward sweep: adjoint code per statement ------------------------------------------
    def adjoint(self, var: str) -> str:
        return self.namer.adjoint(var)

    def is_active(self, var: str | None) -> bool:
        return var is not None and self.facts.is_active(var)

    def accumulate(self, target: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Add ``value`` to the adjoint of an atom: a first write, a sum, or nothing."""
        if isinstance(target, ast.Name):
            var = target.id
            if not self.is_active(var):
                return []
            dvar = self.adjoint(var)
            if var in self.live or is_fresh(value):
                self.owned.add(var)  # a sum, or a newly made array: ours alone
            else:
                self.owned.discard(var)  # may be the upstream's own array
            if var in self.live and var in self.lists:
                value = call("list_add", name(dvar), value)  # entry by entry, not concatenation
            elif var in self.live and isinstance(value, ast.UnaryOp) and isinstance(
                    value.op, ast.USub):
                value = ast.BinOp(left=name(dvar), op=ast.Sub(), right=value.operand)
            elif var in self.live:
                value = ast.BinOp(left=name(dvar), op=ast.Add(), right=value)
            self.live.add(var)
            return [assign(dvar, value)]
        if isinstance(target, (ast.Tuple, ast.List)):
            if not any(self.is_active(n) for n in atom_names(target)):
                return []
            parts = [self.namer.temp() for _ in target.elts]
            unpack = ast.Tuple(elts=[name(p, store=True) for p in parts], ctx=ast.Store())
            code = [assign(unpack, value)]
            for elt, part in zip(target.elts, parts):
                code += self.accumulate(elt, name(part))
            return code
        return []  # constants have no adjoint

    def materialize(self, variables: set[str], had_adjoint: set[str] = frozenset()
                    ) -> list[ast.stmt]:
        """Zero adjoints where control flow joins paths on which they were not written.
        An adjoint that was written earlier on this path still holds a value of the right
        shape, so it is zeroed from itself: no need to read (and keep) the primal value."""
        code = []
        for v in sorted(variables):
            like = name(self.adjoint(v)) if v in had_adjoint else name(v)
            code.append(assign(self.adjoint(v), call(
                "list_zeros" if v in self.lists else "zeros_like", like)))
        self.live |= variables
        self.owned |= variables
        return code

    def backward_of(self, stmt: ast.stmt) -> list[ast.stmt]:
        if not isinstance(stmt, ast.Assign):
            return []
        if isinstance(stmt.targets[0], ast.Tuple):
            return self.backward_of_unpacking(stmt)
        target = stmt.targets[0].id
        if not self.is_active(target) or target not in self.live:
            return []
        op = self.ops[id(stmt)]
        upstream = name(self.adjoint(target))
        # Before this assignment the variable held another value, whose adjoint starts at 0.
        self.live.discard(target)
        self.owned.discard(target)
        if op.kind == "rule" and op.rule.key == "getitem" and is_list(op.bound["x"], self.lists):
            return self.from_list_read(op, upstream, stmt)
        if op.kind == "rule" and op.rule.key == "getitem" and self.owns(op.bound["x"]):
            var = op.bound["x"].id  # dx[index] += dy, in place: no full-size zeros per read
            index = ast.Subscript(value=ast.Attribute(value=name("np"), attr="s_",
                                                      ctx=ast.Load()),
                                  slice=copy.deepcopy(op.bound["index"]), ctx=ast.Load())
            return [assign(self.adjoint(var), call("add_at", name(self.adjoint(var)), index,
                                                   upstream))]
        if op.kind == "rule":
            return self.from_rule(op, upstream)
        if op.kind == "call":
            return self.from_call(op, upstream, outputs=1)
        if op.kind == "pack" and target in self.lists:
            code = []
            for i, element in enumerate(stmt.value.elts):
                code += self.accumulate(element, call("list_entry", copy.deepcopy(upstream),
                                                      ast.Constant(i), copy.deepcopy(element)))
            return code
        if op.kind == "pack":
            raise UnsupportedSyntaxError(
                "a tuple or list holding differentiated values, stored in a variable",
                self.src.where(stmt.value), "pass the values to the function directly")
        return []

    def backward_of_unpacking(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``a, b = helper(x)``: the helper's adjoint takes one cotangent per result (zero for
        results whose adjoint nothing wrote)."""
        targets = assigned_names(stmt)
        if not any(self.is_active(t) and t in self.live for t in targets):
            return []
        op = self.ops[id(stmt)]
        upstream = ast.Tuple(elts=[name(self.adjoint(t)) if t in self.live and self.is_active(t)
                                   else call("zeros_like", name(t)) for t in targets],
                             ctx=ast.Load())
        self.live -= set(targets)
        self.owned -= set(targets)
        if op.kind != "call":
            return []
        return self.from_call(op, upstream, outputs=len(targets))

    def from_list_read(self, op: Op, upstream: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        """``h = hs[i]`` on a list: the list's adjoint is a list, entry i receives dh."""
        var, index = op.bound["x"].id, op.bound["index"]
        if not isinstance(index, (ast.Name, ast.Constant)):
            raise UnsupportedSyntaxError(f"reading {var}[{ast.unparse(index)}] from a list",
                                         self.src.where(stmt.value), "index lists with integers")
        if not self.is_active(var):
            return []
        current = name(self.adjoint(var)) if var in self.live else call("list_zeros", name(var))
        self.live.add(var)
        return [assign(self.adjoint(var), call("list_add_at", current, copy.deepcopy(index),
                                               upstream))]

    def backward_of_append(self, stmt: ast.Expr) -> list[ast.stmt]:
        """``hs.append(h)``: h receives the adjoint of the last entry; both lists shrink, so
        that their lengths match the forward sweep at every point of the backward sweep."""
        var, value = stmt.appends_to, stmt.value.args[0]
        if not self.is_active(var):
            return []
        shrink = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(var), attr="pop",
                                                            ctx=ast.Load()),
                                         args=[], keywords=[]))
        if var not in self.live:
            return [shrink]
        code = self.accumulate(value, call("pop_adjoint", name(self.adjoint(var)), name(var)))
        if code:
            return code
        drop = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(self.adjoint(var)),
                                                          attr="pop", ctx=ast.Load()),
                                       args=[], keywords=[]))
        return [drop, shrink]

    def backward_of_write(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``x[i] = v``: v receives what flowed into those entries, which then start at 0."""
        target = stmt.targets[0]
        var = target.value.id
        if not self.is_active(var) or var not in self.live:
            return []
        dvar = name(self.adjoint(var))
        in_place = var in self.owned
        picked = ast.Subscript(value=dvar, slice=copy.deepcopy(target.slice), ctx=ast.Load())
        if self.may_repeat(target.slice):  # x[[0, 0, 1]] = v: only the last write is kept
            picked = call("written_part", copy.deepcopy(dvar), index_expression(target.slice))
        elif in_place:  # cleared in place next: x[i] of a 2-D array is a view, so detach it
            picked = call("detached", picked)
        helper = "clear_at" if in_place else "zero_entries"
        cleared = call(helper, copy.deepcopy(dvar), index_expression(target.slice))
        if var in atom_names(stmt.value):
            # x[i] = x: the entries are cleared first, then x (as read) receives them
            taken = self.namer.temp()
            if not (isinstance(picked, ast.Call) and picked.func.id in ("written_part",
                                                                          "detached")):
                picked = call("detached", picked)
            code = [assign(taken, picked), assign(self.adjoint(var), cleared)]
            self.owned.add(var)
            return code + self.accumulate(stmt.value, call("unbroadcast", name(taken),
                                                           copy.deepcopy(stmt.value)))
        code = self.accumulate(stmt.value, call("unbroadcast", picked, copy.deepcopy(stmt.value)))
        self.owned.add(var)  # zero_entries returns a copy; clear_at keeps our own array
        return code + [assign(self.adjoint(var), cleared)]

    def may_repeat(self, index: ast.expr) -> bool:
        """Can the index name one entry twice (an integer array)? Not when it is made of
        slices, constants and names known to be numbers."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return not all(isinstance(p, (ast.Slice, ast.Constant)) or self.is_scalar(p)
                       for p in parts)

    def owns(self, atom: ast.expr) -> bool:
        return (isinstance(atom, ast.Name) and self.is_active(atom.id)
                and atom.id in self.live and atom.id in self.owned)

    def from_rule(self, op: Op, upstream: ast.expr) -> list[ast.stmt]:
        inst = instantiate(op.rule.template, op.bound, upstream, self.namer.temp, self.is_scalar)
        code: list[ast.stmt] = []
        for c in inst.contributions:
            code += self.accumulate(c.target, c.value)
        return drop_unused(inst.locals, code)

    def from_call(self, op: Op, upstream: ast.expr, outputs: int) -> list[ast.stmt]:
        active = [p for p, atom in op.bound.items()
                  if any(self.is_active(n) for n in atom_names(atom))]
        for p in active:
            if not isinstance(op.bound[p], ast.Name):
                raise UnsupportedSyntaxError(
                    f"passing a tuple of differentiated values to {op.label}",
                    self.src.where(op.call), "pass each value as its own argument")
        if not active:
            return []
        params = list(inspect.signature(op.callee).parameters)
        wrt = tuple(p for p in params if p in active)
        scalars = frozenset(p for p, atom in op.bound.items()
                            if is_number(atom) or self.is_scalar(atom))
        floats = frozenset(p for p, atom in op.bound.items() if is_float_atom(atom, self.floats))
        callee = self.module.adjoint_of(op.callee, wrt, returns_value=False,
                                        call_site=self.src.where(op.call), scalars=scalars,
                                        floats=floats)
        if callee.outputs != outputs:
            raise UnsupportedSyntaxError(
                f"{op.label} returns {callee.outputs} values, used here as {outputs}",
                self.src.where(op.call),
                "unpack its results into names where you call it: a, b = helper(x)")
        invocation = ast.Call(func=name(callee.name), args=copy.deepcopy(op.call.args),
                              keywords=copy.deepcopy(op.call.keywords) +
                              [ast.keyword(arg=callee.cotangent, value=upstream)])
        atoms = [op.bound[p] for p in wrt]
        if len(atoms) == 1:
            return self.accumulate(atoms[0], invocation)
        names = [a.id for a in atoms]
        if len(set(names)) == len(names) and not set(names) & self.live:
            # every adjoint is written for the first time: unpack straight into them
            self.live.update(names)
            targets = [name(self.adjoint(n), store=True) for n in names]
            return [assign(ast.Tuple(elts=targets, ctx=ast.Store()), invocation)]
        return self.accumulate(ast.Tuple(elts=atoms, ctx=ast.Load()), invocation)

    # -- backward sweep: blocks, branches and loops -------------------------------------------
    def gen_block(self, stmts: list[ast.stmt]) -> list[Chunk]:
        chunks: list[Chunk] = [None] * len(stmts)
        for k in reversed(range(len(stmts))):
            chunks[k] = self.gen(stmts[k])
        return chunks

    def gen(self, stmt: ast.stmt) -> Chunk:
        if isinstance(stmt, ast.If):
            return self.gen_if(stmt)
        if getattr(stmt, "recompute", False):
            return self.gen_segment(stmt)
        if is_loop(stmt):
            return self.gen_loop(stmt)
        if is_element_write(stmt):
            return Chunk(stmt, self.backward_of_write(stmt))
        if hasattr(stmt, "appends_to"):
            return Chunk(stmt, self.backward_of_append(stmt))
        return Chunk(stmt, self.backward_of(stmt))

    def gen_if(self, stmt: ast.If) -> Chunk:
        before, blocks, lives, owned = set(self.live), [], [], set(self.owned)
        ownership = []
        for branch in (stmt.body, stmt.orelse):
            self.live, self.owned = set(before), set(owned)
            blocks.append(self.gen_block(branch))
            lives.append(self.live)
            ownership.append(self.owned)
        union = lives[0] | lives[1]
        tails = []
        for live, own in zip(lives, ownership):
            self.owned = own
            tails.append(self.materialize(union - live, before))
        self.live = union
        self.owned = ownership[0] & ownership[1]
        test = stmt.test

        def make(then_code: list[ast.stmt], else_code: list[ast.stmt]) -> list[ast.stmt]:
            then_code, else_code = then_code + tails[0], else_code + tails[1]
            if not then_code and not else_code:
                return []
            if not then_code:
                return [ast.If(test=negate(test), body=else_code, orelse=[])]
            return [ast.If(test=copy.deepcopy(test), body=then_code, orelse=else_code)]

        header = [ast.Expr(value=copy.deepcopy(test))] + tails[0] + tails[1]
        return Chunk(stmt, children=blocks, header=header, make=make)

    def gen_loop(self, stmt: ast.For | ast.While) -> Chunk:
        before = set(self.live)
        entry = self.loop_entry(stmt.body, before)
        pre = self.materialize(entry - before)
        self.live = set(entry)
        owned_entry = set(self.owned)
        body = self.gen_block(stmt.body)
        tail = self.materialize(entry - self.live, entry)
        # an adjoint the body assumed it owns, but that the iteration shared: copy it back
        # (detached, not np.copy: a float must stay a float, for Numba's type inference)
        for v in sorted((owned_entry - self.owned) & self.live):
            tail.append(assign(self.adjoint(v), call("detached", name(self.adjoint(v)))))
        self.live, self.owned = set(entry), owned_entry
        target, iteration = self.backward_iteration(stmt)

        def make(body_code: list[ast.stmt]) -> list[ast.stmt]:
            body_code = body_code + tail
            if not body_code:
                return pre
            loop = ast.For(target=target, iter=iteration, body=body_code, orelse=[],
                           type_comment=None)
            return pre + [loop]

        header = pre + tail + [ast.Expr(value=copy.deepcopy(iteration))]
        return Chunk(stmt, children=[body], header=header, make=make)

    def gen_segment(self, stmt: ast.For) -> Chunk:
        """One segment of a checkpointed loop (see checkpoint.py). Its backward code restores
        the segment's snapshot, runs the segment forward again, this time with saves, then
        runs the usual backward loop, which consumes those saves."""
        chunk = self.gen_loop(stmt)
        # the rerun reads the carried state: the save analysis snapshots it before the loop
        chunk.header += [ast.Expr(value=name(v)) for v in sorted(checkpoint.carried_state(stmt))]
        chunk.restores_first = True
        backward = chunk.make

        def make(body_code: list[ast.stmt]) -> list[ast.stmt]:
            code = backward(body_code)
            if not any(isinstance(s, ast.For) for s in code):
                return code  # nothing inside needs a derivative: no need to rerun it
            body = checkpoint.without_prints(self.forward_block(stmt.body))
            rerun = ast.For(target=copy.deepcopy(stmt.target), iter=copy.deepcopy(stmt.iter),
                            body=body or [ast.Pass()], orelse=[], type_comment=None)
            note = "run the segment again from its snapshot, saving what its backward sweep reads"
            return [comment(note)] + self.rerun_arrays.get(id(stmt), []) + [rerun] + code

        chunk.make = make
        return chunk

    def loop_entry(self, body: list[ast.stmt], before: set[str]) -> set[str]:
        """Adjoints live at the start of every backward iteration: a fixed point, since an
        iteration may pass an adjoint on to the one before it."""
        entry = set(before)
        while True:
            after = self.dry_block(body, set(entry))
            if after <= entry:
                return entry
            entry |= after

    def dry_block(self, stmts: list[ast.stmt], live: set[str]) -> set[str]:
        """Which adjoints a backward block leaves live, without generating it (mirrors gen)."""
        for stmt in reversed(stmts):
            if isinstance(stmt, ast.If):
                live = self.dry_block(stmt.body, set(live)) | self.dry_block(stmt.orelse, set(live))
            elif is_loop(stmt):
                live = self.loop_entry(stmt.body, live)
            elif hasattr(stmt, "appends_to"):
                if self.is_active(stmt.appends_to) and stmt.appends_to in live:
                    live |= {n for n in atom_names(stmt.value.args[0]) if self.is_active(n)}
            elif isinstance(stmt, ast.Assign):
                targets = assigned_names(stmt)
                if not any(self.is_active(t) and t in live for t in targets):
                    continue
                op = self.ops[id(stmt)]
                if not is_element_write(stmt):
                    live -= set(targets)
                if op.kind in ("rule", "call") or is_element_write(stmt):
                    live |= {n for a in op.differentiable_atoms() for n in atom_names(a)
                             if self.is_active(n)}
        return live

    def backward_iteration(self, stmt: ast.For | ast.While) -> tuple[ast.Name, ast.Call]:
        """The loop header of the backward sweep: the same indices, last to first."""
        if isinstance(stmt, ast.While):
            return name(self.namer.fresh("_"), store=True), call("range", name(stmt.trips))
        if getattr(stmt, "backward_range", None) is not None:  # a stepped checkpoint segment
            return name(stmt.target.id, store=True), copy.deepcopy(stmt.backward_range)
        args = [copy.deepcopy(a) for a in stmt.range_args]
        target = name(stmt.target.id, store=True)
        one = ast.Constant(1)
        if stmt.trips is None:
            start, stop = (ast.Constant(0), args[0]) if len(args) == 1 else args
            return target, call("range", minus(stop, one), minus(start, one), ast.Constant(-1))
        start = args[0] if len(args) > 1 else ast.Constant(0)
        step = args[2] if len(args) == 3 else one
        trips = name(stmt.trips)
        last = plus(start, times(minus(trips, one), step))
        return target, call("range", last, minus(start, step), negative(step))

    # -- saves: what the forward sweep keeps for the backward sweep ---------------------------
    def plan_block(self, chunks: list[Chunk], after: set[str], loop: Chunk | None,
                   defined: set[str], loops: int) -> None:
        """Decide saves for one block. ``after`` is what the backward sweep reads after this
        block's code; for a loop body it is everything the body reads (earlier iterations).
        ``defined`` holds the variables bound on every path to the block's start."""
        primal = self.locals
        reads = [self.sharing(c.reads(primal)) for c in chunks]
        if loop is not None:
            after = set().union(*reads) if reads else set()
        seen = set(after)
        prefix: list[set[str]] = []
        for r in reads:
            prefix.append(set(seen))
            seen |= r
        body_reads_before = set()
        for k, chunk in enumerate(chunks):
            stmt = chunk.stmt
            later = prefix[k]
            if isinstance(stmt, ast.If):
                branch_defs = []
                for block in chunk.children:
                    inner = set(defined)
                    self.plan_block(block, later, None, inner, loops)
                    branch_defs.append(inner)
                defined |= branch_defs[0] & branch_defs[1]
            elif is_loop(stmt):
                self.plan_block(chunk.children[0], set(), chunk, set(defined), loops + 1)
                self.save_around_loop(chunk, later, defined, loops)
            else:
                for var in assigned_names(stmt):
                    if var in later and not getattr(stmt, "trip_counter", False):
                        self.plan_save(chunk, stmt, var, defined, loop, k, body_reads_before,
                                       loops)
                    defined.add(var)
            body_reads_before |= reads[k]

    def plan_save(self, chunk: Chunk, stmt: ast.stmt, var: str, defined: set[str],
                  loop: Chunk | None, k: int, read_before: set[str], loops: int) -> None:
        # a segment's saves are read right after it reruns: its slots are reused, any depth
        once = loops == 1 or (loop is not None and getattr(loop.stmt, "recompute", False))
        slot = self.slot(loop, var) if once and not is_element_write(stmt) else None
        if var in defined or is_element_write(stmt):
            if slot is not None:
                array = self.slot_array(loop, var)
                self.saves_before.setdefault(id(stmt), []).append(
                    assign(ast.Subscript(value=name(array), slice=slot, ctx=ast.Store()),
                           name(var)))
                chunk.restores.append(assign(var, ast.Subscript(
                    value=name(array), slice=copy.deepcopy(slot), ctx=ast.Load())))
                self.restored.add(var)
            else:
                self.save(chunk, stmt, var, loops > 0)
        elif loop is not None and self.fresh_each_iteration(var, loop, k, read_before):
            self.save_per_iteration(loop, stmt, var, slot)
        else:
            self.unbound.add(var)
            self.save(chunk, stmt, var, loops > 0)

    def fresh_each_iteration(self, var: str, loop: Chunk, k: int, read_before: set[str]) -> bool:
        """Bound once in every iteration (at the top level of the body, before anything that
        can break or continue) and read only after that: then the backward iteration can
        restore it once, at its start."""
        body = loop.stmt.body
        counts = self.assignment_counts(loop.stmt)
        return (counts.get(var) == 1 and var in assigned_names(body[k])
                and not is_element_write(body[k]) and var not in read_before
                and self.first_jump(loop.stmt) >= k)

    def assignment_counts(self, loop: ast.stmt) -> dict[str, int]:
        """How often each variable is bound in a loop's body (memoized per loop)."""
        if id(loop) not in self.memo_counts:
            counts: dict[str, int] = {}
            for s in statements(loop.body):
                for n in assigned_names(s):
                    counts[n] = counts.get(n, 0) + 1
            self.memo_counts[id(loop)] = counts
        return self.memo_counts[id(loop)]

    def first_jump(self, loop: ast.stmt) -> int:
        """Index of the first statement of the body that can break or continue."""
        if id(loop) not in self.memo_jumps:
            self.memo_jumps[id(loop)] = next(
                (i for i, s in enumerate(loop.body) if jumps(s)), len(loop.body))
        return self.memo_jumps[id(loop)]

    def slot(self, loop: Chunk | None, var: str) -> ast.expr | None:
        """Where iteration i's value of a float goes in a preallocated array: only for a
        loop over range() that is not inside another loop and always runs every iteration
        to the end, so its trip count is known when it starts."""
        if loop is None or var not in self.floats or not self.runs_to_the_end(loop.stmt):
            return None
        stmt = loop.stmt
        start = stmt.range_args[0] if len(stmt.range_args) == 2 else ast.Constant(0)
        return minus(name(stmt.target.id), copy.deepcopy(start))

    def runs_to_the_end(self, stmt: ast.stmt) -> bool:
        return (isinstance(stmt, ast.For) and stmt.trips is None and len(stmt.range_args) <= 2
                and stmt.target.id not in self.assignment_counts(stmt)
                and self.first_jump(stmt) == len(stmt.body))

    def slot_array(self, loop: Chunk, var: str) -> str:
        """A float array with one entry per iteration, allocated just before the loop (for a
        checkpoint segment, just before it reruns, with room for the longest segment)."""
        array = self.namer.fresh(f"{var}_saved")
        if getattr(loop.stmt, "segment_length", None) is not None:
            self.rerun_arrays.setdefault(id(loop.stmt), []).append(
                assign(array, call("np.empty", copy.deepcopy(loop.stmt.segment_length))))
            return array
        args = loop.stmt.range_args
        count = (copy.deepcopy(args[0]) if len(args) == 1
                 else minus(copy.deepcopy(args[1]), copy.deepcopy(args[0])))
        size = call("max", count, ast.Constant(0))
        self.saves_before.setdefault(id(loop.stmt), []).append(
            assign(array, call("np.empty", size)))
        return array

    def save_per_iteration(self, loop: Chunk, stmt: ast.stmt, var: str,
                           slot: ast.expr | None = None) -> None:
        if slot is not None:
            array = self.slot_array(loop, var)
            self.saves_after.setdefault(id(stmt), []).append(assign(
                ast.Subscript(value=name(array), slice=slot, ctx=ast.Store()), name(var)))
            loop.top.insert(0, assign(var, ast.Subscript(value=name(array),
                                                         slice=copy.deepcopy(slot),
                                                         ctx=ast.Load())))
            self.restored.add(var)
            return
        stack = self.namer.fresh(f"{var}_stack")
        self.stacks.append(stack)
        push = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(stack), attr="append",
                                                          ctx=ast.Load()),
                                       args=[name(var)], keywords=[]))
        self.saves_after.setdefault(id(stmt), []).append(push)
        pop = ast.Call(func=ast.Attribute(value=name(stack), attr="pop", ctx=ast.Load()),
                       args=[], keywords=[])
        loop.top.insert(0, assign(var, pop))
        self.restored.add(var)

    def save(self, chunk: Chunk, stmt: ast.Assign, var: str, in_loop: bool) -> None:
        """Keep the value (or the entries) an assignment overwrites; restore it afterwards."""
        if is_element_write(stmt):
            target = stmt.targets[0]
            old = call("np.copy", ast.Subscript(value=name(var), slice=copy.deepcopy(target.slice),
                                                ctx=ast.Load()))
            place = ast.Subscript(value=name(var), slice=copy.deepcopy(target.slice),
                                  ctx=ast.Store())
        else:
            old, place = name(var), name(var, store=True)
        keep, restore = self.keep(var, old, in_loop)
        self.saves_before.setdefault(id(stmt), []).append(keep)
        chunk.restores.append(assign(place, restore))
        self.restored.add(var)

    def keep(self, var: str, value: ast.expr, in_loop: bool,
             label: str = "stack") -> tuple[ast.stmt, ast.expr]:
        if in_loop:
            stack = self.namer.fresh(f"{var}_{label}")
            self.stacks.append(stack)
            push = ast.Expr(value=ast.Call(func=ast.Attribute(value=name(stack), attr="append",
                                                              ctx=ast.Load()),
                                           args=[value], keywords=[]))
            pop = ast.Call(func=ast.Attribute(value=name(stack), attr="pop", ctx=ast.Load()),
                           args=[], keywords=[])
            return push, pop
        saved = self.namer.fresh(f"{var}_saved")
        return assign(saved, value), name(saved)

    def save_around_loop(self, chunk: Chunk, later: set[str], defined: set[str],
                         loops: int) -> None:
        """Variables a loop overwrites that are read after its backward sweep: one save before
        the loop, one restore after it (arrays written element by element are copied)."""
        stmt = chunk.stmt
        changed = {n for s in statements(stmt.body) for n in assigned_names(s)
                   if not getattr(s, "trip_counter", False)}
        if isinstance(stmt, ast.For):
            changed.add(stmt.target.id)
        written = {assigned_name(s) for s in statements(stmt.body) if is_element_write(s)}
        rebound = {n for s in statements(stmt.body) if not is_element_write(s)
                   for n in assigned_names(s)}
        saved, label = changed & later & defined, "stack"
        if getattr(stmt, "recompute", False):
            # a checkpoint segment restarts from all it carries, even values first bound in
            # an earlier step (None until then, as the primal never reads them before)
            carried = checkpoint.carried_state(stmt) - defined
            self.unbound |= carried
            saved, label = saved | carried, "snapshots"
        for var in sorted(saved):
            whole = ast.Subscript(value=name(var), slice=ast.Constant(Ellipsis), ctx=ast.Store())
            if var in rebound or var not in written:
                # the same object as before the loop, so views made earlier still see it
                keep, restore = self.keep(var, name(var), loops > 0, label)
                self.saves_before.setdefault(id(stmt), []).append(keep)
                chunk.restores.append(assign(var, restore))
            if var in written:
                # and its contents, restored in place
                keep, restore = self.keep(var, call("np.copy", name(var)), loops > 0, label)
                self.saves_before.setdefault(id(stmt), []).append(keep)
                chunk.restores.append(assign(copy.deepcopy(whole), restore))
            self.restored.add(var)

    # -- assembling the function ------------------------------------------------------------------
    def assemble(self, fn_name: str, cotangent: str) -> ast.FunctionDef:
        returned = atom_names(self.returned)
        seed = self.seed(cotangent)
        chunks = self.gen_block(self.body)
        epilogue = [assign(self.adjoint(w), call("zeros_like", name(w)))
                    for w in self.wrt if w not in self.live]
        self.plan_block(chunks, primal_reads(epilogue, self.locals), None, set(self.params), 0)
        forward = [assign(s, ast.List(elts=[], ctx=ast.Load())) for s in self.stacks]
        forward += [assign(v, ast.Constant(None)) for v in sorted(self.unbound)]
        forward += self.forward_block(self.body)
        value = self.returned
        if set(returned) & self.restored:  # the result is rewound by the backward sweep: keep it
            keep = self.namer.fresh("value")
            forward.append(assign(keep, copy.deepcopy(self.returned)))
            value = name(keep)
        grads = [name(self.adjoint(w)) for w in self.wrt]
        grad_expr = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        out = grad_expr
        if self.returns_value:
            out = ast.Tuple(elts=[value, grad_expr], ctx=ast.Load())
        body = ([comment("forward sweep")] + forward + [comment("backward sweep")] + seed +
                self.backward_block(chunks) + epilogue + [ast.Return(value=out)])
        return ast.fix_missing_locations(self.signature(fn_name, cotangent, body))

    def seed(self, cotangent: str) -> list[ast.stmt]:
        """The adjoint of the returned value is the cotangent (one per element of a tuple)."""
        if isinstance(self.returned, ast.Tuple):
            names = [e.id if isinstance(e, ast.Name) else None for e in self.returned.elts]
            if None not in names and len(set(names)) == len(names) and all(
                    self.is_active(n) for n in names):
                self.live.update(names)
                targets = [name(self.adjoint(n), store=True) for n in names]
                return [assign(ast.Tuple(elts=targets, ctx=ast.Store()), name(cotangent))]
            return self.accumulate(copy.deepcopy(self.returned), name(cotangent))
        return self.accumulate(copy.deepcopy(self.returned), name(cotangent))

    def signature(self, fn_name: str, cotangent: str, body: list[ast.stmt]) -> ast.FunctionDef:
        args = copy.deepcopy(self.src.tree.args)
        if args.kwonlyargs:
            args.kwonlyargs.append(ast.arg(arg=cotangent))
            args.kw_defaults.append(ast.Constant(1.0))
        else:
            args.args.append(ast.arg(arg=cotangent))
            args.defaults.append(ast.Constant(1.0))
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            a.annotation = None
        fn = ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[], returns=None,
                             type_comment=None)
        if hasattr(fn, "type_params"):
            fn.type_params = []
        return fn

    def forward_block(self, stmts: list[ast.stmt], saves: bool = True) -> list[ast.stmt]:
        """The primal replayed, with saves, under a comment for each user statement that
        became several. Without ``saves``, the primal alone: a checkpoint segment saves
        only when the backward sweep runs it again."""
        out, k = [], 0
        while k < len(stmts):
            origin, group = stmts[k].origin, []
            while k < len(stmts) and stmts[k].origin is origin:
                group.append(stmts[k])
                k += 1
            if self.needs_forward_comment(origin, group):
                out.append(comment(self.src.text_of(origin)))
            for stmt in group:
                out += self.saves_before.get(id(stmt), []) if saves else []
                out.append(self.forward_statement(stmt, saves))
                out += self.saves_after.get(id(stmt), []) if saves else []
        return out

    def forward_statement(self, stmt: ast.stmt, saves: bool = True) -> ast.stmt:
        saves = saves and not getattr(stmt, "recompute", False)
        if isinstance(stmt, ast.If):
            return ast.If(test=stmt.test,
                          body=self.forward_block(stmt.body, saves) or [ast.Pass()],
                          orelse=self.forward_block(stmt.orelse, saves))
        if isinstance(stmt, ast.For):
            return ast.For(target=stmt.target, iter=stmt.iter, orelse=[], type_comment=None,
                           body=self.forward_block(stmt.body, saves) or [ast.Pass()])
        if isinstance(stmt, ast.While):
            return ast.While(test=stmt.test,
                             body=self.forward_block(stmt.body, saves) or [ast.Pass()], orelse=[])
        return stmt

    def needs_forward_comment(self, origin: ast.stmt, group: list[ast.stmt]) -> bool:
        if origin is GUARD or origin is self.src.tree:
            return False
        if len(group) == 1 and isinstance(group[0], (ast.If, ast.For, ast.While)):
            return False
        return len(group) > 1 or ast.unparse(group[0]) != ast.unparse(origin)

    def backward_block(self, chunks: list[Chunk]) -> list[ast.stmt]:
        """Backward code in reverse order, under a comment quoting each user statement."""
        out, k = [], len(chunks) - 1
        while k >= 0:
            origin, group = chunks[k].stmt.origin, []
            while k >= 0 and chunks[k].stmt.origin is origin:
                group += self.chunk_code(chunks[k])
                k -= 1
            if group and origin is not GUARD and origin is not self.src.tree:
                out.append(comment(self.src.text_of(origin)))
            out += group
        return out

    def chunk_code(self, chunk: Chunk) -> list[ast.stmt]:
        if chunk.make is None:
            return chunk.code + chunk.restores
        blocks = [self.backward_block(b) for b in chunk.children]
        if chunk.top:
            blocks[0] = chunk.top + blocks[0]
        if chunk.restores_first:
            return chunk.restores + chunk.make(*blocks)
        return chunk.make(*blocks) + chunk.restores


# Operations whose result may share memory with their operand (views and plain copies).
# forward-only calls: printing, and the checks that refuse in-place writes to shared memory
GUARDS = ("print", *helpers.guards())  # the helpers declared guard=True (adjoint/helpers.py)



def loop_spans(body: list[ast.stmt]) -> list[tuple[int, int]]:
    """(first, last) positions, in program order, of each loop and everything inside it."""
    spans, position = [], 0

    def walk(stmts):
        nonlocal position
        for stmt in stmts:
            start = position
            position += 1
            for field_name in ("body", "orelse"):
                walk(getattr(stmt, field_name, None) or [])
            if is_loop(stmt):
                spans.append((start, position - 1))

    walk(body)
    return spans


FRESH_HELPERS = helpers.fresh()  # the helpers declared fresh=True (adjoint/helpers.py)


def is_fresh(value: ast.expr) -> bool:
    """Does the expression make a new object (not hand back one it was given)?"""
    if isinstance(value, (ast.BinOp, ast.UnaryOp)):
        return True
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id in FRESH_HELPERS)


def is_float_atom(atom: ast.expr, floats: frozenset[str]) -> bool:
    return (isinstance(atom, ast.Constant) and type(atom.value) is float) or (
        isinstance(atom, ast.Name) and atom.id in floats)


def list_variables(body: list[ast.stmt]) -> frozenset[str]:
    """Variables bound to a list literal (``hs = []``) or appended to."""
    found = {s.appends_to for s in statements(body) if hasattr(s, "appends_to")}
    for s in statements(body):
        if isinstance(s, ast.Assign) and isinstance(s.value, ast.List):
            found.update(assigned_names(s))
    return frozenset(found)


def is_list(atom: ast.expr, lists: frozenset[str]) -> bool:
    return isinstance(atom, ast.Name) and atom.id in lists


def is_view_index(bound: dict[str, ast.expr]) -> bool:
    """Basic slicing (a slice, None or ...) makes a view; integer indices may not."""
    return any(isinstance(n, ast.Slice) or (isinstance(n, ast.Constant) and n.value in (
        None, Ellipsis)) for n in ast.walk(bound.get("index", ast.Constant(0))))


def assigned_in(body: list[ast.stmt]) -> set[str]:
    return {n for s in statements(body) for n in assigned_names(s)}


def index_expression(index: ast.expr) -> ast.expr:
    """An index as a value: ``1:3`` becomes ``slice(1, 3, None)``."""
    if isinstance(index, ast.Slice):
        parts = [copy.deepcopy(p) if p is not None else ast.Constant(None)
                 for p in (index.lower, index.upper, index.step)]
        return call("slice", *parts)
    if isinstance(index, ast.Tuple):
        return ast.Tuple(elts=[index_expression(e) for e in index.elts], ctx=ast.Load())
    return copy.deepcopy(index)


def negate(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return copy.deepcopy(test.operand)
    return ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(test))


def _is(node: ast.expr, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value and type(node.value) is int


def plus(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(a, 0):
        return b
    return fold(ast.BinOp(left=a, op=ast.Add(), right=b))


def minus(a: ast.expr, b: ast.expr) -> ast.expr:
    if _is(b, 0):
        return a
    return fold(ast.BinOp(left=a, op=ast.Sub(), right=b))


def times(a: ast.expr, b: ast.expr) -> ast.expr:
    return fold(ast.BinOp(left=a, op=ast.Mult(), right=b))


def negative(a: ast.expr) -> ast.expr:
    return fold(ast.UnaryOp(op=ast.USub(), operand=a))


def primal_reads(stmts: list[ast.stmt], primal_names: set[str]) -> set[str]:
    """Primal variables that backward statements read."""
    return {n.id for s in stmts for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in primal_names}


def drop_unused(local_assigns: list[ast.Assign], code: list[ast.stmt]) -> list[ast.stmt]:
    """Keep a rule's local assignments only if the emitted contributions use them."""
    used = {n.id for s in code for n in ast.walk(s) if isinstance(n, ast.Name)}
    kept = []
    for stmt in reversed(local_assigns):
        if stmt.targets[0].id in used:
            kept.insert(0, stmt)
            used |= {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
    return kept + code
