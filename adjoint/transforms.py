"""Forward mode and what is built from both modes: ``jvp``, ``vjp``, ``jacobian``, ``hvp``
and ``hessian``. Each returns a callable with ``.source``, the generated code it runs.

- ``jvp`` runs the tangent function (forward mode, one sweep per tangent direction).
- ``vjp`` runs the adjoint function with the caller's cotangent instead of 1.0 (reverse
  mode), so outputs may be arrays or tuples.
- ``jacobian`` assembles rows by ``vjp`` or columns by ``jvp``: reverse costs one sweep per
  output, forward one per input, so "auto" picks the smaller (background.md §1).
- ``hvp`` is forward over reverse: the tangent transformation applied to the generated
  adjoint function itself. ``hessian`` is one ``hvp`` per input direction.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import fastcall, pickling, pipeline
from .api import (
    FLOAT_TYPES,
    SCALAR_TYPES,
    Built,
    Wrt,
    _where,
    as_gradient,
    build_adjoint,
    check_arguments,
    complex_gradient,
    primal_copy,
    resolve_wrt,
    signature,
)
from .errors import ArgumentError, UnsupportedSyntaxError
from .randomness import draws_random
from .tiered import JitMode, Tiered, check_mode

MODES = ("rev", "fwd", "auto")


def build_tangent(fn: Callable, wrt: tuple[str, ...], kinds: tuple = (frozenset(),) * 2,
                  *, jit: JitMode = False) -> Built:
    """Forward mode through the pipeline (pipeline.py), specialized like ``grad`` on which
    arguments are scalars and floats."""
    scalars, floats = kinds
    return pipeline.build(fn, "forward", wrt, jit=jit, scalars=scalars, floats=floats)


def build_second_order(fn: Callable, wrt: tuple[str, ...], kinds: tuple, *,
                       jit: JitMode = False) -> Built:
    """Forward over reverse through the pipeline: the tangent of the generated adjoint."""
    scalars, floats = kinds
    return pipeline.build(fn, "second_order", wrt, jit=jit, scalars=scalars, floats=floats)


def run_primal(fn: Callable, arguments: dict[str, Any], sig: inspect.Signature):
    """``fn`` called on copies of the bound arguments."""
    bound = sig.bind_partial()
    bound.arguments.update({k: primal_copy(v) for k, v in arguments.items()})
    return fn(*bound.args, **bound.kwargs)


def refuse_random(transform: _Transform, why: str) -> None:
    """Transforms that run the forward code more than once cannot use random draws."""
    found = draws_random(transform.fn)
    if found is not None:
        where, call = found
        raise UnsupportedSyntaxError(
            f"{transform.kind} of a function that draws random numbers ({call}): {why}, "
            "which would draw other numbers", where,
            "pass the random numbers in as an argument, or use grad/value_and_grad/jvp "
            "(one sweep)")


def _kinds(arguments: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    return (frozenset(n for n, v in arguments.items() if isinstance(v, SCALAR_TYPES)),
            frozenset(n for n, v in arguments.items() if isinstance(v, FLOAT_TYPES)))


class _Transform(pickling.ByReference):
    """What the transforms share: wrt by index or name, binding the call's arguments,
    checking the differentiated ones, ``.source`` and a repr."""

    kind = "transform"

    def __init__(self, fn: Callable, wrt: Wrt = 0, *, jit: JitMode = False):
        self.wrt, self.single = resolve_wrt(fn, wrt)  # raises for what is not a function
        check_mode(jit, _where(fn))
        self.fn, self.jit = fn, jit
        self._signature = signature(fn)
        self._last: Built | None = None
        self._last_kinds: tuple | None = None
        self._fast: Callable | None = None  # the thin call path (fastcall.py)
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if self._fast is not None and not kwargs:
            result = self._fast(args)
            if result is not fastcall.MISS:
                return result
        self._fast = None
        return self._call(*args, **kwargs)

    def _call(self, *args, **kwargs):
        raise NotImplementedError

    def _arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        try:
            bound = signature(self.fn).bind(*args, **kwargs)  # the live defaults
        except TypeError as exc:
            raise ArgumentError(f"bad call to {self.kind} of {self.fn.__name__}: {exc}",
                                _where(self.fn), self.usage) from None
        bound.apply_defaults()
        check_arguments(self.fn, bound.arguments, self.wrt)
        return dict(bound.arguments)

    usage = "call it with the function's own arguments"

    @property
    def source(self) -> str:
        """The generated module the last call ran (before any call: a generic build)."""
        if self._last is None:
            self._last = self._build({})
        return self._last.source

    def _build(self, arguments: dict[str, Any]) -> Built:
        raise NotImplementedError

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """With jit="background": wait until Numba has compiled the code for the calls
        made so far (at most ``timeout`` seconds for each); True when no compilation is
        still running. At once True for jit=False and jit=True."""
        return pipeline.wait_compiled(self.fn, timeout)

    def _for_call(self, arguments: dict[str, Any]) -> Built:
        """The build for this call's argument kinds: the last one while it is current (the
        cheap check), else looked up in the cache (which also checks frozen globals)."""
        kinds = _kinds(arguments)
        if self._last is None or self._last_kinds != kinds or not self._last.is_current():
            self._build(arguments)
            self._last_kinds = kinds
        return self._last

    def __repr__(self) -> str:
        return f"<{self.kind} of {self.fn.__name__} wrt {', '.join(self.wrt)}>"

    # what pickling.ByReference sends along with the function
    def _options(self) -> tuple[Wrt, dict[str, Any]]:
        return self.wrt[0] if self.single else self.wrt, {"jit": self.jit}


def _directions(values, wrt: tuple[str, ...], single: bool, what: str, fn) -> tuple:
    """The caller's tangents (or vectors), one per differentiated argument."""
    items = (values,) if single else tuple(values) if isinstance(values, (tuple, list)) else None
    if items is None or len(items) != len(wrt):
        names = ", ".join(f"{w}_{what}" for w in wrt) + ("," if len(wrt) == 1 else "")
        raise ArgumentError(f"expected a tuple of {len(wrt)} {what}(s), one per wrt argument",
                            _where(fn), f"pass ({names})")
    return items


