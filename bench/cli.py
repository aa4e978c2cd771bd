"""``python -m bench``: run every (workload, tool) in its own subprocess, print the tables,
write bench/results.md and bench/results.png."""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.tools import TOOLS, missing
from bench.workloads import MODULES, load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}
COMMON_ENV = {"JAX_PLATFORMS": "cpu", "JAX_ENABLE_X64": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
ALLOCATOR_VARS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX",
                  "LD_PRELOAD")
CONFIGS = {"1thread": "1 thread", "default": "default threads"}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, one-thread only")
    p.add_argument("--only", default="", help="workloads, e.g. W2,W4")
    p.add_argument("--tools", default="", help="tools, e.g. adjoint,autograd; all: "
                   + ",".join(TOOLS))
    p.add_argument("--configs", default="", help="1thread,default (default: both; "
                   "--quick: 1thread)")
    p.add_argument("--timeout", type=float, default=0, help="seconds per subprocess")
    p.add_argument("--render", default="", help="rewrite the tables from a results .json "
                   "of an earlier run (no measuring)")
    p.add_argument("--out", default="", help="default bench/results.md "
                   "(--quick: bench/results-quick.md); the plot goes next to it as .png")
    return p.parse_args(argv)


def _split(text, allowed, what):
    items = [s.strip() for s in text.split(",") if s.strip()] or list(allowed)
    bad = [s for s in items if s not in allowed]
    if bad:
        raise SystemExit(f"python -m bench: error: unknown {what} {', '.join(bad)}; "
                         f"choose among {', '.join(allowed)}")
    return items


def subprocess_env(config):
    env = dict(os.environ)
    env.update(COMMON_ENV)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if config == "1thread":
        env.update(ONE_THREAD_ENV)
    return env


def pinning(config):
    if config == "1thread" and shutil.which("taskset"):
        return ["taskset", "-c", "0"]
    return []


