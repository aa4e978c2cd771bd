"""The runtime helpers' machine code is cached on disk and shared by every build
(cache.py): the implementations of their Numba versions, closures included, load in a new
process instead of compiling again, and running again adds nothing to the cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parent.parent

# a new function in each process (its own generated code), the same helpers
USER_MODULE = """
import numpy as np

def loss(x, w):
    h = np.tanh(x @ w) * {scale}
    top = np.max(h, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(h - top), axis=1)) + top[:, 0]) + np.sum(w * w, axis=0)[0]
"""

WORKER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba.core import compiler
    compiled = []
    original = compiler.compile_extra
    def counted(typingctx, targetctx, func, *args, **kwargs):
        compiled.append(getattr(func, "__module__", None) or "")
        return original(typingctx, targetctx, func, *args, **kwargs)
    compiler.compile_extra = counted
    sys.path.insert(0, sys.argv[1])
    import user_loss
    from adjoint import grad
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(5, 4)), rng.normal(size=(4, 3))
    jit = grad(user_loss.loss, wrt=(0, 1), jit=True)(x, w)
    plain = grad(user_loss.loss, wrt=(0, 1))(x, w)
    assert all(np.allclose(a, b, rtol=1e-10) for a, b in zip(jit, plain))
    helpers = [m for m in compiled if m.startswith("adjoint.runtime")]
    print(json.dumps({"helpers": len(helpers), "all": len(compiled)}))
""")


def run(tmp_path: Path, cache: Path, scale: float) -> dict:
    module_dir = tmp_path / f"user{scale}"
    module_dir.mkdir()
    (module_dir / "user_loss.py").write_text(USER_MODULE.format(scale=scale))
    env = dict(os.environ, ADJOINT_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", WORKER, str(module_dir)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def helper_files(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (cache / "numba").glob("helpers-*/*")}


def test_helpers_load_in_a_new_process_and_the_cache_does_not_grow(tmp_path):
    cache = tmp_path / "cache"
    first = run(tmp_path, cache, 1.0)
    assert first["helpers"] > 10  # compiled and saved
    files = helper_files(cache)
    second = run(tmp_path, cache, 2.0)
    assert second["helpers"] == 0, second  # every helper loaded from the disk cache
    assert helper_files(cache) == files
    run(tmp_path, cache, 3.0)
    assert helper_files(cache) == files


DESCRIBE = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from numba import njit
    from numba.core import types
    from adjoint.cache import stable_bytes
    if sys.argv[1] == "other order":  # Numba numbers its types in the order they are made
        types.Array(types.int32, 3, "F"), types.UniTuple(types.int64, 5)
    kind = types.Array(types.float64, 2, "C")

    @njit
    def mask(axis, ndim):
        return axis < ndim

    def impl(x):
        return mask(1, 2), kind, np.dtype("float64"), 3, frozenset({"a", "b"})
    print(hashlib.sha256(stable_bytes((impl, kind, mask, frozenset({"b", "c"})))).hexdigest())
""")


def test_closure_cells_are_described_alike_in_every_process():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    seen = {subprocess.run([sys.executable, "-c", DESCRIBE, order], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
            for order in ("this order", "other order", "this order")}
    assert len(seen) == 1, seen


def test_a_cell_with_no_stable_form_is_not_cached():
    from adjoint.cache import describable

    lock = object()

    def impl(x):
        return lock, x
    assert not describable(impl)
    assert describable(lambda x: x)
