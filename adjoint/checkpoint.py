"""CHECKPOINT (reverse mode only): a checkpointed loop becomes a loop over segments.

``for i in adjoint.checkpointed(range(n), snapshots=k):`` leaves the normalizer as a plain
``for i in range(n)`` marked with ``.checkpoint = k`` (forward mode runs it as it is). This
pass splits it into uniform segments of ``stride = ceil(n / k)`` steps, so at most ``k``:

>>> import ast
>>> from adjoint.checkpoint import expand
>>> from adjoint.names import Namer
>>> from adjoint.normalize import normalize_body
>>> fn = normalize_body(ast.parse('''
... def f(x, n):
...     s = x
...     for i in adjoint.checkpointed(range(n), snapshots=10):
...         s = s * x
...     return s''').body[0], {"adjoint"})
>>> body, added = expand(fn.body, Namer({"x", "n", "s", "i", "adjoint"}), None)
>>> print(ast.unparse(body))
s = x
stride = checkpoint_stride(n, 10)
for segment in range(checkpoint_segments(n, stride)):
    for i in range(segment * stride, min(segment * stride + stride, n)):
        s = s * x
return s

The inner loop is marked ``.recompute``, and the reverse transform treats it like any loop
nested in another, with two differences. It saves, before each segment, the state the
segment starts from (the variables an iteration reads before it assigns them), on one list
per variable: k snapshots. And it runs the segment twice: plainly in the forward sweep, and
in the backward sweep once more from its snapshot, this time saving what the segment's
backward loop reads, which that loop then consumes. Memory: k snapshots plus the saves of
one segment, O(k + n/k) instead of O(n); time: one more forward sweep.

Segments are uniform rather than binomial (revolve). Revolve's optimal schedules reach far
smaller memory (O(log n) states for O(n log n) steps), but they would make the generated code
a recursion; uniform segments keep it two nested loops that a reader can check.
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from .errors import ArgumentError, UnsupportedSyntaxError
from .ir import statements
from .names import Namer
from .randomness import random_call
from .resolve import assigned_names
from .source import Source
from .syntax import GUARD, walk_own
from .template import fold


def expand(body: list[ast.stmt], namer: Namer, src: Source | None
           ) -> tuple[list[ast.stmt], list[ast.Assign]]:
    """The body with every checkpointed loop (nested ones included) split into segments,
    and the assignments this added (they compute loop bounds: no derivative)."""
    added: list[ast.Assign] = []
    return expand_block(body, namer, src, added), added


def expand_block(body: list[ast.stmt], namer: Namer, src: Source | None,
                 added: list[ast.Assign]) -> list[ast.stmt]:
    out = []
    for stmt in body:
        for field_name in ("body", "orelse"):
            if getattr(stmt, field_name, None):
                setattr(stmt, field_name, expand_block(getattr(stmt, field_name), namer, src,
                                                       added))
        if isinstance(stmt, ast.For) and getattr(stmt, "checkpoint", None) is not None:
            refuse_unsupported(stmt, src)
            setup, outer = segments(stmt, namer)
            added.extend(setup)
            out += setup + [outer]
        else:
            out.append(stmt)
    return out


def segments(loop: ast.For, namer: Namer) -> tuple[list[ast.Assign], ast.For]:
    """``stride = ...`` (and ``steps = ...`` for a stepped range), and the loop over
    segments whose body runs one segment of the user's loop."""
    args = [ast.unparse(a) for a in loop.range_args]
    stride, segment = namer.fresh("stride"), namer.fresh("segment")
    first = f"{segment} * {stride}"  # the index, counted from 0, of a segment's first step
    setup = []
    if len(args) == 1:
        steps, lo, hi, backward = args[0], first, f"min({first} + {stride}, {args[0]})", None
    elif len(args) == 2:
        start, stop = args
        steps = f"{stop} - {start}"
        lo, hi, backward = f"{start} + {first}", f"min({start} + {first} + {stride}, {stop})", None
    else:  # stepped, perhaps downwards: count the steps, then map step numbers to values
        start, _, step = args
        steps = namer.fresh("steps")
        setup.append(assignment(steps, f"len(range({', '.join(args)}))", loop))
        lo = f"{start} + {first} * {step}"
        hi = f"{start} + min({first} + {stride}, {steps}) * {step}"
        backward = f"range({hi} - {step}, {lo} - {step}, -{step})"
    snapshots = ast.unparse(loop.checkpoint)
    setup.append(assignment(stride, f"checkpoint_stride({steps}, {snapshots})", loop))
    inner = for_loop(loop.target.id, [lo, hi] + ([args[2]] if backward else []), loop.body, loop)
    inner.recompute = True
    inner.segment_length = ast.Name(id=stride, ctx=ast.Load())  # the longest a segment runs
    inner.origin = GUARD  # the outer loop's comment quotes the user's header
    inner.backward_range = expression(backward) if backward else None
    outer = for_loop(segment, [f"checkpoint_segments({steps}, {stride})"], [inner], loop)
    outer.origin = loop.origin
    return setup, outer


def for_loop(target: str, range_args: list[str], body: list[ast.stmt],
             like: ast.For) -> ast.For:
    args = [expression(a) for a in range_args]
    node = ast.For(target=ast.Name(id=target, ctx=ast.Store()),
                   iter=ast.Call(func=ast.Name(id="range", ctx=ast.Load()),
                                 args=copy.deepcopy(args), keywords=[]),
                   body=body, orelse=[], type_comment=None)
    node.trips, node.range_args = None, args
    return ast.copy_location(node, like)


