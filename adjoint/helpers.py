"""The helper registry: every runtime helper that generated code calls, declared once.

A helper is declared where its Python version is written, with its facts::

    @helper(fresh=True, zero_tangent=True)
    def zeros_like(x): ...

    @helper(no_numba="np.tile")          # jit=True refuses it at build time, naming np.tile
    def untile(g, x, reps): ...

and its Numba version (in the matching ``runtime*_numba.py``, imported only under jit=True,
because importing Numba is slow) is registered through one wrapper::

    @numba_version(runtime.zeros_like)
    def _zeros_like(x): ...              # a numba.extending.overload typing function

Every back end reads the facts from here: reverse mode (guards, fresh results), forward
mode (when a call's tangent is zero), the tangent rules (each helper's tangent spec, stored
on its entry by ``rules/tangents.py``), jit (which helpers Numba lacks) and the coverage
table. ``tests/test_helper_registry.py`` fails when a helper has neither a Numba version nor
a reason, or when its two versions disagree.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

# Where generated code imports a helper from, by the module that defines it: the adjoint
# helpers are re-exported by adjoint.runtime, the tangent ones by adjoint.runtime_tangent.
NAMESPACES = {"adjoint.runtime": "runtime", "adjoint.runtime_extra": "runtime",
              "adjoint.runtime_linalg": "runtime", "adjoint.runtime_decompositions": "runtime",
              "adjoint.runtime_tangent": "runtime_tangent"}


@dataclass
class Helper:
    """One runtime helper and everything the back ends need to know about it."""

    name: str
    python: Callable
    namespace: str  # "runtime" or "runtime_tangent": the module generated code imports from
    guard: bool = False  # a check called for its effect: kept in the forward sweep, no adjoint
    fresh: bool = False  # returns a new array the generated code owns (never an argument)
    zero_tangent: bool = False  # constant almost everywhere: masks, counts, axis arithmetic
    # the result is zero when the arguments at these positions are: ("any", i, ...) for a
    # helper linear in each listed argument, ("all", i, ...) for one linear in them jointly
    zero_when: tuple | None = None
    no_numba: str | None = None  # the construct whose adjoint needs it, if Numba has none
    user_facing: bool = False  # called in user code (adjoint.stop_gradient), not generated
    numba: Callable | None = None  # the overload typing function (numba_version)
    tangent: Any = None  # its forward rule (a rules.tangents.Spec), set by rules/tangents.py


REGISTRY: dict[str, Helper] = {}
_BY_FUNCTION: dict[int, Helper] = {}


def helper(func: Callable | None = None, *, guard: bool = False, fresh: bool = False,
           zero_tangent: bool = False, zero_when: tuple | None = None,
           no_numba: str | None = None, user_facing: bool = False):
    """Declare the decorated function a runtime helper with these facts (see ``Helper``).
    Returns the function unchanged."""

    def declare(fn: Callable) -> Callable:
        if fn.__name__ in REGISTRY:
            raise ValueError(f"runtime helper {fn.__name__} is declared twice")
        namespace = NAMESPACES.get(fn.__module__)
        if namespace is None:
            raise ValueError(f"runtime helper {fn.__name__} is defined in {fn.__module__}, "
                             f"not one of the runtime modules {sorted(NAMESPACES)}")
        entry = Helper(fn.__name__, fn, namespace, guard, fresh, zero_tangent, zero_when,
                       no_numba, user_facing)
        REGISTRY[fn.__name__] = entry
        _BY_FUNCTION[id(fn)] = entry
        return fn

    return declare(func) if func is not None else declare


def lookup(func: object) -> Helper | None:
    """The registry entry of a helper function (by identity), or None."""
    entry = _BY_FUNCTION.get(id(func))
    return entry if entry is not None and entry.python is func else None


def exported(module_name: str) -> list[str]:
    """The ``__all__`` of a runtime module: the helpers it defines that generated code calls."""
    return [h.name for h in REGISTRY.values()
            if h.python.__module__ == module_name and not h.user_facing]


# -- the tables the back ends read ---------------------------------------------------------
def _all() -> list[Helper]:
    """Every entry, once the runtime modules (which declare them) are imported."""
    from . import runtime, runtime_tangent  # noqa: F401 - importing them declares the helpers

    return list(REGISTRY.values())


def guards() -> tuple[str, ...]:
    return tuple(sorted(h.name for h in _all() if h.guard))


def fresh() -> frozenset[str]:
    return frozenset(h.name for h in _all() if h.fresh)


def zero_when() -> dict[str, tuple]:
    return {h.name: h.zero_when for h in _all() if h.zero_when}


def zero_tangent_functions() -> frozenset[Callable]:
    return frozenset(h.python for h in _all() if h.zero_tangent)


def unsupported() -> dict[str, str]:
    """Helper name -> the construct whose adjoint needs it, for helpers Numba lacks."""
    return {h.name: h.no_numba for h in _all() if h.no_numba}


class TangentTable(MutableMapping):
    """The helpers' tangent specs, keyed by function, stored on the registry entries (so
    ``rules/tangents.py`` reads and writes them as a dict)."""

    def _entry(self, func) -> Helper:
        entry = lookup(func)
        if entry is None:
            raise KeyError(func)
        return entry

    def __getitem__(self, func):
        spec = self._entry(func).tangent
        if spec is None:
            raise KeyError(func)
        return spec

    def __setitem__(self, func, spec) -> None:
        self._entry(func).tangent = spec

    def __delitem__(self, func) -> None:
        self[func]  # noqa: B018 - KeyError when there is none
        self._entry(func).tangent = None

    def __iter__(self) -> Iterator[Callable]:
        return (h.python for h in REGISTRY.values() if h.tangent is not None)

    def __len__(self) -> int:
        return sum(h.tangent is not None for h in REGISTRY.values())


# -- Numba versions --------------------------------------------------------------------------
def numba_version(func: Callable, *, not_none: tuple[str, ...] = (), **options):
    """Register the decorated ``numba.extending.overload`` typing function as the Numba
    version of ``func`` (a helper, or a NumPy function Numba lacks a form of).

    ``Optional`` argument types are seen as the type they wrap: the generated code sets a
    saved temporary to None before the loop whose branches assign it, so Numba types it
    ``Optional(array)``, and without this the choice between a scalar and an array
    implementation took the scalar one (``tie_share`` failed at run time, ``unbroadcast``
    summed an array gradient to a scalar); the implementation then receives the values
    (jit_optional.py), not the Optionals (``clear_at(dx, i)`` with ``i`` an
    ``Optional(int64)`` had no implementation). Every Numba version goes through here, so
    the fix holds for all of them. Numba also types such a call with the ``None`` branch alone;
    for the parameters in ``not_none`` (values whose shape the helper reads, which generated
    code never passes as None) that typing is declined, so it cannot pick a scalar
    implementation that disagrees with the array one."""
    import inspect

    from numba.core import types
    from numba.extending import overload

    entry = lookup(func)
    if entry is not None and entry.no_numba:
        raise ValueError(f"{entry.name} is declared without a Numba version "
                         f"(no_numba={entry.no_numba!r}) but one is being registered")

    def register(typing: Callable) -> Callable:
        signature = inspect.signature(typing)

        @functools.wraps(typing)
        def unwrapped(*args, **kwargs):
            if not_none:
                given = signature.bind_partial(*args, **kwargs).arguments
                if any(isinstance(given.get(name), types.NoneType) for name in not_none):
                    return None
            impl = typing(*map(unwrap_optional, args),
                          **{k: unwrap_optional(v) for k, v in kwargs.items()})
            if impl is None or not any(isinstance(t, types.Optional)
                                       for t in (*args, *kwargs.values())):
                return impl
            from .jit_optional import with_values  # the implementation gets the values too

            impl = getattr(impl, "py_func", impl)
            given = inspect.signature(impl).bind_partial(*args, **kwargs).arguments
            return with_values(impl, {n for n, t in given.items()
                                      if isinstance(t, types.Optional)})

        # their machine code goes to our guarded cache (cache.py), also when a helper's
        # Numba version is imported before any jit=True build
        from .cache import install_helper_cache

        install_helper_cache()
        overload(func, jit_options={"cache": True}, **options)(unwrapped)
        if entry is not None:
            entry.numba = typing
        return typing

    return register


def unwrap_optional(t):
    """The type an ``Optional`` Numba type wraps; any other type as it is."""
    from numba.core import types

    return t.type if isinstance(t, types.Optional) else t


# -- primal functions under jit (facts about rules, read by the coverage table) -------------
# Functions with rules whose primal Numba 0.68 cannot compile (checked by compiling each
# one on small float arrays).
# (math.fmod, expit, logit, erf, erfc, erfinv, ndtr, ndtri, log_ndtr, gamma, gammaln,
# digamma (psi), polygamma, xlogy, xlog1py, and logsumexp, softmax and log_softmax with axis
# None or an int, np.inner, np.tile and the 2-D np.diagonal compile to ours:
# runtime_missing_numba.py.)
NUMBA_LACKS = {
    "np.einsum", "np.tensordot", "np.pad", "np.rollaxis", "np.linalg.svd",
    "scipy.linalg.solve_triangular", "scipy.linalg.cho_solve",
}

# Functions Numba compiles whose adjoint it does not (each found by running grad(jit=True)
# on it): jit=True raises a located JitError for them.
NUMBA_FAILS = {
    "np.diag": "its adjoint's two branches (a vector's, a matrix's) differ in type",
    "np.rot90": "np.rot90 with a negative k",
    "np.split": "the list it returns", "np.array_split": "the list it returns",
    "np.hsplit": "the list it returns", "np.vsplit": "the list it returns",
    "np.linalg.slogdet": "the tuple it returns",
}
