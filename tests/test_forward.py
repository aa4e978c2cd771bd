"""Forward mode, vjp, Jacobians and second derivatives.

Every forward rule is also checked row by row in test_rules.py (jvp and hvp against central
differences); this file covers control flow, the transforms' APIs, user rules and errors.
"""
import math

import numpy as np
import pytest

import adjoint
from adjoint import (
    AdjointError,
    ArgumentError,
    MissingRuleError,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    vjp,
)

from . import control_flow_cases as c
from .test_control_flow import CASES

# Cases whose second derivatives go through lists built with append (no second-order rule).
LIST_CASES = {"appends_to_a_list", "interleaved_appends_and_reads", "states_in_a_list"}


def as_tuple(wrt):
    return wrt if isinstance(wrt, tuple) else (wrt,)


def random_directions(args, wrt, seed=3):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=np.shape(args[i])) if np.ndim(args[i]) else float(rng.normal())
                 for i in as_tuple(wrt))


def shifted(args, wrt, direction, step):
    out = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    for i, d in zip(as_tuple(wrt), direction):
        out[i] = out[i] + step * d
    return out


def fresh(args):
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


# -- forward mode through control flow ------------------------------------------------------
@pytest.mark.parametrize("fn, args, wrt", CASES,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(CASES)])
def test_jvp_matches_central_differences(fn, args, wrt, eps=1e-6):
    v = random_directions(args, wrt)
    value, tangent = jvp(fn, wrt=as_tuple(wrt))(*fresh(args), v)
    expected = (fn(*shifted(args, wrt, v, eps)) - fn(*shifted(args, wrt, v, -eps))) / (2 * eps)
    assert value == pytest.approx(fn(*fresh(args)), rel=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("fn, args, wrt", CASES,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(CASES)])
def test_hvp_through_loops_and_branches(fn, args, wrt, eps=1e-5):
    v = random_directions(args, wrt)
    wrt = as_tuple(wrt)
    if fn.__name__ in LIST_CASES:
        with pytest.raises(MissingRuleError, match="lists built with append"):
            hvp(fn, wrt=wrt)(*fresh(args), v)
        return
    hv = hvp(fn, wrt=wrt)(*fresh(args), v)
    g = grad(fn, wrt=wrt)
    plus, minus = g(*shifted(args, wrt, v, eps)), g(*shifted(args, wrt, v, -eps))
    for h, p, m in zip(hv, plus, minus):
        expected = (np.asarray(p) - np.asarray(m)) / (2 * eps)
        np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-5)


def test_jvp_leaves_inputs_and_tangents_alone():
    x, v = np.arange(1.0, 7.0), np.ones(6)
    x0, v0 = x.copy(), v.copy()
    jvp(c.element_writes, wrt=0)(x, 6, v)
    jvp(c.writes_into_argument, wrt=0)(x, v)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(v, v0)


def test_jvp_of_an_array_function_has_the_outputs_shape():
    def f(x, W):
        return np.tanh(W @ x) + 1.0

    x, W = np.ones(3), np.arange(6.0).reshape(2, 3) / 10
    value, tangent = jvp(f, wrt=1)(x, W, np.ones_like(W))
    assert value.shape == tangent.shape == (2,)
    np.testing.assert_allclose(tangent, (1 - np.tanh(W @ x) ** 2) * 3.0)


def test_tangent_of_a_scalar_operand_is_spread_to_the_results_shape():
    def f(s, a):
        y = s + a  # only the scalar s varies: y's tangent is s_dot in every entry
        return np.sum(y * y)

    a = np.arange(4.0)
    _, t = jvp(f, wrt=0)(0.5, a, 1.0)
    assert t == pytest.approx(np.sum(2 * (0.5 + a)))


# -- the generated source ---------------------------------------------------------------------
def test_tangent_source_reads_like_the_primal():
    src = jvp(c.if_without_else, wrt=0).source
    assert "def if_without_else_jvp(x, x_dot):" in src
    assert "y_dot = x_dot * 2.0" in src
    assert "# y = y * y" in src
    assert "return y, y_dot" in src
    assert "Tangent (forward mode) of if_without_else" in src


