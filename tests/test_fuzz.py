"""Property-based differential testing: random programs over the supported subset, their
adjoint gradients against float64 central differences.

By default (CI) a bounded, derandomized run; ``ADJOINT_FUZZ_EXAMPLES=2000 pytest -m fuzz
tests/test_fuzz.py`` runs the long randomized one. The generator is in fuzz_programs.py.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from adjoint import UnsupportedSyntaxError, grad, value_and_grad

from .fuzz_programs import MARGIN, Margins, programs

CI_EXAMPLES = 150
LONG_EXAMPLES = int(os.environ.get("ADJOINT_FUZZ_EXAMPLES", "0"))
# Constructs switched off in the generator while a bug they trigger is open (see the xfail
# regression tests at the bottom of this file). Empty when every known bug is fixed.
# "mutate_iterated" (an array changed by += while a loop iterates over it) is refused with an
# UnsupportedSyntaxError by design (bug 3 below), so the generator does not produce it.
EXCLUDE = frozenset({"mutate_iterated"})

_counter = itertools.count()


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_programs")


def load(source: str, directory, fn: str = "f"):
    """Write ``source`` to a fresh module file and import it (grad reads it with inspect)."""
    name = f"adjoint_fuzz_{os.getpid()}_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, fn)


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def central_difference(f, args, wrt, eps):
    """d f / d args[w] for each w in wrt, by float64 central differences."""
    grads = []
    for w in wrt:
        x = args[w]
        if isinstance(x, np.ndarray):
            g = np.zeros_like(x, dtype=float)
            for k in np.ndindex(x.shape):
                hi, lo = copies(args), copies(args)
                hi[w][k] += eps
                lo[w][k] -= eps
                g[k] = (f(*hi) - f(*lo)) / (2 * eps)
        else:
            hi, lo = copies(args), copies(args)
            hi[w] += eps
            lo[w] -= eps
            g = (f(*hi) - f(*lo)) / (2 * eps)
        grads.append(g)
    return grads


def errors(ad, fd):
    return [float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(1.0, np.abs(b))))
            for a, b in zip(ad, fd)]


def check_program(program, directory, tol: float = 1e-5) -> None:
    source = program.render()
    args = program.args

    # 1. stay away from kinks and branch thresholds (the instrumented twin records margins)
    margins = Margins()
    namespace = margins.namespace()
    exec(compile(program.render(inst=True), "<instrumented>", "exec"), namespace)
    try:
        with np.errstate(all="raise"):
            value = namespace["f"](*copies(args))
    except (FloatingPointError, OverflowError, ZeroDivisionError):
        assume(False)
    assume(min(margins.values, default=math.inf) > MARGIN)
    assume(np.isfinite(value) and abs(value) < 1e6)

    f = load(source, directory)
    direct = f(*copies(args))
    assert direct == value, f"instrumented program disagrees with the plain one:\n{source}"

    # 2. the gradient sweep: the primal value, untouched inputs, grad == value_and_grad
    inputs = copies(args)
    primal, ad = value_and_grad(f, wrt=program.wrt)(*inputs)
    for before, after in zip(args, inputs):
        if isinstance(before, np.ndarray):
            assert np.array_equal(before, after), f"gradient modified its input:\n{source}"
        else:
            assert before == after
    assert primal == pytest.approx(direct, rel=1e-12, abs=1e-12), (
        f"value_and_grad value {primal!r} != f(...) {direct!r}\n{source}")
    ad = ad if isinstance(ad, tuple) else (ad,)
    again = grad(f, wrt=program.wrt)(*copies(args))
    again = again if isinstance(again, tuple) else (again,)
    for a, b in zip(ad, again):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for g, x in zip(ad, (args[w] for w in program.wrt)):
        assert np.shape(g) == np.shape(x)

    # 3. against central differences, at two step sizes (if those disagree, the point is
    # too close to a kink or too badly conditioned for the check: skip it)
    fd1 = central_difference(f, args, program.wrt, 1e-6)
    err1 = errors(ad, fd1)
    if max(err1) <= tol:
        return
    fd2 = central_difference(f, args, program.wrt, 1e-5)
    assume(max(errors(fd1, fd2)) <= tol / 10)
    names = [p for i, p in enumerate(program.params) if i in program.wrt]
    detail = "\n".join(f"  d/d{n}: adjoint {a!r}, finite differences {b!r}"
                       for n, a, b, e in zip(names, ad, fd1, err1) if e > tol)
    raise AssertionError(f"gradient mismatch (max rel. error {max(err1):.3g}):\n{detail}\n"
                         f"{source}")


FUZZ_SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@settings(max_examples=CI_EXAMPLES, derandomize=True, **FUZZ_SETTINGS)
@given(program=programs(exclude=EXCLUDE))
def test_random_programs(program, program_dir):
    check_program(program, program_dir)


@pytest.mark.fuzz
@pytest.mark.skipif(LONG_EXAMPLES <= 0, reason="set ADJOINT_FUZZ_EXAMPLES=N for a long run")
@settings(max_examples=max(LONG_EXAMPLES, 1), derandomize=False, **FUZZ_SETTINGS)
@given(program=programs(exclude=EXCLUDE))
def test_random_programs_long(program, program_dir):
    check_program(program, program_dir)


# ---------------------------------------------------------------------------------------------
# minimized regressions found by the fuzzer
# ---------------------------------------------------------------------------------------------


# Bug 1 (found by this fuzzer, since fixed in the working tree): rebinding a variable to an
# operation that reads it, when the operation's rule uses its own result (division, np.tanh,
# np.exp, np.sqrt, ...), e.g. ``x = x / y``, ``s = np.tanh(s)``, ``s /= x``: the backward code
# restored ``x = x_saved`` and then evaluated the rule with the result replaced by the restored
# name (``dy = -dt1 * x / y`` instead of ``-dt1 * t1 / y``). Kept as a plain regression test.
def rebind_divide(x, y):
    x = x / y
    return x


def rebind_tanh_in_loop(x):
    s = x + 0.0
    for _i in range(2):
        s = np.tanh(s)
    return s


def rebind_augmented_divide(x):
    x /= (1.5 + x * x)
    return x


@pytest.mark.parametrize("fn, args", [
    (rebind_divide, (0.5, 1.7)),
    (rebind_tanh_in_loop, (0.5,)),
    (rebind_augmented_divide, (0.5,)),
])
def test_regression_rebind_result_using_rule(fn, args):
    wrt = tuple(range(len(args)))
    ad = grad(fn, wrt=wrt)(*args)
    ad = ad if isinstance(ad, tuple) else (ad,)
    fd = central_difference(fn, list(args), wrt, 1e-6)
    assert max(errors(ad, fd)) < 1e-6


# Bug 2: a conditional expression choosing between two arrays makes the aliasing check treat
# both arrays (and the temporary) as one memory "family" for the whole function, so a later
# in-place update of either is refused with UnsupportedSyntaxError ("a0 and a1 share memory"),
# although nothing aliases. Generator knob: "array_ifexp".
def ifexp_then_inplace(x, a0, a1):
    x -= np.mean(a1 if x > 0 else a0)
    a0 -= 1.0
    return x + np.sum(a0)


def test_regression_ifexp_does_not_alias():
    args = [0.5, np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])]
    ad = grad(ifexp_then_inplace, wrt=(0, 1, 2))(*copies(args))
    fd = central_difference(ifexp_then_inplace, args, (0, 1, 2), 1e-6)
    assert max(errors(ad, fd)) < 1e-6


# Bug 3: iterating over an array that the loop body updates in place as a whole
# (``out *= 2.0``, ``a0 += a0``): Python's iterator sees the new values, but the generated code
# iterates over a snapshot ``t1 = out`` and rewrites ``out *= 2.0`` as a rebinding
# ``out = out * 2.0``, so both the value and the gradient are wrong (value 6.0 instead of 17.0
# for [1, 2, 3]; gradient [1, 1, 1] instead of [1, 2, 4]). Element writes (``out[2] = ...``)
# are handled. Generator knob: "mutate_iterated".
def iterate_while_scaling(a0):
    s = 0.0
    out = a0.copy()
    for r in out:
        s += r
        out *= 2.0
    return s


def test_regression_iterate_over_array_updated_in_place_is_refused():
    # NumPy's in-place *= would change the array the loop walks: refused, not guessed
    with pytest.raises(UnsupportedSyntaxError, match="changed in place"):
        value_and_grad(iterate_while_scaling)(np.array([1.0, 2.0, 3.0]))


# Bug 4: ``break``/``continue`` inside a loop's ``else`` clause belongs to the *enclosing* loop.
# The generated code gets it wrong: with a while/else around it, the wrong else clause runs
# (value 2.1, gradient 3.0 instead of 0.7 and 1.0); with a for around it, the backward sweep
# crashes with ``IndexError: pop from empty list``. Generator knob: "else_jump".
def break_in_inner_else(x0):
    c = 0
    while c < 1:
        c += 1
        for _i in range(2):
            pass
        else:
            if x0 > 0.5:
                break
    else:
        x0 = x0 * 3.0
    return x0


def continue_in_inner_else(x0, a0):
    s = x0
    for r in a0:
        for _i in range(1):
            s = s * r
        else:
            if r > 0.5:
                continue
        s = s + 1.0
    return s


@pytest.mark.parametrize("fn, args", [
    (break_in_inner_else, [0.7]),
    (continue_in_inner_else, [0.3, np.array([1.0, 0.2, 0.9])]),
])
def test_regression_jump_in_inner_loop_else(fn, args):
    wrt = tuple(range(len(args)))
    value, ad = value_and_grad(fn, wrt=wrt)(*copies(args))
    ad = ad if isinstance(ad, tuple) else (ad,)
    assert value == fn(*copies(args))
    fd = central_difference(fn, args, wrt, 1e-6)
    assert max(errors(ad, fd)) < 1e-6


# Bug 5: augmented slice writes repeated in a loop, after an overlapping slice write:
# gradient -10.8 instead of -9.0 (without the loop, C2 in the report, it is right).
# Generator knob: "slice".
def overlapping_slice_updates_in_loop(x1):
    out = np.ones(3)
    out[0:2] *= x1
    c = 0
    while c < 2:
        c += 1
        out[1:3] -= x1
    return np.sum(out * np.array([1.0, 2.0, 4.0]))


def test_regression_slice_updates_in_loop():
    ad = grad(overlapping_slice_updates_in_loop)(0.4)
    fd = central_difference(overlapping_slice_updates_in_loop, [0.4], (0,), 1e-6)
    assert max(errors([ad], fd)) < 1e-6


# Bug 6: a view of an array (``out[::-1]``) used in an operation, then the array is updated in
# place in a later loop: the backward sweep uses the view, which now shows the updated values.
# Generator knob: "view" (reversed-slice reads).
def view_then_loop_update(a0, a1):
    out = a1.copy()
    out[0] = np.dot(out[::-1], a0)
    for i in range(1):
        out[0] += i
    return np.sum(out)


def test_regression_view_then_loop_update():
    args = [np.array([0.8063, 0.23351, -1.33786]), np.array([0.29219, 0.32366, 0.45655])]
    ad = grad(view_then_loop_update, wrt=(0, 1))(*copies(args))
    fd = central_difference(view_then_loop_update, args, (0, 1), 1e-6)
    assert max(errors(ad, fd)) < 1e-6


# Found by a long run: a loop that both writes into an array and rebinds it (out2[2] = ...;
# out2 *= ...) was restored by rebinding to a copy, so views made before the loop (from
# out2[0:2] *= ...) missed the in-place restores that followed. Fixed: the loop restores the
# original object, then its contents.
def views_before_a_loop_that_rebinds(x0, x1, a0):
    out1 = a0.copy()
    out2 = np.zeros(3)
    for _r7, _w8 in zip(out1, out2):
        out2[0:2] *= np.mean(out1)
        for r9, _w10 in zip(out2, out1):
            out2[out1 < 2.0] += np.max(out1[::-1]) if not (a0[1] < -0.3 or r9 <= 0.9) else x1
    c11 = 0
    while c11 < 2 and x1 < -0.3:
        out2[2] = -a0[c11 - 1]
        out2 *= np.max(a0)
    return np.sum(a0) + np.sum(np.array([0.7, -1.2, 0.4]) * out1) + np.mean(out2)


def test_regression_views_before_a_loop_that_rebinds():
    args = [-1.2877, 1.12531, np.array([1.1063, 1.03351, 1.86214])]
    ad = grad(views_before_a_loop_that_rebinds, wrt=(0, 1, 2))(*copies(args))
    fd = central_difference(views_before_a_loop_that_rebinds, args, (0, 1, 2), 1e-6)
    assert max(errors(ad, fd)) < 1e-6
