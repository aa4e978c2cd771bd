"""jit=True: the same generated text compiled by Numba in nopython mode, and cached on disk.

Every case runs both ways and must agree to 1e-12 relative. Numba compiles are slow, so each
gradient function is built once per module (the ``built`` cache) and shared by the tests.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba")

from adjoint import JitError, grad, jvp, value_and_grad  # noqa: E402
from adjoint import jit as jit_  # noqa: E402

from . import helper_module  # noqa: E402
from .helper_module import scaled_tanh  # noqa: E402
from .test_background import sigmoid_chain  # noqa: E402


# -- the functions ---------------------------------------------------------------------------
def recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.999 + math.sin(x * i) * 0.001
    return s


def pendulum(k, c, n):
    theta = 1.0
    omega = 0.0
    dt = 0.01
    for _step in range(n):
        accel = -k * math.sin(theta) - c * omega
        theta = theta + dt * omega
        omega = omega + dt * accel
    return theta


def branches(x, y):
    if x > y:
        z = x * y
    else:
        z = x + math.exp(y)
    if z > 1.0 and x < 3.0:
        z = z * z
    return max(z, y) + abs(x)


def while_break(x):
    s = 0.0
    i = 0
    while i < 100:
        s = s + x * i
        if s > 10.0:
            break
        i += 1
    return s


def element_writes(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] + 1.0
    out[1:3] = np.sin(x[1:3])
    return np.sum(out * out)


def broadcasting(x, W, b):
    h = np.tanh(W * x + b)
    # np.mean and np.max with an axis do not compile in Numba (the primal); sum does
    return np.mean(np.sum(h, axis=1)) + np.max(h) * np.sum(h ** 2, axis=0)[0]


def products(x, W):
    y = W @ x
    z = np.dot(W, y)
    return np.dot(z, x) + np.sum(W @ W)


def indexing_loop(x):
    s = 0.0
    for i in range(1, x.shape[0] - 1):
        s = s + x[i] * (x[i + 1] - x[i - 1]) + np.sum(x[i - 1:i + 2]) ** 2
    return s


def layer(x, W):
    return np.tanh(W @ x)


def calls_helpers(x, W):
    h = layer(x, W)
    return np.sum(h * h) + np.sum(scaled_tanh(x, 0.5))


def tiles(x):  # np.repeat's adjoint helper (unrepeat) has no Numba version
    return np.sum(np.repeat(x, 2) ** 2)


def cumsum_rows(X):
    return np.sum(np.cumsum(X, axis=1) ** 2)


# -- shared builds ---------------------------------------------------------------------------
RNG = np.random.default_rng(7)
X3 = RNG.normal(size=3)
W3 = RNG.normal(size=(3, 3))
X6 = RNG.normal(size=6)

CASES = {
    "recurrence": (recurrence, 0, (0.3, 10_000)),
    "pendulum": (pendulum, (0, 1), (2.0, 0.3, 1000)),
    "sigmoid_chain": (sigmoid_chain, 0, (3.0,)),
    "branches_a": (branches, (0, 1), (2.0, 0.5)),
    "branches_b": (branches, (0, 1), (0.2, 0.5)),
    "while_break": (while_break, 0, (0.7,)),
    "element_writes": (element_writes, 0, (X6,)),
    "broadcasting": (broadcasting, (0, 1, 2), (X3, W3, RNG.normal(size=(3, 1)))),
    "products": (products, (0, 1), (X3, W3)),
    "indexing_loop": (indexing_loop, 0, (X6,)),
    "calls_helpers": (calls_helpers, (0, 1), (X3, W3)),
}

_BUILT: dict = {}


def built(fn, wrt, jit):
    """One GradientFunction per (function, wrt, jit), shared by all tests in this module."""
    key = (fn, wrt, jit)
    if key not in _BUILT:
        _BUILT[key] = value_and_grad(fn, wrt, jit=jit)
    return _BUILT[key]


def assert_close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("case", sorted(CASES))
def test_jit_matches_python(case):
    fn, wrt, args = CASES[case]
    value, grads = built(fn, wrt, True)(*args)
    expected_value, expected = built(fn, wrt, False)(*args)
    assert_close(value, expected_value)
    grads = grads if isinstance(wrt, tuple) else (grads,)
    expected = expected if isinstance(wrt, tuple) else (expected,)
    for g, e in zip(grads, expected):
        assert type(g) is type(e)
        assert_close(g, e)


def test_jit_runs_machine_code_and_shows_the_same_text():
    jitted = built(recurrence, 0, True)
    assert jitted.source == built(recurrence, 0, False).source
    function = jitted._last.function  # the build that ran for the last call
    assert function.dispatcher.signatures  # compiled (by test_jit_matches_python or now)
    assert function.dispatcher.targetoptions.get("nopython")


def test_decorator_and_grad_forms():
    @grad(jit=True)
    def square_sin(x):
        return math.sin(x) * x

    assert abs(square_sin(0.5) - (math.cos(0.5) * 0.5 + math.sin(0.5))) < 1e-14
    dk, dc = grad(pendulum, (0, 1), jit=True)(2.0, 0.3, 1000)
    assert_close((dk, dc), built(pendulum, (0, 1), False)(2.0, 0.3, 1000)[1])


# -- what Numba cannot compile ---------------------------------------------------------------
def test_unsupported_helper_is_reported_at_build_time():
    with pytest.raises(JitError) as info:
        grad(tiles, jit=True).source  # noqa: B018 - building is what raises
    message = str(info.value)
    line = tiles.__code__.co_firstlineno + 1
    assert f"test_jit.py:{line}:" in message
    assert "np.repeat" in message and "jit=False" in message
    assert grad(tiles)(X3).shape == (3,)  # and without jit it works


def test_numba_typing_failure_names_the_line():
    with pytest.raises(JitError) as info:
        grad(cumsum_rows, jit=True)(W3)
    message = str(info.value)
    line = cumsum_rows.__code__.co_firstlineno + 1
    assert f"test_jit.py:{line}:" in message
    assert "np.cumsum" in message and "jit=False" in message
    assert "cumsum_adjoint" in message  # the generated statement Numba rejected


# -- the on-disk cache -----------------------------------------------------------------------
SCRIPT = """
import math, sys
sys.path.insert(0, {directory!r})
from model import damped
from adjoint import grad

