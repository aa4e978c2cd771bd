"""The command line's inputs: which function (``FILE:FUNC`` or ``module:func``), with
respect to what (``--wrt``), and at which arguments (a literal, a JSON/NPZ file or random
arrays of given shapes). Bad input raises ``InputError`` with a one-line message.
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np


class InputError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


def parse_wrt(text: str | None) -> int | str | tuple[int | str, ...]:
    """``"0"`` -> 0, ``"W1"`` -> "W1", ``"0,2"`` -> (0, 2), ``"W1,b1"`` -> ("W1", "b1").

    >>> parse_wrt("0,2"), parse_wrt("W1"), parse_wrt(None)
    ((0, 2), 'W1', 0)
    """
    if text is None:
        return 0
    items: list[int | str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise InputError(f"--wrt {text!r} has an empty entry; write --wrt 0,1 or --wrt W1,b1")
        try:
            items.append(int(item))
        except ValueError:
            if not item.isidentifier():
                raise InputError(f"--wrt entry {item!r} is neither an index nor a parameter "
                                 "name") from None
            items.append(item)
    return items[0] if len(items) == 1 else tuple(items)


def load_function(target: str) -> Callable:
    """The function named by ``path/to/file.py:func`` (or ``package.module:func``)."""
    location, sep, name = target.rpartition(":")
    if not sep or not location or not name:
        raise InputError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(location)
    if path.suffix == ".py" or path.exists() or "/" in location or "\\" in location:
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise InputError(f"cannot import module {location!r}: {exc}") from None
    fn = module
    for part in name.split("."):
        if not hasattr(fn, part):
            raise InputError(f"{location} has no function named {name!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise InputError(f"{location}:{name} is a {type(fn).__name__}, not a function")
    return fn


def _import_file(path: Path):
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    resolved = path.resolve()
    module_name = f"_adjoint_cli_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(resolved.parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InputError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(resolved.parent))
    return module


# -- check: the function's arguments, from --args, --inputs or --random ---------------------


def parse_args_literal(text: str) -> list | dict:
    """``--args``: a Python literal (never evaluated as code), a list or a dict by name.

    >>> parse_args_literal("[[1.0, 2.0], 3.0]")
    [[1.0, 2.0], 3.0]
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InputError(f"--args {_clip(text)} is not a Python literal; write a list such as "
                         "--args \"[[1.0, 2.0], 3.0]\"") from None
    return _argument_collection(value, "--args")


def read_inputs_file(path: str) -> list | dict:
    """``--inputs``: a JSON file holding a list of arguments or an object by parameter name."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read --inputs {path}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--inputs {path} is not valid JSON: {exc}") from None
    return _argument_collection(value, f"--inputs {path}")


def _argument_collection(value: Any, origin: str) -> list | dict:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    if not isinstance(value, list):
        raise InputError(f"{origin} must be a list of arguments or a mapping from parameter "
                         f"names to values, not a {type(value).__name__}")
    return value


def _clip(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[:width - 3] + "...")


RANDOM_SPEC_HELP = ("comma-separated: a shape (3x4, 5) for a standard normal array, "
                    "scalar for a float, int:N (or iN) for the integer N, e.g. a step count")
_INT_ENTRY = re.compile(r"(?:int:|i)\s*(-?\d+)")


def random_arguments(spec: str, seed: int) -> list:
    """``--random "3x4,5,scalar,int:10"``: standard normal arrays of those shapes, floats
    for ``scalar``, from a seeded generator; ``int:N`` (or ``iN``) is the integer N itself.

    >>> [np.shape(a) for a in random_arguments("3x4, 5, scalar", 0)]
    [(3, 4), (5,), ()]
    >>> random_arguments("int:10, i-2", 0)
    [10, -2]
    """
    rng = np.random.default_rng(seed)
    arguments: list = []
    for raw in spec.split(","):
        item = raw.strip().lower()
        if item == "scalar":
            arguments.append(float(rng.standard_normal()))
        elif re.fullmatch(r"\d+(x\d+)*", item):
            arguments.append(rng.standard_normal(tuple(int(n) for n in item.split("x"))))
        elif match := _INT_ENTRY.fullmatch(item):
            arguments.append(int(match.group(1)))
        else:
            raise InputError(f"--random entry {raw.strip()!r} is not a shape, 'scalar' or an "
                             "integer; write e.g. --random \"3x4,5,scalar,int:10\"")
    return arguments


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def as_argument(value: Any, label: str) -> Any:
    """A parsed value as the function receives it: a list of numbers becomes an array
    (float64, or int64 when every entry is an integer, for labels and indices); a list of
    booleans a boolean array; anything else (numbers, strings, tuples, None) is kept.

    >>> as_argument([[1.0, 2], [3, 4]], "x").dtype, as_argument([0, 2], "y").dtype
    (dtype('float64'), dtype('int64'))
    """
    if not isinstance(value, list):
        return value
    leaves = list(_leaves(value))
    if leaves and all(isinstance(v, bool) for v in leaves):
        dtype = np.bool_
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in leaves) and leaves:
        dtype = np.int64
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in leaves):
        dtype = np.float64
    else:
        odd = next(v for v in leaves if not isinstance(v, (int, float)) or isinstance(v, bool))
        raise InputError(f"argument {label} mixes numbers with {odd!r}; arrays must hold "
                         "numbers only")
    try:
        return np.array(value, dtype=dtype)
    except ValueError:
        raise InputError(f"argument {label} is a ragged list: every row of an array needs "
                         "the same length") from None


def bind_arguments(fn: Callable, given: list | dict) -> inspect.BoundArguments:
    """``given`` bound to ``fn``'s parameters (defaults applied), converted by as_argument."""
    signature = inspect.signature(fn)
    names = list(signature.parameters)
    try:
        if isinstance(given, dict):
            converted = {k: as_argument(v, repr(k)) for k, v in given.items()}
            bound = signature.bind(**converted)
        else:
            converted = [as_argument(v, f"{i} ({names[i]})" if i < len(names) else str(i))
                         for i, v in enumerate(given)]
            bound = signature.bind(*converted)
    except TypeError as exc:
        raise InputError(f"{fn.__name__}{signature} cannot take {_count(given)}: {exc}") from None
    bound.apply_defaults()
    return bound


def _count(given: list | dict) -> str:
    if isinstance(given, dict):
        return f"arguments named {', '.join(map(repr, given))}" if given else "no arguments"
    return f"{len(given)} argument{'s' if len(given) != 1 else ''}"


def describe_value(value: Any) -> str:
    """Short: ``(3, 2)`` for a float64 array, ``int64 (5,)`` for another, ``0.9`` for 0.9."""
    if isinstance(value, np.ndarray):
        return str(value.shape) if value.dtype == np.float64 else f"{value.dtype} {value.shape}"
    return repr(value) if len(repr(value)) <= 20 else type(value).__name__
