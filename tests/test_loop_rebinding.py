"""Loops whose variables outlive an inner loop or are rebound by their own body.

Found by hand (2026-11-29): inside a loop, a value an inner loop leaves behind (its index,
what its body binds) read after that inner loop, and a range() loop whose body rebinds its
own index (``i = i + 2``, an inner ``for i``), gave wrong gradients: the backward iteration
read the value of another iteration (an inner loop's backward had rebound it) or the count
a reversed range binds. Every case against central differences, in both modes, and at
second order (hvp) and in forward mode (jvp).
"""
import numpy as np
import pytest

from adjoint import grad, hvp, jvp
from adjoint.check import numeric_gradient


def inner_index_after(x):
    s = 0.0
    for _ in range(3):
        for j in range(x.shape[0] - 1):
            s = s + x[j] * x[j + 1] * 0.5
        s = s * x[j]  # j: the inner loop's last index
    return s


def inner_value_after(x):
    s = 0.0
    for k in range(3):
        for j in range(x.shape[0]):
            t = x[j] * x[k]
        s = s * 0.5 + t * x[k]  # t: the inner loop's last value
    return s


def inner_range_from_outer(x):
    s = 0.0
    for k in range(2):
        for j in range(k, x.shape[0] - 1):
            s = s + x[j + 1] * x[k]
        s = s * x[j] + x[k]
    return s


def same_index_name(x):
    s = 0.0
    for i in range(3):
        for i in range(x.shape[0] - 1):
            s = s + x[i] * x[i + 1] * 0.5
        s = s * x[i]  # the inner loop's i
    return s


def index_rebound(x):
    s = 0.0
    for i in range(3):
        s = s + x[i]
        i = i + 2
        s = s * x[i]
    return s


def index_rebound_in_a_branch(x):
    s = 0.0
    for i in range(4):
        if x[i] > 0.9:
            i = 0
        s = s * 0.5 + x[i] * x[i]
    return s


def inner_array_written(x):
    s = 0.0
    for k in range(2):
        for j in range(x.shape[0]):
            t = np.zeros(x.shape[0])  # bound, then written, by the inner loop only
            t[j] = x[j] * x[k]
        s = s + np.sum(t * x)
    return s


def array_written_by_inner_loops(x):
    s = 0.0
    t = None  # (Numba types it Optional: Python mode only)
    for k in range(2):
        if k == 0:
            t = np.zeros(x.shape[0])
        for j in range(x.shape[0]):
            t[j] = t[j] + x[j] * x[k]
        s = s + np.sum(t * x)
    return s


def inner_loop_in_a_branch(x):
    s = 0.0
    for k in range(3):
        if x[k] > 0.0:
            for j in range(x.shape[0] - 1):
                s = s + x[j] * x[k]
        s = s * x[j]
    return s


CASES = [inner_index_after, inner_value_after, inner_range_from_outer, inner_loop_in_a_branch,
         same_index_name, index_rebound, index_rebound_in_a_branch, inner_array_written]
X = np.array([0.6, 1.3, 0.95, 0.8, 1.1, 0.7, 1.2])


def numeric(fn, x):
    return numeric_gradient(fn, [x], 0, {})


@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
def test_gradient_matches_central_differences(fn, jit):
    np.testing.assert_allclose(grad(fn, jit=jit)(X), numeric(fn, X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
def test_second_order_and_forward_mode(fn):
    v = np.linspace(-1.0, 1.0, X.size)
    h = 1e-5
    expected = (grad(fn)(X + h * v) - grad(fn)(X - h * v)) / (2 * h)
    np.testing.assert_allclose(hvp(fn)(X, v), expected, rtol=1e-5, atol=1e-7)
    _, tangent = jvp(fn, wrt=0)(X, v)
    assert tangent == pytest.approx(float(numeric(fn, X) @ v), rel=1e-6, abs=1e-8)


def test_an_array_the_inner_loops_write_into():
    fn = array_written_by_inner_loops
    np.testing.assert_allclose(grad(fn)(X), numeric(fn, X), rtol=1e-6, atol=1e-8)
