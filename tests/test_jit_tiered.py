"""jit="background": the generated code as Python until Numba has compiled it in a thread
(adjoint/tiered.py). A compilation held back by the test shows the calls do not wait for it."""
from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import sys
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from adjoint import ArgumentError, JitWarning, cache, grad, hvp, jvp  # noqa: E402
from adjoint import jit as jit_  # noqa: E402
from adjoint.tiered import Tiered  # noqa: E402

from .test_jit import cumsum_rows, tiles  # noqa: E402

RNG = np.random.default_rng(26)


def damped(x, y):
    s = 0.0
    for i in range(30):
        s = s * 0.9 + math.sin(x * i) * y
    return s


def smooth(x, A):
    h = np.tanh(A @ x)
    return np.sum(h * h) + np.sum(x ** 3)


def assert_close(a, b, tol=1e-12):
    a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert np.allclose(u, v, rtol=tol, atol=tol)


@pytest.fixture
def held(monkeypatch):
    """Compilations wait for ``held.set()`` before they start."""
    gate = threading.Event()
    original = jit_.JitFunction.compile_for

    def compile_for(self, args, kwargs):
        assert gate.wait(300)
        return original(self, args, kwargs)

    monkeypatch.setattr(jit_.JitFunction, "compile_for", compile_for)
    yield gate
    gate.set()


def tier_of(g) -> Tiered:
    tier = g._last.function
    assert isinstance(tier, Tiered)
    return tier


def test_calls_run_as_python_until_compiled_then_compiled(held):
    g = grad(damped, wrt=(0, 1), jit="background")
    expected = grad(damped, wrt=(0, 1))(0.3, 1.5)
    for _ in range(3):  # the compilation is held: these cannot have waited for it
        assert_close(g(0.3, 1.5), expected, 1e-14)
    tier = tier_of(g)
    assert not tier.jitted.dispatcher.signatures  # nothing compiled yet, nothing run by Numba
    assert not g.wait_compiled(timeout=0.01)
    held.set()
    assert g.wait_compiled(timeout=300)
    assert len(tier.jitted.dispatcher.signatures) == 1
    assert_close(g(0.3, 1.5), grad(damped, wrt=(0, 1), jit=True)(0.3, 1.5))
    # the call path is made again once compiled: straight to Numba's dispatcher
    g(0.3, 1.5)
    assert g._fast is not None and g._fast.__globals__["target"] is tier.jitted.dispatcher
    assert len(tier.jitted.dispatcher.signatures) == 1  # and the calls compiled nothing more


def test_arrays_and_new_argument_types_compile_again_in_the_background(held):
    x, A = RNG.normal(size=4), RNG.normal(size=(3, 4))
    g = grad(smooth, wrt=(0, 1), jit="background")
    expected = grad(smooth, wrt=(0, 1))(x, A)
    assert_close(g(x, A), expected)
    held.set()
    assert g.wait_compiled(timeout=300)
    assert_close(g(x, A), expected)
    # x a matrix: another signature, compiled in the background too (Python meanwhile)
    X = RNG.normal(size=(4, 2))
    held.clear()
    assert_close(g(X, A), grad(smooth, wrt=(0, 1))(X, A))
    assert len(tier_of(g).jitted.dispatcher.signatures) == 1
    held.set()
    assert g.wait_compiled(timeout=300)
    assert len(tier_of(g).jitted.dispatcher.signatures) == 2


def fresh_function():
    """A function no test has compiled (a build is cached per function object)."""
    def cubic(x, y):
        return x * x * y + math.sin(x)
    return cubic


def test_switch_interval_is_short_while_compiling_and_restored_after(held):
    before = sys.getswitchinterval()
    g = grad(fresh_function(), wrt=(0, 1), jit="background")
    g(0.7, 2.0)
    assert sys.getswitchinterval() < before  # the compilation waits at the gate meanwhile
    held.set()
    assert g.wait_compiled(timeout=300)
    assert tier_of(g)._compiled
    assert sys.getswitchinterval() == before


