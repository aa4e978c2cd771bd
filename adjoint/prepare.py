"""PREPARE: everything both transforms need before they generate code.

``prepare`` normalizes a parsed function (one operation per statement), resolves each
statement's operation, works out which variables are active, scalars and floats, and
refuses what cannot be differentiated soundly (writes into shared memory, calls made for
their effect on differentiated values). It returns a ``Prepared``: plain data that the
reverse builder (reverse.py) and the forward builder (forward.py) each read; neither
builder inherits from the other.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .aliasing import ALIASING_OPS, MemoryModel, check_writes, insert_guards
from .analyze import Activity, activity, float_variables, scalar_variables
from .errors import ArgumentError, UnsupportedSyntaxError
from .ir import (
    GUARDS,
    StatementTable,
    assign,
    assigned_in,
    assigned_name,
    is_element_write,
    is_view_index,
    list_variables,
    name,
    popped_list,
    statements,
)
from .names import Namer, names_in
from .normalize import Normalizer
from .resolve import Op, Resolver, assigned_names, atom_names
from .source import Source
from .syntax import GUARD, local_names


@dataclass
class Prepared:
    """A normalized function and the facts about it that code generation reads."""

    src: Source
    wrt: tuple[str, ...]
    params: list[str]
    namer: Namer
    body: list[ast.stmt]
    returned: ast.expr
    ops: StatementTable[Op]
    locals: set[str]
    lists: frozenset[str]
    scalar_params: frozenset[str] = frozenset()
    float_params: frozenset[str] = frozenset()
    facts: Activity | None = None
    scalars: frozenset[str] = frozenset()
    floats: frozenset[str] = frozenset()
    mutated_in_place: set[str] = field(default_factory=set)
    # which objects each variable may refer to, integer indexing counted as a view
    row_pts: dict[str, set] = field(default_factory=dict)

    def analyze(self) -> None:
        body = list(statements(self.body))
        self.facts = activity(body, self.ops, list(self.wrt), self.returned)
        self.scalars = scalar_variables(body, self.ops, self.params, self.scalar_params)
        self.floats = float_variables(body, self.ops, self.scalars, self.float_params)

    def is_active(self, var: str | None) -> bool:
        return var is not None and self.facts.is_active(var)

    def is_scalar(self, atom: ast.expr) -> bool:
        return isinstance(atom, ast.Name) and atom.id in self.scalars

    def user_variables(self) -> list[str]:
        """The user's own local variables, in the order they are first assigned."""
        stores = [n for n in ast.walk(self.src.tree)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        stores.sort(key=lambda n: (n.lineno, n.col_offset))
        return list(dict.fromkeys(n.id for n in stores if n.id not in self.params))

    def sharing(self, names: set[str]) -> set[str]:
        """Names plus the arrays changed in place that may share memory with them: reading a
        view reads the array it views."""
        pts = self.row_pts
        extra = {m for m in self.mutated_in_place for n in names
                 if pts.get(m, set()) & pts.get(n, set())}
        return names | extra


def make_namer(src: Source, reserved: list[str]) -> Namer:
    """Names for one generated function: none of the user's, the runtime's or ``reserved``."""
    from . import runtime  # noqa: I001 - runtime names are reserved, not called here

    taken = names_in(src.tree) | set(runtime.__all__) | {"np", "math", "range", "len"}
    return Namer(taken | set(reserved))


def prepare(src: Source, wrt: tuple[str, ...], namer: Namer, dependencies: list, *,
            resolver_class: type[Resolver] = Resolver, forward: bool = False,
            scalars: frozenset[str] = frozenset(),
            floats: frozenset[str] = frozenset()) -> Prepared:
    """Normalize, resolve and analyze ``src``, and refuse what cannot be differentiated.
    ``dependencies`` receives (source, dotted name, function) for each user function the
    code calls; ``forward`` accepts what forward mode follows in generated adjoint code."""
    from .compile import is_generated  # noqa: I001 - compile imports the builders

    generated = is_generated(src.filename)
    # generated adjoint code (under hvp) takes its views again itself
    norm = Normalizer(src.tree, namer, src.where, src.lookup, track_views=not generated).run()
    params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args +
              src.tree.args.kwonlyargs]
    p = Prepared(src, wrt, params, namer, norm.body[:-1], norm.body[-1].value,
                 StatementTable(), local_names(norm), frozenset(), scalars, floats)
    check_wrt(p)
    p.lists = list_variables(p.body)
    resolver = resolver_class(src, p.locals, p.lists)
    for s in statements(p.body):
        if isinstance(s, ast.Assign):
            p.ops[s] = resolver.resolve(s)
        elif hasattr(s, "appends_to"):
            p.ops[s] = Op("append", ".append()", bound={
                "x": name(s.appends_to), "value": s.value.args[0]})
    dependencies += [(src, path, fn) for path, fn in resolver.dependencies]
    p.body = unpack_arrays(p, p.body, resolver)
    p.analyze()
    p.body = split_block(p, p.body, resolver_class)
    p.analyze()
    p.mutated_in_place = {assigned_name(s) for s in statements(p.body) if is_element_write(s)}
    p.row_pts = points_to(p, rows=True)  # for saves: any index may give a view
    if not (forward and generated):
        # generated adjoint code changes in place only adjoint arrays that it alone refers
        # to, and views of them have views of their tangents
        check_aliasing(p)
    check_side_effects(p, follow_pops=forward and generated)
    p.locals |= assigned_in(p.body)
    return p


