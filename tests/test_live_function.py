"""Issue 18: the gradient is of the object the user passed, as it is now.

Each numbered reproduction of the issue and each crash it lists, in both jit modes."""
from __future__ import annotations

import functools
import importlib
import inspect
import math
import os
import sys
import textwrap

import numpy as np
import pytest

import adjoint
from adjoint import (
    ArgumentError,
    JitError,
    NoSourceError,
    UnsupportedSyntaxError,
    check_grad,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    value_and_grad,
    vjp,
)
from adjoint.errors import SourceChangedError

JIT = pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])


# -- 1. every transform runs the primal on copies --------------------------------------------
def squares_in_place(x):
    x[0] = x[0] * x[0]
    return x * x


@JIT
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_a_function_that_writes_into_its_argument(jit, mode):
    x = np.array([3.0, 2.0])
    J = jacobian(squares_in_place, mode=mode, jit=jit)(x)
    np.testing.assert_allclose(J, np.diag([108.0, 4.0]))  # d(x0^4)/dx0 = 4 * 27
    np.testing.assert_array_equal(x, [3.0, 2.0])


@JIT
def test_vjp_of_a_function_that_writes_into_its_argument(jit):
    x = np.array([3.0, 2.0])
    value, pullback = vjp(squares_in_place, jit=jit)(x)
    np.testing.assert_array_equal(value, [81.0, 4.0])
    np.testing.assert_allclose(pullback(np.ones(2)), [108.0, 4.0])
    np.testing.assert_allclose(pullback(np.ones(2)), [108.0, 4.0])  # again: same answer
    np.testing.assert_array_equal(x, [3.0, 2.0])


# -- 2. a decorator made with functools.wraps -------------------------------------------------
def times2(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)
    return wrapper


