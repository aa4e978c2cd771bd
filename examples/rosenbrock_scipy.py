"""Minimise an N-dimensional Rosenbrock function with SciPy, with and without ``adjoint.grad``.

``scipy.optimize.minimize(f, x0, jac=grad(f), method="L-BFGS-B")`` gets the exact gradient
from the generated adjoint. Without ``jac``, SciPy estimates the gradient by forward finite
differences: N + 1 evaluations of f per gradient, and an error of about 1e-8 in each entry.

Run:   python examples/rosenbrock_scipy.py [--quick] [--n N]
Needs: pip install -e ".[examples]"  (threadpoolctl, to time with one BLAS thread)

It prints, for both runs, the iterations, the function evaluations, the final value, the
distance to the minimum (all ones) and the time. ``--quick`` (or
``ADJOINT_EXAMPLES_QUICK=1``) uses N = 20 instead of 100.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _options import add_quick_option
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from adjoint import check_grad, grad

N, QUICK_N = 100, 20


def rosenbrock(x):
    """sum over i of 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2; the minimum is 0 at all ones."""
    head = x[:-1]
    tail = x[1:]
    return np.sum(100.0 * (tail - head ** 2) ** 2 + (1.0 - head) ** 2)


def run(x0: np.ndarray, jac) -> tuple[object, float]:
    start = time.perf_counter()
    # tight tolerances, so the run goes as far as its gradient's accuracy allows
    options = {"maxiter": 20000, "maxfun": 10 ** 7, "ftol": 1e-15, "gtol": 1e-10}
    result = minimize(rosenbrock, x0, jac=jac, method="L-BFGS-B", options=options)
    return result, time.perf_counter() - start


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, f"N = {QUICK_N} instead of {N}")
    parser.add_argument("--n", type=int, default=None, help="the dimension N")
    return parser.parse_args()


def main() -> None:
    options = parse_args()
    n = options.n or (QUICK_N if options.quick else N)
    x0 = np.tile([-1.2, 1.0], n // 2 + 1)[:n]  # the classic starting point, repeated
    dfdx = grad(rosenbrock)
    print(f"Rosenbrock in {n} dimensions from x0 = [-1.2, 1, -1.2, 1, ...]")
    print(f"check_grad at x0: largest error {check_grad(rosenbrock, x0):.1e}\n")

    # One BLAS thread: on vectors this small, threads only add synchronisation, and on a busy
    # machine OpenBLAS's waiting threads make L-BFGS-B's vector operations 100x slower.
    with threadpool_limits(limits=1):
        runs = {"jac=grad(f)": run(x0, dfdx), "finite differences": run(x0, None)}
    print(f"{'L-BFGS-B with':<20} {'iterations':>10} {'f evals':>8} {'final f':>10} "
          f"{'|x - 1|':>9} {'time':>8}")
    for label, (result, seconds) in runs.items():
        distance = np.linalg.norm(result.x - 1.0)
        print(f"{label:<20} {result.nit:>10} {result.nfev:>8} {result.fun:>10.2e} "
              f"{distance:>9.1e} {seconds:>7.3f}s")
    (exact, t_exact), (approx, t_approx) = runs.values()
    print(f"\nwith the adjoint: {approx.nfev / exact.nfev:.0f}x fewer function evaluations, "
          f"{t_approx / t_exact:.1f}x faster")
    for label, (result, _) in runs.items():
        print(f"{label}: stopped with {result.message}")


if __name__ == "__main__":
    main()
