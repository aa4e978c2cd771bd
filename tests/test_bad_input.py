"""Hostile and odd input, one table per kind: what the user passes and what they get back.

Either a clear AdjointError naming the function's file and line, or the documented behaviour
(README, "Limits and errors"). Unsupported syntax has its own table in test_errors.py.
"""
from __future__ import annotations

import functools
import importlib
import math
import os
import re
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import adjoint
import adjoint.api
from adjoint import (
    AdjointError,
    ArgumentError,
    JitError,
    NonScalarOutputError,
    NoSourceError,
    UnsupportedSyntaxError,
    grad,
)

from .conftest import guard_inputs


def poly(x, y, z):
    return x * x * y + 3.0 * z


def total(x):
    return np.sum(x * x)


# -- wrt -------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrt, message", [
    (3, r"wrt=3 is out of range: poly has 3 parameters \(x, y, z\)"),
    (-4, "wrt=-4 is out of range"),
    ("w", "poly has no parameter named 'w'; choose among x, y, z"),
    ((0, "q"), "no parameter named 'q'"),
    ((0, "x"), "wrt names 'x' twice"),
    ((1, 1), "wrt names 'y' twice"),
    ((-1, 2), "wrt names 'z' twice"),
    ((), "wrt is empty"),
    (1.5, "wrt entries must be ints or names, got 1.5"),
    (True, "got True"),
    (None, "got None"),
])
def test_bad_wrt_is_refused_when_grad_is_called(wrt, message):
    with pytest.raises(ArgumentError, match=message) as info:
        grad(poly, wrt=wrt)
    assert f"test_bad_input.py:{poly.__code__.co_firstlineno}:" in str(info.value)


# -- the values of the differentiated arguments ----------------------------------------------
@pytest.mark.parametrize("value, kind", [
    (True, "bool"),
    (np.bool_(True), "bool"),
    (np.array([True, False]), "a bool array"),
    ("x", "str"),
    (None, "NoneType"),
    # lists and tuples are containers (test_containers.py): their leaves are differentiated
    (1 + 2j, "complex"),
    (np.complex64(1j), "complex64"),
    (np.array([1j, 2.0]), "a complex128 array"),
    (np.array(["a"]), "a <U1 array"),
    (np.array([1.0], dtype=object), "an? object array"),
])
def test_non_numeric_arguments_are_refused(value, kind):
    with pytest.raises(ArgumentError, match=f"with respect to 'x', which is {kind}; "
                                            "differentiate with respect to float"):
        grad(total)(value)


@pytest.mark.parametrize("value, expected", [
    (3, 6.0),  # Python ints: the derivative at that point, as a float
    (np.int64(3), 6.0),
    (np.array([1, 2]), np.array([2.0, 4.0])),  # integer arrays: a float64 gradient
    (np.array([1, 2], dtype=np.uint8), np.array([2.0, 4.0])),
])
def test_integer_arguments_are_promoted_to_float(value, expected):
    g = grad(total)(value)
    assert type(g) is type(expected)
    np.testing.assert_array_equal(g, expected)
    assert np.asarray(g).dtype == np.float64