def sines_squared(x, n):
    s = 0.0
    for i in range(n):
        u = np.sin(x * i)  # a call: saved on a stack, not computed again
        s = s + u * u
    return s


def test_hvp_source_is_the_tangent_of_the_generated_adjoint():
    src = hvp(sines_squared, wrt=0).source
    assert "def dsines_squared_jvp(" in src
    # the adjoint's saves carry their tangents: pushed and popped in step
    assert "u_stack_dot.append(u_dot)" in src
    assert "u_dot = u_stack_dot.pop()" in src
    assert "return (s, dx), (s_dot, dx_dot)" in src


# -- vjp ------------------------------------------------------------------------------------
def vector_function(x, W):
    return np.tanh(W @ x) * x[0]


def test_vjp_of_an_array_output_is_the_transposed_jacobian_times_the_cotangent():
    x, W = np.array([0.3, -0.2, 0.5]), np.arange(6.0).reshape(2, 3) / 7
    value, pullback = vjp(vector_function, wrt=(0, 1))(x, W)
    u = np.array([1.5, -0.5])
    gx, gW = pullback(u)
    Jx = jacobian(vector_function, wrt=0, mode="fwd")(x, W)
    JW = jacobian(vector_function, wrt=1, mode="fwd")(x, W)
    np.testing.assert_allclose(value, vector_function(x, W))
    np.testing.assert_allclose(gx, u @ Jx, rtol=1e-12)
    np.testing.assert_allclose(gW, np.tensordot(u, JW, axes=1), rtol=1e-12)


def polar(r, theta):
    return r * math.cos(theta), r * math.sin(theta)


def test_vjp_of_a_tuple_output_takes_a_tuple_cotangent():
    (x, y), pullback = vjp(polar, wrt=(0, 1))(2.0, 0.5)
    assert (x, y) == polar(2.0, 0.5)
    dr, dtheta = pullback((1.0, 0.0))
    assert dr == pytest.approx(math.cos(0.5))
    assert dtheta == pytest.approx(-2.0 * math.sin(0.5))
    with pytest.raises(ArgumentError, match="tuple of 2"):
        pullback(1.0)


def test_vjp_checks_the_cotangents_shape():
    _, pullback = vjp(vector_function)(np.ones(3), np.ones((2, 3)))
    with pytest.raises(ArgumentError, match="shape"):
        pullback(np.ones(3))


# -- Jacobians ------------------------------------------------------------------------------
def finite_difference_jacobian(f, x, *rest, eps=1e-6):
    y = np.asarray(f(x, *rest))
    J = np.empty(y.shape + x.shape)
    for j in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[j] = eps
        J[(...,) + j] = (np.asarray(f(x + e, *rest)) - np.asarray(f(x - e, *rest))) / (2 * eps)
    return J


@pytest.mark.parametrize("shape_in, shape_out", [((3,), 2), ((2, 3), 4), ((5,), 5)])
def test_jacobian_modes_agree_with_each_other_and_finite_differences(shape_in, shape_out):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape_in)
    W = rng.normal(size=(shape_out, int(np.prod(shape_in))))

    def f(x, W):
        return np.sin(W @ np.ravel(x)) * np.sum(x * x)

    forward = jacobian(f, mode="fwd")(x, W)
    reverse = jacobian(f, mode="rev")(x, W)
    assert forward.shape == (shape_out, *shape_in)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forward, finite_difference_jacobian(f, x, W), rtol=1e-6,
                               atol=1e-8)


def test_auto_mode_picks_reverse_for_few_outputs_and_forward_for_many():
    def wide(x):
        return np.array([np.sum(x), np.sum(x * x)])

    def tall(x):
        return np.outer(x, x).ravel()

    J = jacobian(wide)
    J(np.ones(10))
    assert J.mode == "rev" and "last call used rev" in repr(J)
    J = jacobian(tall)
    np.testing.assert_allclose(J(np.arange(3.0)), finite_difference_jacobian(tall, np.arange(3.0)),
                               atol=1e-8)
    assert J.mode == "fwd"
    assert "def tall_jvp" in J.source


