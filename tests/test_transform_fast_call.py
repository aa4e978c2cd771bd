"""The thin call path of jvp, vjp and hvp (fastcall.py): a call whose arguments are of the
kinds of the last checked call goes straight to the generated function, with the same
results; anything else still goes through every check."""
from __future__ import annotations

import numpy as np
import pytest

from adjoint import ArgumentError, hessian, hvp, jacobian, jvp, vjp


def f(x, y):
    return np.sin(x) * y + x * x


def g(x):
    return np.sum(np.sin(x) * x)


X = np.array([0.3, 0.5, 0.7])
V = np.array([1.0, -0.5, 0.25])


@pytest.mark.parametrize("jit", [False, True])
def test_repeated_calls_take_the_fast_path_and_agree(jit):
    for t, args in [(jvp(f, (0, 1), jit=jit), (1.0, 2.0, (1.0, 0.5))),
                    (hvp(f, (0, 1), jit=jit), (1.0, 2.0, (1.0, 0.5))),
                    (jvp(g, jit=jit), (X, V)), (hvp(g, jit=jit), (X, V))]:
        first = t(*args)
        assert t._fast is not None
        np.testing.assert_equal(t(*args), first)
        assert type(t(*args)) is type(first)
    pullback_vjp = vjp(g, jit=jit)
    value, pullback = pullback_vjp(X)
    assert pullback_vjp._fast is not None
    again, fast_pullback = pullback_vjp(X)
    assert again == value
    np.testing.assert_equal(fast_pullback(2.0), pullback(2.0))


@pytest.mark.parametrize("jit", [False, True])
def test_calls_of_other_kinds_go_through_the_checks(jit):
    t = hvp(g, jit=jit)
    t(X, V)
    with pytest.raises(ArgumentError, match="shape"):
        t(X, V[:2])  # a vector of another shape: refused as on the checked path
    assert t(X[:2], V[:2]).shape == (2,)  # another shape of the same kind: fine
    np.testing.assert_allclose(t(X, V.astype(np.float32)), t(X, V))  # converted, as before
    u = jvp(f, (0, 1), jit=jit)
    u(1.0, 2.0, (1.0, 0.5))
    value, tangent = u(1, 2.0, (1.0, 0.5))  # an int: the checked path, rebuilt for it
    assert tangent == pytest.approx(np.cos(1.0) * 2.0 + 2.0 + np.sin(1.0) * 0.5)


def test_jacobian_and_hessian_agree_with_their_transforms():
    np.testing.assert_allclose(hessian(g, jit=True)(X) @ V, hvp(g, jit=True)(X, V))
    np.testing.assert_allclose(jacobian(g, jit=True)(X) @ V, jvp(g, jit=True)(X, V)[1])