def adjoint_revision():
    """The git revision of the adjoint package measured, "+modified" for local changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "adjoint"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("+modified" if dirty else "")


def run_one(workload, tool, config, quick, timeout):
    w = load(workload)
    base = {"workload": workload, "tool": tool, "config": config}
    if tool.startswith("adjoint"):
        base["adjoint_rev"] = adjoint_revision()
    variants = w.variants(quick)
    gone = missing(tool)
    if gone:
        return [dict(base, variant=v, status=f"missing ({gone} not installed)")
                for v in variants]
    cmd = pinning(config) + [sys.executable, "-m", "bench.worker", workload, tool]
    cmd += ["--quick"] * quick + ["--one-thread"] * (config == "1thread")
    env = subprocess_env(config)
    cold = tempfile.TemporaryDirectory(prefix="adjoint-bench-")
    env["ADJOINT_CACHE_DIR"] = cold.name  # jit=True: first call compiles, no disk-cache hit
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err, code = f"timeout (> {timeout:.0f} s)", None
    finally:
        cold.cleanup()
    results = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            results[r["variant"]] = dict(base, **r)
    for v in variants:
        if v not in results:
            last = err.strip().splitlines()[-1] if err.strip() else f"exit status {code}"
            status = last if code is None else f"error: {last}"
            results[v] = dict(base, variant=v, status=status[:200])
    return [results[v] for v in variants]


def progress(text, final=False):
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- formatting


def fmt_time(t):
    if t is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t * 1e9:.3g} ns"


def fmt_bytes(n):
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


PATH = re.compile(r"(?:/[^\s:/]+)+/([^\s:/]+\.py)")


def short_status(r):
    """The status for a table cell: paths cut to file names, the reason kept short."""
    s = PATH.sub(r"\1", r.get("status", "?"))
    s = re.sub(r"JitError: \S+ Numba cannot compile `([^`]*)`.*", r"Numba cannot compile `\1`", s)
    s = s.replace("|", "/")
    return s if len(s) <= 90 else s[:87] + "..."


def notes(results):
    """Every distinct non-ok status in full, once."""
    seen = {}
    for r in results:
        st = r.get("status", "?")
        if st != "ok" and not st.startswith("missing") and st not in seen:
            seen[st] = f"{r['workload']} {TOOLS[r['tool']][0]} ({CONFIGS[r['config']]})"
    if not seen:
        return ""
    lines = ["## Notes: failures in full", ""]
    lines += ["- " + where + ": " + PATH.sub(r"\1", st) for st, where in seen.items()]
    return "\n".join(lines) + "\n"


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"
            for row in rows]
    return "\n".join([line, sep] + body)


def index(results):
    return {(r["config"], r["workload"], r["variant"], r["tool"]): r for r in results}


def ref_tool(workload):
    return load(workload).REFERENCE


def report_tables(results, workloads, tools, configs, quick):
    idx = index(results)
    out = []
    for config in configs:
        rows_t, rows_p, rows_f, rows_m = [], [], [], []
        for wl in workloads:
            w = load(wl)
            for v in w.variants(quick):
                ref = idx.get((config, wl, v, w.REFERENCE))
                ref_t = ref.get("grad") if ref else None
                name = f"{wl} {v}"
                cells_t, cells_p, cells_f, cells_m = [name], [name], [name], [name]
                for tool in tools:
                    r = idx.get((config, wl, v, tool))
                    if r is None:
                        cells_t.append("—")
                        cells_p.append("—")
                        cells_f.append("—")
                        cells_m.append("—")
                        continue
                    if r.get("status") != "ok":
                        cells_t.append(short_status(r))
                        cells_p.append("—")
                        cells_f.append(fmt_time(r.get("first_call")) if "first_call" in r
                                       and r.get("status", "").startswith("mismatch") else "—")
                        cells_m.append("—")
                        continue
                    ratio = f" ({r['grad'] / ref_t:.2g}x)" if ref_t else ""
                    cells_t.append(fmt_time(r["grad"]) + ratio)
                    cells_p.append(f"{r['grad'] / r['primal']:.3g}")
                    cells_f.append(fmt_time(r["first_call"]))
                    if "memory" in r:
                        kind = "tm" if r["memory_method"] == "tracemalloc" else "RSS"
                        cells_m.append(f"{fmt_bytes(r['memory'])} ({kind})")
                    else:
                        cells_m.append("—")
                rows_t.append(cells_t)
                rows_p.append(cells_p)
                rows_f.append(cells_f)
                if w.MEMORY:
                    rows_m.append(cells_m)
        headers = ["workload"] + [TOOLS[t][0] for t in tools]
        label = CONFIGS[config]
        out.append(f"### Gradient time, median ({label}); in brackets: / hand-written "
                   "reference (Numba for W1-W3, NumPy for W4-W7)\n")
        out.append(table(headers, rows_t))
        out.append(f"\n### Gradient time / the tool's own primal time ({label})\n")
        out.append(table(headers, rows_p))
        out.append(f"\n### First call: transform + compile + one gradient ({label})\n")
        out.append(table(headers, rows_f))
        if rows_m:
            out.append(f"\n### Peak memory of one gradient call ({label}); tm = tracemalloc "
                       "(Python allocations incl. NumPy), RSS = sampled resident-set growth "
                       "after malloc_trim\n")
            out.append(table(headers, rows_m))
        out.append("")
    return "\n".join(out)


def targets(results, configs, quick, tools):
    """The issue's targets, each as a row with the measured ratio (for the tools run)."""
    idx = index(results)
    rows = []

    def t(config, wl, v, tool):
        r = idx.get((config, wl, v, tool))
        return r.get("grad") if r and r.get("status") == "ok" else None

    def status(config, wl, v, tool):
        r = idx.get((config, wl, v, tool))
        return short_status(r) if r else "not run"

    def ratio_row(config, target, wl, v, tool, other, limit):
        if tool not in tools or other not in tools or (config, wl, v, tool) not in idx:
            return
        a, b = t(config, wl, v, tool), t(config, wl, v, other)
        if a is None or b is None:
            why = status(config, wl, v, tool) if a is None else status(config, wl, v, other)
            rows.append([CONFIGS[config], target, f"{wl} {v}", "—", f"n/a ({why})"])
            return
        ok = "PASS" if a / b <= limit else "FAIL"
        rows.append([CONFIGS[config], target, f"{wl} {v}", f"{a / b:.2f}", ok])

    for config in configs:
        for wl in MODULES:
            w = load(wl)
            for v in w.variants(quick):
                ratio_row(config, "adjoint / hand NumPy <= 1.5", wl, v, "adjoint", "numpy", 1.5)
        for wl in ("W1", "W2", "W3", "W4", "W5"):
            vs = load(wl).variants(quick)[:1]  # W4: batch 64
            for v in vs:
                for other in ("autograd", "torch"):
                    ratio_row(config, f"adjoint / {other} < 1", wl, v, "adjoint", other, 0.999)
        for wl in ("W1", "W2", "W3", "W5"):
            for v in load(wl).variants(quick):
                ratio_row(config, "adjoint jit / hand Numba <= 1.2", wl, v, "adjoint-jit",
                          "numba", 1.2)
        for wl in ("W2", "W3", "W5"):
            for v in load(wl).variants(quick):
                for tool in ("adjoint-jit", "jax-jit", "jax-fori"):
                    if tool not in tools or (config, wl, v, tool) not in idx:
                        continue
                    r = idx.get((config, wl, v, tool))
                    if r and "first_call" in r:
                        val = f"{r['first_call']:.3g} s"
                    else:
                        val = short_status(r) if r else "not run"
                    rows.append([CONFIGS[config], f"first call (s), {TOOLS[tool][0]}",
                                 f"{wl} {v}", val, "info"])
    return table(["config", "target", "workload", "ratio / value", "result"], rows)


