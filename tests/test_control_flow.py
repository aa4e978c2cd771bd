"""Control flow and state: every construct against central differences, plus checks on
what the generated code saves."""
import math

import numpy as np
import pytest

from adjoint import UnsupportedSyntaxError, check_grad, grad, value_and_grad

from . import control_flow_cases as c

RNG = np.random.default_rng(7)


def vec(*shape):
    return RNG.normal(size=shape)


# (function, args, wrt): several points per construct so that each branch is taken.
CASES = [
    (c.if_elif_else, (0.7, 1.3), (0, 1)),
    (c.if_elif_else, (-0.4, 1.3), (0, 1)),
    (c.if_elif_else, (-2.5, 1.3), (0, 1)),
    (c.if_without_else, (0.4,), 0),
    (c.if_without_else, (1.6,), 0),
    (c.nested_branches, (0.5, 0.7), (0, 1)),
    (c.nested_branches, (0.5, -0.7), (0, 1)),
    (c.nested_branches, (-0.5, 0.7), (0, 1)),
    (c.conditional_expression, (1.5,), 0),
    (c.conditional_expression, (-1.5,), 0),
    (c.recurrence, (0.7, 200), 0),
    (c.range_start_stop_step, (1.1, 1, 9, 3), 0),
    (c.range_start_stop_step, (1.1, 9, 1, -2), 0),
    (c.range_start_stop_step, (1.1, 5, 5, 1), 0),
    (c.data_dependent_bound, (1.2,), 0),
    (c.loop_over_rows, (vec(4, 3), vec(3)), (0, 1)),
    (c.enumerate_and_zip, (vec(3, 2), vec(3, 2)), (0, 1)),
    (c.loop_over_tuple, (0.3,), 0),
    (c.while_loop, (0.5,), 0),
    (c.while_loop, (20.0,), 0),
    (c.while_with_break, (0.5,), 0),
    (c.while_with_break, (60.0,), 0),
    (c.break_and_continue, (0.5, 9), 0),
    (c.break_and_continue, (5.0, 9), 0),
    (c.break_and_continue, (-3.0, 9), 0),
    (c.early_return_in_loop, (0.5, 10), 0),
    (c.early_return_in_loop, (0.5, 3), 0),
    (c.early_return_in_branch, (0.7,), 0),
    (c.early_return_in_branch, (-0.5,), 0),
    (c.early_return_in_branch, (-2.0,), 0),
    (c.return_from_nested_loops, (0.2, 4), 0),
    (c.return_from_nested_loops, (3.0, 4), 0),
    (c.nested_loops_with_overwrites, (0.3, 5), 0),
    (c.augmented_assignments, (0.6, 1.7), (0, 1)),
    (c.array_augmented, (vec(4),), 0),
    (c.element_writes, (vec(6), 6), 0),
    (c.column_slice_and_mask_writes, (vec(4, 3), vec(3)), (0, 1)),
    (c.recurrence_in_array, (0.4, 8), 0),
    (c.svm_with_element_write, (vec(3, 4), vec(4), 0), (0, 1)),
    (c.svm_with_element_write, (vec(3, 4), vec(4), 2), (0, 1)),
    (c.writes_into_argument, (vec(3),), 0),
    (c.unpack_and_swap, (0.8, -1.1), (0, 1)),
    (c.calls_function_with_loops, (2.0, 0.5), (0, 1)),
    (c.loop_branch_write_combination, (vec(5), 0.8), (0, 1)),
    (c.unpacks_a_returned_tuple, (0.3, 0.8), (0, 1)),
    (c.rnn_over_rows, (0.5 * vec(3, 3), vec(4, 3)), (0, 1)),
    (c.appends_to_a_list, (0.4, 5), 0),
    (c.empty_branches_and_loops, (0.4, 3), 0),
    (c.empty_branches_and_loops, (-0.4, 3), 0),
    (c.appends_to_a_list, (vec(3), 4), 0),
    (c.interleaved_appends_and_reads, (0.3, 4), 0),
    (c.states_in_a_list, (0.5 * vec(3, 3), vec(3), 4), (0, 1)),
]


@pytest.mark.parametrize("fn, args, wrt", CASES,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _, _) in enumerate(CASES)])
def test_matches_central_differences(fn, args, wrt):
    assert check_grad(fn, *args, wrt=wrt) < 1e-6


@pytest.mark.parametrize("fn, args, wrt", CASES[::4], ids=lambda v: getattr(v, "__name__", ""))
def test_value_is_the_primal_and_inputs_are_untouched(fn, args, wrt):
    copies = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    value, _ = value_and_grad(fn, wrt=wrt)(*args)
    for before, after in zip(copies, args):
        np.testing.assert_array_equal(before, after)
    assert value == pytest.approx(fn(*[np.copy(a) if isinstance(a, np.ndarray) else a
                                       for a in args]), rel=1e-12)


def test_writes_into_an_argument_leave_the_callers_array_alone():
    x = np.array([1.0, 2.0, 3.0])
    g = grad(c.writes_into_argument)(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g, [0.0, 18 * 2 + 2 * 2 + 6 * 9, 2 * 9])


