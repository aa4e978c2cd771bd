"""Forward (tangent) rules: how a tangent flows through each operation that has a reverse rule.

Four kinds, each stated once per family of operations:

- ``Elementwise``: derived from the reverse rule. An elementwise operation has a diagonal
  Jacobian, so the reverse contribution ``d[x] += unbroadcast(d[z] * g, x)`` read forwards is
  ``t[z] += t[x] * g`` (broadcasting does what ``unbroadcast`` undid).
- ``Linear``: the operation is linear in these parameters jointly, so its tangent is the
  operation itself applied to their tangents: ``t[y] = np.reshape(t[x], shape)``. Views stay
  views and copies stay copies, so a tangent shares memory exactly where its primal does.
- ``Multilinear``: linear in each parameter separately; the tangent is the sum over them of
  the operation with that one argument replaced: ``t[z] = t[a] @ b + a @ t[b]``.
- ``TangentTemplate``: an explicit rule ``t[y] = ...`` for everything else, written like the
  reverse templates (first parameter the result, ``t[v]`` the tangent of ``v``).

Parameters listed in ``flat`` have a zero derivative almost everywhere (a mask computed from
them), and parameters in ``refused`` have no second-order rule: a tangent reaching them is
a clear error, never a silently dropped term.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import dataclass, field

import numpy as np

from .. import helpers, runtime
from ..runtime import (
    centered,
    cumprod_adjoint,
    cumprod_adjoint_change,
    cumprod_tangent,
    is_inexact,
    kept_if,
    norm_adjoint,
    norm_ord_adjoint,
    norm_ord_adjoint_change,
    permuted_like,
    polygamma,
    pow_exponent_adjoint,
    prod_adjoint,
    reduce_sum,
    reduced_count,
    sorted_like,
    unreduce,
    weights_like,
)
from ..runtime_tangent import (
    extremum_tangent,
    norm_adjoint_tangent,
    norm_tangent,
    prod_adjoint_tangent,
    prod_tangent,
    reciprocal_or_zero,
)
from ..template import TemplateError
from . import GENERATION, REVERSE, check_arity, check_free_names


@dataclass(frozen=True)
class Elementwise:
    pass


@dataclass(frozen=True)
class Linear:
    params: tuple[str, ...]
    refused: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Multilinear:
    params: tuple[str, ...]


@dataclass
class TangentTemplate:
    """A parsed ``t[result] = expr`` rule (after optional ``name = expr`` locals)."""

    name: str
    signature: inspect.Signature
    params: list[str]
    locals: list[ast.Assign]
    value: ast.expr
    refused: dict = field(default_factory=dict)

    @property
    def result(self) -> str:
        return self.params[0]


Spec = Elementwise | Linear | Multilinear | TangentTemplate

# Keys as in REVERSE: AST operator classes, callables and strings for syntax.
TANGENTS: dict[Hashable, Spec] = {}
# Runtime helpers of generated adjoint code, for forward mode over an adjoint (hvp): their
# specs are stored in the helper registry (adjoint/helpers.py), like their other facts.
HELPERS: MutableMapping[Callable, Spec] = helpers.TangentTable()
# Helpers whose tangent is zero (declared zero_tangent in the registry).
ZERO_HELPERS: frozenset[Callable] = helpers.zero_tangent_functions()


def is_tangent_ref(node: ast.AST) -> bool:
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id == "t")


def parse_tangent_template(func: Callable) -> TangentTemplate:
    """Parse a rule function whose body is locals then one ``t[result] = expr`` line."""
    src = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(src).body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise TemplateError(f"rule {func!r} must be a function defined with def")
    params = list(inspect.signature(func).parameters)
    if not params:
        raise TemplateError(f"rule {func.__name__} needs the result as its first parameter")
    body = [s for s in tree.body if not (isinstance(s, ast.Expr) and
                                         isinstance(s.value, ast.Constant))]
    *local_lines, last = body or [None]
    if not (isinstance(last, ast.Assign) and len(last.targets) == 1 and
            is_tangent_ref(last.targets[0]) and isinstance(last.targets[0].slice, ast.Name)
            and last.targets[0].slice.id == params[0]):
        raise TemplateError(f"rule {func.__name__} must end with 't[{params[0]}] = ...', the "
                            "tangent of its result (its first parameter)")
    for stmt in local_lines:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            raise TemplateError(f"rule {func.__name__}: only 'name = expr' lines may come "
                                f"before 't[{params[0]}] = ...', got {ast.unparse(stmt)!r}")
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if is_tangent_ref(node) and not (isinstance(node.slice, ast.Name)
                                         and node.slice.id in params):
            raise TemplateError(f"rule {func.__name__}: t[...] must name a parameter, got "
                                f"{ast.unparse(node)}")
    return TangentTemplate(func.__name__, inspect.signature(func), params, local_lines,
                           last.value)


def tangent_of(*keys: Hashable, refused: dict | None = None):
    """Register the decorated ``t[y] = ...`` template as the tangent rule of every key."""

    def register(func: Callable) -> Callable:
        template = parse_tangent_template(func)
        template.refused = refused or {}
        for key in keys:
            (HELPERS if helpers.lookup(key) is not None else TANGENTS)[key] = template
        return func

    return register


def declare(spec: Spec, *keys: Hashable) -> None:
    for key in keys:
        (HELPERS if helpers.lookup(key) is not None else TANGENTS)[key] = spec



def lookup(key: Hashable) -> Spec | None:
    try:
        return TANGENTS.get(key)
    except TypeError:
        return None


# == built-in operations =====================================================================
t: dict = {}  # in a rule, t[v] stands for the tangent of v

declare(Elementwise(), ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, pow, ast.Mod, ast.USub)
declare(Linear(("x",)), ast.UAdd, "copy")
declare(Multilinear(("x", "y")), ast.MatMult)

# Every reverse rule of elementwise.py and elementwise_math.py is elementwise (those
# modules' whole subject).
declare(Elementwise(), *[key for key, rules in REVERSE.items() if rules and rules[0].module
                         .endswith((".elementwise", ".elementwise_math"))])

declare(Linear(("x",)), np.sum, np.mean, np.cumsum, np.transpose, ".transpose", ".T",
        np.reshape, np.squeeze, np.expand_dims, np.ravel, np.atleast_1d, np.atleast_2d,
        ".reshape", ".ravel", ".flatten", ".squeeze", np.copy, np.float64, np.float32,
        ".copy", "getitem")
declare(Linear(("xs",)), np.concatenate, np.stack, "array_of_list", np.hstack, np.vstack,
        np.dstack, np.column_stack)
declare(Multilinear(("a", "b")), np.dot, np.matmul, np.outer)

# -- issue 14: the wider tables. Linear operations apply themselves to the tangent.
declare(Linear(("x",)), np.atleast_3d, np.swapaxes, np.moveaxis, np.flip, np.fliplr, np.flipud,
        np.rot90, np.roll, np.tile, np.repeat, np.tril, np.triu, np.diagonal, np.diag,
        np.broadcast_to, np.pad, np.diff, np.trace, np.real, np.conjugate, np.rollaxis,
        np.split, np.array_split, np.hsplit, np.vsplit)
declare(Multilinear(("a", "b")), np.inner, np.vdot, np.cross, np.tensordot, np.kron)
declare(Multilinear(("a", "b", "c")), np.einsum)


@tangent_of(np.asarray, np.array, ".astype")
def cast(y, x, *options, **keyword_options):
    t[y] = kept_if(t[x], is_inexact(y))


@tangent_of(np.average)
def average(y, x, axis=None, weights=None):
    # np.average(x) is linear in x; with weights, y = sum(w x) / sum(w)
    w = weights_like(1.0 if weights is None else weights, x, axis)
    t[y] = reduce_sum(w * t[x] + weights_like(t[weights], x, axis) * (
        x - unreduce(y, x, axis)), axis) / reduce_sum(w * np.ones_like(x), axis)


@tangent_of(np.partition)
def partition(y, x, kth, axis=-1):
    t[y] = permuted_like(t[x], x, y, axis)


@tangent_of(np.var)
def var(y, x, axis=None, *, ddof=0, keepdims=False):
    t[y] = 2.0 * reduce_sum(centered(x, axis) * t[x], axis, keepdims) / (
        reduced_count(x, axis) - ddof)


@tangent_of(np.std)
def std(y, x, axis=None, *, ddof=0, keepdims=False):
    t[y] = reduce_sum(centered(x, axis) * t[x], axis, keepdims) / (
        (reduced_count(x, axis) - ddof) * y)


@tangent_of(np.ptp)
def ptp(y, x, axis=None, keepdims=False):
    t[y] = (extremum_tangent(t[x], x, np.max(x, axis=axis, keepdims=keepdims), axis, keepdims)
            - extremum_tangent(t[x], x, np.min(x, axis=axis, keepdims=keepdims), axis,
                               keepdims))


@tangent_of(np.nansum)
def nansum(y, x, axis=None, keepdims=False):
    t[y] = reduce_sum(np.where(np.isnan(x), 0.0, t[x]), axis, keepdims)


@tangent_of(np.nanmean)
def nanmean(y, x, axis=None, keepdims=False):
    t[y] = np.nanmean(np.where(np.isnan(x), np.nan, t[x]), axis=axis, keepdims=keepdims)


@tangent_of(np.cumprod)
def cumprod(y, x, axis=None):
    t[y] = cumprod_tangent(t[x], x, axis)


@tangent_of(np.sort)
def sort(y, x, axis=-1, kind=None):
    t[y] = sorted_like(t[x], x, axis)


@tangent_of(np.max, np.amax, np.min, np.amin)
def extremum(y, x, axis=None, keepdims=False):
    t[y] = extremum_tangent(t[x], x, y, axis, keepdims)


@tangent_of(np.prod)
def prod(y, x, axis=None, keepdims=False):
    t[y] = prod_tangent(t[x], x, y, axis, keepdims)


@tangent_of(np.linalg.norm)
def norm(y, x, ord=None, axis=None, keepdims=False):
    t[y] = norm_tangent(t[x], x, y, axis, keepdims, ord)


# == runtime helpers of adjoint code (forward over reverse: Hessian-vector products) ==========
declare(Linear(("g",)), runtime.kept_if, runtime.unbroadcast, runtime.sum_to_shape,
        runtime.unreduce,
        runtime.mean_adjoint, runtime.cumsum_adjoint, runtime.split_like, runtime.unstack,
        runtime.unindex, runtime.zero_entries, runtime.extremum_adjoint, runtime.written_part)
declare(Linear(("g",)), runtime.diff_adjoint, runtime.untile, runtime.unrepeat,
        runtime.sort_adjoint, runtime.undiagonal, runtime.untrace, runtime.unpad,
        runtime.unpad_copies)
declare(Linear(("t",)), runtime.sorted_like, runtime.permuted_like, runtime.cumprod_tangent)
declare(Linear(("g",)), runtime.unpermute, runtime.unweights, runtime.split_promoted)
declare(Linear(("w",)), runtime.weights_like)
declare(Multilinear(("g", "b")), runtime.tensordot_adjoint_a, runtime.kron_adjoint_a)
declare(Multilinear(("g", "a")), runtime.tensordot_adjoint_b, runtime.kron_adjoint_b)
declare(Linear(("x",)), runtime.centered)
declare(Linear(("v",)), runtime.reduce_sum)
declare(Linear(("g",), refused={"x": "second derivatives of the nuclear norm (ord='nuc')"}),
        runtime.nuclear_norm_adjoint)
declare(Multilinear(("g", "b", "c")), runtime.einsum_adjoint)
declare(Multilinear(("g", "b")), runtime.inner_adjoint_a)
declare(Multilinear(("g", "a")), runtime.inner_adjoint_b)
declare(Linear(("adjoint", "g")), runtime.add_at)
declare(Linear(("adjoint",)), runtime.clear_at)
declare(Linear(("value",)), runtime.detached)
declare(Multilinear(("g", "b")), runtime.dot_adjoint_a, runtime.matmul_adjoint_a)
declare(Multilinear(("g", "a")), runtime.dot_adjoint_b, runtime.matmul_adjoint_b)
for _helper in (runtime.list_zeros, runtime.list_entry, runtime.list_add, runtime.list_add_at,
                runtime.pop_adjoint):
    declare(Linear((), refused={p: "second derivatives through lists built with append, or "
                                   "through the entries of a tuple result (np.linalg.eigh's)"
                                for p in inspect.signature(_helper).parameters}), _helper)


@tangent_of(runtime.pow_exponent_adjoint)
def pow_exponent(r, g, x, z):
    # r = g * z * ln x  (0 where x == 0)
    t[r] = (pow_exponent_adjoint(t[g], x, z) + pow_exponent_adjoint(g, x, t[z])
            + g * z * reciprocal_or_zero(x) * t[x])


@tangent_of(runtime.prod_adjoint)
def prod_second(r, g, x, axis=None, keepdims=False):
    t[r] = (prod_adjoint(t[g], x, axis, keepdims)
            + prod_adjoint_tangent(g, x, t[x], axis, keepdims))


@tangent_of(runtime.norm_adjoint)
def norm_second(r, g, x, y, axis=None, keepdims=False, ord=None):
    t[r] = (norm_adjoint(t[g], x, y, axis, keepdims, ord)
            + norm_adjoint_tangent(g, x, y, t[x], t[y], axis, keepdims, ord))


@tangent_of(runtime.cumprod_adjoint)
def cumprod_second(r, g, x, axis=None):
    t[r] = cumprod_adjoint(t[g], x, axis) + cumprod_adjoint_change(g, x, t[x], axis)


@tangent_of(runtime.norm_ord_adjoint)
def norm_ord_second(r, g, x, y, ord, axis=None, keepdims=False):
    t[r] = (norm_ord_adjoint(t[g], x, y, ord, axis, keepdims)
            + norm_ord_adjoint_change(g, x, y, t[x], t[y], ord, axis, keepdims))


@tangent_of(runtime.polygamma)
def polygamma_next(r, n, x):
    t[r] = t[x] * polygamma(n + 1, x)


# == user rules ===============================================================================
def register_tangent(func: Callable) -> Callable:
    """Public decorator: ``@register_tangent(my_func)`` above a forward rule template.

    The template's first parameter is the result of ``my_func``, the others its arguments,
    and its last line ``t[y] = ...`` gives the result's tangent from ``t[x]``, the tangents of
    the arguments::

        @adjoint.register_tangent(my_softplus)
        def my_softplus_tangent(y, x):
            t[y] = t[x] / (1 + np.exp(-x))
    """
    from ..errors import AdjointError

    def register(rule_func: Callable) -> Callable:
        try:
            template = parse_tangent_template(rule_func)
            check_arity(template.name, template.params, func)
            check_free_names(template.name, template.params,
                             {s.targets[0].id for s in template.locals},
                             [*template.locals, template.value], rule_func.__globals__)
        except (TemplateError, OSError, TypeError) as exc:
            raise AdjointError(f"invalid tangent rule {getattr(rule_func, '__name__', rule_func)}"
                               f" for {getattr(func, '__name__', func)}: {exc}") from exc
        TANGENTS[func] = template
        GENERATION[0] += 1
        return rule_func

    return register
