"""Numba versions of ``add_at``, ``unindex`` and ``written_part`` for a tuple index holding
one 1-D integer array beside integers and slices (``x[:, t]``, ``x[i, t]``), with NumPy's
rules for repeated entries: the adjoint of repeated reads adds up (``np.add.at``), and of
repeated writes only the last one reaches the output.

Numba's own ``a[index] += g`` with such an index reads, adds and writes back, so a repeated
entry kept only one contribution. Here each entry of the index array is visited in turn, by
a kernel written for the index's types: entry ``j`` selects the slab ``x[i, t[j]]`` (basic
indexing, a view) and the slab ``g[j]`` of the read's result. Where that slab sits in the
result follows NumPy: the integers count as advanced indices beside the array, and the
array's axis goes where they stand when they are adjacent, else first (``x[0, :, t]`` has
shape ``(len(t), x.shape[1])``). Imported by runtime_numba_indexing.py (only under jit=True).
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, types

from .runtime_numba import _fail


def _is_int_array(t) -> bool:
    return isinstance(t, types.Array) and isinstance(t.dtype, types.Integer)


def result_axis(index) -> int:
    """The axis of ``x[index]`` that the index array's entries run along."""
    advanced = [p for p, t in enumerate(index) if not isinstance(t, types.SliceType)]
    if advanced != list(range(advanced[0], advanced[-1] + 1)):
        return 0  # separated by a slice: NumPy puts the advanced axis first
    return sum(isinstance(t, types.SliceType) for t in index[:advanced[0]])


def _slab(index, k: int, entry: str) -> str:
    """``index[0], <entry>, index[2]``: the tuple index with the array replaced by one of
    its entries (a basic index: a view, or one number)."""
    return ", ".join(entry if p == k else f"index[{p}]" for p in range(len(index)))


def _result_slab(ndim: int, axis: int, entry: str) -> str:
    """``:, <entry>``: entry ``entry`` along ``axis`` of an ndim-dimensional result."""
    return ", ".join([":"] * axis + [entry] + [":"] * (ndim - axis - 1))


def result_ndim(index, x_ndim: int) -> int:
    """The dimensions of ``x[index]``: the slices', the index array's one, and the axes of
    ``x`` the index leaves out."""
    _one_dimensional(next(t for t in index if _is_int_array(t)))
    return sum(isinstance(t, types.SliceType) for t in index) + 1 + x_ndim - len(index)


def _one_dimensional(entries) -> None:
    if entries.ndim != 1:
        _fail("an integer index array of more than one dimension beside other indices is "
              "not supported under jit")


@functools.cache
def _compiled(source: str, name: str):
    """One jitted kernel per source text: a form of index seen again (another call site,
    another typing pass) reuses it instead of compiling it again."""
    space: dict = {"np": np}
    exec(compile(source, f"<adjoint-helper tuple-index kernel {name}>", "exec"), space)
    return njit(space[name])


def scatter_kernel(index, k: int, result_ndim: int, g_is_array: bool):
    """``scatter(adjoint, index, g)``: ``adjoint[index] += g`` in place, entry by entry,
    so repeated entries add up. ``g`` has the result's dimensions (or is a number); a
    length-1 axis of ``g`` along the entries' axis broadcasts."""
    axis = result_axis(index)
    g_slab = f"g[{_result_slab(result_ndim, axis, f'j if g.shape[{axis}] != 1 else 0')}]"
    source = f"""
def scatter(adjoint, index, g):
    entries = index[{k}]
    for j in range(entries.size):
        adjoint[{_slab(index, k, 'entries[j]')}] += {g_slab if g_is_array else 'g'}
    return adjoint
"""
    return _compiled(source, "scatter")


def written_kernel(index, k: int, result_ndim: int):
    """``written(g, index)``: ``g[index]`` with the entries of a repeated index that a
    later entry overwrote set to 0 (NumPy keeps the last write)."""
    out_slab = _result_slab(result_ndim, result_axis(index), "j")
    source = f"""
def written(g, index):
    out = np.asarray(g[index]).astype(np.float64)
    entries = index[{k}]
    n = g.shape[{k}]
    last = np.full(n, -1, np.int64)
    for j in range(entries.size):
        last[entries[j] + n if entries[j] < 0 else entries[j]] = j
    for j in range(entries.size):
        if last[entries[j] + n if entries[j] < 0 else entries[j]] != j:
            out[{out_slab}] = 0.0
    return out
"""
    return _compiled(source, "written")