def assignment(target: str, value: str, like: ast.For) -> ast.Assign:
    node = ast.Assign(targets=[ast.Name(id=target, ctx=ast.Store())], value=expression(value))
    node.origin = like.origin
    return ast.copy_location(node, like)


def expression(text: str) -> ast.expr:
    return fold(ast.parse(text, mode="eval").body)  # folded: --2 reads 2


# -- what a checkpointed loop may not contain ----------------------------------------------
def refuse_unsupported(loop: ast.For, src: Source | None) -> None:
    """A checkpointed loop must run every step, and each segment must be repeatable from
    its snapshot: refuse break, return, and appends to lists made outside the loop."""
    user = loop.origin
    refuse_bad_snapshots(loop, src)
    found = random_call(src, user.body) if src is not None else None
    if found is not None:
        where, call = found
        raise UnsupportedSyntaxError(
            f"{call} draws random numbers inside a checkpointed loop, whose segments run "
            "again in the backward sweep and would draw other numbers: this is not "
            "supported", where, "draw them before the loop (rng.normal(size=n)) and read "
            "one per step, or use a plain range() loop")
    for node in walk_own(user):
        if isinstance(node, ast.Return):
            raise refusal(src, node, "return inside a checkpointed loop",
                          "assign the result to a variable and return it after the loop")
    node = next(breaks_of(user.body), None)
    if node is not None:
        raise refusal(src, node, "break inside a checkpointed loop",
                      "checkpointed loops run every step: use a plain range() loop, or skip "
                      "the rest of the body with if/continue")
    made = {n for s in statements(loop.body) if isinstance(s, ast.Assign)
            and isinstance(s.value, ast.List) for n in assigned_names(s)}
    for stmt in statements(loop.body):
        if getattr(stmt, "appends_to", None) is not None and stmt.appends_to not in made:
            raise refusal(src, stmt, f"{stmt.appends_to}.append() in a checkpointed loop, on "
                          "a list made outside the loop,",
                          "write into an array made before the loop instead: out[i] = v")


def refuse_bad_snapshots(loop: ast.For, src: Source | None) -> None:
    """``snapshots=`` written as a constant must be a whole number of at least 1 (other
    values are checked when the loop runs)."""
    k = loop.checkpoint
    if isinstance(k, ast.Constant) and not (
            type(k.value) is int and k.value >= 1):
        raise ArgumentError(
            f"adjoint.checkpointed(..., snapshots={k.value!r}): snapshots must be a whole "
            "number of at least 1", src.where(k) if src else None,
            "pass how many states to keep, e.g. snapshots=10")


def breaks_of(body: list[ast.stmt]) -> Iterator[ast.Break]:
    """The break statements that leave the loop whose body this is."""
    for stmt in body:
        if isinstance(stmt, ast.Break):
            yield stmt
        inner = stmt.orelse if isinstance(stmt, (ast.For, ast.While)) else [
            c for c in ast.iter_child_nodes(stmt) if isinstance(c, ast.stmt)]
        yield from breaks_of(inner)


def refusal(src: Source | None, node: ast.AST, what: str, hint: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(f"{what} is not supported", src.where(node) if src else None,
                                  hint)


def without_prints(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """A segment's rerun, minus its ``print`` calls: the forward sweep printed already.
    Changes the compound statements in place (the rerun's own copies)."""
    out = []
    for stmt in stmts:
        call = getattr(stmt, "value", None) if isinstance(stmt, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and \
                call.func.id == "print":
            continue
        for field_name in ("body", "orelse"):
            if getattr(stmt, field_name, None):
                kept = without_prints(getattr(stmt, field_name))
                setattr(stmt, field_name, kept or ([ast.Pass()] if field_name == "body" else []))
        out.append(stmt)
    return out


# -- the state a segment starts from ---------------------------------------------------------
def carried_state(loop: ast.For) -> set[str]:
    """Variables an iteration may read before it assigns them, among those the body
    assigns: what a segment needs from the step before it."""
    exposed = exposed_reads(loop.body, {loop.target.id})
    return exposed & {n for s in statements(loop.body) for n in assigned_names(s)}


def exposed_reads(body: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names the block may read before it binds them; ``bound`` (updated) holds the names
    bound on every path so far. Writing ``a[i] = v`` reads nothing of ``a``."""
    found: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.If):
            found |= loads(stmt.test) - bound
            branches = [set(bound), set(bound)]
            found |= exposed_reads(stmt.body, branches[0])
            found |= exposed_reads(stmt.orelse, branches[1])
            bound |= branches[0] & branches[1]
        elif isinstance(stmt, (ast.For, ast.While)):
            header = stmt.iter if isinstance(stmt, ast.For) else stmt.test
            found |= loads(header) - bound
            inner = set(bound) | set(assigned_names(stmt))
            found |= exposed_reads(stmt.body, inner)  # binds nothing: it may run no step
        else:
            found |= loads(stmt) - bound
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)):
                bound |= set(assigned_names(stmt))
    return found


def loads(node: ast.AST) -> set[str]:
    """Names a statement or expression reads, except the array an element write writes."""
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
        return loads(node.value) | loads(node.targets[0].slice)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
