"""``check_grad``: the adjoint against central finite differences, in float64."""
from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from .api import _where, grad, resolve_wrt, signature
from .errors import ArgumentError, GradientCheckError


def numeric_gradient(fn: Callable, args: list, index: int, kwargs: dict,
                     eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``fn`` along every entry of ``args[index]`` (float64)."""
    x = np.array(args[index], dtype=np.float64)
    flat = x.reshape(-1)
    out = np.zeros_like(flat)
    for i in range(flat.size):
        step = eps * max(1.0, abs(flat[i]))
        saved = flat[i]
        flat[i] = saved + step
        up = _call(fn, args, index, x, kwargs)
        flat[i] = saved - step
        down = _call(fn, args, index, x, kwargs)
        flat[i] = saved
        out[i] = (up - down) / (2 * step)
    return out.reshape(x.shape)


def _call(fn, args, index, x, kwargs) -> float:
    value = x.copy() if x.ndim else float(x)
    # fresh copies: a function that writes into its arguments must not drift between calls
    trial = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    trial[index] = value
    return float(fn(*trial, **kwargs))


def relative_error(a, b) -> float:
    """max |a - b| / max(|a|, |b|, 1): relative for large gradients, absolute near zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1.0)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


DEFAULT_TOL = 1e-5


def check_grad(fn: Callable, *args, wrt=0, tol: float | None = None, eps: float = 1e-6,
               **kwargs) -> float:
    """Compare the adjoint of ``fn`` with central differences at ``args`` (and ``kwargs``).

    Arguments named in ``wrt`` (positional or keyword) are converted to float64 first.
    Returns the largest error over the ``wrt`` arguments (see ``relative_error``); raises
    GradientCheckError past ``tol`` (default 1e-5)."""
    names, _ = resolve_wrt(fn, wrt)
    params = list(signature(fn).parameters)
    try:
        bound = signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise ArgumentError(f"bad call to check_grad of {fn.__name__}: {exc}", _where(fn),
                            "pass the function's own arguments after it") from None
    bound.apply_defaults()
    values = dict(bound.arguments)
    for n in names:
        values[n] = (np.array(values[n], dtype=np.float64) if np.ndim(values[n])
                     else float(values[n]))
    call = inspect.BoundArguments(bound.signature, {p: values[p] for p in params})
    adjoint = grad(fn, wrt=tuple(names))(*call.args, **call.kwargs)
    worst = 0.0
    limit = DEFAULT_TOL if tol is None else tol
    for name, g in zip(names, adjoint):
        error = relative_error(g, numeric_gradient(_along(fn, call, name), [values[name]], 0,
                                                   {}, eps))
        worst = max(worst, error)
        if error > limit:
            raise GradientCheckError(
                f"gradient of {fn.__name__} with respect to {name!r} differs from central "
                f"differences by {error:.3g} (tolerance {limit:g})", _where(fn),
                _advice(fn, names, tol))
    return worst


def _along(fn: Callable, call: inspect.BoundArguments, name: str) -> Callable:
    """``fn`` as a function of the argument ``name`` alone, the others fixed (and copied
    for each call: a function that writes into its arguments must not drift)."""
    def one(value):
        trial = {k: v.copy() if isinstance(v, np.ndarray) else v
                 for k, v in call.arguments.items()}
        trial[name] = value
        again = inspect.BoundArguments(call.signature, trial)
        return fn(*again.args, **again.kwargs)
    return one


def _advice(fn: Callable, names: tuple[str, ...], tol: float | None) -> str:
    wrt = repr(names[0]) if len(names) == 1 else repr(names)
    show = f"print(adjoint.grad({fn.__name__}, wrt={wrt}).source) shows the generated code"
    if tol is not None:
        return (f"with the tolerance you chose (tol={tol:g}), a function that is badly "
                "conditioned or not smooth at this point can differ from finite differences: "
                f"try another eps or point; {show}")
    return ("near a kink (abs, max, a branch) finite differences are unreliable, so try "
            "another point; if f is smooth there, this is a bug in adjoint: please report it "
            f"with the function and inputs; {show}")
