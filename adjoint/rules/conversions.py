"""Rules for turning a one-element array into a Python number: ``x.item()``.

``float(x)`` has its rule among the elementwise builtins; ``sum(x)`` of an array is
rewritten to ``np.sum(x, axis=0)`` by desugar.py. ``x.item()`` with an index argument
(``x.item(3)``) is not covered: the rule binds only the call without arguments.
"""
from ..runtime import unreduce
from . import adjoint_of, elementwise, elementwise_math  # noqa: F401 - tangents reads them
from .tangents import Linear, declare

d: dict = {}  # in a rule, d[v] stands for the adjoint of v


@adjoint_of(".item")
def item(y, x):
    # y is x's only entry: its adjoint goes back in x's shape
    d[x] += unreduce(d[y], x)


declare(Linear(("x",)), ".item")
