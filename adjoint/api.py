"""The public decorators: ``grad`` and ``value_and_grad``. Argument handling, caching,
``.source``, and giving each gradient the type, shape and dtype of its argument."""
from __future__ import annotations

import functools
import inspect
import linecache
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import compile as compile_
from . import emit
from . import jit as jit_
from . import rules as rules_
from .errors import (
    AdjointError,
    ArgumentError,
    Location,
    NonScalarOutputError,
    UnsupportedSyntaxError,
)
from .reverse import AdjointModule, build_module
from .source import parse

Wrt = int | str | tuple[int | str, ...]
SCALAR_TYPES = (float, int, np.floating, np.integer)
FLOAT_TYPES = (float, np.floating)


@dataclass
class Built:
    module: AdjointModule
    source: str
    function: Callable
    frozen: str | None = None  # jit=True: the values of the globals compiled in
    rules: int = field(default_factory=lambda: rules_.GENERATION[0])  # user rules seen

    def is_fresh(self) -> bool:
        """Current (see below), and for compiled code, compiled with the globals' current
        values: checked when a gradient function is made, not on every call."""
        return self.is_current() and (
            self.frozen is None or self.frozen == jit_.globals_fingerprint(self.module))

    def is_current(self) -> bool:
        """False once a function the code calls has been redefined under the same name, or
        a user rule has been registered since the build."""
        if self.rules != rules_.GENERATION[0]:
            return False
        for src, path, fn in self.module.dependencies:
            try:
                obj = src.lookup(path[0])
                for part in path[1:]:
                    obj = getattr(obj, part)
            except (KeyError, AttributeError):
                return False
            if obj is not fn:
                return False
        return True


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def build_adjoint(fn: Callable, wrt: tuple[str, ...], *, jit: bool = False,
                  scalars: frozenset[str] = frozenset(),
                  floats: frozenset[str] = frozenset()) -> Built:
    """The pipeline: parse, normalize, analyze, transform, emit, compile (cached).

    ``scalars`` names the parameters known to be scalars (from the call's arguments), and
    ``floats`` those of them that are floats: the code built for them has no broadcasting
    bookkeeping, saves less, and keeps float saves of simple loops in preallocated arrays."""
    with _LOCK:
        per_fn = _CACHE.setdefault(fn, {})
        key = (wrt, jit, scalars, floats)
        if key not in per_fn or not per_fn[key].is_fresh():
            module = build_module(fn, wrt, scalars, floats)
            text = emit.to_source(module)
            per_fn[key] = compiled(module, text, jit)
        return per_fn[key]


def compiled(module, text: str, jit: bool) -> Built:
    """Run (jit=False) or compile with Numba (jit=True) the generated text."""
    if not jit:
        return Built(module, text, compile_.build(text, module)[module.main.name])
    functions = jit_.build_jit(text, module)
    return Built(module, text, functions[module.main.name], jit_.globals_fingerprint(module))


def _where(fn) -> Location:
    code = getattr(fn, "__code__", None)
    if code is None:
        return Location(repr(fn), 0)
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Location(code.co_filename, code.co_firstlineno, len(line) - len(line.lstrip()), line)


