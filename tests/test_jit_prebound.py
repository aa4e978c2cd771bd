"""jit=True with an index saved by a branch inside a loop (reverse.py ``read_assigned``):
the generated code binds it to None before the loop, Numba types it Optional, and indexing
an array with it compiles through ``assigned``. Value, gradient and hvp agree with jit=False,
and the gradient with central differences."""
import numpy as np

from adjoint import grad, hvp, value_and_grad
from tests.test_fuzz import central_difference


def last_entry_in_branch(x, c):
    out = np.zeros(4)
    n = 4
    for k in range(3):
        if x[k] > 0:
            out[n - 1] = x[k] * c
        else:
            out[0] = x[k]
    return np.sum(out * out)


def row_and_column_in_branches(x, w):
    out = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            if x[i, j] > 0.2:
                col = (j + 1) % 4
                out[i, col] = out[i, col] + x[i, j] * w[j]
            else:
                row = 2 - i
                out[row] = out[row] + np.sin(x[i, j]) * w
    return np.sum(out ** 2) + np.sum(out[:, 0] * w[0])


def read_at_saved_index(x):
    total = 0.0
    for k in range(x.shape[0]):
        if x[k] < 0.5:
            at = x.shape[0] - 1 - k
            total = total + x[at] * x[k]
    return total


def clipped_in_branch(x0, m0, m1, a1):
    # the clip's adjoint compares its saved result with m0: ``t1 == m0`` on a variable
    # Numba types Optional (found by the fuzzer: "Cannot unify Literal[bool] and array")
    for _ in range(3):
        x0 = x0 + np.sum((np.clip(m0, -0.5, 0.5) if x0 > 0.0 else m1 * m1) @ a1)
    return x0


CLIP_ARGS = (0.3, np.random.default_rng(8).normal(size=(2, 3)),
             np.random.default_rng(9).normal(size=(2, 3)),
             np.random.default_rng(10).normal(size=(3, 2)) * 0.1)

CASES = [(last_entry_in_branch, (np.array([1.0, -2.0, 3.0]), 2.0), (0, 1)),
         (row_and_column_in_branches,
          (np.random.default_rng(5).uniform(-1, 1, (3, 4)), np.array([0.5, -1.0, 2.0, 0.3])),
          (0, 1)),
         (read_at_saved_index, (np.array([0.1, 0.9, -0.4, 0.7, 0.2]),), (0,)),
         (clipped_in_branch, CLIP_ARGS, (0, 1, 2, 3)),
         (clipped_in_branch, (-0.2, *CLIP_ARGS[1:]), (0, 1, 2, 3))]


def test_gradients_agree_with_python_mode_and_central_differences():
    for program, args, wrt in CASES:
        value, grads = value_and_grad(program, wrt=wrt)(*args)
        jit_value, jit_grads = value_and_grad(program, wrt=wrt, jit=True)(*args)
        assert "assigned(" in grad(program, wrt=wrt, jit=True).source
        np.testing.assert_allclose(jit_value, value, rtol=1e-12)
        expected = central_difference(program, list(args), list(wrt), 1e-6)
        grads = grads if isinstance(grads, tuple) else (grads,)
        jit_grads = jit_grads if isinstance(jit_grads, tuple) else (jit_grads,)
        for got, plain, numeric in zip(jit_grads, grads, expected):
            np.testing.assert_allclose(got, plain, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(plain, numeric, rtol=1e-6, atol=1e-8)


def test_python_mode_source_has_no_assigned_calls():
    program, args, wrt = CASES[0]
    assert "assigned" not in grad(program, wrt=wrt).source


def test_hvp_under_jit_agrees_with_python_mode():
    for program, args, wrt in CASES:
        at = wrt[1] if len(wrt) > 2 else 0  # clipped_in_branch: along m0
        direction = np.random.default_rng(7).normal(size=np.shape(args[at]))
        plain = hvp(program, wrt=at)(*args, direction)
        jitted = hvp(program, wrt=at, jit=True)(*args, direction)
        np.testing.assert_allclose(jitted, plain, rtol=1e-10, atol=1e-12)