def test_recurrence_saves_one_value_per_iteration_and_keeps_loops_as_loops():
    source = grad(c.recurrence).source
    forward, backward = source.split("# backward sweep")
    # x * i is computed again at the top of each backward iteration: x and i are known there
    assert forward.count(".append(") <= 1
    assert "t2 = x * i" in backward
    assert "for i in range(n - 1, -1, -1):" in backward
    loops = [ln for ln in backward.splitlines() if ln.strip().startswith("for ")]
    assert len(loops) == 1  # no unrolling


def test_while_loops_record_their_trip_count():
    backward = grad(c.while_loop).source.split("# backward sweep")[1]
    assert "in range(trips):" in backward


def test_branch_decisions_are_recorded_not_recomputed():
    source = grad(c.if_without_else).source
    assert "t1 = x > 1.0" in source and "if t1:" in source.split("# backward sweep")[1]


def aliasing_through_copy(x):
    a = x * 1.0
    b = a
    a += 1.0
    return np.sum(a * b)


def aliasing_through_view(x):
    y = x * 2.0
    v = y[1:]
    y[1] = 5.0
    return np.sum(v)


def test_a_view_taken_before_a_write_into_its_base_sees_the_write():
    # v = y[1:] is taken again after y[1] = 5.0, so 5.0 reaches the output
    x = np.array([1.0, 2.0, 3.0])
    value, gradient = value_and_grad(aliasing_through_view)(x)
    assert value == aliasing_through_view(x.copy())
    np.testing.assert_array_equal(gradient, [0.0, 0.0, 2.0])


@pytest.mark.parametrize("fn", [aliasing_through_copy])
def test_in_place_changes_to_shared_arrays_are_refused(fn):
    with pytest.raises(UnsupportedSyntaxError, match="changed in place.*share memory"):
        grad(fn)(np.array([1.0, 2.0, 3.0]))


def test_augmented_assignment_on_a_shared_float_is_fine():
    assert check_grad(aliasing_through_copy, 1.5) < 1e-8


def repeated_index_write(x):
    y = np.zeros(3)
    y[np.array([0, 0])] = x[:2]
    return np.sum(y)


def test_element_write_with_repeated_indices_keeps_the_last_write_as_numpy_does():
    # y[0] is written twice; NumPy keeps x[1], so x[0] does not reach the output
    np.testing.assert_array_equal(grad(repeated_index_write)(np.array([1.0, 2.0, 3.0])),
                                  [0.0, 1.0, 0.0])


def test_a_list_shrinks_back_in_the_backward_sweep():
    backward = grad(c.appends_to_a_list).source.split("# backward sweep")[1]
    assert "pop_adjoint(dhs, hs)" in backward


def test_a_list_changed_through_another_name_is_refused():
    with pytest.raises(UnsupportedSyntaxError, match="share memory"):
        grad(c.copies_an_appended_list)(0.4)


def sorts_in_place(x):
    y = x * 2.0
    y.sort()
    return np.sum(y * x)


def test_other_in_place_calls_on_differentiated_values_are_refused():
    with pytest.raises(UnsupportedSyntaxError, match=r"y\.sort\(\).*in place"):
        grad(sorts_in_place)(np.array([3.0, 1.0, 2.0]))


def stores_a_returned_tuple(x, y):
    pair = c._polar(x, y)
    return pair[0]


def test_a_returned_tuple_must_be_unpacked_where_it_is_called():
    with pytest.raises(UnsupportedSyntaxError, match="returns 2 values"):
        grad(stores_a_returned_tuple)(0.3, 0.4)


def squares_of_sines(x, n):
    s = 0.0
    for i in range(n):
        u = math.sin(x * i)  # a call: saved, not computed again
        s = s + u * u
    return s


def test_float_saves_of_a_simple_loop_use_preallocated_arrays():
    g = grad(squares_of_sines)
    g(0.7, 50)  # called with floats: the build knows x is a float
    forward = g.source.split("# backward sweep")[0]
    assert "np.empty(max(n, 0))" in forward and ".append(" not in forward
    assert check_grad(squares_of_sines, 0.7, 50) < 1e-8


def test_saves_inside_a_loop_that_can_break_stay_growable():
    g = grad(c.break_and_continue)
    g(0.5, 9)
    assert ".append(" in g.source and "np.empty" not in g.source


def tuple_walked_in_a_loop(x, m):
    s = 0.0
    for row in m:
        for v in (x, 2.0 * x):  # the tuple's entries receive adjoints in every iteration
            row[-1] *= v
        s = s + np.sum(row)
    return s + np.sum(m)


def test_a_tuple_walked_inside_a_loop_accumulates_into_its_entries():
    """Found by the fuzzer: the outer loop lost x's adjoint from the inner tuple (the dry
    run of the backward sweep did not see a tuple display pass adjoints on), giving 0."""
    m = np.array([[0.7, 2.5, 0.2], [2.0, 2.1, -0.4]])
    dx, dm = grad(tuple_walked_in_a_loop, wrt=(0, 1))(-1.3, m.copy())
    assert check_grad(tuple_walked_in_a_loop, -1.3, m.copy(), wrt=(0, 1)) < 1e-6
    assert dx != 0.0
