"""The benchmark workloads W1-W7.

Each module defines the function as a user of ``adjoint`` would write it (``primal``), a
hand-written flat backward in NumPy (``grad_numpy``, the reference every tool is checked
against) and in Numba (``numba_impl``), and the same function for the other tools.
"""
from __future__ import annotations

import importlib

MODULES = {
    "W1": "bench.workloads.w1_sigmoid",
    "W2": "bench.workloads.w2_recurrence",
    "W3": "bench.workloads.w3_pendulum",
    "W4": "bench.workloads.w4_mlp",
    "W5": "bench.workloads.w5_deep_linear",
    "W6": "bench.workloads.w6_gmm",
    "W7": "bench.workloads.w7_lstm",
}


def load(name: str):
    return importlib.import_module(MODULES[name])
