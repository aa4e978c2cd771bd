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

from . import pickling, pipeline
from .api import (
    FLOAT_TYPES,
    SCALAR_TYPES,
    Built,
    Wrt,
    _where,
    as_gradient,
    build_adjoint,
    check_arguments,
    primal_copy,
    resolve_wrt,
    signature,
)
from .errors import ArgumentError, UnsupportedSyntaxError
from .randomness import draws_random

MODES = ("rev", "fwd", "auto")


def build_tangent(fn: Callable, wrt: tuple[str, ...], kinds: tuple = (frozenset(),) * 2,
                  *, jit: bool = False) -> Built:
    """Forward mode through the pipeline (pipeline.py), specialized like ``grad`` on which
    arguments are scalars and floats."""
    scalars, floats = kinds
    return pipeline.build(fn, "forward", wrt, jit=jit, scalars=scalars, floats=floats)


def build_second_order(fn: Callable, wrt: tuple[str, ...], kinds: tuple, *,
                       jit: bool = False) -> Built:
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

    def __init__(self, fn: Callable, wrt: Wrt = 0, *, jit: bool = False):
        self.wrt, self.single = resolve_wrt(fn, wrt)  # raises for what is not a function
        self.fn, self.jit = fn, jit
        self._signature = signature(fn)
        self._last: Built | None = None
        self._last_kinds: tuple | None = None
        functools.update_wrapper(self, fn)

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
    """A tangent or vector must have its argument's shape; it is given its float dtype."""
    if np.shape(value) != np.shape(like):
        raise ArgumentError(
            f"the {what} for {name!r} has shape {np.shape(value)}, but {name} has shape "
            f"{np.shape(like)}", _where(fn), f"pass a {what} shaped like {name}")
    return as_gradient(value, like)


class _AlongDirection(_Transform):
    """Transforms called as ``t(f)(*args, direction)``: the function's arguments, then one
    direction (a tangent or a vector) per wrt argument, a tuple of them for several."""

    direction = "direction"

    def __call__(self, *args, **kwargs):
        if not args:
            raise ArgumentError(f"{self.kind} needs the {self.direction} as its last "
                                "positional argument", _where(self.fn), self.usage)
        *args, directions = args
        arguments = self._arguments(tuple(args), kwargs)
        return self.run(arguments, _directions(directions, self.wrt, self.single,
                                               self.direction, self.fn))

    def run(self, arguments: dict[str, Any], directions: tuple):
        raise NotImplementedError


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
        return value, _like_output(tangent, value)


def _like_output(tangent, value):
    """A tangent with its value's structure: float for float, array of its shape."""
    if isinstance(value, tuple):
        return tuple(_like_output(t, v) for t, v in zip(tangent, value))
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

    def __call__(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        built = self._for_call(arguments)
        value = run_primal(self.fn, arguments, self._signature)
        return value, Pullback(self, arguments, value, built)

    def pullback(self, built: Built, arguments: dict[str, Any], value, cotangent):
        cotangent = _cotangent_like(self.fn, cotangent, value)
        _, grads = built.function(**arguments, **{built.module.main.cotangent: cotangent})
        grads = (grads,) if len(self.wrt) == 1 else grads
        grads = tuple(as_gradient(g, arguments[w]) for g, w in zip(grads, self.wrt))
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
    return as_gradient(cotangent, value) if isinstance(value, np.ndarray) else float(cotangent)


class Jacobian(_Transform):
    """``jacobian(f, wrt, mode)(*args)``: the array of shape ``out.shape + in.shape``.
    ``.mode`` says which mode the last call used."""

    kind = "jacobian"

    def __init__(self, fn: Callable, wrt: Wrt = 0, *, mode: str = "auto", jit: bool = False):
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

    def __call__(self, *args, **kwargs):
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
                  self._by_columns(arguments, value, inputs))
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

    def _by_columns(self, arguments, value, inputs) -> list[np.ndarray]:
        blocks = []
        for k, x in enumerate(inputs):
            cols = np.empty((np.size(value), x.size))
            for j in range(x.size):
                tangents = [np.zeros(y.shape) if np.ndim(arguments[w]) else 0.0
                            for y, w in zip(inputs, self.wrt)]
                if np.ndim(arguments[self.wrt[k]]):
                    tangents[k].flat[j] = 1.0
                else:
                    tangents[k] = 1.0
                _, t = self._jvp.run(arguments, tuple(tangents))
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
        out = tuple(as_gradient(g, arguments[w]) for g, w in zip(grads_dot, self.wrt))
        return out[0] if self.single else out


