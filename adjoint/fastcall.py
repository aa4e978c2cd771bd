"""The thin call path of a gradient function: when a call's arguments are of the same kinds
as those of the last call that went through every check, it goes straight to the code built
for them.

"The same kinds" is what every per-call check depends on: the exact type of each argument
and, for arrays, the dtype and number of dimensions (and, for jit=True, whether a
multi-dimensional array is C-contiguous, which decides whether it is copied first). The
checks that can still fail are kept: whether the build is current (``Built.is_current``: a
function it calls redefined, a default or a closure value changed, a rule registered) and,
for jit=False, which module constants are scalars. Only plain scalars and plain ndarrays
take this path: the kinds of what a list or a tuple holds are not in its type.

The path is one small Python function written for the call it stands for (the way
``dataclasses`` writes ``__init__``): the argument checks and ``is_current``'s checks
unrolled, then the call. At a few hundred nanoseconds a Python call, that is what keeps a
compiled scalar gradient within a few times Numba's own dispatch.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .tiered import Tiered

PLAIN_TYPES = frozenset({float, int, bool, np.ndarray, np.bool_}
                        | set(np.sctypeDict.values()) - {np.object_, np.str_, np.bytes_,
                                                          np.void})
MISS = object()  # what the fast path returns when the call must take the checked path


def fast_path(grad, args: tuple, built, constants) -> Callable | None:
    """``fast(args)``: the gradient for calls like ``args`` (all positional, every parameter
    given), or ``MISS``; None when such calls must always go through every check.
    ``grad``: the GradientFunction; ``constants``: its module constants' kinds now."""
    if len(args) != len(grad._names):
        return None
    from .api import as_gradient

    ns: dict[str, Any] = {"grad": grad, "constants": constants, "grad_as": as_gradient}
    lines = prologue(args, built, grad.jit, ns)
    if lines is None:
        return None
    if not grad.jit:
        lines += ["if grad._globals.now() != constants:", "    return MISS"]
    names = [f"a{k}" for k in range(len(args))]
    lines += guarded_call(f"value, grads = target({', '.join(names)})",
                          call_target(built, args, grad.jit), ns)
    if not grad.jit:  # compiled code returns the same type for the same argument kinds
        lines.append("grad._check_scalar(value)")
    lines += result_lines(grad, tuple(map(type, args)), names)
    return define(lines, ns, grad.fn.__name__)


def prologue(args: tuple, built, jit: bool, ns: dict, trailing: tuple[str, ...] = ()
             ) -> list[str] | None:
    """The lines every fast path starts with: unpack ``args`` into ``a0, a1, ...`` (and the
    ``trailing`` names, unchecked: a transform's directions), then return MISS unless each
    argument is of its recorded kind and the build is current. None when calls like
    ``args`` cannot take a fast path (an argument that is not a plain scalar or array)."""
    checked = args[:len(args) - len(trailing)]
    types = tuple(map(type, checked))
    if not all(t in PLAIN_TYPES for t in types):
        return None
    ns.update(MISS=MISS, built=built)
    names = [f"a{k}" for k in range(len(checked))] + list(trailing)
    lines = [f"if len(args) != {len(args)}:", "    return MISS",
             f"{', '.join(names)}, = args"]
    return lines + argument_checks(checked, types, ns, jit) + current_checks(built, ns)


def guarded_call(call: str, target, ns: dict) -> list[str]:
    """``call`` (a statement calling ``target``); an exception sends the call the checked
    way, which runs it again and reports it."""
    ns["target"] = target
    return ["try:", f"    {call}", "except Exception:", "    return MISS"]


def define(lines: list[str], ns: dict, name: str) -> Callable:
    """``fast(args)`` with the body ``lines``, executed in ``ns``."""
    text = "def fast(args):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(text, f"<adjoint fast path of {name}>", "exec"), ns)
    return ns["fast"]


