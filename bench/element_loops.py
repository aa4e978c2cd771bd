"""Element loops: the gradient of a loop that writes one array entry per iteration, at
n = 10^4, 10^5 and 10^6, in both modes, beside a hand-written Numba adjoint (and JAX's
``lax.fori_loop`` rewrite, when JAX is installed), in one run.

    python -m bench.element_loops            # n = 10^4, 10^5, 10^6
    python -m bench.element_loops --quick    # n = 10^3, 10^4

The time per element should not grow with n: the backward loop updates the adjoint in
place, entry by entry, in memory the generated code owns, and re-reads ``x`` (never
written) instead of saving it.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys

import numpy as np

import adjoint
from bench.module_globals import per_call


def loops(x):
    n = x.shape[0]
    k1 = np.zeros(n)
    for i in range(1, n):
        k1[i] = x[i] * x[i - 1]
    return np.sum(k1)


def hand_numba():
    import numba

    @numba.njit
    def grad_loops(x):
        n = x.shape[0]
        total = 0.0
        dx = np.zeros(n)
        for i in range(1, n):
            total += x[i] * x[i - 1]
            dx[i] += x[i - 1]
            dx[i - 1] += x[i]
        return total, dx
    return grad_loops


def jax_fori():
    """The rewrite a JAX user makes (a Python loop of 10^6 steps cannot be traced), or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def f(x):
        def step(i, k1):
            return k1.at[i].set(x[i] * x[i - 1])
        return jnp.sum(jax.lax.fori_loop(1, x.shape[0], step, jnp.zeros_like(x)))
    g = jax.jit(jax.grad(f))
    return lambda x: g(x).block_until_ready()


TOO_LONG = 20.0  # seconds per call, extrapolated linearly: a tool is not run at that n


def best(fn, args, rounds: int) -> float:
    """Seconds per call: the fastest of ``rounds`` batches of about 20 ms (or one call)."""
    fn(*args)
    once = max(per_call(fn, args, 1), 1e-7)
    number = max(1, int(2e-2 / once))
    return min(per_call(fn, args, number) for _ in range(rounds))


def tools() -> dict:
    found = {"adjoint": adjoint.value_and_grad(loops),
             "adjoint jit=True": adjoint.value_and_grad(loops, jit=True),
             "hand Numba": hand_numba()}
    jax = jax_fori()
    if jax is not None:
        found["jax.jit(jax.grad), fori_loop"] = jax
    return found


def measure(sizes: list[int], rounds: int) -> dict[str, dict[int, float]]:
    rng = np.random.default_rng(0)
    found = tools()
    times: dict[str, dict[int, float]] = {name: {} for name in found}
    for n in sizes:
        x = rng.standard_normal(n)
        _, reference = found["hand Numba"](x)
        for name, fn in found.items():
            if any(t * n / m > TOO_LONG for m, t in times[name].items()):
                continue  # linear growth from a smaller n would already take too long
            got = fn(x)
            got = got[1] if isinstance(got, tuple) else np.asarray(got)
            assert np.allclose(got, reference, rtol=1e-12, atol=1e-12), name
            times[name][n] = best(fn, (x,), rounds if n < 10**6 or "jit" in name else 1)
    return times


def report(sizes: list[int], rounds: int) -> str:
    from bench.cli import machine

    times = measure(sizes, rounds)
    head = " | ".join(f"n = {n:,}" for n in sizes)
    lines = [
        "# Element loops: `k1[i] = x[i] * x[i - 1]`, the gradient wrt x",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {machine()}, {platform.platform()}, Python {platform.python_version()}",
        "- nanoseconds per element (gradient time / n), the fastest of batches; in brackets "
        "/ hand-written Numba at the same n; last column: per element at the largest n / "
        "at the smallest",
        "",
        f"| tool | {head} | growth |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    hand = times["hand Numba"]
    for name, row in times.items():
        cells = [f"{row[n] / n * 1e9:.1f} ({row[n] / hand[n]:.2f}x)" if n in row else
                 f"not run (> {TOO_LONG:.0f} s a call)" for n in sizes]
        last = max(row)
        growth = (row[last] / last) / (row[sizes[0]] / sizes[0])
        lines.append(f"| {name} | {' | '.join(cells)} | {growth:.2f}x (n = {last:,}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.element_loops", description=__doc__)
    p.add_argument("--quick", action="store_true", help="n = 10^3 and 10^4, fewer rounds")
    a = p.parse_args(argv)
    print(report([10**3, 10**4], 3) if a.quick else report([10**4, 10**5, 10**6], 7))
    return 0


if __name__ == "__main__":
    sys.exit(main())