def _check_like(fn, name: str, value, like, what: str):
    """A tangent or vector must be real and have its argument's shape; it is given its
    float dtype."""
    if np.shape(value) != np.shape(like):
        raise ArgumentError(
            f"the {what} for {name!r} has shape {np.shape(value)}, but {name} has shape "
            f"{np.shape(like)}", _where(fn), f"pass a {what} shaped like {name}")
    _require_real(fn, value, f"the {what} for {name!r}")
    return as_gradient(value, like)


def _require_real(fn, value, what: str) -> None:
    if np.iscomplexobj(value):
        raise ArgumentError(f"{what} is complex; adjoint differentiates real numbers only",
                            _where(fn), "pass a real array or number")


class _AlongDirection(_Transform):
    """Transforms called as ``t(f)(*args, direction)``: the function's arguments, then one
    direction (a tangent or a vector) per wrt argument, a tuple of them for several."""

    direction = "direction"

    def _call(self, *args, **kwargs):
        if not args:
            raise ArgumentError(f"{self.kind} needs the {self.direction} as its last "
                                "positional argument", _where(self.fn), self.usage)
        *args, directions = args
        arguments = self._arguments(tuple(args), kwargs)
        result = self.run(arguments, _directions(directions, self.wrt, self.single,
                                                 self.direction, self.fn))
        if not kwargs and len(args) == len(self._signature.parameters):
            self._fast = self._fast_path((*args, directions))
        return result

    def run(self, arguments: dict[str, Any], directions: tuple):
        raise NotImplementedError

    def _fast_path(self, args: tuple) -> Callable | None:
        """``fast(args)`` for calls like ``args`` (fastcall.py): the function's arguments
        of the same kinds, the directions plain floats or owned float arrays of their
        arguments' shapes, the last build current; straight to the generated function."""
        built, ns = self._last, {}
        lines = fastcall.prologue(args, built, self.jit, ns, trailing=("d",))
        given = _directions(args[-1], self.wrt, self.single, self.direction, self.fn)
        names = list(self._signature.parameters)
        at = [names.index(w) for w in self.wrt]
        direction_lines = _direction_checks(given, [args[k] for k in at], at, self.jit, ns)
        order = _positional(built, self.jit, names, built.module.main.tangents, self.wrt)
        if lines is None or direction_lines is None or order is None:
            return None
        if not self.single:
            ns["DT"] = type(args[-1])
            lines += [f"if type(d) is not DT or len(d) != {len(at)}:", "    return MISS",
                      f"{', '.join(f't{j}' for j in range(len(at)))}, = d"]
        else:
            lines.append("t0 = d")
        lines += direction_lines
        target = fastcall.call_target(built, (*args[:-1], *given), self.jit)
        lines += fastcall.guarded_call(f"out = target({', '.join(order)})", target, ns)
        lines += self._result_lines([f"a{k}" for k in at], ns)
        return fastcall.define(lines, ns, f"{self.kind} of {self.fn.__name__}")

    def _result_lines(self, wrt_names: list[str], ns: dict) -> list[str]:
        raise NotImplementedError


