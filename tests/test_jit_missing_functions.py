"""Functions Numba lacks compile to our implementations (runtime_missing_numba.py): each
agrees with the real function on random inputs and edge values, as a scalar, a 1-D and a
2-D array, and grad(jit=True) of a function using them agrees with jit=False and with
central differences. Compiles are grouped (one njit per family) to keep the file quick."""
import math

import numba
import numpy as np
import pytest
import scipy.special as sp

import adjoint
import adjoint.runtime_numba

# the Numba versions (SciPy's special functions register once scipy.special is imported)
adjoint.runtime_numba.register()

rng = np.random.default_rng(19)
EDGES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 6.5, -7.5, 40.0, -40.0, -25.0, -50.0,
                  -300.0, 300.0, 1e-300, -1e-12, 171.5, 172.0, np.inf, -np.inf, np.nan])
POINTS = np.concatenate([rng.normal(size=30) * 8.0, EDGES])
PROBS = np.concatenate([rng.uniform(size=30), [0.0, 1.0, 0.5, 0.3, 0.65, 0.31, 0.64, 1e-12,
                                               1.0 - 1e-12, -0.1, 1.1, np.nan]])
UNARY = ["expit", "logit", "erf", "erfc", "gammaln", "gamma", "ndtr", "log_ndtr"]


@numba.njit
def unary(x):
    """Every unary function on x (one compile per argument type)."""
    return (sp.expit(x), sp.logit(x), sp.erf(x), sp.erfc(x), sp.gammaln(x), sp.gamma(x),
            sp.ndtr(x), sp.log_ndtr(x))


@numba.njit
def binary(x, y):
    return sp.xlogy(x, y), sp.xlog1py(x, y)


def close(got, expected, what, rtol=1e-14, atol=0.0):
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=what)
    assert np.shape(got) == np.shape(expected), what


# libm's lgamma loses relative accuracy next to its zeros at 1 and 2 (5.8e-6 at 0.99999 is
# off by 5e-16), so gammaln's values get an absolute tolerance there
TOLERANCE = {"gammaln": {"rtol": 1e-13, "atol": 1e-15}, "gamma": {"rtol": 1e-13},
             "erfc": {"rtol": 1e-13}, "ndtr": {"rtol": 1e-13}, "log_ndtr": {"rtol": 1e-13}}


@pytest.mark.parametrize("shape", [(), (42,), (6, 7)])
def test_unary_functions_agree_with_scipy(shape):
    size = int(np.prod(shape))
    for values, names in ((POINTS, [n for n in UNARY if n != "logit"]), (PROBS, ["logit"])):
        x = values[:size].reshape(shape) if shape else values[-4]
        if shape == (42,):
            x = values[-42:]  # the edge values
        got = unary(x)
        for name in names:
            with np.errstate(all="ignore"):
                expected = getattr(sp, name)(x)
            close(got[UNARY.index(name)], expected, f"{name}{shape}", **TOLERANCE.get(name, {}))


def test_unary_functions_take_integers_and_very_negative_log_ndtr():
    got = unary(3)
    for name, value in zip(UNARY, got):
        close(value, getattr(sp, name)(3), name, rtol=1e-13)
    tail = -np.array([19.9, 20.0, 20.1, 38.0, 40.0, 1e3, 1e5, 1e150])
    close(unary(tail)[UNARY.index("log_ndtr")], sp.log_ndtr(tail), "log_ndtr tail")


def test_xlogy_and_xlog1py_agree_with_scipy_and_broadcast():
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0, 0.5, 3.0, np.nan, 0.0, 2.0, 1.5])
    y = np.array([0.0, -1.0, np.nan, 2.0, 0.0, -1.0, -2.0, 3.0, -1.0, 1.0, -2.0, np.inf, 1e-3])
    x, y = np.concatenate([x, rng.normal(size=20)]), np.concatenate([y, rng.uniform(size=20)])
    for args in ((x, y), (x[:, None], y[None, :]), (2.5, y), (x, 0.25), (0.0, 0.0),
                 (1.5, 2.0), (3, 4)):
        got = binary(*args)
        with np.errstate(all="ignore"):
            close(got[0], sp.xlogy(*args), f"xlogy{np.shape(args[0])}")
            close(got[1], sp.xlog1py(*args), f"xlog1py{np.shape(args[0])}")


