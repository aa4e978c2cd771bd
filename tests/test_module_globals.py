"""Module constants and closure values are read live by the generated code (jit=False): a
changed constant is seen on the next call, also when it stops being a scalar, although the
code is specialized on the constants that are scalars (issue 19)."""
from __future__ import annotations

import numpy as np
import pytest

import adjoint
from adjoint import grad, value_and_grad

DT = 0.1
STEPS = 3
SCALE = 2.0


def stepped(x):
    s = x
    for _ in range(STEPS):
        s = s + DT * s * s
    return s


def reference(x, dt, steps):
    s, ds = x, 1.0
    for _ in range(steps):
        ds = ds * (1.0 + 2.0 * dt * s)
        s = s + dt * s * s
    return ds


def scaled(x):
    return np.sum(SCALE * x * x)


@pytest.fixture
def constants():
    """Put this module's constants back after a test changes them."""
    saved = dict(DT=DT, STEPS=STEPS, SCALE=SCALE)
    yield globals()
    globals().update(saved)


def test_a_changed_module_constant_is_seen_on_the_next_call(constants):
    g = grad(stepped)
    assert g(0.5) == pytest.approx(reference(0.5, 0.1, 3), rel=1e-12)
    constants["DT"] = 0.25
    assert g(0.5) == pytest.approx(reference(0.5, 0.25, 3), rel=1e-12)
    constants["STEPS"] = 7
    assert g(0.5) == pytest.approx(reference(0.5, 0.25, 7), rel=1e-12)


def test_a_constant_that_changes_kind_gets_code_for_its_new_kind(constants):
    g = value_and_grad(scaled)
    assert g(3.0) == pytest.approx((18.0, 12.0))
    constants["SCALE"] = np.array([1.0, 2.0, 3.0])  # an array now: broadcasting bookkeeping
    value, dx = g(3.0)
    assert value == pytest.approx(54.0)
    assert dx == pytest.approx(36.0)
    constants["SCALE"] = 3  # an int: a scalar again
    assert g(3.0) == pytest.approx((27.0, 18.0))


def test_a_constant_defined_after_the_build_is_read_when_it_exists(constants):
    def late(x):
        return LATE * x * x  # noqa: F821 - defined below, after the gradient is built

    g = grad(late)
    with pytest.raises(NameError, match="LATE"):
        g(2.0)
    constants["LATE"] = 1.5
    try:
        assert g(2.0) == pytest.approx(6.0)
    finally:
        del constants["LATE"]


def test_closure_values_are_read_live():
    rate = 2.0

    def decay(x):
        return np.exp(-rate * x)

    g = grad(decay)
    assert g(0.5) == pytest.approx(-2.0 * np.exp(-1.0))
    rate = 3.0
    assert g(0.5) == pytest.approx(-3.0 * np.exp(-1.5))
    rate = np.array([1.0, 2.0])  # noqa: F841 - read by decay through its cell
    with pytest.raises(adjoint.NonScalarOutputError):
        g(0.5)


def test_generated_code_reads_the_users_module_dictionary_itself():
    """No namespace object between the generated code and the user's module: its globals
    are the module's own dict (CPython's fast global lookups), its helpers closure cells."""
    g = grad(stepped)
    g(0.5)
    made = g._last.function
    assert type(made.__globals__) is dict
    assert made.__globals__ is stepped.__globals__
    assert {"DT", "STEPS"} <= set(made.__code__.co_names)
    assert "np" in made.__code__.co_freevars or "np" not in made.__code__.co_names
