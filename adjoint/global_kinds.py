"""Which module constants (and closure values) a function reads are scalars right now.

The code built for a function is specialized on which of its arguments are scalars and
floats (no broadcasting bookkeeping, float saves in preallocated arrays). A loop reading
``DT`` and ``STEPS`` from module level deserves the same code as one whose constants are
locals: the names it reads as globals or closure variables whose values are Python or
NumPy scalars now are added to the kinds the build is specialized on. The values are still
read live by the generated code (a changed constant is seen on the next call); the kinds are
checked on every call, and a constant that stops being a scalar gets a new build.
"""
from __future__ import annotations

import types
import weakref

import numpy as np

SCALAR_TYPES = (float, int, np.floating, np.integer)
FLOAT_TYPES = (float, np.floating)
NOT_CONSTANTS = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)

NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())

# per code object: the names it (and the code nested in it) reads that are neither its
# parameters nor its locals: globals, builtins and closure variables
_FREE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def free_names(code: types.CodeType) -> tuple[str, ...]:
    names = _FREE.get(code)
    if names is None:
        read: set[str] = set()
        bound: set[str] = set()
        _collect(code, read, bound)
        names = tuple(sorted(read - bound))
        _FREE[code] = names
    return names


def _collect(code: types.CodeType, read: set[str], bound: set[str]) -> None:
    read.update(code.co_names)
    read.update(code.co_freevars)
    bound.update(code.co_varnames)
    bound.update(code.co_cellvars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _collect(const, read, bound)


class GlobalKinds:
    """For one user function: the names it reads from outside that may hold constants
    (chosen once per code object: names bound now, less modules, classes and functions: a
name left out is only a missed specialization), and their
    kinds at each call."""

    def __init__(self, fn: types.FunctionType):
        self.fn = fn
        self.code: types.CodeType | None = None
        self.names: tuple[str, ...] = ()

    def candidates(self) -> tuple[str, ...]:
        fn = self.fn
        if fn.__code__ is not self.code:  # ``__code__`` can be reassigned
            self.code = fn.__code__
            values = self.values()
            self.names = tuple(n for n in free_names(self.code)
                               if n in values and not isinstance(values[n], NOT_CONSTANTS))
        return self.names

    def values(self) -> dict:
        """The current values of what ``fn`` reads from outside: closure cells first."""
        fn = self.fn
        values = dict(fn.__globals__)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                values[name] = cell.cell_contents
            except ValueError:  # an empty cell
                values.pop(name, None)
        return values

    def now(self) -> tuple[frozenset[str], frozenset[str]]:
        """The names read from outside whose values are scalars now, and those of them that
        are floats."""
        names = self.candidates()
        if not names:
            return NONE
        fn = self.fn
        g = fn.__globals__
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ())) if (
            fn.__closure__) else None
        scalars, floats = [], []
        for name in names:
            if cells is not None and name in cells:
                try:
                    value = cells[name].cell_contents
                except ValueError:
                    continue
            else:
                value = g.get(name)
            if isinstance(value, SCALAR_TYPES) and not isinstance(value, (bool, np.bool_)):
                scalars.append(name)
                if isinstance(value, FLOAT_TYPES):
                    floats.append(name)
        return frozenset(scalars), frozenset(floats)