def forked_report(g, args, expected, in_parent=lambda: None) -> bytes:
    """Fork; the child calls g (which compiles again in its own thread), waits for the
    machine code and writes b"ok" if it came and agrees with ``expected``. The parent
    calls ``in_parent()`` once forked."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        pid = os.fork()
    if pid == 0:
        try:
            got = g(*args)
            ok = g.wait_compiled(timeout=120) and bool(tier_of(g)._compiled)
            ok = ok and np.allclose(g(*args), got) and np.allclose(got, expected)
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    in_parent()
    ready, _, _ = select.select([read], [], [], 180)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    report = os.read(read, 2) if ready else b"hung"
    os.waitpid(pid, 0)
    return report


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_fork_waits_for_the_compilation_and_the_child_compiles_too():
    # a child must not inherit Numba's compiler lock held by a thread it does not have
    g = grad(fresh_function(), wrt=(0, 1), jit="background")
    expected = grad(fresh_function(), wrt=(0, 1))(0.7, 2.0)
    g(0.7, 2.0)  # starts the compilation; the fork below comes while it runs
    assert forked_report(g, (0.7, 2.0), expected) == b"ok"
    assert g.wait_compiled(timeout=300) and tier_of(g)._compiled


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
def test_a_fork_while_the_module_file_is_locked_leaves_the_child_free_to_compile(
        monkeypatch):
    # the thread holds the flock of its module (cache.compile_lock) before it takes
    # Numba's lock: a child inheriting that descriptor from a thread it does not have
    # would wait for ever for its own lock on the file
    parent, locked, gate = os.getpid(), threading.Event(), threading.Event()
    original = cache.compile_lock

    @contextlib.contextmanager
    def compile_lock(path):
        with original(path):
            if os.getpid() == parent:  # the fork comes now; the child's thread goes on
                locked.set()
                assert gate.wait(300)
            yield

    monkeypatch.setattr(cache, "compile_lock", compile_lock)
    g = grad(fresh_function(), wrt=(0, 1), jit="background")
    expected = grad(fresh_function(), wrt=(0, 1))(0.7, 2.0)
    g(0.7, 2.0)
    assert locked.wait(300)
    try:
        assert forked_report(g, (0.7, 2.0), expected, in_parent=gate.set) == b"ok"
    finally:
        gate.set()
    assert g.wait_compiled(timeout=300) and tier_of(g)._compiled


def test_refused_before_compiling_warns_once_and_runs_as_python():
    x = RNG.normal(size=3)
    g = grad(tiles, jit="background")
    with pytest.warns(JitWarning) as caught:
        first = g(x)
    message = str(caught[0].message)
    assert f"test_jit.py:{tiles.__code__.co_firstlineno + 1}:" in message
    assert "np.repeat" in message and "run as Python" in message
    assert_close(first, grad(tiles)(x), 1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(g(x), first, 1e-15)  # once
    assert g.wait_compiled(timeout=0)


def test_refused_by_numba_typing_warns_once_after_the_compilation():
    W = RNG.normal(size=(3, 3))
    g = grad(cumsum_rows, jit="background")
    expected = grad(cumsum_rows)(W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(g(W), expected, 1e-15)  # no verdict yet, no warning
    assert g.wait_compiled(timeout=300)
    with pytest.warns(JitWarning) as caught:
        assert_close(g(W), expected, 1e-15)
    message = str(caught[0].message)
    assert f"test_jit.py:{cumsum_rows.__code__.co_firstlineno + 1}:" in message
    assert "np.cumsum" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(g(W), expected, 1e-15)


def test_transforms_take_background():
    x, A = RNG.normal(size=4), RNG.normal(size=(3, 4))
    v = RNG.normal(size=4)
    for make in (jvp, hvp):
        t = make(smooth, wrt=0, jit="background")
        expected = make(smooth, wrt=0)(x, A, v)
        assert_close(t(x, A, v), expected)
        assert t.wait_compiled(timeout=300)
        assert_close(t(x, A, v), expected)
        assert isinstance(t._last.function, Tiered) and t._last.function._compiled


def test_containers_take_background():
    def loss(params, x):
        return np.sum(np.tanh(params["W"] @ x + params["b"]) ** 2)

    params = {"W": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    x = RNG.normal(size=3)
    g = grad(loss, jit="background")
    expected = grad(loss)(params, x)
    got = g(params, x)
    assert g.wait_compiled(timeout=300)
    again = g(params, x)
    for key in params:
        assert_close(got[key], expected[key])
        assert_close(again[key], expected[key])


@pytest.mark.parametrize("bad", ["yes", 1.0, None, "Background"])
def test_other_jit_values_are_refused(bad):
    with pytest.raises(ArgumentError) as caught:
        grad(damped, jit=bad)
    assert "test_jit_tiered.py" in str(caught.value) and "background" in str(caught.value)
    with pytest.raises(ArgumentError):
        hvp(damped, jit=bad)
