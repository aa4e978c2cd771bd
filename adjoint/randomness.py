"""Which functions draw random numbers: calls that cannot be replayed.

Reverse mode sometimes runs a function's forward code twice: ``vjp`` replays the forward
sweep at each pullback call, ``jacobian`` and ``hessian`` run one sweep per row or column,
and a checkpointed loop reruns each segment from its snapshot. A call that draws random
numbers would draw different ones the second time, and the gradient would belong to
another function than the value. Such calls are found here (in the function and in the
functions of the user's it calls, by name) so that those places can refuse them.
"""
from __future__ import annotations

import ast
import random
import types

import numpy as np

from .errors import AdjointError, Location
from .source import Source, parse

RANDOM_STATES = (np.random.Generator, np.random.RandomState, np.random.BitGenerator,
                 random.Random)


def is_random(obj) -> bool:
    """A function of ``numpy.random`` or ``random``, or a method of a generator object."""
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("numpy.random") or module in ("random", "_random"):
        return True
    return isinstance(getattr(obj, "__self__", None), RANDOM_STATES)


def callee(src: Source, func: ast.expr):
    """The object a call's function expression names (``np.random.normal``, ``helper``),
    or None when it is not a plain dotted name the function's namespace resolves."""
    path = []
    while isinstance(func, ast.Attribute):
        path.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    try:
        obj = src.lookup(func.id)
        for part in reversed(path):
            obj = getattr(obj, part)
    except (KeyError, AttributeError):
        return None
    return obj


def random_call(src: Source, nodes, seen: set | None = None) -> tuple[Location, str] | None:
    """The first call among ``nodes`` (AST nodes of ``src``) that draws random numbers,
    directly or in a function of the user's it calls: its location and its text."""
    seen = set() if seen is None else seen
    for node in nodes:
        for call in ast.walk(node):
            if not isinstance(call, ast.Call):
                continue
            obj = callee(src, call.func)
            if obj is None:
                continue
            if is_random(obj):
                return src.where(call), ast.unparse(call.func)
            if isinstance(obj, types.FunctionType) and obj not in seen:
                seen.add(obj)
                inner = draws_random(obj, seen)
                if inner is not None:
                    return src.where(call), f"{ast.unparse(call.func)} (which calls {inner[1]})"
    return None


def draws_random(fn, seen: set | None = None) -> tuple[Location, str] | None:
    """Where ``fn`` (or a function it calls) draws random numbers, or None."""
    try:
        src = parse(fn)
    except AdjointError:
        return None  # no source to read: the transform reports what it needs to
    return random_call(src, [src.tree], seen)