def test_jacobian_with_respect_to_several_arguments_and_a_scalar_output():
    def f(x, y):
        return np.sum(x * y) ** 2

    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    Jx, Jy = jacobian(f, wrt=(0, 1), mode="fwd")(x, y)
    gx, gy = grad(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(Jx, gx)
    np.testing.assert_allclose(Jy, gy)


def test_bad_jacobian_mode_is_an_argument_error():
    with pytest.raises(ArgumentError, match="mode"):
        jacobian(vector_function, mode="backward")


# -- Hessians -----------------------------------------------------------------------------------
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_hessian_is_symmetric_and_matches_finite_differences_of_the_gradient():
    x = np.array([0.3, -0.5, 1.2, 0.8])
    H = hessian(rosenbrock)(x)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H, finite_difference_jacobian(grad(rosenbrock), x), rtol=1e-6,
                               atol=1e-5)


def test_hessian_through_a_loop_with_a_branch():
    def f(x, n):
        s = 0.0
        for i in range(n):
            if x[i % 3] > 0:
                s = s + x[i % 3] ** 3 * x[(i + 1) % 3]
            else:
                s = s - np.sin(x[i % 3]) * x[(i + 2) % 3]
        return s

    x = np.array([0.4, -0.7, 1.1])
    H = hessian(f)(x, 7)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, finite_difference_jacobian(lambda x, n: grad(f)(x, n), x, 7),
                               rtol=1e-6, atol=1e-5)


def test_hessian_of_a_float_argument_is_a_float():
    assert hessian(c.recurrence)(0.7, 50) == pytest.approx(
        (grad(c.recurrence)(0.7 + 1e-5, 50) - grad(c.recurrence)(0.7 - 1e-5, 50)) / 2e-5,
        rel=1e-6)


def test_hvp_rejects_a_vector_of_the_wrong_shape_and_array_outputs():
    with pytest.raises(ArgumentError, match="shape"):
        hvp(rosenbrock)(np.ones(4), np.ones(3))
    with pytest.raises(AdjointError):
        hvp(vector_function)(np.ones(3), np.ones((2, 3)), np.ones(3))


# -- jit=True -------------------------------------------------------------------------------
def test_jvp_and_hvp_compile_with_numba():
    value, t = jvp(c.recurrence, wrt=0, jit=True)(0.7, 300, 1.0)
    assert value == pytest.approx(c.recurrence(0.7, 300), rel=1e-12)
    assert t == pytest.approx(grad(c.recurrence)(0.7, 300), rel=1e-10)
    h = hvp(c.recurrence, wrt=0, jit=True)(0.7, 300, 1.0)
    assert h == pytest.approx(hvp(c.recurrence, wrt=0)(0.7, 300, 1.0), rel=1e-10)


def test_jit_hessian_of_an_array_function():
    x = np.array([0.3, -0.5, 1.2])
    np.testing.assert_allclose(hessian(rosenbrock, jit=True)(x), hessian(rosenbrock)(x),
                               rtol=1e-12)


# -- user rules -----------------------------------------------------------------------------
def softplus(x):
    return np.log1p(np.exp(x))


def softplus_user(x):
    return np.sum(softplus(x) * x)


def test_register_tangent_overrides_recursive_differentiation_and_shows_in_source():
    @adjoint.register_tangent(softplus)
    def softplus_tangent(y, x):
        t[y] = t[x] / (1.0 + np.exp(-x))  # noqa: F821 - t is the template's tangent marker

    try:
        J = jvp(softplus_user)
        x = np.array([0.5, -1.0])
        _, t = J(x, np.ones(2))
        assert "t1_dot = x_dot / (1.0 + np.exp(-x))" in J.source
        assert "softplus_jvp" not in J.source
        assert t == pytest.approx(float(np.sum(grad(softplus_user)(x))), rel=1e-12)
    finally:
        adjoint.rules.tangents.TANGENTS.pop(softplus, None)


