"""Checkpointed loops: ``for i in adjoint.checkpointed(range(n), snapshots=k):``.

Every case must match central differences and, exactly, the gradient of the same function
written with a plain ``range()`` loop (its "plain twin", made from its source text).
"""
from __future__ import annotations

import ast
import inspect
import linecache
import math
import re
import sys
import tracemalloc
import types

import numpy as np
import pytest

import adjoint
from adjoint import AdjointError, UnsupportedSyntaxError, check_grad, checkpointed, grad
from adjoint.names import Namer
from adjoint.normalize import Normalizer

from .checkpoint_cases import (
    accumulates_array,
    appends_outside,
    array_state,
    branch_inside,
    breaks,
    calls_checkpointed_helper,
    data_dependent,
    elementwise_state,
    first_bound_inside,
    helper_calls,
    inside_another_loop,
    list_made_inside,
    nested,
    no_snapshots,
    not_a_range,
    not_adjoints,
    owned_array,
    prints_progress,
    reads_outer_array,
    rebinds_and_writes,
    recurrence,
    returns,
    ring_buffer,
    start_stop,
    stepped,
    unpacks,
    used_after_loop,
    while_inside,
    with_continue,
    writes_argument,
    writes_outer_array,
)

RNG = np.random.default_rng(11)
W = RNG.normal(size=(3, 3)) * 0.6
V = RNG.normal(size=3)

CASES = [
    (recurrence, (0.7, 12, 3), 0),     # n divisible by k
    (recurrence, (0.7, 13, 3), 0),     # not divisible
    (recurrence, (0.7, 10, 4), 0),     # the last segment is shorter
    (recurrence, (0.7, 5, 5), 0),      # k = n
    (recurrence, (0.7, 5, 50), 0),     # k > n
    (recurrence, (0.7, 0, 3), 0),      # no step at all
    (recurrence, (0.7, 1, 3), 0),
    (recurrence, (0.7, 9, 1), 0),      # one snapshot: the whole loop is one segment
    (array_state, (V, W, 9, 3), (0, 1)),
    (branch_inside, (0.4, 11, 3), 0),
    (branch_inside, (0.9, 11, 4), 0),
    (data_dependent, (0.77,), 0),
    (data_dependent, (2.34,), 0),
    (used_after_loop, (0.3, 10, 3), 0),
    (helper_calls, (0.3, 10, 3), 0),
    (stepped, (0.3, 1, 12, 3, 2), 0),
    (stepped, (0.3, 11, 0, -2, 2), 0),
    (stepped, (0.3, 1, 1, 3, 2), 0),
    (start_stop, (0.4, 3, 11, 3), 0),
    (with_continue, (0.7, 10, 3), 0),
    (reads_outer_array, (0.3, 10, 3), 0),
    (writes_outer_array, (0.3, 10, 4), 0),
    (owned_array, (V, W, 7, 3), (0, 1)),
    (first_bound_inside, (0.3, 10, 4), 0),
    (list_made_inside, (0.3, 10, 3), 0),
    (inside_another_loop, (0.3, 7, 3), 0),
    (nested, (0.3, 6, 2), 0),
    (accumulates_array, (V, W, 7, 3), (0, 1)),
    (ring_buffer, (0.4, 10, 3), 0),
    (rebinds_and_writes, (V, 7, 3), 0),
    (writes_argument, (V, 7, 3), 0),
    (while_inside, (0.4, 7, 3), 0),
    (calls_checkpointed_helper, (0.3, 10), 0),
]


def plain_twin(fn: types.FunctionType) -> types.FunctionType:
    """The same function with ``checkpointed(range(...), snapshots=k)`` written ``range(...)``."""
    text = re.sub(r"(?:adjoint\.)?(?:checkpointed|keep_few)\((range\(.*\)), snapshots=.*\):",
                  r"\1:", inspect.getsource(fn))
    filename = f"<plain twin of {fn.__name__}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = dict(fn.__globals__)
    exec(compile(text, filename, "exec"), namespace)
    return namespace[fn.__name__]


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


@pytest.mark.parametrize("fn, args, wrt", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_gradient_matches_plain_loop_and_finite_differences(fn, args, wrt):
    got = as_tuple(grad(fn, wrt=wrt)(*args))
    want = as_tuple(grad(plain_twin(fn), wrt=wrt)(*args))
    for g, p in zip(got, want):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)
    check_grad(fn, *args, wrt=wrt)


def test_called_directly_it_just_iterates():
    assert checkpointed(range(2, 9), snapshots=3) == range(2, 9)
    assert recurrence(0.7, 13, 3) == plain_twin(recurrence)(0.7, 13, 3)
    with pytest.raises(AdjointError, match="at least 1"):
        checkpointed(range(3), snapshots=0)


def snapshots_from_an_argument(x, n, k):
    s = x
    for _i in checkpointed(range(n), snapshots=k):
        s = s * 1.01 + x
    return s


@pytest.mark.parametrize("k", [None, 2.5, "3", 0])
def test_snapshots_known_only_when_it_runs_are_checked_then(k):
    with pytest.raises(AdjointError, match="snapshots must be a whole number"):
        grad(snapshots_from_an_argument)(1.0, 5, k)
    assert grad(snapshots_from_an_argument)(1.0, 5, 2) == pytest.approx(
        grad(snapshots_from_an_argument)(1.0, 5, 5))


def test_prints_once_per_step(capsys):
    grad(prints_progress)(0.3, 7, 3)
    assert capsys.readouterr().out.split() == ["step", "0", "step", "2", "step", "4", "step",
                                               "6"]


