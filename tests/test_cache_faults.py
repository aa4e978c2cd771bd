"""Issue 18: the jit=True disk cache survives faults, and builds do not keep the user's
function or its data alive.

Each fault is made in the test, in a private temporary ADJOINT_CACHE_DIR: a read-only or a
full directory, truncated or garbled Numba files, a generated file that is not UTF-8, a
directory others can write to (with a crafted pickle in it). Every one must give the right
gradient, at most one CacheWarning, no temporary files left behind, and a working next run.
"""
from __future__ import annotations

import errno
import gc
import os
import pickle
import stat
import tempfile
import warnings
import weakref

import numba
import numpy as np
import pytest

from adjoint import cache, grad, pipeline
from adjoint.errors import CacheWarning

ROOT_CAN_WRITE_ANYWHERE = hasattr(os, "getuid") and os.getuid() == 0


def loss(x):
    return np.sum(np.sin(x) * x)


X = np.array([0.3, -1.2, 2.0])
EXPECTED = np.sin(X) + X * np.cos(X)


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """A fresh private cache directory, a fresh warning, and no build of ``loss`` kept."""
    root = tmp_path / "cache"
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(root))
    monkeypatch.setattr(cache, "_warned", False)
    pipeline._CACHE.pop(loss, None)
    yield root
    pipeline._CACHE.pop(loss, None)
    for path in [root, *root.rglob("*")]:  # let pytest clean up what the test locked
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)


def fresh_gradient():
    """A new build of ``loss`` (a new dispatcher, which reads Numba's disk cache)."""
    pipeline._CACHE.pop(loss, None)
    return grad(loss, jit=True)


def run(expect_warning: bool | None = None):
    """The gradient, checked, and the CacheWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = fresh_gradient()
        np.testing.assert_allclose(g(X), EXPECTED, rtol=1e-12)
    found = [w for w in caught if issubclass(w.category, CacheWarning)]
    if expect_warning is not None:
        assert bool(found) == expect_warning, [str(w.message) for w in found]
    assert len(found) <= 1
    return g, found


def cache_hits(g) -> int:
    return sum(g._last.function.dispatcher.stats.cache_hits.values())


def numba_files(root, suffix):
    return sorted((root / "numba").glob(f"*{suffix}"))


def strays(root):
    return [p for p in root.rglob("*") if ".tmp" in p.name]


def test_a_healthy_cache_is_private_and_loads(cache_root):
    run(expect_warning=False)
    assert stat.S_IMODE(cache_root.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache_root / "numba").stat().st_mode) == 0o700
    assert numba_files(cache_root, ".nbi") and numba_files(cache_root, ".nbc")
    g, _ = run(expect_warning=False)
    assert cache_hits(g) == 1


@pytest.mark.skipif(ROOT_CAN_WRITE_ANYWHERE, reason="root ignores file modes")
def test_a_read_only_cache_directory(cache_root):
    cache_root.mkdir(mode=0o700)
    cache_root.chmod(0o500)
    before = set(os.listdir(tempfile.gettempdir()))
    _, found = run(expect_warning=True)
    assert "cannot write to the cache directory" in str(found[0].message)
    run(expect_warning=False)  # once per process
    assert list(cache_root.iterdir()) == []
    assert set(os.listdir(tempfile.gettempdir())) <= before  # no temporary directories


def test_a_read_only_file_system(cache_root, monkeypatch):
    """What root sees on a read-only mount (file modes do not stop root)."""
    from numba.core import caching

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    cache_root.mkdir(mode=0o700)
    monkeypatch.setattr(cache.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(caching.IndexDataCacheFile, "_open_for_write", read_only)
    _, found = run(expect_warning=True)
    assert "Read-only file system" in str(found[0].message)
    run(expect_warning=False)
    assert list(cache_root.rglob("*.py")) == [] and list(cache_root.rglob("*.nb*")) == []


def test_a_cache_path_under_a_file(tmp_path, cache_root, monkeypatch):
    """A directory that cannot be made, whoever runs the test: no temporary directory
    instead (there used to be one per build), one warning, the right gradient."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(tmp_path / "a_file" / "cache"))
    before = set(os.listdir(tempfile.gettempdir()))
    _, found = run(expect_warning=True)
    assert "cannot create the cache directory" in str(found[0].message)
    run(expect_warning=False)
    # (other test processes on the machine make adjoint_rule_rows_* directories)
    assert {p for p in set(os.listdir(tempfile.gettempdir())) - before
            if p.startswith("adjoint") and not p.startswith("adjoint_rule_rows_")} == set()


