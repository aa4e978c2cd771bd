"""The helper registry (adjoint/helpers.py): every runtime helper has a Numba version or a
declared reason why not, and its two versions agree on random inputs of several shapes.

The cases of runtime_extra.py's and runtime_linalg.py's helpers are in
tests/test_runtime_extra.py (shared here); this file adds the rest. A helper that gains a
Numba version without cases here makes ``test_every_numba_version_is_tested`` fail.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest

import adjoint.runtime_numba  # noqa: F401 - registers every Numba version
from adjoint import AdjointError, helpers, runtime, runtime_tangent
from adjoint.rules import tangents
from tests.test_runtime_extra import CASES as EXTRA_CASES

RNG = np.random.default_rng(13)
# The list helpers' Numba versions are called here with Python lists, which Numba reflects
# (and warns about); generated code builds its lists inside compiled code instead.
pytestmark = pytest.mark.filterwarnings(
    "ignore::numba.core.errors.NumbaPendingDeprecationWarning")


def r(*shape):
    return RNG.normal(size=shape)


SHARED = r(4)  # one array for a masked write whose value overlaps it

# boolean masks of two dimensions (6 entries True) and of the leading two of three (3 True):
# Numba's own indexing takes 1-D masks only (ours: runtime_numba_masks.py)
MASK = np.array([[True, False, True], [False, False, False], [True, True, False],
                 [False, True, True]])
LEADING = np.array([[True, False, False], [False, True, True]])


def positive(*shape):
    return RNG.uniform(0.5, 2.0, size=shape)


def with_ties(*shape):
    """Values with repeated entries, so max/min reductions have ties."""
    return RNG.integers(0, 3, size=shape).astype(float)


CASES = {
    "zeros_like": [(2.5,), (r(3),), (r(2, 3),), (np.arange(4),)],
    "unbroadcast": [(r(3), r(3)), (r(2, 3), r(3)), (r(2, 3), r(1, 3)), (r(4, 2, 3), r(2, 1)),
                    (r(2, 3), 1.5), (1.5, r(2, 3)), (2.0, 3.0)],
    "sum_to_shape": [(r(3), (3,)), (r(2, 3), (3,)), (r(2, 3), (1, 3)), (r(4, 2, 3), (2, 1)),
                     (r(2, 3), ()), (1.5, (2, 3)), (2.0, ())],
    "tie_share": [(1.0, 2.0), (2.0, 2.0), (with_ties(5), with_ties(5)), (r(2, 3), 0.0)],
    "pow_exponent_adjoint": [(1.5, 2.0, 4.0), (r(4), np.array([0.0, 1.0, 2.0, 3.0]), r(4)),
                             (r(2, 3), positive(2, 3), r(2, 3))],
    "unreduce": [(1.5, r(4)), (r(3), r(2, 3), 0), (r(2), r(2, 3), -1),
                 (r(2, 1), r(2, 3), 1, True), (r(4), r(2, 3, 4), (0, 1))],
    "mean_adjoint": [(1.5, r(4)), (r(3), r(2, 3), 0), (r(2, 1), r(2, 3), 1, True),
                     (r(3), r(2, 3, 4), (0, 2)), (2.0, 3.0)],
    "extremum_adjoint": [(1.0, with_ties(6), 2.0), (r(3), with_ties(4, 3), with_ties(3), 0),
                         (r(4, 1), with_ties(4, 3), with_ties(4, 1), 1, True)],
    "prod_adjoint": [(1.5, r(5)), (1.5, np.array([2.0, 0.0, 3.0])), (r(1)[0], r(2, 3)),
                     (r(3), r(2, 3), 0), (r(2, 1), np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]),
                                          1, True), (r(3), r(2, 3, 4), (0, 2))],
    "cumsum_adjoint": [(r(5), r(5)), (r(6), r(2, 3)), (r(4), r(4), 0)],
    "norm_adjoint": [(1.5, r(4), 2.2), (2.0, np.zeros(3), 0.0), (0.5, r(2, 3), 3.1)],
    "dot_adjoint_a": [(1.5, r(4), r(4)), (r(3), r(3, 4), r(4)), (r(3, 2), r(3, 4), r(4, 2)),
                      (r(2), r(4), r(4, 2)), (r(3, 2), r(3, 4), r(2, 4).T),
                      (r(3, 2), r(3, 4), r(4, 4)[:, ::2])],
    "dot_adjoint_b": [(1.5, r(4), r(4)), (r(3), r(3, 4), r(4)), (r(3, 2), r(3, 4), r(4, 2)),
                      (r(2), r(4), r(4, 2)),
                      # a transposed (F-order) and a strided operand: read in place, or copied
                      (r(3), r(4, 3).T, r(4)), (r(3), r(6, 4)[::2], r(4))],
    "matmul_adjoint_a": [(r(3, 2), r(3, 4), r(4, 2)), (r(3), r(3, 4), r(4))],
    "matmul_adjoint_b": [(r(3, 2), r(3, 4), r(4, 2)), (r(2), r(4), r(4, 2))],
    "unindex": [(r(2), r(5), slice(1, 3)), (1.5, r(2, 3), (1, 2)), (r(3), r(4, 3), 2),
                (r(3), r(5), np.array([1, 1, 4])),
                (r(2), r(5), np.array([True, False, True, False, False])),
                (r(6), r(4, 3), MASK), (r(3, 4), r(2, 3, 4), LEADING)],
    "zero_entries": [(r(5), slice(1, 3)), (r(4, 3), 1), (r(5), np.array([0, 2])),
                     (r(4, 3), MASK), (r(2, 3, 4), LEADING)],
    "written_part": [(r(5), slice(1, 3)), (r(4, 3), 1), (r(5), np.array([0, 2, 0])),
                     (r(4, 3), MASK), (r(4, 3).T, MASK.T), (r(2, 3, 4), LEADING)],
    "broadcast_shape": [(1.5, 2.5), (r(3), 2.0), (2.0, r(2, 3)), (r(2, 1), r(3)),
                        (r(4), r(4))],
    "add_at": [(r(5), slice(1, 3), r(2)), (r(4, 3), 1, r(3)),
               (r(5), np.array([0, 2, 0]), r(3)), (r(5), 2, 1.5), (r(4, 3), 1, 2.5),
               (r(2, 4, 3), 1, r(4, 3)), (r(2, 4, 3), (1, slice(0, 2)), r(3)),
               (r(2, 4, 3), (0, 2), r(3)), (r(4, 3), (slice(1, 3), 0), r(2)),
               (r(4, 3), MASK, r(6)), (r(4, 3), MASK, 1.5), (r(2, 3, 4), LEADING, r(3, 4)),
               (r(2, 3, 4), LEADING, r(4))],
    "clear_at": [(r(5), slice(1, 3)), (r(4, 3), 1), (r(4, 3), MASK), (r(2, 3, 4), LEADING)],
    "detached": [(r(3),), (2.5,), (r(2, 3),)],
    "is_inexact": [(r(3),), (np.arange(3),), (2.5,), (3,), (np.array([True, False]),),
                   (r(2).astype(np.float32),), (r(2, 2) * 1j,)],
    "kept_if": [(r(3), True), (r(3), False), (2.5, True), (2.5, False), (r(2, 3), False)],
    "assigned": [(2,), (np.int64(-1),)],
    "stop_gradient": [(r(3),), (2.5,)],
    "checkpointed": [(5, 2), (7, 1)],
    "checkpoint_stride": [(10, 3), (1, 4), (9, 9)],
    "checkpoint_segments": [(10, 3), (0, 2), (9, 9)],
    "must_not_be_array": [(2.5, "shared"), (r(3), "shared")],
    "must_not_share": [(r(3), r(3), "shared"), (2.5, r(3), "shared")],
    "must_not_overlap_masked": [(SHARED, SHARED > 0, SHARED[::-1], "overlap"),  # refused
                                (SHARED, SHARED > 0, r(4), "apart"),
                                (SHARED, np.array([0, 1]), SHARED[:2], "integer index"),
                                (SHARED, (slice(None),), SHARED[::-1], "basic index")],
    "split_like": [(r(5), (r(2), r(3))), (r(2, 6), (r(2, 1), r(2, 5)), 1),
                   (r(5, 3), [r(1, 3), r(4, 3)], 0), (r(6), (r(1, 2), r(2, 2)), None),
                   (r(2, 3, 4), (r(2, 3, 1), r(2, 3, 3)), -1)],
    "unstack": [(r(4),), (r(2, 3),), (r(2, 3), 1), (r(2, 3, 4), -1)],
    "list_zeros": [([r(3), r(3)],), ([1.5, 2.5, 0.5],)],
    "list_entry": [([r(3), r(3)], 1, r(3)), ([1.5, 2.5], 0, 1.0)],
    "list_add": [([r(2, 3), r(2, 3)], [r(2, 3), r(2, 3)]), ([1.5, 2.5], [0.5, 1.0])],
    "list_add_at": [([r(3), r(3)], 1, r(3)), ([1.5, 2.5], 0, 3.0)],
    "pop_adjoint": [([r(3), r(3)], [r(3), r(3)]), ([1.5, 2.5], [0.5, 1.0])],
    "broadcast_tangent": [(r(3), r(3)), (1.5, r(2, 3)), (r(3), r(2, 3)), (1.5, 2.0)],
    "extremum_tangent": [(r(6), with_ties(6), 2.0), (r(4, 3), with_ties(4, 3),
                                                     with_ties(3), 0)],
    "prod_tangent": [(r(5), r(5), 0.0), (r(4), np.array([1.0, 0.0, 2.0, 3.0]), 0.0)],
    "norm_tangent": [(r(4), r(4), 2.0), (r(2, 3), r(2, 3), 1.7)],
    "reciprocal_or_zero": [(2.0,), (0.0,), (np.array([0.0, 2.0, -4.0]),), (positive(2, 3),)],
    # (runtime_missing_numba.py: the adjoints of np.tile and np.inner)
    "untile": [(r(6), r(3), 2), (r(4, 6), r(2, 3), (2, 2)), (r(2, 2, 3), r(2, 3), (2, 1, 1)),
               (r(3), 1.5, 3)],
    "inner_adjoint_a": [(r(3, 2), r(3, 4), r(2, 4)), (1.5, r(4), r(4)), (r(3), r(3, 4), r(4))],
    "inner_adjoint_b": [(r(3, 2), r(3, 4), r(2, 4)), (1.5, r(4), r(4)), (r(3), r(3, 4), r(4))],
}


def _fix_results(name, args):
    """Arguments whose result the helper reads must be the primal's result."""
    if name in ("extremum_adjoint", "extremum_tangent") and len(args) >= 3:
        axis = args[3] if len(args) > 3 else None
        keep = args[4] if len(args) > 4 else False
        return (args[0], args[1], np.max(args[1], axis=axis, keepdims=keep), *args[3:])
    if name in ("norm_adjoint", "norm_tangent"):
        return (args[0], args[1], np.linalg.norm(args[1]), *args[3:])
    if name == "prod_tangent":
        return (args[0], args[1], np.prod(args[1]), *args[3:])
    return args