def test_math_fmod_agrees_with_python_and_refuses_a_zero_divisor():
    fmod = numba.njit(lambda a, b: math.fmod(a, b))
    for a, b in ((5.5, 2.0), (-5.5, 2.0), (5.5, -2.0), (1e300, 3.0), (0.3, 0.1), (-0.0, 1.0),
                 (7.0, np.inf), (np.nan, 1.0)):
        assert np.array_equal(fmod(a, b), math.fmod(a, b), equal_nan=True), (a, b)
    assert fmod(7, 3) == 1.0
    with pytest.raises(ValueError):
        fmod(1.0, 0.0)


def test_digamma_and_polygamma_agree_with_scipy():
    x = np.concatenate([rng.normal(size=20) * 5.0, EDGES, [1e-10, -1e-10, 1.4616321449683622,
                                                           100.5, -7.3, 1e5]])
    family = numba.njit(lambda x: (sp.psi(x), sp.digamma(x), sp.polygamma(1, x),
                                   sp.polygamma(2, x), sp.polygamma(3, x)))
    with np.errstate(all="ignore"):
        expected = (sp.psi(x), sp.digamma(x), sp.polygamma(1, x), sp.polygamma(2, x),
                    sp.polygamma(3, x))
    # (digamma's root at 1.4616...: 4e-16 against SciPy's -9e-17, hence atol)
    for n, (got, want) in enumerate(zip(family(x), expected)):
        close(got, want, f"form {n}", rtol=1e-13, atol=1e-15)
    for n, (got, want) in enumerate(zip(family(2.5), family.py_func(2.5))):
        close(got, want, f"form {n} of a number", rtol=1e-13)
    orders = numba.njit(lambda n, x: sp.polygamma(n, x))
    close(orders(np.array([0, 1, 2]), 1.5), sp.polygamma(np.array([0, 1, 2]), 1.5), "orders",
          rtol=1e-13, atol=1e-15)


def test_ndtri_and_erfinv_agree_with_scipy_into_the_tails():
    p = np.concatenate([rng.uniform(size=30), [0.0, 1.0, 0.5, 0.5 + 1e-12, 1e-300, 5e-324,
                                               1e-20, 0.02425, 0.0242, 0.97575, 1.0 - 1e-16,
                                               1e-10, -0.1, 1.1, np.nan]])
    y = np.concatenate([rng.uniform(-1.0, 1.0, size=30), [0.0, -0.0, 1.0, -1.0, 0.5, -0.5,
                                                           1e-10, -1e-300, 1.0 - 1e-16,
                                                           -1.0 + 1e-16, 0.999999, 1.1,
                                                           np.nan]])
    quantiles = numba.njit(lambda p, y: (sp.ndtri(p), sp.erfinv(y)))
    for shape in ((-1,), (5, -1)):
        got = quantiles(p[:40].reshape(shape), y[:40].reshape(shape))
        close(got[0], sp.ndtri(p[:40].reshape(shape)), f"ndtri{shape}")
        close(got[1], sp.erfinv(y[:40].reshape(shape)), f"erfinv{shape}")
    got = quantiles(p, y)
    close(got[0], sp.ndtri(p), "ndtri edges")
    close(got[1], sp.erfinv(y), "erfinv edges")
    close(quantiles(0.3, 0.3), (sp.ndtri(0.3), sp.erfinv(0.3)), "numbers")


def f_special(x):
    return np.sum(sp.expit(x) * sp.erf(x) + sp.log_ndtr(x) + sp.gammaln(x * x + 1.0)
                  + sp.xlogy(x, x * x + 0.5) + sp.ndtr(x) * sp.erfc(x))


