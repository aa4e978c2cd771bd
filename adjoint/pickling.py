"""Pickling the objects the API returns: by reference to the user's function, plus options.

A gradient function holds generated code, compiled modules and Numba dispatchers, none of
which can be pickled (nor should be: they belong to one process). What travels is what the
user wrote: ``grad(loss, wrt=("W", "b"), jit=True)`` is sent as "the function
``model.loss``, wrt W and b, jit", and the receiving process builds the code again (for
``jit=True``: loads it from the disk cache, which processes share safely; see cache.py).

The function itself travels the way the pickler sends functions:

- ``pickle`` (and ``multiprocessing``) send it by name, so it must be importable by the
  receiving process: a module-level function of a module. For a closure, a lambda or a
  function that is not where its name says, ``NotImportableError`` is raised here, when
  pickling, instead of pickle's own error (or a failure on the other side).
- ``cloudpickle`` (Dask uses it when pickle fails, or when the pickle names ``__main__``)
  and ``dill`` send what has no importable name, and functions of ``__main__``, by value,
  together with the text of their file: a function sent by value loses its file name, and
  adjoint reads the source of what it differentiates. The receiving process gives it back
  its file name and text, and reuses the function it received before with the same code
  and values (builds are cached per function object).
- ``copy.deepcopy`` and ``copy.copy`` give a new object for the same function (functions are
  never copied), with nothing built yet.
"""
from __future__ import annotations

import collections
import hashlib
import importlib
import linecache
import pickle
import sys
import types
from collections.abc import Callable
from typing import Any

from .errors import AdjointError, Location

# picklers that send functions they cannot name by value (they run Python frames of their
# own around the C pickler, which is how they are recognised)
BY_VALUE_PICKLERS = ("cloudpickle", "dill")
# frames between the pickler and ``__reduce_ex__`` that belong to neither
_PASS_THROUGH = ("pickle", "copyreg", "copy", "adjoint")


class NotImportableError(AdjointError, pickle.PicklingError):
    """A gradient (or other transform) was pickled whose function another process cannot
    import by name: a closure, a lambda, or a function not bound to its name in its module;
    or, when unpickling, the named function is not there."""


def reduce(obj: Any, fn: Callable, wrt: Any, options: dict[str, Any]) -> tuple:
    """``__reduce__`` for an API object made by ``type(obj)(fn, wrt, **options)``."""
    return restore, (type(obj), function_reference(fn, obj), wrt, options)


def restore(cls: type, reference: Any, wrt: Any, options: dict[str, Any]) -> Any:
    """Unpickling (and copying): the function found again, and the object made anew from it
    and its options. ``reference`` is the function itself (a copy), ``("name", module,
    qualname)`` or ``("value", function, files of functions, texts of files)`` (see
    ``function_reference``)."""
    if isinstance(reference, tuple) and reference[0] == "name":
        fn = resolve(reference[1:])
    elif isinstance(reference, tuple) and reference[0] == "value":
        fn = with_source(*reference[1:])
    else:
        fn = reference
    return cls(fn, wrt, **options)