def check_wrt(p: Prepared) -> None:
    for w in p.wrt:
        if w not in p.params:
            raise ArgumentError(f"{p.src.name} has no parameter named {w!r}",
                                p.src.where(p.src.tree), f"choose wrt among {', '.join(p.params)}")


def unpack_arrays(p: Prepared, body: list[ast.stmt], resolver: Resolver) -> list[ast.stmt]:
    """``a, b = np.array(...)`` (one array, unpacked): ``t = ...; a = t[0]; b = t[1]``."""
    out = []
    for stmt in body:
        for field_name in ("body", "orelse"):
            if getattr(stmt, field_name, None):
                setattr(stmt, field_name, unpack_arrays(p, getattr(stmt, field_name), resolver))
        op = p.ops.get(stmt)
        if op is None or op.kind != "unpack":
            out.append(stmt)
            continue
        whole = p.namer.temp()
        if getattr(op.rule, "tuple_result", False):
            p.lists = p.lists | {whole}  # entries of different shapes: adjoint per entry
        new = [assign(whole, stmt.value)] + [
            assign(t.id, ast.Subscript(value=name(whole), slice=ast.Constant(i), ctx=ast.Load()))
            for i, t in enumerate(stmt.targets[0].elts)]
        for n in new:
            ast.copy_location(n, stmt)
            n.origin = stmt.origin
        p.locals.add(whole)
        resolver.locals.add(whole)
        for n in new:
            p.ops[n] = resolver.resolve(n)
        out += new
    return out


def split_block(p: Prepared, body: list[ast.stmt], resolver_class: type[Resolver]
                ) -> list[ast.stmt]:
    """``x = x * 2`` becomes ``t = x * 2; x = t`` when x is active, so each statement's
    rule sees the old operand and the new result under different names."""
    out = []
    for stmt in body:
        for field_name in ("body", "orelse"):
            if getattr(stmt, field_name, None):
                setattr(stmt, field_name,
                        split_block(p, getattr(stmt, field_name), resolver_class))
        op = p.ops.get(stmt)
        if op is None or is_element_write(stmt) or op.kind == "zero":
            out.append(stmt)
            continue
        operands = {n for a in op.differentiable_atoms() for n in atom_names(a)}
        clashing = [t for t in assigned_names(stmt) if t in operands and p.is_active(t)]
        if not clashing:
            out.append(stmt)
            continue
        renamed = {t: p.namer.temp() for t in clashing}
        target = stmt.targets[0]
        if isinstance(target, ast.Tuple):
            new_target = ast.Tuple(elts=[name(renamed.get(e.id, e.id), store=True)
                                         for e in target.elts], ctx=ast.Store())
        else:
            new_target = name(renamed[target.id], store=True)
        first = ast.copy_location(assign(new_target, stmt.value), stmt)
        copies = [ast.copy_location(assign(t, name(temp)), stmt) for t, temp in renamed.items()]
        resolver = resolver_class(p.src, p.locals | set(renamed.values()))
        for new in [first, *copies]:
            new.origin = stmt.origin
            p.ops[new] = resolver.resolve(new)  # results are now the temporaries
        out += [first, *copies]
    return out


