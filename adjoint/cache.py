"""The disk cache of ``jit=True`` builds, and how it protects itself.

Where: ``$ADJOINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adjoint``, else ``~/.cache/adjoint``.
The generated modules are written there (``adjoint_<key>.py``), and Numba's machine code for
them goes to its ``numba`` subdirectory (not to ``$NUMBA_CACHE_DIR``, not beside the user's
files).

How it protects itself:

- Both directories are created private (mode 0700) and, before each use, must belong to the
  user and not be writable by group or others: Numba's cache files are pickles, which run
  code when loaded, so nobody else may be able to put one there. Otherwise the disk cache
  is not used.
- A cached module is run only if its text is exactly the generated text (else rewritten).
- A Numba index or data file that cannot be read back (truncated, garbled, from another
  version) is deleted and the function compiled again.
- Any I/O failure (read-only or full disk, missing permissions) makes that build an
  in-memory one: it works, it is not cached. One ``CacheWarning`` per process says so.

Processes (and machines) sharing the directory do not step on each other: files are named
by a hash of their content, every file is written to a unique temporary name and renamed
into place (so nobody reads half a file), a generated module that is already there with the
right text is left alone (Numba's cache is keyed on its modification time), and the first
call of a build, which compiles, holds an advisory lock on its module (``compile_lock``),
so processes that start together compile it once and the others load what it saved.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import stat
import tempfile
import threading
import types
import warnings

from .errors import CacheWarning

_warned = False


def warn_once(what: str) -> None:
    """One CacheWarning per process: the first thing that went wrong."""
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(f"adjoint: {what}; compiled gradients are kept in memory only (this "
                  "warning is shown once)", CacheWarning, stacklevel=3)


def root() -> str:
    """The configured cache directory (which may not exist yet)."""
    path = os.environ.get("ADJOINT_CACHE_DIR")
    if path:
        return path
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "adjoint")


def is_private(path: str) -> bool:
    """A directory (not a symbolic link) owned by this user, not writable by anyone else."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and mine and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def private_dir(path: str) -> str | None:
    """``path``, created private if missing, if it is private; else None (and the warning)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        warn_once(f"cannot create the cache directory {path} ({exc.strerror or exc})")
        return None
    if not is_private(path):
        warn_once(f"the cache directory {path} is not a directory owned by you and writable "
                  "by you alone, so it is not used (make it chmod 700, or set "
                  "ADJOINT_CACHE_DIR)")
        return None
    return path


def cache_dir() -> str | None:
    """The cache directory if it can be used safely, else None."""
    return private_dir(root())


def numba_dir(directory: str) -> str | None:
    """Where Numba's files for the modules in ``directory`` go, if usable."""
    return private_dir(os.path.join(directory, "numba"))


def write_cached(text: str, key: str) -> str | None:
    """The path of a file in the cache holding exactly ``text`` (written atomically when
    missing or different), or None when the cache cannot be used."""
    directory = cache_dir()
    if directory is None:
        return None
    path = os.path.join(directory, f"adjoint_{key[:32]}.py")
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except (OSError, ValueError):  # missing, unreadable, or not UTF-8: written again
        pass
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".adjoint_", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write_text(f, text)
        install(tmp, path, text)
        return path
    except OSError as exc:
        warn_once(f"cannot write to the cache directory {directory} "
                  f"({exc.strerror or exc})")
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return None


# The descriptors compile_lock holds, by the thread holding each. A fork takes the guard
# (held only around opening and closing one), so a child sees each held or not at all.
_HELD_LOCKS: dict[int, int] = {}
_HELD_LOCKS_GUARD = threading.Lock()


def _drop_inherited_locks() -> None:
    """In a forked child: close the lock descriptors of threads the child does not have.
    Each is a copy of the parent's (one open file, one flock): kept open, it would hold
    the lock for ever in the child, whose own compilation of that module would wait on
    it. Closing the copy leaves the parent's lock alone; the child's thread, if any,
    then takes it when the parent's is done."""
    for fd, owner in list(_HELD_LOCKS.items()):
        if owner != threading.get_ident():
            del _HELD_LOCKS[fd]
            with contextlib.suppress(OSError):
                os.close(fd)
    _HELD_LOCKS_GUARD.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_HELD_LOCKS_GUARD.acquire,
                        after_in_parent=_HELD_LOCKS_GUARD.release,
                        after_in_child=_drop_inherited_locks)


