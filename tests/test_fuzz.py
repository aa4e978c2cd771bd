"""Property-based differential testing: random programs over the supported subset, their
adjoint gradients against three oracles: float64 central differences, HIPS autograd (where
autograd can run the program) and, for a share of the programs, the same adjoint compiled
with jit=True (which must agree with jit=False or refuse with a JitError).

By default (CI) a bounded, derandomized run that compiles about one program in eight with
Numba; ``ADJOINT_FUZZ_EXAMPLES=2000 pytest -m fuzz tests/test_fuzz.py`` runs the long
randomized one, compiling every program (``ADJOINT_FUZZ_JIT=20`` compiles 20% of them).
The generator is in fuzz_programs.py; conftest.py prints what the runs did.

Every program's value from value_and_grad (and jvp) must be f's, bit for bit. Programs that
write through shared memory (views, lists holding arrays, one array for two parameters) must
either come out right or be refused with an AdjointError naming the program's line; a
refusal counts as right only for the constructs adjoint refuses by design
(``Program.refusable``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import itertools
import math
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from unittest import mock

import autograd
import autograd.numpy
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from numba.core.errors import NumbaPerformanceWarning

from adjoint import (
    AdjointError,
    JitError,
    JitWarning,
    MissingRuleError,
    UnsupportedSyntaxError,
    check_grad,
    grad,
    hvp,
    jvp,
    value_and_grad,
)
from adjoint.tiered import Tiered

from .fuzz_programs import ALIASING_FEATURES, MARGIN, Margins, container_programs, programs

CI_EXAMPLES = 150
CI_JIT_PERCENT = 13  # of the 150 programs: about 20 Numba compiles, ~2 s each
LONG_EXAMPLES = int(os.environ.get("ADJOINT_FUZZ_EXAMPLES", "0"))
LONG_JIT_PERCENT = int(os.environ.get("ADJOINT_FUZZ_JIT", "100"))
# Constructs switched off in the generator because adjoint refuses them with an
# UnsupportedSyntaxError by design: "mutate_iterated" (an array changed by += while a loop
# iterates over it, bug 3 below).
EXCLUDE = frozenset({"mutate_iterated"})

_counter = itertools.count()


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory):
    """Where the programs are written; jit=True caches its modules beside them, not in the
    user's cache directory."""
    directory = tmp_path_factory.mktemp("fuzz_programs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADJOINT_CACHE_DIR", str(directory / "jit_cache"))
        yield directory


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


@dataclass
class FuzzStats:
    """What the fuzz tests of this session did, printed by conftest.py's terminal summary."""

    programs: int = 0  # differentiated with jit=False and checked
    differences_unreliable: int = 0  # central differences disagreed with themselves: not used
    jit_compared: int = 0
    jit_text_compared: int = 0  # the text written for Numba, run as Python (jit="background")
    jit_refused: Counter = field(default_factory=Counter)  # reason -> programs
    autograd_compared: int = 0
    autograd_skipped: Counter = field(default_factory=Counter)  # autograd's error -> programs
    forward_compared: int = 0  # jvp against the adjoint
    second_order_compared: int = 0  # hvp against differences of the adjoint
    second_order_refused: Counter = field(default_factory=Counter)
    features: Counter = field(default_factory=Counter)  # aliasing construct -> programs
    refused: Counter = field(default_factory=Counter)  # (construct, reason) -> programs
    twice_compared: int = 0  # f(a, a): value and summed gradient against differences
    twice_refused: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        if not self.programs and not self.refused:
            return []
        out = [f"fuzz: {self.programs} programs checked against central differences "
               f"({self.differences_unreliable} too ill-conditioned for them), "
               f"{self.jit_compared} compared with jit=True "
               f"({self.jit_text_compared} also as jit=\"background\" runs it before compiling), "
               f"{sum(self.jit_refused.values())} refused by jit=True with JitError, "
               f"{self.autograd_compared} compared with autograd, "
               f"{sum(self.autograd_skipped.values())} not differentiable by autograd, "
               f"{self.forward_compared} compared with forward mode (jvp), "
               f"{self.second_order_compared} checked at second order (hvp), "
               f"{sum(self.second_order_refused.values())} refused by hvp"]
        out += [f"  aliasing constructs drawn: {dict(self.features.most_common())}",
                f"  refused with an AdjointError, by design: {sum(self.refused.values())}; "
                f"the same array for two parameters: {self.twice_compared} checked, "
                f"{sum(self.twice_refused.values())} refused"]
        out += [f"  refused {n}x ({what}): {why}"
                for (what, why), n in self.refused.most_common(8)]
        out += [f"  f(a, a) refused {n}x: {why}" for why, n in self.twice_refused.most_common(4)]
        out += [f"  hvp refused {n}x: {why}" for why, n in self.second_order_refused.items()]
        out += [f"  jit refused {n}x: {why}" for why, n in self.jit_refused.most_common()]
        out += [f"  autograd failed {n}x: {why}"
                for why, n in self.autograd_skipped.most_common(5)]
        return out


STATS = FuzzStats()


def sampled(source: str, percent: int) -> bool:
    """A fixed choice of ``percent``% of programs, by a hash of their text: hypothesis's
    replay of a failing example makes the same choice."""
    digest = int(hashlib.sha256(source.encode()).hexdigest()[:8], 16)
    return digest % 100 < percent