def _direction_checks(given: tuple, likes: list, at: list[int], jit: JitMode, ns: dict
                      ) -> list[str] | None:
    """MISS unless each direction ``t{j}`` is what the checked call passes on unchanged
    (``_check_like``): a float for a float argument, an owned, writeable float64 array of
    its argument's shape (C-contiguous under jit) for a float64 array. None when the
    directions given now are not of that kind (the checked call would convert them)."""
    from .api import as_gradient

    lines = []
    for j, (t, like, k) in enumerate(zip(given, likes, at)):
        if type(like) is float and type(t) is float:
            lines += [f"if type(t{j}) is not float:", "    return MISS"]
        elif (type(like) is np.ndarray and type(t) is np.ndarray and like.dtype == np.float64
              and t.shape == like.shape and as_gradient(t, like) is t):
            ns["ndarray"], ns["float64"] = np.ndarray, np.dtype(np.float64)
            tests = [f"type(t{j}) is not ndarray", f"t{j}.shape != a{k}.shape",
                     f"t{j}.dtype != float64", f"not t{j}.flags.owndata",
                     f"not t{j}.flags.writeable"]
            if jit and t.ndim > 1:
                tests.append(f"not t{j}.flags.c_contiguous")
            lines += [f"if {' or '.join(tests)}:", "    return MISS"]
        else:
            return None
    return lines


def _positional(built: Built, jit: JitMode, names: list[str], extra: dict[str, str],
                wrt: tuple[str, ...]) -> list[str] | None:
    """The fast path's arguments to the generated function: ``a{k}`` for the function's
    own parameters, ``t{j}`` for the ``extra`` ones of the wrt arguments (tangents), by
    position up to the first parameter the call leaves to its default (a second-order
    function's ``dout``), by keyword after it: the checked call passes them all by keyword,
    and Numba must see the same signature, not compile another. None when a parameter the
    call gives is keyword-only or ``*args``-like."""
    function = built.function
    if jit:  # (Numba's py_func has no keyword-only parameters; see jit.without_keyword_only)
        function = function.py_func if isinstance(function, Tiered) else function.dispatcher.py_func
    given = {n: f"a{k}" for k, n in enumerate(names)}
    given.update({extra[w]: f"t{j}" for j, w in enumerate(wrt) if w in extra})
    order, by_keyword = [], False
    for p in inspect.signature(function).parameters.values():
        if p.name not in given:
            by_keyword = True
        elif p.kind is not p.POSITIONAL_OR_KEYWORD:
            return None
        else:
            order.append(f"{p.name}={given[p.name]}" if by_keyword else given[p.name])
    return order if len(order) == len(given) else None


