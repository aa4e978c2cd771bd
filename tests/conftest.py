"""Checks that hold for every test: a gradient call never modifies its inputs."""
from __future__ import annotations

import functools
import hashlib
import sys

import numpy as np
import pytest

from adjoint.api import GradientFunction


def fingerprint(value):
    """Bytes, shape and dtype of an array or NumPy scalar, the value of a Python number,
    the fingerprints of a list's or tuple's items; None for anything else."""
    if isinstance(value, (np.ndarray, np.generic)):
        data = np.ascontiguousarray(value).tobytes()
        return value.shape, value.dtype.str, hashlib.blake2b(data, digest_size=16).digest()
    if isinstance(value, (int, float, complex)):
        return type(value), value
    if isinstance(value, (list, tuple)):
        return type(value), tuple(fingerprint(v) for v in value)
    return None


def guard_inputs(call):
    """``call`` (GradientFunction.__call__), failing if it changed any of its arguments."""
    @functools.wraps(call)
    def checked(self, *args, **kwargs):
        values = list(args) + list(kwargs.values())
        before = [fingerprint(v) for v in values]
        try:
            return call(self, *args, **kwargs)
        finally:
            changed = [k for k, (b, v) in enumerate(zip(before, values)) if fingerprint(v) != b]
            assert not changed, (f"the gradient of {self.fn.__name__} modified its "
                                 f"argument(s) {changed}")
    return checked


@pytest.fixture(autouse=True)
def gradient_calls_leave_inputs_unchanged(monkeypatch):
    """Every gradient call in every test: the generated code writes into copies, never into
    the caller's arrays."""
    monkeypatch.setattr(GradientFunction, "__call__", guard_inputs(GradientFunction.__call__))


def fuzz_lines() -> list[str]:
    """What the fuzz tests of this process did: programs run, compared, refused and why."""
    fuzz = sys.modules.get("tests.test_fuzz")
    return fuzz.STATS.lines() if fuzz else []


_FROM_WORKERS: list[str] = []


def pytest_sessionfinish(session):
    """Under pytest-xdist, a worker sends its fuzz summary to the process that reports."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_lines"] = fuzz_lines()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _FROM_WORKERS.extend(getattr(node, "workeroutput", {}).get("fuzz_lines", []))


def pytest_terminal_summary(terminalreporter):
    """What the fuzz tests did, in this process or in pytest-xdist's workers."""
    for line in fuzz_lines() + _FROM_WORKERS:
        terminalreporter.write_line(line)