ALL_CASES = {**EXTRA_CASES, **CASES}


def _numba_caller(helper, nargs):
    names = ", ".join(f"a{i}" for i in range(nargs))
    scope = {"helper": helper}
    exec(f"def call({names}):\n    return helper({names})\n", scope)
    return numba.njit(scope["call"])


def _copy(value):
    """A copy with the same memory layout (Numba compiles C, F and strided arrays apart)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if not isinstance(value, np.ndarray):
        return value
    if value.flags.c_contiguous or value.flags.f_contiguous:
        return value.copy(order="K")
    strided = np.empty(value.shape[:-1] + (2 * value.shape[-1],), value.dtype)[..., ::2]
    strided[...] = value
    return strided


def _outcome(call, args):
    """The result, or the kind of error: writes in place go to copies of the arguments."""
    args = tuple(_copy(a) for a in args)
    try:
        return call(*args)
    except AdjointError as exc:
        return ("refused", type(exc).__name__)


def _same(got, expected) -> bool:
    if isinstance(expected, list):  # pieces of a join's adjoint, or a list's adjoint
        return len(got) == len(expected) and all(map(_same, got, expected))
    if expected is None and got is not None:  # a list adjoint's zero entry: None in Python
        return not np.any(got)
    if isinstance(expected, tuple) and expected and expected[0] == "refused":
        return got == expected
    if expected is None or isinstance(expected, (range, str)):
        return got == expected
    return np.allclose(got, expected, rtol=1e-11, atol=1e-12) and \
        np.shape(got) == np.shape(expected)


def test_every_helper_has_a_numba_version_or_a_reason():
    missing = [h.name for h in helpers.REGISTRY.values() if h.numba is None and not h.no_numba]
    assert not missing, f"runtime helpers with neither a Numba version nor a reason: {missing}"


def test_every_numba_version_is_tested():
    untested = [h.name for h in helpers.REGISTRY.values()
                if h.numba is not None and h.name not in ALL_CASES]
    assert not untested, f"Numba versions with no cases in this file: {untested}"


def test_the_registry_is_what_generated_code_imports():
    assert sorted(runtime.__all__) == sorted(
        h.name for h in helpers.REGISTRY.values()
        if h.namespace == "runtime" and not h.user_facing)
    assert sorted(runtime_tangent.__all__) == sorted(
        h.name for h in helpers.REGISTRY.values() if h.namespace == "runtime_tangent")


def test_tangent_specs_live_on_the_entries():
    assert tangents.HELPERS[runtime.unbroadcast] is helpers.lookup(runtime.unbroadcast).tangent
    assert runtime.zeros_like in tangents.ZERO_HELPERS
    assert helpers.lookup(np.sum) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_numba_version_agrees(name):
    helper = helpers.REGISTRY[name].python
    for args in CASES[name]:
        args = _fix_results(name, args)
        expected = _outcome(helper, args)
        got = _outcome(_numba_caller(helper, len(args)), args)
        assert _same(got, expected), f"{name}{tuple(np.shape(a) for a in args)}: " \
            f"Numba gives {got!r}, Python {expected!r}"


def test_the_comparison_catches_a_wrong_numba_version():
    """A Numba version that drops a factor is caught (the table can fail)."""
    from numba.extending import overload

    def scaled(x):
        return 2.0 * x

    def wrong(x):
        return 3.0 * x

    overload(scaled)(lambda x: wrong)
    args = (r(3),)
    assert not _same(_outcome(_numba_caller(scaled, 1), args), _outcome(scaled, args))


def test_optional_arguments_are_unwrapped_for_every_helper():
    """The Optional-unwrapping wrapper applies to the tangent helpers too (they used
    Numba's plain overload before): an array bound to None on one path keeps working."""

    @numba.njit
    def tangent_of_optional(flag, t, like):
        v = None
        if flag:
            v = like
        return runtime_tangent.broadcast_tangent(t, v)

    like = r(2, 3)
    np.testing.assert_allclose(tangent_of_optional(True, 1.5, like), np.full((2, 3), 1.5))


def test_the_none_branch_of_an_optional_array_does_not_pick_the_scalar_version():
    """An array pre-bound to None before the loop that assigns it: Numba also types the
    helper call with ``None`` alone, whose scalar implementation gave a float, and the
    two results could not be unified (W7, the LSTM, failed so)."""
    from adjoint.runtime import tie_share, unbroadcast, unreduce

    @numba.njit
    def bound_in_a_loop(n, a):
        x = None
        for _ in range(n):
            x = a * 2.0
        return unbroadcast(a * 3.0, x) + unreduce(1.0, x) + tie_share(x, a)

    np.testing.assert_allclose(bound_in_a_loop(2, np.ones(3)), np.full(3, 5.0))


def test_no_numba_is_refused_at_build_time():
    import adjoint

    def f(x):
        return np.sum(np.repeat(x, 2))

    with pytest.raises(adjoint.JitError, match="np.repeat"):
        adjoint.grad(f, jit=True)(r(3))


def test_declaring_twice_or_outside_the_runtime_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        helpers.helper(runtime.zeros_like)
    with pytest.raises(ValueError, match="not one of the runtime modules"):
        helpers.helper(lambda x: x)
    with pytest.raises(ValueError, match="no_numba"):
        helpers.numba_version(runtime.einsum_adjoint)


REDUCTION_FORMS = [((2, 3, 4), 1, False), ((2, 3, 4), (0, 2), True), ((2, 3, 4), -1, True),
                   ((3, 4), None, True), ((5,), 0, False)]


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "ptp"])
def test_numpy_forms_numba_lacks_compile_to_ours(name):
    """np.max(x, axis=1, keepdims=True) and friends (runtime_numpy_numba.py) agree with
    NumPy in value, shape and dtype, NaN included for max and min."""
    for shape, axis, keepdims in REDUCTION_FORMS:
        source = f"lambda a: np.{name}(a, axis={axis!r}, keepdims={keepdims})"
        x = r(*shape)
        if name in ("max", "min"):
            x.flat[1] = np.nan
        expected, got = eval(source)(x), numba.njit(eval(source))(x)
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=source)
        assert np.shape(got) == np.shape(expected), source
    ints = np.arange(6).reshape(2, 3)
    assert numba.njit(lambda a: np.sum(a, axis=0, keepdims=True))(ints).dtype == np.int64


def test_add_at_reads_an_overlapping_gradient_before_writing():
    # Numba's in-place ufuncs go element by element: a[1:] += a[:-1] would give running sums
    @numba.njit
    def shift_add(a):
        return runtime.add_at(a, np.s_[1:], a[:-1])

    a = np.arange(6.0)
    expected = a.copy()
    expected[1:] += a[:-1]
    np.testing.assert_array_equal(shift_add(a.copy()), expected)
    rows = np.arange(12.0).reshape(3, 4)
    expected = rows.copy()
    expected[1] += rows[0]

    @numba.njit
    def row_add(a):
        return runtime.add_at(a, 1, a[0])
    np.testing.assert_array_equal(row_add(rows.copy()), expected)