def argument_checks(args: tuple, types: tuple, ns: dict, jit: bool) -> list[str]:
    """Each argument of the recorded type; arrays of the recorded dtype and dimensions."""
    tests = []
    for k, (value, kind) in enumerate(zip(args, types)):
        ns[f"T{k}"] = kind
        tests.append(f"type(a{k}) is not T{k}")
        if kind is np.ndarray:
            ns[f"D{k}"] = value.dtype
            tests += [f"a{k}.ndim != {value.ndim}", f"a{k}.dtype != D{k}"]
            if jit and value.ndim > 1:
                flag = "not " if value.flags.c_contiguous else ""
                tests.append(f"{flag}a{k}.flags.c_contiguous")
    return [f"if {' or '.join(tests)}:", "    return MISS"] if tests else []


def current_checks(built, ns: dict) -> list[str]:
    """``built.is_current()`` unrolled for its recorded reads (pipeline.Built.is_current is the
    reference: same checks, same order)."""
    from . import rules
    from .pipeline import _cell_value, _same_items

    ns.update(GENERATION=rules.GENERATION, same_items=_same_items, cell_value=_cell_value)
    lines = [f"if GENERATION[0] != {built.rules}:", "    return MISS"]
    for j, (ref, defaults, kwdefaults, cells) in enumerate(built.read):
        ns[f"R{j}"], ns[f"DEF{j}"], ns[f"KW{j}"] = ref, defaults, kwdefaults
        lines += [f"f{j} = R{j}()", f"if f{j} is None or f{j}.__defaults__ is not DEF{j}:",
                  "    return MISS"]
        if kwdefaults:
            lines += [f"if not same_items(f{j}.__kwdefaults__ or {{}}, KW{j}):",
                      "    return MISS"]
        else:
            lines += [f"if f{j}.__kwdefaults__:", "    return MISS"]
        for k, (cell, value) in enumerate(cells):
            ns[f"C{j}_{k}"], ns[f"V{j}_{k}"] = cell, value
            lines += [f"if cell_value(C{j}_{k}) is not V{j}_{k}:", "    return MISS"]
    if built.module.dependencies:
        lines += ["if not built.dependencies_current():", "    return MISS"]
    if isinstance(built.function, Tiered):  # made again when a compilation has finished
        ns["TIER"] = built.function
        lines += [f"if TIER.generation != {built.function.generation}:", "    return MISS"]
    return lines


def call_target(built, args: tuple, jit: bool):
    """What to call: Numba's dispatcher itself unless the wrapper has work to do
    (keyword-only defaults to fill in, an array to make contiguous, the first call's compile
    lock); for jit=False the generated function; for jit="background" the tiers' switch
    until Numba has compiled the code for such arguments."""
    target = built.function
    if not jit:
        return target
    if isinstance(target, Tiered):  # jit="background"
        if not target.compiled_for(args):
            return target  # Python until compiled
        target = target.jitted
    dispatcher = target.dispatcher
    strided = any(isinstance(a, np.ndarray) and a.ndim > 1 and not a.flags.c_contiguous
                  for a in args)
    if dispatcher.py_func.__kwdefaults__ or target._first_call or strided:
        return target
    return dispatcher


def result_lines(grad, types: tuple, names: list[str]) -> list[str]:
    """The gradients with the types of their arguments, as ``grad`` returns them."""
    at = [grad._names.index(w) for w in grad.wrt]
    if grad.single:
        k = at[0]
        # (grad_as refuses a complex gradient, which float() would raise a TypeError for)
        result = (f"grads if type(grads) is float else grad_as(grads, {names[k]}, args, grad.fn)"
                  if types[k] is float else f"grad_as(grads, {names[k]}, args, grad.fn)")
    else:
        result = f"grad._gradients(grads, [{', '.join(names[k] for k in at)}], args)"
    lines = [f"result = {result}"]
    lines.append("return (value, result)" if grad.preserve_result else "return result")
    return lines
