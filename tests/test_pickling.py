"""Every object the API returns pickles (pickle, cloudpickle) and deep-copies, before and
after a call, in both jit modes, by its function's name and options; a fresh process
(spawn) unpickles it and gets the same results. Functions that cannot be named say so."""
from __future__ import annotations

import concurrent.futures
import copy
import multiprocessing
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adjoint import AdjointError, grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from adjoint.pickling import NotImportableError
from tests import pickle_cases as pc

ROOT = Path(__file__).parent.parent

try:
    import cloudpickle
except ImportError:  # an optional dependency (Dask brings it)
    cloudpickle = None

DUMPS = [pickle.dumps] + ([cloudpickle.dumps] if cloudpickle else [])


def cases(jit: bool) -> list[tuple[str, object, list[tuple]]]:
    """(name, object, argument tuples to call it with) for every kind the API returns."""
    w, X, y = pc.data()
    x, a = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.7])
    _, pullback = vjp(pc.vector_out, jit=jit)(x, a)
    return [
        ("grad", grad(pc.loss, jit=jit), [(w, X, y)]),
        ("value_and_grad", value_and_grad(pc.loss, jit=jit), [(w, X, y)]),
        ("grad wrt two, decorated", pc.decorated if not jit else grad(
            pc.decorated.fn, wrt=(0, 1), jit=True), [(x, a)]),
        ("jvp", jvp(pc.vector_out, jit=jit), [(x, a, a)]),
        ("vjp", vjp(pc.vector_out, jit=jit), [(x, a)]),
        ("pullback", pullback, [(a,), (x,)]),
        ("jacobian rev", jacobian(pc.vector_out, mode="rev", jit=jit), [(x, a)]),
        ("jacobian fwd", jacobian(pc.vector_out, mode="fwd", jit=jit), [(x, a)]),
        ("hvp", hvp(pc.scalar_two, jit=jit), [(x, a, a)]),
        ("hessian", hessian(pc.scalar_two, jit=jit), [(x, a)]),
    ]


