"""The public contract of grad, value_and_grad and check_grad."""
import inspect
import math
import threading
import traceback

import numpy as np
import pytest

import adjoint
from adjoint import (
    ArgumentError,
    GradientCheckError,
    NonScalarOutputError,
    check_grad,
    grad,
    value_and_grad,
)
from adjoint.api import build_adjoint

from . import helper_module


def poly(x, y, z):
    return x * x * y + 3.0 * z


def test_default_wrt_is_first_argument():
    assert grad(poly)(2.0, 5.0, 1.0) == 20.0


@pytest.mark.parametrize("wrt, expected", [
    ((0, 2), (20.0, 3.0)),
    ("y", 4.0),
    (("z", "x"), (3.0, 20.0)),
    (-1, 3.0),
    ((1,), (4.0,)),
])
def test_wrt_by_index_and_name(wrt, expected):
    assert grad(poly, wrt=wrt)(2.0, 5.0, 1.0) == expected


@grad
def bare(x):
    return x ** 3


@grad(wrt=(0, 1))
def with_options(a, b):
    return a * b


def test_decorator_forms():
    assert bare(2.0) == 12.0
    assert with_options(2.0, 7.0) == (7.0, 2.0)


def test_keyword_arguments_and_defaults():
    def scaled(x, scale=2.0, *, power=2):
        return scale * x ** power

    assert grad(scaled)(3.0) == 12.0
    assert grad(scaled)(x=3.0, scale=1.0, power=3) == 27.0
    assert grad(scaled, wrt="scale")(3.0, power=1) == 3.0


def test_value_and_grad_and_preserve_result():
    assert value_and_grad(poly, wrt=1)(2.0, 5.0, 1.0) == (23.0, 4.0)
    assert grad(poly, wrt=(0, 1), preserve_result=True)(2.0, 5.0, 1.0) == (23.0, (20.0, 4.0))


def total(x):
    return np.sum(x * x)


@pytest.mark.parametrize("x", [
    np.array([1.0, 2.0], dtype=np.float32),
    np.ones((2, 3)),
    np.array(2.0),
])
def test_gradient_has_type_shape_dtype_of_argument(x):
    g = grad(total)(x)
    assert isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype
    np.testing.assert_allclose(g, 2 * x)


def test_python_scalars_give_python_floats_and_ints_promote():
    assert type(grad(total)(3.0)) is float
    assert grad(total)(3) == 6.0 and type(grad(total)(3)) is float
    assert isinstance(grad(total)(np.float32(2.0)), np.float32)


def constant_output(x):
    return 5.0


def test_gradient_of_constant_is_zero_of_right_shape():
    g = grad(constant_output)(np.ones((2, 2)))
    np.testing.assert_array_equal(g, np.zeros((2, 2)))


def labelled(w, labels, name, shape):
    picked = w[labels]
    return np.sum(picked.reshape(shape)) * len(name)


def test_non_differentiated_arguments_may_be_anything():
    w = np.arange(4.0)
    g = grad(labelled)(w, np.array([0, 0, 3]), "ab", (3,))
    np.testing.assert_array_equal(g, [4.0, 0.0, 0.0, 2.0])


def vector_out(x):
    return x * 2.0


def matrix_out(A, B):
    return A @ B


def test_non_scalar_output_is_an_error_naming_the_function():
    with pytest.raises(NonScalarOutputError, match=r"vector_out returns an array of shape \(3,\)"):
        grad(vector_out)(np.ones(3))
    with pytest.raises(NonScalarOutputError, match="vjp"):
        grad(matrix_out)(np.ones((2, 2)), np.ones((2, 2)))


def test_source_is_a_complete_runnable_module():
    g = grad(poly, wrt=(0, 1))
    namespace = {}
    exec(g.source, namespace)
    assert namespace["dpoly"](2.0, 5.0, 1.0) == (23.0, (20.0, 4.0))


def test_generated_code_is_cached_and_rebuilt_on_redefinition():
    def f(x):
        return x * 2.0

    first = build_adjoint(f, ("x",))
    assert build_adjoint(f, ("x",)) is first
    assert grad(f).source == grad(f).source

    def f(x):  # noqa: F811 - the redefinition is the point
        return x * 5.0

    assert grad(f)(1.0) == 5.0


