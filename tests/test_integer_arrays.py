"""Values written into arrays of integers or booleans are truncated (NumPy casts them):
no derivative flows through such a write (backward.py, forward.py: ``kept_if``; kinds.py
records the array's dtype where it is bound). Before, the derivative went through as the
identity: a wrong gradient with no error, in both modes and in forward mode."""
import numpy as np
import pytest

from adjoint import grad, jvp
from tests.test_fuzz import central_difference
from tests.test_jit_breadth_fuzzfound import check_three_ways

X = np.array([1.3, -1.7, 2.9])


def entry_into_int_zeros(x):
    a = np.zeros(3, dtype=int)
    a[0] = x[0] * 2.5
    return np.sum(a * x)


def slice_into_int_zeros(x):
    a = np.zeros(3, dtype=np.int32)
    a[:] = x * 2.5
    return np.sum(a * x)


def loop_into_zeros_like_an_arange(x):
    a = np.zeros_like(np.arange(3))
    for i in range(3):
        a[i] = x[i] * 2.5
    return np.sum(a * x)


def mask_into_bools(x):
    a = np.zeros(3, dtype=bool)
    a[x > 0] = x[x > 0]
    return np.sum(a * x)


def row_into_int_matrix(x):
    a = np.zeros((2, 3), dtype=int)
    a[0] = x * 2.5
    return np.sum(a[0] * x)


def into_an_integer_parameter(n, x):
    n[1] = x[1] * 3.3
    return np.sum(n * x)


def loop_into_float_zeros(x):  # the common case: the same code as before, no kept_if
    k = np.zeros(3)
    for i in range(1, 3):
        k[i] = x[i] * x[i - 1]
    return np.sum(k * x)


@pytest.mark.parametrize("f", [entry_into_int_zeros, slice_into_int_zeros,
                               loop_into_zeros_like_an_arange, mask_into_bools,
                               row_into_int_matrix, loop_into_float_zeros],
                         ids=lambda f: f.__name__)
def test_writes_into_integer_arrays_have_no_derivative(f):
    check_three_ways(f, (X,), (0,))
    v = np.array([0.3, -0.5, 0.9])
    expected = central_difference(f, (X,), (0,), 1e-6)[0] @ v
    for jit in (False, True):
        assert jvp(f, jit=jit)(X, v)[1] == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_a_write_into_an_integer_parameter():
    n = np.array([1, 2, 3])
    written = np.array([1, int(X[1] * 3.3), 3])  # what the function multiplies x by
    for jit in (False, True):
        dx = grad(into_an_integer_parameter, wrt=1, jit=jit)(n, X)
        np.testing.assert_allclose(dx, written)  # no derivative through the truncation


def test_the_dtype_is_recorded_where_the_array_is_made_not_saved_per_write():
    g = grad(loop_into_zeros_like_an_arange)
    g(X)
    assert "a_stack" not in g.source  # no entry of a saved per write
    assert "a_inexact = is_inexact(a)" in g.source and "kept_if(" in g.source
    plain = grad(loop_into_float_zeros)
    plain(X)
    assert "kept_if" not in plain.source and "inexact" not in plain.source
