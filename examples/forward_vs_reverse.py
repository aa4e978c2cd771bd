"""Forward against reverse mode on the linear network of background.md §5.

Run it with ``python examples/forward_vs_reverse.py [--quick] [--plot PATH.png]``.
The full run saves the plot README shows, ``examples/forward_vs_reverse.png``; ``--quick``
saves it to a temporary file instead (``--plot`` or ``$ADJOINT_EXAMPLES_PLOT`` choose).

The network is z1 = W0 x, z2 = W1 z1, ..., f = 0.5 ||y - z_L||^2. Its gradient with
respect to the input x (dimension d) costs one reverse sweep, or d forward sweeps (one
Jacobian-vector product per input direction). The script first checks the exact numbers of
§5, then times the full gradient both ways for growing d and plots time against d:
forward mode grows with d, reverse mode stays flat.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _options import add_quick_option, plot_from_environment

from adjoint import grad, jacobian

PLOT_NAME = "forward_vs_reverse.png"


def network(x, W0, W1, W2, y):
    z1 = W0 @ x
    z2 = W1 @ z1
    z3 = W2 @ z2
    r = y - z3
    return 0.5 * np.sum(r * r)


def worked_example(x, W0, W1, y):
    z1 = W0 @ x
    z2 = W1 @ z1
    r = y - z2
    return 0.5 * np.sum(r * r)


def check_worked_example() -> None:
    """§5's exact numbers, by reverse and by forward mode."""
    W0 = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 1.0]])
    W1 = np.array([[-1.0, 0.0], [2.0, -1.0]])
    x, y = np.array([1.0, 0.0, -1.0]), np.array([0.0, 1.0])
    by_reverse = grad(worked_example, wrt=0)(x, W0, W1, y)
    by_forward = jacobian(worked_example, wrt=0, mode="fwd")(x, W0, W1, y)
    print(f"§5: f = {worked_example(x, W0, W1, y)}, df/dx by reverse mode = {by_reverse}, "
          f"by forward mode = {by_forward}")
    assert np.array_equal(by_reverse, [0.0, 1.0, -1.0])
    assert np.array_equal(by_forward, by_reverse)


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: the first call builds and caches the generated code
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(dims: list[int], width: int, repeats: int) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(0)
    reverse, forward = grad(network, wrt=0), jacobian(network, wrt=0, mode="fwd")
    rows = []
    for d in dims:
        W0 = rng.normal(size=(width, d)) / np.sqrt(d)
        W1, W2 = rng.normal(size=(2, width, width)) / np.sqrt(width)
        x, y = rng.normal(size=d), rng.normal(size=width)
        args = (x, W0, W1, W2, y)
        np.testing.assert_allclose(forward(*args), reverse(*args), rtol=1e-10, atol=1e-12)
        t_rev = median_time(lambda: reverse(*args), repeats)
        t_fwd = median_time(lambda: forward(*args), repeats)
        rows.append((d, t_rev, t_fwd))
        print(f"d = {d:5d}: reverse {t_rev * 1e6:9.1f} µs, forward {t_fwd * 1e6:10.1f} µs "
              f"({t_fwd / t_rev:6.1f}x)")
    return rows


def plot(rows: list[tuple[int, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(dims, [r[2] * 1e6 for r in rows], "o-", label="forward mode (d sweeps)")
    ax.loglog(dims, [r[1] * 1e6 for r in rows], "s-", label="reverse mode (one sweep)")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("time for the full gradient (µs)")
    ax.set_title("Gradient of a 3-layer linear network (width 32)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, "few sizes and repeats")
    parser.add_argument("--plot", "--out", type=Path, default=plot_from_environment(),
                        help="where to save the plot (default: examples/forward_vs_reverse.png"
                        ", or a temporary file with --quick)")
    args = parser.parse_args()
    if args.plot is None:  # quick runs never overwrite the figure README shows
        args.plot = (Path(tempfile.mkdtemp(prefix="adjoint-example-")) / PLOT_NAME
                     if args.quick else Path(__file__).with_name(PLOT_NAME))
    check_worked_example()
    dims = [2, 8, 32] if args.quick else [2, 4, 8, 16, 32, 64, 128, 256, 512]
    rows = measure(dims, width=32, repeats=3 if args.quick else 21)
    plot(rows, args.plot)
    ratio = rows[-1][2] / rows[-1][1]
    print(f"at d = {rows[-1][0]} forward mode takes {ratio:.0f}x the time of reverse mode")


if __name__ == "__main__":
    main()
