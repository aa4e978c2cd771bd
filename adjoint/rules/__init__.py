"""The rule tables: which derivative applies to which operation.

Keys are AST operator classes (``ast.Mult``), callables (``np.sin``, ``math.sin``), or
strings for syntax that is not a call (``"getitem"``, ``"copy"``, ``".T"``, and
``".reshape"``-style keys for array methods whose signature differs from the function's).
"""
from __future__ import annotations

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


# A key may have several rules, tried in order until one binds the call's arguments
# (math.log(x) and math.log(x, base) are two templates).
REVERSE: dict[Hashable, list[Rule]] = {}
ZERO_GRADIENT: set[Hashable] = set()


def _key(key: Hashable) -> Hashable:
    # numpy exposes some functions under several names (np.abs is np.absolute); the object
    # itself is the key, so aliases share a rule automatically.
    return key


def adjoint_of(*keys: Hashable, check: Callable[[dict], str | None] | None = None):
    """Register the decorated template as the reverse rule of every key."""

    def register(func: Callable) -> Callable:
        template = parse_template(func)
        for key in keys:
            REVERSE.setdefault(_key(key), []).append(Rule(key, template, check))
        return func

    return register


def zero_gradient(*keys: Hashable) -> None:
    """Declare operations whose derivative is zero wherever it exists (sign, floor, shape)."""
    ZERO_GRADIENT.update(_key(k) for k in keys)


def lookup(key: Hashable) -> list[Rule]:
    try:
        return REVERSE.get(key, [])
    except TypeError:  # unhashable callables cannot have rules
        return []


def has_zero_gradient(key: Hashable) -> bool:
    try:
        return key in ZERO_GRADIENT
    except TypeError:
        return False


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
            REVERSE.pop(func, None)  # a user rule replaces any earlier one for func
            adjoint_of(func)(rule_func)
        except (TemplateError, OSError, TypeError) as exc:
            raise AdjointError(f"invalid adjoint rule {getattr(rule_func, '__name__', rule_func)}"
                               f" for {getattr(func, '__name__', func)}: {exc}") from exc
        return rule_func

    return register


# Importing the tables fills REVERSE and ZERO_GRADIENT.
from . import arrays, elementwise, operators  # noqa: E402,F401
