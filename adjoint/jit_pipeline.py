"""The Numba compiler pipeline of generated functions: Numba's own, without branch pruning.

Numba removes, before typing, an ``if`` whose condition it can evaluate at compile time
(``if 3.0 < -1.1:``, ``if DEBUG:`` on a global frozen into the machine code). In the
generated adjoint the forward sweep branches on that condition, but the backward sweep
branches on the value it pushed on a stack, which Numba cannot evaluate: the backward branch
stays, and reads what the removed forward branch assigned. Those variables then have no
type but ``None`` (``sum_to_shape(g, none)``) or none at all (``Undefined``), and Numba
refused the whole function. Without pruning, both branches are typed as written and the
dead one is never taken at run time, as under jit=False. Imported only under jit=True.
"""
from __future__ import annotations

from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.untyped_passes import DeadBranchPrune


class KeepBranches(CompilerBase):
    """Numba's nopython pipeline minus its dead-branch pruning passes."""

    def define_pipelines(self):
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.passes = [(p, d) for p, d in pipeline.passes if p is not DeadBranchPrune]
        pipeline.finalize()
        return [pipeline]