def assert_same(got, expected):
    """The same numbers in the same structure (a pullback, as vjp returns, is not compared)."""
    if callable(expected):
        assert callable(got)
    elif isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same(g, e)
    else:
        assert type(got) is type(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def spawned():
    """One fresh process, started by spawn (nothing inherited but sys.path and the
    environment), for every round trip."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        yield pool


@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
def test_every_api_object_round_trips_into_a_fresh_process(jit, spawned):
    for name, obj, calls in cases(jit):
        before = [dumps(obj) for dumps in DUMPS]
        expected = [obj(*args) for args in calls]
        after = [dumps(obj) for dumps in DUMPS]
        for payload in before + after:
            got = spawned.submit(pc.load_and_call, payload, calls).result(timeout=600)
            assert len(got) == len(expected), name
            for g, e in zip(got, expected):
                assert_same(g, e)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
def test_copies_are_fresh_objects_for_the_same_function(jit):
    for name, obj, calls in cases(jit):
        expected = [obj(*args) for args in calls]
        for clone in (copy.copy(obj), copy.deepcopy(obj)):
            assert clone is not obj and type(clone) is type(obj), name
            for args, e in zip(calls, expected):
                assert_same(clone(*args), e)
        if hasattr(obj, "fn"):
            assert copy.deepcopy(obj).fn is obj.fn  # functions are shared, never copied
            assert pickle.loads(pickle.dumps(obj)).fn is obj.fn  # found again by name


def test_options_survive_the_round_trip():
    j = pickle.loads(pickle.dumps(jacobian(pc.vector_out, wrt="x", mode="fwd", jit=True)))
    assert (j.requested, j.jit, j.wrt, j.single) == ("fwd", True, ("x",), True)
    g = pickle.loads(pickle.dumps(value_and_grad(pc.scalar_two, wrt=(1, 0))))
    assert (g.preserve_result, g.jit, g.wrt, g.single) == (True, False, ("y", "x"), False)
    assert pc.decorated.fn is pickle.loads(pickle.dumps(pc.decorated)).fn


def closure(scale):
    def square(x):  # sent by value too, and differentiated from its source
        return x * x

    def scaled(x):
        return scale * np.sum(square(x))
    return scaled


def test_a_closure_is_refused_by_pickle_with_a_located_error():
    g = grad(closure(3.0))
    with pytest.raises(NotImportableError) as info:
        pickle.dumps(g)
    message = str(info.value)
    assert isinstance(info.value, AdjointError) and isinstance(info.value, pickle.PicklingError)
    assert "closure.<locals>.scaled is defined inside another function" in message
    assert f"{__file__}:" in message and "cloudpickle" in message
    with pytest.raises(NotImportableError):  # the same after a call
        g(np.ones(2))
        pickle.dumps(g)


@pytest.mark.skipif(cloudpickle is None, reason="cloudpickle is not installed")
@pytest.mark.parametrize("jit", [False, True], ids=["python", "jit"])
def test_cloudpickle_sends_a_closure_by_value_with_its_source(jit):
    g = grad(closure(3.0), jit=jit)
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(g(x), 6.0 * x)
    payload = cloudpickle.dumps(g)
    code = ("import pickle, sys, numpy as np; g = pickle.loads(sys.stdin.buffer.read()); "
            "print(g(np.array([1.0, -2.0])).tolist(), g.fn.__code__.co_filename)")
    done = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["[6.0,", "-12.0]", __file__]


def test_unpickling_a_function_the_process_lacks_says_so(monkeypatch):
    payload = pickle.dumps(grad(pc.renamed))
    monkeypatch.delattr(pc, "renamed")
    with pytest.raises(NotImportableError, match=r"cannot unpickle .*tests\.pickle_cases\."
                       r"renamed: this process cannot import it"):
        pickle.loads(payload)


def test_a_redefined_function_is_refused(monkeypatch):
    g = grad(pc.renamed)
    monkeypatch.setattr(pc, "renamed", closure(1.0))
    with pytest.raises(NotImportableError, match="is not what tests.pickle_cases.renamed names"):
        pickle.dumps(g)


def test_four_processes_compile_one_jit_gradient_into_one_fresh_cache(tmp_path):
    cache = tmp_path / "cache"
    code = ("import sys; from tests.pickle_cases import compile_and_report; "
            "data, misses = compile_and_report(sys.argv[1]); print(data.hex(), misses)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(cache)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
        assert "Warning" not in err, err  # no CacheWarning: nothing corrupt, nothing unwritable
    gradients = {out.split()[0] for out, _ in results}
    compiled = [int(out.split()[1]) for out, _ in results]
    assert len(gradients) == 1
    w, X, y = pc.data()
    expected = X.T @ (1.0 / (1.0 + np.exp(-(X @ w))) - y) / 100.0
    np.testing.assert_allclose(np.frombuffer(bytes.fromhex(gradients.pop())), expected,
                               rtol=1e-12)
    # the first to take the lock compiles; the others load what it saved
    assert sorted(compiled) == [0, 0, 0, 1], compiled
    leftovers = [p.name for p in cache.rglob("*") if ".tmp" in p.name]
    assert not leftovers


@pytest.mark.skipif(cloudpickle is None, reason="cloudpickle is not installed")
def test_a_function_received_by_value_again_is_the_one_received_before():
    """So a worker that gets the same gradient with every task builds its adjoint once."""
    first = pickle.loads(cloudpickle.dumps(grad(closure(3.0))))
    again = pickle.loads(cloudpickle.dumps(grad(closure(3.0))))
    other = pickle.loads(cloudpickle.dumps(grad(closure(4.0))))
    assert again.fn is first.fn and other.fn is not first.fn
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(first(x), 6.0 * x)
    assert again._built(first._last_kinds) is first._last  # the build is shared
    np.testing.assert_allclose(other(x), 8.0 * x)


def weighted(weights):
    def total(x):
        return np.sum(weights * x)
    return total


@pytest.mark.skipif(cloudpickle is None, reason="cloudpickle is not installed")
def test_a_function_received_by_value_is_reused_only_when_its_values_are_equal():
    """Arrays are compared by their bytes (not by a repr that elides the middle); values
    that cannot be compared exactly (a dict) mean no reuse, never a stale one."""
    a = np.zeros(5000)
    b = a.copy()
    b[2500] = 1.0
    x = np.ones(5000)
    ga = pickle.loads(cloudpickle.dumps(grad(weighted(a))))
    gb = pickle.loads(cloudpickle.dumps(grad(weighted(b))))
    assert gb.fn is not ga.fn
    np.testing.assert_array_equal(ga(x), a)
    np.testing.assert_array_equal(gb(x), b)
    # in a dict, whose repr elides the middle of the arrays
    boxed = [pickle.loads(cloudpickle.dumps(grad(closure_over({"w": w})))) for w in (a, b)]
    assert boxed[0].fn is not boxed[1].fn
    np.testing.assert_array_equal(boxed[0](x), a)
    np.testing.assert_array_equal(boxed[1](x), b)


def closure_over(params):
    def total(x):
        return np.sum(params["w"] * x)
    return total
