"""Boolean masks of two or more dimensions under jit=True (adjoint/runtime_numba_masks.py).

Numba indexes with 1-D masks only; ``m[m > 0] = v`` on a matrix was refused (a JitError
naming a Numba limit), in about 7% of the fuzzer's random programs. Each program here
compiles with jit=True and agrees with jit=False (value and gradient, to rounding) and both
with central differences (float64). The overloads themselves are compared with NumPy on
reads, writes and ``+=`` of several shapes, layouts and values, errors included.
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

import numba  # noqa: E402
from numba.core.errors import NumbaPerformanceWarning  # noqa: E402

import adjoint.runtime_numba  # noqa: E402,F401 - registers the Numba versions
from adjoint import AdjointError, grad, hvp, jvp, value_and_grad  # noqa: E402
from tests.test_fuzz import copies  # noqa: E402
from tests.test_jit_breadth_fuzzfound import check_three_ways  # noqa: E402


# -- the programs ------------------------------------------------------------------------------
def masked_add_fuzz(m1, v):
    # the fuzzer's refused program, cut down: a masked += of a norm on a matrix
    outm1 = m1 * 2.0
    outm1[outm1 > 3.0] += np.linalg.norm(v)
    return np.sum(outm1 * m1)


def masked_write_fuzz(m1, x2):
    # the fuzzer's other forms: a mask from a function of the written array, and from a
    # conditional expression; written with a scalar that depends on the array
    outm3 = m1 * 1.5
    outm3[np.minimum(m1, outm3[0, 0]) > 0.3] = x2
    outm2 = m1 * m1
    outm2[(outm3 if m1[-1, 2] < 2.0 else outm3) > 0.25] = np.sum(outm3) / (1.5 + x2 * x2)
    return np.sum(outm2 * m1) + np.sum(outm3)


def masked_read(x):
    y = x[x > 0.0]
    return np.sum(y * y * y) + np.sum(np.sin(x[x < 0.5]))


def masked_write_scalar(x, c):
    out = x * 1.0
    out[x < 0.2] = c * c
    return np.sum(out * x)


def masked_write_array(x, w):
    out = np.sin(x)
    mask = w > 0.0
    out[mask] = w[mask] * x[mask]
    return np.sum(out * out)


def masked_add_array(x, w):
    out = x * w
    out[x > w] += np.exp(w[x > w])
    return np.sum(out * x)


def masked_by_argument(x, mask, c):
    out = x * x
    out[mask] = c * x[mask]
    y = out[mask]
    return np.sum(out) + np.sum(y * y)


def masked_length_one_value(x, c):
    out = x * 2.0
    out[x > 0.1] = np.array([c]) * 3.0
    return np.sum(out * x)


def masked_in_loop_and_branch(x, c):
    out = x * 1.0
    for i in range(3):
        if np.sum(out) > 0.0:
            out[out > 0.5] *= 0.9 * c
        else:
            out[out < 0.0] = c * i
        out = out + 0.1 * x
    return np.sum(out * out)


def masked_in_loop_saved(x, c):
    # a new mask each iteration: the backward sweep pops each one
    out = x * 1.0
    total = 0.0
    for _ in range(3):
        picked = out[out > 0.0]
        total = total + np.sum(picked * picked)
        out[out > 0.0] = out[out > 0.0] * c - 0.4
    return total + np.sum(out)


def masked_leading(x3, w):
    # a mask of the two leading dimensions of a 3-D array: whole rows are read and written
    out = x3 * 1.0
    rows = x3[:, :, 0] > 0.0
    picked = out[rows]
    out[rows] = picked * w
    out[x3[:, :, 1] < 0.0] += w * w
    return np.sum(out * x3) + np.sum(picked * picked)


def masked_through_transpose(x, c):
    # a write through a transposed view and a read of it: non-contiguous, in place
    out = x * 1.0
    t = out.T
    t[t > 0.2] = c * t[t > 0.2]
    return np.sum(t * x.T) + np.sum(t[t < 0.0])


def masked_through_row_slice(x, c):
    out = x * 1.0
    part = out[1:, ::2]
    part[part > 0.0] += c
    return np.sum(out * out)


def masked_plane_view(x0, m3):
    # what the JitError for x[mask, 1] suggests: the mask alone, on a view of the plane
    out = m3 * 1.0
    rows = m3[:, :, 0] > 0.3
    plane = out[:, :, 1]
    plane[rows] = x0 * plane[rows]
    return np.sum(out * m3) + np.sum(m3[:, :, 1][rows] ** 2)


# -- the checks (check_three_ways: test_jit_breadth_fuzzfound.py) ------------------------------
RNG = np.random.default_rng(7)


def r(*shape, scale=1.0):
    # random values: none within a difference step of a mask's threshold (almost surely)
    return RNG.normal(size=shape) * scale


M = r(3, 4, scale=1.5)
M3 = r(2, 3, 4)
FULL = np.ones((3, 4), dtype=bool)
EMPTY = np.zeros((3, 4), dtype=bool)
SOME = M > 0.3


@pytest.mark.parametrize("f, args, wrt", [
    (masked_add_fuzz, (M, r(3)), (0, 1)),
    (masked_add_fuzz, (r(2, 3, 2, scale=2.0), r(3)), (0, 1)),
    (masked_write_fuzz, (M, 0.7), (0, 1)),
    (masked_read, (M,), (0,)),
    (masked_read, (M3,), (0,)),
    (masked_read, (r(4, 1),), (0,)),
    (masked_write_scalar, (M, 0.8), (0, 1)),
    (masked_write_scalar, (M3, -1.1), (0, 1)),
    (masked_write_array, (M, r(3, 4)), (0, 1)),
    (masked_write_array, (M3, r(2, 3, 4)), (0, 1)),
    (masked_add_array, (M, r(3, 4)), (0, 1)),
    (masked_by_argument, (M, SOME, 1.3), (0, 2)),
    (masked_by_argument, (M, FULL, 1.3), (0, 2)),
    (masked_by_argument, (M, EMPTY, 1.3), (0, 2)),
    (masked_length_one_value, (M, 0.6), (0, 1)),
    (masked_in_loop_and_branch, (M, 1.2), (0, 1)),
    (masked_in_loop_and_branch, (-np.abs(M) - 0.1, 1.2), (0, 1)),
    (masked_in_loop_saved, (M, 0.7), (0, 1)),
    (masked_leading, (M3, r(4)), (0, 1)),
    (masked_through_transpose, (M, 1.7), (0, 1)),
    (masked_through_row_slice, (M, 0.4), (0, 1)),
    (masked_plane_view, (1.3, r(2, 3, 2)), (0, 1)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_masked_program_agrees_with_jit_false_and_differences(f, args, wrt):
    check_three_ways(f, args, wrt)


@pytest.mark.parametrize("f, args", [
    (masked_add_fuzz, (M, r(3))),
    (masked_read, (M3,)),
    (masked_in_loop_saved, (M, 0.7)),
    (masked_leading, (M3, r(4))),
], ids=lambda v: getattr(v, "__name__", ""))
def test_forward_mode_and_hvp_agree(f, args):
    # jvp and hvp (forward mode over the adjoint) with jit=True: the same masks in the
    # tangent code and in the adjoint's; against jit=False and central differences
    v = r(*np.shape(args[0]))
    eps = 1e-6

    def moved(step):
        return [args[0] + step * v, *copies(args[1:])]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        plain, jitted = (jvp(f, jit=jit)(*copies(args), v)[1] for jit in (False, True))
        assert jitted == pytest.approx(plain, rel=1e-10, abs=1e-12)
        assert plain == pytest.approx((f(*moved(eps)) - f(*moved(-eps))) / (2 * eps),
                                      rel=1e-5, abs=1e-6)
        plain, jitted = (hvp(f, jit=jit)(*copies(args), v) for jit in (False, True))
        np.testing.assert_allclose(jitted, plain, rtol=1e-10, atol=1e-12)
        gradient = grad(f)
        np.testing.assert_allclose(
            plain, (gradient(*moved(eps)) - gradient(*moved(-eps))) / (2 * eps),
            rtol=1e-5, atol=1e-6)


def test_the_empty_and_the_full_selection_are_what_they_say():
    # the two extreme masks reach the code paths they name: nothing written, all written
    _, (g_empty, _) = value_and_grad(masked_by_argument, wrt=(0, 2), jit=True)(
        M.copy(), EMPTY, 1.3)
    np.testing.assert_allclose(g_empty, 2.0 * M, rtol=1e-12)
    _, (_, c_full) = value_and_grad(masked_by_argument, wrt=(0, 2), jit=True)(
        M.copy(), FULL, 1.3)
    assert c_full == pytest.approx(np.sum(M) + 2.0 * 1.3 * np.sum(M * M), rel=1e-12)


# -- the overloads against NumPy -----------------------------------------------------------
@numba.njit
def read(x, mask):
    return x[mask]


@numba.njit
def write(x, mask, value):
    x[mask] = value


@numba.njit
def add(x, mask, value):
    x[mask] += value


def numpy_write(x, mask, value):
    x[mask] = value


def numpy_add(x, mask, value):
    x[mask] += value


def whole(b):
    return b


def transposed(b):
    return b.T


def strided_rows(b):
    return b[1:4, ::2]


def first_plane(b):
    return b[..., 0]


X2 = r(3, 4)
X3 = r(2, 3, 4)
LEAD = X3[:, :, 0] > 0.0
N2, N3, NL = int(np.sum(X2 > 0)), int(np.sum(X3 > 0)), int(np.sum(LEAD))
STRIDED = np.array([[True, False], [False, True], [True, True]])
INTS = np.arange(12).reshape(3, 4)


@pytest.mark.parametrize("base, view, mask, value", [
    (X2, whole, X2 > 0, 7.0), (X2, whole, X2 > 0, np.arange(N2, dtype=float)),
    (X2, whole, X2 > 0, np.array([2.5])), (X2, whole, X2 > 0, np.array(2.5)),
    (X2, whole, X2 > 0, True), (X2, whole, X2 > 9.0, 1.0), (X2, whole, X2 > 9.0, np.zeros(0)),
    (X2, whole, X2 > 9.0, np.ones(1)), (X2, whole, X2 > -9.0, -1.0),
    (X3, whole, X3 > 0, 3.0), (X3, whole, X3 > 0, r(N3)),
    (X3, whole, LEAD, 1.5), (X3, whole, LEAD, r(4)), (X3, whole, LEAD, r(NL, 4)),
    (X3, whole, LEAD, r(NL, 1)),
    (X3, first_plane, LEAD, r(NL)), (INTS, whole, INTS % 3 == 0, 5),
    (X2, transposed, X2.T > 0, r(N2)), (X2, transposed, X2.T > 0, 1.0),
    (r(5, 4), strided_rows, STRIDED, r(4)),
], ids=lambda v: v.__name__ if callable(v) else "x".join(map(str, np.shape(v))) or str(v))
def test_masked_indexing_is_numpys(base, view, mask, value):
    x = view(base)
    got = read(x, mask)
    np.testing.assert_array_equal(got, x[mask])
    assert got.shape == x[mask].shape and got.flags.c_contiguous
    for ours, numpys in ((write, numpy_write), (add, numpy_add)):
        written, expected = base.copy(), base.copy()
        ours(view(written), mask, value)  # in place, through the view
        numpys(view(expected), mask, value)
        np.testing.assert_array_equal(written, expected)


def test_a_value_with_leading_ones_is_written_as_numpy_does():
    # x[m] = v drops v's leading dimensions of size 1 (a mask of x's leading dimensions)
    value = r(1, NL, 4)
    written, expected = X3.copy(), X3.copy()
    write(written, LEAD, value)
    expected[LEAD] = value
    np.testing.assert_array_equal(written, expected)
    with pytest.raises(ValueError):
        write(X3.copy(), LEAD, r(2, NL, 4))


@pytest.mark.parametrize("call, args, error", [
    (read, (X2, np.ones((4, 3), dtype=bool)), IndexError),
    (read, (X3, np.ones((3, 2), dtype=bool)), IndexError),
    (read, (np.ones(3), np.ones((3, 1), dtype=bool)), IndexError),
    (write, (X2.copy(), np.ones((3, 3), dtype=bool), 1.0), IndexError),
    (write, (X2.copy(), X2 > 0, np.ones(N2 + 1)), ValueError),
    (write, (X2.copy(), X2 > 0, np.ones((1, N2))), TypeError),  # NumPy: 0-d or 1-d values
    (write, (X3.copy(), LEAD, np.ones((NL, 3))), ValueError),
], ids=["read-transposed-mask", "read-short-mask", "read-mask-too-deep", "write-short-mask",
        "write-too-many-values", "write-2d-values", "write-rows-of-3-into-4"])
def test_masked_indexing_raises_numpys_errors(call, args, error):
    with pytest.raises(error):
        (numpy_write if call is write else lambda x, m: x[m])(*copies(args))
    with pytest.raises(error):
        call(*args)


def test_a_value_sharing_memory_with_the_array_is_copied_or_refused():
    # NumPy reads an overlapping value in full first with a mask of leading dimensions...
    x = np.arange(24.0).reshape(2, 3, 4)
    got, expected = x.copy(), x.copy()
    write(got, LEAD | True, got.reshape(6, 4)[::-1])
    expected[LEAD | True] = expected.reshape(6, 4)[::-1]
    np.testing.assert_array_equal(got, expected)
    # ... but reads it while it writes with a mask of every dimension: refused under jit
    y = np.arange(12.0).reshape(3, 4)
    with pytest.raises(AdjointError, match="sharing memory with x.*v.copy"):
        write(y, FULL, y.ravel()[::-1])
    write(y, FULL, y.ravel()[::-1].copy())
    np.testing.assert_array_equal(y, np.arange(12.0)[::-1].reshape(3, 4))


LATE = """
import numba, numpy as np

@numba.njit
def first(x, m):  # Numba compiles (and loads its own indexing) before adjoint's is imported
    return x[m]

first(np.ones((2, 2)), np.ones(2, dtype=np.bool_))
import adjoint.runtime_numba  # noqa

@numba.njit
def late(x):
    return x[x > 0.0].sum()

x = np.arange(-3.0, 9.0).reshape(3, 4)
print(late(x) == x[x > 0.0].sum())
"""


def test_the_overloads_win_whatever_the_import_order():
    # registered for the CPU target, they are tried before Numba's generic array indexing
    # (which accepts a 2-D mask with a 3-D result type, then fails inside Numba), also when
    # Numba compiled before adjoint registered them
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", LATE], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