def check_program(program, directory, *, jit_percent: int = 0, tol: float = 1e-5) -> None:
    """The adjoint of ``program`` (jit=False) against central differences and autograd, and,
    for ``jit_percent``% of programs, the jit=True adjoint against the jit=False one. A
    program that writes through shared memory may be refused instead, with an AdjointError
    at its file:line, when a construct it uses is one adjoint refuses by design."""
    source = program.render()
    value = instrumented_value(program)
    f = load(source, directory)
    direct = f(*copies(program.args))
    assert direct == value, f"instrumented program disagrees with the plain one:\n{source}"
    STATS.features.update(program.features)
    try:
        primal, ad = python_sweep(f, program, direct)
    except AdjointError as exc:
        check_refusal(program, exc, f)
        return
    check_against_differences(f, program, ad, tol)
    STATS.programs += 1
    if sampled(source, jit_percent):
        check_jit(f, program, primal, ad)
    check_against_autograd(program, ad)
    check_forward_mode(f, program, primal, ad)
    if sampled(source[::-1], SECOND_ORDER_PERCENT):
        check_second_order(f, program, ad)
    if program.twice is not None:
        check_same_array_twice(f, program, jit=sampled(source, jit_percent))


def refusal_reason_of(exc: AdjointError) -> str:
    """What an AdjointError says, without the program's names: a category to count."""
    text = re.sub(r"\b[a-z]+\d+\b", "_", exc.bare_message.split("; ")[0])
    return f"{type(exc).__name__}: " + re.sub(r"\S+\.py:\d+(:\d+)?:? ?", "", text)[:110]


# What adjoint says when it refuses a construct by design (fuzz_programs' refusable ones)
REFUSALS = {
    "helper_writes": r"changes its argument \w+ in place",
    "helper_view": r"through `\w+ = (part|mrow)\(|share memory \(\w+ may be the same array",
    "list_alias": r"the list \w+ holds it|share memory",  # the list may hold a view
    "rebind_base": r"share memory",
    "other_view": r"through `t\d+ = |share memory \(\w+ may be the same array",
}


def check_refusal(program, exc: AdjointError, f) -> None:
    """A refusal is right only for a program that writes through memory a construct shares
    by design of the refusal (a list holding the array, a helper's view, a helper that writes
    into its argument, a base rebound under its views, a reshape), saying so; it names the
    program's file:line. Refusing a row view, row loop, slice view or list index written as
    NumPy allows is a loss of precision, reported as a failure."""
    where = os.path.basename(f.__code__.co_filename)
    assert re.search(rf"{re.escape(where)}:\d+", str(exc)), (
        f"a refusal that does not name the program's line: {exc}\n{program!r}")
    by_design = [c for c in sorted(program.refusable)
                 if c in REFUSALS and re.search(REFUSALS[c], exc.bare_message)]
    assert by_design, (f"refused, but not for a construct adjoint refuses by design "
                       f"({sorted(program.refusable)}): {exc}\n{program!r}")
    STATS.refused[("+".join(by_design), refusal_reason_of(exc))] += 1


def check_same_array_twice(f, program, *, jit: bool) -> None:
    """f(..., a, ..., a, ...): one array object for two parameters (or, ``twice_row``, a
    matrix and a view of its first row). NumPy's semantics define the value (writes into one
    change the other); the gradient of g(a) = f(..., a, ..., a) is the sum of the two
    parameters' gradients. Either both come out right, or an AdjointError refuses the call."""
    i, j = program.twice

    def aliased(args):
        out = copies(args)
        out[j] = out[i][0] if program.twice_row else out[i]
        return out

    def g(*args):  # the function of the arguments other than the j-th
        return f(*aliased(args))

    expected = f(*aliased(program.args))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            value, ad = value_and_grad(f, wrt=program.wrt, jit=jit)(*aliased(program.args))
    except AdjointError as exc:
        where = os.path.basename(f.__code__.co_filename)
        assert isinstance(exc, JitError) or re.search(rf"{re.escape(where)}:\d+", str(exc)), (
            f"a refusal that does not name the program's line: {exc}\n{program!r}")
        STATS.twice_refused[refusal_reason_of(exc)] += 1
        return
    if jit:
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12), program
    else:
        assert value == expected, (f"value_and_grad value {value!r} != f(...) {expected!r} "
                                   f"with one array for two parameters\n{program!r}")
    ad = list(as_tuple(ad))
    summed = np.array(ad[program.wrt.index(i)], dtype=float)
    if program.twice_row:
        summed[0] += ad[program.wrt.index(j)]
    else:
        summed += ad[program.wrt.index(j)]
    ad[program.wrt.index(i)] = summed
    wrt = tuple(w for w in program.wrt if w != j)
    ad = [a for w, a in zip(program.wrt, ad) if w != j]
    fd1 = central_difference(g, program.args, wrt, 1e-6)
    err = errors(ad, fd1)
    if max(err) > 1e-5:
        fd2 = central_difference(g, program.args, wrt, 1e-5)
        if max(errors(fd1, fd2)) <= 1e-6:
            raise AssertionError(mismatch("differences of f(a, a)", program, ad, fd1, err,
                                          1e-5))
    STATS.twice_compared += 1


SECOND_ORDER_PERCENT = 25  # hvp transforms the generated adjoint: a heavier build


def random_direction(program, seed: int = 5) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=np.shape(program.args[w])) if np.ndim(program.args[w])
                 else float(rng.normal()) for w in program.wrt)


def check_forward_mode(f, program, primal, ad) -> None:
    """jvp's value is the primal and its tangent along v is <gradient, v>."""
    v = random_direction(program)
    value, tangent = jvp(f, wrt=program.wrt)(*copies(program.args), v)
    expected = sum(float(np.sum(np.asarray(g) * d)) for g, d in zip(ad, v))
    assert value == primal, f"jvp value {value!r} != f(...) {primal!r}\n{program.render()}"
    scale = max(1.0, abs(expected), *(float(np.max(np.abs(g), initial=0.0)) for g in ad))
    assert abs(tangent - expected) <= 1e-9 * scale, (
        f"jvp tangent {tangent!r} != <gradient, v> {expected!r}\n{program.render()}")
    STATS.forward_compared += 1


