"""The public decorators: ``grad`` and ``value_and_grad``. Argument handling, caching,
``.source``, and giving each gradient the type, shape and dtype of its argument."""
from __future__ import annotations

import functools
import inspect
import linecache
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import pickling, pipeline, specialize
from .errors import (
    AdjointError,
    ArgumentError,
    Location,
    NonScalarOutputError,
    UnsupportedSyntaxError,
)
from .fastcall import MISS, fast_path
from .global_kinds import GlobalKinds
from .pipeline import Built, compiled, live_inputs  # noqa: F401 - read through here
from .source import as_function
from .tiered import JitMode, check_mode

Wrt = int | str | tuple[int | str, ...]
SCALAR_TYPES = (float, int, np.floating, np.integer)
FLOAT_TYPES = (float, np.floating)


def build_adjoint(fn: Callable, wrt: tuple[str, ...], *, jit: JitMode = False,
                  scalars: frozenset[str] = frozenset(),
                  floats: frozenset[str] = frozenset()) -> Built:
    """Reverse mode through the pipeline (pipeline.py)."""
    return pipeline.build(fn, "reverse", wrt, jit=jit, scalars=scalars, floats=floats)


def _where(fn) -> Location | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Location(code.co_filename, code.co_firstlineno, len(line) - len(line.lstrip()), line)


def resolve_wrt(fn: Callable, wrt: Wrt) -> tuple[tuple[str, ...], bool]:
    """Parameter names for ``wrt`` (indices or names) and whether a single one was asked.
    Raises the precise error for anything that is not a plain Python function."""
    user, fn = fn, as_function(fn)
    params = list(signature(fn).parameters.values())
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            hint = "name each parameter the function takes"
            if getattr(user, "__wrapped__", None) is not None:
                hint = ("it is a decorator's wrapper that does more than call the function it "
                        "wraps: write the wrapper with named parameters, or differentiate "
                        f"{user.__name__}.__wrapped__")
            raise UnsupportedSyntaxError(f"a {star}{p.name} parameter is not supported",
                                         _where(fn), hint)
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


def signature(fn) -> inspect.Signature:
    """The signature of the function's own code (not of what ``__wrapped__`` names)."""
    return inspect.signature(as_function(fn), follow_wrapped=False)


def as_gradient(g: Any, like: Any, others: tuple | None = None, fn=None) -> Any:
    """The gradient with the type, shape and dtype of its argument, in memory of its own.

    ``others``: the arrays it must not share memory with (the call's arguments and the
    gradients returned before it). Without them, every array that does not own its memory
    is copied; that includes every array Numba returns, and copying a large gradient costs
    more than computing it (W5 with jit=True: two 10 MB copies against a 1.4 ms gradient).
    A complex gradient is refused (``complex_gradient``); ``fn`` names where."""
    if type(g) is float and type(like) is float:  # the common scalar case, quickly
        return g
    if np.iscomplexobj(g):
        raise complex_gradient(fn)
    if type(like) is float:
        return float(g)
    if isinstance(like, np.ndarray):
        dtype = like.dtype if like.dtype.kind == "f" else np.float64
        g = np.asarray(g, dtype=dtype)
        if g.shape != like.shape:
            g = np.broadcast_to(g, like.shape)
        if not g.flags.writeable or (not g.flags.owndata if others is None
                                     else _may_share(g, others)):
            g = g.copy()
        return g
    if isinstance(like, np.floating):
        return type(like)(g)
    return float(g)


def complex_gradient(fn) -> UnsupportedSyntaxError:
    """The error for a derivative that came out complex: the derivative rules are written
    for real numbers (``d[x] += d[z] * w`` where complex values need ``conj(w)``), so a
    complex value inside the differentiated computation gives a wrong gradient, which
    NumPy's cast to the argument's float dtype would have hidden."""
    name = getattr(fn, "__name__", "the function")
    return UnsupportedSyntaxError(
        f"the derivative of {name} came out complex: complex numbers inside the "
        "differentiated computation are not supported (adjoint's rules are for real "
        "numbers, so the result would be wrong)", _where(fn) if fn is not None else None,
        "keep the computation real (carry real and imaginary parts as two real arrays), "
        "or make the complex part a constant with adjoint.stop_gradient")


