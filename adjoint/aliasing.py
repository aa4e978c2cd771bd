"""The memory model: which variables may share memory, and what to do about writes to them.

NumPy's basic indexing, ``.T``, ``reshape``, plain assignment and list entries hand back the
same memory under another name; a write through one name (``a[i] = v``, ``a += v``) changes
what the others read. A gradient computed variable by variable cannot follow such a change,
so every write into a variable that may share memory with another one still read later is
either proved harmless, checked when it runs, or refused:

- writes through views the normalizer can see (``r = A[i]; r *= 2``) were already rewritten
  as writes into the base array (``views.py``);
- a variable bound to a new array (``np.zeros``, a copy, arithmetic) that no other name took
  since is written freely: that is the double buffering of time-stepping code
  (``v = np.zeros(n); v[i] = ...; u = v``);
- a list that holds the array (``hs.append(x)`` then ``x[0] = v``) is refused when the
  gradient is built: the list entry *is* the array;
- anything else that may share memory (a view made by a helper, an index whose kind is only
  known at run time, a reshape that may or may not copy) gets a check placed before the write,
  ``must_not_share(a, b, message)``, which refuses with the user's file:line when the two
  really overlap, and costs a comparison of two address ranges when they do not.

Sound by default: a name whose memory the analysis cannot account for shares it.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import UnsupportedSyntaxError
from .ir import StatementTable, index_expression
from .resolve import Op, assigned_names, atom_names
from .views import parameters_written

# Operations whose result may be (a view of) their first operand.
ALIASING_OPS = {"=", ".T", ".reshape()", ".ravel()", ".transpose()", ".squeeze()",
                "np.reshape", "np.ravel", "np.transpose", "np.squeeze", "np.expand_dims",
                "np.asarray", "np.atleast_1d", "np.atleast_2d", "np.atleast_3d",
                ".swapaxes()", "np.swapaxes", "np.moveaxis", "np.broadcast_to",
                ".view()", "np.diagonal", ".diagonal()", "np.real", "np.flip", "np.fliplr",
                "np.flipud", "np.rot90", "np.split", "np.array_split"}


@dataclass
class Statements:
    """The normalized body as one list in program order, with its loops and bindings."""
    order: list[ast.stmt]
    index: StatementTable[int]  # position in order
    loops: list[tuple[int, int]]
    bound_at: dict[str, list[int]]
    parents: dict[int, tuple[int, ...]] = field(default_factory=dict)  # enclosing statements


def flatten(body: list[ast.stmt]) -> Statements:
    order: list[ast.stmt] = []
    loops: list[tuple[int, int]] = []
    parents: dict[int, tuple[int, ...]] = {}

    def walk(stmts: list[ast.stmt], enclosing: tuple[int, ...]) -> None:
        for stmt in stmts:
            position = len(order)
            order.append(stmt)
            parents[position] = enclosing
            for field_name in ("body", "orelse"):
                walk(getattr(stmt, field_name, None) or [], enclosing + (position,))
            if isinstance(stmt, (ast.For, ast.While)):
                loops.append((position, len(order) - 1))

    walk(body, ())
    bound_at: dict[str, list[int]] = {}  # bindings only: x[i] = v changes x, binds nothing
    for j, s in enumerate(order):
        if is_element_write(s):
            continue
        for n in assigned_names(s):
            bound_at.setdefault(n, []).append(j)
    index: StatementTable[int] = StatementTable()
    for i, s in enumerate(order):
        index[s] = i
    return Statements(order, index, loops, bound_at, parents)


def is_element_write(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)


def is_augmented_name(stmt: ast.stmt) -> bool:
    """``a = a + v`` that came from ``a += v``: NumPy would have changed ``a`` in place."""
    origin = getattr(stmt, "origin", None)
    return (isinstance(origin, ast.AugAssign) and isinstance(origin.target, ast.Name)
            and isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
            and origin.target.id == stmt.targets[0].id
            and not getattr(stmt, "view_refresh", False))


def written_name(stmt: ast.stmt) -> str | None:
    """The variable whose memory a statement changes in place, if it does."""
    if is_element_write(stmt) or is_augmented_name(stmt):
        return stmt.targets[0].value.id if is_element_write(stmt) else stmt.targets[0].id
    return getattr(stmt, "appends_to", None)


# -- what a helper does to its arguments -------------------------------------------------
def mutated_parameters(fn) -> dict[str, str]:
    """The parameters of a user function whose memory it may change in place (see
    views.parameters_written), read from its source."""
    from .errors import AdjointError
    from .source import parse

    try:
        tree = parse(fn).tree
    except AdjointError:
        return {}
    return parameters_written(tree, fn.__globals__.get)


class MemoryModel:
    """May-share facts for one normalized function body."""

    def __init__(self, body: list[ast.stmt], ops: StatementTable[Op], params: list[str],
                 lists: frozenset[str]):
        self.ops, self.params, self.lists = ops, params, lists
        self.helper_effects: dict = {}
        self.stmts = flatten(body)
        self.pts = self.points_to()

    # -- which names may refer to which objects ------------------------------------------
    def sources(self, stmt: ast.stmt) -> list[str]:
        """The variables whose memory the value a statement binds may share."""
        if isinstance(stmt, ast.Expr) and hasattr(stmt, "appends_to"):
            return [n for n in atom_names(stmt.value.args[0])]  # the list holds the value
        if not isinstance(stmt, ast.Assign) or is_element_write(stmt):
            return []
        op = self.ops.get(stmt)
        if op is None:
            return []
        if isinstance(stmt.value, (ast.List, ast.Tuple)):
            return [n for e in stmt.value.elts for n in atom_names(e)]
        if op.kind == "call":  # a helper's result may be (a view of) any argument
            return [n for a in op.bound.values() for n in atom_names(a)]
        if getattr(stmt, "element_read", False):
            return []  # read only to be updated (x[i] += v): no alias a user can see
        if op.label in ALIASING_OPS or op.label == "indexing":
            atoms = op.differentiable_atoms()[:1]
            return [n for a in atoms for n in atom_names(a)]
        return []

    def points_to(self) -> dict[str, set]:
        """Which objects each variable may refer to: parameters their own, views, copies and
        list entries their sources', anything else a new object made by that statement."""
        pts: dict[str, set] = {p: {("argument", p)} for p in self.params}
        changed = True
        while changed:
            changed = False
            for s in self.stmts.order:
                appended = getattr(s, "appends_to", None) if isinstance(s, ast.Expr) else None
                if not isinstance(s, ast.Assign) and appended is None:
                    continue
                if is_element_write(s):
                    continue
                sources = self.sources(s)
                new = set().union(*[pts.get(v, set()) for v in sources]) if sources else set()
                if not sources or isinstance(self.ops.get(s), Op) and \
                        self.ops[s].kind == "call":
                    new.add(("made", s))
                targets = [appended] if appended else assigned_names(s)
                for target in targets:
                    if not new <= pts.setdefault(target, set()):
                        pts[target] |= new
                        changed = True
        return pts

    # -- is the object written at position i certainly unshared? ---------------------------
    def reaching_definition(self, var: str, i: int) -> int | None:
        """The position of the binding of ``var`` that every path to position i goes
        through last, when there is one: its block encloses i's, and no loop around i (but
        not around it) binds ``var`` again."""
        st = self.stmts
        candidates = [j for j in st.bound_at.get(var, []) if j < i]
        if not candidates:
            return None
        j = max(candidates)
        if st.parents[j] != st.parents[i][:len(st.parents[j])]:
            return None  # inside a branch or loop that i is outside of
        around = self.loops_around(i, j)
        if any(k in around for k in st.bound_at.get(var, []) if k != j):
            return None  # a later iteration may come with another binding
        return j

    def loops_around(self, i: int, j: int) -> set[int]:
        """Positions of the loops that contain i but not j (their earlier iterations run
        between j and i)."""
        return {k for a, b in self.stmts.loops if a < i <= b and not a < j <= b
                for k in range(a, b + 1)}

    def fresh_at(self, var: str, i: int) -> bool:
        """Was ``var`` bound, on every path to position i, to a new array that no other
        name has taken since? (``v = np.zeros(n)`` ... ``v[k] = x``, inside loops too.)"""
        j = self.reaching_definition(var, i)
        if j is None:
            return False
        stmt = self.stmts.order[j]
        op = self.ops.get(stmt)
        if not isinstance(stmt, ast.Assign) or not isinstance(stmt.targets[0], ast.Name) or \
                op is None or op.kind == "call" or self.sources(stmt):
            return False
        between = set(range(j + 1, i)) | self.loops_around(i, j)
        return not any(var in self.sources(self.stmts.order[k]) for k in between)

    def objects_at(self, var: str, i: int, stmt: ast.stmt | None = None,
                   depth: int = 0) -> set:
        """The objects ``var`` may hold at position i: those its reaching binding made or
        took from its sources (at that point, recursively), else any it may ever hold that
        exist by then."""
        st = self.stmts
        # a list's contents change without a binding (append): its every object counts
        j = None if var in self.lists else self.reaching_definition(var, i)
        if j is None and var in self.params and not any(
                k < i for k in st.bound_at.get(var, [])):
            return {("argument", var)}
        if j is not None and depth < 8 and isinstance(st.order[j], ast.Assign) and \
                isinstance(st.order[j].targets[0], ast.Name):
            bound = st.order[j]
            sources = self.sources(bound)
            op = self.ops.get(bound)
            made = {("made", bound)} if not sources or (
                op is not None and op.kind == "call") else set()
            return made.union(*[self.objects_at(v, j, None, depth + 1) for v in sources])
        spans = [(a, b) for a, b in st.loops if a < i <= b]
        around = set().union(*[range(a, b + 1) for a, b in spans])
        origin = getattr(stmt, "origin", None)
        return {o for o in self.pts.get(var, set()) if o[0] == "argument" or (
            (st.index[o[1]] < i or st.index[o[1]] in around)
            and (origin is None or st.order[st.index[o[1]]].origin is not origin))}

    def link(self, a: str, b: str) -> str:
        """The user statement through which ``a`` and ``b`` came to share memory."""
        for s in self.stmts.order:
            targets = assigned_names(s) if isinstance(s, ast.Assign) else [
                getattr(s, "appends_to", None)]
            sources = self.sources(s)
            if (a in targets and b in sources) or (b in targets and a in sources):
                return s.origin
        return None

    def appended_directly(self, holder: str, var: str) -> bool:
        """Was ``var`` itself put in the list ``holder`` (``hs.append(x)``, ``hs = [x]``)?"""
        for s in self.stmts.order:
            if isinstance(s, ast.Expr) and getattr(s, "appends_to", None) == holder and \
                    var in atom_names(s.value.args[0]):
                return True
            if isinstance(s, ast.Assign) and isinstance(s.value, (ast.List, ast.Tuple)) and \
                    holder in assigned_names(s) and \
                    any(isinstance(e, ast.Name) and e.id == var for e in s.value.elts):
                return True
        return False

    def certainly_same(self, a: str, b: str) -> bool:
        """Were a and b made the same object by a plain assignment (``b = a``)?"""
        for s in self.stmts.order:
            op = self.ops.get(s)
            if op is not None and op.label == "=" and isinstance(s.value, ast.Name) and \
                    {s.value.id, s.targets[0].id} == {a, b}:
                return True
        return False

    # -- the writes -----------------------------------------------------------------------
    def helper_writes(self, stmt: ast.stmt) -> list[tuple[str, str]]:
        """(argument name, "write" or "augmented") for each argument a call to a user
        function changes in place."""
        op = self.ops.get(stmt)
        if op is None or op.kind != "call" or op.callee is None:
            return []
        key = op.callee
        if key not in self.helper_effects:
            self.helper_effects[key] = mutated_parameters(op.callee)
        effects = self.helper_effects[key]
        return [(n, effects[p]) for p, atom in op.bound.items() if p in effects
                for n in atom_names(atom)]

    def writes(self) -> Iterator[tuple[ast.stmt, str, list[str], str]]:
        """(statement, variable written, the names read later that may share its memory,
        the kind of write) for every in-place write that is not proved harmless. A helper
        that changes its argument changes the caller's variable itself, so that variable
        counts among those read later."""
        st = self.stmts
        reads = [header_reads(s) for s in st.order]
        for i, s in enumerate(st.order):
            var = written_name(s)
            kind = "write" if is_element_write(s) else "augmented" if var else None
            for arg, helper_kind in self.helper_writes(s):
                spans = [(a, b) for a, b in st.loops if a < i <= b]
                if still_read(arg, i, spans, reads, st.bound_at.get(arg, [])) or \
                        self.live_sharing(arg, i, reads):
                    yield s, arg, [arg], "helper " + helper_kind
            if var is None or self.fresh_at(var, i):
                continue
            live = self.live_sharing(var, i, reads, s)
            if live:
                yield s, var, live, kind

    def values_sharing_the_target(self) -> Iterator[tuple[ast.stmt, str, str]]:
        """(statement, target, value) for each ``target[index] = value`` whose value may
        share the target's memory, where the index may hold a boolean mask (it is not made
        of constants and slices only)."""
        for i, s in enumerate(self.stmts.order):
            if not is_element_write(s) or not isinstance(s.value, ast.Name):
                continue
            index = s.targets[0].slice
            parts = index.elts if isinstance(index, ast.Tuple) else [index]
            if all(isinstance(p, (ast.Constant, ast.Slice)) for p in parts):
                continue
            var, value = s.targets[0].value.id, s.value.id
            if self.objects_at(var, i, s) & self.objects_at(value, i):
                yield s, var, value

    def live_sharing(self, var: str, i: int, reads: list[set[str]],
                     stmt: ast.stmt | None = None) -> list[str]:
        """Other names that may share the memory ``var`` holds at position i and are read
        after it."""
        st = self.stmts
        spans = [(a, b) for a, b in st.loops if a < i <= b]
        around = set().union(*[range(a, b + 1) for a, b in spans])
        current = self.objects_at(var, i, stmt)
        others = {n for n, objects in self.pts.items() if n != var and objects & current
                  and (n in self.params or any(j < i or j in around
                                               for j in st.bound_at.get(n, ())))
                  and self.objects_at(n, i) & current}
        refreshed = self.refreshed_after(i)
        return sorted(n for n in others if n not in refreshed and
                      still_read(n, i, spans, reads, st.bound_at.get(n, [])))

    def refreshed_after(self, i: int) -> set[str]:
        """Views taken again right after the write at position i (``r = A[0]``, or
        ``if np.ndim(r) > 0: r = A[0]`` when r may be a number, which shares nothing): their
        old objects are not read again."""
        found, st = set(), self.stmts
        for j in range(i + 1, len(st.order)):
            stmt = st.order[j]
            if not getattr(stmt, "view_refresh", False):
                break
            if isinstance(stmt, ast.Assign):
                found.add(stmt.targets[0].id)
        return found