def check_second_order(f, program, ad, eps: float = 1e-5) -> None:
    """hvp (forward over the generated adjoint) against central differences of the
    adjoint along v, when the differences agree with themselves at two steps."""
    v = random_direction(program, seed=6)
    try:
        hv = as_tuple(hvp(f, wrt=program.wrt)(*copies(program.args), v))
    except MissingRuleError as exc:  # documented: lists built with append
        STATS.second_order_refused[str(exc).split(";")[0].split(": ", 1)[-1]] += 1
        return
    g = grad(f, wrt=program.wrt)

    def along(step):
        moved = copies(program.args)
        for w, d in zip(program.wrt, v):
            moved[w] = moved[w] + step * d
        return [np.asarray(x) for x in as_tuple(g(*moved))]

    plus, minus, plus2, minus2 = along(eps), along(-eps), along(2 * eps), along(-2 * eps)
    fd = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    fd2 = [(p - m) / (4 * eps) for p, m in zip(plus2, minus2)]
    if max(errors(fd, fd2)) > 1e-6:
        return  # a kink or a branch within reach of the step: not a usable reference
    errs = errors(hv, fd)
    assert max(errs) <= 1e-5, mismatch("differences of the gradient (hvp)", program, hv, fd,
                                       errs, 1e-5)
    STATS.second_order_compared += 1


def instrumented_value(program) -> float:
    """Run the instrumented twin; skip programs that pass near a kink or a branch threshold
    (within MARGIN), where central differences and subgradient conventions disagree."""
    margins = Margins()
    namespace = margins.namespace()
    exec(compile(program.render(inst=True), "<instrumented>", "exec"), namespace)
    try:
        with np.errstate(all="raise"):
            value = namespace["f"](*copies(program.args))
    except (FloatingPointError, OverflowError, ZeroDivisionError):
        assume(False)
    assume(min(margins.values, default=math.inf) > MARGIN)
    assume(np.isfinite(value) and abs(value) < 1e6)
    return value


def as_tuple(grads) -> tuple:
    return grads if isinstance(grads, tuple) else (grads,)


def python_sweep(f, program, direct):
    """value_and_grad with jit=False: its value is f's, grad agrees, shapes match the inputs.
    (That the inputs are left unchanged is checked for every call by conftest.py.)"""
    source = program.render()
    primal, ad = value_and_grad(f, wrt=program.wrt)(*copies(program.args))
    assert primal == direct, (  # bit for bit: the forward sweep is the primal's computation
        f"value_and_grad value {primal!r} != f(...) {direct!r}\n{source}")
    ad = as_tuple(ad)
    again = as_tuple(grad(f, wrt=program.wrt)(*copies(program.args)))
    for a, b in zip(ad, again):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for g, x in zip(ad, (program.args[w] for w in program.wrt)):
        assert np.shape(g) == np.shape(x)
    return primal, ad


def check_against_differences(f, program, ad, tol: float) -> None:
    """Against central differences at two step sizes (if those disagree with each other, the
    point is too badly conditioned for the check, and only the other oracles are used)."""
    args = program.args
    fd1 = central_difference(f, args, program.wrt, 1e-6)
    err1 = errors(ad, fd1)
    if max(err1) <= tol:
        return
    fd2 = central_difference(f, args, program.wrt, 1e-5)
    if max(errors(fd1, fd2)) > tol / 10:
        STATS.differences_unreliable += 1
        return
    raise AssertionError(mismatch("finite differences", program, ad, fd1, err1, tol))


def mismatch(oracle: str, program, ad, expected, errs, tol: float) -> str:
    names = [p for i, p in enumerate(program.params) if i in program.wrt]
    detail = "\n".join(f"  d/d{n}: adjoint {a!r}, {oracle} {b!r}"
                       for n, a, b, e in zip(names, ad, expected, errs) if e > tol)
    return (f"gradient mismatch with {oracle} (max rel. error {max(errs):.3g}):\n{detail}\n"
            f"{program!r}")


def check_jit(f, program, primal, ad) -> None:
    """jit=True gives the jit=False value and gradients (to rounding: Numba may sum in
    another order), or refuses with a JitError that says what to do; nothing else. And
    jit="background" before it has compiled (the same text run as Python) gives them too."""
    check_jit_text_as_python(f, program, primal, ad)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            value, jitted = value_and_grad(f, wrt=program.wrt, jit=True)(*copies(program.args))
    except JitError as exc:
        assert "jit=False" in str(exc), str(exc)
        STATS.jit_refused[refusal_reason(exc)] += 1
        return
    STATS.jit_compared += 1
    assert value == pytest.approx(primal, rel=1e-12, abs=1e-12), (  # Numba sums in its order
        f"jit=True value {value!r} != jit=False value {primal!r}\n{program.render()}")
    jitted = as_tuple(jitted)
    for a, b in zip(jitted, ad):
        assert type(a) is type(b), f"jit=True gives {type(a)}, jit=False {type(b)}"
    errs = errors(jitted, ad)
    if max(errs) > 1e-8:
        raise AssertionError(mismatch("jit=False", program, jitted, ad, errs, 1e-8))


