"""Leaner generated code (issue 13): copies read through, shapes kept instead of values.

Each pass is checked for what it saves and, more importantly, for not changing a gradient.
"""
import tracemalloc

import numpy as np
import pytest

from adjoint import grad, hvp
from adjoint.check import numeric_gradient


def numeric_grad(fn, x):
    return numeric_gradient(fn, [x], 0, {})


JIT = pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])


def heat(u, c):
    for _ in range(200):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u * u)


def heat_short(u, c):
    for _ in range(5):
        u[1:-1] = u[1:-1] + c * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u * u)


def test_heat_equation_keeps_one_array_per_step():
    """200 steps on 10,000 points: the backward sweep needs c * (...)'s operand per step
    (80 kB each, 16 MB in all); the other values are read only for their shapes."""
    g = grad(heat, wrt=(0, 1))
    u0 = np.random.default_rng(0).random(10_000)
    g(u0.copy(), 0.1)  # built (and its caches warmed) outside the measurement
    tracemalloc.start()
    try:
        g(u0.copy(), 0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 25e6
    assert "t8_stack" in g.source or "_stack.append(t" in g.source
    assert "sum_to_shape(" in g.source


@JIT
def test_heat_equation_gradient_matches_central_differences(jit):
    u0 = np.random.default_rng(1).random(12)
    du, dc = grad(heat_short, wrt=(0, 1), jit=jit)(u0.copy(), 0.2)
    np.testing.assert_allclose(du, numeric_grad(lambda u: heat_short(u.copy(), 0.2), u0),
                               rtol=1e-6, atol=1e-8)
    fd = (heat_short(u0.copy(), 0.2 + 1e-6) - heat_short(u0.copy(), 0.2 - 1e-6)) / 2e-6
    assert dc == pytest.approx(fd, rel=1e-6)


def broadcast_in_loop(x, b):
    s = 0.0
    for i in range(3):
        y = x + b * i  # b (3,) broadcasts against x (2, 3): its gradient sums over rows
        s = s + np.sum(y * y)
    return s


@JIT
def test_a_shape_kept_instead_of_a_value_still_undoes_broadcasting(jit):
    x = np.random.default_rng(2).random((2, 3))
    b = np.random.default_rng(3).random(3)
    dx, db = grad(broadcast_in_loop, wrt=(0, 1), jit=jit)(x, b)
    np.testing.assert_allclose(dx, numeric_grad(lambda x: broadcast_in_loop(x, b), x),
                               rtol=1e-6)
    np.testing.assert_allclose(db, numeric_grad(lambda b: broadcast_in_loop(x, b), b),
                               rtol=1e-6)


def test_second_order_reads_the_kept_shapes():
    """hvp differentiates the generated adjoint, sum_to_shape included (linear in g)."""
    x = np.random.default_rng(4).random((2, 3))
    b = np.random.default_rng(5).random(3)
    v = np.random.default_rng(6).random(3)
    hv = hvp(broadcast_in_loop, wrt=1)(x, b, v)
    eps = 1e-5
    g = grad(broadcast_in_loop, wrt=1)
    fd = (g(x, b + eps * v) - g(x, b - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-5)


def copy_then_rebind(x):
    a = x * 2.0
    b = a  # b's adjoint is a copy of a's ...
    a = a * 3.0  # ... and a is rebound before b's last read
    return b * a


@JIT
def test_copies_are_not_read_through_a_rebound_source(jit):
    assert grad(copy_then_rebind, jit=jit)(1.5) == pytest.approx(2 * 2 * 3 * 2 * 1.5)


def copy_in_loop(x):
    s = x
    for _ in range(3):
        t = s
        s = t * x
    return s


@JIT
def test_copies_inside_loops_keep_loop_carried_adjoints(jit):
    assert grad(copy_in_loop, jit=jit)(1.3) == pytest.approx(4 * 1.3 ** 3)


def copy_in_a_branch(m, x):
    for i in range(2):
        if i != 0:
            m = m * 1.0  # its adjoint code is a copy, read through: the branch is empty
    return np.sum(m * x)


@JIT
def test_a_branch_whose_only_adjoint_code_was_a_copy(jit):
    """Found by the fuzzer: the emptied branch was left without a body (IndentationError)."""
    m, x = np.arange(3.0), np.array([0.5, -1.0, 2.0])
    dm, dx = grad(copy_in_a_branch, wrt=(0, 1), jit=jit)(m, x)
    np.testing.assert_allclose(dm, x)
    np.testing.assert_allclose(dx, m)


def element_products(x, w):
    k1 = np.zeros_like(x)
    for i in range(1, x.shape[0]):
        k1[i] = x[i] * x[i - 1] * w  # entries, or rows when x is 2-D; w a float
    return np.sum(k1)


def two_loops_one_index(x, w):
    k1 = np.zeros_like(x)
    for i in range(1, x.shape[0]):
        k1[i] = x[i] * x[i - 1] * w
    k2 = np.zeros_like(x)
    for i in range(x.shape[0] - 1):  # the same index name: each loop binds its own count
        k2[i] = x[i + 1] * w
    return np.sum(k1) + np.sum(k2 * k2)


@JIT
@pytest.mark.parametrize("rows", [False, True], ids=["entries", "rows"])
@pytest.mark.parametrize("fn", [element_products, two_loops_one_index],
                         ids=["one_loop", "two_loops_one_index"])
def test_an_element_loop_pushes_nothing_per_iteration(jit, rows, fn):
    # the products' shapes come from their operands' (re-read from x in the backward
    # iteration), not from a stack; with rows of x they are (3,), and the float w's
    # gradient must still sum over them
    rng = np.random.default_rng(7)
    x = rng.random((6, 3)) if rows else rng.random(6)
    g = grad(fn, wrt=(0, 1), jit=jit)
    dx, dw = g(x, 0.7)
    assert "_stack" not in g.source and "broadcast_shape(" in g.source
    np.testing.assert_allclose(dx, numeric_grad(lambda x: fn(x, 0.7), x),
                               rtol=1e-6, atol=1e-9)
    fd = (fn(x, 0.7 + 1e-6) - fn(x, 0.7 - 1e-6)) / 2e-6
    assert dw == pytest.approx(fd, rel=1e-6)


def rebinds_its_operand(y, w):
    s = 0.0
    for _ in range(3):
        y = y * w  # y (3,) becomes (2, 3): its shape is recorded after the rebinding
        s = s + np.sum(y)
    return s


def test_a_shape_recorded_after_rebinding_an_operand_is_the_products():
    y, w = np.array([0.3, 0.5, 0.7]), np.linspace(0.5, 1.0, 6).reshape(2, 3)
    dy, dw = grad(rebinds_its_operand, wrt=(0, 1))(y, w)
    np.testing.assert_allclose(dy, numeric_grad(lambda y: rebinds_its_operand(y, w), y),
                               rtol=1e-6)
    np.testing.assert_allclose(dw, numeric_grad(lambda w: rebinds_its_operand(y, w), w),
                               rtol=1e-6)