def opaque_scaled(x):
    return x * 2.0


def calls_opaque(x):
    return opaque_scaled(x) + 1.0


def test_a_function_with_only_a_reverse_rule_asks_for_a_tangent_rule():
    @adjoint.register_adjoint(opaque_scaled)
    def opaque_adjoint(y, x):
        d[x] += 2.0 * d[y]  # noqa: F821 - d is the template's adjoint marker

    try:
        assert grad(calls_opaque)(1.0) == 2.0
        with pytest.raises(MissingRuleError, match="register_tangent"):
            jvp(calls_opaque)(1.0, 1.0)
    finally:
        adjoint.rules.REVERSE.pop(opaque_scaled, None)


def test_bad_tangent_templates_are_refused_at_registration():
    with pytest.raises(AdjointError, match="takes 2 argument"):
        @adjoint.register_tangent(softplus)
        def two_args(y, x, z):
            t[y] = t[x]  # noqa: F821

    with pytest.raises(AdjointError, match="unknown name 'undefined_helper'"):
        @adjoint.register_tangent(softplus)
        def unknown(y, x):
            t[y] = undefined_helper(t[x])  # noqa: F821

    with pytest.raises(AdjointError, match=r"must end with 't\[y\] = \.\.\.'"):
        @adjoint.register_tangent(softplus)
        def no_tangent(y, x):
            z = x * 2  # noqa: F841


# -- stop_gradient --------------------------------------------------------------------------
def scaled_by_a_constant_norm(x):
    scale = adjoint.stop_gradient(np.sum(x * x))
    return np.sum(x) * scale


def test_stop_gradient_treats_a_value_as_a_constant_in_every_mode():
    x = np.array([1.0, 2.0, -0.5])
    scale = np.sum(x * x)
    np.testing.assert_allclose(grad(scaled_by_a_constant_norm)(x), np.full(3, scale))
    _, t = jvp(scaled_by_a_constant_norm)(x, np.ones(3))
    assert t == pytest.approx(3 * scale)
    np.testing.assert_allclose(hessian(scaled_by_a_constant_norm)(x), np.zeros((3, 3)))
    np.testing.assert_allclose(grad(scaled_by_a_constant_norm, jit=True)(x), np.full(3, scale))
    assert "stop_gradient" in grad(scaled_by_a_constant_norm).source


def test_stop_gradient_returns_a_copy_of_an_array():
    x = np.ones(3)
    y = adjoint.stop_gradient(x)
    y[0] = 5.0
    assert x[0] == 1.0 and adjoint.stop_gradient(2.5) == 2.5


# -- regressions found by the fuzzer ----------------------------------------------------------
def scaled_copy_then_written(x0, m0):
    out1 = np.zeros(3)
    v2 = out1 * 1.0  # v2's tangent must not be out1's array, which the next line changes
    out1[1:3] = x0
    return 1.0 * x0 + np.sum(out1) + np.sum(v2) + np.sum(m0)


def accumulates_into_columns(x0, m0):
    out = np.zeros((2, 3))
    out[1, 0] += -0.7 * x0
    for _ in range(2):
        out[:, 1] += m0 @ np.ones(3) * x0
    return np.sum(out * out) + np.sum(m0 * m0) * x0


def test_regression_tangent_of_a_folded_copy_is_not_shared():
    m0 = np.ones((2, 3))
    _, t = jvp(scaled_copy_then_written, wrt=(0, 1))(0.0123, m0, (1.0, np.zeros((2, 3))))
    assert t == pytest.approx(3.0)