@contextlib.contextmanager
def compile_lock(py_file: str):
    """An exclusive advisory lock (``flock``) on ``<py_file>.lock`` while the body runs:
    where locks cannot be had (no ``fcntl``, an unwritable directory), no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX: each process compiles, the results are the same
        yield
        return
    with _HELD_LOCKS_GUARD:
        try:
            fd = os.open(py_file + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            fd = None
        else:
            _HELD_LOCKS[fd] = threading.get_ident()
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks
            pass
        yield
    finally:
        with _HELD_LOCKS_GUARD:
            del _HELD_LOCKS[fd]
            os.close(fd)  # releases the lock


def install(tmp: str, path: str, text: str) -> None:
    """Put the written temporary file at ``path``. When another process put the same text
    there meanwhile, its file is kept (Numba's cache is keyed on the file's modification
    time, so replacing it would make the machine code it saved look stale)."""
    try:
        os.link(tmp, path)  # fails if path exists: the first writer wins
    except FileExistsError:
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    os.unlink(tmp)
                    return
        except (OSError, ValueError):
            pass
        os.replace(tmp, path)  # a different (or unreadable) file: replaced, never run
        return
    except OSError:  # a file system without hard links
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_text(f, text: str) -> None:
    """The one place the cache writes a generated module (a full disk fails here)."""
    f.write(text)
    f.flush()  # a full disk shows here at the latest (a torn file is rewritten next time)


# -- Numba's cache, kept in our directory and guarded -------------------------------------
_classes: dict = {}


def numba_cache(py_func, py_file: str):
    """A Numba function cache for a generated function defined in ``py_file`` (a file of
    our cache directory), or None when Numba's disk cache must not be used for it."""
    directory = numba_dir(os.path.dirname(py_file))
    if directory is None:
        return None
    if not _classes:
        _define_classes()
    try:
        return _classes["cache"](py_func)
    except Exception as exc:  # noqa: BLE001 - any failure: no disk cache, never a crash
        warn_once(f"Numba's cache in {directory} cannot be used ({exc})")
        return None


