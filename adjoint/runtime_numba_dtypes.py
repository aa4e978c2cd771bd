"""Python's own types as dtypes under jit=True: ``x.astype(float)``, ``np.asarray(x, int)``,
``np.zeros(n, dtype=int)``, ``np.ones(shape, dtype=bool)``.

NumPy reads ``bool``, ``int``, ``float`` and ``complex`` given as a dtype as ``np.bool_``,
``np.dtype(int).type`` (the platform's default integer), ``np.float64`` and
``np.complex128``. Numba takes NumPy's scalar types and strings, and ``float`` alone of
Python's (in ``np.empty``/``np.zeros``/``np.eye``), so ``m = (x > 0).astype(float)`` did not
compile, in the generated code or in a function of the user's that Numba compiles beside
it. Here, with the same meaning as NumPy's:

- the constructors and ``np.asarray``: overloads that take the calls with a Python type as
  the dtype and make them again with NumPy's scalar type. They are registered for the CPU
  target, so they are tried before Numba's generic ones: some of those (``np.asarray``,
  ``np.eye``) fail with an error of their own on such a dtype instead of declining it;
- ``astype``: Numba types its argument with ``npydecl.parse_dtype`` and lowers it for NumPy
  types; an overload of the method would replace Numba's for every dtype, so instead
  ``parse_dtype`` is wrapped to read Python's types too, and the same lowering is registered
  for them (it reads only the result's type).

These extend Numba in the process (a user's own ``numba.njit`` code can use them too), and
only with NumPy's meaning. Each agrees with NumPy in tests/test_jit_dtypes.py.

Imported by ``runtime_numba`` (only under jit=True).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.imputils import lower_builtin
from numba.core.typing import npydecl
from numba.extending import overload
from numba.np.arrayobj import array_astype
from numba.np.numpy_support import from_dtype

# NumPy's scalar type for each of Python's types given as a dtype
NUMPY_TYPES = {kind: np.dtype(kind).type for kind in (bool, int, float, complex)}


def numpy_type(dtype):
    """The NumPy scalar type a Numba-typed ``dtype`` argument names, when it is one of
    Python's own types; None for anything else (which Numba's implementation handles)."""
    if isinstance(dtype, types.Function):
        return NUMPY_TYPES.get(dtype.typing_key)
    return None


@overload(np.empty, target="cpu")
def _empty(shape, dtype=float):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda shape, dtype=float: np.empty(shape, scalar)


@overload(np.zeros, target="cpu")
def _zeros(shape, dtype=float):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda shape, dtype=float: np.zeros(shape, scalar)


@overload(np.ones, target="cpu")
def _ones(shape, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda shape, dtype=None: np.ones(shape, scalar)


@overload(np.full, target="cpu")
def _full(shape, fill_value, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda shape, fill_value, dtype=None: np.full(shape, fill_value, scalar)


@overload(np.empty_like, target="cpu")
def _empty_like(a, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda a, dtype=None: np.empty_like(a, scalar)


@overload(np.zeros_like, target="cpu")
def _zeros_like(a, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda a, dtype=None: np.zeros_like(a, scalar)


@overload(np.ones_like, target="cpu")
def _ones_like(a, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda a, dtype=None: np.ones_like(a, scalar)


@overload(np.full_like, target="cpu")
def _full_like(a, fill_value, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda a, fill_value, dtype=None: np.full_like(a, fill_value, scalar)


@overload(np.array, target="cpu")
def _array(object, dtype=None):  # noqa: A002 - NumPy's (and Numba's) parameter name
    if (scalar := numpy_type(dtype)) is not None:
        return lambda object, dtype=None: np.array(object, scalar)


@overload(np.arange, target="cpu")
def _arange(start, stop=None, step=None, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda start, stop=None, step=None, dtype=None: np.arange(start, stop, step, scalar)


@overload(np.eye, target="cpu")
def _eye(N, M=None, k=0, dtype=float):  # noqa: N803 - NumPy's parameter names
    if (scalar := numpy_type(dtype)) is not None:
        return lambda N, M=None, k=0, dtype=float: np.eye(N, M, k, scalar)


@overload(np.identity, target="cpu")
def _identity(n, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda n, dtype=None: np.identity(n, scalar)


@overload(np.asarray, target="cpu")
def _asarray(a, dtype=None):
    if (scalar := numpy_type(dtype)) is not None:
        return lambda a, dtype=None: np.asarray(a, scalar)


def _parse_python_types(parse_dtype):
    """Numba's parse_dtype (which types astype's argument), taking Python's types too."""
    def parse(dtype):
        scalar = numpy_type(dtype)
        return from_dtype(np.dtype(scalar)) if scalar is not None else parse_dtype(dtype)
    parse.wraps = parse_dtype
    return parse


if not hasattr(npydecl.parse_dtype, "wraps"):
    npydecl.parse_dtype = _parse_python_types(npydecl.parse_dtype)
    # the copy astype makes reads only the result's type, which typing gave
    lower_builtin("array.astype", types.Array, types.Function)(array_astype)
