"""The Numba pipeline of generated functions (jit_pipeline.py): array expressions broadcast
with branch-free indices while a generated function compiles, with NumPy's results on every
pattern of length-1 axes; slice assignments of the wrong shape still raise ValueError; and
Numba's own lowerings are back for everything else."""
import itertools

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from numba.np import arrayobj, npyimpl  # noqa: E402

from adjoint import grad  # noqa: E402
from adjoint.jit_pipeline import (  # noqa: E402
    KeepBranches,
    branch_free_indices,
    shape_mismatch,
)

RNG = np.random.default_rng(25)


def combine(a, b, c):
    return a * b - np.exp(c) / (1.0 + a * a)


combine_generated = numba.njit(pipeline_class=KeepBranches)(combine)


def broadcast_shapes():
    """Pairs of shapes: every pattern of length-1 axes of both operands up to 3-d, of either
    operand against a full one in 4-d, and operands of fewer axes (broadcast over the outer
    ones)."""
    full = (3, 2, 4, 5)

    def with_ones(tail, ones):
        return tuple(1 if o else n for o, n in zip(ones, tail))

    for ndim in (1, 2, 3):
        tail = full[-ndim:]
        patterns = list(itertools.product((False, True), repeat=ndim))
        for ones_a, ones_b in itertools.product(patterns, repeat=2):
            yield with_ones(tail, ones_a), with_ones(tail, ones_b)
    for ones in itertools.product((False, True), repeat=4):
        yield with_ones(full, ones), full
        yield full, with_ones(full, ones)
    yield (5,), (3, 2, 4, 5)
    yield (3, 1, 1, 5), (4, 1)
    yield (), (2, 3)


@pytest.mark.parametrize("shapes", list(broadcast_shapes()),
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_broadcasting_matches_numpy(shapes):
    a = RNG.normal(size=shapes[0])
    b = RNG.normal(size=shapes[1])
    c = RNG.normal(size=np.broadcast_shapes(shapes[0], shapes[1])[-1:])
    got = combine_generated(a, b, c)
    assert got.shape == np.broadcast_shapes(a.shape, b.shape, c.shape)
    np.testing.assert_allclose(got, combine(a, b, c), rtol=1e-14, atol=1e-14)


def test_numba_lowering_restored_after_a_build():
    def f(x, w):
        return np.sum((x[:, None, :] * w[None, :, :]) ** 2)

    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=(2, 3))
    dx, dw = grad(f, wrt=(0, 1), jit=True)(x, w)
    assert npyimpl._ArrayIndexingHelper.update_indices is not branch_free_indices
    assert arrayobj.raise_with_shape_context is not shape_mismatch
    ex, ew = grad(f, wrt=(0, 1))(x, w)
    np.testing.assert_allclose(dx, ex, rtol=1e-12)
    np.testing.assert_allclose(dw, ew, rtol=1e-12)

    @numba.njit
    def users_own(a, b):  # compiled by Numba as usual, after a generated function
        return a * b

    np.testing.assert_allclose(users_own(x[:, None, :], w), x[:, None, :] * w)


def assign_column(out, v):
    out[:, 1] = v
    out[1:, :2] = v[:2]
    return out


assign_generated = numba.njit(pipeline_class=KeepBranches)(assign_column)


def test_slice_assignment_checks_shapes():
    np.testing.assert_array_equal(assign_generated(np.zeros((3, 4)), np.arange(3.0)),
                                  assign_column(np.zeros((3, 4)), np.arange(3.0)))
    with pytest.raises(ValueError, match="different size"):
        assign_generated(np.zeros((3, 4)), np.ones(5))


def column_sum(x):
    out = np.zeros((3, 4))
    out[:, 1] = x
    return np.sum(out * out)


def test_mismatched_slice_assignment_is_a_value_error_under_jit():
    with pytest.raises(ValueError):
        grad(column_sum, jit=True)(np.ones(5))
    np.testing.assert_allclose(grad(column_sum, jit=True)(np.arange(3.0)), 2 * np.arange(3.0))