def _may_share(g: np.ndarray, others: tuple) -> bool:
    """Whether g may share memory with one of ``others`` (a bounds check, no false "no")."""
    return any(isinstance(o, np.ndarray) and np.may_share_memory(g, o) for o in others)


def check_argument(fn: Callable, name: str, value: Any) -> None:
    """A differentiated argument: a real number or a real array (not a subclass)."""
    check_plain_array(fn, name, value)
    ok = (isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_))) or (isinstance(value, np.ndarray) and value.dtype.kind in "fiu")
    if not ok:
        kind = f"a {value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
        raise ArgumentError(
            f"cannot differentiate {fn.__name__} with respect to {name!r}, which is {kind}",
            _where(fn), "differentiate with respect to float scalars or float arrays only")


# ndarray subclasses whose operators are NumPy's own: np.memmap is an array on disk
PLAIN_SUBCLASSES = (np.memmap,)


def check_passed(fn: Callable, name: str, value: Any) -> None:
    """Any argument: arrays whose operators mean something else (np.matrix, where ``*`` is
    a matrix product; masked arrays; other subclasses) and object arrays are refused, since
    the generated code's rules are those of plain ndarrays."""
    check_plain_array(fn, name, value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        raise ArgumentError(f"argument {name!r} of {fn.__name__} is an object array",
                            _where(fn), "pass an array of numbers (a float dtype)")


def check_plain_array(fn: Callable, name: str, value: Any) -> None:
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray and not isinstance(
            value, PLAIN_SUBCLASSES):
        raise ArgumentError(
            f"argument {name!r} of {fn.__name__} is a {type(value).__module__}."
            f"{type(value).__qualname__}, an ndarray subclass whose operators may differ "
            "from NumPy's", _where(fn), f"pass np.asarray({name}) (a plain ndarray)")


def check_arguments(fn: Callable, arguments: dict[str, Any], wrt: tuple[str, ...]) -> None:
    """Check every argument of a call: the differentiated ones, and arrays among the rest."""
    for name, value in arguments.items():
        if name in wrt:
            check_argument(fn, name, value)
        else:
            check_passed(fn, name, value)


def primal_copy(value):
    """A copy of an argument for running the user's function: it may write into arrays
    (``x[0] = ...``), and neither the caller's values nor a later sweep may see that."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(primal_copy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(primal_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: primal_copy(v) for k, v in value.items()}
    return value


class _FirstArgument:
    """The default wrt: the first argument (after ``self``, for methods)."""

    def __repr__(self) -> str:
        return "the first argument"


FIRST = _FirstArgument()


def is_bound_method(fn: Any) -> bool:
    """An instance's method (a classmethod, bound to its class, is not one)."""
    return (isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType)
            and not isinstance(fn.__self__, type))


def is_method_function(fn: Any) -> bool:
    """``Model.loss``: a function defined in a class whose first parameter is ``self``."""
    code = getattr(fn, "__code__", None)
    qualname = getattr(fn, "__qualname__", "")
    return (isinstance(fn, types.FunctionType) and code is not None and code.co_argcount > 0
            and code.co_varnames[0] == "self" and "." in qualname
            and not qualname.endswith("<locals>." + fn.__name__))


def method_function(fn: Any, wrt: Any) -> tuple[Any, Wrt]:
    """The function to build and the wrt for it. For a bound method (``model.loss``): its
    function, wrt counted from after ``self`` (the default: the first argument after it).
    For ``Model.loss``: the default wrt is the argument after ``self`` as well."""
    if is_bound_method(fn):
        def shift(item):
            return item + 1 if isinstance(item, int) and not isinstance(item, bool) and \
                item >= 0 else item
        if wrt is FIRST:
            wrt = 0
        wrt = tuple(shift(w) for w in wrt) if isinstance(wrt, (tuple, list)) else shift(wrt)
        return fn.__func__, wrt
    if wrt is FIRST:
        wrt = 1 if is_method_function(fn) else 0
    return fn, wrt


