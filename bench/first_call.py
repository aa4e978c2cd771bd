"""First-call time of ``grad(primal, jit=True)`` per workload, each in a fresh process:

- cold: an empty cache directory (the runtime helpers and the gradient are compiled);
- new function: the helpers' machine code cached (by any earlier jit=True run on this
  machine), the gradient's not: what a user waits for a function they have not run before;
- warm: everything cached, a new process (a script run again);
- background: ``jit="background"`` with an empty cache: the first call (run as Python while
  Numba compiles in a thread), and how long a loop of gradient calls runs before the calls
  are compiled, with how many gradients it got meanwhile.

    python -m bench.first_call            # full sizes, W1-W7
    python -m bench.first_call --quick    # the --quick sizes
    python -m bench.first_call --only W2,W5

"import" is importing Numba (and what it imports), which every first jit=True call of a
process pays; "first call" is what follows it: our transform, Numba's compile or load, one
gradient. Our transform's share is reported separately ("transform").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPLAINED = (
    "Each in a fresh process, after importing Numba (its own column). Cold: an empty cache "
    "directory. New function: the runtime helpers' machine code cached by an earlier run, "
    "the gradient's not. Warm: everything cached (a script run again). Transform: adjoint's "
    "own parse-to-text time, included in each. Background: jit=\"background\" with an empty "
    "cache, first call, then gradients called in a loop until the compiled code runs them "
    "(the time from the first call, and the gradients computed meanwhile, as Python).")
WORKER = r"""
import json, sys, time
t0 = time.perf_counter()
import numba  # noqa: F401 - timed on its own
t_import = time.perf_counter() - t0
import importlib
import adjoint
from bench.workloads import load

spent = {"transform": 0.0}
# the module that calls build_module (the transform, up to the generated module)
for name in ("adjoint.pipeline", "adjoint.api"):
    try:
        caller = importlib.import_module(name)
    except ImportError:
        continue
    if hasattr(caller, "build_module"):
        break
build_module = caller.build_module
def timed_build(*args, **kwargs):
    t = time.perf_counter()
    try:
        return build_module(*args, **kwargs)
    finally:
        spent["transform"] += time.perf_counter() - t
caller.build_module = timed_build
w = load(sys.argv[1])
args, wrt = w.setup(w.variants(sys.argv[2] == "quick")[0])
jit = "background" if sys.argv[3] == "background" else True
t = time.perf_counter()
try:
    g = adjoint.grad(w.primal, wrt=wrt, jit=jit)
    g(*args)
except Exception as exc:
    print(json.dumps({"error": (str(exc).splitlines() or [type(exc).__name__])[0][:160]}))
    raise SystemExit(0)
first = time.perf_counter() - t
result = {"import": t_import, "first": first, "transform": spent["transform"]}
if jit == "background":
    calls = 1
    while not g.wait_compiled(timeout=0):
        g(*args)
        calls += 1
    result.update(compiled=time.perf_counter() - t, calls=calls)
print(json.dumps(result))
"""


def run(workload: str, quick: bool, cache: str, jit: str = "True") -> dict:
    env = dict(os.environ, ADJOINT_CACHE_DIR=cache, NUMBA_CACHE_DIR=os.path.join(cache, "nb"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent),
                                                      env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", WORKER, workload,
                           "quick" if quick else "full", jit], env=env, capture_output=True,
                          text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return json.loads(lines[-1])


def forget_gradient(cache: str) -> None:
    """Keep the helpers' machine code (numba/helpers-*), drop the generated modules'."""
    for path in Path(cache).glob("adjoint_*.py"):
        path.unlink()
    for path in (Path(cache) / "numba").glob("*.nb*"):
        path.unlink()


def measure(workload: str, quick: bool) -> dict:
    cache = tempfile.mkdtemp(prefix="adjoint-first-call-")
    try:
        os.chmod(cache, 0o700)
        cold = run(workload, quick, cache)
        forget_gradient(cache)
        new = run(workload, quick, cache)
        warm = run(workload, quick, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    cache = tempfile.mkdtemp(prefix="adjoint-first-call-")
    try:
        os.chmod(cache, 0o700)
        background = run(workload, quick, cache, "background")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {"cold": cold, "new function": new, "warm": warm, "background": background}


def cell(r: dict) -> str:
    if "error" in r:
        return "fails"
    return f"{r['first']:.2f} s"


def short(error: str) -> str:
    """``Numba cannot compile `construct``` out of a JitError's first line."""
    start = error.find("Numba cannot compile")
    return error[start:].split(" (line")[0] if start >= 0 else error[:100]


def background_cells(r: dict | None) -> str:
    """The first call, and when the compiled code took over (gradients meanwhile)."""
    if r is None:
        return "- | -"  # a results file from before jit="background"
    if "error" in r:
        return "fails | "
    return f"{r['first']:.2f} s | {r['compiled']:.1f} s ({r['calls']:,} gradients)"


def table(results: dict[str, dict]) -> list[str]:
    lines = ["| workload | import Numba | cold | new function | warm | transform (ours) "
             "| background: first call | background: compiled after |",
             "|---|---|---|---|---|---|---|---|"]
    for workload, r in results.items():
        errors = [v["error"] for v in r.values() if "error" in v]
        imports = [v["import"] for v in r.values() if "import" in v]
        transform = [v["transform"] for v in r.values() if "transform" in v]
        lines.append(
            f"| {workload} | {min(imports):.2f} s | {cell(r['cold'])} | "
            f"{cell(r['new function'])} | {cell(r['warm'])} | "
            f"{min(transform):.2f} s | {background_cells(r.get('background'))} |" if imports else
            f"| {workload} | - | fails: {short(errors[0])} | | | | | |")
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.cli import machine
    from bench.workloads import MODULES

    p = argparse.ArgumentParser(prog="python -m bench.first_call", description=__doc__)
    p.add_argument("--quick", action="store_true", help="the --quick sizes")
    p.add_argument("--only", default="", help="workloads, e.g. W2,W5")
    a = p.parse_args(argv)
    chosen = [w.strip() for w in a.only.split(",") if w.strip()] or list(MODULES)
    results = {}
    for workload in chosen:
        results[workload] = measure(workload, a.quick)
        print(f"{workload}: {json.dumps(results[workload])}", file=sys.stderr, flush=True)
    print(f"First call of grad(primal, jit=True); {machine()}\n\n{EXPLAINED}\n")
    print("\n".join(table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