def test_gradient_follows_changes_to_module_globals():
    def uses_global(x):
        return helper_module.GAIN * x

    assert grad(uses_global)(1.0) == 3.0
    helper_module.GAIN = 4.0
    try:
        assert grad(uses_global)(1.0) == 4.0
    finally:
        helper_module.GAIN = 3.0


def calls_other_module(x, s):
    y = helper_module.scaled_tanh(x, shift=s)
    return np.sum(y * y)


def test_calls_into_functions_of_another_module_with_keywords():
    x = np.array([0.1, -0.3, 0.5])
    assert check_grad(calls_other_module, x, 0.2, wrt=(0, 1)) < 1e-6
    assert "dscaled_tanh" in grad(calls_other_module).source


def inner(a, b=2.0):
    c = a * b
    return np.sin(c)


def middle(a, b):
    return inner(a) + inner(b, b=a)


def outer(a, b):
    return middle(a, b) * middle(b, a)


def test_nested_user_functions():
    assert check_grad(outer, 0.3, 0.7, wrt=(0, 1)) < 1e-6


def test_inputs_are_not_modified():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    grad(total)(x)
    np.testing.assert_array_equal(x, before)


def test_check_grad_reports_a_wrong_rule():
    def weird(x):
        return np.sum(np.sin(x))

    @adjoint.register_adjoint(np.sin)
    def wrong_sin(y, x):
        d[x] += d[y] * 2.0  # noqa: F821 - a deliberately wrong template

    try:
        with pytest.raises(GradientCheckError, match="weird"):
            check_grad(weird, np.array([0.1, 0.2]))
    finally:
        from adjoint.rules import REVERSE, elementwise
        REVERSE.pop(np.sin)
        adjoint.rules.adjoint_of(np.sin)(elementwise.sin)


@pytest.mark.parametrize("wrt, message", [
    (3, "out of range"),
    ("w", "no parameter named 'w'"),
    ((0, "x"), "twice"),
    ((), "empty"),
    (1.5, "ints or names"),
])
def test_bad_wrt(wrt, message):
    with pytest.raises(ArgumentError, match=message):
        grad(poly, wrt=wrt)


@pytest.mark.parametrize("value", ["text", True, np.array([1 + 2j]), None])
def test_differentiating_a_non_float_argument_is_an_error(value):
    with pytest.raises(ArgumentError, match="with respect to 'x'"):
        grad(poly)(value, 1.0, 1.0)


def test_generated_lines_appear_in_tracebacks_and_getsource():
    def shape_bug(a, b):
        return np.sum(a + b)

    g = grad(shape_bug)
    with pytest.raises(ValueError) as info:
        g(np.ones(3), np.ones(4))
    text = "".join(traceback.format_exception(info.value))
    assert "t1 = a + b" in text
    built = build_adjoint(shape_bug, ("a",))
    assert "def dshape_bug" in inspect.getsource(built.function)


def test_user_names_that_look_like_adjoints_still_work():
    def clash(x, dx, t1):
        dout = x * dx
        d_x = dout + t1
        return d_x * x

    assert grad(clash, wrt=(0, 1, 2))(2.0, 3.0, 4.0) == (2 * 2 * 3 + 4, 4.0, 2.0)


def test_many_threads_get_the_same_gradient():
    def shared(x):
        return math.sin(x) * x

    g = grad(shared)
    results = []
    threads = [threading.Thread(target=lambda: results.append(g(0.5))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0] == pytest.approx(math.cos(0.5) * 0.5 +
                                                                  math.sin(0.5))


def test_redefining_a_called_helper_rebuilds_the_adjoint():
    g = grad(helper_module_outer)
    assert g(3.0) == 12.0
    original = helper_module.helper_for_redefinition
    try:
        helper_module.helper_for_redefinition = helper_module.tripled
        assert g(3.0) == 18.0  # d/dx (3x * x) at 3
    finally:
        helper_module.helper_for_redefinition = original


def helper_module_outer(x):
    return helper_module.helper_for_redefinition(x) * x