class JVP(_AlongDirection):
    """``jvp(f, wrt)(*args, tangents)`` -> ``(value, tangent)``: forward mode, one sweep."""

    kind = "jvp"
    usage = "call it as jvp(f)(*args, tangent), with one tangent per wrt argument"

    def _build(self, arguments) -> Built:
        self._last = build_tangent(self.fn, self.wrt, _kinds(arguments), jit=self.jit)
        return self._last

    direction = "tangent"

    def run(self, arguments: dict[str, Any], tangents: tuple) -> tuple[Any, Any]:
        built = self._for_call(arguments)
        main = built.module.main
        extra = {main.tangents[w]: _check_like(self.fn, w, t, arguments[w], "tangent")
                 for w, t in zip(self.wrt, tangents)}
        value, tangent = built.function(**arguments, **extra)
        return value, _like_output(tangent, value, self.fn)

    def _result_lines(self, wrt_names: list[str], ns: dict) -> list[str]:
        ns["like_output"], ns["fn"] = _like_output, self.fn
        return ["value, tangent = out", "return value, like_output(tangent, value, fn)"]


def _like_output(tangent, value, fn):
    """A tangent with its value's structure: float for float, array of its shape (a
    complex one is refused, as a complex gradient is: ``complex_gradient``)."""
    if isinstance(value, tuple):
        return tuple(_like_output(t, v, fn) for t, v in zip(tangent, value))
    if np.iscomplexobj(tangent):
        raise complex_gradient(fn)
    if isinstance(value, np.ndarray) or np.ndim(value) == 0 and isinstance(value, np.generic):
        return as_gradient(tangent, value) if np.shape(tangent) != () or isinstance(
            value, np.ndarray) else type(value)(tangent)
    return float(tangent)