def forwarding(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        """Does nothing but call fn: transparent."""
        return fn(*args, **kwargs)
    return wrapper


def logging_wrapper(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        print("called")
        return fn(*args, **kwargs)
    return wrapper


@times2
def doubled_square(x):
    return x * x


@forwarding
def forwarded_cube(x):
    return x * x * x


@logging_wrapper
def logged_square(x):
    return x * x


@JIT
def test_a_wraps_decorator_is_differentiated_as_the_wrapper(jit):
    assert value_and_grad(doubled_square, jit=jit)(3.0) == (18.0, 12.0)


@JIT
def test_a_wrapper_that_only_forwards_is_seen_through(jit):
    assert value_and_grad(forwarded_cube, jit=jit)(2.0) == (8.0, 12.0)


def test_a_wrapper_that_does_more_is_refused_clearly():
    with pytest.raises(UnsupportedSyntaxError, match=r"a \*args parameter is not supported; "
                       r"it is a decorator's wrapper .*logged_square.__wrapped__"):
        grad(logged_square)


# -- 3. defaults are the live function's, never the source re-evaluated ----------------------
D = 2.0


def scaled(x, s=D):
    return s * x


def scaled_kw(x, *, s=D):
    return s * x * x


def calls_scaled(x):
    return scaled(x) + 1.0


D = 50.0  # after the defs: the functions use 2.0


@JIT
@pytest.mark.parametrize("fn, expected", [(scaled, (6.0, 2.0)), (scaled_kw, (18.0, 12.0)),
                                          (calls_scaled, (7.0, 2.0))],
                         ids=["default", "keyword-only", "in-a-helper"])
def test_defaults_are_read_from_the_live_function(jit, fn, expected):
    assert value_and_grad(fn, jit=jit)(3.0) == expected
    assert "s=2.0" in grad(fn, jit=jit).source  # the text says what runs


@JIT
def test_a_changed_default_is_seen_by_the_same_gradient_function(jit):
    def f(x, s=2.0):
        return s * x
    g = grad(f, jit=jit)
    assert g(1.0) == 2.0
    f.__defaults__ = (7.0,)
    assert g(1.0) == 7.0


# -- 4. closure cells are read live ----------------------------------------------------------
def make_scaled():
    k = 2.0

    def f(x):
        return k * x * x

    def set_k(value):
        nonlocal k
        k = value
    return f, set_k


@JIT
def test_a_nonlocal_rebinding_is_seen(jit):
    f, set_k = make_scaled()
    g = grad(f, jit=jit)
    assert g(1.0) == 4.0
    set_k(3.0)
    assert g(1.0) == 6.0  # the same gradient function
    assert grad(f, jit=jit)(1.0) == 6.0  # and a new one


# -- 5. a source file edited after import ----------------------------------------------------
@JIT
def test_a_file_edited_after_import_is_refused(tmp_path, monkeypatch, jit):
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "edited_after_import.py"
    path.write_text("def f(x):\n    return x ** 2\n")
    module = importlib.import_module("edited_after_import")
    try:
        path.write_text("def f(x):\n    return x ** 5\n")
        os.utime(path, (1, 1))  # another mtime, whatever the clock's resolution
        with pytest.raises(SourceChangedError, match="edited_after_import.py:1:1: the source "
                           "of f in .* has changed since it was imported"):
            grad(module.f, jit=jit)(1.0)
        importlib.reload(module)
        assert grad(module.f, jit=jit)(1.0) == 5.0
    finally:
        sys.modules.pop("edited_after_import", None)


def test_source_changed_is_a_no_source_error():
    assert issubclass(SourceChangedError, NoSourceError)


# -- 6. random draws where the forward code runs again ----------------------------------------
def noise():
    return np.random.normal()


def linear_with_noise(x, n):
    s = 0.0
    for _i in adjoint.checkpointed(range(n), snapshots=2):
        s = s + x * noise()
    return s


def noisy(x):
    return x * noise()


@JIT
def test_random_draws_in_a_checkpointed_loop_are_refused(jit):
    with pytest.raises(UnsupportedSyntaxError, match=r"test_live_function.py:\d+:\d+: noise "
                       r"\(which calls np.random.normal\) draws random numbers inside a "
                       "checkpointed loop"):
        grad(linear_with_noise, jit=jit)(1.0, 6)


@pytest.mark.parametrize("transform", [vjp, jacobian])
def test_random_draws_are_refused_where_the_forward_sweep_is_replayed(transform):
    with pytest.raises(UnsupportedSyntaxError, match="draws random numbers"):
        transform(noisy)(np.ones(3))


def test_random_draws_are_fine_in_one_sweep():
    np.random.seed(0)
    value, g = value_and_grad(lambda_free_noise)(2.0)
    np.random.seed(0)
    assert value == pytest.approx(2.0 * np.random.normal())
    assert g == pytest.approx(value / 2.0)


def lambda_free_noise(x):
    return x * noise()


# -- 7. ndarray subclasses and object arrays -------------------------------------------------
def weighted(x, A):
    return np.sum(A * x)


@JIT
@pytest.mark.parametrize("wrt", [0, 1])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself
def test_np_matrix_arguments_are_refused(jit, wrt):
    A = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ArgumentError, match="is a numpy.matrix, an ndarray subclass"):
        grad(weighted, wrt, jit=jit)(np.ones((2, 2)), A)
    with pytest.raises(ArgumentError, match="numpy.matrix"):
        grad(weighted, wrt, jit=jit)(np.matrix(np.ones((2, 2))), np.asarray(A))


@pytest.mark.parametrize("value", [np.ma.masked_array([1.0, 2.0]),
                                   np.array([1.0, 2.0], dtype=object)])
def test_other_subclasses_and_object_arrays_are_refused(value):
    with pytest.raises(ArgumentError, match="ndarray subclass|object array"):
        grad(weighted)(np.ones(2), value)
    with pytest.raises(ArgumentError):
        vjp(weighted)(np.ones(2), value)


# -- crashes the issue lists -----------------------------------------------------------------
def keyword_only(x, *, s):
    return s * x * x


@JIT
def test_keyword_only_parameters(jit):
    assert grad(keyword_only, jit=jit)(3.0, s=2.0) == 12.0
    assert grad(keyword_only, wrt="s", jit=jit)(3.0, s=2.0) == 9.0


def reshaped(x):
    return np.sum(x.reshape(-1) * np.arange(6.0))


@JIT
@pytest.mark.parametrize("layout", ["fortran", "transposed"])
def test_non_contiguous_arguments_that_f_reshapes(jit, layout):
    x = np.asfortranarray(np.ones((2, 3))) if layout == "fortran" else np.ones((3, 2)).T
    np.testing.assert_array_equal(grad(reshaped, jit=jit)(x), np.arange(6.0).reshape(2, 3))


@JIT
@pytest.mark.parametrize("thing", [3, "f", 2.5])
def test_grad_of_something_that_is_not_a_function(jit, thing):
    with pytest.raises(NoSourceError, match="is not a function: there is nothing to "
                       "differentiate; pass the function itself"):
        grad(thing, jit=jit)


@pytest.mark.parametrize("transform", [vjp, jvp, jacobian, hessian])
def test_transforms_of_something_that_is_not_a_function(transform):
    with pytest.raises(NoSourceError, match="is not a function"):
        transform(3)


def product(x, y):
    return np.sum(x * y)


def test_check_grad_with_a_keyword_argument_as_wrt():
    assert check_grad(product, np.ones(2), y=np.array([1.0, 2.0]), wrt="y") < 1e-8
    assert check_grad(keyword_only, 1.5, s=2.0, wrt=("s", "x")) < 1e-8


def bad_snapshots(x, n):
    s = x
    for _i in adjoint.checkpointed(range(n), snapshots=None):
        s = s * 1.01
    return s


@JIT
def test_checkpointed_with_snapshots_none(jit):
    with pytest.raises(ArgumentError, match=r"test_live_function.py:\d+:\d+: "
                       r"adjoint.checkpointed\(..., snapshots=None\): snapshots must be a "
                       "whole number"):
        grad(bad_snapshots, jit=jit)(1.0, 5)


def square_root(x):
    return math.sqrt(x) + math.log(x)


@JIT
def test_math_domain_errors_are_raised_as_f_raises_them(jit):
    with pytest.raises(ValueError, match="math domain error"):
        square_root(-1.0)
    with pytest.raises(ValueError, match="math domain error"):
        grad(square_root, jit=jit)(-1.0)
    assert grad(square_root, jit=jit)(4.0) == pytest.approx(0.25 + 0.25)


# -- issue 16's error messages that live in these files ----------------------------------------
def test_a_builtin_has_no_fake_location():
    with pytest.raises(NoSourceError) as info:
        grad(np.sin)(1.0)
    assert str(info.value).startswith("<ufunc 'sin'> is not a Python function")
    assert "<adjoint>" not in str(info.value)


def test_a_function_from_python_dash_c_raises_without_a_chain():
    namespace: dict = {}
    exec(compile("def f(x):\n    return x * x\n", "<string>", "exec"), namespace)
    with pytest.raises(NoSourceError, match=r"<string>:1:1: no source code for function 'f' "
                       r"\(defined in <string>\); define it in a .py file") as info:
        grad(namespace["f"])(1.0)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def kinked(x):
    return abs(x)


def test_check_grad_advice_depends_on_who_chose_the_tolerance():
    with pytest.raises(adjoint.GradientCheckError, match="please report it") as info:
        check_grad(kinked, 1e-9)
    assert "adjoint.grad(kinked, wrt='x').source" in str(info.value)
    with pytest.raises(adjoint.GradientCheckError) as info:
        check_grad(kinked, 1e-9, tol=1e-3)
    assert "the tolerance you chose (tol=0.001)" in str(info.value)
    assert "report" not in str(info.value)


def repeated_write(x):
    out = np.zeros(3)
    out[[0, 0, 1]] = x
    return np.sum(out)


def appends(x):  # a list (not a tuple) passed to np.concatenate: Numba takes no list
    y = np.concatenate([x, x * 2.0])
    return np.sum(y)


def test_a_repeated_list_index_write_compiles():
    np.testing.assert_array_equal(grad(repeated_write, jit=True)(np.ones(3)), [0.0, 1.0, 1.0])


def array_of(x):
    y = np.array(x)
    return np.sum(y * y)


def type_test(x):
    if isinstance(x, float):
        return x * 2.0
    return x * 3.0


@pytest.mark.parametrize("fn, arg, line", [
    (appends, np.ones(3), "y = np.concatenate([x, x * 2.0])"),
    (array_of, np.ones(2), "y = np.array(x)"),
    (type_test, 2.0, "if isinstance(x, float):"),
], ids=["concatenate-list", "np.array", "isinstance"])
def test_jit_errors_name_the_users_line(fn, arg, line):
    with pytest.raises(JitError) as info:
        grad(fn, jit=True)(arg)
    message = str(info.value)
    first = fn.__code__.co_firstlineno
    rows = textwrap.dedent("".join(inspect.getsourcelines(fn)[0])).splitlines()
    offset = next(k for k, row in enumerate(rows) if row.strip() == line)
    assert message.startswith(f"{__file__}:{first + offset}:")
    assert line in message and "use jit=False" in message


# -- second order reads the same live values --------------------------------------------------
def cubed(x, s=2.0):
    return s * x * x * x


@JIT
def test_hvp_sees_changed_defaults_and_closure_cells(jit):
    h = hvp(cubed, jit=jit)
    assert h(1.0, 1.0) == 12.0
    cubed.__defaults__ = (3.0,)
    try:
        assert h(1.0, 1.0) == 18.0
    finally:
        cubed.__defaults__ = (2.0,)
    f, set_k = make_scaled()  # k * x * x
    h = hvp(f, jit=jit)
    assert h(1.0, 1.0) == 4.0
    set_k(3.0)
    assert h(1.0, 1.0) == 6.0


def keyword_only_helper(x, *, s=2.0):
    return s * x * x


def calls_keyword_only(x):
    return keyword_only_helper(x) + keyword_only_helper(x, s=3.0)


@JIT
def test_keyword_only_parameters_of_a_helper(jit):
    assert grad(calls_keyword_only, jit=jit)(1.0) == 10.0


# -- the source check has no false positives ----------------------------------------------------
def annotated_nested(x: float) -> float:
    def inner(y: list[float]) -> float:  # annotations are text here (from __future__)
        return y[0]
    return x


def test_a_nested_annotated_def_passes_the_source_check():
    assert grad(annotated_nested)(1.0) == 1.0  # the nested def is lifted (lift.py)


@pytest.mark.parametrize("module", ["adjoint.ir", "adjoint.backward", "adjoint.syntax",
                                    "adjoint.loops", "adjoint.runtime",
                                    "tests.control_flow_cases", "tests.checkpoint_cases",
                                    "tests.unsupported_cases"])
def test_every_function_of_a_module_matches_its_file(module):
    """Methods, closures, nested functions and classes, comprehensions, decorators,
    __future__ annotations: an unedited file always matches its code."""
    from adjoint.errors import AdjointError
    from adjoint.source import parse

    mod = importlib.import_module(module)
    functions = [v for v in vars(mod).values() if inspect.isfunction(v)]
    functions += [m for c in vars(mod).values() if inspect.isclass(c)
                  for m in vars(c).values() if inspect.isfunction(m)]
    functions = [f for f in functions if f.__module__ == mod.__name__]
    assert len(functions) > 10
    for fn in functions:
        try:
            parse(fn)
        except SourceChangedError:
            pytest.fail(f"{fn.__qualname__} reported as changed")
        except AdjointError:
            pass