def check_jit_text_as_python(f, program, primal, ad) -> None:
    """The text written for Numba, run as Python: what jit="background" answers with until
    the compilation (not started here) is done."""
    with mock.patch.object(Tiered, "_start", lambda self, key, args, kwargs: None), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", JitWarning)  # refused: the Python tier all the same
        value, got = value_and_grad(f, wrt=program.wrt, jit="background")(*copies(program.args))
    assert value == primal or value == pytest.approx(primal, rel=1e-14, abs=1e-14), (
        f"jit text as Python: value {value!r} != jit=False value {primal!r}\n{program.render()}")
    errs = errors(as_tuple(got), ad)
    if max(errs) > 1e-10:
        raise AssertionError(mismatch("jit=False (jit text as Python)", program,
                                      as_tuple(got), ad, errs, 1e-10))
    STATS.jit_text_compared += 1


def refusal_reason(exc: JitError) -> str:
    """The reason Numba gave, without the generated file's name and variable names."""
    reason = exc.bare_message.split("nopython mode: ", 1)[-1]
    reason = re.sub(r", defined at .*| at 0x[0-9a-f]+", "", reason)
    return re.sub(r"'[\w.]+'", "'...'", reason)[:160]


class AutogradNumpy:
    """autograd.numpy, with ``where`` broadcasting its branches first: autograd's own passes
    the whole array gradient to a scalar branch without summing it (autograd 1.x)."""

    def __getattr__(self, name):
        return getattr(autograd.numpy, name)

    @staticmethod
    def where(condition, x, y):
        shape = np.broadcast_shapes(*(autograd.numpy.shape(v) for v in (condition, x, y)))
        ones = np.ones(shape)
        return autograd.numpy.where(condition, x * ones, y * ones)


# autograd's rendering turns ``r *= c`` into ``r = r * (c)``: for a view r that is another
# program (the base does not change)
WRITES_THROUGH_VIEWS = ALIASING_FEATURES - {"list_index", "param_write", "twice"}


def check_against_autograd(program, ad, tol: float = 1e-8) -> None:
    """Against HIPS autograd on the same program (autograd.numpy for np and math). Autograd
    cannot write into arrays in place or copy with .copy() and a few more: those programs are
    counted as skipped."""
    if program.features & WRITES_THROUGH_VIEWS:
        STATS.autograd_skipped["the program writes through a view"] += 1
        return
    namespace: dict = {}
    exec(compile(program.render(dialect="autograd"), "<autograd>", "exec"), namespace)
    namespace["np"] = AutogradNumpy()
    fa = namespace["f"]

    def packed(values):  # every differentiated argument boxed at once, as the adjoint sees them
        args = copies(program.args)
        for w, v in zip(program.wrt, values):
            args[w] = v
        return fa(*args)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Output seems independent of input"
            expected = autograd.grad(packed)(copies([program.args[w] for w in program.wrt]))
    except Exception as exc:  # noqa: BLE001 - any autograd failure means "cannot compare"
        STATS.autograd_skipped[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
        return
    errs = errors(ad, expected)
    if max(errs) > tol and re.search(r"\]\s*[-+*/]?=", program.render()):
        # autograd keeps references to the arrays an operation read; an array the program
        # writes into afterwards (not a differentiated one: autograd refuses those) changes
        # its record. The adjoint already agreed with central differences.
        STATS.autograd_skipped["autograd keeps arrays the program later writes in place"] += 1
        return
    STATS.autograd_compared += 1
    if max(errs) > tol:
        raise AssertionError(mismatch("autograd", program, ad, expected, errs, tol))


FUZZ_SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@settings(max_examples=CI_EXAMPLES, derandomize=True, **FUZZ_SETTINGS)
@given(program=programs(exclude=EXCLUDE))
def test_random_programs(program, program_dir):
    check_program(program, program_dir, jit_percent=CI_JIT_PERCENT)


@pytest.mark.fuzz
@pytest.mark.skipif(LONG_EXAMPLES <= 0, reason="set ADJOINT_FUZZ_EXAMPLES=N for a long run")
@settings(max_examples=max(LONG_EXAMPLES, 1), derandomize=False, **FUZZ_SETTINGS)
@given(program=programs(exclude=EXCLUDE))
def test_random_programs_long(program, program_dir):
    check_program(program, program_dir, jit_percent=LONG_JIT_PERCENT)


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


# Found by a long run (2026-11-29): a row view taken at a while loop's counter
# (c3 = 0; while ...: c3 += 1; r4 = m0[c3 - 1]; r4[c3] += v) was refused, because
# ``c3 = c3 + 1`` was judged an integer after c3 had been forgotten, and a while loop forgot
# every counter it rebinds. Counters that stay integers are now known as such.
def row_view_at_a_while_counter(m0):
    m0 = np.clip(-m0, -1.0, 1.0)
    c3 = 0
    while c3 < 2:
        c3 += 1
        r4 = m0[c3 - 1]
        r4[c3] += m0[1, c3 - 1]
        r4 -= 0.25
    return np.mean(m0 * m0)


def row_view_at_an_index_rebound_to_an_array(m0, idx):
    m = -m0
    c = 0
    k = 0
    while k < 2:
        r = m[c]  # a row view first, a copy (m[idx]) next
        r[0] += 1.0 * m[1, 1]
        c = idx
        k += 1
    return np.sum(m * m)


def test_regression_row_view_at_a_while_counter():
    m0 = np.arange(6.0).reshape(2, 3) / 7.0 - 0.3
    ad = grad(row_view_at_a_while_counter)(m0.copy())
    fd = central_difference(row_view_at_a_while_counter, [m0], (0,), 1e-6)[0]
    assert np.abs(ad - fd).max() < 1e-8
    jitted = grad(row_view_at_a_while_counter, jit=True)(m0.copy())
    np.testing.assert_allclose(jitted, ad, rtol=1e-12)
    # a counter later rebound to an array is not an integer: refused, never guessed
    with pytest.raises(UnsupportedSyntaxError, match="share memory"):
        grad(row_view_at_an_index_rebound_to_an_array)(m0.copy(), np.array([1, 0]))


# Found by a long run (2026-11-29): a wrong value, no error. With one array passed for a0
# and a1, ``z3 = part(a0); z3 -= v`` (a view a helper returns) changed a1 too, which the
# adjoint did not see: the check that a parameter changed in place shares no memory with
# another one missed changes through a name that may share a parameter's memory.
def _first_two(u0):
    return u0[:2]


def changed_through_a_helpers_view(a0, a1):
    z3 = _first_two(a0)
    z3 -= 1.0
    return np.sum(a1 * a1)


def test_regression_parameter_changed_through_a_helpers_view_passed_twice():
    shared = np.array([0.5, 1.0, 2.0])
    with pytest.raises(UnsupportedSyntaxError, match="changes its argument a0 in place"):
        value_and_grad(changed_through_a_helpers_view, wrt=(0, 1))(shared, shared)
    value, (da0, da1) = value_and_grad(changed_through_a_helpers_view, wrt=(0, 1))(
        shared.copy(), 2 * shared)
    assert value == changed_through_a_helpers_view(shared.copy(), 2 * shared)
    np.testing.assert_allclose(da0, 0.0)
    np.testing.assert_allclose(da1, 4 * shared)


# Bug 10 (found by a long run, fixed in normalize.py): ``return`` inside a loop that has an
# else block became a ``break`` that did not count as one, so the else block ran too: value
# 7.5 and gradient 5.0 instead of 4.5 and 3.0 for return_in_loop_with_else(1.5, 2).
def return_in_loop_with_else(x0, n):
    for _i in range(n):
        if x0 >= 1.0:
            return x0 * 3.0
    else:
        return x0 * 5.0
    return x0


def return_in_inner_loop_with_outer_else(x0, a1, n):
    for _i in range(n):
        for s in a1:
            if s >= x0:
                return x0 * s
    else:
        return x0 * 5.0 + np.sum(a1)
    return x0


def return_in_while_with_else(x0, n):
    c = 0
    while c < n:
        c += 1
        if x0 * c >= 2.0:
            return x0 * 3.0
    else:
        return x0 * 5.0
    return x0


@pytest.mark.parametrize("fn, args", [
    (return_in_loop_with_else, [1.5, 2]),
    (return_in_loop_with_else, [0.5, 2]),
    (return_in_inner_loop_with_outer_else, [1.5, np.array([0.5, 2.0]), 2]),
    (return_in_inner_loop_with_outer_else, [2.5, np.array([0.5, 2.0]), 2]),
    (return_in_while_with_else, [1.5, 2]),
    (return_in_while_with_else, [0.5, 2]),
])
def test_regression_return_skips_the_loop_else(fn, args):
    wrt = tuple(i for i, a in enumerate(args) if not isinstance(a, int))
    value, ad = value_and_grad(fn, wrt=wrt)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors(as_tuple(ad), central_difference(fn, args, wrt, 1e-6))) < 1e-6