def f_scalar(x):
    return (math.fmod(x * 3.0, 0.7) + sp.logit(sp.expit(x) * 0.5 + 0.2) + sp.gamma(x * x + 0.5)
            + sp.psi(x * x + 1.0) + sp.polygamma(1, x * x + 0.5) + sp.xlog1py(x, x * x)
            + sp.ndtri(sp.expit(x)) * sp.erfinv(math.tanh(x) * 0.9))


def central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_gradients_under_jit_agree_with_python_mode_and_central_differences():
    x = rng.normal(size=(3, 4))
    compiled = adjoint.grad(f_special, jit=True)(x)
    np.testing.assert_allclose(compiled, adjoint.grad(f_special)(x), rtol=1e-12)
    np.testing.assert_allclose(compiled, central(f_special, x), rtol=1e-6, atol=1e-8)
    for s in (0.37, -1.2):
        compiled = adjoint.grad(f_scalar, jit=True)(s)
        assert compiled == pytest.approx(adjoint.grad(f_scalar)(s), rel=1e-12)
        expected = (f_scalar(s + 1e-6) - f_scalar(s - 1e-6)) / 2e-6
        assert compiled == pytest.approx(expected, rel=1e-6)


@numba.njit
def reductions(x):
    return (sp.logsumexp(x), sp.logsumexp(x, axis=0), sp.logsumexp(x, axis=-1),
            sp.softmax(x), sp.softmax(x, axis=0), sp.log_softmax(x),
            sp.log_softmax(x, axis=-1))


def scipy_reductions(x):
    return (sp.logsumexp(x), sp.logsumexp(x, axis=0), sp.logsumexp(x, axis=-1),
            sp.softmax(x), sp.softmax(x, axis=0), sp.log_softmax(x),
            sp.log_softmax(x, axis=-1))


def test_logsumexp_softmax_and_log_softmax_agree_with_scipy():
    # ours sums log1p(the entries other than the max): where one entry dominates it is
    # closer than SciPy's log(1 + s) in log_softmax (-4.2e-18 against 0 for [0, -40]),
    # hence the absolute tolerance
    # (1-D and 2-D float arrays only: each array type compiles all seven forms)
    cases = [rng.normal(size=7) * 10, rng.normal(size=(3, 4)) * 30, rng.normal(size=(4, 3)),
             np.array([0.0, -40.0]), np.array([800.0, 800.0, -np.inf]),
             np.array([[1000.0, 1000.0, -np.inf], [-np.inf, -np.inf, -np.inf]]),
             np.array([np.inf, 1.0]), np.array([np.nan, 1.0])]
    for x in cases:
        with np.errstate(all="ignore"):
            expected = scipy_reductions(x)
        for k, (got, want) in enumerate(zip(reductions(x), expected)):
            close(got, want, f"form {k} of {x!r}", rtol=1e-13, atol=1e-15)
    along = numba.njit(lambda x, axis: sp.logsumexp(x, axis=axis))
    ints, cube = np.array([[1, 2, 3], [4, 5, 6]]), rng.normal(size=(2, 3, 4))
    close(along(ints, 1), sp.logsumexp(ints, axis=1), "integers", rtol=1e-13)
    for axis in (0, 1, -1):
        close(along(cube, axis), sp.logsumexp(cube, axis=axis), f"3-D, axis {axis}", rtol=1e-13)
    with pytest.raises(ValueError):
        along(np.ones((2, 2)), 2)


def f_softmax(x):
    return np.sum(sp.log_softmax(x, axis=1) * x) + sp.logsumexp(x) + np.sum(
        sp.softmax(x, axis=0) ** 2) + np.sum(sp.logsumexp(x, axis=1))


