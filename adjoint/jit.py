"""COMPILE with Numba: the generated module under ``numba.njit`` in nopython mode.

The generated text is the same as for jit=False; only how it is executed differs.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import re
import sys
import types
import weakref

import numpy as np

from . import cache
from . import compile as compile_
from .errors import JitError
from .jit_errors import (
    _user_location,
    jit_error,
    located_error,
    lowering_line,
    traceback_frames,
)
from .reverse import AdjointFunction, AdjointModule

# -- jit=True: the same text, compiled by Numba in nopython mode ---------------------------
# The text is written to a file in the cache directory named by a hash of the text and of
# every global value it reads (constants are frozen into the machine code), so Numba can
# cache the machine code for it (in the cache's numba subdirectory) and a second run of a
# script loads it instead of compiling again. A file whose content differs from the text is
# rewritten, never run. cache.py says how the cache protects itself; when it cannot be used
# the build is compiled in memory.


def cache_dir() -> str | None:
    """The cache directory, if it can be used safely (see cache.py), else None."""
    return cache.cache_dir()


def write_cached(text: str, key: str) -> str | None:
    """The path of a cached file holding exactly ``text``, or None (an in-memory build)."""
    return cache.write_cached(text, key)


_GENERATED_NAMES = {"math", "np"}


def free_names(fn: AdjointFunction, defined: set[str]) -> list[str]:
    """Names a generated function reads that neither it nor the module header defines."""
    local = {a.arg for a in ast.walk(fn.tree) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(fn.tree)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    loads = {n.id for n in ast.walk(fn.tree)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(loads - local - defined)


_NJIT_ATTRIBUTE = "__adjoint_njit__"


def jitted(value):
    """A user function as Numba compiles it: plain Python functions get ``numba.njit``.

    The dispatcher is kept on the function itself (not in a global table, which would keep
    every function alive), together with the fingerprint it was compiled for."""
    import numba

    if isinstance(value, types.FunctionType) and not (value.__module__ or "").startswith(
            ("numpy", "math", "adjoint.runtime")):
        # Numba freezes the function's globals when it compiles: a changed global needs a
        # new dispatcher, not the one compiled with the old value
        current = fingerprint(value)
        holder = value.__dict__.get(_NJIT_ATTRIBUTE)
        cached = holder.entry if isinstance(holder, NjitCache) else None
        # a functools.wraps wrapper copies its function's __dict__: check whose it is
        if cached is None or cached[0] != current or cached[2] is not value:
            compiled = numba.njit(without_keyword_only(with_jitted_callees(value)))
            cached = (current, compiled, value)
            value.__dict__[_NJIT_ATTRIBUTE] = NjitCache(cached)
        return cached[1]
    return value


def with_jitted_callees(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` reading the functions it calls as Numba dispatchers: Numba cannot call a
    plain Python function from compiled code (a helper that calls a helper)."""
    callees = {name: fn.__globals__[name] for name in _code_names(fn.__code__)
               if isinstance(fn.__globals__.get(name), types.FunctionType)
               and fn.__globals__[name] is not fn and not (
                   fn.__globals__[name].__module__ or "").startswith(("numpy", "math"))}
    if not callees:
        return fn
    namespace = dict(fn.__globals__)
    namespace.update({name: jitted(callee) for name, callee in callees.items()})
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__, copy.__module__ = fn.__qualname__, fn.__module__
    return copy


class NjitCache:
    """What ``jitted`` keeps on a function. It pickles empty: cloudpickle sends a function
    by value with its ``__dict__``, and a Numba dispatcher belongs to this process."""

    __slots__ = ("entry",)

    def __init__(self, entry: tuple | None = None):
        self.entry = entry

    def __reduce__(self):
        return NjitCache, ()


