"""``check_grad``: the adjoint against central finite differences, in float64."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .api import _where, grad, resolve_wrt
from .errors import GradientCheckError


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


def check_grad(fn: Callable, *args, wrt=0, tol: float = 1e-5, eps: float = 1e-6,
               **kwargs) -> float:
    """Compare the adjoint of ``fn`` with central differences at ``args``.

    Arguments named in ``wrt`` are converted to float64 first. Returns the largest error
    over the ``wrt`` arguments (see ``relative_error``); raises GradientCheckError past ``tol``.
    """
    names, _ = resolve_wrt(fn, wrt)
    import inspect

    params = list(inspect.signature(fn).parameters)
    positions = [params.index(n) for n in names]
    args = list(args)
    for p in positions:
        args[p] = np.array(args[p], dtype=np.float64) if np.ndim(args[p]) else float(args[p])
    adjoint = grad(fn, wrt=tuple(names))(*args, **kwargs)
    worst = 0.0
    for name, p, g in zip(names, positions, adjoint):
        error = relative_error(g, numeric_gradient(fn, args, p, kwargs, eps))
        worst = max(worst, error)
        if error > tol:
            raise GradientCheckError(
                f"gradient of {fn.__name__} with respect to {name!r} differs from central "
                f"differences by {error:.3g} (tolerance {tol:g})",
                _where(fn),
                "please report this with the function and inputs; meanwhile print(grad(f).source)"
                " to see the generated code")
    return worst