def test_softmax_family_gradients_under_jit():
    x = rng.normal(size=(3, 4))
    compiled = adjoint.grad(f_softmax, jit=True)(x)
    np.testing.assert_allclose(compiled, adjoint.grad(f_softmax)(x), rtol=1e-12)
    np.testing.assert_allclose(compiled, central(f_softmax, x), rtol=1e-6, atol=1e-8)


@numba.njit
def shapes(a, b, m, k):
    return (np.inner(a, b), np.inner(m, b), np.inner(m, m), np.tile(a, 3), np.tile(m, (2, 3)),
            np.tile(m, (2, 1, 2)), np.diagonal(m), np.diagonal(m, k))


def test_inner_tile_and_diagonal_agree_with_numpy():
    for m in (rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), np.arange(12.0).reshape(4, 3).T):
        a, b = rng.normal(size=m.shape[1]), rng.normal(size=m.shape[1])
        for k in (-5, -1, 0, 2, 7):
            got = shapes(a, b, m, k)
            expected = (np.inner(a, b), np.inner(m, b), np.inner(m, m), np.tile(a, 3),
                        np.tile(m, (2, 3)), np.tile(m, (2, 1, 2)), np.diagonal(m),
                        np.diagonal(m, k))
            for n, (value, want) in enumerate(zip(got, expected)):
                close(value, want, f"form {n} of {m.shape}, k={k}", rtol=1e-13)
    inner = numba.njit(lambda a, b: np.inner(a, b))
    ints = np.arange(6).reshape(2, 3)
    assert inner(ints, ints).dtype == np.inner(ints, ints).dtype
    close(inner(rng.normal(size=(2, 3, 4)), np.ones((5, 4))).shape, (2, 3, 5), "3-D inner")
    close(inner(2.5, np.arange(3.0)), np.inner(2.5, np.arange(3.0)), "a number")
    tile = numba.njit(lambda a: np.tile(a, 3))
    close(tile(1.5), np.tile(1.5, 3), "a number tiled")
    assert tile(np.zeros((0, 2))).shape == np.tile(np.zeros((0, 2)), 3).shape
    with pytest.raises(ValueError):
        inner(np.ones(3), np.ones(4))


def f_shapes(x):
    m = x.reshape(3, 4)
    return (np.sum(np.tile(m, (2, 1)) ** 2 * np.tile(x[:4], 6).reshape(6, 4))
            + np.sum(np.inner(m, m) * np.inner(m, x[4:8])) + np.inner(x[:4], x[8:])
            + np.sum(np.diagonal(m, 1) ** 3) + np.sum(np.diagonal(m) * np.diagonal(m, -1)[0]))


def test_inner_tile_diagonal_gradients_under_jit():
    x = rng.normal(size=12)
    compiled = adjoint.grad(f_shapes, jit=True)(x)
    np.testing.assert_allclose(compiled, adjoint.grad(f_shapes)(x), rtol=1e-12)
    np.testing.assert_allclose(compiled, central(f_shapes, x), rtol=1e-6, atol=1e-8)


LATE_IMPORT = """
import sys
import numpy as np
import adjoint

def square(x):
    return np.sum(x * x)

x = np.linspace(-1.0, 1.0, 5)
adjoint.grad(square, jit=True)(x)
assert "scipy.special" not in sys.modules, "a jit=True build imported scipy.special"
import scipy.special

def smooth(x):
    return np.sum(scipy.special.expit(x) * scipy.special.erf(x))

dx = adjoint.grad(smooth, jit=True)(x)
expected = adjoint.grad(smooth)(x)
assert np.allclose(dx, expected, rtol=1e-12, atol=0), (dx, expected)
print("ok")
"""


def test_scipy_special_is_registered_when_imported_after_a_first_jit_build(tmp_path):
    """SciPy's special module is not imported by jit=True (it cost 0.3 s of every first
    call); our versions register at the first build after the user imports it."""
    import os
    import subprocess
    import sys

    script = tmp_path / "late_import.py"
    script.write_text(LATE_IMPORT)
    env = dict(os.environ, ADJOINT_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path / "nb"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