class GradientFunction(pickling.ByReference):
    """What ``grad(f)`` returns: call it like ``f``; ``.source`` is the generated code."""

    def __init__(self, fn: Callable, wrt: Wrt = FIRST, *, preserve_result: bool = False,
                 jit: JitMode = False):
        # a bound method: its function, called with the object first (not differentiated
        # unless wrt names it)
        self.method = fn if is_bound_method(fn) else None
        self._given_wrt = wrt
        fn, wrt = method_function(fn, wrt)
        self.fn = fn
        self.wrt, self.single = resolve_wrt(fn, wrt)  # raises for what is not a function
        self.preserve_result = preserve_result
        check_mode(jit, _where(fn))
        self.jit = jit
        self._last: Built | None = None
        self._last_kinds: tuple | None = None
        self._signature = signature(fn)
        self._names = list(self._signature.parameters)
        # calls with containers: a gradient function of the function specialized to their
        # structure (specialize.py), per structure, and the last one used (for .source)
        self._by_structure: dict = {}
        self._last_tree: tuple | None = None
        self._globals = GlobalKinds(as_function(fn))
        self._fast: Callable | None = None  # see fastcall.py
        functools.update_wrapper(self, fn)

    def _built(self, kinds: tuple[frozenset[str], frozenset[str]] = (frozenset(),) * 2) -> Built:
        scalars, floats = kinds
        self._last = build_adjoint(self.fn, self.wrt, jit=self.jit, scalars=scalars,
                                   floats=floats)
        return self._last

    @property
    def source(self) -> str:
        """The complete generated module, runnable on its own: the code that ran for the
        last call (specialized to which arguments were scalars), or before any call the
        code that assumes nothing about the arguments."""
        if self._last_tree is not None:
            inner, call = self._last_tree
            text = inner.source
            main = inner._last.module.main.name
            return text + "\n\n" + specialize.entry_source(call, text, main, self._names)
        return (self._last or self._built()).source

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """With jit="background": wait until Numba has compiled the gradient code for the
        calls made so far (at most ``timeout`` seconds for each); True when no compilation
        is still running. At once True for jit=False and jit=True."""
        inner = [g.wait_compiled(timeout) for g in self._by_structure.values()]
        return pipeline.wait_compiled(self.fn, timeout) and all(inner)

    def _arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        if not kwargs and len(args) == len(self._names):  # the common case, without bind()
            return dict(zip(self._names, args))
        try:
            bound = signature(self.fn).bind(*args, **kwargs)  # the live defaults
        except TypeError as exc:
            raise ArgumentError(f"bad call to {self.fn.__name__}: {exc}", _where(self.fn),
                                "call the gradient with the function's own arguments") from None
        bound.apply_defaults()
        return bound.arguments

    def __call__(self, *args, **kwargs):
        if self.method is not None:
            args = (self.method.__self__, *args)
        if self._fast is not None and not kwargs:
            result = self._fast(args)  # see fastcall.py
            if result is not MISS:
                return result
        return self._checked_call(args, kwargs)

    def _checked_call(self, args: tuple, kwargs: dict):
        self._fast = None
        arguments = self._arguments(args, kwargs)
        call = specialize.flat_call(self.fn, arguments, self.wrt)
        if call is not None:
            return self._call_with_containers(call)
        self._last_tree = None
        # which arguments, and which module constants the function reads, are scalars
        constants = self._globals.now()
        kinds = (frozenset(n for n, v in arguments.items() if isinstance(v, SCALAR_TYPES))
                 | constants[0],
                 frozenset(n for n, v in arguments.items() if isinstance(v, FLOAT_TYPES))
                 | constants[1])
        built = self._last if self._last_kinds == kinds and self._last else None
        if built is None or not built.is_current():
            built = self._built(kinds)
            self._last_kinds = kinds
        inputs = [arguments[w] for w in self.wrt]
        check_arguments(self.fn, arguments, self.wrt)
        try:
            value, grads = built.function(*args, **kwargs)
        except AdjointError:
            raise
        except Exception:
            # a clearer error, when it applies (from a run on copies: f may write into them)
            self._check_scalar(self.fn(*map(primal_copy, args),
                                       **{k: primal_copy(v) for k, v in kwargs.items()}))
            raise
        self._check_scalar(value)
        if not kwargs:
            self._fast = fast_path(self, args, built, constants)
        result = self._gradients(grads, inputs, args + tuple(kwargs.values()))
        return (value, result) if self.preserve_result else result

    def _call_with_containers(self, call: specialize.FlatCall):
        """The gradient of the specialized function, its leaves' gradients put back into
        the containers' shape."""
        inner = self._by_structure.get(call.key)
        if inner is None:
            inner = self._by_structure[call.key] = GradientFunction(
                call.spec.fn, call.wrt, preserve_result=True, jit=self.jit)
        value, grads = inner(**call.arguments)
        self._last_tree = (inner, call)
        grads = call.regroup(grads)  # one per leaf: inner's wrt is a tuple
        result = grads[0] if self.single else grads
        return (value, result) if self.preserve_result else result

    def _gradients(self, grads, inputs: list, arguments: tuple = ()):
        """Each gradient with the type, shape and dtype of its argument; one, or a tuple.
        None shares memory with ``arguments`` (the call's) or with another."""
        grads = (grads,) if len(self.wrt) == 1 else grads
        done: list = []
        for g, x in zip(grads, inputs):
            done.append(as_gradient(g, x, (*arguments, *done), self.fn))
        return done[0] if self.single else tuple(done)

    def _check_scalar(self, value: Any) -> None:
        if type(value) is float or type(value) is np.float64:  # the common case, quickly
            return
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

    # what pickling.ByReference sends along with the function
    def _options(self) -> tuple[Wrt, dict[str, Any]]:
        options = {"preserve_result": self.preserve_result, "jit": self.jit}
        if self.method is not None:  # the bound method again, with the wrt given for it
            return self._given_wrt, options
        return (self.wrt[0] if self.single else self.wrt), options

    def __reduce__(self):
        if self.method is None:
            return super().__reduce__()
        return pickling.reduce(self, self.method, *self._options())

    def __copy__(self):
        if self.method is None:
            return super().__copy__()
        return type(self)(self.method, *self._options()[:1], **self._options()[1])


