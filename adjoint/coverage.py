"""The coverage table: every function with a derivative rule, and in which modes it works.

``python -m adjoint.coverage > docs/coverage.md`` regenerates docs/coverage.md from the
rule tables; ``tests/test_coverage.py`` fails when the checked-in file is stale.

Columns, all read from the code:
- reverse: a reverse rule exists (every row has one).
- forward: a forward rule exists (``rules/tangents.py``: derived, linear, or a template).
- second order: every runtime helper and NumPy function the reverse rule's adjoint code
  calls has a forward rule of its own (so ``hvp`` can differentiate the adjoint), and none
  refuses it.
- jit: no known blocker: the primal is not one Numba lacks (``helpers.NUMBA_LACKS``) or
  whose adjoint it fails on (``helpers.NUMBA_FAILS``), and every helper the adjoint calls
  has a Numba version (none is declared ``no_numba`` in the helper registry). Numba's own
  limits still apply (many of its NumPy functions take 1-D/2-D arrays only and no
  ``axis``): those raise a located ``JitError``. The rows of ``JIT_ROWS`` in
  tests/test_rules_wide.py are run under jit.
"""
from __future__ import annotations

import ast
import math
import sys

import numpy as np

from . import helpers, runtime
from .rules import REVERSE, ZERO_GRADIENT, load_optional_tables, tangents

TABLES = [
    ("operators", "Python operators"),
    ("elementwise_math", "Elementwise: builtins and math on floats"),
    ("elementwise", "Elementwise: NumPy ufuncs"),
    ("arrays", "Arrays: reductions, scans, products, indexing"),
    ("shapes", "Arrays: shapes, splits and joins"),
    ("linalg", "np.linalg"),
    ("special", "scipy.special (loaded when your code imports it)"),
    ("scipy_linalg", "scipy.linalg (loaded when your code imports it)"),
]

SYMBOLS = {ast.Add: "`+`", ast.Sub: "`-`", ast.Mult: "`*`", ast.Div: "`/`", ast.Pow: "`**`",
           ast.Mod: "`%`", ast.MatMult: "`@`", ast.USub: "unary `-`", ast.UAdd: "unary `+`",
           ast.FloorDiv: "`//`", ast.Not: "`not`", ast.Invert: "`~`", ast.BitAnd: "`&`",
           ast.BitOr: "`|`", ast.BitXor: "`^`", ast.LShift: "`<<`", ast.RShift: "`>>`"}
ATTRIBUTES = {".shape", ".ndim", ".size", ".dtype", ".T"}
SYNTAX = {"getitem": "`x[index]`", "copy": "`y = x`", "array_of_list": "`np.array([a, b])`",
          ".T": "`x.T`"}

# Functions asked for in issue 14 that have no rule, and why.
REFUSED = [
    ("np.einsum with an ellipsis or a repeated letter ('ii->i')", "refused with a "
     "MissingRuleError; name every axis, use np.diagonal for diagonals"),
    ("np.pad with mode 'linear_ramp', 'maximum', 'minimum', 'mean', 'median' or 'empty', "
     "or with constant_values, end_values, stat_length or reflect_type", "refused with a "
     "MissingRuleError: these modes compute the padding (or leave it undefined) instead of "
     "copying entries; 'constant', 'edge', 'reflect', 'symmetric' and 'wrap' have rules"),
    ("scipy.linalg solvers other than solve_triangular and cho_solve", "not yet: use "
     "np.linalg.solve"),
]


def public_name(key) -> str:
    """``np.sin``, ``np.linalg.inv``, ``math.erf``, ``scipy.special.expit``: the function's
    own name under the module users import (stable across NumPy versions, unlike aliases)."""
    module = getattr(key, "__module__", None) or ""
    rules = REVERSE.get(key) if not isinstance(key, str) else None
    table = rules[0].module.rsplit(".", 1)[-1] if rules else ""
    if table == "special" or module.startswith("scipy.special"):
        prefix = "scipy.special"
    elif table == "scipy_linalg" or module.startswith("scipy.linalg"):
        prefix = "scipy.linalg"
    elif module.startswith("numpy.linalg"):
        prefix = "np.linalg"
    elif module.startswith("numpy") or isinstance(key, np.ufunc):
        prefix = "np"
    elif module in ("math", "builtins"):
        prefix = "" if module == "builtins" else "math"
    else:
        prefix = module
    return f"{prefix}.{key.__name__}".lstrip(".")