@pytest.mark.skipif(ROOT_CAN_WRITE_ANYWHERE, reason="root ignores file modes")
def test_a_cache_directory_that_cannot_be_made(tmp_path, cache_root, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(locked / "cache"))
    try:
        _, found = run(expect_warning=True)
        assert "cannot create the cache directory" in str(found[0].message)
    finally:
        locked.chmod(0o700)


def test_a_full_disk_for_our_writer(cache_root, monkeypatch):
    def full(f, text):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cache, "write_text", full)
    _, found = run(expect_warning=True)
    assert "No space left on device" in str(found[0].message)
    assert strays(cache_root) == [] and not list(cache_root.glob("adjoint_*.py"))
    monkeypatch.undo()
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(cache_root))
    run(expect_warning=False)  # the disk has room again: cached as usual
    assert list(cache_root.glob("adjoint_*.py"))


def test_a_full_disk_for_numbas_writer(cache_root, monkeypatch):
    from numba.core import caching

    def full(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_data", full)
    _, found = run(expect_warning=True)
    assert "cannot write Numba's cache" in str(found[0].message)
    assert numba_files(cache_root, ".nbc") == [] and strays(cache_root) == []
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_data",
                        caching.IndexDataCacheFile.__dict__["_save_data"])
    monkeypatch.undo()
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(cache_root))
    run()
    g, _ = run(expect_warning=False)
    assert cache_hits(g) == 1


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"], ids=["index", "data"])
@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_a_corrupt_numba_file_is_deleted_and_rebuilt(cache_root, suffix, damage):
    run(expect_warning=False)
    (path,) = numba_files(cache_root, suffix)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else
                     data[:20] + bytes(b ^ 0x5A for b in data[20:]))
    g, found = run(expect_warning=True)
    assert "corrupt Numba cache entry" in str(found[0].message)
    assert cache_hits(g) == 0  # compiled again
    g, _ = run(expect_warning=False)  # and cached again, readable
    assert cache_hits(g) == 1


def test_a_generated_file_that_is_not_utf8_is_rewritten(cache_root):
    run(expect_warning=False)
    (path,) = cache_root.glob("adjoint_*.py")
    text = path.read_text()
    path.write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    run(expect_warning=False)
    assert path.read_text() == text


class Tripwire:
    """A pickle that leaves a file behind when it is loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("mode", [0o777, 0o770], ids=["world-writable", "group-writable"])
def test_a_directory_others_can_write_is_not_used(cache_root, tmp_path, mode):
    run(expect_warning=False)
    (index,) = numba_files(cache_root, ".nbi")
    marker = tmp_path / "unpickled"
    with open(index, "wb") as f:  # what someone else could plant there
        pickle.dump(numba.__version__, f, protocol=-1)
        f.write(pickle.dumps(Tripwire(marker)))
    (cache_root / "numba").chmod(mode)
    _, found = run(expect_warning=True)
    assert "not a directory owned by you and writable by you alone" in str(found[0].message)
    assert not marker.exists()
    cache_root.chmod(mode)
    pipeline._CACHE.pop(loss, None)
    g, _ = run()
    assert not marker.exists() and cache_hits(g) == 0


# -- no leaks ---------------------------------------------------------------------------------
def closure_over(batch):
    def batch_loss(w):
        return np.sum((batch * w) ** 2)
    return batch_loss


@pytest.mark.parametrize("jit, count", [(False, 40), (True, 3)], ids=["python", "jit"])
def test_a_gradient_does_not_keep_the_function_or_its_data_alive(jit, count, tmp_path,
                                                                 monkeypatch):
    """The issue's scenario: closures over 0.8 MB batches, each differentiated once."""
    monkeypatch.setenv("ADJOINT_CACHE_DIR", str(tmp_path))
    alive = []
    for seed in range(count):
        batch = np.random.default_rng(seed).random(100_000)
        f = closure_over(batch)
        g = grad(f, jit=jit)
        assert g(1.0) == pytest.approx(2.0 * np.sum(batch ** 2))
        alive.append((weakref.ref(f), weakref.ref(batch)))
        del f, g, batch
    gc.collect()
    assert [k for k, refs in enumerate(alive) if any(r() is not None for r in refs)] == []