def grad(fn: Callable | None = None, wrt: Wrt = FIRST, *, preserve_result: bool = False,
         jit: JitMode = False):
    """The gradient of a scalar function, as a function with the same signature.

    ``grad(f)``, ``grad(f, wrt=(0, 2))``, ``grad(f, wrt="W1")``, or as a decorator,
    ``@grad`` and ``@grad(wrt=(0, 1))``. With ``preserve_result=True`` it returns
    ``(value, gradient)`` from the same sweep. With ``jit=True`` both sweeps (and the user
    functions they call) run under ``numba.njit`` in nopython mode, cached on disk; the
    first call with new argument types compiles. With ``jit="background"`` that compilation
    runs in a thread, and calls run the same code as Python until it is done (see
    ``wait_compiled``; a construct Numba refuses is a ``JitWarning``, not an error).
    """
    if fn is None:
        return lambda f: GradientFunction(f, wrt, preserve_result=preserve_result, jit=jit)
    return GradientFunction(fn, wrt, preserve_result=preserve_result, jit=jit)


def value_and_grad(fn: Callable | None = None, wrt: Wrt = FIRST, *, jit: JitMode = False):
    """Like ``grad`` but returns ``(value, gradient)`` from one sweep."""
    return grad(fn, wrt, preserve_result=True, jit=jit)