class VJP(_Transform):
    """``vjp(f, wrt)(*args)`` -> ``(value, pullback)``; ``pullback(cotangent)`` -> the
    gradients of ``<cotangent, f(args)>``. Each pullback call replays the forward sweep."""

    kind = "vjp"

    def _build(self, arguments) -> Built:
        refuse_random(self, "each pullback call replays the forward sweep")
        self._last = build_adjoint(self.fn, self.wrt, jit=self.jit,
                                   scalars=_kinds(arguments)[0], floats=_kinds(arguments)[1])
        return self._last

    def _call(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        built = self._for_call(arguments)
        value = run_primal(self.fn, arguments, self._signature)
        if not kwargs and len(args) == len(arguments):
            self._fast = self._fast_path(args)
        return value, Pullback(self, arguments, value, built)

    def _fast_path(self, args: tuple) -> Callable | None:
        """``fast(args)`` for calls like ``args`` (fastcall.py): the primal on copies of
        the arrays, and the pullback of the last build, without binding or checking again."""
        ns = {"fn": self.fn, "vjp": self, "Pullback": Pullback}
        lines = fastcall.prologue(args, self._last, self.jit, ns)
        if lines is None:
            return None
        names = list(self._signature.parameters)
        passed = [f"a{k}.copy()" if type(a) is np.ndarray else f"a{k}"
                  for k, a in enumerate(args)]
        arguments = ", ".join(f"{n!r}: a{k}" for k, n in enumerate(names))
        lines += [f"value = fn({', '.join(passed)})",
                  f"return value, Pullback(vjp, {{{arguments}}}, value, built)"]
        return fastcall.define(lines, ns, f"vjp of {self.fn.__name__}")

    def pullback(self, built: Built, arguments: dict[str, Any], value, cotangent):
        cotangent = _cotangent_like(self.fn, cotangent, value)
        given = {**arguments, built.module.main.cotangent: cotangent}
        target = fastcall.call_target(built, tuple(given.values()), self.jit)
        try:  # Numba's dispatcher itself, when the wrapper has nothing to do
            _, grads = target(**given)
        except Exception:
            if target is built.function:
                raise
            _, grads = built.function(**given)  # again, for the wrapper's errors

        grads = (grads,) if len(self.wrt) == 1 else grads
        grads = tuple(as_gradient(g, arguments[w], fn=self.fn)
                      for g, w in zip(grads, self.wrt))
        return grads[0] if self.single else grads


class Pullback:
    """``pullback(cotangent)``, as ``vjp(f)(*args)`` returns it. It pickles as the vjp, the
    arguments and the value; the receiving process builds the adjoint again."""

    def __init__(self, vjp: VJP, arguments: dict[str, Any], value, built: Built | None = None):
        self.vjp, self.arguments, self.value = vjp, arguments, value
        self._built = built

    def __call__(self, cotangent):
        if self._built is None:
            self._built = self.vjp._for_call(self.arguments)
        return self.vjp.pullback(self._built, self.arguments, self.value, cotangent)

    def __reduce__(self):
        return Pullback, (self.vjp, self.arguments, self.value)

    def __repr__(self) -> str:
        return f"<pullback of {self.vjp.fn.__name__} wrt {', '.join(self.vjp.wrt)}>"


def _cotangent_like(fn, cotangent, value):
    if type(value) is float and type(cotangent) is float:  # the common case, quickly
        return cotangent
    if isinstance(value, tuple):
        if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(value):
            raise ArgumentError(f"{fn.__name__} returns a tuple of {len(value)}; the "
                                "cotangent must be a tuple of as many", _where(fn),
                                "pass one cotangent per output")
        return tuple(_cotangent_like(fn, c, v) for c, v in zip(cotangent, value))
    if np.shape(cotangent) != np.shape(value):
        raise ArgumentError(f"the cotangent has shape {np.shape(cotangent)}, but "
                            f"{fn.__name__} returns shape {np.shape(value)}", _where(fn),
                            "pass a cotangent shaped like the output")
    _require_real(fn, cotangent, "the cotangent")
    return as_gradient(cotangent, value) if isinstance(value, np.ndarray) else float(cotangent)


class Jacobian(_Transform):
    """``jacobian(f, wrt, mode)(*args)``: the array of shape ``out.shape + in.shape``.
    ``.mode`` says which mode the last call used."""

    kind = "jacobian"

    def __init__(self, fn: Callable, wrt: Wrt = 0, *, mode: str = "auto", jit: JitMode = False):
        if mode not in MODES:
            raise ArgumentError(f"mode must be one of {', '.join(MODES)}, got {mode!r}",
                                _where(fn), 'pass mode="rev", "fwd" or "auto"')
        super().__init__(fn, wrt, jit=jit)
        self.requested = mode
        self.mode: str | None = None
        self._jvp = JVP(fn, self.wrt, jit=jit)
        self._vjp = VJP(fn, self.wrt, jit=jit)

    @property
    def source(self) -> str:
        return (self._vjp if self.mode != "fwd" else self._jvp).source

    def _options(self) -> tuple[Wrt, dict[str, Any]]:
        wrt, options = super()._options()
        return wrt, {**options, "mode": self.requested}

    def _call(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        if self.mode is None:  # the first call
            refuse_random(self, "it runs the function once per row or column")
        value = run_primal(self.fn, arguments, self._signature)
        if isinstance(value, tuple):
            raise ArgumentError(f"jacobian needs one array output; {self.fn.__name__} returns "
                                "a tuple", _where(self.fn), "use vjp for tuple outputs")
        inputs = [np.asarray(arguments[w], dtype=float) for w in self.wrt]
        n_in, n_out = sum(x.size for x in inputs), np.size(value)
        self.mode = self.requested if self.requested != "auto" else (
            "rev" if n_out < n_in else "fwd")
        blocks = (self._by_rows(args, kwargs, value, inputs) if self.mode == "rev" else
                  self._by_columns(args, kwargs, arguments, value, inputs))
        return blocks[0] if self.single else tuple(blocks)

    def _by_rows(self, args, kwargs, value, inputs) -> list[np.ndarray]:
        _, pullback = self._vjp(*args, **kwargs)
        rows = [np.empty((np.size(value), x.size)) for x in inputs]
        for i in range(np.size(value)):
            seed = np.zeros(np.size(value))
            seed[i] = 1.0
            grads = pullback(seed.reshape(np.shape(value)) if np.ndim(value) else 1.0)
            grads = (grads,) if self._vjp.single else grads
            for row, g in zip(rows, grads):
                row[i] = np.ravel(g)
        return [r.reshape(np.shape(value) + x.shape) for r, x in zip(rows, inputs)]

    def _by_columns(self, args, kwargs, arguments, value, inputs) -> list[np.ndarray]:
        along, blocks = _along(self._jvp, args, kwargs, arguments), []
        for k, x in enumerate(inputs):
            cols = np.empty((np.size(value), x.size))
            for j in range(x.size):
                tangents = [np.zeros(y.shape) if np.ndim(arguments[w]) else 0.0
                            for y, w in zip(inputs, self.wrt)]
                if np.ndim(arguments[self.wrt[k]]):
                    tangents[k].flat[j] = 1.0
                else:
                    tangents[k] = 1.0
                _, t = along(tuple(tangents))
                cols[:, j] = np.ravel(t)
            blocks.append(cols.reshape(np.shape(value) + x.shape))
        return blocks

    def __repr__(self) -> str:
        used = f", last call used {self.mode}" if self.mode else ""
        return (f"<jacobian of {self.fn.__name__} wrt {', '.join(self.wrt)}, "
                f"mode={self.requested}{used}>")


class HVP(_AlongDirection):
    """``hvp(f, wrt)(*args, v)`` -> the Hessian of scalar ``f`` times ``v``, by forward
    mode over the generated adjoint of ``f``."""

    kind = "hvp"
    usage = "call it as hvp(f)(*args, v), with one vector per wrt argument"

    def _build(self, arguments) -> Built:
        self._last = build_second_order(self.fn, self.wrt, _kinds(arguments), jit=self.jit)
        return self._last

    direction = "vector"

    def run(self, arguments: dict[str, Any], vectors: tuple):
        built = self._for_call(arguments)
        main = built.module.main
        extra = {main.tangents[w]: _check_like(self.fn, w, v, arguments[w], "vector")
                 for w, v in zip(self.wrt, vectors)}
        (value, _), (_, grads_dot) = built.function(**arguments, **extra)
        if np.ndim(value) != 0:
            raise ArgumentError(f"{self.fn.__name__} returns shape {np.shape(value)}; hvp "
                                "needs a scalar function", _where(self.fn),
                                "reduce the output to a scalar")
        grads_dot = (grads_dot,) if len(self.wrt) == 1 else grads_dot
        out = tuple(as_gradient(g, arguments[w], fn=self.fn)
                    for g, w in zip(grads_dot, self.wrt))
        return out[0] if self.single else out

    def _result_lines(self, wrt_names: list[str], ns: dict) -> list[str]:
        ns.update(as_gradient=as_gradient, ndim=np.ndim, fn=self.fn)
        grads = ", ".join(f"as_gradient(g{j}, {a}, fn=fn)" for j, a in enumerate(wrt_names))
        return ["(value, _), (_, gd) = out",
                "if type(value) is not float and ndim(value) != 0:", "    return MISS",
                f"{', '.join(f'g{j}' for j in range(len(wrt_names)))}, = "
                + ("(gd,)" if len(wrt_names) == 1 else "gd"),
                f"return {grads}" + ("" if self.single else ",")]


class Hessian(_Transform):
    """``hessian(f, wrt)(*args)``: shape ``x.shape + x.shape``, one hvp per entry of x."""

    kind = "hessian"

    def __init__(self, fn: Callable, wrt: int | str = 0, *, jit: JitMode = False):
        super().__init__(fn, wrt, jit=jit)
        if not self.single:
            raise ArgumentError("hessian takes a single wrt argument", _where(fn),
                                "for mixed second derivatives use hvp with a tuple wrt")
        self._hvp = HVP(fn, self.wrt, jit=jit)

    @property
    def source(self) -> str:
        return self._hvp.source

    def _call(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        if self._hvp._last is None:  # the first call
            refuse_random(self, "it runs one sweep per column")
        x = arguments[self.wrt[0]]
        size, along = int(np.size(x)), _along(self._hvp, args, kwargs, arguments)
        rows = np.empty((size, size))
        for j in range(size):
            v = np.zeros(np.shape(x))
            v.flat[j] = 1.0
            v = v if np.ndim(x) else 1.0
            rows[j] = np.ravel(along((v,)))
        return rows.reshape(np.shape(x) + np.shape(x)) if np.ndim(x) else rows[0, 0]


def _along(transform: _AlongDirection, args: tuple, kwargs: dict,
           arguments: dict[str, Any]) -> Callable:
    """``along(directions)``: one call of ``transform`` (a jvp or an hvp) per column of a
    Jacobian or Hessian. Through its public call, whose thin path (fastcall.py) skips the
    checks after the first column, when the call gave every argument by position; else
    through ``run`` with the bound arguments."""
    if kwargs or len(args) != len(arguments):
        return lambda directions: transform.run(arguments, directions)
    if transform.single:
        return lambda directions: transform(*args, directions[0])
    return lambda directions: transform(*args, directions)


def jvp(fn: Callable, wrt: Wrt = 0, *, jit: JitMode = False) -> JVP:
    """Forward mode: ``value, tangent = jvp(f, wrt=0)(*args, tangent_of_wrt)``.

    The tangent of the output along the given input tangents, in one sweep that runs the
    primal alongside (``.source`` shows the generated ``f_jvp``). With a tuple ``wrt``, pass
    a tuple of tangents."""
    return JVP(fn, wrt, jit=jit)


def vjp(fn: Callable, wrt: Wrt = 0, *, jit: JitMode = False) -> VJP:
    """Reverse mode for any output: ``value, pullback = vjp(f)(*args)``, then
    ``pullback(cotangent)`` gives the gradient(s) of ``<cotangent, f(*args)>``. Outputs may
    be arrays or tuples (then the cotangent is a tuple)."""
    return VJP(fn, wrt, jit=jit)


def jacobian(fn: Callable, wrt: Wrt = 0, *, mode: str = "auto", jit: JitMode = False) -> Jacobian:
    """The Jacobian, shape ``out.shape + in.shape``: by rows with reverse mode ("rev"), by
    columns with forward mode ("fwd"), or "auto": reverse when the output has fewer entries
    than the inputs, forward otherwise. ``.mode`` tells which the last call used."""
    return Jacobian(fn, wrt, mode=mode, jit=jit)


def hvp(fn: Callable, wrt: Wrt = 0, *, jit: JitMode = False) -> HVP:
    """Hessian-vector product of a scalar function, ``H v``, without forming H: forward
    mode over the generated adjoint (``.source`` shows that second transformation)."""
    return HVP(fn, wrt, jit=jit)


def hessian(fn: Callable, wrt: int | str = 0, *, jit: JitMode = False) -> Hessian:
    """The Hessian of a scalar function with respect to one argument, column by column
    with ``hvp``; shape ``x.shape + x.shape``."""
    return Hessian(fn, wrt, jit=jit)