# ---------------------------------------------------------------------------------------------
# found by the jit=True oracle: the compiled adjoint against the jit=False one
# ---------------------------------------------------------------------------------------------

def assert_jit_agrees(fn, args, wrt):
    value, expected = value_and_grad(fn, wrt=wrt)(*copies(args))
    jit_value, got = value_and_grad(fn, wrt=wrt, jit=True)(*copies(args))
    assert jit_value == pytest.approx(value, rel=1e-12)
    for a, b in zip(as_tuple(got), as_tuple(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# Bug 7: a temporary saved inside a loop's branch starts as ``t2 = None``, so Numba types it
# Optional(array); the helpers' overloads took the scalar implementation for it: tie_share's
# ``1.0 if a > b else 0.0`` raised "truth value of an array is ambiguous" at run time (and
# unbroadcast would have summed an array gradient to a scalar). Fixed in runtime_numba.py:
# overloads see an Optional type as the type it wraps.
def maximum_in_a_loop_branch(x0, a0, a1):
    out1 = a0.copy()
    c3 = 0
    while c3 < 1:
        c3 += 1
        a1 = (out1 if c3 < out1[c3 - 1] * (a0[1] * x0) else np.maximum(a0 + a0[0], np.sum(a1)))
        a1 = a1 * 1.0
    return np.mean(a1) + np.sum(out1)


# Bug 8: ``s1 = u0`` then ``s1 /= ...`` in a helper whose argument kinds are not known puts a
# must_not_be_array(s1) guard in the adjoint, which had no Numba version: every such program
# was refused by jit=True. Fixed in runtime_numba.py: floats pass, arrays are refused at
# compile time.
def divides_an_alias(u0):
    s1 = u0
    if u0 > 0.5:
        u0 = 0.5
    else:
        s1 /= (1.5 + s1 * s1)
    return 0.3 * u0 + 1.25 * s1


def calls_divides_an_alias(x0):
    return divides_an_alias(x0) * 2.0


@pytest.mark.parametrize("fn, args, wrt", [
    (maximum_in_a_loop_branch,
     [-0.5877, np.array([-0.1937, -0.06649, 1.36214]), np.array([-0.00781, 1.12366, -0.34345])],
     (0, 1, 2)),
    (calls_divides_an_alias, [0.3], (0,)),
])
def test_regression_jit_agrees(fn, args, wrt):
    assert_jit_agrees(fn, args, wrt)


# Bug 9: a 2-D boolean mask write (``outm[m0 > 0.5] = 1.0``) made Numba's lowering fail with a
# bare AssertionError, which escaped as such. Such a mask as the whole index now compiles to
# adjoint's own indexing (runtime_numba_masks.py); beside another index (``outm[m0 > 0.5, 1]``
# on a 3-D array) it still fails inside Numba: a JitError naming the user's line and the
# generated statement, saying it is a Numba limit.
def writes_through_a_2d_mask(m0):
    outm = np.zeros((2, 3))
    outm[m0 > 0.5] = 1.0
    outm += m0
    return np.sum(outm * m0)


def writes_through_a_2d_mask_beside_an_index(m0):
    outm = np.zeros((2, 3, 2))
    outm[m0 > 0.5, 1] = 1.0
    outm[:, :, 0] += m0
    return np.sum(outm[:, :, 0] * m0)


def test_regression_numba_internal_error_is_a_jit_error():
    m0 = np.array([[0.1, 0.9, 0.3], [1.0, -1.0, 0.7]])
    expected = [[0.2, 2.8, 0.6], [3.0, -2.0, 2.4]]
    np.testing.assert_allclose(grad(writes_through_a_2d_mask)(m0), expected)
    np.testing.assert_allclose(grad(writes_through_a_2d_mask, jit=True)(m0), expected)
    with pytest.raises(JitError) as info:
        grad(writes_through_a_2d_mask_beside_an_index, jit=True)(m0)
    line = writes_through_a_2d_mask_beside_an_index.__code__.co_firstlineno + 2
    assert f"test_fuzz.py:{line}:" in str(info.value)
    assert "beside other indices" in str(info.value) and "a Numba limit" in str(info.value)
    assert "outm[m0 > 0.5, 1] = 1.0" in str(info.value) and "jit=False" in str(info.value)
    np.testing.assert_allclose(grad(writes_through_a_2d_mask_beside_an_index)(m0),
                               2.0 * m0)


# ---------------------------------------------------------------------------------------------
# constructs the generator found refused, now supported (tuples of differentiated values)
# ---------------------------------------------------------------------------------------------

def loop_over_a_tuple(x0, x1):
    s = 0.0
    for c in (x0, x1 * 2.0):
        s = s + c * c
    return s


def pair_with_early_exit(u0, u1):
    if u0 > 0.5:
        return u0 * 2.0, u1
    return u0, u1


def unpacks_a_pair_with_early_exit(x0, x1):
    a, b = pair_with_early_exit(x0, x1)
    return a + b * b


@pytest.mark.parametrize("fn, expected", [
    (loop_over_a_tuple, (2.0, 16.0)),
    (unpacks_a_pair_with_early_exit, (2.0, 4.0)),
])
def test_tuples_of_differentiated_values(fn, expected):
    assert grad(fn, wrt=(0, 1))(1.0, 2.0) == expected


def reads_an_array_then_writes_it(x0, a0):
    out2 = np.zeros(3)
    s = np.dot(a0, out2) * x0
    out2[1:3] = 0.5
    return s + np.sum(a0) + np.sum(out2)


def same_with_autograd_numpy(x0, a0):
    anp = autograd.numpy
    out2 = anp.zeros(3)
    s = anp.dot(a0, out2) * x0
    out2[1:3] = 0.5
    return s + anp.sum(a0) + anp.sum(out2)


def test_autograd_disagreement_after_an_in_place_write_is_autograds():
    """Why check_against_autograd skips such programs: autograd's np.dot keeps out2 and
    differentiates with the array as it is after the write; the adjoint is right."""
    x0, a0 = 0.5, np.array([0.2, 0.3, 0.4])
    assert check_grad(reads_an_array_then_writes_it, x0, a0, wrt=(0, 1)) < 1e-8
    np.testing.assert_allclose(grad(reads_an_array_then_writes_it, wrt=1)(x0, a0), [1, 1, 1])
    theirs = autograd.grad(same_with_autograd_numpy, 1)(x0, a0)
    np.testing.assert_allclose(theirs, [1.0, 1.25, 1.25])


# ---------------------------------------------------------------------------------------------
# found by the aliasing constructs (issue 12), all fixed in the working tree
# ---------------------------------------------------------------------------------------------

W3 = np.array([1.0, 2.0, 3.0])


# Bug 11 (fixed): an array written into itself through an index
# (``out[[0, 1, 2]] = out``, ``out[:] = out``): the value was right, the gradient of the
# entries read from out itself was lost (zero). Also wrong before issue 12. Generator knob:
# "self_write".
def writes_itself_by_list(a0):
    out = a0 * 1.0
    out[[0, 0, 2]] = out  # out becomes [a1, a1, a2]
    return np.sum(out * W3)


def writes_itself_permuted(a0):
    out = a0 * 1.0
    out[[2, 1, 0]] = out
    return np.sum(out * W3)


def writes_itself_whole(a0):
    out = a0 * 1.0
    out[:] = out
    return np.sum(out * W3)


@pytest.mark.parametrize("fn", [writes_itself_by_list, writes_itself_permuted,
                                writes_itself_whole])
def test_regression_array_written_into_itself(fn):
    args = [np.array([0.5, -1.2, 0.8])]
    value, ad = value_and_grad(fn)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors([ad], central_difference(fn, args, (0,), 1e-6))) < 1e-6


# Bug 12 (fixed): a loop over a tuple that holds an element of an array (a float), then a
# write into the array: was refused ("the list t3 holds it") although the tuple holds a
# number. Accepted before issue 12.
def tuple_holds_an_element(m0):
    out = np.zeros(3)
    for s in (m0[0, 0], out[1]):
        out[0] = s
    return np.sum(out * W3)


def test_regression_tuple_of_elements_then_write():
    m0 = np.array([[0.3, 1.1, -0.4], [0.9, -0.6, 0.2]])
    ad = grad(tuple_holds_an_element)(m0.copy())
    np.testing.assert_allclose(ad, central_difference(tuple_holds_an_element, [m0], (0,),
                                                      1e-6)[0], atol=1e-8)


# Bug 13 (fixed): jvp (and hvp) of a slice write into the array a user function returned:
# grad was right, the tangent was not (also before issue 12).
def first_two_copied(u0):
    return u0[:2] * 1.0


def slice_write_into_a_helpers_result(x1, a0):
    z = first_two_copied(a0)
    z[:] += x1
    return np.sum(z * z)


def test_regression_jvp_of_slice_write_into_a_helpers_result():
    args = [1.62531, np.array([2.1063, 0.63351, 0.66214])]
    v = (0.3, np.array([0.5, -1.0, 0.25]))
    gradient = grad(slice_write_into_a_helpers_result, wrt=(0, 1))(*copies(args))
    _, tangent = jvp(slice_write_into_a_helpers_result, wrt=(0, 1))(*copies(args), v)
    expected = gradient[0] * v[0] + float(np.sum(gradient[1] * v[1]))
    assert tangent == pytest.approx(expected, rel=1e-10)


# Bug 14 (fixed): a list that records an element of an array (a float) each step, and
# writes into the array: was refused ("the list hs holds it"), although the list holds
# numbers. Accepted (with the right gradient) before issue 12.
def records_an_element_each_step(a0):
    out = a0 * 1.0
    hs = []
    for i in range(2):
        hs.append(out[i])
        out[i + 1] = out[i] ** 2
    return hs[0] * hs[1] + np.sum(out)


def test_regression_list_of_elements_then_write():
    args = [np.array([0.5, -1.2, 0.8])]
    value, ad = value_and_grad(records_an_element_each_step)(*copies(args))
    assert value == records_an_element_each_step(*copies(args))
    fd = central_difference(records_an_element_each_step, args, (0,), 1e-6)
    assert max(errors([ad], fd)) < 1e-6


# Bug 15 (fixed): a list that records a float computed by a user function from an array,
# and a write into the array afterwards: was refused ("the list hs holds it"), although the
# function returns arithmetic (``s = total(out, 0.5); out[0] = 3.0`` was accepted).
def total_plus(u0, u1):
    return u1 + np.sum(u0)


def records_a_helpers_result_each_step(a0):
    out = a0 * 1.0
    hs = []
    for i in range(2):
        out[i] = 2.0 * out[i + 1]
        hs.append(total_plus(out, 0.5))
    return hs[0] * hs[1] + np.sum(out)


def test_regression_list_of_helper_results_then_write():
    fn, args = records_a_helpers_result_each_step, [np.array([0.5, -1.2, 0.8])]
    value, ad = value_and_grad(fn)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors([ad], central_difference(fn, args, (0,), 1e-6))) < 1e-6