def versions():
    out = {"python": platform.python_version()}
    for dist in ("adjoint", "numpy", "scipy", "numba", "autograd", "torch", "jax", "jaxlib",
                 "matplotlib"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["adjoint"] += f" (git {adjoint_revision()} at the start)"
    return out


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, load average before the run {load_avg}"


def header(configs, quick, elapsed=None):
    v = versions()
    alloc = ", ".join(f"{k}={os.environ[k]}" for k in ALLOCATOR_VARS if k in os.environ)
    lines = [
        f"# adjoint benchmark results{' (--quick)' if quick else ''}",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {machine()}, {platform.platform()}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- one-thread configuration: " + " ".join(f"{k}={val}" for k, val in
                                                  ONE_THREAD_ENV.items())
        + ", torch.set_num_threads(1)"
        + (", pinned with `taskset -c 0`" if shutil.which("taskset") else ", no taskset"),
        "- default configuration: the environment as inherited (no thread variables set)",
        "- every subprocess: " + " ".join(f"{k}={val}" for k, val in COMMON_ENV.items())
        + ", ADJOINT_CACHE_DIR=<a fresh empty directory> (jit=True first calls compile)",
        "- allocator: " + (alloc or "glibc defaults (no MALLOC_* variables, no LD_PRELOAD)")
        + ", identical for every subprocess; adjoint's own processes (Python and jit=True) "
        "then set glibc's mmap and trim thresholds to 32 and 64 MiB when they build the "
        "first gradient, as adjoint does for its users (adjoint/allocator.py; "
        "ADJOINT_TUNE_MALLOC=0 turns it off)",
        f"- OPENBLAS_CORETYPE: {os.environ.get('OPENBLAS_CORETYPE', 'not set')}",
        f"- configurations run: {', '.join(CONFIGS[c] for c in configs)}",
        "- method: each (workload, tool, configuration) in a fresh subprocess importing only "
        "that tool; gradients checked against the hand-written NumPy backward (relative "
        "error < 1e-6) before timing; medians over batches of >= 1 ms after a warm-up call",
    ]
    if elapsed is not None:
        lines.append(f"- wall time of the run: {elapsed:.0f} s")
    return "\n".join(lines) + "\n"


