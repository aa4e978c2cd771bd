"""glibc's malloc keeps the memory a gradient frees for its next call (allocator.py): the
arrays of the next call are not new pages faulted in one by one."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adjoint import allocator

glibc = pytest.mark.skipif(allocator._glibc_mallopt() is None, reason="glibc's malloc only")

# three 8 MB arrays at once, freed, ten times over: the page faults of the last nine
ROUNDS = """
import resource, sys
import numpy as np
{setup}
def round_():
    a, b, c = np.ones(10**6), np.ones(10**6), np.ones(10**6)
    return float(a[0] + b[0] + c[0])
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

BUILD = f"""
from adjoint import grad
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_allocator import square
grad(square)(3.0)  # the first gradient built sets the thresholds
"""


def square(x):
    return x * x

PAGES = 3 * 8 * 10**6 // os.sysconf("SC_PAGE_SIZE")  # of one round


def faults(setup: str, **env) -> int:
    environ = {k: v for k, v in os.environ.items()
               if k not in allocator.USER_SETTINGS + ("ADJOINT_TUNE_MALLOC",)}
    done = subprocess.run([sys.executable, "-c", ROUNDS.replace('{setup}', setup)],
                          env={**environ, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@glibc
def test_after_a_gradient_is_built_freed_arrays_are_reused_without_page_faults():
    assert faults("") > PAGES  # glibc's defaults: its heap is trimmed after every round
    assert faults(BUILD) < PAGES // 10


@glibc
@pytest.mark.parametrize("env", [{"ADJOINT_TUNE_MALLOC": "0"},
                                 {"MALLOC_TRIM_THRESHOLD_": "131072"}])
def test_left_alone_when_asked_or_when_the_user_chose(env):
    assert faults(BUILD, **env) > PAGES


def test_set_once_and_never_without_glibc_or_against_the_users_tunables(monkeypatch):
    for name in allocator.USER_SETTINGS + ("ADJOINT_TUNE_MALLOC",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: None)
    assert not allocator.keep_freed_memory()  # another C library: nothing to set
    calls = []
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: lambda *a: calls.append(a) or 1)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=512")
    assert allocator.keep_freed_memory()
    assert calls == [(allocator.M_MMAP_THRESHOLD, 32 << 20),
                     (allocator.M_TRIM_THRESHOLD, 64 << 20)]
    assert not allocator.keep_freed_memory() and len(calls) == 2  # once
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000")
    assert not allocator.keep_freed_memory() and len(calls) == 2  # the user's tunables