def still_read(var: str, i: int, spans: list[tuple[int, int]], reads: list[set[str]],
               bound: list[int]) -> bool:
    """Is the object ``var`` holds at position i read afterwards, before ``var`` is bound
    again? Later statements count, and so do earlier ones of an enclosing loop (the next
    iteration) unless the loop rebinds ``var`` first."""
    for j in range(i + 1, len(reads)):
        if var in reads[j] and not any(i < b < j for b in bound):
            return True
        if any(b == j for b in bound) and not any(a <= j <= e for a, e in spans):
            return False  # bound again outside the loops around i: the old object is gone
    for start, end in spans:
        if any(i < b <= end for b in bound):
            continue  # rebound later in this iteration
        for j in range(start, i + 1):
            if var in reads[j] and not any(start <= b < j for b in bound):
                return True
    return False


def header_reads(stmt: ast.stmt) -> set[str]:
    """Names a statement reads itself (a loop's or branch's header, not its body)."""
    found = set()
    for part, value in ast.iter_fields(stmt):
        if part in ("body", "orelse"):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                found |= {n.id for n in ast.walk(item)
                          if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        found.add(stmt.targets[0].value.id)
    return found


def guard(stmt: ast.stmt, var: str, other: str, message: str) -> ast.Expr:
    """``must_not_share(var, other, message)``, placed before ``stmt``."""
    check = ast.Call(func=ast.Name(id="must_not_share", ctx=ast.Load()),
                     args=[ast.Name(id=var, ctx=ast.Load()), ast.Name(id=other, ctx=ast.Load()),
                           ast.Constant(message)], keywords=[])
    node = ast.copy_location(ast.Expr(value=check), stmt)
    node.origin = stmt.origin
    node.guard = True
    return node


def masked_guard(stmt: ast.Assign, var: str, value: str, message: str) -> ast.Expr:
    """``must_not_overlap_masked(var, index, value, message)`` before ``var[index] = value``:
    refused when it runs with a boolean mask and the two overlap."""
    index = index_expression(stmt.targets[0].slice)
    check = ast.Call(func=ast.Name(id="must_not_overlap_masked", ctx=ast.Load()),
                     args=[ast.Name(id=var, ctx=ast.Load()), index,
                           ast.Name(id=value, ctx=ast.Load()), ast.Constant(message)],
                     keywords=[])
    node = ast.copy_location(ast.Expr(value=check), stmt)
    node.origin = stmt.origin
    node.guard = True
    return node


def array_guard(stmt: ast.stmt, var: str, message: str) -> ast.Expr:
    """``must_not_be_array(var, message)`` before ``stmt``: ``var += v`` rebinds a number but
    changes an array in place."""
    check = ast.Call(func=ast.Name(id="must_not_be_array", ctx=ast.Load()),
                     args=[ast.Name(id=var, ctx=ast.Load()), ast.Constant(message)],
                     keywords=[])
    node = ast.copy_location(ast.Expr(value=check), stmt)
    node.origin = stmt.origin
    return node


def shared_message(where, var: str, others: list[str], how: str) -> tuple[str, str]:
    what = (f"{var} is changed in place here, but {var} and {', '.join(others)} share "
            f"memory ({how}), and {', '.join(others)} {'is' if len(others) == 1 else 'are'} "
            "read afterwards")
    hint = (f"make an independent copy where it is made (b = a.copy()), or write "
            f"{var} = {var} + v instead of changing it in place")
    return what, hint


def check_writes(model: MemoryModel, where, temporaries: set[str], describe
                 ) -> dict[int, list[ast.stmt]]:
    """Refuse writes into an array a list holds; return the guards to place before the
    other writes into memory that may be shared, by id of the write."""
    guards: StatementTable[list[ast.stmt]] = StatementTable()
    for stmt, var, live, kind in model.writes():
        held_by = [n for n in live if n in model.lists]
        location = where(stmt.origin)
        if kind.startswith("helper"):
            op = model.ops[stmt]
            what = (f"{op.label} changes its argument {var} in place, and {var} is read "
                    "afterwards (NumPy changes the caller's array too)")
            hint = (f"pass a copy ({op.label}({var}.copy(), ...)) or have {op.label} return "
                    "the new value")
            error = UnsupportedSyntaxError(what, location, hint)
            if kind == "helper write":
                raise error
            guards.setdefault(stmt, []).append(array_guard(stmt, var, str(error)))
            continue
        if var in model.lists:
            raise UnsupportedSyntaxError(
                f"the list {var} is changed here, but {var} and {', '.join(live)} share "
                "memory (they are the same list), and it is read afterwards", location,
                f"build a new list, or copy it first: {live[0]} = list({var})")
        if held_by:
            what = (f"{var} is changed in place here, but the list {held_by[0]} holds it "
                    f"(appended or listed before), so its entry would change too")
            error = UnsupportedSyntaxError(what, location,
                                           f"append a copy ({held_by[0]}.append({var}.copy()))"
                                           f" or build a new array instead of changing {var}")
            if kind == "write" and model.appended_directly(held_by[0], var):
                raise error  # hs.append(x), then x[i] = v: the entry is x
            for holder in held_by:  # entries taken from x, or results of helpers: check
                guards.setdefault(stmt, []).append(guard(stmt, var, holder, str(error)))
            live = [n for n in live if n not in held_by]
        for other in live:
            shown = other if other not in temporaries else "a value computed from it"
            what, hint = shared_message(location, var, [shown], describe(other, var))
            error = UnsupportedSyntaxError(what, location, hint)
            if is_element_write(stmt) and model.certainly_same(other, var):
                raise error  # b = a, then a[i] = v: no need to wait for the run to know
            guards.setdefault(stmt, []).append(guard(stmt, var, other, str(error)))
    for stmt, var, value in model.values_sharing_the_target():
        error = UnsupportedSyntaxError(
            f"the value written into {var} through a boolean mask shares memory with {var}: "
            "NumPy reads it while it writes (no copy first, unlike other indices), so the "
            "result depends on its loop order", where(stmt.origin),
            f"write a copy of the value ({var}[mask] = v.copy())")
        guards.setdefault(stmt, []).append(masked_guard(stmt, var, value, str(error)))
    return guards


def insert_guards(body: list[ast.stmt], guards: StatementTable[list[ast.stmt]]
                  ) -> list[ast.stmt]:
    out = []
    for stmt in body:
        for field_name in ("body", "orelse"):
            if getattr(stmt, field_name, None):
                setattr(stmt, field_name, insert_guards(getattr(stmt, field_name), guards))
        out += guards.get(stmt, [])
        out.append(stmt)
    return out
