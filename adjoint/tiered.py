"""jit="background": the generated code runs as Python while Numba compiles it in a thread.

Numba compiles a generated adjoint of array code in seconds to tens of seconds (the
adjoint of a 60-statement GMM objective: 16-28 s; see README, "First call"), and hand-written
Numba of the same workloads takes 2-6 s: LLVM at -O3 on every loop nest NumPy's semantics
need. A user who asks for compiled gradients does not have to wait for them. With
``jit="background"`` the first call with new argument types starts that compilation in a
daemon thread and returns the gradient computed by the same generated text run as Python
(the jit=False machinery); every call after it does the same until the machine code is
there, then runs it. Both tiers run one text, so they agree to rounding.

If Numba refuses the code, the calls go on in Python and one ``JitWarning`` per argument
types says why, with the user's file and line (the JitError jit=True would raise): the
answers are right either way, only the speed differs; ``warnings.simplefilter("error",
JitWarning)`` makes it an error. ``wait_compiled()`` on the gradient function waits for
the machine code (benchmarks, tests, a script that wants to time the compiled code).

The thread holds Python's lock while Numba types the code, and lets it go in each of
llvmlite's calls into LLVM. Taking it back waited for Python's switch interval (5 ms) each
time while the calls ran Python: an LSTM's adjoint (W7) compiled in 124 s instead of 14.
While any compilation runs the interval is 0.1 ms, and each call made meanwhile yields the
lock once: 25 s, the calls 1.3x slower meanwhile. A fork waits for the compilation in
progress (a child inheriting Numba's compiler lock held by a thread it does not have would
wait for ever at its first compile).
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Literal

from .errors import AdjointError, ArgumentError, JitWarning

# jit=False: Python; True: Numba, compiled at the first call; "background": see above
JitMode = bool | Literal["background"]

ALL = "every call"  # the key of all calls when Numba refused the text before compiling


class Tiered:
    """The generated function as Python until Numba has compiled it for the arguments'
    types, then Numba's. ``generation`` counts finished compilations: a fast path made
    while a compilation was pending checks it, and is made again when it changes."""

    def __init__(self, jitted, python: Callable, refused: Exception | None = None):
        self.jitted = jitted  # jit.JitFunction; None when Numba refused the text outright
        self.python = python
        self.generation = 0
        self._compiled: set = set()
        self._pending: dict = {}
        # by key: the error Numba's compilation raised, None once warned about
        self._failed: dict = {} if refused is None else {ALL: refused}
        self._lock = threading.Lock()
        _COMPILATIONS.tiers.add(self)

    @property
    def py_func(self) -> Callable:
        """The function whose signature the calls are made with."""
        return self.python if self.jitted is None else self.jitted.dispatcher.py_func

    def key(self, args: tuple, kwargs: dict) -> tuple:
        """What Numba compiles for: the Numba types of the arguments, by name for keywords
        (a stand-in for the signature, in one-to-one correspondence with it)."""
        if self.jitted is None:
            return ALL
        typeof = self.jitted.dispatcher.typeof_pyval
        return (tuple(map(typeof, args)),
                tuple(sorted((k, typeof(v)) for k, v in kwargs.items())))

    def compiled_for(self, args: tuple, kwargs: dict | None = None) -> bool:
        return self.key(args, kwargs or {}) in self._compiled

    def __call__(self, *args, **kwargs):
        key = self.key(args, kwargs)
        if key in self._compiled:
            return self.jitted(*args, **kwargs)
        self._start(key, args, kwargs)
        error = self._failed.get(key)
        if error is not None:
            self._failed[key] = None  # one warning per argument types
            what = str(error) if isinstance(error, AdjointError) else (
                f"Numba failed to compile the generated code: {type(error).__name__}: {error}")
            warnings.warn(JitWarning(f"{what}\n(jit='background': these calls run as Python)"),
                          stacklevel=3)
        if self._pending:
            time.sleep(0)  # let the compiling thread take Python's lock (see above)
        return self.python(*args, **kwargs)

    def _start(self, key: tuple, args: tuple, kwargs: dict) -> None:
        with self._lock:
            running = self._pending.get(key)
            # (a thread is not alive in a process forked while it ran: start it again)
            if (running is not None and running.is_alive()) or key in self._failed:
                return
            _COMPILATIONS.watch_forks()
            thread = threading.Thread(target=self._compile, args=(key, args, kwargs),
                                      name="adjoint jit compile", daemon=True)
            self._pending[key] = thread
        try:
            thread.start()
        except RuntimeError as exc:  # no new thread (the interpreter is shutting down)
            with self._lock:
                self._pending.pop(key, None)
                self._failed[key] = exc

    def _compile(self, key: tuple, args: tuple, kwargs: dict) -> None:
        _COMPILATIONS.enter()
        try:
            self.jitted.compile_for(args, kwargs)
        except Exception as exc:  # noqa: BLE001 - the Python tier goes on, and says why
            self._failed[key] = exc
        else:
            self._compiled.add(key)
        finally:
            _COMPILATIONS.leave()
            with self._lock:
                self._pending.pop(key, None)
                self.generation += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the compilations started so far; whether none is still running."""
        with self._lock:
            threads = list(self._pending.values())
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)