def label(key) -> str:
    if isinstance(key, type) and key in SYMBOLS:
        return SYMBOLS[key]
    if isinstance(key, str):
        if key in SYNTAX:
            return SYNTAX[key]
        return f"`x{key}`" if key in ATTRIBUTES else f"`x{key}()`"
    return f"`{public_name(key)}`"


def called_functions(rule) -> list[tuple[str, object]]:
    """The functions the reverse template's adjoint code calls, by the name written."""
    scope = {"np": np, "math": math, **{n: getattr(runtime, n) for n in runtime.__all__}}
    found = []
    for stmt in rule.template.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                text = ast.unparse(node.func)
                try:
                    found.append((text, eval(text, scope)))  # noqa: S307 - our own names
                except (NameError, AttributeError):
                    continue
    return found


def second_order(rule) -> str:
    for text, obj in called_functions(rule):
        entry = helpers.lookup(obj)
        if entry is not None:
            if entry.tangent is not None:
                refused = getattr(entry.tangent, "refused", {})
                if refused:
                    return f"no: {next(iter(refused.values()))}"
                continue
            if entry.zero_tangent:
                continue
        else:
            try:
                if obj in ZERO_GRADIENT or tangents.lookup(obj) is not None:
                    continue
            except TypeError:  # unhashable: no rule
                pass
        return f"no: `{text}` has no forward rule"
    return "yes"


def jit(key, rule) -> str:
    name = None if isinstance(key, (str, type)) else public_name(key)
    if name in helpers.NUMBA_LACKS:
        return "no: Numba lacks it"
    if name in helpers.NUMBA_FAILS:
        return f"no: {helpers.NUMBA_FAILS[name]}"
    unsupported = helpers.unsupported()
    for text, _ in called_functions(rule):
        if text in unsupported:
            return f"no: `{text}` has no Numba version"
    return "yes"


def rows_of(key) -> list[tuple[str, str, str, str]]:
    """One row per rule of ``key`` (np.linalg.norm has one per family of ord), merged
    when the rules agree."""
    forward = "yes" if tangents.lookup(key) is not None else "no"
    rows = [(rule.template.name, forward, second_order(rule), jit(key, rule))
            for rule in REVERSE[key]]
    if len({r[1:] for r in rows}) == 1:
        return [(label(key), *rows[0][1:])]
    return [(f"{label(key)} ({name})", *rest) for name, *rest in rows]


def table() -> str:
    load_optional_tables()
    lines = ["# Coverage", "",
             "Generated by `python -m adjoint.coverage` from the rule tables (do not edit; "
             "`tests/test_coverage.py` checks it is current). See the module's docstring for "
             "what each column means.", ""]
    total = 0
    for module, title in TABLES:
        keys = [k for k, rules in REVERSE.items()
                if rules and rules[0].module.rsplit(".", 1)[-1] == module]
        if not keys:
            continue
        lines += [f"## {title}", "", "| function | reverse | forward | second order | jit |",
                  "|---|---|---|---|---|"]
        rows = sorted(row for k in keys for row in rows_of(k))
        lines += [f"| {text} | yes | {forward} | {second} | {compiled} |"
                  for text, forward, second, compiled in rows]
        total += len(keys)
        lines.append("")
    zero = sorted(label(k) for k in ZERO_GRADIENT)
    lines += ["## Zero gradient", "", ", ".join(zero), "",
              "## Known refusals", "", "| function | why |", "|---|---|"]
    lines += [f"| {what} | {why} |" for what, why in REFUSED]
    lines += ["", f"{total} functions and operators with rules, {len(zero)} with a zero "
              "gradient.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    import scipy.linalg  # noqa: F401 - the SciPy tables are part of the table
    import scipy.special  # noqa: F401

    sys.stdout.write(table())
