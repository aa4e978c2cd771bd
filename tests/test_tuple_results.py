"""Operations that return tuples of arrays of different shapes: ``w, V = np.linalg.eigh(A)``.

The adjoint of such a result is carried entry by entry (like a list's), so either entry,
or both, may carry a derivative. Eigenvectors are defined up to sign: the functions here
depend on them only through sign-free expressions, as a differentiable function must.
"""
import numpy as np
import pytest

from adjoint import AdjointError, grad, hvp, jvp
from adjoint.check import numeric_gradient


def symmetric(n, seed, batch=()):
    a = np.random.default_rng(seed).normal(size=batch + (n, n))
    return a + np.swapaxes(a, -1, -2)


def values_only(A):
    w, V = np.linalg.eigh(A)
    return np.sum(w * w * w)


def vectors_only(A):
    w, V = np.linalg.eigh(A)
    return np.sum(V[..., 0] ** 4) + np.sum((V * V) @ np.arange(V.shape[-1]))


def both(A, c):
    w, V = np.linalg.eigh(A)
    return np.sum(np.exp(w) * (V * V)[..., 1, :]) * c


def upper(A):
    w, V = np.linalg.eigh(A, UPLO="U")
    return np.sum(w * np.sum(V * V * np.arange(1.0, 1.0 + V.shape[-1]), axis=-2) ** 2)


def in_a_loop(A):
    s = 0.0
    for k in range(2):
        w, V = np.linalg.eigh(A * (k + 1.0))
        s = s + np.sum(w) * np.sum(V[0] ** 2)
    return s


def numeric(fn, A, *rest):
    # eigh reads one triangle, so does the difference quotient: perturb entries one by one
    return numeric_gradient(fn, [A, *rest], 0, {})


@pytest.mark.parametrize("fn", [values_only, vectors_only, upper, in_a_loop])
@pytest.mark.parametrize("shape", [(3, ()), (4, ()), (3, (2,))], ids=["3x3", "4x4", "2x3x3"])
def test_eigh_matches_central_differences(fn, shape):
    n, batch = shape
    if fn is in_a_loop and batch:
        pytest.skip("V[0] is a matrix row only for one matrix")
    A = symmetric(n, 7 + n, batch)
    np.testing.assert_allclose(grad(fn)(A), numeric(fn, A), rtol=1e-5, atol=1e-7)


def test_eigh_both_results_and_another_argument():
    A = symmetric(3, 3)
    dA, dc = grad(both, wrt=(0, 1))(A, 0.7)
    np.testing.assert_allclose(dA, numeric(both, A, 0.7), rtol=1e-5, atol=1e-7)
    assert dc == pytest.approx(both(A, 1.0), rel=1e-12)


def test_eigh_reads_only_the_lower_triangle_like_numpy():
    A = symmetric(3, 5)
    g = grad(vectors_only)(A)
    assert np.all(np.triu(g, 1) == 0)


@pytest.mark.parametrize("fn", [values_only, vectors_only])
def test_eigh_in_forward_mode(fn):
    A, D = symmetric(3, 11), np.random.default_rng(12).normal(size=(3, 3))
    value, tangent = jvp(fn)(A, D)
    assert value == pytest.approx(fn(A), rel=1e-12)
    assert tangent == pytest.approx(np.sum(numeric(fn, A) * D), rel=1e-5)


def test_eigh_second_derivatives_through_eigenvectors_are_refused_where_written():
    A, D = symmetric(3, 1), symmetric(3, 2)
    with pytest.raises(AdjointError, match="eigh") as info:
        hvp(vectors_only)(A, D)
    assert "test_tuple_results.py" in str(info.value)


def test_eigh_under_jit_is_refused_with_the_users_line():
    with pytest.raises(AdjointError) as info:
        grad(vectors_only, jit=True)(symmetric(3, 1))
    assert "test_tuple_results.py" in str(info.value)


# -- svd with vectors ---------------------------------------------------------------------
def matrix(m, n, seed, batch=()):
    return np.random.default_rng(seed).normal(size=batch + (m, n))


def svd_all(A):
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    # u_i v_i^T is the same for either sign of the pair
    first = U[..., :, :1] * Vh[..., :1, :]
    return np.sum(first * np.arange(A.shape[-1])) + np.sum(s ** 3) + np.sum((U * U)[..., 0, :])


def svd_vectors_only(A):
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    return np.sum((Vh * Vh) @ np.arange(1.0, A.shape[-1] + 1.0))


def svd_full_square(A):
    U, s, Vh = np.linalg.svd(A)  # full_matrices=True: the same as reduced when square
    return np.sum(U[:, 1] * Vh[1, :] * 2.0) + np.sum(s)


def svd_full_uses_the_completion(A):
    U, s, Vh = np.linalg.svd(A)  # 4x2: U is 4x4, its last two columns are arbitrary
    return np.sum(U[:, 3] ** 2 * np.arange(4.0))


@pytest.mark.parametrize("fn", [svd_all, svd_vectors_only])
@pytest.mark.parametrize("shape", [(3, 3, ()), (4, 2, ()), (2, 4, ()), (3, 2, (2,))],
                         ids=["3x3", "4x2", "2x4", "2x3x2"])
def test_svd_matches_central_differences(fn, shape):
    m, n, batch = shape
    A = matrix(m, n, m * 10 + n, batch)
    np.testing.assert_allclose(grad(fn)(A), numeric(fn, A), rtol=1e-5, atol=1e-7)


def test_svd_full_matrices_on_a_square_matrix():
    A = matrix(3, 3, 21)
    np.testing.assert_allclose(grad(svd_full_square)(A), numeric(svd_full_square, A),
                               rtol=1e-5, atol=1e-7)


def test_svd_arbitrary_completion_is_refused_when_it_matters():
    with pytest.raises(ValueError, match="full_matrices=False"):
        grad(svd_full_uses_the_completion)(matrix(4, 2, 22))


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_svd_in_forward_mode(shape):
    A, D = matrix(*shape, 31), matrix(*shape, 32)
    value, tangent = jvp(svd_all)(A, D)
    assert value == pytest.approx(svd_all(A), rel=1e-12)
    assert tangent == pytest.approx(np.sum(numeric(svd_all, A) * D), rel=1e-5)


def test_svd_singular_values_alone_keep_their_rule():
    def values(A):
        return np.sum(np.linalg.svd(A, compute_uv=False) ** 2)
    A = matrix(3, 2, 41)
    np.testing.assert_allclose(grad(values)(A), 2 * A, rtol=1e-10)