# Bug 16 (fixed): an in-place update of a whole array (``m0 *= 2.0``) while a row view of it
# is live and read later: was refused, though views were re-taken after element writes into
# their base. Generator knob: "aug_base".
def base_scaled_under_a_row_view(m0):
    r = m0[0]
    m0 *= 2.0
    return np.sum(r * r) + np.sum(m0)


def test_regression_base_updated_as_a_whole_under_a_row_view():
    fn, args = base_scaled_under_a_row_view, [np.array([[0.3, 1.1, -0.4], [0.9, -0.6, 0.2]])]
    value, ad = value_and_grad(fn)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors([ad], central_difference(fn, args, (0,), 1e-6))) < 1e-6


# Bug 17 (fixed): a write through a row view in a loop that also updates the base as a whole
# was refused ("r and m0 share memory"); without the loop it was accepted. ``m0 *= 0.5``
# keeps r a view.
def row_view_written_while_its_base_is_scaled(m0):
    r = m0[0]
    for _i in range(2):
        r[1] = -1.1 * m0[1, 1]
        m0 *= 0.5
    return np.sum(m0 * m0)


def base_shifted_in_a_loop_under_a_row_view(m0):
    r = m0[-1]
    for _i in range(2):
        m0 += 0.5
    return np.sum(r * r) + np.sum(m0)