g = grad(damped, jit=True)
print(repr(g(0.25, 500)))
stats = g._last.function.dispatcher.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""

MODEL = """
import math

def damped(x, n):
    s = 1.0
    for i in range(n):
        s = s * 0.99 + math.cos(x * s) * 0.01
    return s
"""


def test_second_process_loads_machine_code_from_the_cache(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent(MODEL))
    env = dict(os.environ, ADJOINT_CACHE_DIR=str(tmp_path / "cache"))
    script = SCRIPT.format(directory=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True, timeout=120)
        value, counts = out.stdout.strip().splitlines()
        return float(value), tuple(int(c) for c in counts.split())

    first, (hits, misses) = run()
    assert (hits, misses) == (0, 1)  # compiled
    second, (hits, misses) = run()
    assert (hits, misses) == (1, 0)  # loaded, not compiled
    assert second == first
    assert len(list((tmp_path / "cache").glob("adjoint_*.py"))) == 1


def test_cache_file_with_other_content_is_rewritten_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(tmp_path))
    path = jit_.write_cached("x = 1\n", "k" * 64)
    with open(path, "w") as f:
        f.write("import os\nos.remove('/')\n")
    assert jit_.write_cached("x = 1\n", "k" * 64) == path
    with open(path) as f:
        assert f.read() == "x = 1\n"


def test_cache_key_includes_global_values():
    a = jit_.fingerprint(recurrence)
    assert a == jit_.fingerprint(recurrence)
    assert jit_.fingerprint(np.arange(3.0)) != jit_.fingerprint(np.arange(1.0, 4.0))
    assert jit_.fingerprint(scaled_tanh) != jit_.fingerprint(layer)


def uses_a_module_constant(x):
    return np.sum(scaled_tanh(x)) * 2.0  # scaled_tanh reads helper_module.GAIN


def test_a_new_compiled_gradient_sees_a_changed_global(monkeypatch):
    """Numba freezes globals into the machine code; a gradient made after a global changed
    must be compiled again rather than served from the in-process cache."""
    x = np.array([0.1, -0.2])
    before = grad(uses_a_module_constant, jit=True)(x)
    monkeypatch.setattr(helper_module, "GAIN", 5.0)
    after = grad(uses_a_module_constant, jit=True)(x)
    np.testing.assert_allclose(after, before * 5.0 / 3.0, rtol=1e-12)
    _, t = jvp(uses_a_module_constant, jit=True)(x, np.ones(2))
    assert t == pytest.approx(float(np.sum(after)), rel=1e-12)
