"""Generated functions compile at LLVM -O2 (adjoint/jit_opt.py); Numba's own level is back
in place for everything else, and a level the user set with NUMBA_OPT is kept."""
from __future__ import annotations

import numpy as np
import pytest
from numba.core import config

from adjoint import grad
from adjoint.jit_opt import GENERATED_OPT, at_generated_level


def test_the_level_is_lowered_only_while_ours_compile(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    seen = []
    compile_ = at_generated_level(lambda sig: seen.append(int(config.OPT)) or sig)
    before = config.OPT
    assert compile_("sig") == "sig"
    assert seen == [GENERATED_OPT] and config.OPT is before


def test_an_error_while_compiling_restores_the_level(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)

    def failing(sig):
        raise RuntimeError("typing failed")
    before = config.OPT
    with pytest.raises(RuntimeError):
        at_generated_level(failing)("sig")
    assert config.OPT is before


def test_a_level_set_by_the_user_is_kept(monkeypatch):
    monkeypatch.setenv("NUMBA_OPT", "3")
    seen = []
    at_generated_level(lambda sig: seen.append(int(config.OPT)))("sig")
    assert seen == [int(config.OPT)]


def smooth(x):
    return np.sum(np.tanh(x) * x)


def test_a_compiled_gradient_is_right_and_leaves_the_level_alone(monkeypatch):
    monkeypatch.delenv("NUMBA_OPT", raising=False)
    before = config.OPT
    x = np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(grad(smooth, jit=True)(x), grad(smooth)(x), rtol=1e-12)
    assert config.OPT is before
