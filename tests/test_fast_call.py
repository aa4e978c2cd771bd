"""The thin call path (adjoint/fastcall.py): a call whose arguments are of the kinds of the
last checked call goes straight to the built code; anything else (and everything that
can change between calls) still gets the checks and errors of the checked path."""
from __future__ import annotations

import math

import numpy as np
import pytest

import adjoint
from adjoint import ArgumentError, NonScalarOutputError, grad, value_and_grad
from adjoint.fastcall import MISS

JIT = pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])


def sigmoid_chain(x):
    e = (1.0 - 2.0 * (x + 1.0)) * 2.0
    return 1.0 / (1.0 + math.exp(-e))


def weighted(w, x):
    return np.sum(w * x * x)


def picks(x):
    return x[0]


def helper(x):
    return x * x


def calls_helper(x):
    return helper(x) + 1.0


@JIT
def test_repeated_calls_take_the_fast_path_and_agree(jit):
    g = grad(sigmoid_chain, jit=jit)
    first = g(0.3)
    assert g._fast is not None
    assert g._fast((0.3,)) == first
    assert g(0.3) == first and g(-0.7) == pytest.approx(grad(sigmoid_chain, jit=jit)(-0.7))


@JIT
def test_wrong_argument_kinds_after_fast_calls_get_the_checked_errors(jit):
    g = grad(weighted, wrt=(0, 1), jit=jit)
    w, x = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    g(w, x)
    g(w, x)
    assert g._fast((w, np.array([1 + 2j, 3 + 0j]))) is MISS
    with pytest.raises(ArgumentError, match=r"test_fast_call.py:\d+.*complex128 array"):
        g(w, np.array([1 + 2j, 3 + 0j]))
    with pytest.raises(ArgumentError, match=r"test_fast_call.py:\d+.*object array|str"):
        g(w, "text")
    with pytest.raises(ArgumentError, match="ndarray subclass"):
        g(w, np.ma.masked_array(x))
    dw, dx = g(w, x)  # and the fast path again
    np.testing.assert_allclose(dw, x * x)
    np.testing.assert_allclose(dx, 2 * w * x)


@JIT
def test_an_array_of_other_dimensions_is_checked_again(jit):
    g = grad(picks, jit=jit)
    np.testing.assert_allclose(g(np.array([2.0, 3.0])), [1.0, 0.0])
    with pytest.raises(NonScalarOutputError, match="shape"):
        g(np.ones((2, 2)))


@JIT
def test_float32_arguments_get_float32_gradients(jit):
    g = grad(weighted, wrt=1, jit=jit)
    w = np.array([1.0, 2.0])
    assert g(w, np.array([1.0, 1.0])).dtype == np.float64
    assert g(w, np.array([1.0, 1.0], dtype=np.float32)).dtype == np.float32


def test_strided_arrays_under_jit_are_made_contiguous():
    g = grad(weighted, wrt=1, jit=True)
    w = np.arange(6.0).reshape(2, 3)
    x = np.ones((3, 2)).T  # Fortran order
    np.testing.assert_allclose(g(w, np.ascontiguousarray(x)), 2 * w)
    np.testing.assert_allclose(g(w, x), 2 * w)
    np.testing.assert_allclose(g(w, np.ascontiguousarray(x)), 2 * w)


@JIT
def test_a_redefined_helper_is_seen_after_fast_calls(jit, monkeypatch):
    g = grad(calls_helper, jit=jit)
    assert g(3.0) == 6.0
    assert g(3.0) == 6.0
    monkeypatch.setitem(globals(), "helper", lambda x: x * x * x)
    with pytest.raises(adjoint.AdjointError):  # a lambda has no def to differentiate
        g(3.0)
    monkeypatch.undo()
    assert g(3.0) == 6.0


@JIT
def test_changed_defaults_are_seen_after_fast_calls(jit):
    def scaled(x, s=2.0):
        return s * x * x

    g = grad(scaled, jit=jit)
    assert g(1.0, 2.0) == 4.0
    assert g(1.0, 2.0) == 4.0
    scaled.__defaults__ = (5.0,)
    assert g(1.0) == 10.0
    assert g(1.0, 3.0) == 6.0


@JIT
def test_errors_raised_by_the_function_are_those_of_the_checked_call(jit):
    def root(x):
        return math.sqrt(x)

    g = grad(root, jit=jit)
    assert g(4.0) == 0.25
    with pytest.raises(ValueError, match="math domain error"):
        g(-1.0)
    assert g(4.0) == 0.25


@JIT
def test_preserve_result_and_several_wrt(jit):
    g = value_and_grad(weighted, wrt=(0, 1), jit=jit)
    w, x = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for _ in range(2):
        value, (dw, dx) = g(w, x)
        assert value == 41.0
        np.testing.assert_allclose(dw, [9.0, 16.0])
        np.testing.assert_allclose(dx, [6.0, 16.0])


def sum_of_both(x, y):
    return np.sum(x + y)  # dx and dy are one array in the generated code


def first_row(W):
    return np.sum(W[0] * 2.0)


@JIT
@pytest.mark.parametrize("call", ["checked", "fast"])
def test_gradients_never_share_memory_with_arguments_or_each_other(jit, call):
    # the compiled code returns arrays that do not own their memory: they are copied only
    # where they share it with an argument or another gradient, never by default
    x, y = np.arange(3.0), np.ones(3)
    g = grad(sum_of_both, wrt=(0, 1), jit=jit)
    if call == "fast":
        g(x, y)  # the first call is checked; it sets up the fast path the next one takes
        assert g._fast is not None
    dx, dy = g(x, y)
    assert not np.shares_memory(dx, dy)
    assert not np.shares_memory(dx, x) and not np.shares_memory(dy, y)
    dx[0] = 7.0
    assert dy[0] == 1.0 and x[0] == 0.0
    np.testing.assert_array_equal(dx, [7.0, 1.0, 1.0])
    W = np.ones((2, 3))
    dW = grad(first_row, jit=jit)(W)
    dW += 1.0
    np.testing.assert_array_equal(W, np.ones((2, 3)))
    np.testing.assert_array_equal(dW, [[3.0] * 3, [1.0] * 3])
