"""Module globals: a pendulum loop reading ``DT`` and ``STEPS`` from module level, against
its twin with the same constants written as locals, side by side in one run.

    python -m bench.module_globals            # jit=False and jit=True
    python -m bench.module_globals --quick    # jit=False only, fewer rounds

The generated code reads the module's constants live (a changed constant is seen on the
next call), so the two differ only in where the constants live. The twins are measured in
alternation (round after round, the fastest round of each), so a change in the machine's
load falls on both.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

import numpy as np

import adjoint

DT = 0.01
STEPS = 1000


def pendulum_globals(c, k):
    th, w = 1.0, 0.0
    for _ in range(STEPS):
        a = -k * np.sin(th) - c * w
        w = w + DT * a
        th = th + DT * w
    return th * th + 0.5 * w * w


def pendulum_locals(c, k):
    dt = 0.01
    steps = 1000
    th, w = 1.0, 0.0
    for _ in range(steps):
        a = -k * np.sin(th) - c * w
        w = w + dt * a
        th = th + dt * w
    return th * th + 0.5 * w * w


def per_call(fn, args, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - t0) / number


def side_by_side(first, second, args, rounds: int) -> tuple[float, float]:
    """Seconds per call of each, the fastest of the rounds (the least disturbed by other
    processes), measured in alternation after a warm-up."""
    for fn in (first, second):
        for _ in range(3):
            fn(*args)
    once = max(per_call(first, args, 1), 1e-7)
    number = max(1, int(2e-3 / once))
    a, b = [], []
    for _ in range(rounds):
        a.append(per_call(first, args, number))
        b.append(per_call(second, args, number))
    return min(a), min(b)


def measure(jit: bool, rounds: int) -> dict:
    args = (0.3, 9.81)
    g_globals = adjoint.grad(pendulum_globals, wrt=(0, 1), jit=jit)
    g_locals = adjoint.grad(pendulum_locals, wrt=(0, 1), jit=jit)
    same = np.allclose(g_globals(*args), g_locals(*args), rtol=1e-12, atol=0)
    grads = side_by_side(g_globals, g_locals, args, rounds)
    primals = side_by_side(pendulum_globals, pendulum_locals, args, rounds)
    return {"jit": jit, "grad": grads, "primal": primals, "same": same}


def fmt(t: float) -> str:
    return f"{t * 1e3:.3f} ms" if t >= 1e-4 else f"{t * 1e6:.1f} µs"


def report(modes: list[bool], rounds: int) -> str:
    from bench.cli import machine

    lines = [
        f"# Module globals: Euler pendulum, {STEPS:,} steps",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {machine()}, {platform.platform()}, Python {platform.python_version()}",
        f"- fastest of {rounds} alternating rounds of batches of about 2 ms",
        "",
        "| mode | grad, constants global | grad, constants local | ratio | "
        "primal global | primal local | same gradient |",
        "|---|---|---|---|---|---|---|",
    ]
    for jit in modes:
        r = measure(jit, rounds)
        (gg, gl), (pg, pl) = r["grad"], r["primal"]
        lines.append(f"| jit={jit} | {fmt(gg)} | {fmt(gl)} | {gg / gl:.2f}x | {fmt(pg)} | "
                     f"{fmt(pl)} | {r['same']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.module_globals", description=__doc__)
    p.add_argument("--quick", action="store_true", help="jit=False only, fewer rounds")
    a = p.parse_args(argv)
    if a.quick:
        print(report([False], 5))
    else:
        print(report([False, True], 15))
    return 0


if __name__ == "__main__":
    sys.exit(main())
