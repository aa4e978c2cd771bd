"""The LLVM optimization level at which Numba compiles generated functions: -O2.

Numba's default, -O3, costs generated array code far more compile time than it gives back.
Measured on the GMM workload (bench W6, Numba 0.68, one core): the first call took 102 s at
-O3 and 22 s at -O2 (15 s at -O0), and the gradient ran in 860 µs at -O3, 844 µs at -O2
(10 ms at -O0). A generated function is one long straight line of array expressions, each
lowered into its own loop nest, and -O3's extra inlining and unrolling work on all of them.

The level is Numba's process-wide ``config.OPT``, which its compiler reads each time it
builds its pass managers. It is lowered only while Numba compiles one of our functions,
under Numba's own compiler lock (so no other compilation, of ours or of the user's
``numba.njit`` code, runs at the lowered level), and restored after. A level the user set
with the ``NUMBA_OPT`` environment variable is kept as it is.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable

GENERATED_OPT = 2


def at_generated_level(compile_: Callable) -> Callable:
    """``Dispatcher.compile`` (which Numba calls for every new signature, and which loads
    from the disk cache first) run at ``GENERATED_OPT``."""

    @functools.wraps(compile_)
    def compile(sig):
        from numba.core import config
        from numba.core.compiler_lock import global_compiler_lock

        if "NUMBA_OPT" in os.environ or not isinstance(getattr(config, "OPT", None), int):
            return compile_(sig)
        with global_compiler_lock:
            saved = config.OPT
            config.OPT = type(saved)(GENERATED_OPT)
            try:
                return compile_(sig)
            finally:
                config.OPT = saved
    return compile