class Hessian(_Transform):
    """``hessian(f, wrt)(*args)``: shape ``x.shape + x.shape``, one hvp per entry of x."""

    kind = "hessian"

    def __init__(self, fn: Callable, wrt: int | str = 0, *, jit: bool = False):
        super().__init__(fn, wrt, jit=jit)
        if not self.single:
            raise ArgumentError("hessian takes a single wrt argument", _where(fn),
                                "for mixed second derivatives use hvp with a tuple wrt")
        self._hvp = HVP(fn, self.wrt, jit=jit)

    @property
    def source(self) -> str:
        return self._hvp.source

    def __call__(self, *args, **kwargs):
        arguments = self._arguments(args, kwargs)
        if self._hvp._last is None:  # the first call
            refuse_random(self, "it runs one sweep per column")
        x = arguments[self.wrt[0]]
        size = int(np.size(x))
        rows = np.empty((size, size))
        for j in range(size):
            v = np.zeros(np.shape(x))
            v.flat[j] = 1.0
            v = v if np.ndim(x) else 1.0
            rows[j] = np.ravel(self._hvp.run(arguments, (v,)))
        return rows.reshape(np.shape(x) + np.shape(x)) if np.ndim(x) else rows[0, 0]


def jvp(fn: Callable, wrt: Wrt = 0, *, jit: bool = False) -> JVP:
    """Forward mode: ``value, tangent = jvp(f, wrt=0)(*args, tangent_of_wrt)``.

    The tangent of the output along the given input tangents, in one sweep that runs the
    primal alongside (``.source`` shows the generated ``f_jvp``). With a tuple ``wrt``, pass
    a tuple of tangents."""
    return JVP(fn, wrt, jit=jit)


def vjp(fn: Callable, wrt: Wrt = 0, *, jit: bool = False) -> VJP:
    """Reverse mode for any output: ``value, pullback = vjp(f)(*args)``, then
    ``pullback(cotangent)`` gives the gradient(s) of ``<cotangent, f(*args)>``. Outputs may
    be arrays or tuples (then the cotangent is a tuple)."""
    return VJP(fn, wrt, jit=jit)


def jacobian(fn: Callable, wrt: Wrt = 0, *, mode: str = "auto", jit: bool = False) -> Jacobian:
    """The Jacobian, shape ``out.shape + in.shape``: by rows with reverse mode ("rev"), by
    columns with forward mode ("fwd"), or "auto": reverse when the output has fewer entries
    than the inputs, forward otherwise. ``.mode`` tells which the last call used."""
    return Jacobian(fn, wrt, mode=mode, jit=jit)


def hvp(fn: Callable, wrt: Wrt = 0, *, jit: bool = False) -> HVP:
    """Hessian-vector product of a scalar function, ``H v``, without forming H: forward
    mode over the generated adjoint (``.source`` shows that second transformation)."""
    return HVP(fn, wrt, jit=jit)


def hessian(fn: Callable, wrt: int | str = 0, *, jit: bool = False) -> Hessian:
    """The Hessian of a scalar function with respect to one argument, column by column
    with ``hvp``; shape ``x.shape + x.shape``."""
    return Hessian(fn, wrt, jit=jit)
