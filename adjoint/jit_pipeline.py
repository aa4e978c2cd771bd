"""The Numba compiler pipeline of generated functions: Numba's own, without branch pruning,
and with two of its lowerings made cheaper to compile.

Numba removes, before typing, an ``if`` whose condition it can evaluate at compile time
(``if 3.0 < -1.1:``, ``if DEBUG:`` on a global frozen into the machine code). In the
generated adjoint the forward sweep branches on that condition, but the backward sweep
branches on the value it pushed on a stack, which Numba cannot evaluate: the backward branch
stays, and reads what the removed forward branch assigned. Those variables then have no
type but ``None`` (``sum_to_shape(g, none)``) or none at all (``Undefined``), and Numba
refused the whole function. Without pruning, both branches are typed as written and the
dead one is never taken at run time, as under jit=False. Imported only under jit=True.

Broadcasting: Numba's loop for ``a * b`` on arrays reads ``a[..., i, ...]`` at index
``i if a.shape[k] > 1 else 0`` for every axis ``k``, written as a branch inside the
innermost loop. LLVM's -O3 "unswitches" such loops, one copy of the loop nest per
combination of those conditions: a single 4-d ``a * b`` took 9.8 s to compile, and the
adjoint of a 60-statement GMM objective 49 s of its 75 s first call (measured with
NUMBA_LLVM_PASS_TIMINGS). Written as a ``select`` the same index has no branch to unswitch:
that ``a * b`` compiles in 0.64 s and runs faster (1.65 ms against 2.39 ms on 2.5 million
entries), the GMM adjoint in 30 s, 20-25% faster.

Slice assignment (``out[:, k] = v``): Numba's check that the shapes agree calls a function
that formats both shapes into its error message, compiled anew for each assignment's
number of axes: 9.3 s of the 31 s first call of an LSTM adjoint (cProfile). Ours raises the
same ValueError with a fixed message ("... of different size", which Numba's own generic
target says) and compiles in milliseconds.

Only compilations of generated functions (and what they compile on the way) use these;
Numba is restored after each.
"""
from __future__ import annotations

import contextlib

from llvmlite import ir
from numba.core import types
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.untyped_passes import DeadBranchPrune
from numba.extending import overload
from numba.np import arrayobj, npyimpl


def branch_free_indices(self, loop_indices, name):
    """``_ArrayIndexingHelper.update_indices`` with the broadcast test as a select: the
    index along an axis of length 1 is 0, else the loop's index (Numba's meaning)."""
    builder = self.array.builder
    intp = self.array.context.get_value_type(types.intp)
    one, zero = ir.Constant(intp, 1), ir.Constant(intp, 0)
    # the array's axes are the loop's innermost ones (the outer ones broadcast)
    indices = loop_indices[len(loop_indices) - len(self.indices):]
    for index, slot, length in zip(indices, self.indices, self.array.shape):
        spans = builder.icmp_unsigned(">", length, one)
        builder.store(builder.select(spans, index, zero), slot)


def shape_mismatch(src_shapes, index_shape):
    """Stands for Numba's ``raise_with_shape_context`` while a generated function compiles."""
    raise ValueError("cannot assign slice from input of different size")


@overload(shape_mismatch)
def _shape_mismatch(src_shapes, index_shape):
    def plain(src_shapes, index_shape):
        raise ValueError("cannot assign slice from input of different size")
    return plain


# (owner, attribute, ours): each replaced only if Numba still has it
_REPLACED = [(owner, attribute, ours) for owner, attribute, ours in [
    (getattr(npyimpl, "_ArrayIndexingHelper", None), "update_indices", branch_free_indices),
    (arrayobj, "raise_with_shape_context", shape_mismatch)]
    if owner is not None and hasattr(owner, attribute)]


@contextlib.contextmanager
def cheaper_lowering():
    """Numba with our two lowerings while the block runs (callers hold Numba's compiler
    lock, as every compilation does)."""
    before = [getattr(owner, attribute) for owner, attribute, _ in _REPLACED]
    for owner, attribute, ours in _REPLACED:
        setattr(owner, attribute, ours)
    try:
        yield
    finally:
        for (owner, attribute, _), theirs in zip(_REPLACED, before):
            setattr(owner, attribute, theirs)


class KeepBranches(CompilerBase):
    """Numba's nopython pipeline minus its dead-branch pruning passes."""

    def define_pipelines(self):
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.passes = [(p, d) for p, d in pipeline.passes if p is not DeadBranchPrune]
        pipeline.finalize()
        return [pipeline]

    def _compile_core(self):
        with cheaper_lowering():
            return super()._compile_core()