def resolve_wrt(fn: Callable, wrt: Wrt) -> tuple[tuple[str, ...], bool]:
    """Parameter names for ``wrt`` (indices or names) and whether a single one was asked."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return (), isinstance(wrt, (int, str))  # no signature: parse() reports the real problem
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise UnsupportedSyntaxError(f"a {star}{p.name} parameter is not supported",
                                         _where(fn), "name each parameter the function takes")
    names = [p.name for p in params]
    single = not isinstance(wrt, (tuple, list))
    items = (wrt,) if single else tuple(wrt)
    if not items:
        raise ArgumentError("wrt is empty", _where(fn), "name at least one argument")
    chosen = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ArgumentError(f"wrt entries must be ints or names, got {item!r}", _where(fn),
                                "pass wrt=0, wrt='W' or wrt=(0, 'b')")
        if isinstance(item, int):
            if not -len(names) <= item < len(names):
                raise ArgumentError(
                    f"wrt={item} is out of range: {fn.__name__} has {len(names)} parameters "
                    f"({', '.join(names)})", _where(fn), "count parameters from 0")
            item = names[item]
        elif item not in names:
            raise ArgumentError(f"{fn.__name__} has no parameter named {item!r}", _where(fn),
                                f"choose among {', '.join(names)}")
        if item in chosen:
            raise ArgumentError(f"wrt names {item!r} twice", _where(fn), "list each once")
        chosen.append(item)
    return tuple(chosen), single


def as_gradient(g: Any, like: Any) -> Any:
    """The gradient with the type, shape and dtype of its argument."""
    if isinstance(like, np.ndarray):
        dtype = like.dtype if like.dtype.kind == "f" else np.float64
        g = np.asarray(g, dtype=dtype)
        if g.shape != like.shape:
            g = np.broadcast_to(g, like.shape)
        if not (g.flags.owndata and g.flags.writeable):
            g = g.copy()
        return g
    if isinstance(like, np.floating):
        return type(like)(g)
    return float(g)


def check_argument(fn: Callable, name: str, value: Any) -> None:
    ok = (isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_))) or (isinstance(value, np.ndarray) and value.dtype.kind in "fiu")
    if not ok:
        kind = f"a {value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
        raise ArgumentError(
            f"cannot differentiate {fn.__name__} with respect to {name!r}, which is {kind}",
            _where(fn), "differentiate with respect to float scalars or float arrays only")


class GradientFunction:
    """What ``grad(f)`` returns: call it like ``f``; ``.source`` is the generated code."""

    def __init__(self, fn: Callable, wrt: Wrt = 0, *, preserve_result: bool = False,
                 jit: bool = False):
        self.fn = fn
        self.wrt, self.single = resolve_wrt(fn, wrt)
        self.preserve_result = preserve_result
        self.jit = jit
        self._last: Built | None = None
        self._last_kinds: tuple | None = None
        try:
            self._signature = inspect.signature(fn)
            self._names = list(self._signature.parameters)
        except (TypeError, ValueError):  # not a Python function: _built() reports it
            self._signature, self._names = None, []
        functools.update_wrapper(self, fn)

    def _built(self, kinds: tuple[frozenset[str], frozenset[str]] = (frozenset(),) * 2) -> Built:
        if not self.wrt or not isinstance(self.fn, types.FunctionType):
            parse(self.fn)  # not a plain function: the parser raises the precise error
        scalars, floats = kinds
        self._last = build_adjoint(self.fn, self.wrt, jit=self.jit, scalars=scalars,
                                   floats=floats)
        return self._last

    @property
    def source(self) -> str:
        """The complete generated module, runnable on its own: the code that ran for the
        last call (specialized to which arguments were scalars), or before any call the
        code that assumes nothing about the arguments."""
        return (self._last or self._built()).source

    def _arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        if not kwargs and len(args) == len(self._names):  # the common case, without bind()
            return dict(zip(self._names, args))
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(f"bad call to {self.fn.__name__}: {exc}", _where(self.fn),
                                "call the gradient with the function's own arguments") from None
        bound.apply_defaults()
        return bound.arguments

    def __call__(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        kinds = (frozenset(n for n, v in arguments.items() if isinstance(v, SCALAR_TYPES)),
                 frozenset(n for n, v in arguments.items() if isinstance(v, FLOAT_TYPES)))
        built = self._last if self._last_kinds == kinds and self._last else None
        if built is None or not built.is_current():
            built = self._built(kinds)
            self._last_kinds = kinds
        inputs = [arguments[w] for w in self.wrt]
        for w, value in zip(self.wrt, inputs):
            check_argument(self.fn, w, value)
        try:
            value, grads = built.function(*args, **kwargs)
        except AdjointError:
            raise
        except Exception:
            self._check_scalar(self.fn(*args, **kwargs))  # a clearer error, when it applies
            raise
        self._check_scalar(value)
        grads = (grads,) if len(self.wrt) == 1 else grads
        grads = tuple(as_gradient(g, x) for g, x in zip(grads, inputs))
        result = grads[0] if self.single else grads
        return (value, result) if self.preserve_result else result

    def _check_scalar(self, value: Any) -> None:
        if not isinstance(value, (SCALAR_TYPES, np.ndarray, tuple, list)) or (
                isinstance(value, np.ndarray) and value.dtype.kind not in "fiu"):
            raise NonScalarOutputError(
                f"{self.fn.__name__} returns {type(value).__name__} {value!r:.40}, not a number",
                _where(self.fn), "return the scalar (a float) you want to differentiate")
        if np.ndim(value) != 0:
            raise NonScalarOutputError(
                f"{self.fn.__name__} returns an array of shape {np.shape(value)}, not a scalar",
                _where(self.fn), "reduce it (np.sum, np.mean) or use vjp for array outputs")

    def __repr__(self) -> str:
        return f"<grad of {self.fn.__name__} wrt {', '.join(self.wrt)}>"


def grad(fn: Callable | None = None, wrt: Wrt = 0, *, preserve_result: bool = False,
         jit: bool = False):
    """The gradient of a scalar function, as a function with the same signature.

    ``grad(f)``, ``grad(f, wrt=(0, 2))``, ``grad(f, wrt="W1")``, or as a decorator,
    ``@grad`` and ``@grad(wrt=(0, 1))``. With ``preserve_result=True`` it returns
    ``(value, gradient)`` from the same sweep. With ``jit=True`` both sweeps (and the user
    functions they call) run under ``numba.njit`` in nopython mode, cached on disk.
    """
    if fn is None:
        return lambda f: GradientFunction(f, wrt, preserve_result=preserve_result, jit=jit)
    return GradientFunction(fn, wrt, preserve_result=preserve_result, jit=jit)


def value_and_grad(fn: Callable | None = None, wrt: Wrt = 0, *, jit: bool = False):
    """Like ``grad`` but returns ``(value, gradient)`` from one sweep."""
    return grad(fn, wrt, preserve_result=True, jit=jit)
