"""The Numba compiler pipeline of generated functions: Numba's own, without branch pruning,
and with branch-free broadcasting in its array-expression loops.

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
entries), the GMM adjoint in 30 s, 20-25% faster. Only compilations of generated
functions (and what they compile on the way) use it; Numba is restored after each.
"""
from __future__ import annotations

import contextlib

from llvmlite import ir
from numba.core import types
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.untyped_passes import DeadBranchPrune
from numba.np import npyimpl


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


# part of the jit cache key: machine code compiled otherwise is not reused
CODEGEN = "branch-free broadcasting"
_HELPER = getattr(npyimpl, "_ArrayIndexingHelper", None)
# the replaced method, if Numba still has it in the form it is written for (else untouched)
_NUMBA_INDICES = getattr(_HELPER, "update_indices", None)


@contextlib.contextmanager
def branch_free_broadcasting():
    """Numba's array-expression loops index with selects while the block runs (callers
    hold Numba's compiler lock, as every compilation does)."""
    if _NUMBA_INDICES is None:
        yield
        return
    before = _HELPER.update_indices
    _HELPER.update_indices = branch_free_indices
    try:
        yield
    finally:
        _HELPER.update_indices = before


class KeepBranches(CompilerBase):
    """Numba's nopython pipeline minus its dead-branch pruning passes."""

    def define_pipelines(self):
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.passes = [(p, d) for p, d in pipeline.passes if p is not DeadBranchPrune]
        pipeline.finalize()
        return [pipeline]

    def _compile_core(self):
        with branch_free_broadcasting():
            return super()._compile_core()