def points_to(p: Prepared, rows: bool = False) -> dict[str, set]:
    """Which objects each variable may refer to: copies, views and slices refer to their
    source's objects, anything else to a new object made by that statement. With ``rows``,
    integer indexing counts too (``X[0]`` is a row view when X has 2 axes)."""
    pts: dict[str, set] = {v: {("argument", v)} for v in p.params}
    changed = True
    while changed:
        changed = False
        for s in statements(p.body):
            if not isinstance(s, ast.Assign) or is_element_write(s):
                continue
            source = alias_source(p, s, rows)
            new = set(pts.get(source, ())) if source else {("made", s)}
            for target in assigned_names(s):
                if not new <= pts.setdefault(target, set()):
                    pts[target] |= new
                    changed = True
    return pts


def alias_source(p: Prepared, stmt: ast.stmt, rows: bool = False) -> str | None:
    """The variable whose memory an assignment's result may share: plain copies, views
    (``.T``, reshape, transpose) and slices (``x[1:3]``, ``x[:, None]``)."""
    op = p.ops.get(stmt)
    if op is None or is_element_write(stmt):
        return None
    if getattr(stmt, "element_read", False) and not rows:
        return None  # read only to be updated (x[i] += v): no alias a user can see
    if op.label in ALIASING_OPS or (op.label == "indexing" and (rows or is_view_index(op.bound))):
        names = [n for a in op.differentiable_atoms()[:1] for n in atom_names(a)]
        return names[0] if names else None
    return None


def check_aliasing(p: Prepared) -> None:
    """An array changed in place (``a[i] = v``, ``a += v``, ``hs.append(h)``) must not be
    reachable, after the change, through another variable: NumPy would change both, and a
    gradient computed variable by variable would silently be wrong (see aliasing.py)."""
    for s in statements(p.body):
        if is_element_write(s) and assigned_name(s) in p.lists:
            raise UnsupportedSyntaxError(
                f"assigning into an element of the list {assigned_name(s)}",
                p.src.where(s.origin), "build the list with append only, or use an array")
    model = MemoryModel(p.body, p.ops, p.params, p.lists)

    def describe(other: str, var: str) -> str:
        origin = model.link(other, var)
        if origin is None or origin is GUARD or not hasattr(origin, "lineno"):
            return f"{other} may be the same array as {var}, or a view of it"
        return f"through `{p.src.text_of(origin).strip()}`"

    guards = check_writes(model, p.src.where, set(p.namer.temporaries()), describe)
    p.body = insert_guards(p.body, guards)


def check_side_effects(p: Prepared, follow_pops: bool) -> None:
    """A call made for its effect (``hs.append(h)``, ``np.copyto(a, b)``) on a value that
    carries a gradient would change data behind the adjoint's back: refuse it. With
    ``follow_pops`` (forward mode over generated adjoint code) ``hs.pop()`` is followed."""
    for stmt in statements(p.body):
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            continue
        if hasattr(stmt, "appends_to") or (follow_pops and popped_list(stmt.value)):
            continue
        func = stmt.value.func
        if isinstance(func, ast.Name) and func.id in GUARDS:
            continue
        involved = [n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)]
        if any(p.facts.is_active(n) or n in p.facts.varied for n in involved):
            what = ast.unparse(stmt.value)
            hint = ("collect results in an array made with np.zeros and write out[i] = value"
                    if isinstance(func, ast.Attribute) and func.attr in (
                        "append", "extend", "insert") else
                    "write the computation as an assignment")
            raise UnsupportedSyntaxError(
                f"the call {what!r} changes a value that carries a gradient in place",
                p.src.where(stmt), hint)
