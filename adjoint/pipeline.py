"""The pipeline every transform enters: one function, one cache.

    parse -> normalize -> prepare -> transform -> emit -> compile

``build(fn, mode, wrt, ...)`` runs the stages in that order for every mode: ``"reverse"``
(``grad``, ``value_and_grad``, ``vjp``, reverse-mode ``jacobian``), ``"forward"`` (``jvp``,
forward-mode ``jacobian``) and ``"second_order"`` (``hvp``, ``hessian``: forward mode over
the generated reverse-mode code). Parsing is source.py; normalizing normalize.py; preparing
(resolving each operation, activity, scalars, aliasing verdicts) prepare.py; the transforms
are reverse.py and forward.py; emitting emit.py; compiling compile.py, or jit.py for Numba.
A build is reused until a function it read is redefined, a user rule is registered, or
(jit=True) a global compiled into it changes.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from . import allocator, emit, jit_dtypes
from . import compile as compile_
from . import jit as jit_
from . import rules as rules_
from .errors import JitError
from .forward import build_tangent_module, parse_any
from .reverse import AdjointModule, build_module
from .tiered import JitMode, Tiered

MODES = ("reverse", "forward", "second_order")

@dataclass
class Built:
    module: AdjointModule
    source: str
    function: Callable
    frozen: str | None = None  # jit=True: the values of the globals compiled in
    rules: int = field(default_factory=lambda: rules_.GENERATION[0])  # user rules seen
    # what the build read from the live functions: their defaults, and for jit=True (whose
    # machine code holds the values) the objects in their closure cells
    read: list = field(default_factory=list)
    derived_from: Built | None = None  # second order: the reverse-mode build it differentiates

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
        for fn_ref, defaults, kwdefaults, cells in self.read:
            fn = fn_ref()
            if fn is None or fn.__defaults__ is not defaults or not _same_items(
                    fn.__kwdefaults__ or {}, kwdefaults):
                return False
            if any(_cell_value(cell) is not value for cell, value in cells):
                return False
        return self.dependencies_current()

    def dependencies_current(self) -> bool:
        """Whether each function the code calls is still the one bound to its name (the
        thin call path of fastcall.py checks this part of is_current as it is)."""
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


_EMPTY = object()


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


def _same_items(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def live_inputs(module, jit: JitMode) -> list:
    """What ``Built.read`` records: per generated function, the user function (weakly), its
    defaults and, under jit, its closure cells with the objects they hold now."""
    read = []
    for gen in module.functions:
        fn = gen.source.fn
        if fn is None:
            continue
        cells = [(c, _cell_value(c)) for c in gen.source.cells.values()] if jit else []
        read.append((gen.source.fn_ref, fn.__defaults__, dict(fn.__kwdefaults__ or {}), cells))
    return read


def compiled(module, text: str, jit: JitMode) -> Built:
    """Run (jit=False) or compile with Numba (jit=True) the generated text."""
    allocator.keep_freed_memory()  # before the first gradient's arrays (allocator.py)
    # the table of functions built, by (function, ...) key, is needed while building only:
    # kept in a cache it would keep the user's function, and its closure, alive for ever
    module._by_key.clear()
    if not jit:
        built = Built(module, text, compile_.build(text, module)[module.main.name])
    else:
        built = Built(module, text, _jitted(module, text, jit), jit_.globals_fingerprint(module))
    built.read = live_inputs(module, jit)
    return built



_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def build(fn: Callable, mode: str, wrt: tuple[str, ...], *, jit: JitMode = False,
          scalars: frozenset[str] = frozenset(), floats: frozenset[str] = frozenset()) -> Built:
    """The derivative code of ``fn`` in ``mode`` with respect to the parameters ``wrt``,
    compiled (cached per function, mode, wrt, jit and argument kinds).

    ``scalars`` names the parameters known to be scalars (from the call's arguments), and
    ``floats`` those of them that are floats: the code built for them has no broadcasting
    bookkeeping, saves less, and keeps float saves of simple loops in preallocated arrays."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    with _LOCK:
        per_fn = _CACHE.setdefault(fn, {})
        key = (mode, wrt, jit, scalars, floats)
        built = per_fn.get(key)
        if built is None or not built.is_fresh():
            built = per_fn[key] = transform(fn, mode, wrt, jit, scalars, floats)
        return built


def _jitted(module, text: str, jit: JitMode) -> Callable:
    """Numba's function (jit=True); or (jit="background") the same text as Python until
    Numba has compiled it, and for good if Numba refuses it (tiered.py)."""
    main = module.main.name
    if jit is True:
        return jit_.build_jit(text, module)[main]
    python = compile_.build(text, module)[main]
    try:
        return Tiered(jit_.build_jit(text, module)[main], python)
    except JitError as exc:  # a helper without a Numba version: no compilation to wait for
        return Tiered(None, python, refused=exc)


def wait_compiled(fn: Callable, timeout: float | None = None) -> bool:
    """jit="background": wait for the compilations started for ``fn``'s builds (at most
    ``timeout`` seconds each); True when none is still running."""
    with _LOCK:
        builds = list(_CACHE.get(fn, {}).values())
    return all(b.function.wait(timeout) for b in builds if isinstance(b.function, Tiered))


def _adjoint_to_differentiate(fn: Callable, wrt: tuple[str, ...], jit: JitMode,
                              scalars: frozenset[str], floats: frozenset[str]) -> Built:
    """The adjoint whose tangent is the second-order code, run as Python. For jit=True its
    text is the one written for Numba (``assigned`` around indices pre-bound to None), so
    the tangent code compiles too."""
    if not jit:
        return build(fn, "reverse", wrt, jit=False, scalars=scalars, floats=floats)
    module = build_module(fn, wrt, scalars, floats, jit=True)
    compile_.literal_defaults(module)
    return compiled(module, emit.to_source(module), jit=False)


def transform(fn: Callable, mode: str, wrt: tuple[str, ...], jit: JitMode,
              scalars: frozenset[str], floats: frozenset[str]) -> Built:
    """One pass through the stages (uncached)."""
    if mode == "reverse":
        module = build_module(fn, wrt, scalars, floats, jit)
    elif mode == "forward":
        module = build_tangent_module(fn, wrt, scalars=scalars, floats=floats)
    else:
        adjoint = _adjoint_to_differentiate(fn, wrt, jit, scalars, floats)
        module = build_tangent_module(adjoint.function, wrt, parse_any(adjoint.function),
                                      scalars, floats)
        module.dependencies += adjoint.module.dependencies
    compile_.literal_defaults(module)
    if jit:
        jit_dtypes.positional_astype(module)
    built = compiled(module, emit.to_source(module), jit)
    if mode == "second_order":
        # what the user's functions held (defaults, and for jit closure values): read
        # through the adjoint, so checked like the adjoint's
        built.read += live_inputs(adjoint.module, jit)
        built.derived_from = adjoint
    return built