def test_regression_hvp_of_adjoint_code_with_in_place_accumulation():
    x0, m0 = 0.3, np.arange(6.0).reshape(2, 3) / 10
    v = (0.5, np.ones((2, 3)))
    hv = hvp(accumulates_into_columns, wrt=(0, 1))(x0, m0, v)
    g = grad(accumulates_into_columns, wrt=(0, 1))
    plus, minus = g(x0 + 1e-5 * v[0], m0 + 1e-5 * v[1]), g(x0 - 1e-5 * v[0], m0 - 1e-5 * v[1])
    for h, p, m in zip(hv, plus, minus):
        np.testing.assert_allclose(h, (np.asarray(p) - np.asarray(m)) / 2e-5, rtol=1e-6,
                                   atol=1e-6)


def test_bad_adjoint_templates_are_refused_at_registration():
    with pytest.raises(AdjointError, match="takes 2 argument"):
        @adjoint.register_adjoint(softplus)
        def two_args(y, x, z):
            d[x] += d[y]  # noqa: F821

    with pytest.raises(AdjointError, match="unknown name 'undefined_helper'"):
        @adjoint.register_adjoint(softplus)
        def unknown(y, x):
            d[x] += undefined_helper(d[y])  # noqa: F821

    assert softplus not in adjoint.rules.REVERSE  # nothing half-registered


def test_a_registered_adjoint_appears_filled_in_in_the_source():
    @adjoint.register_adjoint(softplus)
    def softplus_adjoint(y, x):
        d[x] += d[y] / (1.0 + np.exp(-x))  # noqa: F821

    try:
        src = grad(softplus_user).source
        assert "dx = dx + dt1 / (1.0 + np.exp(-x))" in src and "def dsoftplus(" not in src
        x = np.array([0.3, -0.4])
        np.testing.assert_allclose(grad(softplus_user)(x),
                                   softplus(x) + x / (1.0 + np.exp(-x)), rtol=1e-12)
    finally:
        adjoint.rules.REVERSE.pop(softplus, None)


def product_of_entries(x):
    return np.prod(x)


def product_along_rows(x):
    return np.sum(np.prod(x, axis=1) ** 2)


@pytest.mark.parametrize("x", [[0.5, -1.5, 2.0, 0.7], [0.0, -1.5, 2.0, 0.7],
                               [0.0, -1.5, 0.0, 0.7]], ids=["no zero", "one zero", "two zeros"])
def test_hessian_of_a_product_is_exact_with_zeros(x):
    x = np.array(x)
    expected = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)]
                         for i in range(4)])
    np.testing.assert_allclose(hessian(product_of_entries)(x), expected, atol=1e-15)


def test_hvp_of_a_product_along_an_axis():
    x = np.array([[0.5, -1.5, 2.0], [0.0, 0.3, -0.8]])
    v = np.array([[1.0, 0.5, -0.5], [0.2, 1.0, 0.1]])
    g = grad(product_along_rows)
    expected = (g(x + 1e-6 * v) - g(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(hvp(product_along_rows)(x, v), expected, rtol=1e-6, atol=1e-8)


def copy_of_a_row_then_the_row_written(x, m):
    v = m[1] * 1.0  # a new array; its tangent must not stay a view of m's tangent
    r = m[1]
    last = m[-1]  # the same row as m[1] when m has two rows
    last += r * x
    return np.sum(v) + np.sum(r)


def test_a_tangent_that_would_alias_a_row_written_later_is_copied():
    """Found by the fuzzer: v_dot was m_dot[1] itself, which the write through `last`
    then changed, so jvp disagreed with grad."""
    x, m = 1.3, np.array([[1.8, 2.5, 2.2], [0.5, 1.5, 1.1]])
    vx, vm = 0.7, np.random.default_rng(0).normal(size=m.shape)
    gx, gm = grad(copy_of_a_row_then_the_row_written, wrt=(0, 1))(x, m.copy())
    _, tangent = jvp(copy_of_a_row_then_the_row_written, wrt=(0, 1))(x, m.copy(), (vx, vm))
    assert tangent == pytest.approx(gx * vx + np.sum(gm * vm), rel=1e-12)
