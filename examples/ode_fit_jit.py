"""Fit the parameters of an ODE, integrated by a plain Python loop, with ``grad(jit=True)``.

A damped oscillator ``x'' = -k x - c x'`` starting at rest from ``x0``, integrated with
explicit Euler for 1,000 steps. From a noisy recording of x(t) we recover the stiffness
``k``, the damping ``c`` and the starting point ``x0`` by minimising the mean squared misfit
with Adam (written out below). ``grad(misfit, wrt=("k", "c", "x0"), jit=True)`` compiles the
generated adjoint with Numba: the backward loop runs at machine speed.

Run:  python examples/ode_fit_jit.py [--quick]

It prints the misfit every 50 steps, the recovered parameters next to the true ones, and
the time of one gradient with and without ``jit``. ``--quick`` (or
``ADJOINT_EXAMPLES_QUICK=1``) stops after 250 Adam steps instead of 500.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _options import add_quick_option

from adjoint import check_grad, grad

TRUE = {"k": 4.0, "c": 0.3, "x0": 1.0}
GUESS = {"k": 2.0, "c": 1.0, "x0": 2.0}
DT, STEPS, NOISE = 0.01, 1000, 0.05
ADAM_STEPS, QUICK_ADAM_STEPS = 500, 250


def simulate(k, c, x0, steps, dt):
    """Positions x(t_1), ..., x(t_steps) of the oscillator, by explicit Euler."""
    xs = np.zeros(steps)
    x, v = x0, 0.0
    for i in range(steps):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        xs[i] = x
    return xs


def misfit(k, c, x0, data, dt):
    """Mean squared difference between the simulated positions and the data."""
    x = x0
    v = 0.0
    total = 0.0
    n = data.shape[0]
    for i in range(n):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        r = x - data[i]
        total = total + r * r
    return total / n


def adam(gradient, theta: np.ndarray, steps: int, lr: float = 0.02,
         beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
    """Adam (Kingma and Ba, 2015), yielding (step, theta) after every update."""
    m = np.zeros_like(theta)
    s = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = gradient(theta)
        m = beta1 * m + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * g * g
        m_hat, s_hat = m / (1 - beta1 ** t), s / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(s_hat) + eps)
        yield t, theta


def time_per_call(fn, *args, repeat: int = 20) -> float:
    fn(*args)  # the first call builds (and with jit=True compiles)
    start = time.perf_counter()
    for _ in range(repeat):
        fn(*args)
    return (time.perf_counter() - start) / repeat


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, f"{QUICK_ADAM_STEPS} Adam steps instead of {ADAM_STEPS}")
    return parser.parse_args()


def main() -> None:
    options = parse_args()
    rng = np.random.default_rng(1)
    clean = simulate(TRUE["k"], TRUE["c"], TRUE["x0"], STEPS, DT)
    data = clean + NOISE * rng.standard_normal(STEPS)
    names = ("k", "c", "x0")
    print(f"{STEPS} noisy samples (sigma {NOISE}) of a damped oscillator, dt = {DT}")

    compile_start = time.perf_counter()
    dmisfit = grad(misfit, wrt=names, jit=True)
    dmisfit(*GUESS.values(), data, DT)
    print(f"grad(misfit, jit=True): first call (transform + Numba compile, or load from "
          f"the cache) {time.perf_counter() - compile_start:.2f} s")
    error = check_grad(misfit, *GUESS.values(), data, DT, wrt=names)
    print(f"check_grad at the first guess: largest error {error:.1e}")
    plain = grad(misfit, wrt=names)
    t_jit = time_per_call(dmisfit, *GUESS.values(), data, DT)
    t_plain = time_per_call(plain, *GUESS.values(), data, DT)
    print(f"one gradient: {t_jit * 1e6:.0f} us with jit=True, {t_plain * 1e3:.2f} ms "
          f"without ({t_plain / t_jit:.0f}x)\n")

    def gradient(theta: np.ndarray) -> np.ndarray:
        return np.array(dmisfit(*theta, data, DT))

    guess = np.array(list(GUESS.values()))
    start = time.perf_counter()
    steps = QUICK_ADAM_STEPS if options.quick else ADAM_STEPS
    for step, theta in adam(gradient, guess, steps):
        if step % 50 == 0 or step == 1:
            print(f"Adam step {step:4d}: misfit {misfit(*theta, data, DT):.6f}  "
                  + "  ".join(f"{n} = {v:.4f}" for n, v in zip(names, theta)))
    print(f"{steps} Adam steps in {time.perf_counter() - start:.2f} s\n")

    print(f"{'parameter':<10} {'true':>8} {'guess':>8} {'recovered':>10}")
    for name, value in zip(names, theta):
        print(f"{name:<10} {TRUE[name]:>8.4f} {GUESS[name]:>8.4f} {value:>10.4f}")
    noise_floor = np.mean((data - clean) ** 2)
    print(f"final misfit {misfit(*theta, data, DT):.6f} (the noise alone: {noise_floor:.6f})")


if __name__ == "__main__":
    main()
