"""Second order (hvp, hessian) with jit=True: errors name the user's file:line, and the
loops-with-branches cases that still fail (issue 19)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from adjoint import JitError, grad, hvp

from . import control_flow_cases as c


def stacked(x):
    y = np.array([x, 2.0 * x])  # the adjoint of np.array of a list has a Numba version now
    return np.sum(y * y)


def tiled(x):
    y = np.repeat(x, 2)  # no Numba version of the adjoint of np.repeat
    return np.sum(y * y)


def test_hvp_with_jit_of_np_array_of_a_list():
    assert hvp(stacked, jit=True)(1.5, 1.0) == pytest.approx(10.0)


def test_a_jit_error_under_hvp_names_the_users_line():
    """hvp differentiates the generated adjoint: the error maps back through it to the
    user's own statement, not to a line of generated code."""
    with pytest.raises(JitError) as caught:
        hvp(tiled, jit=True)(np.array([1.5, 0.5]), np.ones(2))
    line = inspect.getsourcelines(tiled)[1] + 1
    assert str(caught.value).startswith(f"{__file__}:{line}:"), str(caught.value)
    assert "y = np.repeat(x, 2)" in str(caught.value)


def test_generated_lines_map_to_the_users_statement_or_def():
    """How a line of generated adjoint code (the source hvp differentiates) is traced back:
    to the statement its comment quotes, or (a pre-binding) to the user's def line."""
    from adjoint.errors import Location
    from adjoint.forward import parse_any
    from adjoint.jit_errors import origin_line

    g = grad(c.element_writes)
    g(np.ones(3), 3)
    src = parse_any(g._last.function)
    lines = src.file_lines
    prebinding = next(k for k, row in enumerate(lines, 1) if row.strip() == "t1 = None")
    # the first generated line under the comment quoting the user's statement
    square = 1 + next(k for k, row in enumerate(lines, 1)
                      if row.strip() == "# out[i] = x[i] ** 2")
    first = inspect.getsourcelines(c.element_writes)[1]
    for line, expected in [(prebinding, first), (square, first + 4)]:
        where = origin_line(src, Location(src.filename, line))
        assert (where.filename, where.line) == (c.__file__, expected)
    assert "out[i] = x[i] ** 2" in origin_line(src, Location(src.filename, square)).source_line


# The adjoint pre-binds a variable that a loop overwrites and saves to ``None``; forward
# mode over that code (hvp) pre-binds its tangent to ``None`` too, not ``zeros_like(None)``,
# which Numba cannot type.
@pytest.mark.parametrize("fn, args", [
    (c.element_writes, (np.linspace(-1.0, 1.0, 6), 6)),
    (c.loop_branch_write_combination, (np.linspace(-1.0, 1.0, 5), 0.8)),
], ids=["element_writes", "loop_branch_write_combination"])
def test_hvp_with_jit_of_a_loop_with_a_branch(fn, args):
    v = np.linspace(0.5, 1.5, args[0].size)
    expected = hvp(fn)(*args, v)
    np.testing.assert_allclose(hvp(fn, jit=True)(*args, v), expected, rtol=1e-10)
