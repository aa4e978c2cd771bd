"""Numba versions of helpers called with ``Optional`` arguments: the value, not the option.

Generated code binds a saved variable to None before the loop whose branches assign it, so
Numba types it ``Optional(T)``. ``helpers.numba_version`` chooses a helper's implementation
from the type T wraps; this module makes the implementation receive a T too. Each Optional
argument goes through ``present`` (Numba's own Optional-to-value cast: it raises TypeError
if the value is None, which generated code never passes where it calls a helper), so
``clear_at(dx, i)`` with ``i`` an ``Optional(int64)`` indexes with an int. Imported only under
jit=True.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

import numba
from numba.core import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic


@intrinsic
def present(typingctx, value):
    """The value an ``Optional`` holds (TypeError if it is None)."""
    if not isinstance(value, types.Optional):
        return None

    def codegen(context, builder, signature, args):
        inner = context.cast(builder, args[0], value, value.type)
        return impl_ret_borrowed(context, builder, value.type, inner)
    return value.type(value), codegen


def with_values(impl: Callable, optional: set[str]) -> Callable:
    """``impl`` (an overload implementation) called with the parameters named in
    ``optional`` replaced by the values their Optionals hold; same signature and defaults."""
    inner = numba.njit(impl, cache=True)  # (a helper: the helpers cache, see cache.py)
    params = list(inspect.signature(impl).parameters.values())
    namespace = {"inner": inner, "present": present}
    heads, passed = [], []
    for p in params:
        if p.default is inspect.Parameter.empty:
            heads.append(p.name)
        else:
            namespace[f"default_{p.name}"] = p.default
            heads.append(f"{p.name}=default_{p.name}")
        passed.append(f"present({p.name})" if p.name in optional else p.name)
    text = f"def wrapper({', '.join(heads)}):\n    return inner({', '.join(passed)})\n"
    exec(compile(text, "<adjoint-helper optional wrapper>", "exec"), namespace)
    return namespace["wrapper"]
