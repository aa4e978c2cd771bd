"""add_at, unindex and written_part under jit=True for a tuple index holding one integer
array beside integers and slices (runtime_numba_tuple_index.py): each agrees with its Python
version (np.add.at; the last write wins) on repeated and negative entries, on NumPy's
placement of the array's axis, and on a broadcast adjoint; and gradients of programs that
read and write that way agree with jit=False and central differences."""
import numba
import numpy as np
import pytest

import adjoint.runtime_numba
from adjoint import runtime, value_and_grad
from tests.test_fuzz import central_difference

adjoint.runtime_numba.register()
rng = np.random.default_rng(23)
REPEATED = np.array([2, 0, 2, -1, 2])
# (shape of x, index builder): the array's axis goes where the integers stand when they are
# adjacent to it, else first (x[0, :, t] has shape (len(t), 4))
CASES = [((3, 4), lambda t: (slice(None), t)),
         ((4, 3), lambda t: (t, slice(None))),
         ((3, 4), lambda t: (1, t)),
         ((2, 3, 4), lambda t: (slice(None), t)),
         ((2, 3, 4), lambda t: (slice(0, 2), t, 1)),
         ((3, 4, 5), lambda t: (0, slice(None), t)),
         ((3, 4, 5), lambda t: (-1, slice(1, 3), t)),
         ((5, 3), lambda t: (t, -2))]


@numba.njit
def add_at(adjoint, index, g):
    return runtime.add_at(adjoint, index, g)


@numba.njit
def unindex(g, x, index):
    return runtime.unindex(g, x, index)


@numba.njit
def written_part(g, index):
    return runtime.written_part(g, index)


def entries_for(axis_length: int) -> np.ndarray:
    return np.array([v for v in REPEATED if -axis_length <= v < axis_length])


@pytest.mark.parametrize("shape, build", CASES)
def test_numba_versions_agree_with_python_ones(shape, build):
    x = rng.normal(size=shape)
    index = build(np.zeros(1, np.int64))
    axis = [p for p, part in enumerate(index) if isinstance(part, np.ndarray)][0]
    index = build(entries_for(shape[axis]))
    g = rng.normal(size=x[index].shape)
    np.testing.assert_allclose(add_at(x.copy(), index, g), runtime.add_at(x.copy(), index, g),
                               rtol=1e-14)
    np.testing.assert_allclose(unindex(g, x, index), runtime.unindex(g, x, index), rtol=1e-14)
    np.testing.assert_array_equal(written_part(x, index), runtime.written_part(x, index))
    # a number and an adjoint of fewer dimensions broadcast, as np.add.at does
    np.testing.assert_allclose(add_at(x.copy(), index, 0.5), runtime.add_at(x.copy(), index, 0.5),
                               rtol=1e-14)
    row = g[(0,) * (g.ndim - 1)] if g.ndim > 1 else g
    np.testing.assert_allclose(add_at(x.copy(), index, row), runtime.add_at(x.copy(), index, row),
                               rtol=1e-14)


def test_a_multidimensional_index_array_beside_an_integer_is_refused():
    x = np.zeros((3, 4))
    with pytest.raises(numba.core.errors.TypingError, match="more than one dimension"):
        add_at(x, (1, np.zeros((2, 2), np.int64)), np.ones((2, 2)))


def gather_columns(icf, columns, mask):
    # the GMM's lower-triangle gather: repeated columns where the mask is 0 (W6)
    picked = icf[:, columns] * mask
    return np.sum(np.sin(picked) * picked)


def written_twice(x, w):
    out = np.zeros((3, 4, 5))
    out[0, :, [1, 3, 1]] = w * x[0, :3][:, None]  # separated: the entries' axis comes first
    out[1, :, [4, -1]] += x[1, 1] * w[:2]
    return np.sum(out * out) + np.sum(x[[0, 0, 2], 1:] ** 2) + np.sum(x[2, [3, 3, 0]] ** 3)


def test_gradients_with_repeated_entries_agree_with_python_mode_and_differences():
    icf = rng.normal(size=(4, 6))
    columns = np.array([0, 0, 3, 0, 5, 0, 2, 0, 0])
    mask = (columns > 0).astype(float)
    x = rng.normal(size=(3, 4))
    w = rng.normal(size=(3, 4))
    for program, args in ((gather_columns, (icf, columns, mask)), (written_twice, (x, w))):
        value, grads = value_and_grad(program, wrt=(0,))(*args)
        jit_value, jit_grads = value_and_grad(program, wrt=(0,), jit=True)(*args)
        np.testing.assert_allclose(jit_value, value, rtol=1e-12)
        np.testing.assert_allclose(jit_grads, grads, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grads[0], central_difference(program, list(args), [0], 1e-6)[0],
                                   rtol=1e-6, atol=1e-8)
