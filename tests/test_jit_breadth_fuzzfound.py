"""Programs the long fuzz run (tests/fuzz_programs.py, jit on every program) found refused by
jit=True, each cut down to what made Numba refuse it. Each one now compiles and agrees with
jit=False, and both agree with central differences; where Numba truly cannot compile a
construct, the JitError says so and names the user's line.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from numba.core.errors import NumbaPerformanceWarning  # noqa: E402

from adjoint import JitError, value_and_grad  # noqa: E402

DEBUG = False  # a global Numba freezes: `if DEBUG:` is a branch it could prune


# -- the programs ------------------------------------------------------------------------------
def literal_condition_return(x0, a0):
    # Numba removed the forward branch on the literal condition, not the backward one that
    # reads what it assigned (`sum_to_shape(g, none)`, `Undefined`)
    s = 0.0
    for i in range(2):
        if 3.0 < -1.1:
            return 0.3 * x0 + np.sum(a0)
        s = s + x0 * a0[i]
    return s


def literal_condition_taken(x0, a0):  # the taken side of a literal condition: kept working
    t = x0 * 1.0
    if not (not 2.0 >= 1.3):
        for _i in range(1):
            t = t + np.sum(a0 * a0) * x0
    else:
        t = t * np.prod(a0)
    return t


def global_flag(x0, a0):
    s = 0.0
    for i in range(3):
        if DEBUG:
            return 0.3 * x0 + np.sum(a0)
        s = s + x0 * np.sin(a0[i])
    return s


def pick(u):
    return u[[1, 1, 2]] * 1.0


def pick_total(a0):
    return np.sum(pick(a0) * 3.0)


def list_index(x0, a0, m0):
    # an index written as a list: NumPy reads it as an integer array, Numba had no such index
    out = a0 * 2.0
    out[[0, 0, 1]] = np.array([x0, x0 * 2.0, x0 * 3.0])
    t = pick(a0)
    out[[2, 2]] += x0 * a0[0]
    return np.sum(out * out) + np.sum(t * t) + np.sum(m0[[1, 0, 1]] * m0[0])


def index_saved_in_a_branch(x0, a1, n):
    # t1 = n - 1 is bound to None before the loop (an Optional(int64) to Numba): the
    # helpers (zero_entries) and the restoring write out[t1] = ... had no Optional form
    out = a1 * x0
    for _i in range(2):
        if x0 > -10.0:
            out[n - 1] = math.atan(n)
        out = out * x0
    return np.sum(out * a1)


def whole_array_index(x0, a0, m0):
    # x[...]: Numba typed it (and add_at(da0, np.s_[...], g)) but had no code for it
    t = a0[...]
    u = m0[...] * x0
    out = a0 * 1.0
    out[...] = a0 * x0
    w = m0 * 1.0
    w[...] += x0
    return np.sum(t * u) + np.sum(out * a0) + np.sum(w * w)


def mask_2d_write(x0, m0):
    out = m0.copy()
    out[m0 > 0.3] = x0
    return np.sum(out * m0)


# -- the checks --------------------------------------------------------------------------------
# the fuzz oracle's own central differences (float64, each entry of each wrt argument)
from tests.test_fuzz import central_difference as _fuzz_difference  # noqa: E402
from tests.test_fuzz import copies  # noqa: E402


def central_difference(f, args, wrt, eps=1e-6):
    return _fuzz_difference(f, args, wrt, eps)


def check_three_ways(f, args, wrt):
    """jit=True against jit=False to rounding, and both against central differences."""
    plain_value, plain = value_and_grad(f, wrt=wrt)(*copies(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        jit_value, jitted = value_and_grad(f, wrt=wrt, jit=True)(*copies(args))
    assert jit_value == pytest.approx(plain_value, rel=1e-12, abs=1e-12)
    assert jit_value == pytest.approx(f(*copies(args)), rel=1e-12, abs=1e-12)
    plain = plain if isinstance(plain, tuple) else (plain,)
    jitted = jitted if isinstance(jitted, tuple) else (jitted,)
    for p, j, d in zip(plain, jitted, central_difference(f, args, wrt)):
        np.testing.assert_allclose(j, p, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p, d, rtol=1e-5, atol=1e-6)


RNG = np.random.default_rng(19)
A0 = RNG.normal(size=3)
M0 = RNG.normal(size=(2, 3))


@pytest.mark.parametrize("f, args, wrt", [
    (literal_condition_return, (0.7, A0), (0, 1)),
    (literal_condition_taken, (0.7, A0), (0, 1)),
    (global_flag, (0.7, A0), (0, 1)),
    (list_index, (0.7, A0, M0), (0, 1, 2)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_refused_before_now_agrees(f, args, wrt):
    check_three_ways(f, args, wrt)


def test_list_index_with_repeats_sums_like_numpy():
    # a0[[1, 1, 2]] reads entry 1 twice: its gradient counts twice (np.add.at, not +=)
    value, g = value_and_grad(pick_total, jit=True)(np.array([0.3, -1.2, 0.8]))
    assert value == pytest.approx(3.0 * (-1.2 - 1.2 + 0.8))
    np.testing.assert_array_equal(g, [0.0, 6.0, 3.0])


def test_a_mask_of_two_dimensions_compiles():
    # Numba's boolean indexing takes a 1-D mask only (it failed with an AssertionError of
    # its own on m[m > 0.3] = x); adjoint's own indexing with an n-D mask compiles it
    # (tests/test_jit_masks.py has the cases)
    check_three_ways(mask_2d_write, (0.5, M0), (0, 1))


def mask_in_tuple(x0, m3):
    out = m3 * 1.0
    out[m3[:, :, 0] > 0.3, 1] = x0
    return np.sum(out * m3)


def test_a_mask_of_two_dimensions_beside_another_index_is_a_documented_numba_limit():
    # the n-D mask inside a tuple index is still Numba's own (and fails inside Numba): a
    # JitError at the user's line that says so and what to write instead
    with pytest.raises(JitError) as caught:
        value_and_grad(mask_in_tuple, jit=True)(0.5, RNG.normal(size=(2, 3, 2)))
    message = str(caught.value)
    assert "test_jit_breadth_fuzzfound.py:" in message
    assert "out[m3[:, :, 0] > 0.3, 1] = x0" in message
    assert "a Numba limit" in message and "plane = x[:, :, 1], then plane[mask]" in message
    assert "jit=False" in message


def rows_written_twice(m0):
    out = np.zeros((2, 3))
    for _j, row in enumerate(out):
        row -= m0[0]
        row[[1, 1]] += 0.25  # index 1 written twice: NumPy keeps the last write
    return np.mean(out)


def rows_written_once(m0):
    out = np.zeros((2, 3))
    for _j, row in enumerate(out):
        row -= m0[0]
        row[[0, 2]] += 0.25 * m0[1, 0]
    return np.mean(out)


def test_an_index_array_beside_another_index_follows_numpy_under_jit():
    # found by the fuzzer: out[j, [1, 1]] (a row view's write) took the written part and the
    # adjoint of the read without the last-write rule, and jit=True gave d/dm0[0, 1] = -0.5
    # where it is -1/3 (tests/test_jit_tuple_index.py checks the helpers one by one)
    m0 = np.arange(6.0).reshape(2, 3) / 7.0
    for program, expected_row in ((rows_written_once, None), (rows_written_twice, -1 / 3)):
        plain = value_and_grad(program)(m0.copy())[1]
        jitted = value_and_grad(program, jit=True)(m0.copy())[1]
        np.testing.assert_allclose(jitted, plain, rtol=1e-12)
        np.testing.assert_allclose(plain, central_difference(program, [m0], [0])[0],
                                   rtol=1e-6, atol=1e-9)
        if expected_row is not None:
            np.testing.assert_allclose(plain[0], [expected_row] * 3, rtol=1e-12)
