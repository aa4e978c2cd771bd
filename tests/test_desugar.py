"""Comprehensions, final if/else returns and other syntax lowered by adjoint.desugar:
gradients against central differences in both jit modes, jvp and hvp, the loops shown."""
import numpy as np
import pytest

from adjoint import JitError, MissingRuleError, UnsupportedSyntaxError, check_grad, grad, hvp, jvp

from . import desugar_cases as c
from . import desugar_shadowing
from .test_forward import as_tuple, fresh, random_directions, shifted

RNG = np.random.default_rng(17)


def vec(*shape):
    return RNG.normal(size=shape)


# (function, args, wrt, lists): "append" builds a list with append (no Numba version, no
# hvp), "stack" stacks a list display (no Numba version of the adjoint), "" neither
CASES = [
    (c.list_comprehension_to_array, (vec(5), 0.7, 4), (0, 1), "append"),
    (c.generator_sum, (vec(5),), 0, ""),
    (c.generator_sum_of_rows, (vec(3, 4),), 0, ""),
    (c.filtered_nested_sum, (vec(5), 4), 0, ""),
    (c.comprehension_over_rows_stacked, (vec(3, 4), 0.3), (0, 1), "append"),
    (c.comprehension_shadowing_a_local, (vec(5), 4), 0, ""),
    (c.generator_max_and_min, (vec(5), 4), 0, "append"),
    (c.comprehension_over_enumerate, (vec(5), 0.5), (0, 1), ""),
    (c.list_comprehension_indexed, (0.7, 4), 0, "append"),
    (c.final_if_else, (0.5,), 0, ""),
    (c.final_if_else, (-0.5,), 0, ""),
    (c.final_elif_chain_nested, (1.5, 0.3), (0, 1), ""),
    (c.final_elif_chain_nested, (1.5, -0.3), (0, 1), ""),
    (c.final_elif_chain_nested, (-1.5, 0.3), (0, 1), ""),
    (c.final_elif_chain_nested, (0.5, 0.3), (0, 1), ""),
    (c.nested_unpacking, (0.3, 0.5, 0.7), (0, 1, 2), ""),
    (c.nested_unpacking_of_rows, (vec(3, 4),), 0, ""),
    (c.swap_elements, (vec(5),), 0, ""),
    (c.enumerate_zip_nested, (vec(3, 4), vec(4, 4)), (0, 1), ""),
    (c.nested_targets_over_pairs, (vec(3, 4), 0.3), (0, 1), ""),
    (c.starred_display, (0.3, 0.6), (0, 1), "stack"),
    (c.starred_name_and_call, (0.3, 0.6), (0, 1), "stack"),
    (c.builtin_sum_of_vector, (vec(5),), 0, ""),
    (c.builtin_sum_of_rows, (vec(3, 4),), 0, ""),
    (c.builtin_sum_of_lists, (0.3, 0.4), (0, 1), "append"),
    (c.item_and_float, (vec(5),), 0, ""),
    (c.zip_of_three_and_abs, (vec(3, 4), vec(2, 4), vec(4, 4)), (0, 1, 2), "abs"),
]
IDS = [f"{fn.__name__}-{i}" for i, (fn, *_) in enumerate(CASES)]


@pytest.mark.parametrize("fn, args, wrt, lists", CASES, ids=IDS)
def test_matches_central_differences(fn, args, wrt, lists):
    assert check_grad(fn, *fresh(args), wrt=wrt) < 1e-6


@pytest.mark.parametrize("fn, args, wrt, lists", CASES, ids=IDS)
def test_jit_agrees_or_names_the_line(fn, args, wrt, lists):
    expected = grad(fn, wrt=wrt)(*fresh(args))
    try:
        got = grad(fn, wrt=wrt, jit=True)(*fresh(args))
    except JitError as e:
        # lists built with append, and running totals that start at 0 and become arrays,
        # have no Numba version yet; the error names the user's line
        assert "desugar_cases.py:" in str(e)
        # abs of an array has no Numba version: np.abs has
        assert lists or fn is c.generator_sum_of_rows
        return
    for a, b in zip(as_tuple(expected), as_tuple(got)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn, args, wrt, lists", CASES, ids=IDS)
def test_jvp_matches_central_differences(fn, args, wrt, lists, eps=1e-6):
    v = random_directions(args, wrt)
    value, tangent = jvp(fn, wrt=as_tuple(wrt))(*fresh(args), v)
    expected = (fn(*shifted(args, wrt, v, eps)) - fn(*shifted(args, wrt, v, -eps))) / (2 * eps)
    assert value == pytest.approx(fn(*fresh(args)), rel=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("fn, args, wrt, lists", CASES, ids=IDS)
def test_hvp_matches_differences_of_gradients(fn, args, wrt, lists, eps=1e-5):
    v = random_directions(args, wrt)
    wrt = as_tuple(wrt)
    if lists == "append":
        with pytest.raises(MissingRuleError, match="lists built with append"):
            hvp(fn, wrt=wrt)(*fresh(args), v)
        return
    hv = hvp(fn, wrt=wrt)(*fresh(args), v)
    g = grad(fn, wrt=wrt)
    plus, minus = g(*shifted(args, wrt, v, eps)), g(*shifted(args, wrt, v, -eps))
    for h, p, m in zip(hv, plus, minus):
        np.testing.assert_allclose(h, (np.asarray(p) - np.asarray(m)) / (2 * eps),
                                   rtol=1e-5, atol=1e-5)


def test_the_generated_code_shows_the_loop():
    source = grad(c.generator_sum).source
    forward = source.split("# backward sweep")[0]
    assert "total = 0" in forward and "for " in forward
    assert "items.append(" in grad(c.list_comprehension_to_array).source


def test_a_comprehension_variable_does_not_leak_into_the_function():
    x = vec(5)
    assert grad(c.comprehension_shadowing_a_local)(x, 4)[0] == pytest.approx(4 * x[0])


def test_sum_of_an_array_is_np_sum_over_rows():
    assert "np.sum(X, axis=0)" in grad(c.builtin_sum_of_rows).source
    X = vec(3, 4)
    np.testing.assert_allclose(grad(c.builtin_sum_of_rows)(X),
                               np.broadcast_to(2 * X.sum(axis=0), X.shape))


def test_a_module_level_sum_is_not_the_builtin():
    fn = desugar_shadowing.calls_a_sum_of_its_module
    np.testing.assert_allclose(grad(fn)(vec(4)), np.full(4, 2.0))
    assert "np.sum" not in grad(fn).source


def while_condition_comprehension(x):
    while sum(v for v in [x]) < 10.0:
        x = x * 2.0
    return x


def dict_comprehension(x):
    d = {k: x for k in range(3)}
    return d[0]


def falls_through(x):
    if x > 0:
        return x
    elif x < -1:
        return -x


@pytest.mark.parametrize("fn, message", [
    (while_condition_comprehension, "comprehension in the condition of a while loop"),
    (dict_comprehension, "a dict comprehension is not supported"),
    (falls_through, "must end with 'return <value>'"),
])
def test_what_is_not_lowered_is_refused_with_the_line(fn, message):
    with pytest.raises(UnsupportedSyntaxError, match=message) as info:
        grad(fn)(1.0)
    assert "test_desugar.py:" in str(info.value)