def without_keyword_only(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` with its keyword-only parameters made ordinary ones (same order, same
    defaults): Numba binds no keyword-only parameter, not even by keyword. Unchanged when
    that would put a parameter without a default after one with a default."""
    code = fn.__code__
    if not code.co_kwonlyargcount:
        return fn
    positional = code.co_argcount
    names = code.co_varnames[:positional + code.co_kwonlyargcount]
    defaults = dict(zip(names[positional - len(fn.__defaults__ or ()):positional],
                        fn.__defaults__ or ()))
    defaults.update(fn.__kwdefaults__ or {})
    first = next((k for k, n in enumerate(names) if n in defaults), len(names))
    if any(n not in defaults for n in names[first:]):
        return fn
    plain = types.FunctionType(
        code.replace(co_argcount=len(names), co_kwonlyargcount=0), fn.__globals__,
        fn.__name__, tuple(defaults[n] for n in names[first:]) or None, fn.__closure__)
    plain.__qualname__, plain.__module__ = fn.__qualname__, fn.__module__
    return plain


def fingerprint(value, seen: set | None = None) -> str:
    """Text that changes whenever ``value`` changes in a way compiled code could notice."""
    seen = set() if seen is None else seen
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"array {value.dtype} {value.shape} {digest}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(fingerprint(v, seen) for v in value)
        return f"{type(value).__name__}({inner})"
    value = getattr(value, "py_func", value)  # a Numba dispatcher: its Python function
    if isinstance(value, types.FunctionType):
        if id(value) in seen:
            return f"function {value.__qualname__} (again)"
        seen.add(id(value))
        parts = [f"function {value.__module__}.{value.__qualname__}",
                 cache.code_text(value.__code__)]
        for name in sorted(_code_names(value.__code__)):
            if name in value.__globals__:
                parts.append(f"{name}={fingerprint(value.__globals__[name], seen)}")
        for name, cell in zip(value.__code__.co_freevars, value.__closure__ or ()):
            try:
                parts.append(f"{name}={fingerprint(cell.cell_contents, seen)}")
            except ValueError:
                parts.append(f"{name}=<empty cell>")
        return "\n".join(parts)
    if isinstance(value, types.BuiltinFunctionType):
        return f"builtin {getattr(value, '__module__', '')}.{value.__qualname__}"
    return f"{type(value).__module__}.{type(value).__qualname__} {value!r}"


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


# Division by zero gives inf or nan (IEEE, as NumPy computes it and as the jit=False code
# does on NumPy values) instead of ZeroDivisionError: the gradient of np.sqrt at 0 is inf.
JIT_OPTIONS = {"error_model": "numpy"}


def helpers_digest() -> str:
    """A hash of the runtime helpers and their Numba versions. Numba's cache does not notice
    that a function the cached code calls has changed; a new cache file must be used then."""
    digest = hashlib.sha256()
    # jit_optional: its intrinsic is compiled into the helpers' machine code; jit_pipeline:
    # the lowerings every generated function is compiled with
    for name in sorted(n for n in sys.modules if n.startswith(("adjoint.runtime",
                                                                 "adjoint.helpers",
                                                                 "adjoint.jitmath",
                                                                 "adjoint.jit_optional",
                                                                 "adjoint.jit_pipeline"))):
        path = getattr(sys.modules[name], "__file__", None)
        if path:
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def frozen_globals(module: AdjointModule) -> dict[str, dict]:
    """For each generated function, the globals (and closure values) it reads: Numba
    compiles their current values into the machine code."""
    from . import runtime, runtime_tangent

    defined = (_GENERATED_NAMES | set(runtime.__all__) | set(runtime_tangent.__all__)
               | {fn.name for fn in module.functions})
    resolved: dict[str, dict] = {}
    for fn in module.functions:
        resolved[fn.name] = {name: fn.source.lookup(name) for name in free_names(fn, defined)
                             if name in fn.source.closure or name in fn.source.globals}
    return resolved


def globals_fingerprint(module: AdjointModule) -> str:
    """The values of the frozen globals, as text: compiled code is current while it holds."""
    return "\n".join(f"{fn}.{name}={fingerprint(value)}"
                     for fn, values in frozen_globals(module).items()
                     for name, value in values.items())


def build_jit(text: str, module: AdjointModule) -> dict[str, callable]:
    """Compile each generated function with ``numba.njit`` from a cached file, with Numba's
    disk cache when it can be used safely (see cache.py), else in memory.

    Compilation itself happens at the first call (Numba compiles per argument types); the
    returned callables turn Numba's compile errors into ``JitError``.
    """
    import numba

    cache.install_helper_cache()  # before the helpers' Numba versions are imported
    from . import __version__, jitmath, runtime_numba
    from .jit_pipeline import KeepBranches

    runtime_numba.register()  # the Numba versions of the helpers (registered on import)
    from . import runtime_tangent_numba  # noqa: F401 - and of the forward-mode helpers

    check_jit_support(text, module)
    resolved = frozen_globals(module)
    key_text = "\n".join(
        [text, f"adjoint {__version__} numba {numba.__version__} python {sys.version}",
         f"options {JIT_OPTIONS} pipeline {KeepBranches.__name__} helpers {helpers_digest()}",
         globals_fingerprint(module)])
    key = hashlib.sha256(key_text.encode()).hexdigest()
    path = write_cached(text, key)
    on_disk = path is not None
    if not on_disk:  # the cache cannot be used: compiled in memory, from linecache's copy
        path = compile_.register_source(text, module.main.name)
    code = compile(text, path, "exec")
    spaces: dict[str, dict] = {}
    dispatchers = {}
    names = []
    for fn in module.functions:
        # a real module in sys.modules: Numba imports it by name to load cached code
        mod = types.ModuleType(f"adjoint_jit_{key[:16]}_{fn.name}")
        mod.__file__ = path
        ns = mod.__dict__
        ns["__builtins__"] = builtins
        ns.update({name: jitted(value) for name, value in resolved[fn.name].items()})
        exec(code, ns)
        ns["math"] = jitmath  # math functions that raise where Python's do
        sys.modules[mod.__name__] = mod
        names.append(mod.__name__)
        spaces[fn.name] = ns
        py_func = ns[fn.name]
        compile_.use_live_defaults(py_func, fn.source.fn)
        py_func = without_keyword_only(py_func)
        # every branch typed as written (see jit_pipeline.py)
        dispatcher = numba.njit(**JIT_OPTIONS, pipeline_class=KeepBranches)(py_func)
        disk = cache.numba_cache(py_func, path) if on_disk else None
        if disk is not None:
            dispatcher._cache = disk  # what njit(cache=True) sets, guarded (see cache.py)
        dispatchers[fn.name] = dispatcher
    for ns in spaces.values():
        ns.update(dispatchers)
    functions = {name: JitFunction(d, text, path, module, on_disk)
                 for name, d in dispatchers.items()}
    # the modules go when the build does: they hold the values of the user's globals, and
    # Numba never frees what it compiled (its environments keep these namespaces)
    weakref.finalize(functions[module.main.name], _forget_modules, names, list(spaces.values()))
    return functions


def _forget_modules(names: list[str], spaces: list[dict]) -> None:
    for name in names:
        sys.modules.pop(name, None)
    for ns in spaces:
        ns.clear()


class JitFunction:
    """A compiled generated function; Numba's compile errors become ``JitError``."""

    def __init__(self, dispatcher, text: str, path: str, module: AdjointModule,
                 on_disk: bool = False):
        self.dispatcher = dispatcher
        self.text = text
        self.path = path
        self.module = module
        # the first call compiles (or loads from the disk cache) under a lock on the cached
        # module: processes sharing the cache compile it once (see cache.py)
        self._first_call = on_disk

    def __call__(self, *args, **kwargs):
        if self._first_call:
            with cache.compile_lock(self.path):
                result = self.call(*args, **kwargs)
            self._first_call = False
            return result
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        args, kwargs = self.prepared(args, kwargs)
        return self.guarded(self.dispatcher, *args, **kwargs)

    def prepared(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The arguments as the dispatcher is given them."""
        py_func = self.dispatcher.py_func
        kwargs = dict(kwargs)
        for name, value in (py_func.__kwdefaults__ or {}).items():
            kwargs.setdefault(name, value)  # Numba ignores keyword-only defaults
        # Numba reshapes only contiguous arrays: a transposed or Fortran-order argument is
        # passed as a C-ordered copy (the generated code never writes into its arguments)
        args = tuple(_contiguous(a) for a in args)
        kwargs = {k: _contiguous(v) for k, v in kwargs.items()}
        return args, kwargs

    def compile_for(self, args: tuple, kwargs: dict) -> None:
        """Compile (or load from the disk cache) the machine code a call with these
        arguments runs, without running it (jit="background", tiered.py)."""
        args, kwargs = self.prepared(args, kwargs)
        dispatcher = self.dispatcher
        # the signature Numba's own call would compile: keywords folded, defaults Omitted
        _, signature = dispatcher.fold_argument_types(
            tuple(map(dispatcher.typeof_pyval, args)),
            {k: dispatcher.typeof_pyval(v) for k, v in kwargs.items()})
        first = self._first_call
        with cache.compile_lock(self.path) if first else contextlib.nullcontext():
            self.guarded(dispatcher.compile, tuple(signature))
        self._first_call = False

    def guarded(self, action, *args, **kwargs):
        """``action(*args, **kwargs)`` with Numba's failures raised as JitError."""
        from numba.core.errors import NumbaError

        try:
            return action(*args, **kwargs)
        except NotImplementedError as exc:
            if "incompatible shape" not in str(exc):
                error = self.internal_error(exc)
                if error is exc:
                    raise
                raise error from exc
            raise JitError(
                f"Numba cannot reshape an array that is not contiguous in memory (a transpose "
                f"or a strided slice) in the generated {self.module.main.name}",
                _user_location(self.module),
                "make it contiguous in your function (np.ascontiguousarray(a)) or use "
                "jit=False") from None
        except NumbaError as exc:
            raise jit_error(str(exc), self.text, self.path, self.module) from None
        except Exception as exc:
            error = self.internal_error(exc)
            if error is exc:
                raise
            raise error from exc

    def internal_error(self, exc: Exception) -> Exception:
        """A JitError for Numba's own failures (some are plain AssertionErrors, when it
        lowers a 2-D boolean mask inside a tuple index), else ``exc``: the generated code's
        own error, as jit=False would raise it."""
        frames = traceback_frames(exc)
        if not any(f.f_globals.get("__name__", "").startswith("numba.core.compiler")
                   for f in frames):
            return exc
        code = frames[-1].f_code
        what = ": ".join(filter(None, (type(exc).__name__, str(exc))))
        where = getattr(code, "co_qualname", None) or _qualified(frames[-1])
        reason = NUMBA_LIMITS.get(where, f"Numba failed internally ({what} in {where})")
        line = lowering_line(frames, self.path)
        if line is None:
            return jit_error(reason, self.text, self.path, self.module)
        return located_error(line, reason, self.text, self.path, self.module)


def _qualified(frame) -> str:
    """``Class.method`` of a frame on Python 3.10, which has no ``co_qualname``."""
    owner = frame.f_locals.get("self")
    name = frame.f_code.co_name
    return f"{type(owner).__name__}.{name}" if owner is not None else name


# Numba's own failures that are limits it documents, by the function that fails
NUMBA_LIMITS = {
    # (a mask of 2+ dimensions as the whole index, x[mask], is ours: runtime_numba_masks.py)
    "BooleanArrayIndexer.__init__":
        "Numba indexes with a boolean mask of two or more dimensions beside other indices "
        "(x[mask, 1], x[mask, :]) not at all (a Numba limit: it fails inside Numba); index "
        "a view with the mask alone: plane = x[:, :, 1], then plane[mask] for x[mask, 1] "
        "(reads and writes)",
}


def _contiguous(value):
    if isinstance(value, np.ndarray) and value.ndim > 1 and not value.flags.c_contiguous:
        return np.ascontiguousarray(value)
    return value


def check_jit_support(text: str, module: AdjointModule) -> None:
    """Raise JitError at build time for helpers that have no Numba implementation."""
    from .helpers import unsupported

    for number, row in enumerate(text.splitlines(), 1):
        if row.lstrip().startswith("#"):
            continue
        for helper, construct in unsupported().items():
            if re.search(rf"\b{helper}\(", row):
                raise located_error(number, f"the adjoint of {construct} ({helper}) has no "
                                    "Numba implementation", text, "<generated>", module)