def row_view_mask_written_while_its_base_is_scaled(m0):
    r = m0[0]
    for _i in range(2):
        r[m0[1] > 0.0] = -1.1
        m0 *= 0.5
    return np.sum(m0 * m0)


@pytest.mark.parametrize("fn", [row_view_written_while_its_base_is_scaled,
                                base_shifted_in_a_loop_under_a_row_view,
                                row_view_mask_written_while_its_base_is_scaled])
def test_regression_row_view_written_in_a_loop_that_scales_its_base(fn):
    args = [np.array([[0.3, 1.1, -0.4], [0.9, -0.6, 0.2]])]
    value, ad = value_and_grad(fn)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors([ad], central_difference(fn, args, (0,), 1e-6))) < 1e-6


# Bug 18: a loop over an array whose name the body rebinds to a new array, then writes into
# through a view: refused ("a0 and a value computed from it share memory (through `for s in
# a0:`)"), though the loop walks the old object and the write goes into the new one.
def writes_into_a_rebound_name_while_looping_over_it(a0):
    for _s in a0:
        a0 = a0 * 1.0
        p = a0[1:]
        p += 1.0
    return np.sum(a0 * a0)


def test_regression_write_into_a_rebound_name_in_a_loop_over_it():
    fn, args = writes_into_a_rebound_name_while_looping_over_it, [np.array([0.5, -1.2, 0.8])]
    value, ad = value_and_grad(fn)(*copies(args))
    assert value == fn(*copies(args))
    assert max(errors([ad], central_difference(fn, args, (0,), 1e-6))) < 1e-6