def plot(results, workloads, tools, configs, quick, path):
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no plot (pip install -e '.[bench]')")
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = index(results)
    names = [(wl, v) for wl in workloads for v in load(wl).variants(quick)]
    fig, axes = plt.subplots(len(configs), 1, figsize=(max(8, 1.6 * len(names)),
                                                       4.5 * len(configs)), squeeze=False)
    width = 0.8 / max(1, len(tools))
    for ax, config in zip(axes[:, 0], configs):
        for k, tool in enumerate(tools):
            xs, ys = [], []
            for i, (wl, v) in enumerate(names):
                r = idx.get((config, wl, v, tool))
                if r and r.get("status") == "ok":
                    xs.append(i + (k - len(tools) / 2 + 0.5) * width)
                    ys.append(r["grad"])
            ax.bar(xs, ys, width, label=TOOLS[tool][0])
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([f"{wl}\n{v}" for wl, v in names], fontsize=8)
        ax.set_ylabel("gradient time (s, log)")
        ax.set_title(f"median gradient time, {CONFIGS[config]}")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    a = parse_args(argv)
    workloads = _split(a.only, list(MODULES), "workload")
    tools = _split(a.tools, list(TOOLS), "tool")
    configs = _split(a.configs or ("1thread" if a.quick else "1thread,default"), list(CONFIGS),
                     "configuration")
    timeout = a.timeout or (60 if a.quick else 300)
    out = Path(a.out or HERE / ("results-quick.md" if a.quick else "results.md"))
    png = out.with_suffix(".png")
    if a.render:
        return render(a, out, png)
    jobs = [(c, wl, t) for c in configs for wl in workloads for t in tools
            if t != "jax-fori" or hasattr(load(wl), "jax_fori_impl")]
    start = time.perf_counter()
    head = header(configs, a.quick)
    results = []
    for n, (config, wl, tool) in enumerate(jobs, 1):
        progress(f"[{n:3d}/{len(jobs)}] {CONFIGS[config]:16s} {wl} {TOOLS[tool][0]} ...")
        t0 = time.perf_counter()
        rs = run_one(wl, tool, config, a.quick, timeout)
        results.extend(rs)
        states = ", ".join(r["status"] if r["status"] != "ok" else fmt_time(r["grad"])
                           for r in rs)
        progress(f"[{n:3d}/{len(jobs)}] {CONFIGS[config]:16s} {wl} {TOOLS[tool][0]}: "
                 f"{states[:80]} ({time.perf_counter() - t0:.1f} s)", final=True)
    first_calls = measure_first_calls(workloads, tools, a.quick)
    elapsed = time.perf_counter() - start
    revs = sorted({r["adjoint_rev"] for r in results if "adjoint_rev" in r})
    head = head.replace("- configurations run", f"- wall time of the run: {elapsed:.0f} s\n"
                        f"- adjoint revisions measured: {', '.join(revs) or 'none'}"
                        + (" (adjoint changed during the run: see results.json per row)"
                           if len(revs) > 1 else "") + "\n- configurations run", 1)
    return write(head, results, workloads, tools, configs, a.quick, out, png, first_calls)


def measure_first_calls(workloads, tools, quick):
    """jit=True's first call per workload: cold, new function, warm (bench/first_call.py)."""
    from bench import first_call

    if "adjoint-jit" not in tools or missing("adjoint-jit"):
        return {}
    found = {}
    for n, wl in enumerate(workloads, 1):
        progress(f"[{n:3d}/{len(workloads)}] first call of adjoint jit=True, {wl} ...")
        found[wl] = first_call.measure(wl, quick)
        progress(f"[{n:3d}/{len(workloads)}] first call of adjoint jit=True, {wl}: "
                 + ", ".join(f"{k} {first_call.cell(v)}" for k, v in found[wl].items()),
                 final=True)
    return found


def render(a, out, png):
    data = json.loads(Path(a.render).read_text())
    if isinstance(data, list):  # an older file without its header: keep the .md's header
        old = out.read_text() if out.exists() else ""
        data = {"header": old.split("\n## Results")[0] + "\n", "quick": a.quick,
                "results": data}
    results = data["results"]
    workloads = [w for w in MODULES if any(r["workload"] == w for r in results)]
    tools = [t for t in TOOLS if any(r["tool"] == t for r in results)]
    configs = [c for c in CONFIGS if any(r["config"] == c for r in results)]
    return write(data["header"], results, workloads, tools, configs, data["quick"], out, png,
                 data.get("first_calls", {}))


def write(head, results, workloads, tools, configs, quick, out, png, first_calls=None):
    from bench import first_call

    body = report_tables(results, workloads, tools, configs, quick)
    if first_calls:
        body += ("\n### First call of adjoint jit=True: cold, new function, warm; "
                 "jit=\"background\"\n\n"
                 + first_call.EXPLAINED + "\n\n" + "\n".join(first_call.table(first_calls))
                 + "\n")
    goals = ("## Targets\n\nadjoint (Python) within 1.5x of hand-written NumPy everywhere and "
             "ahead of autograd and PyTorch on W1-W5 (W4 at batch 64); adjoint jit=True within "
             "1.2x of hand-written Numba on W1-W3 and W5; first-call time of jit=True against "
             "JAX unrolling the same plain loops.\n\n" + targets(results, configs, quick, tools))
    text = head + "\n## Results\n\n" + body + "\n" + goals + "\n\n" + notes(results)
    print(text)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(
        {"header": head, "quick": quick, "results": results,
         "first_calls": first_calls or {}}, indent=1))
    if plot(results, workloads, tools, configs, quick, png):
        print(f"wrote {out} and {png}")
    else:
        print(f"wrote {out}")
    return 0