# -- the kind and dtype of the gradient follow the argument's ------------------------------
KINDS = [  # argument, type of the gradient, its dtype
    (2.0, float, np.float64),
    (np.float64(2.0), np.float64, np.float64),
    (np.float32(2.0), np.float32, np.float32),
    (np.array(2.0), np.ndarray, np.float64),  # a 0-d array stays a 0-d array
    (np.array(2.0, dtype=np.float32), np.ndarray, np.float32),
    (np.array([2.0, 1.0], dtype=np.float32), np.ndarray, np.float32),
    (np.array([2.0, 1.0], dtype=np.float16), np.ndarray, np.float16),
    (np.array([[2.0], [1.0]]), np.ndarray, np.float64),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("value, kind, dtype", KINDS, ids=repr)
def test_gradient_has_the_kind_shape_and_dtype_of_its_argument(value, kind, dtype, jit):
    # (under jit a 0-d array works here: x * x needs no unbroadcast; see the test below)
    if jit and dtype == np.float16:  # Numba has no float16
        with pytest.raises(JitError, match="NotImplementedError: float16.*jit=False"):
            grad(total, jit=True)(value)
        return
    g = grad(total, jit=jit)(value)
    assert type(g) is kind and np.asarray(g).dtype == dtype
    assert np.shape(g) == np.shape(value)
    np.testing.assert_allclose(g, 2 * np.asarray(value, dtype=float), rtol=1e-3)


def broadcast_sum(x, y):
    return np.sum(x * y)


def test_a_0d_array_that_needs_unbroadcast_under_jit_names_the_fix():
    with pytest.raises(JitError, match="0-d arrays are not supported under jit; pass a "
                                       r"float \(float\(x\)\)"):
        grad(broadcast_sum, jit=True)(np.array(2.0), np.ones(3))


# -- functions that cannot be differentiated -------------------------------------------------
class Model:
    scale = 2.0

    def loss(self, x):
        return x * 2.0

    @classmethod
    def class_loss(cls, x):
        return x * 3.0

    @staticmethod
    def static_loss(x):
        return x * 4.0

    def __call__(self, x):
        return x * 5.0


def with_varargs(x, *rest):
    return x


def with_kwargs(x, **options):
    return x


def made_at_the_prompt():
    """A lambda as the interactive prompt makes it: its file is "<stdin>", no source."""
    namespace = {}
    exec(compile("f = lambda x: x * 2\n", "<stdin>", "exec"), namespace)
    return namespace["f"]


def made_by_exec():
    namespace = {}
    exec("def made(x):\n    return x * 2\n", namespace)
    return namespace["made"]


file_lambda = lambda x: x * 2.0  # noqa: E731 - the point of the test


@pytest.mark.parametrize("fn, error, message", [
    (len, NoSourceError, "<built-in function len> is not a Python function"),
    (math.sin, NoSourceError, "<built-in function sin> is not a Python function"),
    (np.sin, NoSourceError, "<ufunc 'sin'> is not a Python function"),
    (Model(), NoSourceError, "Model object .* is not a Python function"),
    (made_at_the_prompt(), NoSourceError, "no source code for function '<lambda>' "
                                          r"\(defined in <stdin>\); define it in a \.py file"),
    (made_by_exec(), NoSourceError, "no source code for function 'made'"),
    (file_lambda, UnsupportedSyntaxError, "cannot differentiate a lambda: only functions "
                                          "defined with def"),
    (Model.class_loss, UnsupportedSyntaxError, "bound method 'Model.class_loss'"),
    (functools.partial(poly, y=1.0, z=0.0), UnsupportedSyntaxError,
     "cannot differentiate functools.partial object"),
], ids=lambda v: getattr(v, "__name__", None) or type(v).__name__)
def test_callables_without_a_def_to_read(fn, error, message):
    with pytest.raises(error, match=message):
        grad(fn)(1.0)


@pytest.mark.parametrize("fn, star", [(with_varargs, r"\*rest"), (with_kwargs, r"\*\*options")])
def test_star_parameters_are_refused_when_grad_is_called(fn, star):
    with pytest.raises(UnsupportedSyntaxError, match=f"a {star} parameter is not supported; "
                                                     "name each parameter") as info:
        grad(fn)
    assert f"test_bad_input.py:{fn.__code__.co_firstlineno}:" in str(info.value)


def test_methods_through_the_class_are_plain_functions():
    # Model.loss is a function of (self, x): differentiate with respect to x
    assert grad(Model.loss, wrt="x")(Model(), 1.5) == 2.0
    assert grad(Model.loss)(Model(), 1.5) == 2.0  # the default wrt is the one after self
    assert grad(Model().loss)(1.5) == 2.0  # a bound method: self is not differentiated
    assert grad(Model.static_loss)(1.5) == 4.0


# -- outputs ---------------------------------------------------------------------------------
def vector_out(x):
    return x * 2.0


def one_element_out(x):
    return x * np.ones(1)


def pair_out(x):
    return x, x


def text_out(x):
    return "done"


def none_out(x):
    return None


@pytest.mark.parametrize("fn, shape", [
    (vector_out, r"\(3,\)"), (one_element_out, r"\(1,\)"), (pair_out, r"\(2,\)"),
])
def test_non_scalar_outputs(fn, shape):
    with pytest.raises(NonScalarOutputError, match=f"{fn.__name__} returns an array of shape "
                                                   f"{shape}, not a scalar; reduce it"):
        grad(fn)(np.ones(3) if fn is vector_out else 1.0)


@pytest.mark.parametrize("fn", [text_out, none_out])
def test_non_numeric_outputs_are_refused(fn):
    with pytest.raises(NonScalarOutputError, match="not a number"):
        grad(fn)(1.0)


# -- element writes with repeated indices: NumPy keeps the last write, and so does the adjoint
def repeated_write(x, idx):
    out = np.zeros(3)
    out[idx] = x
    return np.sum(out * np.arange(3.0))


@pytest.mark.parametrize("jit", [False, True])
def test_repeated_indices_in_a_write_follow_the_last_write(jit):
    g = grad(repeated_write, jit=jit)
    np.testing.assert_array_equal(g(np.array([1.0, 2.0]), np.array([0, 2])), [0.0, 2.0])
    np.testing.assert_array_equal(g(np.array([1.0, 2.0]), np.array([2, 2])), [0.0, 2.0])
    np.testing.assert_array_equal(g(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 1])),
                                  [0.0, 2.0, 1.0])


