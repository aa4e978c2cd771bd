"""Fit the diffusivity of a 2-D heat equation written the way C and Fortran codes write it.

The solver below is explicit time stepping with element loops, a row view for each grid
line it updates, insulated edges written through the rows of the grid, and double
buffering (a new array every step). NumPy's views make those writes change the grid;
`adjoint` differentiates them as writes into the grid (README, "Views and aliasing").

The script makes noisy observations with a known diffusivity, then recovers it by Newton's
method on the least-squares loss, using the gradient (reverse mode, `jit=True`) and its
derivative (`hvp`), and checks the gradient against central differences on the way.

    python examples/heat_equation.py            # 24 x 24 grid, 30 steps
    python examples/heat_equation.py --quick    # 10 x 10 grid, 8 steps
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _options import add_quick_option

from adjoint import grad, hvp, value_and_grad


def step(u, kappa):
    """One explicit step of u_t = kappa * laplacian(u) with insulated edges."""
    n, m = u.shape
    v = np.zeros((n, m))
    for i in range(1, n - 1):
        row = v[i]
        for j in range(1, m - 1):
            row[j] = u[i, j] + kappa * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]
                                        - 4.0 * u[i, j])
    v[0] = v[1]
    v[n - 1] = v[n - 2]
    for row in v:  # no flux through the left and right edges
        row[0] = row[1]
        row[m - 1] = row[m - 2]
    return v


def simulate(u0, kappa, steps):
    u = u0.copy()
    for _ in range(steps):
        u = step(u, kappa)
    return u


def loss(kappa, u0, observed, steps):
    r = simulate(u0, kappa, steps) - observed
    return 0.5 * np.sum(r * r)


def initial_state(size: int) -> np.ndarray:
    x = np.linspace(-1.0, 1.0, size)
    return np.exp(-8.0 * (x[:, None] ** 2 + x[None, :] ** 2))


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, "a 10 x 10 grid and 8 steps, without jit=True")
    quick = parser.parse_args().quick
    size, steps, true_kappa = (10, 8, 0.12) if quick else (24, 30, 0.12)

    u0 = initial_state(size)
    rng = np.random.default_rng(0)
    observed = simulate(u0, true_kappa, steps) + 1e-4 * rng.normal(size=u0.shape)

    dloss = grad(loss, jit=not quick)  # quick mode (the test suite) skips the compile
    d2loss = hvp(loss)
    kappa, eps = 0.05, 1e-6
    fd = (loss(kappa + eps, u0, observed, steps) - loss(kappa - eps, u0, observed, steps)) / (
        2 * eps)
    g = dloss(kappa, u0, observed, steps)
    print(f"gradient at kappa = {kappa}: {g:.8f} (central differences {fd:.8f})")
    assert abs(g - fd) <= 1e-5 * max(1.0, abs(fd))

    start = time.perf_counter()
    for iteration in range(8):
        g = dloss(kappa, u0, observed, steps)
        h = d2loss(kappa, u0, observed, steps, 1.0)
        kappa -= g / h
        value, _ = value_and_grad(loss)(kappa, u0, observed, steps)
        print(f"Newton step {iteration + 1}: kappa = {kappa:.6f}, loss = {value:.3e}")
        if abs(g / h) < 1e-10:
            break
    seconds = time.perf_counter() - start
    print(f"recovered kappa = {kappa:.5f} (true {true_kappa}) in {seconds:.2f} s "
          f"on a {size} x {size} grid, {steps} steps")
    return {"kappa": kappa, "true_kappa": true_kappa}


if __name__ == "__main__":
    main()