FORK_WAIT = 600.0  # seconds a fork waits for a background compilation to finish


class _Compilations:
    """What holds while any background compilation runs: Python's thread switch interval
    is shorter (restored after the last, unless changed meanwhile); and a fork waits for
    the compilation in progress, so the child does not inherit Numba's compiler lock held
    by a thread it does not have (every compile in the child would wait for ever)."""

    def __init__(self, seconds: float):
        self.seconds, self.saved, self.ours, self.active = seconds, None, None, 0
        self.lock = threading.Lock()
        self.tiers: weakref.WeakSet = weakref.WeakSet()  # their locks, new in a child
        self.holding = False
        self.watching = False

    def enter(self) -> None:
        with self.lock:
            if self.active == 0:
                self.saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self.saved, self.seconds))
                self.ours = sys.getswitchinterval()  # (rounded to microseconds)
            self.active += 1

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0 and sys.getswitchinterval() == self.ours:
                sys.setswitchinterval(self.saved)

    def before_fork(self) -> None:
        if self.active:
            from numba.core.compiler_lock import global_compiler_lock

            # until the compilation in progress is done (bounded: a lock another hook
            # took before ours, which the compilation needs, would make it wait for ever)
            self.holding = global_compiler_lock._lock.acquire(timeout=FORK_WAIT)

    def after_fork_in_parent(self) -> None:
        self._release()

    def after_fork_in_child(self) -> None:
        """No compilation runs in the child (the calls start theirs again): Python's own
        interval, and locks no thread of the child holds."""
        self._release()
        self.lock = threading.Lock()
        for tier in list(self.tiers):
            tier._lock = threading.Lock()
        if self.active:
            self.active = 0
            sys.setswitchinterval(self.saved)

    def _release(self) -> None:
        if self.holding:
            from numba.core.compiler_lock import global_compiler_lock

            self.holding = False
            global_compiler_lock._lock.release()


    def watch_forks(self) -> None:
        """Registered at the first compilation, after the libraries imported until then:
        the hooks registered last run first before a fork, so ours does not wait while
        holding one of theirs (logging's lock, which the compiling thread may need)."""
        with self.lock:
            if self.watching or not hasattr(os, "register_at_fork"):
                return
            self.watching = True
        # the hooks of modules a compilation imports would be registered after ours
        import concurrent.futures.thread  # noqa: F401
        import logging  # noqa: F401

        os.register_at_fork(before=self.before_fork, after_in_parent=self.after_fork_in_parent,
                            after_in_child=self.after_fork_in_child)


_COMPILATIONS = _Compilations(1e-4)


def check_mode(jit, where) -> None:
    """Raise ArgumentError unless jit is False, True or "background"."""
    if not (jit is True or jit is False or (isinstance(jit, str) and jit == "background")):
        raise ArgumentError(f"jit={jit!r} is not a choice", where,
                            'pass jit=False, jit=True or jit="background"')
