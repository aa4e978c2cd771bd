"""Measure one (workload, tool) in this process: ``python -m bench.worker W2 adjoint --quick``.

Imports only the tool measured. Prints one JSON line per workload variant.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import threading
import time
import tracemalloc

import numpy as np

from bench.tools import TOOLS
from bench.workloads import load


class Unavailable(Exception):
    pass


def _floats_to(args, wrt, convert, scalar):
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            out.append(convert(a, i in wrt))
        elif isinstance(a, float):
            out.append(scalar(a, i in wrt))
        else:
            out.append(a)
    return out


def build(tool, w, args, wrt):
    """(primal, gradient) for ``tool``; both take the workload's numpy arguments."""
    if tool == "adjoint":
        from adjoint import grad
        return w.primal, grad(w.primal, wrt=wrt)
    if tool == "adjoint-jit":
        from adjoint import AdjointError, grad
        try:
            g = grad(w.primal, wrt=wrt, jit=True)
        except AdjointError as exc:
            raise Unavailable(str(exc).splitlines()[0]) from None
        return w.numba_impl()[0], g
    if tool == "numpy":
        return w.primal, w.grad_numpy
    if tool == "numba":
        primal_nb, grad_nb = w.numba_impl()

        def gnb(*a):
            r = grad_nb(*a)
            return r if isinstance(r, tuple) else (r,)
        return primal_nb, gnb
    if tool == "autograd":
        import autograd
        import autograd.numpy as anp
        f = w.autograd_impl(anp)

        def packed(params, rest):
            full = list(rest)
            for i, p in zip(wrt, params):
                full[i] = p
            return f(*full)
        g = autograd.grad(packed)
        return f, lambda *a: tuple(g(tuple(a[i] for i in wrt), a))
    if tool == "torch":
        import torch
        torch.set_default_dtype(torch.float64)
        f = w.torch_impl(torch)

        def tensors(a, req):
            out = []
            for i, x in enumerate(a):
                need = req and i in wrt
                if isinstance(x, np.ndarray):
                    x = torch.from_numpy(x)
                    out.append(x.requires_grad_() if need else x)
                elif isinstance(x, float):
                    out.append(torch.tensor(x, dtype=torch.float64, requires_grad=need))
                else:
                    out.append(x)
            return out

        def tgrad(*a):
            ts = tensors(a, True)
            out = f(*ts)
            out.backward()
            return tuple(ts[i].grad.numpy() if ts[i].dim() else ts[i].grad.item() for i in wrt)

        def tprimal(*a):
            with torch.no_grad():
                return f(*tensors(a, False))
        return tprimal, tgrad
    if tool.startswith("jax"):
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        if tool == "jax-fori":
            if not hasattr(w, "jax_fori_impl"):
                raise Unavailable("no lax.fori_loop rewrite for this workload")
            f = w.jax_fori_impl()
        else:
            f = w.jax_impl(jnp)
        # Python numbers that are not differentiated (step counts, constants) are static
        static = tuple(i for i, a in enumerate(args)
                       if isinstance(a, (int, float)) and i not in wrt)
        gf = jax.grad(f, argnums=wrt)
        pf = f
        if tool != "jax":
            gf = jax.jit(gf, static_argnums=static)
            pf = jax.jit(f, static_argnums=static)

        def conv(a):
            return [jnp.asarray(x) if isinstance(x, np.ndarray) else x for x in a]

        def jgrad(*a):
            return jax.block_until_ready(gf(*a))

        def jprimal(*a):
            return jax.block_until_ready(pf(*a))
        return (jprimal, jgrad, conv)
    raise ValueError(tool)


def rel_error(got, ref):
    worst = 0.0
    for g, r in zip(got, ref):
        g = np.asarray(g, dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if g.shape != r.shape:
            return float("inf")
        worst = max(worst, float(np.linalg.norm(g - r) / max(np.linalg.norm(r), 1e-300)))
    return worst


def timed(fn, args, budget, max_samples, min_samples=3):
    """Median seconds per call: batches of >= 1 ms, as many as fit in ``budget`` (at least
    ``min_samples``), after one warm-up call."""
    t0 = time.perf_counter()
    fn(*args)
    one = time.perf_counter() - t0
    number = max(1, int(1e-3 / max(one, 1e-9)))
    samples = []
    start = time.perf_counter()
    while len(samples) < min_samples or (time.perf_counter() - start < budget
                                         and len(samples) < max_samples):
        t0 = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples), len(samples), number


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(fn, args, method):
    if method == "tracemalloc":
        tracemalloc.start()
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.0002)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    fn(*args)
    peak[0] = max(peak[0], _rss())
    done.set()
    th.join()
    return peak[0] - base


def run(workload, tool, quick, threads_one):
    w = load(workload)
    if threads_one and tool == "torch":
        import torch
        torch.set_num_threads(1)
    for variant in w.variants(quick):
        res = {"workload": workload, "variant": variant, "tool": tool}
        args, wrt = w.setup(variant)
        ref = w.grad_numpy(*args)
        try:
            built = build(tool, w, args, wrt)
        except Unavailable as exc:
            res["status"] = f"unavailable: {exc}"
            print(json.dumps(res), flush=True)
            continue
        primal, gradient = built[0], built[1]
        targs = built[2](args) if len(built) > 2 else args
        try:
            t0 = time.perf_counter()
            got = gradient(*targs)
            res["first_call"] = time.perf_counter() - t0
        except Exception as exc:
            from_adjoint = type(exc).__module__.startswith("adjoint")
            kind = "unsupported" if from_adjoint else "error"
            first = (str(exc).splitlines() or [""])[0]
            res["status"] = f"{kind}: {type(exc).__name__}: {first}"[:300]
            print(json.dumps(res), flush=True)
            continue
        if not isinstance(got, tuple):
            got = (got,)
        err = rel_error(got, ref)
        res["rel_error"] = err
        if not err < 1e-6:
            res["status"] = f"mismatch: rel. error {err:.1e}"
            print(json.dumps(res), flush=True)
            continue
        budget, max_samples, least = (0.2, 11, 1) if quick else (1.0, 31, 3)
        try:
            t0 = time.perf_counter()
            primal(*targs)
            res["primal_first_call"] = time.perf_counter() - t0
            res["grad"], res["samples"], res["number"] = timed(gradient, targs, budget,
                                                               max_samples, least)
            res["primal"], _, _ = timed(primal, targs, budget / 2, max_samples, least)
            if w.MEMORY:
                method = TOOLS[tool][2]
                res["memory"] = peak_memory(gradient, targs, method)
                res["memory_method"] = method
            res["status"] = "ok"
        except Exception as exc:
            res["status"] = f"error: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        print(json.dumps(res), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("tool")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--one-thread", action="store_true")
    a = p.parse_args(argv)
    run(a.workload, a.tool, a.quick, a.one_thread)


if __name__ == "__main__":
    sys.exit(main())