# -- NaN and inf propagate as the primal's arithmetic dictates -------------------------------
def np_sqrt(x):
    return np.sum(np.sqrt(x))


def math_sqrt(x):
    return math.sqrt(x) * 3.0


def np_log(x):
    return np.sum(np.log(x))


def branch(x):
    if x > 0:
        return x * 2.0
    return x * 3.0


def x_log_x(x):
    return np.sum(x * np.log(x))


def reciprocal(x):
    return 1.0 / x


NAN, INF = math.nan, math.inf
IEEE = [  # function, argument, gradient (NaN compares equal to NaN here)
    (np_sqrt, 0.0, INF),  # 1 / (2 sqrt(0))
    (np_sqrt, np.array([0.0, 4.0]), np.array([INF, 0.25])),
    (math_sqrt, 0.0, INF),
    (np_log, 0.0, INF),
    (np_log, np.array([0.0, 2.0]), np.array([INF, 0.5])),
    (total, NAN, NAN),
    (total, np.array([NAN, 1.0]), np.array([NAN, 2.0])),
    (total, np.array([INF, 1.0]), np.array([INF, 2.0])),
    (branch, NAN, 3.0),  # NaN > 0 is False: the else branch, as in the primal
    (x_log_x, np.array([0.0, 1.0]), np.array([NAN, 1.0])),  # log(0) + 0 * (1 / 0), f is NaN
    (np_sqrt, -1.0, NAN),
]


@pytest.mark.parametrize("jit", [False, True])
# ids by name, not repr (which holds an address): the same in every worker process
@pytest.mark.parametrize("fn, x, expected", IEEE,
                         ids=lambda v: getattr(v, "__name__", None) or repr(v))