# Bug 19: a write through a reshape view of a parameter that nothing reads afterwards is
# accepted, and the gradient call writes into the caller's array (conftest.py's guard fails):
# adjoint copies a parameter written directly, not one written through such a view.
def writes_a_parameter_through_a_reshape(m0, x):
    t = m0.reshape(3, 2)
    t[-2] += 3.0
    return x * x


def test_regression_parameter_written_through_a_reshape_view():
    m0 = np.array([[0.3, 1.1, -0.4], [0.9, -0.6, 0.2]])
    value, ad = value_and_grad(writes_a_parameter_through_a_reshape, wrt=1)(m0, 0.5)
    assert (value, ad) == (0.25, 1.0)


# ---------------------------------------------------------------------------------------------
# containers, comprehensions and nested functions (issue 17)
# ---------------------------------------------------------------------------------------------
CONTAINER_EXAMPLES = 40
CONTAINER_JIT_PERCENT = 15


@dataclass
class ContainerStats:
    programs: int = 0
    jit_compared: int = 0
    jit_refused: int = 0
    autograd_compared: int = 0
    autograd_skipped: Counter = field(default_factory=Counter)
    features: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        if not self.programs:
            return []
        return [f"fuzz (containers): {self.programs} programs with a dict and a tuple parameter "
                f"checked against central differences, {self.jit_compared} with jit=True "
                f"({self.jit_refused} refused: lists built with append), "
                f"{self.autograd_compared} with autograd "
                f"({sum(self.autograd_skipped.values())} not run by autograd: "
                f"{dict(self.autograd_skipped.most_common(3))}); "
                f"constructs: {dict(self.features.most_common())}"]


CONTAINER_STATS = ContainerStats()
_plain_lines = FuzzStats.lines
FuzzStats.lines = lambda self: _plain_lines(self) + CONTAINER_STATS.lines()


def leaf_differences(f, args, eps=1e-6) -> list:
    """d f / d (each float leaf of P, T and x), by central differences, in tree order."""
    from adjoint import tree_flatten, tree_unflatten

    leaves, tree = tree_flatten(list(args))
    out = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, int):
            out.append(None)
            continue
        x = np.array(leaf, dtype=float)
        g = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            vals = []
            for sign in (1, -1):
                bumped = x.copy()
                bumped[k] += sign * eps
                new = list(leaves)
                new[i] = bumped if x.ndim else float(bumped)
                vals.append(f(*tree_unflatten(tree, new)))
            g[k] = (vals[0] - vals[1]) / (2 * eps)
        out.append(g if x.ndim else float(g))
    return out


def check_container_program(program, directory, jit_percent: int) -> None:
    from adjoint import tree_flatten

    f = load(program.source, directory)
    args = program.args
    value, ad = value_and_grad(f, wrt=(0, 1, 2))(*args)
    assert value == f(*args), program
    assert isinstance(ad[0], dict) and isinstance(ad[1], tuple) and ad[0]["n"] is None
    got = tree_flatten(list(ad))[0]
    fd = leaf_differences(f, args)
    for a, b in zip(got, fd):
        assert (a is None) == (b is None), program
        if b is not None:
            assert np.allclose(a, b, rtol=1e-5, atol=1e-6), (a, b, program)
    CONTAINER_STATS.programs += 1
    CONTAINER_STATS.features.update(program.features)
    if sampled(program.source, jit_percent):
        check_container_jit(f, program, value, got)
    n = args[0]["n"]  # autograd differentiates every leaf: the int is passed on the side
    floats = {k: v for k, v in args[0].items() if k != "n"}
    try:
        theirs = autograd.grad(lambda P, T, x: _with_autograd(f, {**P, "n": n}, T, x),
                               (0, 1, 2))(floats, *args[1:])
    except Exception as exc:  # noqa: BLE001 - autograd cannot run every program; counted
        CONTAINER_STATS.autograd_skipped[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
        return
    theirs = [{**theirs[0], "n": None}, *theirs[1:]]
    for a, b in zip(got, tree_flatten(theirs)[0]):
        if a is not None:
            assert np.allclose(a, np.asarray(b, dtype=float), rtol=1e-9, atol=1e-12), program
    CONTAINER_STATS.autograd_compared += 1


def check_container_jit(f, program, value, got) -> None:
    from adjoint import tree_flatten

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            jit_value, jitted = value_and_grad(f, wrt=(0, 1, 2), jit=True)(*program.args)
    except JitError as exc:  # documented: lists built with append have no Numba version
        assert "has no Numba implementation" in str(exc), (str(exc), program)
        CONTAINER_STATS.jit_refused += 1
        return
    assert jit_value == pytest.approx(value, rel=1e-12), program
    for a, b in zip(tree_flatten(list(jitted))[0], got):
        assert (a is None) == (b is None) and (a is None or np.allclose(a, b, rtol=1e-10))
    CONTAINER_STATS.jit_compared += 1


def _with_autograd(f, P, T, x):
    namespace = f.__globals__
    saved = namespace["np"]
    namespace["np"] = autograd.numpy
    try:
        return f(P, T, x)
    finally:
        namespace["np"] = saved


@settings(max_examples=LONG_EXAMPLES or CONTAINER_EXAMPLES, derandomize=not LONG_EXAMPLES,
          deadline=None, suppress_health_check=list(HealthCheck))
@given(program=container_programs())
def test_container_programs(program, program_dir):
    check_container_program(program, program_dir,
                            LONG_JIT_PERCENT if LONG_EXAMPLES else CONTAINER_JIT_PERCENT)
