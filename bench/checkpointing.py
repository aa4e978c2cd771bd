"""Checkpointing: the gradient of a 1,000,000-step scalar recurrence, with and without
``adjoint.checkpointed``, jit=False and jit=True: peak memory and median time.

    python -m bench.checkpointing            # n = 1,000,000; writes bench/checkpointing.md
    python -m bench.checkpointing --quick    # n = 10,000; prints the table only

Memory is the peak of one gradient call: tracemalloc for jit=False (every Python object and
NumPy buffer), the sampled growth of the resident set after ``malloc_trim(0)`` for jit=True
(Numba's lists and arrays are invisible to tracemalloc; growth under one page is noise).
"Saved floats" is what the generated code keeps at its peak, by construction: one float per
step without checkpointing, k snapshots plus one segment's n/k floats with it.
"""
from __future__ import annotations

import argparse
import datetime
import math
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import adjoint
from bench.cli import adjoint_revision, machine
from bench.worker import peak_memory, timed

OUT = Path(__file__).resolve().parent / "checkpointing.md"


def plain(x, n):
    s = 1.0
    for _ in range(n):
        s = s * 0.999999 + math.sin(x + s) * 1e-6
    return s


def checkpointed(x, n, k):
    s = 1.0
    for _ in adjoint.checkpointed(range(n), snapshots=k):
        s = s * 0.999999 + math.sin(x + s) * 1e-6
    return s


def variants(n: int) -> list[tuple[str, object, tuple, int]]:
    """(label, function, arguments, saved floats at the peak)."""
    rows = [("no checkpointing", plain, (0.5, n), n)]
    for k in sorted({100, math.isqrt(n), 10_000}):
        stride = -(-n // k)
        label = f"k = {k:,}" + (" (sqrt n)" if k == math.isqrt(n) else "")
        rows.append((label, checkpointed, (0.5, n, k), -(-n // stride) + stride))
    return rows


def measure(n: int, jit: bool, samples: int) -> list[dict]:
    results = []
    for label, fn, args, saved in variants(n):
        gradient = adjoint.grad(fn, jit=jit)
        gradient(args[0], 10, *args[2:])  # build (and compile) outside the measurements
        value = gradient(*args)
        seconds, _, _ = timed(gradient, args, budget=0, max_samples=samples,
                              min_samples=samples)
        memory = peak_memory(gradient, args, "RSS" if jit else "tracemalloc")
        results.append({"label": label, "time": seconds, "memory": memory, "saved": saved,
                        "gradient": value})
    return results


def table(results: list[dict], jit: bool) -> list[str]:
    base = results[0]
    method = "RSS growth" if jit else "tracemalloc peak"
    lines = [f"| jit={jit} | median time | vs none | {method} | vs none | saved floats |",
             "|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{base['memory'] / r['memory']:,.0f}x less" if r is not base and r[
            "memory"] > 0 else ("-" if r is base else "below a page")
        lines.append(f"| {r['label']} | {seconds(r['time'])} | "
                     f"{r['time'] / base['time']:.2f}x | {size(r['memory'])} | {ratio} | "
                     f"{r['saved']:,} |")
    same = all(abs(r["gradient"] - base["gradient"]) <= 1e-12 * abs(base["gradient"])
               for r in results)
    lines.append("")
    lines.append(f"Every gradient equals the one without checkpointing: {same} "
                 f"(d/dx = {base['gradient']:.12g}).")
    return lines


def seconds(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def size(b: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b:.0f} B"


def report(n: int, samples: int) -> str:
    lines = [
        f"# Checkpointing: {n:,}-step recurrence",
        "",
        "`s = s * 0.999999 + math.sin(x + s) * 1e-6`, gradient with respect to x, written "
        "`for i in range(n)` and `for i in adjoint.checkpointed(range(n), snapshots=k)` "
        "(uniform segments of ceil(n/k) steps). Produced by `python -m bench.checkpointing`.",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {machine()}, {platform.platform()}",
        f"- versions: Python {platform.python_version()}, NumPy {version('numpy')}, "
        f"Numba {version('numba')}, adjoint git {adjoint_revision()}",
        f"- time: median of {samples} calls after a warm-up call; memory: one more call "
        "(see the module docstring for the methods)",
        "",
    ]
    for jit in (False, True):
        lines += table(measure(n, jit, samples), jit) + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.checkpointing", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10,000 steps, table printed only")
    a = p.parse_args(argv)
    text = report(10_000 if a.quick else 1_000_000, 3 if a.quick else 7)
    print(text)
    if not a.quick:
        OUT.write_text(text)
        print(f"written to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