def _define_classes() -> None:
    """Numba's classes are imported only when jit=True is used."""
    from numba.core import caching

    class Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """Numba's files for our generated modules: in the ``numba`` subdirectory."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = os.path.join(os.path.dirname(py_file), "numba")

        def get_cache_path(self):
            return self._cache_path

        def ensure_cache_path(self):
            if private_dir(self._cache_path) is None:
                raise OSError(f"{self._cache_path} is not a private directory")

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class HelpersLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """Numba's files for the runtime helpers: in ``numba/helpers-<digest>``, where the
        digest is of every helper file (a change to one helper invalidates those that
        call it, which Numba's own per-file stamps would not see)."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = _helpers["path"]

        def get_cache_path(self):
            return self._cache_path

        def ensure_cache_path(self):
            if private_dir(self._cache_path) is None:
                raise OSError(f"{self._cache_path} is not a private directory")

        def get_disambiguator(self):
            # overload implementations are closures sharing a name: their line, too
            return f"{self._lineno}"

    class HelpersImpl(caching.CompileResultCacheImpl):
        _locator_classes = [HelpersLocator]

    class GuardedCache(caching.FunctionCache):
        """Numba's cache, where reading a bad file means compiling again, and failing to
        write means not caching: neither reaches the user."""

        _impl_class = Impl

        def load_overload(self, sig, target_context):
            if not is_private(self._cache_path):
                return None
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:  # noqa: BLE001 - a corrupt entry: delete, compile again
                self.discard()
                warn_once(f"a corrupt Numba cache entry in {self._cache_path} was deleted "
                          f"({type(exc).__name__})")
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as exc:  # noqa: BLE001 - full disk, read-only directory
                self.discard()
                self.disable()
                warn_once(f"cannot write Numba's cache in {self._cache_path} "
                          f"({getattr(exc, 'strerror', None) or exc})")

        def discard(self) -> None:
            """Delete this function's index and data files (and stray temporaries)."""
            base = os.path.join(self._cache_path, self._impl.filename_base)
            for path in glob.glob(glob.escape(base) + ".*"):
                try:
                    os.unlink(path)
                except OSError:
                    pass

    class HelpersCache(GuardedCache):
        _impl_class = HelpersImpl

        def load_overload(self, sig, target_context):
            if describable(self._py_func):
                return super().load_overload(sig, target_context)
            return None

        def save_overload(self, sig, data):
            if describable(self._py_func):
                super().save_overload(sig, data)

        def _index_key(self, sig, codegen):
            # Numba's key pickles the closure's cells, and a compiled function pickles
            # with a new random id in every process: an overload implementation that
            # closes over one (``mask``, ``reduce``) never hit the cache and added an
            # entry per run. The cells are described the same way in every process.
            code = self._py_func.__code__.co_code
            cells = tuple(c.cell_contents for c in self._py_func.__closure__ or ())
            return (sig, codegen.magic_tuple(),
                    (hashlib.sha256(code).hexdigest(),
                     hashlib.sha256(stable_bytes(cells)).hexdigest()))

    _classes["cache"] = GuardedCache
    _classes["helpers"] = HelpersCache


# -- the runtime helpers' machine code, shared by every build -------------------------------
# The Numba versions of the helpers are compiled with cache=True (njit helpers, and the
# implementations of the overloads). Numba would put their files beside the package (or in
# $NUMBA_CACHE_DIR) with its unguarded cache; here they go to the private cache directory,
# guarded like the generated code's, keyed by a digest of the helper files.
_helpers: dict = {}
HELPER_MODULES = ("adjoint.runtime", "adjoint.jitmath")
# the pseudo-file name of helpers made from text at run time (jit_optional.py's wrappers,
# the tuple-index kernels): implementations of overloads, which ask for caching, but
# have no source file for Numba's cache to be keyed by
GENERATED_HELPER_FILE = "<adjoint-helper "


def install_helper_cache() -> None:
    """Route Numba's disk cache of adjoint's runtime helpers to ``numba/helpers-<digest>``
    of the cache directory (nothing is cached for them when it cannot be used). Once per
    process (the directory is the one configured then), before the helpers' Numba versions
    are imported."""
    if _helpers:
        return
    from numba.core import caching, dispatcher

    if not _classes:
        _define_classes()
    directory = cache_dir()
    numba_files = None if directory is None else numba_dir(directory)
    _helpers["path"] = None if numba_files is None else os.path.join(
        numba_files, f"helpers-{helpers_files_digest()}")
    numbas = dispatcher.FunctionCache

    def function_cache(py_func):
        """What ``Dispatcher.enable_caching`` makes: ours for the helpers."""
        if getattr(py_func, "__code__", None) is not None and \
                py_func.__code__.co_filename.startswith(GENERATED_HELPER_FILE):
            return caching.NullCache()  # a helper written at run time: no file to key it by
        if not (getattr(py_func, "__module__", None) or "").startswith(HELPER_MODULES):
            return numbas(py_func)
        path = _helpers["path"]
        numba_files = None if path is None else os.path.dirname(path)
        if path is None or numba_dir(os.path.dirname(numba_files)) is None or private_dir(
                path) is None:  # (each level made private, in case it was removed)
            return caching.NullCache()
        try:
            return _classes["helpers"](py_func)
        except Exception as exc:  # noqa: BLE001 - any failure: no disk cache, never a crash
            warn_once(f"Numba's cache in {_helpers['path']} cannot be used ({exc})")
            return caching.NullCache()

    dispatcher.FunctionCache = function_cache


def stable_bytes(value, depth: int = 0) -> bytes:
    """Bytes that say what ``value`` (a closure cell of a helper) is, the same in every
    process: a function, compiled or not, by its name, code and own cells (the helper
    files' digest in the cache path stands for their source); a Numba type by its name
    (its pickle holds a number that depends on the order types were made in); plain data
    by its repr. Anything else raises (the helper is then not cached): a key that differs
    per process would add an entry to the cache on every run."""
    import numpy as np

    if depth > 8:
        raise ValueError("closure cells nested too deep to describe")
    function = getattr(value, "py_func", value)
    if isinstance(function, types.FunctionType):
        cells = tuple(c.cell_contents for c in function.__closure__ or ())
        return b"".join([b"F", f"{function.__module__}.{function.__qualname__}".encode(),
                         code_text(function.__code__).encode(), stable_bytes(cells, depth + 1)])
    if isinstance(value, (tuple, list)):
        return b"T" + b"|".join(stable_bytes(v, depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return b"S" + b"|".join(sorted(stable_bytes(v, depth + 1) for v in value))
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return b"V" + f"{type(value).__name__}:{value!r}".encode()
    if isinstance(value, np.dtype):
        return b"D" + value.str.encode() + repr(value).encode()
    from numba.core import types as numba_types

    if isinstance(value, numba_types.Type):
        return b"N" + f"{type(value).__qualname__}:{value.name}".encode()
    raise TypeError(f"a closure cell of type {type(value).__name__} has no stable form")


def describable(function) -> bool:
    """Whether ``stable_bytes`` can describe the closure of ``function`` (if not, its
    machine code is not cached: compiled in each process, as before)."""
    try:
        stable_bytes(tuple(c.cell_contents for c in function.__closure__ or ()))
    except Exception:  # noqa: BLE001 - unpicklable, too deep, an empty cell
        return False
    return True


def code_text(code: types.CodeType) -> str:
    """A code object's instructions, constants (nested code objects alike, whose repr would
    hold an address) and names."""
    consts = [code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return f"{code.co_code.hex()} {consts} {code.co_names}"


def helpers_files_digest() -> str:
    """A hash of the source files of the runtime helpers, their Numba versions and the
    pipeline that compiles them (jit_pipeline.py: a change to its lowering is a change to
    their machine code)."""
    package = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(package, "runtime*.py"))
                       + [os.path.join(package, name)
                          for name in ("jitmath.py", "jit_optional.py", "jit_pipeline.py")]):
        with open(path, "rb") as f:
            digest.update(os.path.basename(path).encode() + b"\0" + f.read())
    return digest.hexdigest()[:16]
