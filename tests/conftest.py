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


def pytest_terminal_summary(terminalreporter):
    """What the fuzz tests did: programs run, compared, refused by jit=True and why."""
    fuzz = sys.modules.get("tests.test_fuzz")
    for line in fuzz.STATS.lines() if fuzz else []:
        terminalreporter.write_line(line)