def test_snapshots_must_be_positive_in_the_gradient_too():
    with pytest.raises(AdjointError, match="at least 1"):
        grad(recurrence)(0.7, 13, 0)


# -- recognised by what the name refers to, not by how it is spelled --------------------
def test_recognised_through_the_function_globals():
    assert "checkpoint_stride(" in grad(stepped).source  # imported as keep_few
    assert "checkpoint_stride(" in grad(recurrence).source  # adjoint.checkpointed
    source = grad(not_adjoints).source  # spelled checkpointed, but another function
    assert "checkpoint_stride" not in source
    assert grad(not_adjoints)(0.5, 4) == pytest.approx(5 * 0.5 ** 4)


def test_normalizer_keeps_a_plain_loop_for_forward_mode():
    tree = ast.parse(inspect.getsource(recurrence)).body[0]
    norm = Normalizer(tree, Namer({"x", "n", "k", "s", "i"}), lambda node: None,
                      {"adjoint": adjoint, "math": math}.__getitem__).run()
    loop = next(s for s in norm.body if isinstance(s, ast.For))
    assert ast.unparse(loop).startswith("for i in range(n):")
    assert ast.unparse(loop.checkpoint) == "k"


# -- what the generated code saves -------------------------------------------------------------
def test_generated_code_reads_like_the_design():
    source = grad(recurrence).source
    for line in ["# for i in adjoint.checkpointed(range(n), snapshots=k):",
                 "stride = checkpoint_stride(n, k)",
                 "for segment in range(checkpoint_segments(n, stride)):",
                 "s_snapshots.append(s)",
                 "s = s_snapshots.pop()",
                 "# run the segment again from its snapshot, saving what its backward sweep reads",
                 "# s = s * 0.999 + math.sin(x * i + s) * 0.1"]:
        assert line in source, line
    forward = source.split("# backward sweep")[0]
    assert "_stack.append" not in forward  # the forward sweep saves snapshots only


def longest_saves(gradient, args) -> dict[str, int]:
    """The most entries each list or array of the generated function held in one call."""
    longest: dict[str, int] = {}
    code_name = gradient._last.module.main.name

    def tracer(frame, event, arg):
        if frame.f_code.co_name != code_name:
            return None

        def lines(frame, event, arg):
            for var, value in frame.f_locals.items():
                if isinstance(value, (list, np.ndarray)):
                    longest[var] = max(longest.get(var, 0), len(value))
            return lines
        return lines

    sys.settrace(tracer)
    try:
        gradient(*args)
    finally:
        sys.settrace(None)
    return longest


@pytest.mark.parametrize("n, k", [(100, 10), (100, 7), (60, 60)])
def test_saves_k_snapshots_and_one_segment(n, k):
    gradient = grad(recurrence)
    gradient(0.7, 3, 2)  # build first
    longest = longest_saves(gradient, (0.7, n, k))
    stride = -(-n // k)
    assert longest["s_snapshots"] == -(-n // stride) <= k
    assert longest["t3_saved"] == stride  # the one value a step saves, for one segment
    assert set(longest) == {"s_snapshots", "t3_saved"}


def test_peak_memory_is_a_fraction_of_the_plain_loop():
    n = 20_000
    plain, checkpointed_ = grad(plain_twin(recurrence)), grad(recurrence)
    peaks = []
    for gradient, args in [(plain, (0.7, n, 0)), (checkpointed_, (0.7, n, 141))]:
        gradient(0.7, 3, 2)
        tracemalloc.start()
        gradient(*args)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] / 5, peaks


# -- jit=True ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, args, wrt", [
    (recurrence, (0.7, 13, 3), 0),
    (elementwise_state, (V, V * 0.5, 9, 3), (0, 1)),
    (stepped, (0.3, 11, 0, -2, 2), 0),
    (with_continue, (0.7, 10, 3), 0),
    (calls_checkpointed_helper, (0.3, 10), 0),
], ids=lambda v: getattr(v, "__name__", None))
def test_jit_agrees_with_python(fn, args, wrt):
    pytest.importorskip("numba")
    compiled = as_tuple(grad(fn, wrt=wrt, jit=True)(*args))
    for g, p in zip(compiled, as_tuple(grad(fn, wrt=wrt)(*args))):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn, construct, hint, line", [
    (breaks, "break inside a checkpointed loop", "use a plain range() loop", "break"),
    (returns, "return inside a checkpointed loop", "return it after the loop",
     "return s * 2.0"),
    (appends_outside, "hs.append() in a checkpointed loop", "out[i] = v", "hs.append(s)"),
    (not_a_range, "over something other than range()", "range(len(x))",
     "for v in adjoint.checkpointed([x, x], snapshots=3):"),
    (no_snapshots, "without a range and snapshots=k", "snapshots=k",
     "for i in adjoint.checkpointed(range(n)):"),
    (unpacks, "unpacking in the header of a checkpointed loop", "a single name",
     "for i, j in adjoint.checkpointed(range(n), snapshots=2):"),
], ids=lambda v: getattr(v, "__name__", None))
def test_refused_with_location_and_hint(fn, construct, hint, line):
    with pytest.raises(UnsupportedSyntaxError) as info:
        grad(fn)(0.4, 5)
    message = str(info.value)
    assert construct in message and hint in message
    location = info.value.location
    assert f"checkpoint_cases.py:{location.line}:" in message
    assert linecache.getline(location.filename, location.line).strip() == line