def function_reference(fn: Callable, obj: Any) -> tuple:
    """What stands for ``fn`` in a pickle: its name, or (for a pickler that sends functions
    by value, when it has no name another process can import) the function itself with the
    text of its file: a function sent by value loses its file name, and adjoint reads the
    source of what it differentiates."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    why = _not_importable(fn, module, qualname)
    by_value = _by_value_pickler()
    # a function of __main__ is found by name in processes that multiprocessing started
    # from a script, but not elsewhere: a pickler that can send it by value does
    if why is None and not (module == "__main__" and by_value):
        return "name", module, qualname
    if by_value and isinstance(fn, types.FunctionType):
        sent = {f.__qualname__: f.__code__.co_filename for f in _reachable(fn)}
        files = {name: linecache.getlines(name) for name in set(sent.values())}
        return "value", fn, sent, files
    raise NotImportableError(
        f"cannot pickle {obj!r}: {qualname or repr(fn)} {why}, so another process "
        "could not import it by name", _where(fn),
        "define the function at the top level of a module the other processes import "
        "(not inside another function, not as a lambda), or pickle with cloudpickle, which "
        "sends such functions by value")


# Functions received by value, by content: each unpickling makes a new function object, and
# builds are cached per function object, so without this every task a worker runs would
# build (and, for jit=True, compile) the adjoint again. The last few are kept alive.
_RECEIVED: collections.OrderedDict = collections.OrderedDict()
RECEIVED_KEPT = 32


def with_source(fn: Callable, sent: dict[str, str], files: dict[str, list[str]]) -> Callable:
    """A function that came by value (with the functions it calls that came so too), given
    back their file names (``sent``: qualified name to file) and the text of their files
    (seen by this process's ``linecache`` unless it already reads that very text there);
    the one received before when it has the same code, globals and closure values."""
    content = _exact_content(fn, set())
    key = None if content is None else hashlib.sha256(
        "\n".join([repr(sorted(sent.items())), content]).encode()).hexdigest()
    if key in _RECEIVED:
        _RECEIVED.move_to_end(key)
        return _RECEIVED[key]
    for filename, lines in files.items():
        if lines and linecache.getlines(filename) != lines:
            # an entry without a modification time is kept by linecache.checkcache
            linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)
    for f in _reachable(fn, only=set(sent)):
        if f.__code__.co_filename != sent[f.__qualname__]:
            f.__code__ = _renamed(f.__code__, sent[f.__qualname__])
    if key is not None:
        _RECEIVED[key] = fn
        if len(_RECEIVED) > RECEIVED_KEPT:
            _RECEIVED.popitem(last=False)
    return fn


def _exact_content(value: Any, seen: set[int]) -> str | None:
    """Text that is equal for two values only if they are equal (code, numbers, strings,
    arrays by their bytes, and tuples, lists and functions made of these), or None for a
    value this cannot vouch for: then a function received by value is never reused."""
    import numpy as np

    from .cache import code_text
    from .jit import _code_names

    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"array {value.dtype.str} {value.shape} {digest}"
    if isinstance(value, (tuple, list)):
        parts = [_exact_content(v, seen) for v in value]
        return None if None in parts else f"{type(value).__name__}({', '.join(parts)})"
    if isinstance(value, (types.BuiltinFunctionType, np.ufunc)):
        return f"builtin {getattr(value, '__module__', '')}.{value.__name__}"
    if not isinstance(value, types.FunctionType):
        return None
    name = f"{value.__module__}.{value.__qualname__}"
    if value.__module__ != "__main__" and _not_importable(
            value, value.__module__, value.__qualname__) is None:
        return f"function {name}"  # found by name: the same object
    if id(value) in seen:
        return f"function {name} (again)"
    seen.add(id(value))
    values = {"defaults": value.__defaults__,
              "kwdefaults": tuple(sorted((value.__kwdefaults__ or {}).items()))}
    values.update((n, value.__globals__[n]) for n in sorted(_code_names(value.__code__))
                  if n in value.__globals__)
    for n, cell in zip(value.__code__.co_freevars, value.__closure__ or ()):
        try:
            values[f"cell {n}"] = cell.cell_contents
        except ValueError:
            values[f"empty cell {n}"] = None
    parts = [f"function {name}", code_text(value.__code__)]
    for n, v in values.items():
        text = _exact_content(v, seen)
        if text is None:
            return None
        parts.append(f"{n}={text}")
    return "\n".join(parts)


def _reachable(fn: types.FunctionType, only: set[str] | None = None) -> list[types.FunctionType]:
    """``fn`` and the Python functions it reaches through its closure cells and the globals
    its code names, recursively, through those a by-value pickler sends by value (no
    importable name, or in ``__main__``); or, given ``only``, through those of these
    qualified names (what was sent so)."""
    from .jit import _code_names

    found, seen, todo = [], set(), [fn]
    while todo:
        f = todo.pop()
        if not isinstance(f, types.FunctionType) or id(f) in seen:
            continue
        seen.add(id(f))
        module, qualname = f.__module__, f.__qualname__
        if only is not None and qualname not in only:
            continue
        if only is None and f is not fn and module != "__main__" and _not_importable(
                f, module, qualname) is None:
            continue
        found.append(f)
        for cell in f.__closure__ or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        todo += [f.__globals__[n] for n in sorted(_code_names(f.__code__))
                 if n in f.__globals__]
    return found


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def resolve(reference: tuple[str, str]) -> Callable:
    """The function named ``module.qualname`` in this process (the user's function, also
    when that name now holds a gradient of it: ``@grad`` replaces the name)."""
    module, qualname = reference
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise NotImportableError(
            f"cannot unpickle a transform of {module}.{qualname}: this process cannot import "
            f"it ({type(exc).__name__}: {exc})", None,
            "make the module importable here (on sys.path, installed on every worker), or "
            "pickle with cloudpickle, which sends functions of an interactive __main__ by "
            "value") from None
    return getattr(obj, "fn", obj) if _is_ours(obj) else obj


def _not_importable(fn: Callable, module: str | None, qualname: str) -> str | None:
    """Why ``fn`` cannot be found again by its name, or None."""
    if not module or not qualname:
        return "has no module or qualified name"
    if "<lambda>" in qualname:
        return "is a lambda"
    if "<locals>" in qualname:
        return "is defined inside another function"
    try:
        found = resolve((module, qualname))
    except NotImportableError:
        return f"is not found as {module}.{qualname}"
    if found is not fn:
        return f"is not what {module}.{qualname} names now (was it redefined?)"
    return None


def _is_ours(obj: Any) -> bool:
    """An object of the API (``@grad`` as a decorator leaves one where the function was)."""
    return type(obj).__module__ in ("adjoint.api", "adjoint.transforms") and hasattr(obj, "fn")


def _by_value_pickler() -> bool:
    """Whether the pickler now calling ``__reduce_ex__`` is one that pickles functions by
    value: the nearest frame that is not pickle's, copy's or ours is one of its own."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        top = name.split(".")[0]
        if top in BY_VALUE_PICKLERS or "cloudpickle" in name.split("."):
            return True
        if top not in _PASS_THROUGH:
            return False
        frame = frame.f_back
    return False


def _where(fn: Callable) -> Location | None:
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return Location(code.co_filename, code.co_firstlineno, len(line) - len(line.lstrip()), line)


class ByReference:
    """Pickled, and copied, as the user's function (``self.fn``) and the options
    (``self._options()``): what was built belongs to this process, and the receiving one
    builds it again."""

    def __reduce__(self):
        return reduce(self, self.fn, *self._options())

    def __copy__(self):
        return restore(type(self), self.fn, *self._options())

    def __deepcopy__(self, memo):
        return self.__copy__()