def test_nan_and_inf_propagate_without_exceptions(fn, x, expected, jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "divide by zero", as f's
        g = grad(fn, jit=jit)(x)
    np.testing.assert_array_equal(g, expected)
    assert type(g) is type(x)


def test_division_by_a_python_zero_raises_as_the_primal_does():
    # Python floats raise ZeroDivisionError in f itself; the gradient does too. Under jit=True
    # division follows IEEE (Numba's error_model="numpy"): -1 / 0**2 is -inf.
    with pytest.raises(ZeroDivisionError):
        reciprocal(0.0)
    with pytest.raises(ZeroDivisionError):
        grad(reciprocal)(0.0)
    assert grad(reciprocal, jit=True)(0.0) == -INF


# -- complex numbers inside the computation: refused, never a wrong real gradient -----------
def complex_scaled(x):
    z = x.astype(complex) * (1.0 + 2.0j)
    return np.sum(np.real(np.conjugate(z) * (3.0 - 1.0j)))  # d/dx is 1; the real rules: 5


def complex_modulus(x):
    return np.sum(np.abs(x + 1j * x * x))


def complex_scalar(s):
    return abs(s * (1.0 + 1.0j))


@pytest.mark.parametrize("fn", [complex_scaled, complex_modulus], ids=lambda f: f.__name__)
@pytest.mark.parametrize("transform", [
    lambda f, x: grad(f)(x),
    lambda f, x: [grad(f)(x) for _ in range(3)],  # the call path after the first call
    lambda f, x: grad(f, jit=True)(x),
    lambda f, x: adjoint.vjp(f)(x)[1](1.0),
    lambda f, x: adjoint.hvp(f)(x, x),
], ids=["grad", "grad again", "grad jit", "vjp", "hvp"])
def test_a_complex_derivative_is_refused_at_the_functions_line(fn, transform):
    x = np.array([0.3, -1.2, 0.8])
    with pytest.raises(UnsupportedSyntaxError, match=r"test_bad_input\.py:\d+.*came out "
                       r"complex.*keep the computation real"):
        with warnings.catch_warnings():
            # NumPy's ComplexWarning (np.exceptions since 1.25, np before)
            warnings.simplefilter("ignore", getattr(np, "exceptions", np).ComplexWarning)
            transform(fn, x)


def test_complex_scalars_and_forward_mode():
    with pytest.raises(UnsupportedSyntaxError, match="came out complex"):
        [grad(complex_scalar)(0.7) for _ in range(3)]  # a float argument: no raw TypeError
    with pytest.raises(UnsupportedSyntaxError, match="came out complex"):
        adjoint.jvp(complex_modulus)(np.ones(3), np.ones(3))
    # forward mode through conjugate and real is right where the tangent comes out real
    x = np.array([0.3, -1.2, 0.8])
    assert adjoint.jvp(complex_scaled)(x, x)[1] == pytest.approx(np.sum(x))
    with pytest.raises(ArgumentError, match="tangent for 'x' is complex"):
        adjoint.jvp(complex_scaled)(x, x * 1j)


# -- the inputs are never modified (checked for every test by conftest.py) ------------------
def test_the_input_guard_can_fail():
    def writes_its_argument(self, x):
        x[0] = 9.0

    class Fake:
        fn = total

    checked = guard_inputs(writes_its_argument)
    with pytest.raises(AssertionError, match=r"the gradient of total modified its argument"):
        checked(Fake(), np.zeros(2))
    checked = guard_inputs(lambda self, x: x.view(np.int64))  # reads only: passes
    checked(Fake(), np.zeros(2))


def writes_its_arguments(x, A):
    x[0] = x[1] * 3.0
    A[:, 0] += x[0]
    A *= 2.0
    return np.sum(A) + np.sum(x)


@pytest.mark.parametrize("jit", [False, True])
def test_writes_into_arguments_leave_the_callers_arrays_unchanged(jit):
    x, A = np.array([1.0, 2.0]), np.ones((2, 2), dtype=np.float32)
    dx, dA = grad(writes_its_arguments, wrt=(0, 1), jit=jit)(x, A)
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(A, np.ones((2, 2)))
    np.testing.assert_allclose(dx, [0.0, 4 * 3.0 + 4.0])
    np.testing.assert_allclose(dA, 2.0 * np.ones((2, 2)))


# -- threads ---------------------------------------------------------------------------------
def shared(x):
    return math.sin(x) * x


def test_threads_asking_for_a_new_gradient_share_one_build(monkeypatch):
    builds = []
    original = adjoint.pipeline.build_module

    def slow_build(*args, **kwargs):
        builds.append(threading.get_ident())
        time.sleep(0.05)  # widen the window in which another thread could start a build
        return original(*args, **kwargs)

    monkeypatch.setattr(adjoint.pipeline, "build_module", slow_build)
    adjoint.pipeline._CACHE.pop(shared, None)
    g = grad(shared)
    start = threading.Barrier(8)
    results = []

    def ask():
        start.wait()
        results.append(g(0.5))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert results == [math.cos(0.5) * 0.5 + math.sin(0.5)] * 8


# -- redefinitions and the caches --------------------------------------------------------------
MODEL = """
import math

GAIN = {gain}


def inner(x):
    return {inner}


def loss(x):
    return inner(x) * GAIN
"""


def write_model(directory, gain=2.0, inner="math.sin(x)"):
    (directory / "fuzz_model_reload.py").write_text(MODEL.format(gain=gain, inner=inner))


@pytest.mark.parametrize("jit", [False, True])
def test_a_reloaded_module_never_gets_the_old_adjoint(tmp_path, monkeypatch, jit):
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path))
    write_model(tmp_path)
    module = importlib.import_module("fuzz_model_reload")
    try:
        assert grad(module.loss, jit=jit)(0.5) == pytest.approx(2.0 * math.cos(0.5))
        # the user edits the file (same names, another body) and reloads it
        write_model(tmp_path, gain=3.0, inner="math.sin(x) * math.sin(x)")
        importlib.reload(module)
        assert grad(module.loss, jit=jit)(0.5) == pytest.approx(
            3.0 * 2 * math.sin(0.5) * math.cos(0.5))
    finally:
        sys.modules.pop("fuzz_model_reload", None)


