"""The rule tables: which derivative applies to which operation.

Keys are AST operator classes (``ast.Mult``), callables (``np.sin``, ``math.sin``), or
strings for syntax that is not a call (``"getitem"``, ``"copy"``, ``".T"``, and
``".reshape"``-style keys for array methods whose signature differs from the function's).
"""
from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ..template import Template, TemplateError, parse_template


@dataclass
class Rule:
    key: Hashable
    template: Template
    # Optional check of the call's constant arguments (for example, norm's ``ord``);
    # returns a message when the rule does not cover the call.
    check: Callable[[dict], str | None] | None = None
    module: str = ""  # where the rule was written: elementwise.py rules are elementwise
    # the operation returns a tuple of arrays of different shapes (w, V = eigh(A)): its
    # adjoint is carried entry by entry, like a list's, and the rule reads d[y][i]
    tuple_result: bool = False


# A key may have several rules, tried in order until one binds the call's arguments
# (math.log(x) and math.log(x, base) are two templates).
REVERSE: dict[Hashable, list[Rule]] = {}
ZERO_GRADIENT: set[Hashable] = set()
# Bumped by every user registration: code built under older rules is rebuilt.
GENERATION = [0]


def _key(key: Hashable) -> Hashable:
    # numpy exposes some functions under several names (np.abs is np.absolute); the object
    # itself is the key, so aliases share a rule automatically.
    return key


def adjoint_of(*keys: Hashable, check: Callable[[dict], str | None] | None = None,
               tuple_result: bool = False):
    """Register the decorated template as the reverse rule of every key. With
    ``tuple_result`` the operation returns a tuple of arrays (of different shapes), which
    the user unpacks; the rule's ``d[y]`` then holds one adjoint per entry, None where
    nothing flowed."""

    def register(func: Callable) -> Callable:
        template = parse_template(func)
        for key in keys:
            REVERSE.setdefault(_key(key), []).append(
                Rule(key, template, check, func.__module__, tuple_result))
        return func

    return register


def zero_gradient(*keys: Hashable) -> None:
    """Declare operations whose derivative is zero wherever it exists (sign, floor, shape)."""
    ZERO_GRADIENT.update(_key(k) for k in keys)


def lookup(key: Hashable) -> list[Rule]:
    try:
        return REVERSE.get(key, []) or (load_optional_tables() and REVERSE.get(key, []))
    except TypeError:  # unhashable callables cannot have rules
        return []


def has_zero_gradient(key: Hashable) -> bool:
    try:
        return key in ZERO_GRADIENT
    except TypeError:
        return False


def load_optional_tables() -> bool:
    """Import the SciPy rule tables once the user's code has imported SciPy (importing
    adjoint itself never does). True when a table was loaded by this call."""
    loaded = False
    for scipy_module, table in (("scipy.special", "special"), ("scipy.linalg", "scipy_linalg")):
        if scipy_module in sys.modules and f"{__name__}.{table}" not in sys.modules:
            importlib.import_module(f"{__name__}.{table}")
            loaded = True
    return loaded


def register_adjoint(func: Callable) -> Callable:
    """Public decorator: ``@register_adjoint(my_func)`` above a rule template.

    The template's first parameter is the result of ``my_func``, the others its arguments,
    and ``d[v] += ...`` lines give each argument's adjoint::

        @adjoint.register_adjoint(my_softplus)
        def my_softplus_adjoint(y, x):
            d[x] += d[y] / (1 + np.exp(-x))
    """
    from ..errors import AdjointError

    def register(rule_func: Callable) -> Callable:
        try:
            template = parse_template(rule_func)
            check_arity(template.name, template.params, func)
            check_free_names(template.name, template.params,
                             {s.targets[0].id for s in template.body if isinstance(s, ast.Assign)},
                             template.body, rule_func.__globals__)
            REVERSE.pop(func, None)  # a user rule replaces any earlier one for func
            adjoint_of(func)(rule_func)
            GENERATION[0] += 1
        except (TemplateError, OSError, TypeError) as exc:
            raise AdjointError(f"invalid adjoint rule {getattr(rule_func, '__name__', rule_func)}"
                               f" for {getattr(func, '__name__', func)}: {exc}") from exc
        return rule_func

    return register


def generated_names() -> set[str]:
    from .. import runtime, runtime_tangent

    return ({"np", "math"} | set(runtime.__all__) | set(runtime_tangent.__all__)
            | set(vars(builtins)))


def check_free_names(name: str, params: list[str], local_names: set[str],
                     body: list[ast.AST], extra: dict) -> None:
    """A rule may read its parameters, its locals, np, math, the runtime helpers, builtins
    and names of its own module (which the differentiated function's module must also see)."""
    known = set(params) | local_names | generated_names() | set(extra) | {"d", "t"}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                    and node.id not in known:
                raise TemplateError(f"rule {name} uses the unknown name {node.id!r}")


def check_arity(name: str, params: list[str], func: Callable) -> None:
    """The rule's parameters after the result must be able to take the function's."""
    try:
        fn_params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return  # a builtin or ufunc without a signature: checked when a call binds
    named = [p for p in fn_params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = [p for p in named if p.default is p.empty]
    if not len(required) <= len(params) - 1 <= len(named):
        takes = (f"{len(required)}" if len(required) == len(named) else
                 f"{len(required)} to {len(named)}")
        raise TemplateError(
            f"rule {name} takes {len(params) - 1} argument(s) after the result "
            f"({', '.join(params[1:])}) but {getattr(func, '__name__', func)} takes "
            f"{takes} ({', '.join(p.name for p in named)})")


# Importing the tables fills REVERSE and ZERO_GRADIENT (linalg.py also declares tangents,
# so it comes after the tables tangents.py reads).
from . import arrays, conversions, elementwise, elementwise_math, operators  # noqa: E402,F401,I001
from . import shapes  # noqa: E402,F401
from . import linalg  # noqa: E402,F401
