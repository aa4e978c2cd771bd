"""Python's own types as dtypes under jit=True (runtime_numba_dtypes.py, jit_dtypes.py):
``x.astype(float)``, ``np.zeros(n, dtype=int)``, ``np.ones(shape, dtype=bool)`` compile,
with NumPy's values and dtypes; gradients agree with jit=False and central differences."""
import numpy as np
import pytest

from adjoint import JitError, grad, hvp
from tests.test_jit_breadth_fuzzfound import check_three_ways

RNG = np.random.default_rng(24)
X = RNG.normal(size=5)
M = RNG.normal(size=(3, 4))


def relu_by_astype(x):
    on = (x > 0).astype(float)
    return np.sum(on * x * x)


def counts_and_masks(x, m):
    keep = np.ones(m.shape, dtype=bool)
    keep[0, :] = x[:4] > 0
    rows = np.zeros(m.shape[0], dtype=int)
    rows[1] = 2
    total = np.zeros(4, float)
    for i in range(3):
        total = total + m[rows[i]] * keep[i].astype(np.float64)
    return np.sum(total * x[:4])


def asarray_and_full(x):
    start = np.asarray(x[:3], dtype=float)
    weights = np.full(3, 2, dtype=float) + np.arange(3, dtype=float)
    scale = np.eye(3, dtype=float) + np.identity(3, dtype=float)
    return np.sum((scale @ start) * weights * start)


def integer_counts(x):
    steps = (np.abs(x) * 3).astype(int)  # not differentiable: a count per entry
    return np.sum(x * x * steps.astype(float))


@pytest.mark.parametrize("f, args, wrt", [
    (relu_by_astype, (X,), (0,)),
    (counts_and_masks, (X, M), (0, 1)),
    (asarray_and_full, (X,), (0,)),
    (integer_counts, (X,), (0,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_python_types_as_dtypes_compile_and_agree(f, args, wrt):
    check_three_ways(f, args, wrt)


def test_hvp_with_jit_of_astype():
    v = RNG.normal(size=X.shape)
    expected = hvp(asarray_and_full)(X, v)
    np.testing.assert_allclose(hvp(asarray_and_full, jit=True)(X, v), expected,
                               rtol=1e-12, atol=1e-12)


def test_the_jit_text_is_the_python_text_but_for_astypes_keyword():
    jitted, plain = grad(relu_by_astype, jit=True), grad(relu_by_astype)
    jitted(X), plain(X)
    assert jitted.source == plain.source and "on = t1.astype(float)" in jitted.source
    keyword = grad(cast_by_keyword, jit=True)
    np.testing.assert_allclose(keyword(X), grad(cast_by_keyword)(X), rtol=1e-12)
    assert "t1 = x.astype(np.int32)" in keyword.source


def cast_by_keyword(x):
    return np.sum(x * x.astype(dtype=np.int32))


def as_mask(v):
    return (v > 0).astype(float) + np.asarray(v < -1, dtype=float)


def calls_a_helper_numba_compiles(x, c):
    # as_mask's argument does not depend on x: Numba compiles as_mask as it is written
    return np.sum(x * as_mask(c * np.ones(5)))


def test_a_users_function_numba_compiles_as_written():
    check_three_ways(calls_a_helper_numba_compiles, (X, -1.5), (0,))
    check_three_ways(calls_a_helper_numba_compiles, (X, 0.5), (0,))


@pytest.mark.parametrize("kind", [bool, int, float, complex], ids=lambda k: k.__name__)
def test_constructors_in_a_function_numba_compiles_match_numpy(kind):
    import numba

    from adjoint import runtime_numba  # noqa: F401 - registers the overloads

    def made(n):
        return (np.zeros(n, dtype=kind), np.ones((n, 2), kind), np.empty(n, kind).shape,
                np.full(n, 1, dtype=kind), np.zeros_like(np.ones(n), dtype=kind),
                np.ones_like(np.ones(n), kind), np.empty_like(np.ones(n), kind).shape,
                np.full_like(np.ones(n), 1, kind), np.array([1, 0, 1], dtype=kind),
                np.arange(2, dtype=kind), np.eye(n, dtype=kind), np.identity(n, kind))

    for got, want in zip(numba.njit(made)(3), made(3)):
        if isinstance(want, tuple):
            assert got == want
        else:
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


# -- float32 arguments: the seed is a Python float, so adjoints are float64 (as NumPy makes
# them) and Numba's BLAS products, which take one dtype, get their operands cast to it
def two_layers(W1, b1, W2, X):
    hidden = np.maximum(0, X @ W1 + b1)
    return np.sum(np.tanh(hidden @ W2) ** 2) + np.sum(np.dot(W1, b1) ** 2)


def vector_products(x, A, v):
    return np.sum(np.tanh(A @ x) ** 2) + np.dot(x, v) * np.sum(np.outer(x, v))


SHAPES = [(5, 4), (4,), (4, 2), (6, 5)]


def test_float32_arguments_compile_and_agree_with_python_mode():
    args = [RNG.normal(size=s).astype(np.float32) for s in SHAPES]
    plain = grad(two_layers, wrt=(0, 1, 2))(*args)
    jitted = grad(two_layers, wrt=(0, 1, 2), jit=True)(*args)
    for p, j, a in zip(plain, jitted, args):
        assert j.dtype == p.dtype == a.dtype
        np.testing.assert_allclose(j, p, rtol=1e-4, atol=1e-4 * np.max(np.abs(p)))
    args = [RNG.normal(size=4).astype(np.float32), RNG.normal(size=(3, 4)).astype(np.float32),
            RNG.normal(size=4).astype(np.float32)]
    plain = grad(vector_products, wrt=(0, 1, 2))(*args)
    jitted = grad(vector_products, wrt=(0, 1, 2), jit=True)(*args)
    for p, j in zip(plain, jitted):
        np.testing.assert_allclose(j, p, rtol=1e-4, atol=1e-4 * np.max(np.abs(p)))


def test_a_product_of_float32_and_float64_is_numbas_limit_at_the_users_line():
    # Numba's own X @ W1 takes one dtype: the user's primal would not compile either
    args = [RNG.normal(size=s).astype(np.float32) for s in SHAPES[:3]] + [
        RNG.normal(size=SHAPES[3])]
    with pytest.raises(JitError) as caught:
        grad(two_layers, wrt=(0, 1, 2), jit=True)(*args)
    assert f"test_jit_dtypes.py:{two_layers.__code__.co_firstlineno + 1}:" in str(caught.value)
    assert "X @ W1" in str(caught.value) and "jit=False" in str(caught.value)
    assert grad(two_layers, wrt=(0, 1, 2))(*args)[0].dtype == np.float32
