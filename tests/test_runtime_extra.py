"""The helpers of runtime_extra.py and runtime_linalg.py: each Numba version
(runtime_extra_numba.py, runtime_linalg_numba.py) agrees with its Python version on random
inputs (tests/test_helper_registry.py checks that every helper has one or a declared reason
and shares these cases)."""
from __future__ import annotations

import numba
import numpy as np
import pytest

import adjoint.runtime_numba  # noqa: F401 - registers the Numba versions
from adjoint import runtime

RNG = np.random.default_rng(14)


def _matrix(n=3):
    return RNG.uniform(-1, 1, (n, n)) + 3.0 * np.eye(n)


# helper name -> argument lists to try (each compared between Python and Numba)
CASES = {
    "polygamma": [(0, 0.3), (0, 7.5), (1, 2.2), (2, 0.7), (3, 1.4), (0, -0.5), (1, -1.3),
                  (0, RNG.uniform(0.1, 20.0, 6)), (2, RNG.uniform(0.1, 5.0, (2, 3)))],
    "reduced_count": [(RNG.normal(size=(3, 4)),), (RNG.normal(size=(3, 4)), 1),
                      (RNG.normal(size=(2, 3, 4)), (0, 2)), (2.5,)],
    "centered": [(RNG.normal(size=5),), (RNG.normal(size=(2, 3)),)],
    "reduce_sum": [(RNG.normal(size=5),), (RNG.normal(size=(2, 3)),)],
    "diff_adjoint": [(RNG.normal(size=4),), (RNG.normal(size=4), 2),
                     (RNG.normal(size=(2, 3)), 1, -1), (RNG.normal(size=(2, 3)), 3, 1)],
    "sort_adjoint": [(RNG.normal(size=5), RNG.normal(size=5)),
                     (RNG.normal(size=4), np.array([1.0, 0.5, 1.0, 0.5]))],
    "sorted_like": [(RNG.normal(size=5), RNG.normal(size=5)),
                    (RNG.normal(size=4), np.array([1.0, 0.5, 1.0, 0.5]))],
    "untrace": [(1.5, RNG.normal(size=(3, 3))), (0.5, RNG.normal(size=(3, 4)), 1),
                (2.0, RNG.normal(size=(4, 3)), -2)],
    "undiagonal": [(RNG.normal(size=3), RNG.normal(size=(3, 3))),
                   (RNG.normal(size=2), RNG.normal(size=(3, 4)), 2),
                   (RNG.normal(size=3), RNG.normal(size=(4, 3)), -1)],
    "solve_as": [(_matrix(), RNG.normal(size=3)), (_matrix(), RNG.normal(size=(3, 2)), True)],
    "times_as": [(_matrix(), RNG.normal(size=3), True), (_matrix(), RNG.normal(size=(3, 2)))],
    "outer_last": [(RNG.normal(size=3), RNG.normal(size=3), _matrix()),
                   (RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2)), _matrix())],
    "matrix_trace": [(RNG.normal(size=(3, 3)),)],
    "eigenvectors": [(RNG.normal(size=(3, 3)),)],
    "cumprod_adjoint": [(RNG.normal(size=5), RNG.normal(size=5)),
                        (RNG.normal(size=6), np.array([2.0, 0.0, 3.0, 0.0, 1.5, -1.0])),
                        (RNG.normal(size=6), RNG.normal(size=(2, 3)))],
    "cumprod_adjoint_change": [(RNG.normal(size=5), RNG.normal(size=5), RNG.normal(size=5)),
                               (RNG.normal(size=4), np.array([1.0, 0.0, 2.0, 0.0]),
                                RNG.normal(size=4))],
    "cumprod_tangent": [(RNG.normal(size=5), RNG.normal(size=5)),
                        (RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)))],
}


def _njit_caller(helper, nargs):
    args = ", ".join(f"a{i}" for i in range(nargs))
    scope = {"helper": helper}
    exec(f"def call({args}):\n    return helper({args})\n", scope)
    return numba.njit(scope["call"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_numba_version_agrees(name):
    helper = getattr(runtime, name)
    for args in CASES[name]:
        expected = helper(*args)
        got = _njit_caller(helper, len(args))(*args)
        if name == "eigenvectors":  # eigenvectors are defined up to sign
            got = got * np.sign(got[0:1, :] * expected[0:1, :])
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12,
                                   err_msg=f"{name}{tuple(np.shape(a) for a in args)}")


def test_polygamma_matches_known_values():
    euler_gamma = 0.5772156649015329
    assert runtime.polygamma(0, 1.0) == pytest.approx(-euler_gamma, rel=1e-14)
    assert runtime.polygamma(1, 1.0) == pytest.approx(np.pi ** 2 / 6, rel=1e-14)