SCRIPT = """
import sys
sys.path.insert(0, {directory!r})
from fuzz_model_reload import loss
from adjoint import grad

print(repr(grad(loss, jit=True)(0.5)))
"""


def run_script(directory, env) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(directory=str(directory))],
                         env=env, capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout.strip())


def test_the_disk_cache_never_serves_another_version_of_the_function(tmp_path):
    env = dict(os.environ, ADJOINT_CACHE_DIR=str(tmp_path / "cache"))
    write_model(tmp_path, gain=2.0)
    assert run_script(tmp_path, env) == pytest.approx(2.0 * math.cos(0.5))
    # the same generated text, another value of a global the compiled code froze
    write_model(tmp_path, gain=5.0)
    assert run_script(tmp_path, env) == pytest.approx(5.0 * math.cos(0.5))
    # another body of a function the adjoint calls
    write_model(tmp_path, gain=5.0, inner="math.cos(x)")
    assert run_script(tmp_path, env) == pytest.approx(-5.0 * math.sin(0.5))


def test_a_tampered_cache_file_is_rewritten_and_never_run(tmp_path):
    env = dict(os.environ, ADJOINT_CACHE_DIR=str(tmp_path / "cache"))
    write_model(tmp_path)
    expected = run_script(tmp_path, env)
    (cached,) = (tmp_path / "cache").glob("adjoint_*.py")
    text = cached.read_text()
    marker = tmp_path / "ran"
    # same function names, a wrong gradient, and a side effect
    cached.write_text(f"open({str(marker)!r}, 'w').close()\n"
                      "def dloss(x, dout=1.0):\n    return 0.0, 42.0\n"
                      "def dinner(x, dout=1.0):\n    return 0.0, 42.0\n")
    assert run_script(tmp_path, env) == expected
    assert not marker.exists()
    assert cached.read_text() == text


# -- the error classes README lists -----------------------------------------------------------
def test_every_error_class_readme_lists_is_exported_and_an_adjoint_error():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    section = readme.split("## Limits and errors", 1)[1].split("Messages read like", 1)[0]
    names = re.findall(r"`(\w+Error)`", section)
    assert names[0] == "AdjointError" and len(names) == 8
    for name in names:
        assert issubclass(getattr(adjoint, name), AdjointError)
