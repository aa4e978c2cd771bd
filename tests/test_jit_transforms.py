"""jvp, vjp and hvp with jit=True on every program of the control-flow and jit tables that
grad(jit=True) accepts (issue 19): each against its jit=False twin, and hvp against central
differences of the gradient. The programs are those of test_control_flow.py and test_jit.py,
imported, so a program added there is checked here too.

Compiling three transforms of a program of arrays takes Numba 5-50 s on this project's
machines (all programs: about 5 minutes cold): by default the programs of scalars run, and
a loop over an array whose second-order build test_jit_second_order.py shares;
ADJOINT_JIT_TRANSFORMS=all runs every program (as before a change to forward.py,
tangent_*.py or the jit paths of transforms.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from adjoint import JitError, MissingRuleError, grad, hessian, hvp, jacobian, jvp, vjp

from . import control_flow_cases as c
from .test_control_flow import CASES as CONTROL_FLOW
from .test_jit import CASES as JIT

EVERY = os.environ.get("ADJOINT_JIT_TRANSFORMS") == "all"
ARRAY_LOOPS = (c.element_writes,)


def program(name: str, fn, args, wrt):
    quick = fn in ARRAY_LOOPS or all(np.ndim(a) == 0 for a in args)
    marks = () if quick or EVERY else pytest.mark.skip(
        reason="arrays: seconds of compiling; ADJOINT_JIT_TRANSFORMS=all runs it")
    return pytest.param(name, fn, args, wrt, marks=marks, id=name)


PROGRAMS = [program(f"{fn.__name__}-{i}", fn, args, wrt)
            for i, (fn, args, wrt) in enumerate(CONTROL_FLOW)]
PROGRAMS += [program(f"jit-{name}", fn, args, wrt) for name, (fn, wrt, args) in sorted(JIT.items())]

# One transform per (kind, function, wrt, jit), shared by every test and point of this module
# (and the pipeline's cache shares the compiled code with test_jit.py's gradients).
_MADE: dict = {}
_TRANSFORMS = {"grad": grad, "jvp": jvp, "vjp": vjp, "hvp": hvp}


def made(kind: str, fn, wrt, jit: bool):
    key = (kind, fn, wrt, jit)
    if key not in _MADE:
        _MADE[key] = _TRANSFORMS[kind](fn, wrt, jit=jit)
    return _MADE[key]


def accepted_by_grad(fn, args, wrt) -> None:
    """Skip what grad(jit=True) refuses: the claim is about the programs it accepts (its
    refusals are test_jit.py's and the fuzz tests' business)."""
    try:
        made("grad", fn, wrt, True)(*args)
    except JitError as exc:
        pytest.skip(f"grad(jit=True) refuses it: {str(exc).splitlines()[0]}")


def directions(args, wrt, seed: int) -> tuple:
    """A random direction per differentiated argument, shaped like it."""
    rng = np.random.default_rng(seed)
    ws = wrt if isinstance(wrt, tuple) else (wrt,)
    return tuple(rng.normal(size=np.shape(args[w])) if np.ndim(args[w]) else
                 float(rng.normal()) for w in ws)


def one_or_tuple(items: tuple, wrt):
    return items if isinstance(wrt, tuple) else items[0]


def assert_same(a, b, rtol=1e-10):
    a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        # a scalar is a float either way (compiled code returns float where NumPy gives
        # np.float64, a float subclass); an array is an array
        assert isinstance(x, np.ndarray) == isinstance(y, np.ndarray)
        assert isinstance(x, (float, np.ndarray)) and isinstance(y, (float, np.ndarray))
        np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float), rtol=rtol,
                                   atol=1e-12)


@pytest.mark.parametrize("name, fn, args, wrt", PROGRAMS)
def test_jvp_with_jit_matches_python(name, fn, args, wrt):
    accepted_by_grad(fn, args, wrt)
    tangent = one_or_tuple(directions(args, wrt, 1), wrt)
    assert_same(made("jvp", fn, wrt, True)(*args, tangent),
                made("jvp", fn, wrt, False)(*args, tangent))


@pytest.mark.parametrize("name, fn, args, wrt", PROGRAMS)
def test_vjp_with_jit_matches_python(name, fn, args, wrt):
    accepted_by_grad(fn, args, wrt)
    value, pullback = made("vjp", fn, wrt, True)(*args)
    expected_value, expected_pullback = made("vjp", fn, wrt, False)(*args)
    assert_same(value, expected_value)
    cotangent = float(np.random.default_rng(2).normal())
    assert_same(pullback(cotangent), expected_pullback(cotangent))


@pytest.mark.parametrize("name, fn, args, wrt", PROGRAMS)
def test_hvp_with_jit_matches_python_and_differences_of_the_gradient(name, fn, args, wrt):
    accepted_by_grad(fn, args, wrt)
    vectors = directions(args, wrt, 3)
    v = one_or_tuple(vectors, wrt)
    try:
        expected = made("hvp", fn, wrt, False)(*args, v)
    except MissingRuleError:
        # not a jit limit: hvp refuses it in Python mode too (README: lists built with
        # append), and with jit=True it must refuse it the same way
        with pytest.raises(MissingRuleError):
            made("hvp", fn, wrt, True)(*args, v)
        return
    got = made("hvp", fn, wrt, True)(*args, v)
    assert_same(got, expected)
    if name not in ON_A_KINK:
        assert_same(got, gradient_differences(fn, args, wrt, vectors), rtol=1e-5)


# points of the tables where the gradient jumps (differences of it are of order 1/h there)
ON_A_KINK = {"jit-branches_a"}  # x * y == 1.0 exactly: the z > 1.0 test


def gradient_differences(fn, args, wrt, vectors, h=2e-6):
    """H v by central differences of the (Python mode) gradient along v, extrapolated
    (Richardson: error of order h**4; recurrence's 10,000 steps need it)."""
    ws = wrt if isinstance(wrt, tuple) else (wrt,)
    g = made("grad", fn, wrt, False)

    def at(step):
        moved = list(args)
        for w, v in zip(ws, vectors):
            moved[w] = args[w] + step * v
        result = g(*moved)
        return result if isinstance(wrt, tuple) else (result,)

    def differences(step):
        return [(a - b) / (2 * step) for a, b in zip(at(step), at(-step))]

    diffs = tuple((4 * fine - coarse) / 3
                  for fine, coarse in zip(differences(h / 2), differences(h)))
    return one_or_tuple(tuple(type(x)(d) if isinstance(x, float) else d
                              for d, x in zip(diffs, (args[w] for w in ws))), wrt)


# jacobian and hessian go through jvp/vjp and hvp: one program each way is enough here
def test_jacobian_and_hessian_with_jit_match_python():
    from .test_jit import products

    x, W = JIT["products"][2]
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(jacobian(products, 0, mode=mode, jit=True)(x, W),
                                   jacobian(products, 0, mode=mode)(x, W), rtol=1e-10)
    np.testing.assert_allclose(hessian(products, 0, jit=True)(x, W),
                               hessian(products, 0)(x, W), rtol=1e-10)
